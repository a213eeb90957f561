//! Reading the batch system's answers, as batchspawner's
//! `BatchSpawnerRegexStates` and `SlurmSpawner.parse_job_id` do.

use ferrohub_config::SlurmSpawnerConfig;
use regex::Regex;

/// What the query command said about a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Not (or no longer) known to the batch system.
    NotFound,
    /// Running (or completing).
    Running,
    /// Waiting in the queue.
    Pending,
    /// The batch system did not answer; the job is taken as still there.
    Unknown,
}

/// The configured state expressions, compiled once.
#[derive(Debug)]
pub struct StateMatcher {
    pending: Regex,
    running: Regex,
    exechost: Regex,
    exechost_exp: String,
    unknown: Option<Regex>,
}

/// A state expression that does not compile (its option and the error).
#[derive(Debug, thiserror::Error)]
#[error("SlurmSpawner.{option} is not a valid regular expression: {error}")]
pub struct BadExpression {
    /// The option name.
    pub option: &'static str,
    /// The compiler's message.
    pub error: regex::Error,
}

impl StateMatcher {
    /// Compiles `state_*_re` (and keeps `state_exechost_exp`).
    pub fn new(config: &SlurmSpawnerConfig) -> Result<Self, BadExpression> {
        let compile = |option: &'static str, pattern: &str| {
            Regex::new(pattern).map_err(|error| BadExpression { option, error })
        };
        Ok(Self {
            pending: compile("state_pending_re", &config.state_pending_re)?,
            running: compile("state_running_re", &config.state_running_re)?,
            exechost: compile("state_exechost_re", &config.state_exechost_re)?,
            exechost_exp: config.state_exechost_exp.clone(),
            unknown: (!config.state_unknown_re.is_empty())
                .then(|| compile("state_unknown_re", &config.state_unknown_re))
                .transpose()?,
        })
    }

    /// Classifies the query output (or, when the query failed, its error
    /// output), in upstream's order: running, pending, unknown, else gone.
    #[must_use]
    pub fn status(&self, output: &str) -> JobStatus {
        if output.is_empty() {
            JobStatus::NotFound
        } else if self.running.is_match(output) {
            JobStatus::Running
        } else if self.pending.is_match(output) {
            JobStatus::Pending
        } else if self.unknown.as_ref().is_some_and(|re| re.is_match(output)) {
            JobStatus::Unknown
        } else {
            JobStatus::NotFound
        }
    }

    /// The execution host: the first capture group of `state_exechost_re`,
    /// or `state_exechost_exp` expanded with the match when set.
    #[must_use]
    pub fn exechost(&self, output: &str) -> Option<String> {
        let captures = self.exechost.captures(output)?;
        if self.exechost_exp.is_empty() {
            return captures.get(1).map(|m| m.as_str().to_owned());
        }
        let mut host = String::new();
        captures.expand(&python_replacement(&self.exechost_exp), &mut host);
        Some(host)
    }
}

/// Python's `\1` and `\g<name>` group references in Rust's `${1}` form.
fn python_replacement(template: &str) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    let mut group = String::new();
                    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                        group.push(d);
                        chars.next();
                    }
                    out.push_str("${");
                    out.push_str(&group);
                    out.push('}');
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str("${");
                        out.push_str(&name);
                        out.push('}');
                    } else {
                        out.push_str("\\g");
                    }
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

/// The job id in `sbatch --parsable` output: the last line, before any
/// `;cluster`, and a number (upstream's check).
#[must_use]
pub fn parse_job_id(output: &str) -> Option<String> {
    let last = output.trim().lines().last()?;
    let id = last.split(';').next()?.trim();
    id.parse::<u64>().ok().map(|_| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slurm() -> StateMatcher {
        StateMatcher::new(&SlurmSpawnerConfig::default()).unwrap()
    }

    #[test]
    fn squeue_states_are_classified_as_upstream() {
        let m = slurm();
        assert_eq!(m.status("PENDING n/a"), JobStatus::Pending);
        assert_eq!(m.status("CONFIGURING vm"), JobStatus::Pending);
        assert_eq!(m.status("RUNNING vm"), JobStatus::Running);
        assert_eq!(m.status("COMPLETING vm"), JobStatus::Running);
        assert_eq!(m.status(""), JobStatus::NotFound);
        assert_eq!(
            m.status("slurm_load_jobs error: Invalid job id specified"),
            JobStatus::NotFound
        );
        assert_eq!(
            m.status("slurm_load_jobs error: Unable to contact slurm controller (connect failure)"),
            JobStatus::Unknown
        );
        assert_eq!(m.status("CANCELLED vm"), JobStatus::NotFound);
    }

    #[test]
    fn the_execution_host_is_the_last_word() {
        let m = slurm();
        assert_eq!(m.exechost("RUNNING vm").as_deref(), Some("vm"));
        assert_eq!(
            m.exechost("RUNNING node-12.cluster.example").as_deref(),
            Some("node-12.cluster.example")
        );
        assert_eq!(m.exechost("RUNNING"), None);
        let expanded = StateMatcher::new(&SlurmSpawnerConfig {
            state_exechost_exp: r"\1.ib.example".into(),
            ..SlurmSpawnerConfig::default()
        })
        .unwrap();
        assert_eq!(
            expanded.exechost("RUNNING node3").as_deref(),
            Some("node3.ib.example")
        );
    }

    #[test]
    fn python_group_references_become_rust_ones() {
        assert_eq!(python_replacement(r"\1-\g<host>$x"), "${1}-${host}$$x");
    }

    #[test]
    fn bad_expressions_name_their_option() {
        let error = StateMatcher::new(&SlurmSpawnerConfig {
            state_running_re: "(".into(),
            ..SlurmSpawnerConfig::default()
        })
        .unwrap_err();
        assert!(error.to_string().contains("state_running_re"), "{error}");
    }

    #[test]
    fn job_ids_come_from_the_last_line() {
        assert_eq!(parse_job_id("42\n").as_deref(), Some("42"));
        assert_eq!(parse_job_id("42;cluster").as_deref(), Some("42"));
        assert_eq!(
            parse_job_id("sbatch: warning: something\n43").as_deref(),
            Some("43")
        );
        assert_eq!(parse_job_id("Submitted batch job 44"), None);
        assert_eq!(parse_job_id(""), None);
    }
}
