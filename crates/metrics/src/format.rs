//! The details of the text format as Python's `prometheus_client` writes it:
//! label names sorted, values escaped, floats in Go's style.

/// `{a="1",b="2"}` with names sorted (and `le` among them), or `""` without labels.
pub(crate) fn label_set<V: AsRef<str>>(names: &[&str], values: &[V], le: Option<&str>) -> String {
    let mut pairs: Vec<(&str, &str)> = names
        .iter()
        .copied()
        .zip(values.iter().map(AsRef::as_ref))
        .collect();
    if let Some(le) = le {
        pairs.push(("le", le));
    }
    if pairs.is_empty() {
        return String::new();
    }
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let inner: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape_value(value)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

/// `# HELP` text: backslashes and newlines escaped.
pub(crate) fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` on whole numbers,
/// exponent below 1e-4 and from 1e16.
fn python_repr(value: f64) -> String {
    let magnitude = value.abs();
    if value != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        let text = format!("{value:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    if value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// `prometheus_client`'s `floatToGoString`: `+Inf`/`-Inf`/`NaN`, and positive
/// numbers with more than six integer digits in exponent form (`1.7e+09`).
pub(crate) fn float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let text = python_repr(value);
    match text.find('.') {
        Some(dot) if value > 0.0 && dot > 6 && !text.contains('e') => {
            let digits = format!("{}{}", &text[1..dot], &text[dot + 1..]);
            let mantissa = format!("{}.{digits}", &text[..1]);
            let mantissa = mantissa.trim_end_matches(['0', '.']);
            format!("{mantissa}e+0{}", dot - 1)
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings from `prometheus_client.utils.floatToGoString` (0.26).
    #[test]
    fn floats_as_prometheus_client_writes_them() {
        for (value, expected) in [
            (0.0, "0.0"),
            (1.0, "1.0"),
            (0.7, "0.7"),
            (0.005, "0.005"),
            (2.5, "2.5"),
            (10.0, "10.0"),
            (600.0, "600.0"),
            (1_795_372_696.088_864_3, "1.7953726960888643e+09"),
            (1_234_567.0, "1.234567e+06"),
            (123_456.5, "123456.5"),
            (0.000_01, "1e-05"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(float(value), expected, "{value}");
        }
    }

    #[test]
    fn labels_sorted_with_le_and_escaped() {
        let names = ["method", "handler", "code"];
        let values = ["GET".to_owned(), "a\"b".to_owned(), "200".to_owned()];
        assert_eq!(
            label_set(&names, &values, Some("0.5")),
            r#"{code="200",handler="a\"b",le="0.5",method="GET"}"#
        );
        assert_eq!(label_set::<&str>(&[], &[], None), "");
    }
}
