//! Python's string formatting: the format-spec mini-language (f-strings and
//! `str.format`) and printf-style `%`.

use super::eval::dict_get;
use super::value::{Num, Value, float_repr};

/// The widest field or longest precision a format spec may ask for.
const MAX_WIDTH: usize = 10_000;

/// Formats `value` by a format spec (`>10`, `.2f`, `05d`, `,`).
pub(super) fn format_spec(value: &Value, spec: &str) -> Result<String, String> {
    if spec.is_empty() {
        return Ok(value.to_str());
    }
    let chars: Vec<char> = spec.chars().collect();
    let mut i = 0;
    let mut fill = ' ';
    let mut align = None;
    if chars.len() >= 2 && matches!(chars[1], '<' | '>' | '^' | '=') {
        fill = chars[0];
        align = Some(chars[1]);
        i = 2;
    } else if matches!(chars.first(), Some('<' | '>' | '^' | '=')) {
        align = Some(chars[0]);
        i = 1;
    }
    let mut sign = '-';
    if let Some(c @ ('+' | '-' | ' ')) = chars.get(i) {
        sign = *c;
        i += 1;
    }
    if chars.get(i) == Some(&'#') {
        i += 1;
    }
    if chars.get(i) == Some(&'0') {
        if align.is_none() {
            fill = '0';
            align = Some('=');
        }
        i += 1;
    }
    let mut width = 0usize;
    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
        width = width.saturating_mul(10).saturating_add(d as usize);
        i += 1;
    }
    let mut grouping = None;
    if let Some(c @ (',' | '_')) = chars.get(i) {
        grouping = Some(*c);
        i += 1;
    }
    let mut precision = None;
    if chars.get(i) == Some(&'.') {
        i += 1;
        let mut p = 0usize;
        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
            p = p.saturating_mul(10).saturating_add(d as usize);
            i += 1;
        }
        precision = Some(p);
    }
    if width > MAX_WIDTH || precision.is_some_and(|p| p > MAX_WIDTH) {
        return Err(format!(
            "format width or precision above {MAX_WIDTH} in '{spec}'"
        ));
    }
    let kind = chars.get(i).copied();
    if chars.len() > i + 1 {
        return Err(format!("invalid format specifier '{spec}'"));
    }
    let number = value.as_number();
    let (negative, body) = match (kind, number) {
        (None | Some('s'), _)
            if !matches!(value, Value::Int(_) | Value::Float(_)) || kind == Some('s') =>
        {
            if !matches!(value, Value::Str(_)) && kind == Some('s') {
                return Err(format!(
                    "unknown format code 's' for object of type '{}'",
                    value.type_name()
                ));
            }
            let mut s = value.to_str();
            if let Some(p) = precision {
                s = s.chars().take(p).collect();
            }
            return Ok(pad(&s, width, fill, align.unwrap_or('<')));
        }
        (None | Some('d' | 'n'), Some(Num::Int(n))) => {
            (n < 0, group(&n.unsigned_abs().to_string(), grouping))
        }
        (Some('x'), Some(Num::Int(n))) => (n < 0, format!("{:x}", n.unsigned_abs())),
        (Some('X'), Some(Num::Int(n))) => (n < 0, format!("{:X}", n.unsigned_abs())),
        (Some('o'), Some(Num::Int(n))) => (n < 0, format!("{:o}", n.unsigned_abs())),
        (Some('b'), Some(Num::Int(n))) => (n < 0, format!("{:b}", n.unsigned_abs())),
        (Some('f' | 'F'), Some(n)) => {
            let f = n.float();
            (
                f < 0.0,
                group_float(&format!("{:.*}", precision.unwrap_or(6), f.abs()), grouping),
            )
        }
        (Some('e' | 'E'), Some(n)) => {
            let f = n.float();
            let s = format!("{:.*e}", precision.unwrap_or(6), f.abs());
            let s = python_exponent(&s);
            (
                f < 0.0,
                if kind == Some('E') {
                    s.to_uppercase()
                } else {
                    s
                },
            )
        }
        (Some('%'), Some(n)) => {
            let f = n.float() * 100.0;
            (f < 0.0, format!("{:.*}%", precision.unwrap_or(6), f.abs()))
        }
        (None | Some('g' | 'G'), Some(Num::Float(f))) => match precision {
            Some(p) => (f < 0.0, general(f.abs(), p)),
            None => (f < 0.0, float_repr(f.abs())),
        },
        (Some('g' | 'G'), Some(Num::Int(n))) => (n < 0, n.unsigned_abs().to_string()),
        (Some(k), _) => {
            return Err(format!(
                "unknown format code '{k}' for object of type '{}'",
                value.type_name()
            ));
        }
        (None, _) => (false, value.to_str()),
    };
    let sign_text = match (negative, sign) {
        (true, _) => "-",
        (false, '+') => "+",
        (false, ' ') => " ",
        _ => "",
    };
    let align = align.unwrap_or('>');
    if align == '=' {
        let len = sign_text.chars().count() + body.chars().count();
        let padding: String = std::iter::repeat_n(fill, width.saturating_sub(len)).collect();
        return Ok(format!("{sign_text}{padding}{body}"));
    }
    Ok(pad(&format!("{sign_text}{body}"), width, fill, align))
}

fn general(f: f64, precision: usize) -> String {
    let p = precision.max(1);
    let s = format!("{:.*e}", p - 1, f);
    let exp: i32 = s
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let p_i = i32::try_from(p).unwrap_or(i32::MAX);
    if exp < -4 || exp >= p_i {
        let (mantissa, _) = s.split_once('e').unwrap_or((&s, ""));
        let mantissa = trim_zeros(mantissa);
        return python_exponent(&format!("{mantissa}e{exp}"));
    }
    let decimals = usize::try_from(p_i - 1 - exp).unwrap_or(0);
    trim_zeros(&format!("{f:.decimals$}"))
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s.to_owned()
    }
}

/// Rust's `1.5e3` to Python's `1.5e+03`.
fn python_exponent(s: &str) -> String {
    let Some((mantissa, exp)) = s.split_once('e') else {
        return s.to_owned();
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

fn group(digits: &str, grouping: Option<char>) -> String {
    let Some(sep) = grouping else {
        return digits.to_owned();
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

fn group_float(s: &str, grouping: Option<char>) -> String {
    match s.split_once('.') {
        Some((int, frac)) => format!("{}.{frac}", group(int, grouping)),
        None => group(s, grouping),
    }
}

fn pad(s: &str, width: usize, fill: char, align: char) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_owned();
    }
    let n = width - len;
    let fill_n = |n: usize| -> String { std::iter::repeat_n(fill, n).collect() };
    match align {
        '<' => format!("{s}{}", fill_n(n)),
        '^' => format!("{}{s}{}", fill_n(n / 2), fill_n(n - n / 2)),
        _ => format!("{}{s}", fill_n(n)),
    }
}

/// `"..." % args`: `%s`, `%r`, `%d`, `%i`, `%f`, `%x`, `%%`, `%(name)s`,
/// with flags, width and precision.
pub(super) fn percent_format(format: &str, args: &Value) -> Result<String, String> {
    let positional: Vec<Value> = match args {
        Value::Tuple(items) => items.as_ref().clone(),
        Value::Dict(_) => Vec::new(),
        other => vec![other.clone()],
    };
    let mut next = 0usize;
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut value = None;
        if chars.get(i) == Some(&'(') {
            let end = chars[i..]
                .iter()
                .position(|c| *c == ')')
                .ok_or("incomplete format key")?;
            let key: String = chars[i + 1..i + end].iter().collect();
            let Value::Dict(map) = args else {
                return Err("format requires a mapping".to_owned());
            };
            value = Some(
                dict_get(&map.borrow(), &Value::str(&key))
                    .ok_or_else(|| format!("KeyError: '{key}'"))?,
            );
            i += end + 1;
        }
        let mut spec = String::new();
        while let Some(c @ ('-' | '+' | ' ' | '0' | '#')) = chars.get(i) {
            spec.push(match c {
                '-' => '<',
                c => *c,
            });
            i += 1;
        }
        let mut width = String::new();
        while let Some(c) = chars.get(i).filter(|c| c.is_ascii_digit() || **c == '.') {
            width.push(*c);
            i += 1;
        }
        let Some(&kind) = chars.get(i) else {
            return Err("incomplete format".to_owned());
        };
        i += 1;
        if kind == '%' {
            out.push('%');
            continue;
        }
        let value = match value {
            Some(v) => v,
            None => {
                let v = positional
                    .get(next)
                    .cloned()
                    .ok_or("not enough arguments for format string")?;
                next += 1;
                v
            }
        };
        let align = if spec.contains('<') { "<" } else { "" };
        let sign = if spec.contains('+') { "+" } else { "" };
        let zero = if spec.contains('0') && align.is_empty() {
            "0"
        } else {
            ""
        };
        let text = match kind {
            's' => format_spec(&Value::str(&value.to_str()), &format!("{align}{width}"))?,
            'r' => format_spec(&Value::str(&value.repr()), &format!("{align}{width}"))?,
            'd' | 'i' | 'u' => {
                let n = match value.as_number() {
                    Some(Num::Int(n)) => Value::Int(n),
                    Some(Num::Float(f)) => Value::Int(truncate(f)?),
                    None => {
                        return Err(format!(
                            "%{kind} format: a real number is required, not {}",
                            value.type_name()
                        ));
                    }
                };
                let width = width.split('.').next().unwrap_or("");
                format_spec(&n, &format!("{align}{sign}{zero}{width}d"))?
            }
            'f' | 'F' | 'e' | 'E' | 'g' | 'G' | 'x' | 'X' | 'o' => {
                if value.as_number().is_none() {
                    return Err(format!(
                        "%{kind} format: a real number is required, not {}",
                        value.type_name()
                    ));
                }
                format_spec(&value, &format!("{align}{sign}{zero}{width}{kind}"))?
            }
            other => return Err(format!("unsupported format character '{other}'")),
        };
        out.push_str(&text);
    }
    if !matches!(args, Value::Dict(_)) && next < positional.len() {
        return Err("not all arguments converted during string formatting".to_owned());
    }
    Ok(out)
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "checked to be in range first; Python's int() truncates the same way"
)]
fn truncate(f: f64) -> Result<i64, String> {
    #[allow(clippy::cast_precision_loss, reason = "bounds of the range check")]
    let (low, high) = (i64::MIN as f64, i64::MAX as f64);
    if f.is_finite() && f >= low && f < high {
        Ok(f.trunc() as i64)
    } else {
        Err("cannot convert float to integer".to_owned())
    }
}

/// Python's `int(float)`.
pub(super) fn float_to_int(f: f64) -> Result<i64, String> {
    truncate(f)
}

/// `"...".format(*args, **kwargs)`.
pub(super) fn method_format(
    format: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> Result<String, String> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut auto = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' && chars.get(i + 1) == Some(&'{') {
            out.push('{');
            i += 2;
            continue;
        }
        if c == '}' && chars.get(i + 1) == Some(&'}') {
            out.push('}');
            i += 2;
            continue;
        }
        if c == '}' {
            return Err("Single '}' encountered in format string".to_owned());
        }
        if c != '{' {
            out.push(c);
            i += 1;
            continue;
        }
        let end = chars[i..]
            .iter()
            .position(|c| *c == '}')
            .ok_or("Single '{' encountered in format string")?;
        let field: String = chars[i + 1..i + end].iter().collect();
        i += end + 1;
        let (field, spec) = field.split_once(':').unwrap_or((field.as_str(), ""));
        let (field, conversion) = match field.split_once('!') {
            Some((f, c)) => (f, c.chars().next()),
            None => (field, None),
        };
        // `name[key]` or `0[1]`: one level of indexing.
        let (name, key) = match field.split_once('[') {
            Some((n, k)) => (n, Some(k.trim_end_matches(']'))),
            None => (field, None),
        };
        let mut value = if name.is_empty() {
            let v = args
                .get(auto)
                .cloned()
                .ok_or("Replacement index out of range for positional args tuple")?;
            auto += 1;
            v
        } else if let Ok(n) = name.parse::<usize>() {
            args.get(n)
                .cloned()
                .ok_or("Replacement index out of range for positional args tuple")?
        } else {
            kwargs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("KeyError: '{name}'"))?
        };
        if let Some(key) = key {
            value = match &value {
                Value::Dict(map) => dict_get(&map.borrow(), &Value::str(key))
                    .ok_or_else(|| format!("KeyError: '{key}'"))?,
                Value::List(_) | Value::Tuple(_) => {
                    let items = value.items().unwrap_or_default();
                    key.parse::<usize>()
                        .ok()
                        .and_then(|k| items.get(k).cloned())
                        .ok_or("IndexError: index out of range")?
                }
                other => {
                    return Err(format!(
                        "'{}' object is not subscriptable",
                        other.type_name()
                    ));
                }
            };
        }
        let value = match conversion {
            Some('r') => Value::str(&value.repr()),
            Some('s') => Value::str(&value.to_str()),
            _ => value,
        };
        out.push_str(&format_spec(&value, spec)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_specs_match_python() {
        assert_eq!(format_spec(&Value::Int(42), "05d").unwrap(), "00042");
        assert_eq!(format_spec(&Value::Int(-42), ">6").unwrap(), "   -42");
        assert_eq!(format_spec(&Value::Float(1.23456), ".2f").unwrap(), "1.23");
        assert_eq!(format_spec(&Value::str("ab"), "*^6").unwrap(), "**ab**");
        assert_eq!(format_spec(&Value::Int(1234567), ",").unwrap(), "1,234,567");
        assert_eq!(format_spec(&Value::Int(255), "x").unwrap(), "ff");
        assert_eq!(format_spec(&Value::Float(0.25), ".0%").unwrap(), "25%");
        assert_eq!(format_spec(&Value::str("x"), "<3").unwrap(), "x  ");
    }

    #[test]
    fn percent_and_method_formatting() {
        let args = Value::Tuple(std::rc::Rc::new(vec![Value::str("a"), Value::Int(5)]));
        assert_eq!(percent_format("%s-%03d%%", &args).unwrap(), "a-005%");
        assert_eq!(percent_format("%r", &Value::str("q")).unwrap(), "'q'");
        let map = Value::dict(vec![(Value::str("n"), Value::Int(2))]);
        assert_eq!(percent_format("%(n)s!", &map).unwrap(), "2!");
        assert!(percent_format("%s %s", &Value::str("x")).is_err());
        assert_eq!(
            method_format(
                "{0} {0} {name!r} {d[k]}",
                &[Value::str("a")],
                &[
                    ("name".to_owned(), Value::str("n")),
                    (
                        "d".to_owned(),
                        Value::dict(vec![(Value::str("k"), Value::Int(1))])
                    )
                ]
            )
            .unwrap(),
            "a a 'n' 1"
        );
    }
}
