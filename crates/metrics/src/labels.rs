//! Typed label sets: each metric family takes exactly one label type, so a
//! misspelt label value or a missing label is a compile error rather than a
//! series a dashboard never finds. The strings are upstream's (`metrics.py`
//! and the places in JupyterHub that observe each metric).

use std::borrow::Cow;

/// The label names and values of one series.
///
/// Implemented by every label type below and by `()` for families without
/// labels; [`crate::Histogram`] and [`crate::Gauge`] are generic over it.
pub trait LabelSet: Ord + Clone + Send + 'static {
    /// Label names in declaration order (the encoder sorts them, as Python's client does).
    const NAMES: &'static [&'static str];
    /// Label values, one per name in [`LabelSet::NAMES`] order.
    fn values(&self) -> Vec<Cow<'_, str>>;
}

impl LabelSet for () {
    const NAMES: &'static [&'static str] = &[];
    fn values(&self) -> Vec<Cow<'_, str>> {
        Vec::new()
    }
}

/// Declares a label enum with its upstream strings, `ALL`, `as_str` and a
/// one-label [`LabelSet`] impl.
macro_rules! label_enum {
    (
        $(#[$meta:meta])*
        $name:ident, label = $label:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in upstream's order (used to pre-create series).
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The label value as upstream writes it.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl LabelSet for $name {
            const NAMES: &'static [&'static str] = &[$label];
            fn values(&self) -> Vec<Cow<'_, str>> {
                vec![Cow::Borrowed(self.as_str())]
            }
        }
    };
}

label_enum! {
    /// `status` of `server_spawn_duration_seconds` (upstream's `ServerSpawnStatus`).
    SpawnStatus, label = "status" {
        /// The server started and answered.
        Success => "success",
        /// Refused or failed in a way the hub expected (limits, pending, a 4xx from the spawner).
        Failure => "failure",
        /// Failed unexpectedly (the hub counts these toward `consecutive_failure_limit`).
        Error => "error",
    }
}

label_enum! {
    /// `reason` of `server_spawn_duration_seconds`: upstream's
    /// `ServerSpawnFailureReason` plus the strings `user.py` and
    /// `handlers/base.py` attach to failed spawns.
    SpawnReason, label = "reason" {
        /// No particular reason (every success, and errors without one).
        None => "",
        /// `JupyterHub.concurrent_spawn_limit` reached (429 with `Retry-After`).
        Throttled => "throttled",
        /// `JupyterHub.active_server_limit` reached (429).
        TooManyUsers => "too-many-users",
        /// A spawn was asked for while one was pending.
        AlreadyPending => "already-pending",
        /// `Spawner.start_timeout` or `Spawner.http_timeout` ran out.
        Timeout => "timeout",
        /// The spawner reported an error.
        Error => "error",
        /// The server process exited before it answered.
        Exited => "exited",
    }
}

impl SpawnReason {
    /// The reasons upstream pre-creates a `status="failure"` series for at
    /// import (`ServerSpawnFailureReason`); the others appear when first used.
    pub const PRECREATED: &'static [Self] = &[
        Self::None,
        Self::Throttled,
        Self::TooManyUsers,
        Self::AlreadyPending,
    ];
}

label_enum! {
    /// `status` of the proxy add/delete and server stop timers (upstream's
    /// `ProxyAddStatus`, `ProxyDeleteStatus`, `ServerStopStatus`).
    Outcome, label = "status" {
        /// It worked.
        Success => "success",
        /// It did not.
        Failure => "failure",
    }
}

impl Outcome {
    /// `Success` for `Ok`, `Failure` for `Err`.
    #[must_use]
    pub const fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Self::Success
        } else {
            Self::Failure
        }
    }
}

impl From<bool> for Outcome {
    fn from(ok: bool) -> Self {
        if ok { Self::Success } else { Self::Failure }
    }
}

label_enum! {
    /// `status` of `login_duration_seconds`.
    ///
    /// Upstream's `LoginStatus` enum has no `__str__`, so `prometheus_client`
    /// stores `str(LoginStatus.success)`: JupyterHub 6.1.1 really exports
    /// `status="LoginStatus.success"`, and dashboards built on it query that.
    LoginStatus, label = "status" {
        /// The authenticator accepted the credentials.
        Success => "LoginStatus.success",
        /// It refused them.
        Failure => "LoginStatus.failure",
    }
}

impl From<bool> for LoginStatus {
    fn from(ok: bool) -> Self {
        if ok { Self::Success } else { Self::Failure }
    }
}

label_enum! {
    /// `status` of `server_poll_duration_seconds`.
    ///
    /// As with [`LoginStatus`], upstream's `ServerPollStatus` has no `__str__`,
    /// so the exported values are `ServerPollStatus.running` and
    /// `ServerPollStatus.stopped` (pre-created and observed alike).
    PollStatus, label = "status" {
        /// `poll()` returned `None`: the server is alive.
        Running => "ServerPollStatus.running",
        /// `poll()` returned an exit status.
        Stopped => "ServerPollStatus.stopped",
    }
}

impl PollStatus {
    /// `Running` when the spawner's poll found the server alive.
    #[must_use]
    pub const fn running(alive: bool) -> Self {
        if alive { Self::Running } else { Self::Stopped }
    }
}

label_enum! {
    /// `period` of `active_users` (upstream's `ActiveUserPeriods`).
    Period, label = "period" {
        /// The last 24 hours.
        Day => "24h",
        /// The last 7 days.
        Week => "7d",
        /// The last 30 days.
        Month => "30d",
    }
}

impl Period {
    /// How far back the period reaches.
    #[must_use]
    pub const fn duration(self) -> std::time::Duration {
        const DAY: u64 = 24 * 60 * 60;
        std::time::Duration::from_secs(match self {
            Self::Day => DAY,
            Self::Week => 7 * DAY,
            Self::Month => 30 * DAY,
        })
    }
}

/// `status` and `reason` of one spawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpawnLabels {
    /// How it ended.
    pub status: SpawnStatus,
    /// Why, when it did not succeed.
    pub reason: SpawnReason,
}

impl SpawnLabels {
    /// A successful spawn (`reason=""`).
    pub const SUCCESS: Self = Self {
        status: SpawnStatus::Success,
        reason: SpawnReason::None,
    };

    /// A refusal or expected failure with `reason`.
    #[must_use]
    pub const fn failure(reason: SpawnReason) -> Self {
        Self {
            status: SpawnStatus::Failure,
            reason,
        }
    }

    /// An unexpected failure with `reason`.
    #[must_use]
    pub const fn error(reason: SpawnReason) -> Self {
        Self {
            status: SpawnStatus::Error,
            reason,
        }
    }
}

impl LabelSet for SpawnLabels {
    const NAMES: &'static [&'static str] = &["status", "reason"];
    fn values(&self) -> Vec<Cow<'_, str>> {
        vec![
            Cow::Borrowed(self.status.as_str()),
            Cow::Borrowed(self.reason.as_str()),
        ]
    }
}

/// `method`, `handler` and `code` of one hub request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestLabels {
    /// HTTP method (`GET`, …).
    pub method: Cow<'static, str>,
    /// Upstream's Python handler class, e.g.
    /// `jupyterhub.apihandlers.users.UserListAPIHandler` (dashboards key on it).
    pub handler: &'static str,
    /// Response status code.
    pub code: u16,
}

impl LabelSet for RequestLabels {
    const NAMES: &'static [&'static str] = &["method", "handler", "code"];
    fn values(&self) -> Vec<Cow<'_, str>> {
        vec![
            Cow::Borrowed(self.method.as_ref()),
            Cow::Borrowed(self.handler),
            Cow::Owned(self.code.to_string()),
        ]
    }
}
