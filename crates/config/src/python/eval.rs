//! Runs the statements of a `jupyterhub_config.py` against a model of
//! traitlets' `Config` object: `c.Class.trait = value` stores a value under
//! `Class`, reading an unset trait gives a `Lazy` that records
//! `append`/`extend`/`update`, as traitlets' `LazyConfigValue` does. No
//! Python runs: anything outside the subset is a [`PyError`] at its line.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use super::format::{format_spec, percent_format};
use super::parser::{CompKind, Comprehension, Expr, FPart, Stmt, StmtKind};
use super::value::{Lazy, Num, Value};
use super::{Host, PyError};

/// The most items a `range()` or a loop may produce: a configuration file
/// has no business with more, and the cap keeps a typo from hanging start-up.
const MAX_ITEMS: usize = 1_000_000;

/// The most statements a file may run (loops included), for the same reason.
const MAX_STEPS: usize = 1_000_000;

/// One trait's value and the line that last set or changed it.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) value: Value,
    pub(super) line: usize,
}

/// `c.Class`: the line it was first named on and its traits.
#[derive(Debug, Default)]
pub(super) struct Section {
    pub(super) line: usize,
    pub(super) traits: BTreeMap<String, Entry>,
}

/// The evaluator's state.
pub(super) struct Interp<'h> {
    host: &'h Host,
    vars: HashMap<String, Value>,
    pub(super) sections: BTreeMap<String, Section>,
    line: usize,
    steps: usize,
}

type R<T> = Result<T, PyError>;

impl<'h> Interp<'h> {
    pub(super) fn new(host: &'h Host, file: &Path) -> Self {
        let mut vars = HashMap::new();
        vars.insert("c".to_owned(), Value::Config);
        vars.insert("__file__".to_owned(), Value::str(&file.to_string_lossy()));
        vars.insert("__name__".to_owned(), Value::str("__main__"));
        Self {
            host,
            vars,
            sections: BTreeMap::new(),
            line: 0,
            steps: 0,
        }
    }

    fn err(&self, message: impl Into<String>) -> PyError {
        PyError::new(self.line, &message.into())
    }

    pub(super) fn run(&mut self, stmts: &[Stmt]) -> R<()> {
        for stmt in stmts {
            self.line = stmt.line;
            self.steps += 1;
            if self.steps > MAX_STEPS {
                return Err(self.err(
                    "too many steps (more than 1000000 statements run): a configuration file needs no such loop",
                ));
            }
            self.statement(stmt)?;
        }
        Ok(())
    }

    fn statement(&mut self, stmt: &Stmt) -> R<()> {
        match &stmt.kind {
            StmtKind::Expr(e) => {
                self.eval(e)?;
            }
            StmtKind::Pass => {}
            StmtKind::Assign(targets, value) => {
                let value = self.eval(value)?;
                for target in targets {
                    self.assign(target, value.clone())?;
                }
            }
            StmtKind::AugAssign(target, op, value) => {
                let rhs = self.eval(value)?;
                self.aug_assign(target, op, &rhs)?;
            }
            StmtKind::Import(names) => {
                for (module, alias) in names {
                    if let Some(alias) = alias {
                        self.vars.insert(alias.clone(), module_value(module));
                    } else {
                        let first = module.split('.').next().unwrap_or(module);
                        self.vars.insert(first.to_owned(), module_value(first));
                    }
                }
            }
            StmtKind::FromImport(module, names) => {
                for (name, alias) in names {
                    if name == "*" {
                        return Err(self.err(format!(
                            "'from {module} import *' is not supported; import the names you use"
                        )));
                    }
                    let value = if ["os", "os.path", "sys"].contains(&module.as_str()) {
                        self.getattr(&module_value(module), name)?
                    } else {
                        // A class, function or submodule of a module we do
                        // not have: known by its dotted name only.
                        Value::ClassRef(Rc::from(format!("{module}.{name}")))
                    };
                    self.vars
                        .insert(alias.clone().unwrap_or_else(|| name.clone()), value);
                }
            }
            StmtKind::If(branches, otherwise) => {
                for (condition, body) in branches {
                    self.line = stmt.line;
                    let value = self.eval(condition)?;
                    if self.truth(&value, "an 'if' condition")? {
                        return self.run(body);
                    }
                }
                self.run(otherwise)?;
            }
            StmtKind::For(target, iter, body) => {
                let items = self.iterate(iter)?;
                for item in items {
                    self.line = stmt.line;
                    self.assign(target, item)?;
                    self.run(body)?;
                }
            }
            StmtKind::Def(name) => {
                self.vars.insert(
                    name.clone(),
                    Value::Function(Rc::from(name.as_str()), stmt.line),
                );
            }
            StmtKind::Class(name) => {
                self.vars.insert(
                    name.clone(),
                    Value::UserClass(Rc::from(name.as_str()), stmt.line),
                );
            }
            StmtKind::Unsupported(keyword) => {
                return Err(self.err(format!(
                    "'{keyword}' is not supported in a configuration ferrohub reads (it runs no Python)"
                )));
            }
        }
        Ok(())
    }

    fn iterate(&mut self, iter: &Expr) -> R<Vec<Value>> {
        let value = self.eval(iter)?;
        let items = match &value {
            Value::Environ => self
                .host
                .environ
                .keys()
                .map(|k| Value::str(k))
                .collect(),
            v => v.items().ok_or_else(|| {
                self.err(format!(
                    "cannot loop over {}: only lists, tuples, sets, dicts, strings and range() are evaluated",
                    describe(v)
                ))
            })?,
        };
        if items.len() > MAX_ITEMS {
            return Err(self.err("loop over more than 1000000 items"));
        }
        Ok(items)
    }

    fn truth(&self, value: &Value, what: &str) -> R<bool> {
        value.truthy().ok_or_else(|| {
            self.err(format!(
                "cannot evaluate {what}: it depends on {}",
                describe(value)
            ))
        })
    }

    fn assign(&mut self, target: &Expr, value: Value) -> R<()> {
        match target {
            Expr::Name(name) => {
                self.vars.insert(name.clone(), value);
                Ok(())
            }
            Expr::Tuple(targets) | Expr::List(targets) => {
                let items = value.items().ok_or_else(|| {
                    self.err(format!("cannot unpack non-iterable {}", value.type_name()))
                })?;
                if items.len() != targets.len() {
                    return Err(self.err(format!(
                        "cannot unpack {} values into {} names",
                        items.len(),
                        targets.len()
                    )));
                }
                for (t, v) in targets.iter().zip(items) {
                    self.assign(t, v)?;
                }
                Ok(())
            }
            Expr::Attr(object, name) => {
                let object = self.eval(object)?;
                self.setattr(&object, name, value)
            }
            Expr::Subscript(object, index) => {
                let object = self.eval(object)?;
                let index = self.eval(index)?;
                self.setitem(&object, index, value)
            }
            _ => Err(self.err("cannot assign to this expression")),
        }
    }

    fn setattr(&mut self, object: &Value, name: &str, value: Value) -> R<()> {
        match object {
            Value::Section(class) => {
                if starts_upper(name) {
                    return Err(self.err(format!(
                        "c.{class}.{name}: nested sections are not configuration options"
                    )));
                }
                let line = self.line;
                let section = self.sections.entry(class.to_string()).or_default();
                if section.line == 0 {
                    section.line = line;
                }
                section
                    .traits
                    .insert(name.to_owned(), Entry { value, line });
                Ok(())
            }
            Value::Config => Err(self.err(format!(
                "c.{name} = ...: options are set as c.Class.{name}, e.g. c.JupyterHub.{name}"
            ))),
            Value::Environ => Err(self.err(environ_write())),
            other => Err(self.err(format!(
                "cannot set attribute {name} of {}",
                describe(other)
            ))),
        }
    }

    fn setitem(&mut self, object: &Value, index: Value, value: Value) -> R<()> {
        match object {
            Value::List(items) => {
                let mut items = items.borrow_mut();
                let i = self.index(&index, items.len())?;
                items[i] = value;
                Ok(())
            }
            Value::Dict(map) => {
                dict_set(&mut map.borrow_mut(), index, value);
                Ok(())
            }
            Value::Lazy(lazy) => {
                // traitlets itself refuses this; a dict option set key by
                // key is what the file means, so it becomes an update.
                let mut lazy = lazy.borrow_mut();
                lazy.update_items.push((index, value));
                lazy.line = self.line;
                self.touch(object);
                Ok(())
            }
            Value::Environ => Err(self.err(environ_write())),
            other => Err(self.err(format!(
                "'{}' object does not support item assignment",
                other.type_name()
            ))),
        }
    }

    /// Moves the line of the trait holding `lazy` to the current line.
    fn touch(&mut self, lazy: &Value) {
        let line = self.line;
        for section in self.sections.values_mut() {
            for entry in section.traits.values_mut() {
                if entry.value.py_eq(lazy) {
                    entry.line = line;
                }
            }
        }
    }

    fn aug_assign(&mut self, target: &Expr, op: &'static str, rhs: &Value) -> R<()> {
        let current = match target {
            Expr::Name(name) => self.lookup(name)?,
            Expr::Attr(object, name) => {
                let object = self.eval(object)?;
                self.getattr(&object, name)?
            }
            Expr::Subscript(object, index) => {
                let object = self.eval(object)?;
                let index = self.eval(index)?;
                self.getitem(&object, &index)?
            }
            _ => return Err(self.err("cannot assign to this expression")),
        };
        if let Value::Lazy(lazy) = &current {
            {
                let mut lazy = lazy.borrow_mut();
                match (op, rhs) {
                    ("+", Value::List(_) | Value::Tuple(_)) => {
                        lazy.extend.extend(rhs.items().unwrap_or_default());
                    }
                    ("|" | "+", Value::Set(_)) => {
                        lazy.set_items.extend(rhs.items().unwrap_or_default());
                    }
                    ("|", Value::Dict(d)) => {
                        lazy.update_items.extend(d.borrow().iter().cloned());
                    }
                    _ => {
                        drop(lazy);
                        return Err(self.err(format!(
                            "{} {op}= {}: the option is not set before this line, so only += with a list, |= with a set or dict, .append, .extend, .update and .add are known",
                            describe(&current),
                            rhs.type_name()
                        )));
                    }
                }
                lazy.line = self.line;
            }
            self.touch(&current);
            return Ok(());
        }
        let new = self.inplace(op, current, rhs)?;
        match target {
            Expr::Name(name) => {
                self.vars.insert(name.clone(), new);
                Ok(())
            }
            _ => self.assign(target, new),
        }
    }

    /// `a op= b`: lists, sets and dicts change in place, as in Python.
    fn inplace(&self, op: &'static str, current: Value, rhs: &Value) -> R<Value> {
        match (op, &current, rhs) {
            ("+", Value::List(items), _) => {
                let more = rhs.items().ok_or_else(|| {
                    self.err(format!("'{}' object is not iterable", rhs.type_name()))
                })?;
                items.borrow_mut().extend(more);
                Ok(current)
            }
            ("|", Value::Set(items), Value::Set(other)) => {
                let more = other.borrow().clone();
                let mut items = items.borrow_mut();
                for item in more {
                    if !items.iter().any(|i| i.py_eq(&item)) {
                        items.push(item);
                    }
                }
                drop(items);
                Ok(current)
            }
            ("|", Value::Dict(map), Value::Dict(other)) => {
                let more = other.borrow().clone();
                let mut map = map.borrow_mut();
                for (k, v) in more {
                    dict_set(&mut map, k, v);
                }
                drop(map);
                Ok(current)
            }
            _ => self.binary(op, &current, rhs),
        }
    }

    fn lookup(&self, name: &str) -> R<Value> {
        if let Some(v) = self.vars.get(name) {
            return Ok(v.clone());
        }
        if let Some(builtin) = BUILTINS.iter().find(|b| **b == name) {
            return Ok(Value::Builtin(builtin));
        }
        if let Some((_, why)) = FORBIDDEN.iter().find(|(n, _)| *n == name) {
            return Err(self.err(format!("{name}() is not supported: {why}")));
        }
        Err(self.err(format!("NameError: name '{name}' is not defined")))
    }

    pub(super) fn eval(&mut self, expr: &Expr) -> R<Value> {
        Ok(match expr {
            Expr::Name(name) => self.lookup(name)?,
            Expr::None => Value::None,
            Expr::Bool(b) => Value::Bool(*b),
            Expr::Int(i) => Value::Int(*i),
            Expr::Float(f) => Value::Float(*f),
            Expr::Str(s) => Value::str(s),
            Expr::FStr(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        FPart::Text(t) => out.push_str(t),
                        FPart::Field(e, conversion, spec) => {
                            let v = self.eval(e)?;
                            let v = match conversion {
                                Some('r') => Value::str(&v.repr()),
                                Some('s') => Value::str(&v.to_str()),
                                _ => v,
                            };
                            if spec.contains('{') {
                                return Err(self.err(
                                    "a nested field in an f-string format spec is not supported",
                                ));
                            }
                            out.push_str(&format_spec(&v, spec).map_err(|e| self.err(e))?);
                        }
                    }
                }
                Value::str(&out)
            }
            Expr::List(items) => Value::list(self.eval_items(items)?),
            Expr::Tuple(items) => Value::Tuple(Rc::new(self.eval_items(items)?)),
            Expr::Set(items) => Value::set(self.eval_items(items)?),
            Expr::Dict(items) => {
                let mut map = Vec::new();
                for (key, value) in items {
                    match key {
                        Some(key) => {
                            let k = self.eval(key)?;
                            let v = self.eval(value)?;
                            self.hashable(&k)?;
                            dict_set(&mut map, k, v);
                        }
                        None => {
                            let other = self.eval(value)?;
                            let Value::Dict(other) = other else {
                                return Err(self.err(format!(
                                    "'{}' object is not a mapping",
                                    other.type_name()
                                )));
                            };
                            for (k, v) in other.borrow().iter() {
                                dict_set(&mut map, k.clone(), v.clone());
                            }
                        }
                    }
                }
                Value::dict(map)
            }
            Expr::Starred(_) => return Err(self.err("can't use starred expression here")),
            Expr::Attr(object, name) => {
                let object = self.eval(object)?;
                self.getattr(&object, name)?
            }
            Expr::Subscript(object, index) => {
                let object = self.eval(object)?;
                if let Expr::Slice(start, stop, step) = index.as_ref() {
                    return self.slice(&object, start.as_deref(), stop.as_deref(), step.as_deref());
                }
                let index = self.eval(index)?;
                self.getitem(&object, &index)?
            }
            Expr::Slice(..) => return Err(self.err("a slice outside brackets")),
            Expr::Call(function, args, kwargs) => {
                let function = self.eval(function)?;
                let args = self.eval_items(args)?;
                let mut kw = Vec::new();
                for (name, value) in kwargs {
                    let value = self.eval(value)?;
                    if name.is_empty() {
                        let Value::Dict(map) = value else {
                            return Err(self.err("argument after ** must be a dict"));
                        };
                        for (k, v) in map.borrow().iter() {
                            let Value::Str(k) = k else {
                                return Err(self.err("keywords must be strings"));
                            };
                            kw.push((k.to_string(), v.clone()));
                        }
                    } else {
                        kw.push((name.clone(), value));
                    }
                }
                self.call(&function, &args, &kw)?
            }
            Expr::Unary(op, operand) => {
                let v = self.eval(operand)?;
                match (*op, v.as_number()) {
                    ("-", Some(Num::Int(i))) => Value::Int(
                        i.checked_neg()
                            .ok_or_else(|| self.err("integer overflow"))?,
                    ),
                    ("-", Some(Num::Float(f))) => Value::Float(-f),
                    ("+", Some(Num::Int(i))) => Value::Int(i),
                    ("+", Some(Num::Float(f))) => Value::Float(f),
                    ("~", Some(Num::Int(i))) => Value::Int(!i),
                    _ => {
                        return Err(self.err(format!(
                            "bad operand type for unary {op}: '{}'",
                            v.type_name()
                        )));
                    }
                }
            }
            Expr::Binary(op, left, right) => {
                let l = self.eval(left)?;
                let r = self.eval(right)?;
                self.binary(op, &l, &r)?
            }
            Expr::Compare(first, rest) => {
                let mut left = self.eval(first)?;
                for (op, right) in rest {
                    let right = self.eval(right)?;
                    if !self.compare(op, &left, &right)? {
                        return Ok(Value::Bool(false));
                    }
                    left = right;
                }
                Value::Bool(true)
            }
            Expr::And(a, b) => {
                let a = self.eval(a)?;
                if self.truth(&a, "an 'and'")? {
                    self.eval(b)?
                } else {
                    a
                }
            }
            Expr::Or(a, b) => {
                let a = self.eval(a)?;
                if self.truth(&a, "an 'or'")? {
                    a
                } else {
                    self.eval(b)?
                }
            }
            Expr::Not(a) => {
                let a = self.eval(a)?;
                Value::Bool(!self.truth(&a, "a 'not'")?)
            }
            Expr::IfElse(condition, then, otherwise) => {
                let c = self.eval(condition)?;
                if self.truth(&c, "a conditional expression")? {
                    self.eval(then)?
                } else {
                    self.eval(otherwise)?
                }
            }
            Expr::Lambda => Value::Function(Rc::from("<lambda>"), self.line),
            Expr::Comprehension(comp) => self.comprehension(comp)?,
        })
    }

    fn comprehension(&mut self, comp: &Comprehension) -> R<Value> {
        let items = self.iterate(&comp.iter)?;
        // Python gives a comprehension its own scope for the loop names.
        let saved = self.vars.clone();
        let mut out = Vec::new();
        let mut map = Vec::new();
        let result = (|| -> R<()> {
            'items: for item in items {
                self.assign(&comp.target, item)?;
                for condition in &comp.conditions {
                    let c = self.eval(condition)?;
                    if !self.truth(&c, "a comprehension's 'if'")? {
                        continue 'items;
                    }
                }
                let element = self.eval(&comp.element)?;
                match &comp.value {
                    Some(value) => {
                        let value = self.eval(value)?;
                        self.hashable(&element)?;
                        dict_set(&mut map, element, value);
                    }
                    None => out.push(element),
                }
            }
            Ok(())
        })();
        self.vars = saved;
        result?;
        Ok(match comp.kind {
            CompKind::List => Value::list(out),
            CompKind::Set => Value::set(out),
            CompKind::Dict => Value::dict(map),
        })
    }

    fn eval_items(&mut self, items: &[Expr]) -> R<Vec<Value>> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Expr::Starred(inner) = item {
                let v = self.eval(inner)?;
                out.extend(v.items().ok_or_else(|| {
                    self.err(format!("'{}' object is not iterable", v.type_name()))
                })?);
            } else {
                out.push(self.eval(item)?);
            }
        }
        Ok(out)
    }

    fn hashable(&self, key: &Value) -> R<()> {
        match key {
            Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::Lazy(_) => {
                Err(self.err(format!("unhashable type: '{}'", key.type_name())))
            }
            _ => Ok(()),
        }
    }

    fn getattr(&mut self, object: &Value, name: &str) -> R<Value> {
        let no_attr = |this: &Self| {
            this.err(format!(
                "AttributeError: {} has no attribute '{name}'",
                describe(object)
            ))
        };
        match object {
            Value::Config => {
                if starts_upper(name) {
                    let line = self.line;
                    let section = self.sections.entry(name.to_owned()).or_default();
                    if section.line == 0 {
                        section.line = line;
                    }
                    Ok(Value::Section(Rc::from(name)))
                } else {
                    Err(self.err(format!(
                        "c.{name}: options are read and set as c.Class.{name}"
                    )))
                }
            }
            Value::Section(class) => {
                if starts_upper(name) {
                    return Err(self.err(format!(
                        "c.{class}.{name}: nested sections are not configuration options"
                    )));
                }
                let line = self.line;
                let section = self.sections.entry(class.to_string()).or_default();
                let entry = section
                    .traits
                    .entry(name.to_owned())
                    .or_insert_with(|| Entry {
                        value: Value::Lazy(Rc::new(RefCell::new(Lazy::default()))),
                        line,
                    });
                Ok(entry.value.clone())
            }
            Value::Module(module) => self.module_attr(module, name),
            Value::ClassRef(path) => Ok(Value::ClassRef(Rc::from(format!("{path}.{name}")))),
            Value::Environ => match name {
                "get" | "keys" | "values" | "items" | "copy" => {
                    Ok(Value::Method(Box::new(object.clone()), Rc::from(name)))
                }
                "setdefault" | "update" | "pop" | "clear" => Err(self.err(environ_write())),
                _ => Err(no_attr(self)),
            },
            Value::Str(_)
            | Value::List(_)
            | Value::Dict(_)
            | Value::Set(_)
            | Value::Tuple(_)
            | Value::Lazy(_) => {
                if methods_of(object).contains(&name) {
                    Ok(Value::Method(Box::new(object.clone()), Rc::from(name)))
                } else {
                    Err(no_attr(self))
                }
            }
            Value::Function(..) | Value::UserClass(..) => Err(self.err(format!(
                "{}: ferrohub runs no Python code",
                describe(object)
            ))),
            _ => Err(no_attr(self)),
        }
    }

    fn module_attr(&self, module: &str, name: &str) -> R<Value> {
        let builtin = |full: &str| -> Option<Value> {
            BUILTINS
                .iter()
                .find(|b| **b == full)
                .map(|b| Value::Builtin(b))
        };
        match module {
            "os" => match name {
                "environ" => Ok(Value::Environ),
                "path" => Ok(Value::Module(Rc::from("os.path"))),
                "sep" => Ok(Value::str("/")),
                "pathsep" => Ok(Value::str(":")),
                "linesep" => Ok(Value::str("\n")),
                "name" => Ok(Value::str("posix")),
                "curdir" => Ok(Value::str(".")),
                _ => builtin(&format!("os.{name}")).ok_or_else(|| {
                    self.err(format!(
                        "os.{name} is not supported: ferrohub reads os.environ, os.getenv, os.getcwd and os.path.* only"
                    ))
                }),
            },
            "os.path" => match name {
                "sep" => Ok(Value::str("/")),
                _ => builtin(&format!("os.path.{name}")).ok_or_else(|| {
                    self.err(format!(
                        "os.path.{name} is not supported: ferrohub knows os.path.join, dirname, basename, abspath, realpath, normpath, exists, isfile, isdir, expanduser, expandvars, split"
                    ))
                }),
            },
            "sys" => match name {
                "executable" => Ok(Value::str(&self.host.executable)),
                "prefix" | "exec_prefix" | "base_prefix" | "base_exec_prefix" => {
                    Ok(Value::str(&self.host.prefix))
                }
                "platform" => Ok(Value::str("linux")),
                "maxsize" => Ok(Value::Int(i64::MAX)),
                _ => Err(self.err(format!(
                    "sys.{name} is not available: ferrohub knows sys.executable, sys.prefix and sys.platform (it runs no Python)"
                ))),
            },
            other => Ok(if starts_upper(name) {
                Value::ClassRef(Rc::from(format!("{other}.{name}")))
            } else {
                Value::Module(Rc::from(format!("{other}.{name}")))
            }),
        }
    }

    fn getitem(&self, object: &Value, index: &Value) -> R<Value> {
        match object {
            Value::List(items) => {
                let items = items.borrow();
                let i = self.index(index, items.len())?;
                Ok(items[i].clone())
            }
            Value::Tuple(items) => {
                let i = self.index(index, items.len())?;
                Ok(items[i].clone())
            }
            Value::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                let i = self.index(index, chars.len())?;
                Ok(Value::str(&chars[i].to_string()))
            }
            Value::Dict(map) => dict_get(&map.borrow(), index)
                .ok_or_else(|| self.err(format!("KeyError: {}", index.repr()))),
            Value::Environ => {
                let Value::Str(key) = index else {
                    return Err(self.err("os.environ keys are strings"));
                };
                self.host
                    .environ
                    .get(key.as_ref())
                    .map(|v| Value::str(v))
                    .ok_or_else(|| {
                        self.err(format!(
                            "KeyError: os.environ[{}]: the hub's environment has no such variable (use os.environ.get to allow that)",
                            index.repr()
                        ))
                    })
            }
            other => Err(self.err(format!("{} is not subscriptable", describe(other)))),
        }
    }

    fn index(&self, index: &Value, len: usize) -> R<usize> {
        let Some(Num::Int(i)) = index.as_number() else {
            return Err(self.err(format!(
                "indices must be integers, not {}",
                index.type_name()
            )));
        };
        let len_i = i64::try_from(len).unwrap_or(i64::MAX);
        let j = if i < 0 { i + len_i } else { i };
        usize::try_from(j)
            .ok()
            .filter(|j| *j < len)
            .ok_or_else(|| self.err("IndexError: index out of range"))
    }

    fn slice(
        &mut self,
        object: &Value,
        start: Option<&Expr>,
        stop: Option<&Expr>,
        step: Option<&Expr>,
    ) -> R<Value> {
        let bound = |this: &mut Self, e: Option<&Expr>| -> R<Option<i64>> {
            match e {
                None => Ok(None),
                Some(e) => match this.eval(e)? {
                    Value::None => Ok(None),
                    v => match v.as_number() {
                        Some(Num::Int(i)) => Ok(Some(i)),
                        _ => Err(this.err("slice indices must be integers")),
                    },
                },
            }
        };
        let (start, stop, step) = (bound(self, start)?, bound(self, stop)?, bound(self, step)?);
        let step = step.unwrap_or(1);
        if step == 0 {
            return Err(self.err("slice step cannot be zero"));
        }
        let items: Vec<Value> = match object {
            Value::Str(s) => s.chars().map(|c| Value::str(&c.to_string())).collect(),
            Value::List(_) | Value::Tuple(_) => object.items().unwrap_or_default(),
            other => {
                return Err(self.err(format!("{} is not subscriptable", describe(other))));
            }
        };
        let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let clamp = |v: Option<i64>, default: i64, low: i64, high: i64| match v {
            None => default,
            Some(v) if v < 0 => (v + len).max(low),
            Some(v) => v.min(high),
        };
        let mut picked = Vec::new();
        if step > 0 {
            let (mut i, end) = (clamp(start, 0, 0, len), clamp(stop, len, 0, len));
            while i < end {
                picked.push(items[usize::try_from(i).unwrap_or(0)].clone());
                i += step;
            }
        } else {
            let (mut i, end) = (
                clamp(start, len - 1, -1, len - 1),
                clamp(stop, -1, -1, len - 1),
            );
            while i > end {
                picked.push(items[usize::try_from(i).unwrap_or(0)].clone());
                i += step;
            }
        }
        Ok(match object {
            Value::Str(_) => Value::str(&picked.iter().map(Value::to_str).collect::<String>()),
            Value::Tuple(_) => Value::Tuple(Rc::new(picked)),
            _ => Value::list(picked),
        })
    }

    fn binary(&self, op: &str, l: &Value, r: &Value) -> R<Value> {
        let overflow = || self.err("integer overflow (ferrohub keeps 64-bit integers)");
        if let (Some(a), Some(b)) = (l.as_number(), r.as_number()) {
            return Ok(match (op, a, b) {
                ("+", Num::Int(x), Num::Int(y)) => {
                    Value::Int(x.checked_add(y).ok_or_else(overflow)?)
                }
                ("-", Num::Int(x), Num::Int(y)) => {
                    Value::Int(x.checked_sub(y).ok_or_else(overflow)?)
                }
                ("*", Num::Int(x), Num::Int(y)) => {
                    Value::Int(x.checked_mul(y).ok_or_else(overflow)?)
                }
                ("//" | "%", Num::Int(_), Num::Int(0)) => {
                    return Err(self.err("ZeroDivisionError: integer division or modulo by zero"));
                }
                ("//", Num::Int(x), Num::Int(y)) => {
                    let q = x.checked_div(y).ok_or_else(overflow)?;
                    Value::Int(if x % y != 0 && ((x < 0) != (y < 0)) {
                        q - 1
                    } else {
                        q
                    })
                }
                ("%", Num::Int(x), Num::Int(y)) => {
                    let r = x.checked_rem(y).ok_or_else(overflow)?;
                    Value::Int(if r != 0 && ((r < 0) != (y < 0)) {
                        r + y
                    } else {
                        r
                    })
                }
                ("**", Num::Int(x), Num::Int(y)) if y >= 0 => Value::Int(
                    u32::try_from(y)
                        .ok()
                        .and_then(|y| x.checked_pow(y))
                        .ok_or_else(overflow)?,
                ),
                ("|", Num::Int(x), Num::Int(y)) => Value::Int(x | y),
                ("&", Num::Int(x), Num::Int(y)) => Value::Int(x & y),
                ("^", Num::Int(x), Num::Int(y)) => Value::Int(x ^ y),
                ("<<", Num::Int(x), Num::Int(y)) => Value::Int(
                    u32::try_from(y)
                        .ok()
                        .and_then(|y| x.checked_shl(y))
                        .ok_or_else(overflow)?,
                ),
                (">>", Num::Int(x), Num::Int(y)) => Value::Int(
                    u32::try_from(y)
                        .ok()
                        .map(|y| x >> y.min(63))
                        .ok_or_else(overflow)?,
                ),
                (op, a, b) => {
                    let (x, y) = (a.float(), b.float());
                    Value::Float(match op {
                        "+" => x + y,
                        "-" => x - y,
                        "*" => x * y,
                        "/" | "//" | "%" if y == 0.0 => {
                            return Err(self.err("ZeroDivisionError: division by zero"));
                        }
                        "/" => x / y,
                        "//" => (x / y).floor(),
                        "%" => x - y * (x / y).floor(),
                        "**" => x.powf(y),
                        _ => return Err(self.unsupported_op(op, l, r)),
                    })
                }
            });
        }
        match (op, l, r) {
            ("+", Value::Str(a), Value::Str(b)) => Ok(Value::str(&format!("{a}{b}"))),
            ("+", Value::List(a), Value::List(b)) => {
                let mut items = a.borrow().clone();
                items.extend(b.borrow().iter().cloned());
                Ok(Value::list(items))
            }
            ("+", Value::Tuple(a), Value::Tuple(b)) => {
                let mut items = a.as_ref().clone();
                items.extend(b.iter().cloned());
                Ok(Value::Tuple(Rc::new(items)))
            }
            ("*", Value::Str(_) | Value::List(_), Value::Int(_))
            | ("*", Value::Int(_), Value::Str(_) | Value::List(_)) => {
                let (seq, n) = match (l, r) {
                    (Value::Int(n), s) | (s, Value::Int(n)) => (s, *n),
                    _ => return Err(self.unsupported_op(op, l, r)),
                };
                let n = usize::try_from(n).unwrap_or(0);
                let items = seq.items().unwrap_or_default();
                if items.len().saturating_mul(n) > MAX_ITEMS {
                    return Err(self.err("result too large"));
                }
                Ok(match seq {
                    Value::Str(s) => Value::str(&s.repeat(n)),
                    _ => Value::list(
                        items
                            .iter()
                            .cloned()
                            .cycle()
                            .take(items.len() * n)
                            .collect(),
                    ),
                })
            }
            ("%", Value::Str(format), args) => percent_format(format, args)
                .map(|s| Value::str(&s))
                .map_err(|e| self.err(e)),
            ("|", Value::Set(_), Value::Set(_)) => {
                let mut items = l.items().unwrap_or_default();
                items.extend(r.items().unwrap_or_default());
                Ok(Value::set(items))
            }
            ("&", Value::Set(a), Value::Set(b)) => {
                let b = b.borrow();
                Ok(Value::set(
                    a.borrow()
                        .iter()
                        .filter(|x| b.iter().any(|y| y.py_eq(x)))
                        .cloned()
                        .collect(),
                ))
            }
            ("-", Value::Set(a), Value::Set(b)) => {
                let b = b.borrow();
                Ok(Value::set(
                    a.borrow()
                        .iter()
                        .filter(|x| !b.iter().any(|y| y.py_eq(x)))
                        .cloned()
                        .collect(),
                ))
            }
            ("|", Value::Dict(a), Value::Dict(b)) => {
                let mut map = a.borrow().clone();
                for (k, v) in b.borrow().iter() {
                    dict_set(&mut map, k.clone(), v.clone());
                }
                Ok(Value::dict(map))
            }
            _ => Err(self.unsupported_op(op, l, r)),
        }
    }

    fn unsupported_op(&self, op: &str, l: &Value, r: &Value) -> PyError {
        if matches!(l, Value::Lazy(_)) || matches!(r, Value::Lazy(_)) {
            let lazy = if matches!(l, Value::Lazy(_)) { l } else { r };
            return self.err(format!(
                "{} is used in '{op}' before this file sets it (upstream's traitlets cannot do that either)",
                describe(lazy)
            ));
        }
        self.err(format!(
            "TypeError: unsupported operand type(s) for {op}: '{}' and '{}'",
            l.type_name(),
            r.type_name()
        ))
    }

    fn compare(&self, op: &str, l: &Value, r: &Value) -> R<bool> {
        Ok(match op {
            "==" => l.py_eq(r),
            "!=" => !l.py_eq(r),
            "is" | "is not" => {
                let same = match (l, r) {
                    (Value::None, Value::None) => true,
                    (Value::Bool(a), Value::Bool(b)) => a == b,
                    (Value::List(a), Value::List(b)) | (Value::Set(a), Value::Set(b)) => {
                        Rc::ptr_eq(a, b)
                    }
                    (Value::Dict(a), Value::Dict(b)) => Rc::ptr_eq(a, b),
                    (Value::None | Value::Bool(_), _) | (_, Value::None | Value::Bool(_)) => false,
                    _ => l.py_eq(r),
                };
                same == (op == "is")
            }
            "in" | "not in" => {
                let found = match r {
                    Value::Str(hay) => {
                        let Value::Str(needle) = l else {
                            return Err(self.err(format!(
                                "'in <string>' requires string as left operand, not {}",
                                l.type_name()
                            )));
                        };
                        hay.contains(needle.as_ref())
                    }
                    Value::Environ => match l {
                        Value::Str(k) => self.host.environ.contains_key(k.as_ref()),
                        _ => false,
                    },
                    other => other
                        .items()
                        .ok_or_else(|| {
                            self.err(format!(
                                "argument of type {} is not iterable",
                                describe(other)
                            ))
                        })?
                        .iter()
                        .any(|i| i.py_eq(l)),
                };
                found == (op == "in")
            }
            _ => {
                let ordering = order(l, r).ok_or_else(|| {
                    if matches!(l, Value::Lazy(_)) || matches!(r, Value::Lazy(_)) {
                        self.unsupported_op(op, l, r)
                    } else {
                        self.err(format!(
                            "TypeError: '{op}' not supported between instances of '{}' and '{}'",
                            l.type_name(),
                            r.type_name()
                        ))
                    }
                })?;
                match op {
                    "<" => ordering.is_lt(),
                    ">" => ordering.is_gt(),
                    "<=" => ordering.is_le(),
                    _ => ordering.is_ge(),
                }
            }
        })
    }

    fn call(&mut self, function: &Value, args: &[Value], kwargs: &[(String, Value)]) -> R<Value> {
        match function {
            Value::Builtin(name) => super::builtins::call(self, name, args, kwargs),
            Value::Method(object, name) => {
                super::builtins::call_method(self, object, name, args, kwargs)
            }
            Value::Module(path) if !["os", "os.path", "sys"].contains(&path.as_ref()) => {
                Err(self.err(format!(
                    "{path}(...) calls imported Python code, which ferrohub cannot run; write the value it would return instead"
                )))
            }
            Value::ClassRef(path) => {
                let last = path.rsplit('.').next().unwrap_or(path);
                Err(self.err(if last.chars().next().is_some_and(char::is_uppercase) {
                    format!(
                        "{path}(...) creates a Python object, which ferrohub cannot do (it runs no Python); give the class itself or its name as a string to *_class options"
                    )
                } else {
                    format!(
                        "{path}(...) calls imported Python code, which ferrohub cannot run; write the value it would return instead"
                    )
                }))
            }
            Value::Function(name, line) | Value::UserClass(name, line) => Err(self.err(format!(
                "calling {name} (line {line}) runs Python code, which ferrohub does not do"
            ))),
            Value::Lazy(_) | Value::Section(_) | Value::Config => {
                Err(self.err(format!("{} is not callable", describe(function))))
            }
            other => Err(self.err(format!(
                "TypeError: '{}' object is not callable",
                other.type_name()
            ))),
        }
    }

    /// The host, for builtins.
    pub(super) fn host(&self) -> &Host {
        self.host
    }

    /// An error at the current line.
    pub(super) fn error(&self, message: impl Into<String>) -> PyError {
        self.err(message)
    }

    /// Records a change of a lazy value at the current line.
    pub(super) fn lazy_changed(&mut self, lazy: &Value) {
        if let Value::Lazy(l) = lazy {
            l.borrow_mut().line = self.line;
        }
        self.touch(lazy);
    }

    /// Items of an iterable argument, or a TypeError.
    pub(super) fn items_of(&self, value: &Value) -> R<Vec<Value>> {
        match value {
            Value::Environ => Ok(self.host.environ.keys().map(|k| Value::str(k)).collect()),
            v => v
                .items()
                .ok_or_else(|| self.err(format!("{} is not iterable", describe(v)))),
        }
    }

    /// Python's ordering, for builtins (`sorted`, `min`, `max`).
    pub(super) fn order(&self, l: &Value, r: &Value) -> R<std::cmp::Ordering> {
        order(l, r).ok_or_else(|| {
            self.err(format!(
                "TypeError: '<' not supported between instances of '{}' and '{}'",
                l.type_name(),
                r.type_name()
            ))
        })
    }
}

/// Python's `<` on values of comparable types.
fn order(l: &Value, r: &Value) -> Option<std::cmp::Ordering> {
    match (l, r) {
        (Value::Str(a), Value::Str(b)) => Some(a.cmp(b)),
        (Value::List(a), Value::List(b)) => seq_order(&a.borrow(), &b.borrow()),
        (Value::Tuple(a), Value::Tuple(b)) => seq_order(a, b),
        _ => match (l.as_number()?, r.as_number()?) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.float().partial_cmp(&b.float()),
        },
    }
}

fn seq_order(a: &[Value], b: &[Value]) -> Option<std::cmp::Ordering> {
    for (x, y) in a.iter().zip(b) {
        if !x.py_eq(y) {
            return order(x, y);
        }
    }
    Some(a.len().cmp(&b.len()))
}

/// Sets `key` in an insertion-ordered dict.
pub(super) fn dict_set(map: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    if let Some(slot) = map.iter_mut().find(|(k, _)| k.py_eq(&key)) {
        slot.1 = value;
    } else {
        map.push((key, value));
    }
}

/// Looks `key` up in an insertion-ordered dict.
pub(super) fn dict_get(map: &[(Value, Value)], key: &Value) -> Option<Value> {
    map.iter()
        .find(|(k, _)| k.py_eq(key))
        .map(|(_, v)| v.clone())
}

fn starts_upper(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

fn environ_write() -> String {
    "changing os.environ is not supported: it would change the hub's own environment; set Spawner.environment, or the variable in the hub's service unit".to_owned()
}

/// A value as named in an error message.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Lazy(_) => "an option that is not set yet".to_owned(),
        Value::ClassRef(path) => format!("the imported Python name {path}"),
        Value::Function(name, line) => format!("the Python function {name} (line {line})"),
        Value::UserClass(name, line) => format!("the Python class {name} (line {line})"),
        Value::Module(name) => format!("the module {name}"),
        Value::Section(name) => format!("c.{name}"),
        Value::Config => "c".to_owned(),
        other => format!("a value of type {}", other.type_name()),
    }
}

/// The value `import name` binds (`os`, `os.path`, `sys`, or an opaque module).
fn module_value(name: &str) -> Value {
    Value::Module(Rc::from(name))
}

/// Names of the methods each type has here.
pub(super) fn methods_of(value: &Value) -> &'static [&'static str] {
    match value {
        Value::Str(_) => &[
            "strip",
            "lstrip",
            "rstrip",
            "split",
            "rsplit",
            "join",
            "lower",
            "upper",
            "replace",
            "startswith",
            "endswith",
            "format",
            "splitlines",
            "title",
            "capitalize",
            "find",
            "count",
            "isdigit",
            "partition",
            "rpartition",
            "removeprefix",
            "removesuffix",
            "zfill",
        ],
        Value::List(_) => &[
            "append", "extend", "insert", "pop", "remove", "index", "count", "copy", "sort",
            "reverse", "clear",
        ],
        Value::Tuple(_) => &["index", "count"],
        Value::Dict(_) => &[
            "get",
            "items",
            "keys",
            "values",
            "update",
            "setdefault",
            "pop",
            "copy",
            "clear",
        ],
        Value::Set(_) => &[
            "add",
            "update",
            "union",
            "discard",
            "remove",
            "copy",
            "intersection",
            "difference",
        ],
        Value::Lazy(_) => &["append", "extend", "prepend", "insert", "update", "add"],
        _ => &[],
    }
}

/// Built-in functions and module functions the subset has.
pub(super) const BUILTINS: &[&str] = &[
    "get_config",
    "len",
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "set",
    "tuple",
    "range",
    "sorted",
    "min",
    "max",
    "abs",
    "any",
    "all",
    "print",
    "enumerate",
    "zip",
    "repr",
    "sum",
    "reversed",
    "round",
    "isinstance",
    "os.getenv",
    "os.getcwd",
    "os.path.join",
    "os.path.dirname",
    "os.path.basename",
    "os.path.abspath",
    "os.path.realpath",
    "os.path.normpath",
    "os.path.exists",
    "os.path.isfile",
    "os.path.isdir",
    "os.path.expanduser",
    "os.path.expandvars",
    "os.path.split",
];

/// Built-ins refused by name, with why.
const FORBIDDEN: &[(&str, &str)] = &[
    (
        "open",
        "ferrohub does not read files from a configuration; put the value in the file, or name the file in an option that takes a path",
    ),
    ("exec", "ferrohub runs no Python code"),
    ("eval", "ferrohub runs no Python code"),
    ("compile", "ferrohub runs no Python code"),
    ("__import__", "import os or sys with an import statement"),
    ("getattr", "ferrohub runs no Python code"),
    ("setattr", "ferrohub runs no Python code"),
    ("input", "a configuration cannot ask questions"),
    ("globals", "ferrohub runs no Python code"),
    ("locals", "ferrohub runs no Python code"),
    ("vars", "ferrohub runs no Python code"),
    ("type", "ferrohub runs no Python code"),
];

/// Lexical normalization of a path, as `os.path.normpath`.
pub(super) fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..".to_owned());
                }
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// `os.path.abspath` relative to the host's working directory.
pub(super) fn abspath(host: &Host, path: &str) -> String {
    if path.starts_with('/') {
        normpath(path)
    } else {
        let joined: PathBuf = host.cwd.join(path);
        normpath(&joined.to_string_lossy())
    }
}
