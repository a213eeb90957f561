//! Loading: defaults, then the TOML file, then `--Class.trait=value` overrides, then
//! checks. Every key is checked on its own against its class, so an error names the
//! option and where it was set instead of pointing into serde's view of the tree.
//!
//! Relative paths (`db_url = "sqlite:///relative.sqlite"`, `cookie_secret_file`,
//! `pid_file`, `ConfigurableHTTPProxy.pid_file`) are kept as written: like upstream,
//! they resolve from the working directory when they are used, not from the
//! configuration file's directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml::{Table, Value};

use crate::Config;
use crate::bind_url::BindUrl;
use crate::error::{ConfigError, Origin};
use crate::model::MAX_COOKIE_MAX_AGE_DAYS;
use crate::schema::{CLASSES, Class, find_class};

/// Every option of upstream JupyterHub 6.1.1, to say so when one is not supported.
const UPSTREAM_OPTIONS: &str = include_str!("upstream_options.txt");

/// Upstream options that are Python code, with the ferrohub option that
/// does their usual job as configuration: `(class, upstream, ours)`.
const REPLACED: &[(&str, &str, &str)] = &[("Spawner", "auth_state_hook", "auth_state_env")];

/// Sections of upstream base classes whose options a ferrohub class holds:
/// traitlets lets `c.BatchSpawnerBase.req_partition` configure every batch
/// spawner, the subclass's own section winning. `(base, class)`.
const BASE_SECTIONS: &[(&str, &str)] = &[("BatchSpawnerBase", "SlurmSpawner")];

/// Loads the configuration: upstream's defaults, then the TOML file at `path` (if
/// any; it must exist), then `overrides` (`--Class.trait=value`, the leading `--`
/// optional), which win over the file. The result has passed every check.
pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Config, ConfigError> {
    let Source {
        mut table,
        lines,
        class_lines,
    } = match path {
        Some(path) => read_file(path)?,
        None => Source::default(),
    };
    let file_origin = path.map_or(Origin::Default, |p| Origin::File(p.to_owned()));
    // A Python file knows the line of each option; a TOML file is named whole.
    let origin_of = |class: &str, name: Option<&str>| -> Origin {
        // An option folded in from a base section was set under that name.
        let sections = std::iter::once(class).chain(
            BASE_SECTIONS
                .iter()
                .filter(|(_, c)| *c == class)
                .map(|(base, _)| *base),
        );
        let line = sections
            .filter_map(|section| match name {
                Some(name) => lines.get(&(section.to_owned(), name.to_owned())),
                None => class_lines.get(section),
            })
            .next();
        match (path, line) {
            (Some(path), Some(line)) => Origin::Line {
                path: path.to_owned(),
                line: *line,
            },
            _ => file_origin.clone(),
        }
    };
    check_table(&table, &origin_of)?;
    fold_base_sections(&mut table);

    let mut from_command_line = BTreeSet::new();
    for arg in overrides {
        let (class, name, value) = parse_override(arg)?;
        set_option(&mut table, class, name, value);
        from_command_line.insert((class, name));
    }

    let refresh_pre_spawn_set = table
        .get("Authenticator")
        .and_then(Value::as_table)
        .is_some_and(|t| t.contains_key("refresh_pre_spawn"));
    let mut config: Config =
        Value::Table(table)
            .try_into()
            .map_err(|e| ConfigError::Unexpected {
                origin: file_origin.clone(),
                message: one_line(e.message()),
            })?;
    crate::oauth::apply_inherited(&mut config, refresh_pre_spawn_set);
    check_values(&mut config, |class, name| {
        if from_command_line.contains(&(class, name)) {
            Origin::CommandLine
        } else {
            origin_of(class, Some(name))
        }
    })?;
    Ok(config)
}

/// A configuration file's options, with the lines they were set on (only a
/// Python file has them).
#[derive(Default)]
struct Source {
    table: Table,
    lines: BTreeMap<(String, String), usize>,
    class_lines: BTreeMap<String, usize>,
}

/// Whether the Python configuration file at `path` sets traitlets'
/// `c.Application.show_config` (`Some(false)`) or `show_config_json`
/// (`Some(true)`): it asks to print the configuration instead of starting,
/// as `--show-config` does. `None` for a TOML file or one that cannot be read.
#[must_use]
pub fn file_requests_show_config(path: &Path) -> Option<bool> {
    if !is_python(path) {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let host = crate::python::Host {
        echo: false,
        ..crate::python::Host::from_process()
    };
    crate::python::read(path, &text, &host).ok()?.show_config
}

/// Whether `path` is upstream's Python configuration (`jupyterhub_config.py`).
fn is_python(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
}

fn read_file(path: &Path) -> Result<Source, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotFound {
            path: path.to_owned(),
        },
        _ => ConfigError::Read {
            path: path.to_owned(),
            source,
        },
    })?;
    if is_python(path) {
        let read = crate::python::read(path, &text, &crate::python::Host::from_process()).map_err(
            |e| ConfigError::Python {
                path: path.to_owned(),
                line: e.line,
                message: e.message,
            },
        )?;
        return Ok(Source {
            table: read.table,
            lines: read.lines,
            class_lines: read.class_lines,
        });
    }
    let table = text.parse::<Table>().map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start);
        let before = text.get(..offset).unwrap_or(&text);
        ConfigError::Syntax {
            path: path.to_owned(),
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().unwrap_or("").chars().count() + 1,
            message: one_line(e.message()),
        }
    })?;
    Ok(Source {
        table,
        ..Source::default()
    })
}

/// TOML parser messages may span lines ("unexpected x\nexpected y"); join them.
pub(crate) fn one_line(message: &str) -> String {
    let lines: Vec<_> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("; ")
}

/// Checks every section and key of a parsed file.
fn check_table(
    table: &Table,
    origin: &dyn Fn(&str, Option<&str>) -> Origin,
) -> Result<(), ConfigError> {
    let mut entries = Vec::new();
    for (class_name, section) in table {
        let Some(section) = section.as_table() else {
            return Err(ConfigError::OutsideSection {
                name: class_name.clone(),
                origin: origin(class_name, None),
                suggestion: class_having(class_name),
            });
        };
        let class = known_class(class_name, &origin(class_name, None))?;
        for (name, value) in section {
            entries.push((class, name, value, origin(class_name, Some(name))));
        }
    }
    // A Python file's options in the order of its lines (a TOML file's
    // keep their order: they have no line).
    entries.sort_by_key(|(_, _, _, origin)| match origin {
        Origin::Line { line, .. } => *line,
        _ => 0,
    });
    let mut first = None;
    let mut also_unsupported = Vec::new();
    for (class, name, value, origin) in &entries {
        let Err(error) =
            known_option(class, name, origin).and_then(|()| check_type(class, name, value, origin))
        else {
            continue;
        };
        let upstream_only = matches!(error, ConfigError::UnknownOption { upstream: true, .. });
        if first.is_none() {
            first = Some(error);
            // Name every upstream option ferrohub lacks at once, so a moved
            // configuration is fixed in one pass; any other error stops here.
            if !upstream_only {
                break;
            }
        } else if upstream_only {
            also_unsupported.push(format!("{}.{name} {origin}", class.name));
        }
    }
    match first {
        None => Ok(()),
        Some(ConfigError::UnknownOption {
            class,
            name,
            origin,
            suggestion,
            upstream,
            ..
        }) => Err(ConfigError::UnknownOption {
            class,
            name,
            origin,
            suggestion,
            upstream,
            also_unsupported: also_unsupported.into_boxed_slice(),
        }),
        Some(error) => Err(error),
    }
}

/// Moves each base section's options into its class's section, where the
/// class does not set them itself.
fn fold_base_sections(table: &mut Table) {
    for (base, class) in BASE_SECTIONS {
        let Some(Value::Table(inherited)) = table.remove(*base) else {
            continue;
        };
        for (name, value) in inherited {
            if let Some(Value::Table(section)) = table.get(*class)
                && section.contains_key(&name)
            {
                continue;
            }
            set_option(table, class, &name, value);
        }
    }
}

fn known_class(name: &str, origin: &Origin) -> Result<&'static Class, ConfigError> {
    let name = BASE_SECTIONS
        .iter()
        .find(|(base, _)| *base == name)
        .map_or(name, |(_, class)| class);
    find_class(name).ok_or_else(|| ConfigError::UnknownClass {
        class: name.to_owned(),
        origin: origin.clone(),
        suggestion: closest(name, CLASSES.iter().map(|c| c.name)).map(|c| format!("[{c}]")),
    })
}

fn known_option(class: &Class, name: &str, origin: &Origin) -> Result<(), ConfigError> {
    if class.has(name) {
        return Ok(());
    }
    let replaced = REPLACED
        .iter()
        .find(|(c, upstream, _)| *c == class.name && *upstream == name)
        .map(|(c, _, ours)| format!("{c}.{ours}"));
    let suggestion = replaced
        .or_else(|| {
            closest(name, (class.options)().iter().copied())
                .map(|option| format!("{}.{option}", class.name))
        })
        .or_else(|| class_having(name));
    let full_name = format!("{}.{name}", class.name);
    Err(ConfigError::UnknownOption {
        class: class.name,
        name: name.to_owned(),
        origin: origin.clone(),
        suggestion,
        upstream: UPSTREAM_OPTIONS.lines().any(|line| line == full_name),
        also_unsupported: Box::default(),
    })
}

/// `Class.name` for the first class that has an option called `name`.
fn class_having(name: &str) -> Option<String> {
    CLASSES
        .iter()
        .find(|c| c.has(name))
        .map(|c| format!("{}.{name}", c.name))
}

fn check_type(
    class: &Class,
    name: &str,
    value: &Value,
    origin: &Origin,
) -> Result<(), ConfigError> {
    (class.check)(name, value).map_err(|e| ConfigError::Invalid {
        class: class.name.to_owned(),
        name: name.to_owned(),
        origin: origin.clone(),
        problem: describe_type_error(&one_line(e.message())),
    })
}

/// Rewords serde's `invalid type: string "abc", expected u64` for people who
/// write TOML: `expected an integer, found a string "abc"`.
pub(crate) fn describe_type_error(message: &str) -> String {
    let (kind, rest) = if let Some(rest) = message.strip_prefix("invalid type: ") {
        ("type", rest)
    } else if let Some(rest) = message.strip_prefix("invalid value: ") {
        ("value", rest)
    } else {
        return message.to_owned();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_owned();
    };
    let expected = match (expected, kind) {
        ("u16", "value") => "an integer from 0 to 65535",
        ("u8" | "u32" | "u64" | "usize", "value") => "an integer of at least 0",
        ("u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64", _) => "an integer",
        ("f32" | "f64", _) => "a number",
        ("a sequence", _) => "a list",
        ("a map", _) => "a table",
        (other, _) => other,
    };
    let found = found.replace('`', "");
    let found = match found.split_once(' ') {
        _ if found == "sequence" => "a list".to_owned(),
        _ if found == "map" => "a table".to_owned(),
        Some(("integer", n)) => format!("an integer {n}"),
        Some(("floating", rest)) => format!("a number {}", rest.trim_start_matches("point ")),
        Some(("string" | "boolean", _)) => format!("a {found}"),
        _ => found,
    };
    format!("expected {expected}, found {found}")
}

/// Splits `--Class.trait=value` and checks it like a line of the file.
fn parse_override(arg: &str) -> Result<(&str, &str, Value), ConfigError> {
    let bad = || ConfigError::BadOverride {
        arg: arg.to_owned(),
    };
    let body = arg.strip_prefix("--").unwrap_or(arg);
    let (key, raw) = body.split_once('=').ok_or_else(bad)?;
    let (class_name, name) = key.split_once('.').ok_or_else(bad)?;
    if class_name.is_empty() || name.is_empty() || key.contains(char::is_whitespace) {
        return Err(bad());
    }
    let origin = Origin::CommandLine;
    let class = known_class(class_name, &origin)?;
    known_option(class, name, &origin)?;
    let invalid = |problem: String| ConfigError::Invalid {
        class: class_name.to_owned(),
        name: name.to_owned(),
        origin: Origin::CommandLine,
        problem,
    };
    let candidates = override_candidates(raw).map_err(|problem| invalid(problem.to_owned()))?;
    let mut first_error = None;
    for value in candidates {
        match check_type(class, name, &value, &origin) {
            Ok(()) => return Ok((class.name, name, value)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| invalid("no value".to_owned())))
}

/// The readings of a command-line value, most likely first: as TOML (`8000`,
/// `['--debug']`, `{KEY = "v"}`), with Python's `True`/`False`; then, for scalars,
/// as the raw text (`1234` for a password, `http://:9000`), then as a one-item
/// list of it (`--Spawner.args=--debug`, as traitlets does).
fn override_candidates(raw: &str) -> Result<Vec<Value>, &'static str> {
    let text = || Value::String(raw.to_owned());
    match raw.trim() {
        "None" => Err("None is not supported; leave the option out to keep its default"),
        "True" => Ok(vec![Value::Boolean(true), text()]),
        "False" => Ok(vec![Value::Boolean(false), text()]),
        _ => Ok(match raw.parse::<Value>() {
            Ok(value @ (Value::Array(_) | Value::Table(_))) => vec![value],
            Ok(Value::String(s)) => vec![
                Value::String(s.clone()),
                Value::Array(vec![Value::String(s)]),
            ],
            Ok(scalar) => vec![scalar, text(), Value::Array(vec![text()])],
            Err(_) => vec![text(), Value::Array(vec![text()])],
        }),
    }
}

/// Sets `[class] name = value`, creating the section if the file had none.
fn set_option(table: &mut Table, class: &str, name: &str, value: Value) {
    if let Some(Value::Table(section)) = table.get_mut(class) {
        section.insert(name.to_owned(), value);
    } else {
        let mut section = Table::new();
        section.insert(name.to_owned(), value);
        table.insert(class.to_owned(), Value::Table(section));
    }
}

/// Checks that need more than a type: URLs, non-empty commands, ranges, levels.
/// Normalizes `JupyterHub.log_level` to lowercase.
fn check_values(
    config: &mut Config,
    origin: impl Fn(&'static str, &'static str) -> Origin,
) -> Result<(), ConfigError> {
    let invalid = |class: &'static str, name: &'static str, problem: String| ConfigError::Invalid {
        class: class.to_owned(),
        name: name.to_owned(),
        origin: origin(class, name),
        problem,
    };
    let url = |class, name, url: &str| {
        BindUrl::parse(url)
            .map(drop)
            .map_err(|e| invalid(class, name, e.to_string()))
    };
    let hub = &mut config.jupyterhub;
    url("JupyterHub", "bind_url", &hub.bind_url)?;
    if !hub.hub_bind_url.is_empty() && crate::addresses::unix_socket(&hub.hub_bind_url).is_none() {
        url("JupyterHub", "hub_bind_url", &hub.hub_bind_url)?;
    }
    url("ConfigurableHTTPProxy", "api_url", &config.proxy.api_url)?;
    // Upstream's periodic callback refuses a zero interval too.
    if config.proxy.check_running_interval == 0 {
        return Err(invalid(
            "ConfigurableHTTPProxy",
            "check_running_interval",
            "must be at least 1 second".to_owned(),
        ));
    }
    // Also refuses NaN and infinity (no comparison holds for NaN).
    if !(hub.cookie_max_age_days > 0.0 && hub.cookie_max_age_days <= MAX_COOKIE_MAX_AGE_DAYS) {
        let days = hub.cookie_max_age_days;
        return Err(invalid(
            "JupyterHub",
            "cookie_max_age_days",
            format!(
                "must be a number of days greater than 0 and at most {MAX_COOKIE_MAX_AGE_DAYS}, found {days}"
            ),
        ));
    }
    // Also refuses NaN and infinity; a day is more than any page would wait.
    if !(hub.implicit_spawn_seconds >= 0.0 && hub.implicit_spawn_seconds <= 86_400.0) {
        let seconds = hub.implicit_spawn_seconds;
        return Err(invalid(
            "JupyterHub",
            "implicit_spawn_seconds",
            format!("must be a number of seconds from 0 to 86400, found {seconds}"),
        ));
    }
    hub.log_level.make_ascii_lowercase();
    if !["debug", "info", "warn", "warning", "error"].contains(&hub.log_level.as_str()) {
        let level = &hub.log_level;
        return Err(invalid(
            "JupyterHub",
            "log_level",
            format!("expected one of debug, info, warn, warning, error, found {level:?}"),
        ));
    }
    if config.pam_authenticator.executor_threads == 0 {
        return Err(invalid(
            "PAMAuthenticator",
            "executor_threads",
            "must be at least 1: PAM logins run on these threads".to_owned(),
        ));
    }
    let encoding = config.pam_authenticator.encoding.to_ascii_lowercase();
    if !["utf8", "utf-8"].contains(&encoding.as_str()) {
        return Err(invalid(
            "PAMAuthenticator",
            "encoding",
            format!(
                "only utf8 is supported (user names and passwords arrive as UTF-8), found {:?}",
                config.pam_authenticator.encoding
            ),
        ));
    }
    let auth = &config.authenticator;
    for (name, seconds) in [
        (
            "login_backoff_initial_seconds",
            auth.login_backoff_initial_seconds,
        ),
        ("login_backoff_max_seconds", auth.login_backoff_max_seconds),
    ] {
        // A day is far beyond any useful backoff; the cap keeps the arithmetic finite.
        if !(seconds > 0.0 && seconds <= 86_400.0) {
            return Err(invalid(
                "Authenticator",
                name,
                format!(
                    "must be a number of seconds greater than 0 and at most 86400, found {seconds}"
                ),
            ));
        }
    }
    if auth.login_backoff_max_seconds < auth.login_backoff_initial_seconds {
        return Err(invalid(
            "Authenticator",
            "login_backoff_max_seconds",
            format!(
                "must not be less than login_backoff_initial_seconds ({})",
                auth.login_backoff_initial_seconds
            ),
        ));
    }
    if config.spawner.cmd.is_empty() {
        return Err(invalid(
            "Spawner",
            "cmd",
            "must not be empty: it is the command that starts each user's server".to_owned(),
        ));
    }
    check_spawner_choices(&config.spawner)
        .map_err(|(name, problem)| invalid("Spawner", name, problem))?;
    crate::credentials::check(&config.jupyterhub)
        .map_err(|refused| invalid("JupyterHub", refused.option, refused.problem))?;
    crate::addresses::check(&mut config.jupyterhub)
        .map_err(|refused| invalid("JupyterHub", refused.option, refused.problem))?;
    Ok(())
}

/// The spawn page's choices: one kind of form, distinct profile slugs, and
/// limits that are numbers of cores.
fn check_spawner_choices(spawner: &crate::SpawnerConfig) -> Result<(), (&'static str, String)> {
    if !spawner.options_form.trim().is_empty() && !spawner.profile_list.is_empty() {
        return Err((
            "options_form",
            "set options_form or profile_list, not both: the spawn page shows one form".to_owned(),
        ));
    }
    for (i, profile) in spawner.profile_list.iter().enumerate() {
        if let Some(earlier) = spawner.profile_list[..i]
            .iter()
            .find(|p| p.slug == profile.slug)
        {
            return Err((
                "profile_list",
                format!(
                    "profiles {:?} and {:?} have the same slug {:?}; give one a distinct slug",
                    earlier.display_name, profile.display_name, profile.slug
                ),
            ));
        }
    }
    let cores = |name: &'static str, value: Option<f64>, profile: Option<&str>| match value {
        Some(v) if !(v.is_finite() && v >= 0.0) => Err((
            if profile.is_some() {
                "profile_list"
            } else {
                name
            },
            match profile {
                Some(p) => format!(
                    "profile {p:?}, spawner_override.{name}: must be a number of cores of at least 0, found {v}"
                ),
                None => format!("must be a number of cores of at least 0, found {v}"),
            },
        )),
        _ => Ok(()),
    };
    cores("cpu_limit", spawner.cpu_limit, None)?;
    cores("cpu_guarantee", spawner.cpu_guarantee, None)?;
    for profile in &spawner.profile_list {
        let o = &profile.spawner_override;
        cores("cpu_limit", o.cpu_limit, Some(&profile.display_name))?;
        cores(
            "cpu_guarantee",
            o.cpu_guarantee,
            Some(&profile.display_name),
        )?;
    }
    Ok(())
}

/// The candidate within edit distance 2 of `name` (the closest, first on ties).
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("cmd", "cmd"), 0);
        assert_eq!(edit_distance("cmdd", "cmd"), 1);
        assert_eq!(edit_distance("cdm", "cmd"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_ignores_case_and_far_candidates() {
        let options = ["cmd", "args", "start_timeout"];
        assert_eq!(closest("CMD", options.iter().copied()), Some("cmd"));
        assert_eq!(
            closest("start_timout", options.iter().copied()),
            Some("start_timeout")
        );
        assert_eq!(closest("foo", options.iter().copied()), None);
    }

    #[test]
    fn serde_type_errors_are_reworded() {
        assert_eq!(
            describe_type_error(r#"invalid type: string "abc", expected u64"#),
            r#"expected an integer, found a string "abc""#
        );
        assert_eq!(
            describe_type_error("invalid value: integer `70000`, expected u16"),
            "expected an integer from 0 to 65535, found an integer 70000"
        );
        assert_eq!(
            describe_type_error("invalid type: floating point `1.5`, expected a sequence"),
            "expected a list, found a number 1.5"
        );
        assert_eq!(describe_type_error("something else"), "something else");
    }

    #[test]
    fn override_values_are_toml_with_python_spellings() {
        assert_eq!(
            override_candidates("8000").unwrap()[0],
            Value::Integer(8000)
        );
        assert_eq!(
            override_candidates("True").unwrap()[0],
            Value::Boolean(true)
        );
        assert_eq!(
            override_candidates("False").unwrap()[0],
            Value::Boolean(false)
        );
        assert_eq!(
            override_candidates("['--debug']").unwrap(),
            vec![Value::Array(vec![Value::String("--debug".into())])]
        );
        assert_eq!(
            override_candidates("http://:9000").unwrap()[0],
            Value::String("http://:9000".into())
        );
        assert!(override_candidates("None").is_err());
    }
}
