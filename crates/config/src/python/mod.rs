//! Reads upstream's `jupyterhub_config.py` without Python: a lexer, a parser
//! and an evaluator for the subset configuration files use (assignments to
//! `c.Class.trait`, literals, string methods, f-strings, `os.environ`,
//! `os.path`, conditions, simple loops). The result is the same TOML table a
//! `ferrohub.toml` gives, so every check of [`crate::load`] applies, plus the
//! line each option was set on so its errors can name it.
//!
//! Anything that is not data (a function, a class, an object of an imported
//! class, file reads) is a [`PyError`] naming its line: ferrohub runs no
//! Python code. The supported subset is described in
//! `docs/jupyterhub-config-py.md`.

mod builtins;
mod eval;
mod format;
mod lexer;
mod parser;
mod value;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::{Table, Value as Toml};

use eval::{Entry, Interp, describe};
use value::{Lazy, Value};

/// What the evaluator knows of the machine: the environment `os.environ`
/// reads, the working directory relative paths resolve from, and the Python
/// that `sys.executable` names.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    /// `os.environ`.
    pub(crate) environ: BTreeMap<String, String>,
    /// `sys.executable`.
    pub(crate) executable: String,
    /// `sys.prefix`.
    pub(crate) prefix: String,
    /// `os.getcwd()`.
    pub(crate) cwd: PathBuf,
    /// Whether `print()` writes to stderr (off when a file is read a second
    /// time, so its messages are not repeated).
    pub(crate) echo: bool,
}

impl Host {
    /// The running process's environment and working directory. `sys.executable`
    /// is the Python of `jupyterhub-singleuser` on `PATH` (its `#!` line, else
    /// the `python3` beside it: the environment the servers run in, where
    /// upstream's hub would also be installed), else the first `python3` on
    /// `PATH`, else `python3`; `sys.prefix` is the directory above its `bin`.
    pub(crate) fn from_process() -> Self {
        let environ: BTreeMap<String, String> = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let executable = find_python(environ.get("PATH").map_or("", String::as_str));
        let prefix = executable
            .as_deref()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .map_or_else(|| "/usr".to_owned(), |p| p.to_string_lossy().into_owned());
        Self {
            environ,
            executable: executable.map_or_else(
                || "python3".to_owned(),
                |p| p.to_string_lossy().into_owned(),
            ),
            prefix,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            echo: true,
        }
    }
}

fn find_python(path: &str) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = std::env::split_paths(path).collect();
    for dir in &dirs {
        let script = dir.join("jupyterhub-singleuser");
        if !script.is_file() {
            continue;
        }
        // The script's own interpreter is what upstream's hub, installed
        // beside it, would see as sys.executable.
        if let Some(interpreter) = shebang(&script) {
            return Some(interpreter);
        }
        for name in ["python3", "python"] {
            if dir.join(name).is_file() {
                return Some(dir.join(name));
            }
        }
    }
    dirs.iter().map(|d| d.join("python3")).find(|p| p.is_file())
}

/// The absolute interpreter of a `#!/path/python3` script, if it exists.
fn shebang(script: &Path) -> Option<PathBuf> {
    use std::io::Read as _;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let line = text.lines().next()?.strip_prefix("#!")?;
    let interpreter = PathBuf::from(line.split_whitespace().next()?);
    let name = interpreter.file_name()?.to_string_lossy().into_owned();
    (interpreter.is_absolute() && name.starts_with("python") && interpreter.is_file())
        .then_some(interpreter)
}

/// Why a Python configuration file was refused: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PyError {
    /// Line of the file, from 1.
    pub(crate) line: usize,
    /// One line of text.
    pub(crate) message: String,
}

impl PyError {
    fn new(line: usize, message: &str) -> Self {
        Self {
            line,
            message: message.to_owned(),
        }
    }

    fn syntax(line: usize, message: &str) -> Self {
        Self::new(line, &format!("invalid syntax: {message}"))
    }

    fn unsupported(line: usize, what: &str) -> Self {
        Self::new(
            line,
            &format!(
                "{what} is not supported in a configuration ferrohub reads (it runs no Python)"
            ),
        )
    }

    /// The same error at another line (an f-string field parsed on its own).
    fn at(mut self, line: usize) -> Self {
        self.line = line;
        self
    }
}

/// A Python configuration as TOML, with where each option was set.
#[derive(Debug, Default)]
pub(crate) struct PyConfig {
    /// `[Class] trait = value`, as a TOML file would give.
    pub(crate) table: Table,
    /// The line that last set or changed each `(class, trait)`.
    pub(crate) lines: BTreeMap<(String, String), usize>,
    /// The line each class was first named on.
    pub(crate) class_lines: BTreeMap<String, usize>,
    /// `c.Application.show_config` (or `show_config_json`) was set true:
    /// `Some(true)` for JSON. traitlets then prints the configuration
    /// instead of starting.
    pub(crate) show_config: Option<bool>,
}

/// Options of traitlets' `Application` (JupyterHub's base class) that are
/// not configuration of the hub: `--show-config` switches, taken out of the
/// table and reported in [`PyConfig::show_config`].
const SHOW_CONFIG: &[&str] = &["show_config", "show_config_json"];

/// Runs `source` (the file at `path`) and returns what it configures.
pub(crate) fn read(path: &Path, source: &str, host: &Host) -> Result<PyConfig, PyError> {
    let stmts = parser::parse(source)?;
    let file = if path.is_absolute() {
        path.to_owned()
    } else {
        host.cwd.join(path)
    };
    let mut interp = Interp::new(host, &file);
    interp.run(&stmts)?;
    let mut show_config = None;
    for class in ["Application", "JupyterHub"] {
        let Some(section) = interp.sections.get_mut(class) else {
            continue;
        };
        for name in SHOW_CONFIG {
            if let Some(entry) = section.traits.remove(*name)
                && entry.value.truthy() == Some(true)
            {
                show_config = Some(*name == "show_config_json");
            }
        }
    }
    // traitlets applies `c.Application.log_level` to JupyterHub, its
    // subclass, unless JupyterHub's own section sets it.
    if let Some(entry) = interp
        .sections
        .get_mut("Application")
        .and_then(|s| s.traits.remove("log_level"))
    {
        let hub = interp.sections.entry("JupyterHub".to_owned()).or_default();
        if hub.line == 0 {
            hub.line = entry.line;
        }
        hub.traits.entry("log_level".to_owned()).or_insert(entry);
    }
    let defaults = Table::try_from(crate::Config::default()).unwrap_or_default();
    fold_url_parts(&mut interp)?;
    let mut out = PyConfig {
        show_config,
        ..PyConfig::default()
    };
    for (class, section) in &interp.sections {
        let mut converted = Table::new();
        for (name, entry) in &section.traits {
            let context = Context {
                class,
                name,
                line: entry.line,
            };
            let value = match &entry.value {
                Value::None => continue,
                Value::Lazy(lazy) => {
                    let lazy = lazy.borrow();
                    if lazy.is_empty() {
                        continue;
                    }
                    let default = defaults
                        .get(class.as_str())
                        .and_then(Toml::as_table)
                        .and_then(|t| t.get(name.as_str()));
                    resolve_lazy(&lazy, default, &context)?
                }
                Value::ClassRef(path) if name.ends_with("_class") => Toml::String(path.to_string()),
                other => to_toml(other, &context)?,
            };
            converted.insert(name.clone(), value);
            out.lines.insert((class.clone(), name.clone()), entry.line);
        }
        if !converted.is_empty() {
            out.class_lines.insert(class.clone(), section.line);
            out.table.insert(class.clone(), Toml::Table(converted));
        }
    }
    for (class, name, value) in UPSTREAM_FILE_DEFAULTS {
        let section = out
            .table
            .entry((*class).to_owned())
            .or_insert_with(|| Toml::Table(Table::new()));
        if let Toml::Table(section) = section {
            section
                .entry((*name).to_owned())
                .or_insert_with(|| Toml::String((*value).to_owned()));
        }
    }
    Ok(out)
}

/// Upstream's defaults for the files that hold a hub's state, where
/// ferrohub's own defaults differ (`ferrohub.sqlite`,
/// `ferrohub_cookie_secret`). A `jupyterhub_config.py` that leaves them out
/// was written for upstream's: its hub's users, tokens and logins are in
/// these files, so they are the defaults when such a file is read.
const UPSTREAM_FILE_DEFAULTS: &[(&str, &str, &str)] = &[
    ("JupyterHub", "db_url", "sqlite:///jupyterhub.sqlite"),
    (
        "JupyterHub",
        "cookie_secret_file",
        "jupyterhub_cookie_secret",
    ),
];

/// Upstream's older `c.JupyterHub.ip`, `port` and `base_url` (still accepted
/// by JupyterHub 6) become `bind_url`, as upstream's `_url_part_changed`
/// does: the scheme of `bind_url` (or `http`), `ip:port` (`[ip]:port` for
/// IPv6; defaults `''` and 8000) and `base_url` (default: `bind_url`'s path),
/// whichever was given.
fn fold_url_parts(interp: &mut Interp<'_>) -> Result<(), PyError> {
    let Some(hub) = interp.sections.get_mut("JupyterHub") else {
        return Ok(());
    };
    let mut parts = BTreeMap::new();
    for name in ["ip", "port", "base_url"] {
        match hub.traits.get(name).map(|e| (&e.value, e.line)) {
            None | Some((Value::None | Value::Lazy(_), _)) => {}
            Some((value, line)) => {
                parts.insert(name, (value.clone(), line));
            }
        }
    }
    for name in ["ip", "port", "base_url"] {
        hub.traits.remove(name);
    }
    if parts.is_empty() {
        return Ok(());
    }
    let text = |name: &str| -> Result<Option<String>, PyError> {
        match parts.get(name) {
            None => Ok(None),
            Some((Value::Str(s), _)) => Ok(Some(s.to_string())),
            Some((other, line)) => Err(PyError::new(
                *line,
                &format!(
                    "JupyterHub.{name}: expected a string, found {}",
                    other.type_name()
                ),
            )),
        }
    };
    let (ip, base_url) = (text("ip")?, text("base_url")?);
    let port = match parts.get("port") {
        None => 8000,
        Some((Value::Int(p), _)) => *p,
        Some((other, line)) => {
            return Err(PyError::new(
                *line,
                &format!(
                    "JupyterHub.port: expected an integer, found {}",
                    other.type_name()
                ),
            ));
        }
    };
    let bind_url = match hub.traits.get("bind_url").map(|e| &e.value) {
        Some(Value::Str(s)) => s.to_string(),
        _ => "http://:8000".to_owned(),
    };
    let (scheme, rest) = bind_url.split_once("://").unwrap_or(("http", ""));
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    let base = base_url.unwrap_or_else(|| path.to_owned());
    let base = format!("/{}/", base.trim_matches('/')).replace("//", "/");
    let ip = ip.unwrap_or_default();
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip
    };
    let line = parts.values().map(|(_, line)| *line).max().unwrap_or(0);
    hub.traits.insert(
        "bind_url".to_owned(),
        Entry {
            value: Value::str(&format!("{scheme}://{host}:{port}{base}")),
            line,
        },
    );
    Ok(())
}

/// Upstream options that take Python code, and what does their usual job in
/// ferrohub: `(class, option, instead)`.
const HOOK_REPLACEMENTS: &[(&str, &str, &str)] = &[
    ("Spawner", "auth_state_hook", "Spawner.auth_state_env"),
    (
        "Spawner",
        "pre_spawn_hook",
        "Spawner.environment, Spawner.mem_limit/cpu_limit or Spawner.profile_list",
    ),
    (
        "Spawner",
        "options_form",
        "an HTML string or Spawner.profile_list",
    ),
    ("JupyterHub", "default_url", "a URL string"),
];

/// The option a value is being converted for, to name it in errors.
struct Context<'a> {
    class: &'a str,
    name: &'a str,
    line: usize,
}

impl Context<'_> {
    fn refuse(&self, problem: &str) -> PyError {
        PyError::new(
            self.line,
            &format!("{}.{}: {problem}", self.class, self.name),
        )
    }
}

/// A Python value as TOML: tuples and sets become arrays, `None` inside a
/// dict leaves that key out (its default), class references become their
/// dotted names; anything that is code is refused.
fn to_toml(value: &Value, context: &Context<'_>) -> Result<Toml, PyError> {
    to_toml_at(value, context, 0)
}

/// [`to_toml`] of a value `depth` containers deep (a list that holds itself
/// would never end).
fn to_toml_at(value: &Value, context: &Context<'_>, depth: usize) -> Result<Toml, PyError> {
    if depth > 50 {
        return Err(context.refuse("nested more than 50 levels deep (does a list hold itself?)"));
    }
    let to_toml = |v: &Value, c: &Context<'_>| to_toml_at(v, c, depth + 1);
    Ok(match value {
        Value::Bool(b) => Toml::Boolean(*b),
        Value::Int(i) => Toml::Integer(*i),
        Value::Float(f) => Toml::Float(*f),
        Value::Str(s) => Toml::String(s.to_string()),
        Value::List(_) | Value::Tuple(_) | Value::Set(_) => {
            let items = value.items().unwrap_or_default();
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                if matches!(item, Value::None) {
                    return Err(context
                        .refuse("None inside a list cannot be represented (TOML has no null)"));
                }
                out.push(to_toml(item, context)?);
            }
            Toml::Array(out)
        }
        Value::Dict(map) => {
            let mut out = Table::new();
            for (k, v) in map.borrow().iter() {
                let key = match k {
                    Value::Str(s) => s.to_string(),
                    Value::Int(i) => i.to_string(),
                    other => {
                        return Err(context.refuse(&format!(
                            "dict keys must be strings, found {}",
                            other.type_name()
                        )));
                    }
                };
                if matches!(v, Value::None) {
                    continue;
                }
                out.insert(key, to_toml(v, context)?);
            }
            Toml::Table(out)
        }
        Value::None => {
            return Err(context.refuse("None cannot be represented here"));
        }
        Value::Function(..) | Value::UserClass(..) => {
            let instead = HOOK_REPLACEMENTS
                .iter()
                .find(|(class, name, _)| *class == context.class && *name == context.name)
                .map_or_else(
                    || {
                        "see docs/jupyterhub-config-py.md for the options that replace common hooks"
                            .to_owned()
                    },
                    |(_, _, ours)| format!("for its usual job use {ours}"),
                );
            return Err(context.refuse(&format!(
                "{} is Python code, which ferrohub cannot use as configuration (it runs no Python); {instead}",
                describe(value)
            )));
        }
        Value::ClassRef(path) => {
            return Err(context.refuse(&format!(
                "{} is a Python class; only *_class options take a class (given by its name, e.g. '{path}')",
                describe(value)
            )));
        }
        Value::Lazy(_) => {
            return Err(context.refuse("holds another option that is not set"));
        }
        other => {
            return Err(context.refuse(&format!(
                "{} cannot be represented as configuration",
                describe(other)
            )));
        }
    })
}

/// Applies what was recorded on an unset option to ferrohub's default, as
/// traitlets' `LazyConfigValue.get_value` does with upstream's.
fn resolve_lazy(
    lazy: &Lazy,
    default: Option<&Toml>,
    context: &Context<'_>,
) -> Result<Toml, PyError> {
    let convert = |items: &[Value]| -> Result<Vec<Toml>, PyError> {
        items.iter().map(|v| to_toml(v, context)).collect()
    };
    let has_list_ops =
        !lazy.extend.is_empty() || !lazy.prepend.is_empty() || !lazy.inserts.is_empty();
    match default {
        Some(Toml::Table(_)) | None if !has_list_ops && lazy.set_items.is_empty() => {
            let mut table = match default {
                Some(Toml::Table(t)) => t.clone(),
                _ => Table::new(),
            };
            for (k, v) in &lazy.update_items {
                let Value::Str(k) = k else {
                    return Err(context.refuse("dict keys must be strings"));
                };
                if matches!(v, Value::None) {
                    continue;
                }
                table.insert(k.to_string(), to_toml(v, context)?);
            }
            Ok(Toml::Table(table))
        }
        Some(Toml::Array(_)) | None if lazy.update_items.is_empty() => {
            let mut items = match default {
                Some(Toml::Array(a)) => a.clone(),
                _ => Vec::new(),
            };
            for (index, value) in &lazy.inserts {
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let at = if *index < 0 {
                    (index + len).max(0)
                } else {
                    (*index).min(len)
                };
                items.insert(usize::try_from(at).unwrap_or(0), to_toml(value, context)?);
            }
            let mut all = convert(&lazy.prepend)?;
            all.append(&mut items);
            all.extend(convert(&lazy.extend)?);
            for item in convert(&lazy.set_items)? {
                if !all.contains(&item) {
                    all.push(item);
                }
            }
            Ok(Toml::Array(all))
        }
        Some(_) => {
            Err(context
                .refuse("is not a list, set or dict, so append/extend/update/add do not apply"))
        }
        None => Err(context.refuse("both list and dict changes were made before it was set")),
    }
}

#[cfg(test)]
mod tests;
