//! Log lines in configurable-http-proxy's shape
//! (`<ISO time> [ConfigProxy] <level>: <message>`), so people and scripts
//! reading a CHP log read ours the same way.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as CHP's winston logger does.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChpFormat;

impl<S, N> FormatEvent<S, N> for ChpFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        write!(writer, "{now} [ConfigProxy] {level}: ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the global subscriber at `level` (`debug`, `info`, `warn`,
/// `error`). `RUST_LOG`, when set, overrides it for debugging our
/// dependencies; otherwise only this crate logs below `warn`.
pub fn init(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,ferrohub_proxy={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .event_format(ChpFormat)
        .init();
}
