//! batchspawner's `format_template`: a template with `{{` or `{%` is Jinja2
//! (rendered here with minijinja, whose syntax and lenient undefined values
//! match Jinja2 for what job scripts use); any other is Python's
//! `str.format` with named fields (`sudo -E -u {username}`).

use std::collections::BTreeMap;

use thiserror::Error;

/// The values a template sees: strings, and `user_options` values as JSON.
pub type Vars = BTreeMap<String, serde_json::Value>;

/// Why a template could not be rendered.
#[derive(Debug, Error)]
pub enum TemplateError {
    /// A `{name}` field names no variable (Python's `KeyError`).
    #[error("template field {{{0}}} names no variable")]
    UnknownField(String),
    /// A `{` or `}` without its pair.
    #[error("unbalanced brace in template {0:?}")]
    Unbalanced(String),
    /// The Jinja2 template is invalid.
    #[error("template error: {0}")]
    Jinja(#[from] minijinja::Error),
}

/// Renders `template` as upstream's `format_template` does.
pub fn render(template: &str, vars: &Vars) -> Result<String, TemplateError> {
    if template.contains("{{") || template.contains("{%") {
        let env = minijinja::Environment::new();
        Ok(env.render_str(
            template,
            minijinja::Value::from(minijinja::value::Serde(vars)),
        )?)
    } else {
        python_format(template, vars)
    }
}

/// `str.format(**vars)` for named fields; `{{`/`}}` would be Jinja2, so a
/// lone brace is an error, as in Python. A format spec or conversion after
/// the name (`{port:d}`, `{x!r}`) is ignored.
fn python_format(template: &str, vars: &Vars) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(TemplateError::Unbalanced(template.to_owned()));
        }
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| TemplateError::Unbalanced(template.to_owned()))?;
        let field = &after[..close];
        let name = field.split([':', '!']).next().unwrap_or_default();
        let value = vars
            .get(name)
            .ok_or_else(|| TemplateError::UnknownField(name.to_owned()))?;
        match value {
            serde_json::Value::String(text) => out.push_str(text),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrohub_config::DEFAULT_SLURM_BATCH_SCRIPT;
    use serde_json::json;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect()
    }

    #[test]
    fn python_fields_are_replaced() {
        let v = vars(&[("username", "alice"), ("job_id", "12")]);
        assert_eq!(
            render("sudo -E -u {username}", &v).unwrap(),
            "sudo -E -u alice"
        );
        assert_eq!(
            render("squeue -h -j {job_id} -o '%T %B'", &v).unwrap(),
            "squeue -h -j 12 -o '%T %B'"
        );
        assert_eq!(render("", &v).unwrap(), "");
        assert!(matches!(
            render("scancel {jobid}", &v),
            Err(TemplateError::UnknownField(f)) if f == "jobid"
        ));
        assert!(matches!(
            render("x } y", &v),
            Err(TemplateError::Unbalanced(_))
        ));
    }

    #[test]
    fn upstreams_default_script_renders_only_the_options_set() {
        let mut v = vars(&[
            ("homedir", "/home/alice"),
            ("keepvars", "PATH,JUPYTERHUB_API_TOKEN"),
            ("partition", "gpu"),
            ("runtime", ""),
            ("memory", "4G"),
            ("srun", "srun"),
            ("prologue", "module load python"),
            ("epilogue", ""),
            ("cmd", "batchspawner-singleuser jupyterhub-singleuser"),
        ]);
        let script = render(DEFAULT_SLURM_BATCH_SCRIPT, &v).unwrap();
        let expected = "#!/bin/bash
#SBATCH --output=/home/alice/jupyterhub_slurmspawner_%j.log
#SBATCH --job-name=spawner-jupyterhub
#SBATCH --chdir=/home/alice
#SBATCH --export=PATH,JUPYTERHUB_API_TOKEN
#SBATCH --get-user-env=L
#SBATCH --partition=gpu
#SBATCH --mem=4G


set -euo pipefail

trap 'echo SIGTERM received' TERM
module load python
srun batchspawner-singleuser jupyterhub-singleuser
echo \"jupyterhub-singleuser ended gracefully\"
";
        assert_eq!(script, expected);
        // Without srun the command runs in the batch step itself.
        v.insert("srun".into(), json!(""));
        let script = render(DEFAULT_SLURM_BATCH_SCRIPT, &v).unwrap();
        assert!(
            script.contains("\nbatchspawner-singleuser jupyterhub-singleuser\n"),
            "{script}"
        );
    }
}
