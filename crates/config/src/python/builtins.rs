//! Built-in functions, `os`/`os.path` functions and the methods of str, list,
//! dict, set and traitlets' lazy values.

use std::rc::Rc;

use super::PyError;
use super::eval::{Interp, abspath, dict_get, dict_set, normpath};
use super::format::{float_to_int, method_format};
use super::value::{Num, Value};

type R<T> = Result<T, PyError>;

fn arg<'a>(it: &Interp<'_>, args: &'a [Value], i: usize, function: &str) -> R<&'a Value> {
    args.get(i)
        .ok_or_else(|| it.error(format!("{function}() is missing an argument")))
}

fn string<'a>(it: &Interp<'_>, value: &'a Value, function: &str) -> R<&'a str> {
    match value {
        Value::Str(s) => Ok(s),
        other => Err(it.error(format!(
            "{function}() expects a str, not {}",
            other.type_name()
        ))),
    }
}

fn kwarg<'a>(kwargs: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn no_kwargs(it: &Interp<'_>, kwargs: &[(String, Value)], function: &str) -> R<()> {
    match kwargs.first() {
        Some((k, _)) => Err(it.error(format!(
            "{function}() got an unexpected keyword argument '{k}'"
        ))),
        None => Ok(()),
    }
}

/// Calls a built-in function by name.
pub(super) fn call(
    it: &mut Interp<'_>,
    name: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> R<Value> {
    if !matches!(
        name,
        "sorted" | "print" | "max" | "min" | "dict" | "enumerate"
    ) {
        no_kwargs(it, kwargs, name)?;
    }
    let one = |it: &Interp<'_>| -> R<Value> { arg(it, args, 0, name).cloned() };
    Ok(match name {
        "get_config" => Value::Config,
        "len" => {
            let v = one(it)?;
            let n = match &v {
                Value::Str(s) => s.chars().count(),
                other => it.items_of(other)?.len(),
            };
            Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
        }
        "str" => match args.first() {
            None => Value::str(""),
            Some(v) => Value::str(&v.to_str()),
        },
        "repr" => Value::str(&one(it)?.repr()),
        "int" => match args.first() {
            None => Value::Int(0),
            Some(Value::Str(s)) => {
                let base = match args.get(1) {
                    Some(Value::Int(b)) => u32::try_from(*b).unwrap_or(10),
                    _ => 10,
                };
                if !(2..=36).contains(&base) {
                    return Err(it.error("ValueError: int() base must be >= 2 and <= 36"));
                }
                let t = s.trim().replace('_', "");
                Value::Int(i64::from_str_radix(&t, base).map_err(|_| {
                    it.error(format!(
                        "ValueError: invalid literal for int() with base {base}: {}",
                        Value::str(s).repr()
                    ))
                })?)
            }
            Some(v) => match v.as_number() {
                Some(Num::Int(i)) => Value::Int(i),
                Some(Num::Float(f)) => Value::Int(float_to_int(f).map_err(|e| it.error(e))?),
                None => {
                    return Err(it.error(format!(
                        "int() argument must be a string or a number, not '{}'",
                        v.type_name()
                    )));
                }
            },
        },
        "float" => match args.first() {
            None => Value::Float(0.0),
            Some(Value::Str(s)) => {
                let t = s.trim().to_ascii_lowercase();
                Value::Float(match t.as_str() {
                    "inf" | "+inf" | "infinity" => f64::INFINITY,
                    "-inf" | "-infinity" => f64::NEG_INFINITY,
                    "nan" => f64::NAN,
                    _ => t.parse().map_err(|_| {
                        it.error(format!(
                            "ValueError: could not convert string to float: {}",
                            Value::str(s).repr()
                        ))
                    })?,
                })
            }
            Some(v) => Value::Float(
                v.as_number()
                    .ok_or_else(|| {
                        it.error(format!(
                            "float() argument must be a string or a number, not '{}'",
                            v.type_name()
                        ))
                    })?
                    .float(),
            ),
        },
        "bool" => match args.first() {
            None => Value::Bool(false),
            Some(v) => Value::Bool(
                v.truthy()
                    .ok_or_else(|| it.error("cannot evaluate the truth of this value"))?,
            ),
        },
        "list" | "tuple" | "set" => {
            let items = match args.first() {
                None => Vec::new(),
                Some(v) => it.items_of(v)?,
            };
            match name {
                "list" => Value::list(items),
                "tuple" => Value::Tuple(Rc::new(items)),
                _ => Value::set(items),
            }
        }
        "dict" => {
            let mut map = Vec::new();
            if let Some(first) = args.first() {
                match first {
                    Value::Dict(d) => map = d.borrow().clone(),
                    other => {
                        for pair in it.items_of(other)? {
                            let kv = it.items_of(&pair)?;
                            let [k, v] = <[Value; 2]>::try_from(kv)
                                .map_err(|_| it.error("dict() needs pairs of key and value"))?;
                            dict_set(&mut map, k, v);
                        }
                    }
                }
            }
            for (k, v) in kwargs {
                dict_set(&mut map, Value::str(k), v.clone());
            }
            Value::dict(map)
        }
        "range" => {
            let ints: Vec<i64> = args
                .iter()
                .map(|a| match a.as_number() {
                    Some(Num::Int(i)) => Ok(i),
                    _ => Err(it.error("range() takes integers")),
                })
                .collect::<R<_>>()?;
            let (start, stop, step) = match ints.as_slice() {
                [stop] => (0, *stop, 1),
                [start, stop] => (*start, *stop, 1),
                [start, stop, step] => (*start, *stop, *step),
                _ => return Err(it.error("range() takes 1 to 3 arguments")),
            };
            if step == 0 {
                return Err(it.error("range() arg 3 must not be zero"));
            }
            let mut out = Vec::new();
            let mut i = start;
            while (step > 0 && i < stop) || (step < 0 && i > stop) {
                if out.len() >= 1_000_000 {
                    return Err(it.error("range() of more than 1000000 items"));
                }
                out.push(Value::Int(i));
                i = match i.checked_add(step) {
                    Some(n) => n,
                    None => break,
                };
            }
            Value::list(out)
        }
        "sorted" => {
            let mut items = it.items_of(&one(it)?)?;
            let mut failure = None;
            items.sort_by(|a, b| {
                it.order(a, b).unwrap_or_else(|e| {
                    failure.get_or_insert(e);
                    std::cmp::Ordering::Equal
                })
            });
            if let Some(e) = failure {
                return Err(e);
            }
            if kwarg(kwargs, "reverse").and_then(Value::truthy) == Some(true) {
                items.reverse();
            }
            Value::list(items)
        }
        "reversed" => {
            let mut items = it.items_of(&one(it)?)?;
            items.reverse();
            Value::list(items)
        }
        "min" | "max" => {
            let items = if args.len() == 1 {
                it.items_of(&args[0])?
            } else {
                args.to_vec()
            };
            let mut best: Option<Value> = None;
            for item in items {
                best = Some(match best {
                    None => item,
                    Some(b) => {
                        let ord = it.order(&item, &b)?;
                        if (name == "min" && ord.is_lt()) || (name == "max" && ord.is_gt()) {
                            item
                        } else {
                            b
                        }
                    }
                });
            }
            match best {
                Some(b) => b,
                None => match kwarg(kwargs, "default") {
                    Some(d) => d.clone(),
                    None => return Err(it.error(format!("{name}() arg is an empty sequence"))),
                },
            }
        }
        "abs" => match one(it)?.as_number() {
            Some(Num::Int(i)) => Value::Int(
                i.checked_abs()
                    .ok_or_else(|| it.error("integer overflow"))?,
            ),
            Some(Num::Float(f)) => Value::Float(f.abs()),
            None => return Err(it.error("bad operand type for abs()")),
        },
        "round" => match (one(it)?.as_number(), args.get(1)) {
            (Some(Num::Float(f)), None) => {
                // Python rounds half to even.
                let r = f.round();
                let r = if (f - f.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
                    r - f.signum()
                } else {
                    r
                };
                Value::Int(float_to_int(r).map_err(|e| it.error(e))?)
            }
            (Some(Num::Float(f)), Some(Value::Int(n))) => {
                let p = 10f64.powi(i32::try_from(*n).unwrap_or(0));
                Value::Float((f * p).round() / p)
            }
            (Some(Num::Int(i)), _) => Value::Int(i),
            _ => return Err(it.error("round() takes a number")),
        },
        "sum" => {
            let mut total = Value::Int(0);
            for item in it.items_of(&one(it)?)? {
                total = match (total.as_number(), item.as_number()) {
                    (Some(Num::Int(a)), Some(Num::Int(b))) => Value::Int(
                        a.checked_add(b)
                            .ok_or_else(|| it.error("integer overflow"))?,
                    ),
                    (Some(a), Some(b)) => Value::Float(a.float() + b.float()),
                    _ => return Err(it.error("sum() takes numbers")),
                };
            }
            total
        }
        "any" | "all" => {
            let mut result = name == "all";
            for item in it.items_of(&one(it)?)? {
                let t = item
                    .truthy()
                    .ok_or_else(|| it.error(format!("cannot evaluate {name}() here")))?;
                if name == "any" && t {
                    result = true;
                    break;
                }
                if name == "all" && !t {
                    result = false;
                    break;
                }
            }
            Value::Bool(result)
        }
        "enumerate" => {
            let start = match args.get(1).or_else(|| kwarg(kwargs, "start")) {
                Some(Value::Int(s)) => *s,
                _ => 0,
            };
            let items = it.items_of(&one(it)?)?;
            let mut out = Vec::with_capacity(items.len());
            for (i, v) in items.into_iter().enumerate() {
                let i = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(start);
                out.push(Value::Tuple(Rc::new(vec![Value::Int(i), v])));
            }
            Value::list(out)
        }
        "zip" => {
            let lists: Vec<Vec<Value>> = args.iter().map(|a| it.items_of(a)).collect::<R<_>>()?;
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            Value::list(
                (0..n)
                    .map(|i| Value::Tuple(Rc::new(lists.iter().map(|l| l[i].clone()).collect())))
                    .collect(),
            )
        }
        "isinstance" => {
            let v = one(it)?;
            let types = match arg(it, args, 1, name)? {
                Value::Tuple(t) => t.as_ref().clone(),
                other => vec![other.clone()],
            };
            let matches = types.iter().any(|t| match t {
                Value::Builtin(b) => {
                    *b == v.type_name() || (*b == "int" && matches!(v, Value::Bool(_)))
                }
                _ => false,
            });
            Value::Bool(matches)
        }
        "print" => {
            // The file's own messages go to stderr, so that --show-config's
            // output stays valid TOML.
            if it.host().echo {
                let text: Vec<String> = args.iter().map(Value::to_str).collect();
                eprintln!("{}", text.join(" "));
            }
            Value::None
        }
        "os.getenv" => {
            let key = string(it, arg(it, args, 0, name)?, name)?.to_owned();
            match it.host().environ.get(&key) {
                Some(v) => Value::str(v),
                None => args.get(1).cloned().unwrap_or(Value::None),
            }
        }
        "os.getcwd" => Value::str(&it.host().cwd.to_string_lossy()),
        "os.path.join" => {
            let mut out = String::new();
            for a in args {
                let part = string(it, a, name)?;
                if part.starts_with('/') {
                    out = part.to_owned();
                } else if out.is_empty() || out.ends_with('/') {
                    out.push_str(part);
                } else {
                    out.push('/');
                    out.push_str(part);
                }
            }
            Value::str(&out)
        }
        "os.path.dirname" | "os.path.basename" | "os.path.split" => {
            let path = string(it, arg(it, args, 0, name)?, name)?;
            let (head, tail) = match path.rfind('/') {
                Some(i) => (&path[..=i], &path[i + 1..]),
                None => ("", path),
            };
            let trimmed = head.trim_end_matches('/');
            let head = if trimmed.is_empty() { head } else { trimmed };
            match name {
                "os.path.dirname" => Value::str(head),
                "os.path.basename" => Value::str(tail),
                _ => Value::Tuple(Rc::new(vec![Value::str(head), Value::str(tail)])),
            }
        }
        "os.path.abspath" => Value::str(&abspath(
            it.host(),
            string(it, arg(it, args, 0, name)?, name)?,
        )),
        "os.path.realpath" => {
            let path = abspath(it.host(), string(it, arg(it, args, 0, name)?, name)?);
            Value::str(
                &std::fs::canonicalize(&path).map_or(path, |p| p.to_string_lossy().into_owned()),
            )
        }
        "os.path.normpath" => Value::str(&normpath(string(it, arg(it, args, 0, name)?, name)?)),
        "os.path.exists" | "os.path.isfile" | "os.path.isdir" => {
            let path = abspath(it.host(), string(it, arg(it, args, 0, name)?, name)?);
            let meta = std::fs::metadata(&path);
            Value::Bool(match name {
                "os.path.exists" => meta.is_ok(),
                "os.path.isfile" => meta.is_ok_and(|m| m.is_file()),
                _ => meta.is_ok_and(|m| m.is_dir()),
            })
        }
        "os.path.expanduser" => {
            let path = string(it, arg(it, args, 0, name)?, name)?;
            let home = it.host().environ.get("HOME").cloned();
            Value::str(&match (path.strip_prefix('~'), home) {
                (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
                    format!("{home}{rest}")
                }
                _ => path.to_owned(),
            })
        }
        "os.path.expandvars" => {
            let path = string(it, arg(it, args, 0, name)?, name)?;
            Value::str(&expand_vars(path, &it.host().environ))
        }
        other => return Err(it.error(format!("{other}() is not supported"))),
    })
}

/// `$NAME` and `${NAME}` from the environment; unknown ones kept, as Python.
fn expand_vars(path: &str, environ: &std::collections::BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let braced = chars.get(i + 1) == Some(&'{');
            let start = if braced { i + 2 } else { i + 1 };
            let mut j = start;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            let end = if braced && chars.get(j) == Some(&'}') {
                j + 1
            } else {
                j
            };
            if !name.is_empty()
                && (!braced || end == j + 1)
                && let Some(v) = environ.get(&name)
            {
                out.push_str(v);
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Calls `object.name(*args, **kwargs)`.
pub(super) fn call_method(
    it: &mut Interp<'_>,
    object: &Value,
    name: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> R<Value> {
    if !(matches!(object, Value::Str(_)) && name == "format") {
        no_kwargs(it, kwargs, name)?;
    }
    let first = |it: &Interp<'_>| -> R<Value> { arg(it, args, 0, name).cloned() };
    match object {
        Value::Str(s) => str_method(it, s, name, args, kwargs),
        Value::Environ => {
            let environ = &it.host().environ;
            Ok(match name {
                "get" => {
                    let key = string(it, arg(it, args, 0, name)?, name)?;
                    environ
                        .get(key)
                        .map(|v| Value::str(v))
                        .or_else(|| args.get(1).cloned())
                        .unwrap_or(Value::None)
                }
                "keys" => Value::list(environ.keys().map(|k| Value::str(k)).collect()),
                "values" => Value::list(environ.values().map(|k| Value::str(k)).collect()),
                "items" | "copy" => {
                    let pairs = environ.iter().map(|(k, v)| (Value::str(k), Value::str(v)));
                    if name == "copy" {
                        Value::dict(pairs.collect())
                    } else {
                        Value::list(
                            pairs
                                .map(|(k, v)| Value::Tuple(Rc::new(vec![k, v])))
                                .collect(),
                        )
                    }
                }
                _ => return Err(it.error(format!("os.environ.{name} is not supported"))),
            })
        }
        Value::List(items) => {
            let result = match name {
                "append" => {
                    items.borrow_mut().push(first(it)?);
                    Value::None
                }
                "extend" => {
                    let more = it.items_of(&first(it)?)?;
                    items.borrow_mut().extend(more);
                    Value::None
                }
                "insert" => {
                    let Some(Num::Int(i)) = first(it)?.as_number() else {
                        return Err(it.error("insert() takes an integer index"));
                    };
                    let v = arg(it, args, 1, name)?.clone();
                    let mut items = items.borrow_mut();
                    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                    let at = if i < 0 { (i + len).max(0) } else { i.min(len) };
                    items.insert(usize::try_from(at).unwrap_or(0), v);
                    Value::None
                }
                "pop" => {
                    let mut items = items.borrow_mut();
                    let len = items.len();
                    if len == 0 {
                        return Err(it.error("IndexError: pop from empty list"));
                    }
                    let i = match args.first().and_then(Value::as_number) {
                        Some(Num::Int(i)) if i < 0 => {
                            usize::try_from(i64::try_from(len).unwrap_or(0) + i).ok()
                        }
                        Some(Num::Int(i)) => usize::try_from(i).ok(),
                        _ => Some(len - 1),
                    }
                    .filter(|i| *i < len)
                    .ok_or_else(|| it.error("IndexError: pop index out of range"))?;
                    items.remove(i)
                }
                "remove" | "index" | "count" => {
                    let needle = first(it)?;
                    let position = items.borrow().iter().position(|v| v.py_eq(&needle));
                    match (name, position) {
                        ("count", _) => Value::Int(
                            i64::try_from(
                                items.borrow().iter().filter(|v| v.py_eq(&needle)).count(),
                            )
                            .unwrap_or(0),
                        ),
                        ("remove", Some(i)) => {
                            items.borrow_mut().remove(i);
                            Value::None
                        }
                        ("index", Some(i)) => Value::Int(i64::try_from(i).unwrap_or(0)),
                        _ => {
                            return Err(
                                it.error(format!("ValueError: {} is not in list", needle.repr()))
                            );
                        }
                    }
                }
                "copy" => Value::list(items.borrow().clone()),
                "clear" => {
                    items.borrow_mut().clear();
                    Value::None
                }
                "reverse" => {
                    items.borrow_mut().reverse();
                    Value::None
                }
                "sort" => {
                    let sorted = call(it, "sorted", std::slice::from_ref(object), kwargs)?;
                    *items.borrow_mut() = sorted.items().unwrap_or_default();
                    Value::None
                }
                _ => return Err(it.error(format!("list.{name} is not supported"))),
            };
            Ok(result)
        }
        Value::Tuple(items) => {
            let needle = first(it)?;
            match name {
                "count" => Ok(Value::Int(
                    i64::try_from(items.iter().filter(|v| v.py_eq(&needle)).count()).unwrap_or(0),
                )),
                _ => items
                    .iter()
                    .position(|v| v.py_eq(&needle))
                    .map(|i| Value::Int(i64::try_from(i).unwrap_or(0)))
                    .ok_or_else(|| it.error("ValueError: tuple.index(x): x not in tuple")),
            }
        }
        Value::Dict(map) => Ok(match name {
            "get" => dict_get(&map.borrow(), &first(it)?)
                .or_else(|| args.get(1).cloned())
                .unwrap_or(Value::None),
            "keys" => Value::list(map.borrow().iter().map(|(k, _)| k.clone()).collect()),
            "values" => Value::list(map.borrow().iter().map(|(_, v)| v.clone()).collect()),
            "items" => Value::list(
                map.borrow()
                    .iter()
                    .map(|(k, v)| Value::Tuple(Rc::new(vec![k.clone(), v.clone()])))
                    .collect(),
            ),
            "update" => {
                let other = match args.first() {
                    Some(Value::Dict(d)) => d.borrow().clone(),
                    Some(other) => {
                        return Err(it.error(format!(
                            "dict.update() takes a dict here, not {}",
                            other.type_name()
                        )));
                    }
                    None => Vec::new(),
                };
                let mut map = map.borrow_mut();
                for (k, v) in other {
                    dict_set(&mut map, k, v);
                }
                Value::None
            }
            "setdefault" => {
                let key = first(it)?;
                let existing = dict_get(&map.borrow(), &key);
                match existing {
                    Some(v) => v,
                    None => {
                        let v = args.get(1).cloned().unwrap_or(Value::None);
                        dict_set(&mut map.borrow_mut(), key, v.clone());
                        v
                    }
                }
            }
            "pop" => {
                let key = first(it)?;
                let mut map = map.borrow_mut();
                match map.iter().position(|(k, _)| k.py_eq(&key)) {
                    Some(i) => map.remove(i).1,
                    None => args
                        .get(1)
                        .cloned()
                        .ok_or_else(|| it.error(format!("KeyError: {}", key.repr())))?,
                }
            }
            "copy" => Value::dict(map.borrow().clone()),
            "clear" => {
                map.borrow_mut().clear();
                Value::None
            }
            _ => return Err(it.error(format!("dict.{name} is not supported"))),
        }),
        Value::Set(items) => Ok(match name {
            "add" | "discard" | "remove" => {
                let v = first(it)?;
                let position = items.borrow().iter().position(|x| x.py_eq(&v));
                match (name, position) {
                    ("add", None) => items.borrow_mut().push(v),
                    ("discard" | "remove", Some(i)) => {
                        items.borrow_mut().remove(i);
                    }
                    ("remove", None) => {
                        return Err(it.error(format!("KeyError: {}", v.repr())));
                    }
                    _ => {}
                }
                Value::None
            }
            "update" => {
                for a in args {
                    for v in it.items_of(a)? {
                        if !items.borrow().iter().any(|x| x.py_eq(&v)) {
                            items.borrow_mut().push(v);
                        }
                    }
                }
                Value::None
            }
            "union" | "intersection" | "difference" | "copy" => {
                let mut out = items.borrow().clone();
                for a in args {
                    let other = it.items_of(a)?;
                    match name {
                        "union" => out.extend(other),
                        "intersection" => out.retain(|x| other.iter().any(|y| y.py_eq(x))),
                        _ => out.retain(|x| !other.iter().any(|y| y.py_eq(x))),
                    }
                }
                Value::set(out)
            }
            _ => return Err(it.error(format!("set.{name} is not supported"))),
        }),
        Value::Lazy(lazy) => {
            {
                let mut l = lazy.borrow_mut();
                match name {
                    "append" => l.extend.push(first(it)?),
                    "extend" => l.extend.extend(it.items_of(&first(it)?)?),
                    "prepend" => {
                        let mut more = it.items_of(&first(it)?)?;
                        more.append(&mut l.prepend);
                        l.prepend = more;
                    }
                    "insert" => {
                        let Some(Num::Int(i)) = first(it)?.as_number() else {
                            return Err(it.error("insert() takes an integer index"));
                        };
                        l.inserts.push((i, arg(it, args, 1, name)?.clone()));
                    }
                    "update" => match first(it)? {
                        Value::Dict(d) => l.update_items.extend(d.borrow().iter().cloned()),
                        other => l.set_items.extend(it.items_of(&other)?),
                    },
                    "add" => l.set_items.push(first(it)?),
                    _ => return Err(it.error(format!("{name}() is not supported here"))),
                }
            }
            it.lazy_changed(object);
            Ok(Value::None)
        }
        other => Err(it.error(format!(
            "'{}' object has no method {name}",
            other.type_name()
        ))),
    }
}

fn str_method(
    it: &Interp<'_>,
    s: &str,
    name: &str,
    args: &[Value],
    kwargs: &[(String, Value)],
) -> R<Value> {
    let opt_str = |i: usize| -> R<Option<String>> {
        match args.get(i) {
            None | Some(Value::None) => Ok(None),
            Some(Value::Str(a)) => Ok(Some(a.to_string())),
            Some(other) => Err(it.error(format!(
                "str.{name}() expects a str, not {}",
                other.type_name()
            ))),
        }
    };
    let req_str = |i: usize| -> R<String> {
        opt_str(i)?.ok_or_else(|| it.error(format!("str.{name}() is missing an argument")))
    };
    let int_arg = |i: usize| -> Option<i64> {
        match args.get(i).and_then(Value::as_number) {
            Some(Num::Int(n)) => Some(n),
            _ => None,
        }
    };
    Ok(match name {
        "strip" | "lstrip" | "rstrip" => {
            let chars = opt_str(0)?;
            let is_strip = |c: char| match &chars {
                Some(set) => set.contains(c),
                None => c.is_whitespace(),
            };
            Value::str(match name {
                "strip" => s.trim_matches(is_strip),
                "lstrip" => s.trim_start_matches(is_strip),
                _ => s.trim_end_matches(is_strip),
            })
        }
        "split" | "rsplit" => {
            let sep = opt_str(0)?;
            let max = int_arg(1).and_then(|m| usize::try_from(m).ok());
            let parts: Vec<String> = match (&sep, max, name) {
                (Some(sep), _, _) if sep.is_empty() => {
                    return Err(it.error("ValueError: empty separator"));
                }
                (Some(sep), None, _) => s.split(sep.as_str()).map(str::to_owned).collect(),
                (Some(sep), Some(m), "split") => {
                    s.splitn(m + 1, sep.as_str()).map(str::to_owned).collect()
                }
                (Some(sep), Some(m), _) => {
                    let mut v: Vec<String> =
                        s.rsplitn(m + 1, sep.as_str()).map(str::to_owned).collect();
                    v.reverse();
                    v
                }
                (None, None, _) => s.split_whitespace().map(str::to_owned).collect(),
                (None, Some(m), _) => {
                    let words: Vec<&str> = s.split_whitespace().collect();
                    if words.len() <= m + 1 {
                        words.iter().map(|w| (*w).to_owned()).collect()
                    } else if name == "split" {
                        let mut rest = s.trim_start();
                        let mut v = Vec::new();
                        for _ in 0..m {
                            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                            v.push(rest[..end].to_owned());
                            rest = rest[end..].trim_start();
                        }
                        v.push(rest.to_owned());
                        v
                    } else {
                        let mut rest = s.trim_end();
                        let mut v = Vec::new();
                        for _ in 0..m {
                            let start = rest.rfind(char::is_whitespace).map_or(0, |i| i + 1);
                            v.push(rest[start..].to_owned());
                            rest = rest[..start].trim_end();
                        }
                        v.push(rest.to_owned());
                        v.reverse();
                        v
                    }
                }
            };
            Value::list(parts.iter().map(|p| Value::str(p)).collect())
        }
        "splitlines" => Value::list(s.lines().map(Value::str).collect()),
        "join" => {
            let items = it.items_of(arg(it, args, 0, name)?)?;
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Str(p) => parts.push(p.to_string()),
                    other => {
                        return Err(it.error(format!(
                            "TypeError: sequence item: expected str instance, {} found",
                            other.type_name()
                        )));
                    }
                }
            }
            Value::str(&parts.join(s))
        }
        "lower" => Value::str(&s.to_lowercase()),
        "upper" => Value::str(&s.to_uppercase()),
        "title" | "capitalize" => {
            let mut out = String::new();
            let mut start = true;
            for c in s.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.extend(c.to_lowercase());
                }
                start = if name == "title" {
                    !c.is_alphabetic()
                } else {
                    false
                };
            }
            Value::str(&out)
        }
        "replace" => {
            let (old, new) = (req_str(0)?, req_str(1)?);
            match int_arg(2).and_then(|n| usize::try_from(n).ok()) {
                Some(n) => Value::str(&s.replacen(old.as_str(), &new, n)),
                None => Value::str(&s.replace(old.as_str(), &new)),
            }
        }
        "startswith" | "endswith" => {
            let candidates = match arg(it, args, 0, name)? {
                Value::Tuple(t) => t.as_ref().clone(),
                other => vec![other.clone()],
            };
            let mut found = false;
            for c in candidates {
                let Value::Str(c) = c else {
                    return Err(it.error(format!("{name}() takes a str or a tuple of str")));
                };
                found |= if name == "startswith" {
                    s.starts_with(c.as_ref())
                } else {
                    s.ends_with(c.as_ref())
                };
            }
            Value::Bool(found)
        }
        "removeprefix" => Value::str(s.strip_prefix(req_str(0)?.as_str()).unwrap_or(s)),
        "removesuffix" => Value::str(s.strip_suffix(req_str(0)?.as_str()).unwrap_or(s)),
        "find" => {
            let needle = req_str(0)?;
            Value::Int(match s.find(needle.as_str()) {
                Some(byte) => i64::try_from(s[..byte].chars().count()).unwrap_or(-1),
                None => -1,
            })
        }
        "count" => Value::Int(i64::try_from(s.matches(req_str(0)?.as_str()).count()).unwrap_or(0)),
        "isdigit" => Value::Bool(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
        "partition" | "rpartition" => {
            let sep = req_str(0)?;
            let found = if name == "partition" {
                s.split_once(sep.as_str())
            } else {
                s.rsplit_once(sep.as_str())
            };
            let (a, b, c) = match found {
                Some((a, c)) => (a, sep.as_str(), c),
                None if name == "partition" => (s, "", ""),
                None => ("", "", s),
            };
            Value::Tuple(Rc::new(vec![Value::str(a), Value::str(b), Value::str(c)]))
        }
        "zfill" => {
            let width = int_arg(0)
                .and_then(|w| usize::try_from(w).ok())
                .unwrap_or(0);
            let len = s.chars().count();
            if len >= width {
                Value::str(s)
            } else {
                let (sign, digits) = match s.strip_prefix(['-', '+']) {
                    Some(rest) => (&s[..1], rest),
                    None => ("", s),
                };
                Value::str(&format!("{sign}{}{digits}", "0".repeat(width - len)))
            }
        }
        "format" => Value::str(&method_format(s, args, kwargs).map_err(|e| it.error(e))?),
        other => return Err(it.error(format!("str.{other} is not supported"))),
    })
}
