//! The `{name}` templates of ldapauthenticator's options (`bind_dn_template`,
//! `lookup_dn_search_filter`, `search_filter`, `group_search_filter`), which
//! upstream fills with Python's `str.format`, and the escaping of the values
//! put into them.
//!
//! Invariant: a value from a user (a login name, or anything the directory
//! returned for it) is put into a DN only through [`dn_value`] (RFC 4514) and
//! into a filter only through [`filter_value`] (RFC 4515), so it stays one
//! attribute value and can never add an RDN, a filter clause or a wildcard.

use std::borrow::Cow;

use thiserror::Error;

/// Why a template cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// `{name}` for a name the option does not offer.
    #[error("unknown field {{{0}}} (offered: {1})")]
    UnknownField(String, String),
    /// A `{` or `}` that neither opens/closes a field nor is doubled.
    #[error("unbalanced brace at byte {0} (write {{{{ or }}}} for a literal brace)")]
    Unbalanced(usize),
    /// `{name!r}` or `{name:spec}`: Python conversions and format specs are
    /// not supported.
    #[error("field {{{0}}} has a conversion or format spec, which is not supported")]
    Spec(String),
}

/// A parsed template: literal text and named fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(String),
}

impl Template {
    /// Parses `text` as Python's `str.format` does for named fields
    /// (`{{` and `}}` are literal braces); every field must be in `offered`.
    pub(crate) fn parse(text: &str, offered: &[&str]) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::Unbalanced(at)),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((inner, '{')) => {
                                return Err(TemplateError::Unbalanced(inner));
                            }
                            Some((_, c)) => name.push(c),
                            None => return Err(TemplateError::Unbalanced(at)),
                        }
                    }
                    if name.contains(['!', ':']) {
                        return Err(TemplateError::Spec(name));
                    }
                    if !offered.contains(&name.as_str()) {
                        let offered = offered
                            .iter()
                            .map(|o| format!("{{{o}}}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        return Err(TemplateError::UnknownField(name, offered));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(name));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Self { parts })
    }

    /// Whether the template has the field `name`.
    pub(crate) fn uses(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Field(field) if field == name))
    }

    /// The text with each field replaced by its value in `values` (already
    /// escaped by the caller for where the template is used). A field
    /// missing from `values` is replaced by nothing; [`Template::parse`]
    /// makes sure only offered names occur.
    pub(crate) fn fill(&self, values: &[(&str, &str)]) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(name) => {
                    if let Some((_, value)) = values.iter().find(|(n, _)| n == name) {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }
}

/// A value for an attribute value of a DN (RFC 4514 section 2.4): `"+,;<=>\`
/// and NUL always, a leading space or `#` and a trailing space, as
/// `\XX` hex pairs (upstream's `escape_rdn`).
pub(crate) fn dn_value(value: &str) -> Cow<'_, str> {
    ldap3::dn_escape(value)
}

/// A value for an assertion value of a filter (RFC 4515 section 3): `*()\`
/// and NUL as `\XX` hex pairs (upstream's `escape_filter_chars`).
pub(crate) fn filter_value(value: &str) -> Cow<'_, str> {
    ldap3::ldap_escape(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(template: &str, values: &[(&str, &str)]) -> String {
        let names: Vec<_> = values.iter().map(|(n, _)| *n).collect();
        Template::parse(template, &names).unwrap().fill(values)
    }

    #[test]
    fn named_fields_and_doubled_braces_work_as_python_format() {
        assert_eq!(
            fill("uid={username},ou=people", &[("username", "alice")]),
            "uid=alice,ou=people"
        );
        assert_eq!(
            fill(
                "({login_attr}={login})",
                &[("login_attr", "uid"), ("login", "bob")]
            ),
            "(uid=bob)"
        );
        assert_eq!(fill("{{x}}={u}{u}", &[("u", "1")]), "{x}=11");
        assert_eq!(fill("no fields", &[("u", "1")]), "no fields");
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        let parse = |t| Template::parse(t, &["username"]);
        assert!(matches!(
            parse("uid={user}"),
            Err(TemplateError::UnknownField(name, _)) if name == "user"
        ));
        assert!(matches!(
            parse("uid={username"),
            Err(TemplateError::Unbalanced(_))
        ));
        assert!(matches!(
            parse("uid=}{username}"),
            Err(TemplateError::Unbalanced(4))
        ));
        assert!(matches!(
            parse("uid={username!r}"),
            Err(TemplateError::Spec(_))
        ));
        assert!(matches!(parse("{}"), Err(TemplateError::UnknownField(..))));
        let message = parse("{x}").unwrap_err().to_string();
        assert_eq!(message, "unknown field {x} (offered: {username})");
    }

    #[test]
    fn dn_values_cannot_add_rdns_or_break_out() {
        assert_eq!(dn_value("alice"), "alice");
        // Every RFC 4514 special becomes a hex pair, so the value stays one
        // attribute value of the first RDN.
        assert_eq!(dn_value("a,b"), "a\\2cb");
        assert_eq!(dn_value("a+cn=x"), "a\\2bcn\\3dx");
        assert_eq!(dn_value("a\\2cb"), "a\\5c2cb");
        assert_eq!(dn_value("\"q\";<>"), "\\22q\\22\\3b\\3c\\3e");
        assert_eq!(dn_value("#x "), "\\23x\\20");
        assert_eq!(dn_value(" x"), "\\20x");
        assert_eq!(dn_value("nul\0"), "nul\\00");
        // `*` and parentheses mean nothing in a DN and stay.
        assert_eq!(dn_value("a*)(b"), "a*)(b");
        let dn = fill(
            "uid={username},ou=people,dc=example,dc=org",
            &[("username", &dn_value("x,ou=admins"))],
        );
        assert_eq!(dn, "uid=x\\2cou\\3dadmins,ou=people,dc=example,dc=org");
    }

    #[test]
    fn filter_values_cannot_add_clauses_or_wildcards() {
        assert_eq!(filter_value("alice"), "alice");
        assert_eq!(filter_value("*"), "\\2a");
        assert_eq!(filter_value("alice)(uid=*"), "alice\\29\\28uid=\\2a");
        assert_eq!(filter_value("a\\b"), "a\\5cb");
        assert_eq!(filter_value("nul\0"), "nul\\00");
        // A comma is not special in a filter.
        assert_eq!(filter_value("a,b"), "a,b");
        let filter = fill(
            "({login_attr}={login})",
            &[
                ("login_attr", "uid"),
                ("login", &filter_value("*)(|(uid=*")),
            ],
        );
        assert_eq!(filter, "(uid=\\2a\\29\\28|\\28uid=\\2a)");
        // ldap3's own parser sees one equality match with the literal value.
        assert!(ldap3::parse_filter(&filter).is_ok());
    }
}
