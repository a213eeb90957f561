//! Container names and templates as dockerspawner writes them: user and
//! server names escaped for Docker (escapism with `-` as the escape
//! character, lower-cased), and Python `str.format` fields filled from
//! upstream's template namespace.

/// Escapes `text` as dockerspawner's default `escape`: every character that
/// is not a lower-case ASCII letter or digit becomes `-` and the hex of each
/// of its UTF-8 bytes, lower-cased (`Alice.b` → `-41lice-2eb`), so distinct
/// names stay distinct and every result is a valid DNS label fragment.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else {
            let mut buf = [0_u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push('-');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }
    out
}

/// The fields a template may use (upstream's `template_namespace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    fields: Vec<(&'static str, String)>,
}

impl Namespace {
    /// The namespace for one server: `username`/`safe_username` (escaped),
    /// `raw_username`, `servername` (escaped, lower-cased), `raw_servername`,
    /// `imagename` (`/` and `:` as `-`) and `prefix`.
    #[must_use]
    pub fn new(username: &str, server_name: &str, image: &str, prefix: &str) -> Self {
        let escaped = escape(username);
        Self {
            fields: vec![
                ("username", escaped.clone()),
                ("safe_username", escaped),
                ("raw_username", username.to_owned()),
                ("imagename", image.replace(['/', ':'], "-")),
                ("servername", escape(&server_name.to_lowercase())),
                ("raw_servername", server_name.to_owned()),
                ("prefix", prefix.to_owned()),
            ],
        }
    }

    /// `template` with its `{field}`s filled in and `{{`/`}}` unescaped, as
    /// Python's `str.format`; `None` if it names an unknown field or is not
    /// a valid format string (format specs and conversions are not).
    #[must_use]
    pub fn render(&self, template: &str) -> Option<String> {
        let mut out = String::with_capacity(template.len());
        let mut chars = template.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    out.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    out.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next()? {
                            '}' => break,
                            c => name.push(c),
                        }
                    }
                    let (_, value) = self.fields.iter().find(|(key, _)| *key == name)?;
                    out.push_str(value);
                }
                '}' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    }

    /// Upstream's `_render_templates` for a string: a template that cannot be
    /// rendered is left as it is (so text with braces passes through).
    #[must_use]
    pub fn render_or_keep(&self, template: &str) -> String {
        self.render(template).unwrap_or_else(|| template.to_owned())
    }
}

/// Upstream's default `name_template`: with `{servername}` for a named server.
#[must_use]
pub fn default_name_template(server_name: &str) -> &'static str {
    if server_name.is_empty() {
        "{prefix}-{username}"
    } else {
        "{prefix}-{username}--{servername}"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_keeps_lower_case_letters_and_digits_only() {
        assert_eq!(escape("alice42"), "alice42");
        assert_eq!(escape("Alice.b"), "-41lice-2eb");
        assert_eq!(escape("a-b"), "a-2db");
        assert_eq!(escape("é"), "-c3-a9");
    }

    #[test]
    fn names_follow_upstreams_default_templates() {
        let ns = Namespace::new("alice", "", "img:1", "jupyter");
        assert_eq!(
            ns.render(default_name_template("")).unwrap(),
            "jupyter-alice"
        );
        let named = Namespace::new("Bob", "GPU box", "img:1", "jupyter");
        assert_eq!(
            named.render(default_name_template("GPU box")).unwrap(),
            "jupyter--42ob--gpu-20box"
        );
    }

    #[test]
    fn every_namespace_field_renders() {
        let ns = Namespace::new("Al", "Lab", "quay.io/jupyter/base:2024", "p");
        assert_eq!(
            ns.render("{username}|{safe_username}|{raw_username}|{servername}|{raw_servername}|{imagename}|{prefix}")
                .unwrap(),
            "-41l|-41l|Al|lab|Lab|quay.io-jupyter-base-2024|p"
        );
    }

    #[test]
    fn invalid_templates_are_kept_as_python_leaves_them() {
        let ns = Namespace::new("alice", "", "i", "p");
        assert_eq!(
            ns.render("{{literal}} {username}").unwrap(),
            "{literal} alice"
        );
        assert_eq!(ns.render("{nope}"), None);
        assert_eq!(ns.render("{username"), None);
        assert_eq!(ns.render("a}b"), None);
        assert_eq!(ns.render_or_keep("json {\"a\": 1}"), "json {\"a\": 1}");
    }
}
