//! Python values of the subset. Lists, dicts and sets are shared and mutable
//! (`Rc<RefCell<..>>`), as Python's are: `x = []; c.A.b = x; x.append(1)`
//! leaves `c.A.b == [1]`.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

/// A shared, mutable sequence (list or set).
pub(super) type Seq = Rc<RefCell<Vec<Value>>>;
/// A shared, mutable dict, in insertion order.
pub(super) type Map = Rc<RefCell<Vec<(Value, Value)>>>;

/// A value.
#[derive(Debug, Clone)]
pub(super) enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    List(Seq),
    Tuple(Rc<Vec<Value>>),
    /// Insertion-ordered, without duplicates.
    Set(Seq),
    Dict(Map),
    /// The configuration object `c`.
    Config,
    /// `c.Class`.
    Section(Rc<str>),
    /// `c.Class.trait` read before it was set: traitlets' `LazyConfigValue`,
    /// which records `append`/`extend`/`update`/... for the default.
    Lazy(Rc<RefCell<Lazy>>),
    /// A module: `os`, `os.path`, `sys`, or any other (only its names are
    /// known; see `ClassRef`).
    Module(Rc<str>),
    /// `os.environ`.
    Environ,
    /// A built-in function or a module function, by name (`len`, `os.getenv`).
    Builtin(&'static str),
    /// A method bound to its object: `"a".join`, `x.append`.
    Method(Box<Value>, Rc<str>),
    /// A name imported from a module other than `os`/`sys`, by its dotted
    /// name: usable only as a class reference (`authenticator_class`).
    ClassRef(Rc<str>),
    /// A `def` or `lambda` of the file, with the line it was written on.
    Function(Rc<str>, usize),
    /// A `class` statement of the file, with its line.
    UserClass(Rc<str>, usize),
}

/// What was done to a configuration value before it was set (traitlets'
/// `LazyConfigValue`); applied to ferrohub's default when the file is read.
#[derive(Debug, Default)]
pub(super) struct Lazy {
    pub(super) extend: Vec<Value>,
    pub(super) prepend: Vec<Value>,
    pub(super) inserts: Vec<(i64, Value)>,
    /// `update` or `add` (set) or item assignment (dict), in order.
    pub(super) update_items: Vec<(Value, Value)>,
    pub(super) set_items: Vec<Value>,
    /// The line of the last change, 0 for none.
    pub(super) line: usize,
}

impl Lazy {
    /// Whether anything was recorded.
    pub(super) fn is_empty(&self) -> bool {
        self.extend.is_empty()
            && self.prepend.is_empty()
            && self.inserts.is_empty()
            && self.update_items.is_empty()
            && self.set_items.is_empty()
    }
}

impl Value {
    pub(super) fn str(s: &str) -> Self {
        Self::Str(Rc::from(s))
    }

    pub(super) fn list(items: Vec<Value>) -> Self {
        Self::List(Rc::new(RefCell::new(items)))
    }

    pub(super) fn dict(items: Vec<(Value, Value)>) -> Self {
        Self::Dict(Rc::new(RefCell::new(items)))
    }

    pub(super) fn set(items: Vec<Value>) -> Self {
        let mut out: Vec<Value> = Vec::new();
        for item in items {
            if !out.iter().any(|o| o.py_eq(&item)) {
                out.push(item);
            }
        }
        Self::Set(Rc::new(RefCell::new(out)))
    }

    /// Python's type name, for error messages.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Self::None => "NoneType",
            Self::Bool(_) => "bool",
            Self::Int(_) => "int",
            Self::Float(_) => "float",
            Self::Str(_) => "str",
            Self::List(_) => "list",
            Self::Tuple(_) => "tuple",
            Self::Set(_) => "set",
            Self::Dict(_) => "dict",
            Self::Config | Self::Section(_) => "Config",
            Self::Lazy(_) => "LazyConfigValue",
            Self::Module(_) | Self::Environ => "module",
            Self::Builtin(_) | Self::Method(..) => "builtin_function_or_method",
            Self::ClassRef(_) | Self::UserClass(..) => "type",
            Self::Function(..) => "function",
        }
    }

    /// Python's truth value; `None` when it cannot be known here.
    pub(super) fn truthy(&self) -> Option<bool> {
        Some(match self {
            Self::None => false,
            Self::Bool(b) => *b,
            Self::Int(i) => *i != 0,
            Self::Float(f) => *f != 0.0,
            Self::Str(s) => !s.is_empty(),
            Self::List(v) | Self::Set(v) => !v.borrow().is_empty(),
            Self::Tuple(v) => !v.is_empty(),
            Self::Dict(d) => !d.borrow().is_empty(),
            Self::Lazy(_) | Self::ClassRef(_) => return None,
            // Another module's attributes are unknown here.
            Self::Module(name) if !["os", "os.path", "sys"].contains(&name.as_ref()) => {
                return None;
            }
            _ => true,
        })
    }

    /// Python's `==`.
    pub(super) fn py_eq(&self, other: &Value) -> bool {
        match (self, other) {
            // The same object (also ends the comparison of a list holding itself).
            (Self::List(a), Self::List(b)) | (Self::Set(a), Self::Set(b)) if Rc::ptr_eq(a, b) => {
                true
            }
            (Self::Dict(a), Self::Dict(b)) if Rc::ptr_eq(a, b) => true,
            (Self::None, Self::None)
            | (Self::Config, Self::Config)
            | (Self::Environ, Self::Environ) => true,
            (a, b) if a.as_number().is_some() && b.as_number().is_some() => {
                match (a.as_number(), b.as_number()) {
                    (Some(Num::Int(x)), Some(Num::Int(y))) => x == y,
                    (Some(x), Some(y)) => x.float() == y.float(),
                    _ => false,
                }
            }
            (Self::Str(a), Self::Str(b)) => a == b,
            (Self::List(a), Self::List(b)) => seq_eq(&a.borrow(), &b.borrow()),
            (Self::Tuple(a), Self::Tuple(b)) => seq_eq(a, b),
            (Self::Set(a), Self::Set(b)) => {
                let (a, b) = (a.borrow(), b.borrow());
                a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| x.py_eq(y)))
            }
            (Self::Dict(a), Self::Dict(b)) => {
                let (a, b) = (a.borrow(), b.borrow());
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.iter().any(|(k2, v2)| k.py_eq(k2) && v.py_eq(v2)))
            }
            (Self::Section(a), Self::Section(b))
            | (Self::Module(a), Self::Module(b))
            | (Self::ClassRef(a), Self::ClassRef(b)) => a == b,
            (Self::Builtin(a), Self::Builtin(b)) => a == b,
            (Self::Function(a, l), Self::Function(b, m))
            | (Self::UserClass(a, l), Self::UserClass(b, m)) => a == b && l == m,
            (Self::Lazy(a), Self::Lazy(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// The value as a number (`bool` counts, as in Python).
    pub(super) fn as_number(&self) -> Option<Num> {
        match self {
            Self::Bool(b) => Some(Num::Int(i64::from(*b))),
            Self::Int(i) => Some(Num::Int(*i)),
            Self::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    /// Python's `str()`.
    pub(super) fn to_str(&self) -> String {
        match self {
            Self::Str(s) => s.to_string(),
            other => other.repr(),
        }
    }

    /// Python's `repr()`.
    pub(super) fn repr(&self) -> String {
        self.repr_at(0)
    }

    /// `repr()` of a value `depth` containers deep: a list holding itself
    /// shows `[...]` there, as Python's does.
    fn repr_at(&self, depth: usize) -> String {
        if depth > 50 && matches!(self, Self::List(_) | Self::Dict(_) | Self::Set(_)) {
            return "[...]".to_owned();
        }
        let join_repr = |items: &[Value]| -> String {
            items
                .iter()
                .map(|v| v.repr_at(depth + 1))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Self::None => "None".to_owned(),
            Self::Bool(true) => "True".to_owned(),
            Self::Bool(false) => "False".to_owned(),
            Self::Int(i) => i.to_string(),
            Self::Float(f) => float_repr(*f),
            Self::Str(s) => str_repr(s),
            Self::List(v) => format!("[{}]", join_repr(&v.borrow())),
            Self::Tuple(v) if v.len() == 1 => format!("({},)", v[0].repr_at(depth + 1)),
            Self::Tuple(v) => format!("({})", join_repr(v)),
            Self::Set(v) if v.borrow().is_empty() => "set()".to_owned(),
            Self::Set(v) => format!("{{{}}}", join_repr(&v.borrow())),
            Self::Dict(d) => {
                let items: Vec<String> = d
                    .borrow()
                    .iter()
                    .map(|(k, v)| format!("{}: {}", k.repr_at(depth + 1), v.repr_at(depth + 1)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            Self::Config => "<Config c>".to_owned(),
            Self::Section(name) => format!("<Config c.{name}>"),
            Self::Lazy(_) => "<LazyConfigValue>".to_owned(),
            Self::Module(name) => format!("<module '{name}'>"),
            Self::Environ => "environ({...})".to_owned(),
            Self::Builtin(name) => format!("<built-in function {name}>"),
            Self::Method(_, name) => format!("<built-in method {name}>"),
            Self::ClassRef(name) => format!("<class '{name}'>"),
            Self::Function(name, _) => format!("<function {name}>"),
            Self::UserClass(name, _) => format!("<class '__main__.{name}'>"),
        }
    }

    /// Items of an iterable value, `None` if it is not one here.
    pub(super) fn items(&self) -> Option<Vec<Value>> {
        Some(match self {
            Self::List(v) | Self::Set(v) => v.borrow().clone(),
            Self::Tuple(v) => v.as_ref().clone(),
            Self::Dict(d) => d.borrow().iter().map(|(k, _)| k.clone()).collect(),
            Self::Str(s) => s.chars().map(|c| Value::str(&c.to_string())).collect(),
            _ => return None,
        })
    }
}

/// A number, for arithmetic.
#[derive(Debug, Clone, Copy)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    #[allow(
        clippy::cast_precision_loss,
        reason = "Python converts int to float the same way"
    )]
    pub(super) fn float(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }
}

fn seq_eq(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y))
}

/// Python's repr of a float: always with a decimal point or exponent.
pub(super) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let s = format!("{f:?}");
    if let Some((mantissa, exp)) = s.split_once('e') {
        let sign = if exp.starts_with('-') { "-" } else { "+" };
        let digits = exp.trim_start_matches('-');
        let digits = if digits.len() < 2 {
            format!("0{digits}")
        } else {
            digits.to_owned()
        };
        return format!("{mantissa}e{sign}{digits}");
    }
    s
}

/// Python's repr of a str: single quotes unless the text has one and no double.
pub(super) fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_match_python() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(1e20), "1e+20");
        assert_eq!(float_repr(0.5), "0.5");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("a\nb"), "'a\\nb'");
        let v = Value::list(vec![Value::Int(1), Value::str("x"), Value::None]);
        assert_eq!(v.repr(), "[1, 'x', None]");
        assert_eq!(Value::Tuple(Rc::new(vec![Value::Int(1)])).repr(), "(1,)");
    }

    #[test]
    fn equality_crosses_numeric_types() {
        assert!(Value::Int(1).py_eq(&Value::Float(1.0)));
        assert!(Value::Bool(true).py_eq(&Value::Int(1)));
        assert!(!Value::str("1").py_eq(&Value::Int(1)));
        assert_eq!(
            Value::set(vec![Value::Int(1), Value::Int(1)])
                .items()
                .unwrap()
                .len(),
            1
        );
    }
}
