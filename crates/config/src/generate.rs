//! `ferrohub --generate-config`: a TOML file listing every option with its default
//! and help, all commented out, so that it loads to the defaults both as written
//! and with every option line uncommented.

use std::fmt::Write as _;

use crate::Config;
use crate::help::help;
use crate::schema::CLASSES;

const HEADER: &str = "\
## ferrohub configuration file, written by `ferrohub --generate-config`.
##
## Sections and options carry upstream JupyterHub's class and trait names:
## `[Spawner] cmd` here is `c.Spawner.cmd` in a jupyterhub_config.py.
## Every option is commented out and shows its default; remove the leading \"# \"
## of a line to change it. Lines starting with \"##\" are help.
## Any option can also be set on the command line as --Class.option=value,
## which wins over this file. Relative paths (db_url, cookie_secret_file,
## pid_file) resolve from the working directory the hub is started in.
";

/// A commented TOML file with every section and option, its default and one line
/// of help; it loads to exactly [`Config::default()`].
pub fn generate_config() -> String {
    let defaults = toml::Table::try_from(Config::default())
        .expect("the configuration structs serialize to TOML (tested)");
    let mut out = String::from(HEADER);
    for class in CLASSES {
        let values = defaults.get(class.name).and_then(toml::Value::as_table);
        let _ = write!(out, "\n[{}]\n", class.name);
        for option in (class.options)() {
            let help = help(class.name, option).unwrap_or("(no help yet)");
            let _ = write!(out, "\n## {help}\n");
            let _ = match values.and_then(|v| v.get(*option)) {
                Some(value) => writeln!(out, "# {option} = {}", one_line(value)),
                None => writeln!(out, "## {option} is unset by default."),
            };
        }
    }
    out
}

/// A value on one line: TOML writes a string with line breaks as a
/// multi-line string, which one commented-out line cannot hold (a default
/// job script), so such a string becomes a basic string with escapes.
fn one_line(value: &toml::Value) -> String {
    let toml::Value::String(text) = value else {
        return value.to_string();
    };
    if !text.contains(['\n', '\r']) {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_option_of_every_class_with_its_default() {
        let text = generate_config();
        for class in CLASSES {
            assert!(text.contains(&format!("\n[{}]\n", class.name)));
            for option in (class.options)() {
                assert!(
                    text.contains(&format!("\n# {option} = "))
                        || text.contains(&format!("\n## {option} is unset by default.")),
                    "{}.{option} missing",
                    class.name
                );
            }
        }
        assert!(text.contains("\n# cmd = [\"jupyterhub-singleuser\"]\n"));
        assert!(text.contains("\n# bind_url = \"http://:8000\"\n"));
        assert!(text.contains("\n# hub_port = 8081\n"));
        assert!(!text.contains("(no help yet)"));
    }
}
