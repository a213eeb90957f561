//! What can go wrong while loading a configuration. Every error displays as one
//! line naming the file (or the command line) and the option, because the CLI
//! prints it as is and exits: the user must see what to fix without a backtrace.

use std::fmt;
use std::path::PathBuf;

/// Where a setting came from, so an error can say where to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file at this path.
    File(PathBuf),
    /// A line of the configuration file at this path (a Python file, whose
    /// options each know the line that set them).
    Line {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },
    /// A `--Class.trait=value` argument.
    CommandLine,
    /// The built-in default (only seen for a hand-built, invalid [`crate::Config`]).
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "in {}", path.display()),
            Self::Line { path, line } => write!(f, "in {}:{line}", path.display()),
            Self::CommandLine => f.write_str("on the command line"),
            Self::Default => f.write_str("by default"),
        }
    }
}

/// Why [`crate::load`] refused a configuration. The `Display` text is a single line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A configuration file was named but does not exist.
    #[error("config file {} not found", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The configuration file exists but could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The unreadable file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML; `line` and `column` count from 1.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Line of the error.
        line: usize,
        /// Column (in characters) of the error.
        column: usize,
        /// What the TOML parser expected.
        message: String,
    },
    /// A `jupyterhub_config.py` that ferrohub cannot read: a syntax error,
    /// or Python that is not data (a function, a class, a file read); `line`
    /// counts from 1.
    #[error("{}:{line}: {message}", path.display())]
    Python {
        /// The file.
        path: PathBuf,
        /// Line of the statement.
        line: usize,
        /// What is wrong, naming the option when there is one.
        message: String,
    },
    /// A command-line override that is not of the form `--Class.trait=value`.
    #[error("bad command-line option {arg:?}: expected --Class.trait=value")]
    BadOverride {
        /// The argument as given.
        arg: String,
    },
    /// A `[Section]` that is not a known configurable class.
    #[error("unknown configuration class [{class}] {origin}{}", did_you_mean(.suggestion.as_deref()))]
    UnknownClass {
        /// The section name as written.
        class: String,
        /// Where it was written.
        origin: Origin,
        /// The closest known class, if one is close.
        suggestion: Option<String>,
    },
    /// A `[Section]` that holds a value instead of a table of options, or a key
    /// outside any section.
    #[error("{name} {origin} is not inside a [Class] section{}", did_you_mean(.suggestion.as_deref()))]
    OutsideSection {
        /// The top-level key as written.
        name: String,
        /// Where it was written.
        origin: Origin,
        /// `Class.name` if some class has an option of that name.
        suggestion: Option<String>,
    },
    /// An option that the class does not have.
    #[error("unknown option {class}.{name} {origin}{}{}{}", did_you_mean(.suggestion.as_deref()), upstream_note(*.upstream), also_note(.also_unsupported))]
    UnknownOption {
        /// The class (section) name.
        class: &'static str,
        /// The option name as written.
        name: String,
        /// Where it was written.
        origin: Origin,
        /// `Class.option` of the closest known option, if one is close.
        suggestion: Option<String>,
        /// Upstream JupyterHub 6.1.1 has this option, ferrohub does not.
        upstream: bool,
        /// The file's other upstream options ferrohub does not support, as
        /// `Class.name in FILE[:LINE]`, so all are named in one message.
        also_unsupported: Box<[String]>,
    },
    /// A known option with a value of the wrong type or out of range.
    #[error("{class}.{name} {origin}: {problem}")]
    Invalid {
        /// The class (section) name.
        class: String,
        /// The option name.
        name: String,
        /// Where the value was set.
        origin: Origin,
        /// What is wrong, e.g. `expected an integer, found a string "abc"`.
        problem: String,
    },
    /// Every key passed its own check but serde still refused the whole; not
    /// expected to happen, kept so that nothing panics.
    #[error("invalid configuration {origin}: {message}")]
    Unexpected {
        /// Where the configuration came from.
        origin: Origin,
        /// serde's message.
        message: String,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

fn also_note(others: &[String]) -> String {
    if others.is_empty() {
        String::new()
    } else {
        format!("; nor these upstream options: {}", others.join(", "))
    }
}

fn upstream_note(upstream: bool) -> &'static str {
    if upstream {
        " (upstream JupyterHub has this option; ferrohub does not support it)"
    } else {
        ""
    }
}
