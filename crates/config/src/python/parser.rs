//! A recursive-descent parser from tokens to a small syntax tree. It knows
//! more syntax than the evaluator runs (`def`, `class`, `lambda`, `while`,
//! `try`, ...) so that those are refused by name and line instead of as a
//! syntax error.

use super::PyError;
use super::lexer::{Tok, Token, tokenize, unescape};

/// A statement and the line it starts on.
#[derive(Debug, Clone)]
pub(super) struct Stmt {
    pub(super) line: usize,
    pub(super) kind: StmtKind,
}

/// The statements of the subset.
#[derive(Debug, Clone)]
pub(super) enum StmtKind {
    /// An expression evaluated for its effect (`c.Spawner.args.append('x')`).
    Expr(Expr),
    /// `a = b = value`.
    Assign(Vec<Expr>, Expr),
    /// `target op= value`; `op` without the `=`.
    AugAssign(Expr, &'static str, Expr),
    /// `import a.b as c, d`.
    Import(Vec<(String, Option<String>)>),
    /// `from a.b import c as d, e`.
    FromImport(String, Vec<(String, Option<String>)>),
    /// `if`/`elif` branches, then `else`.
    If(Vec<(Expr, Vec<Stmt>)>, Vec<Stmt>),
    /// `for target in iter:`.
    For(Expr, Expr, Vec<Stmt>),
    /// `pass`.
    Pass,
    /// `def name(...)`: body kept unread.
    Def(String),
    /// `class Name(...)`: body kept unread.
    Class(String),
    /// A statement the subset does not run (`while`, `try`, `with`, ...).
    Unsupported(String),
}

/// Expressions.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    Name(String),
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// f-string: literal text and `(expression, conversion, format spec)`.
    FStr(Vec<FPart>),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    /// `{k: v, **other}`: `None` key means `**value`.
    Dict(Vec<(Option<Expr>, Expr)>),
    /// `*value` inside a list, tuple, set or call.
    Starred(Box<Expr>),
    Attr(Box<Expr>, String),
    Subscript(Box<Expr>, Box<Expr>),
    Slice(Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    /// Call: function, positional arguments, keyword arguments.
    Call(Box<Expr>, Vec<Expr>, Vec<(String, Expr)>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    /// `a < b <= c`.
    Compare(Box<Expr>, Vec<(&'static str, Expr)>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IfElse(Box<Expr>, Box<Expr>, Box<Expr>),
    Lambda,
    /// `[elt for target in iter if cond]` (also set, generator and dict forms).
    Comprehension(Box<Comprehension>),
}

/// One piece of an f-string.
#[derive(Debug, Clone)]
pub(super) enum FPart {
    Text(String),
    Field(Expr, Option<char>, String),
}

/// A comprehension with one `for` and any number of `if`s.
#[derive(Debug, Clone)]
pub(super) struct Comprehension {
    pub(super) kind: CompKind,
    pub(super) element: Expr,
    /// The value of a dict comprehension.
    pub(super) value: Option<Expr>,
    pub(super) target: Expr,
    pub(super) iter: Expr,
    pub(super) conditions: Vec<Expr>,
}

/// What a comprehension builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CompKind {
    List,
    Set,
    Dict,
}

/// Parses a whole file.
pub(super) fn parse(src: &str) -> Result<Vec<Stmt>, PyError> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        nesting: 0,
    };
    let mut out = Vec::new();
    while !p.at(&Tok::Eof) {
        p.statement(&mut out)?;
    }
    Ok(out)
}

/// A call's positional and keyword arguments (`""` for `**mapping`).
type CallArguments = (Vec<Expr>, Vec<(String, Expr)>);

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// How deeply expressions nest right now (bounded by [`MAX_NESTING`]).
    nesting: usize,
}

/// The deepest nesting of expressions read: far beyond any configuration,
/// and low enough that reading and evaluating never exhaust the stack.
const MAX_NESTING: usize = 100;

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

impl Parser {
    /// Runs `read` one level deeper, refusing beyond [`MAX_NESTING`].
    fn nested(&mut self, read: fn(&mut Self) -> Result<Expr, PyError>) -> Result<Expr, PyError> {
        if self.nesting >= MAX_NESTING {
            return Err(PyError::new(self.line(), "expression nested too deeply"));
        }
        self.nesting += 1;
        let result = read(self);
        self.nesting -= 1;
        result
    }

    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)].tok
    }

    fn line(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].line
    }

    fn next(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn at(&self, tok: &Tok) -> bool {
        self.peek() == tok
    }

    fn at_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn at_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if self.at_op(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), PyError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("expected '{op}'")))
        }
    }

    fn unexpected(&self, what: &str) -> PyError {
        let found = match self.peek() {
            Tok::Name(n) => format!("'{n}'"),
            Tok::Int(i) => i.to_string(),
            Tok::Float(f) => f.to_string(),
            Tok::Str { .. } => "a string".to_owned(),
            Tok::Op(o) => format!("'{o}'"),
            Tok::Newline => "end of line".to_owned(),
            Tok::Indent => "an indented block".to_owned(),
            Tok::Dedent => "end of block".to_owned(),
            Tok::Eof => "end of file".to_owned(),
        };
        PyError::syntax(self.line(), &format!("{what}, found {found}"))
    }

    fn name(&mut self) -> Result<String, PyError> {
        match self.peek().clone() {
            Tok::Name(n) if !KEYWORDS.contains(&n.as_str()) => {
                self.pos += 1;
                Ok(n)
            }
            _ => Err(self.unexpected("expected a name")),
        }
    }

    fn end_of_line(&mut self) -> Result<(), PyError> {
        if self.eat_op(";") && !self.at(&Tok::Newline) {
            return Ok(());
        }
        match self.next() {
            Tok::Newline | Tok::Eof => Ok(()),
            _ => {
                self.pos = self.pos.saturating_sub(1);
                Err(self.unexpected("expected end of line"))
            }
        }
    }

    /// Skips the rest of a compound statement: its header and its block.
    fn skip_block(&mut self) -> Result<(), PyError> {
        let mut depth = 0usize;
        loop {
            match self.next() {
                Tok::Op("(" | "[" | "{") => depth += 1,
                Tok::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
                Tok::Newline if depth == 0 => break,
                Tok::Eof => return Ok(()),
                _ => {}
            }
        }
        if self.at(&Tok::Indent) {
            let mut level = 0usize;
            loop {
                match self.next() {
                    Tok::Indent => level += 1,
                    Tok::Dedent => {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    Tok::Eof => break,
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// A block after `:`: an indented suite or statements on the same line.
    fn block(&mut self) -> Result<Vec<Stmt>, PyError> {
        self.expect_op(":")?;
        let mut out = Vec::new();
        if self.at(&Tok::Newline) {
            self.next();
            if !self.at(&Tok::Indent) {
                return Err(self.unexpected("expected an indented block"));
            }
            self.next();
            while !self.at(&Tok::Dedent) && !self.at(&Tok::Eof) {
                self.statement(&mut out)?;
            }
            self.next();
        } else {
            self.simple_statements(&mut out)?;
        }
        Ok(out)
    }

    fn statement(&mut self, out: &mut Vec<Stmt>) -> Result<(), PyError> {
        let line = self.line();
        let keyword = match self.peek() {
            Tok::Name(n) => n.clone(),
            Tok::Op("@") => {
                // A decorator belongs to the def or class that follows.
                self.skip_line();
                return Ok(());
            }
            _ => String::new(),
        };
        match keyword.as_str() {
            "if" => {
                self.next();
                let mut branches = vec![(self.expression()?, self.block()?)];
                let mut otherwise = Vec::new();
                loop {
                    if self.eat_kw("elif") {
                        branches.push((self.expression()?, self.block()?));
                    } else if self.eat_kw("else") {
                        otherwise = self.block()?;
                        break;
                    } else {
                        break;
                    }
                }
                out.push(Stmt {
                    line,
                    kind: StmtKind::If(branches, otherwise),
                });
            }
            "for" => {
                self.next();
                let target = self.target_list()?;
                if !self.eat_kw("in") {
                    return Err(self.unexpected("expected 'in'"));
                }
                let iter = self.expression_list()?;
                let body = self.block()?;
                if self.at_kw("else") {
                    return Err(PyError::unsupported(self.line(), "'for ... else'"));
                }
                out.push(Stmt {
                    line,
                    kind: StmtKind::For(target, iter, body),
                });
            }
            "def" | "class" | "async" => {
                self.next();
                if keyword == "async" {
                    self.eat_kw("def");
                }
                let name = self.name()?;
                self.skip_block()?;
                out.push(Stmt {
                    line,
                    kind: if keyword == "class" {
                        StmtKind::Class(name)
                    } else {
                        StmtKind::Def(name)
                    },
                });
            }
            "while" | "try" | "with" => {
                self.skip_block()?;
                // `try` comes with except/else/finally clauses.
                while ["except", "else", "finally"]
                    .iter()
                    .any(|kw| self.at_kw(kw))
                {
                    self.skip_block()?;
                }
                out.push(Stmt {
                    line,
                    kind: StmtKind::Unsupported(keyword),
                });
            }
            _ => self.simple_statements(out)?,
        }
        Ok(())
    }

    fn skip_line(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.next() {
                Tok::Op("(" | "[" | "{") => depth += 1,
                Tok::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
                Tok::Newline if depth == 0 => break,
                Tok::Eof => break,
                _ => {}
            }
        }
    }

    fn simple_statements(&mut self, out: &mut Vec<Stmt>) -> Result<(), PyError> {
        loop {
            let line = self.line();
            let kind = self.simple_statement()?;
            out.push(Stmt { line, kind });
            if self.eat_op(";") && !self.at(&Tok::Newline) && !self.at(&Tok::Eof) {
                continue;
            }
            return self.end_of_line();
        }
    }

    fn simple_statement(&mut self) -> Result<StmtKind, PyError> {
        let keyword = match self.peek() {
            Tok::Name(n) => n.clone(),
            _ => String::new(),
        };
        match keyword.as_str() {
            "pass" => {
                self.next();
                Ok(StmtKind::Pass)
            }
            "import" => {
                self.next();
                let mut names = Vec::new();
                loop {
                    let module = self.dotted_name()?;
                    let alias = if self.eat_kw("as") {
                        Some(self.name()?)
                    } else {
                        None
                    };
                    names.push((module, alias));
                    if !self.eat_op(",") {
                        break;
                    }
                }
                Ok(StmtKind::Import(names))
            }
            "from" => {
                self.next();
                let mut module = String::new();
                while self.eat_op(".") {
                    module.push('.');
                }
                if !self.at_kw("import") {
                    module.push_str(&self.dotted_name()?);
                }
                if !self.eat_kw("import") {
                    return Err(self.unexpected("expected 'import'"));
                }
                let parens = self.eat_op("(");
                let mut names = Vec::new();
                loop {
                    if self.eat_op("*") {
                        names.push(("*".to_owned(), None));
                    } else {
                        let name = self.name()?;
                        let alias = if self.eat_kw("as") {
                            Some(self.name()?)
                        } else {
                            None
                        };
                        names.push((name, alias));
                    }
                    if !self.eat_op(",") || (parens && self.at_op(")")) {
                        break;
                    }
                }
                if parens {
                    self.expect_op(")")?;
                }
                Ok(StmtKind::FromImport(module, names))
            }
            "del" | "global" | "nonlocal" | "assert" | "raise" | "return" | "yield" | "break"
            | "continue" => {
                self.skip_to_end_of_statement();
                Ok(StmtKind::Unsupported(keyword))
            }
            _ => {
                let first = self.expression_list_star()?;
                if let Tok::Op(op) = self.peek().clone()
                    && op.len() >= 2
                    && op.ends_with('=')
                    && !["==", "!=", "<=", ">=", ":="].contains(&op)
                {
                    self.next();
                    let value = self.expression_list_star()?;
                    return Ok(StmtKind::AugAssign(first, &op[..op.len() - 1], value));
                }
                if self.at_op(":") {
                    // An annotation: `x: int = 1`.
                    self.next();
                    self.expression()?;
                    if !self.at_op("=") {
                        return Ok(StmtKind::Pass);
                    }
                }
                if !self.at_op("=") {
                    return Ok(StmtKind::Expr(first));
                }
                let mut targets = vec![first];
                while self.eat_op("=") {
                    targets.push(self.expression_list_star()?);
                }
                let value = targets.pop().unwrap_or(Expr::None);
                Ok(StmtKind::Assign(targets, value))
            }
        }
    }

    fn skip_to_end_of_statement(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Tok::Op("(" | "[" | "{") => depth += 1,
                Tok::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
                Tok::Op(";") if depth == 0 => return,
                Tok::Newline | Tok::Eof if depth == 0 => return,
                _ => {}
            }
            self.next();
        }
    }

    fn dotted_name(&mut self) -> Result<String, PyError> {
        let mut name = self.name()?;
        while self.eat_op(".") {
            name.push('.');
            name.push_str(&self.name()?);
        }
        Ok(name)
    }

    /// `a, b` as an assignment or loop target.
    fn target_list(&mut self) -> Result<Expr, PyError> {
        let first = self.or_expr()?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_kw("in") || self.at_op("=") {
                break;
            }
            items.push(self.or_expr()?);
        }
        Ok(Expr::Tuple(items))
    }

    /// `a, b, *c` (a tuple when there is a comma).
    fn expression_list_star(&mut self) -> Result<Expr, PyError> {
        let first = self.star_or_expression()?;
        if !self.at_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.ends_expression_list() {
                break;
            }
            items.push(self.star_or_expression()?);
        }
        Ok(Expr::Tuple(items))
    }

    fn expression_list(&mut self) -> Result<Expr, PyError> {
        self.expression_list_star()
    }

    fn ends_expression_list(&self) -> bool {
        matches!(
            self.peek(),
            Tok::Newline | Tok::Eof | Tok::Op("=" | ")" | ":" | ";")
        ) || matches!(self.peek(), Tok::Op(o) if o.len() >= 2 && o.ends_with('='))
    }

    fn star_or_expression(&mut self) -> Result<Expr, PyError> {
        if self.eat_op("*") {
            return Ok(Expr::Starred(Box::new(self.or_expr()?)));
        }
        self.expression()
    }

    /// `x if c else y`, `lambda`, or a boolean expression.
    fn expression(&mut self) -> Result<Expr, PyError> {
        self.nested(Self::expression_inner)
    }

    fn expression_inner(&mut self) -> Result<Expr, PyError> {
        if self.eat_kw("lambda") {
            // Parameters and body are read but never run.
            let mut depth = 0usize;
            while !(self.at(&Tok::Eof) || depth == 0 && self.at_op(":")) {
                match self.next() {
                    Tok::Op("(" | "[" | "{") => depth += 1,
                    Tok::Op(")" | "]" | "}") => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            self.expect_op(":")?;
            self.expression()?;
            return Ok(Expr::Lambda);
        }
        let value = self.or_test()?;
        if self.eat_kw("if") {
            let condition = self.or_test()?;
            if !self.eat_kw("else") {
                return Err(self.unexpected("expected 'else'"));
            }
            let otherwise = self.expression()?;
            return Ok(Expr::IfElse(
                Box::new(condition),
                Box::new(value),
                Box::new(otherwise),
            ));
        }
        Ok(value)
    }

    fn or_test(&mut self) -> Result<Expr, PyError> {
        let mut left = self.and_test()?;
        while self.eat_kw("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and_test()?));
        }
        Ok(left)
    }

    fn and_test(&mut self) -> Result<Expr, PyError> {
        let mut left = self.not_test()?;
        while self.eat_kw("and") {
            left = Expr::And(Box::new(left), Box::new(self.not_test()?));
        }
        Ok(left)
    }

    fn not_test(&mut self) -> Result<Expr, PyError> {
        self.nested(Self::not_test_inner)
    }

    fn not_test_inner(&mut self) -> Result<Expr, PyError> {
        if self.eat_kw("not") {
            return Ok(Expr::Not(Box::new(self.not_test()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, PyError> {
        let left = self.or_expr()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op(o @ ("==" | "!=" | "<" | ">" | "<=" | ">=")) => {
                    let o = *o;
                    self.next();
                    o
                }
                Tok::Name(n) if n == "in" => {
                    self.next();
                    "in"
                }
                Tok::Name(n)
                    if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") =>
                {
                    self.next();
                    self.next();
                    "not in"
                }
                Tok::Name(n) if n == "is" => {
                    self.next();
                    if self.eat_kw("not") { "is not" } else { "is" }
                }
                _ => break,
            };
            rest.push((op, self.or_expr()?));
        }
        if rest.is_empty() {
            Ok(left)
        } else {
            Ok(Expr::Compare(Box::new(left), rest))
        }
    }

    fn binary_level(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Self) -> Result<Expr, PyError>,
    ) -> Result<Expr, PyError> {
        let mut left = next(self)?;
        loop {
            let Some(op) = ops.iter().find(|op| self.at_op(op)).copied() else {
                return Ok(left);
            };
            self.next();
            left = Expr::Binary(op, Box::new(left), Box::new(next(self)?));
        }
    }

    fn or_expr(&mut self) -> Result<Expr, PyError> {
        self.binary_level(&["|"], Self::xor_expr)
    }

    fn xor_expr(&mut self) -> Result<Expr, PyError> {
        self.binary_level(&["^"], Self::and_expr)
    }

    fn and_expr(&mut self) -> Result<Expr, PyError> {
        self.binary_level(&["&"], Self::shift_expr)
    }

    fn shift_expr(&mut self) -> Result<Expr, PyError> {
        self.binary_level(&["<<", ">>"], Self::arith_expr)
    }

    fn arith_expr(&mut self) -> Result<Expr, PyError> {
        self.binary_level(&["+", "-"], Self::term)
    }

    fn term(&mut self) -> Result<Expr, PyError> {
        self.binary_level(&["*", "/", "//", "%", "@"], Self::factor)
    }

    fn factor(&mut self) -> Result<Expr, PyError> {
        self.nested(Self::factor_inner)
    }

    fn factor_inner(&mut self) -> Result<Expr, PyError> {
        for op in ["-", "+", "~"] {
            if self.eat_op(op) {
                return Ok(Expr::Unary(op, Box::new(self.factor()?)));
            }
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, PyError> {
        let base = self.primary()?;
        if self.eat_op("**") {
            return Ok(Expr::Binary("**", Box::new(base), Box::new(self.factor()?)));
        }
        Ok(base)
    }

    fn primary(&mut self) -> Result<Expr, PyError> {
        let mut value = self.atom()?;
        loop {
            if self.eat_op(".") {
                value = Expr::Attr(Box::new(value), self.name()?);
            } else if self.eat_op("(") {
                let (args, kwargs) = self.call_arguments()?;
                value = Expr::Call(Box::new(value), args, kwargs);
            } else if self.eat_op("[") {
                let index = self.subscript()?;
                self.expect_op("]")?;
                value = Expr::Subscript(Box::new(value), Box::new(index));
            } else {
                return Ok(value);
            }
        }
    }

    fn subscript(&mut self) -> Result<Expr, PyError> {
        let part = |p: &mut Self| -> Result<Option<Box<Expr>>, PyError> {
            if p.at_op(":") || p.at_op("]") {
                Ok(None)
            } else {
                Ok(Some(Box::new(p.expression()?)))
            }
        };
        let start = part(self)?;
        if !self.eat_op(":") {
            let first = start.map_or(Expr::None, |b| *b);
            if self.at_op(",") {
                let mut items = vec![first];
                while self.eat_op(",") && !self.at_op("]") {
                    items.push(self.expression()?);
                }
                return Ok(Expr::Tuple(items));
            }
            return Ok(first);
        }
        let stop = part(self)?;
        let step = if self.eat_op(":") { part(self)? } else { None };
        Ok(Expr::Slice(start, stop, step))
    }

    fn call_arguments(&mut self) -> Result<CallArguments, PyError> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        while !self.eat_op(")") {
            if let (Tok::Name(n), Tok::Op("=")) = (self.peek().clone(), self.peek_at(1)) {
                self.next();
                self.next();
                kwargs.push((n, self.expression()?));
            } else if self.eat_op("**") {
                kwargs.push((String::new(), self.expression()?));
            } else {
                let arg = self.star_or_expression()?;
                if self.at_kw("for") {
                    let comp = self.comprehension(CompKind::List, arg, None)?;
                    args.push(comp);
                } else {
                    args.push(arg);
                }
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok((args, kwargs))
    }

    fn comprehension(
        &mut self,
        kind: CompKind,
        element: Expr,
        value: Option<Expr>,
    ) -> Result<Expr, PyError> {
        if !self.eat_kw("for") {
            return Err(self.unexpected("expected 'for'"));
        }
        let target = self.target_list()?;
        if !self.eat_kw("in") {
            return Err(self.unexpected("expected 'in'"));
        }
        let iter = self.or_test()?;
        let mut conditions = Vec::new();
        while self.eat_kw("if") {
            conditions.push(self.or_test()?);
        }
        if self.at_kw("for") {
            return Err(PyError::unsupported(
                self.line(),
                "a comprehension with more than one 'for'",
            ));
        }
        Ok(Expr::Comprehension(Box::new(Comprehension {
            kind,
            element,
            value,
            target,
            iter,
            conditions,
        })))
    }

    fn atom(&mut self) -> Result<Expr, PyError> {
        self.nested(Self::atom_inner)
    }

    fn atom_inner(&mut self) -> Result<Expr, PyError> {
        let line = self.line();
        match self.next() {
            Tok::Int(i) => Ok(Expr::Int(i)),
            Tok::Float(f) => Ok(Expr::Float(f)),
            Tok::Str { text, fstring, raw } => {
                let mut parts = Vec::new();
                let mut any_f = false;
                self.string_parts(&text, fstring, raw, line, &mut parts)?;
                any_f |= fstring;
                // Adjacent literals are one string.
                while let Tok::Str { text, fstring, raw } = self.peek().clone() {
                    let line = self.line();
                    self.next();
                    self.string_parts(&text, fstring, raw, line, &mut parts)?;
                    any_f |= fstring;
                }
                if any_f {
                    return Ok(Expr::FStr(parts));
                }
                let mut s = String::new();
                for part in parts {
                    if let FPart::Text(t) = part {
                        s.push_str(&t);
                    }
                }
                Ok(Expr::Str(s))
            }
            Tok::Name(n) => match n.as_str() {
                "None" => Ok(Expr::None),
                "True" => Ok(Expr::Bool(true)),
                "False" => Ok(Expr::Bool(false)),
                "yield" | "await" => Err(PyError::unsupported(line, &format!("'{n}'"))),
                _ if KEYWORDS.contains(&n.as_str()) => {
                    self.pos = self.pos.saturating_sub(1);
                    Err(self.unexpected("expected an expression"))
                }
                _ => Ok(Expr::Name(n)),
            },
            Tok::Op("(") => {
                if self.eat_op(")") {
                    return Ok(Expr::Tuple(Vec::new()));
                }
                let first = self.star_or_expression()?;
                if self.at_kw("for") {
                    // A generator expression: evaluated eagerly as a list.
                    let comp = self.comprehension(CompKind::List, first, None)?;
                    self.expect_op(")")?;
                    return Ok(comp);
                }
                if self.eat_op(")") {
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.at_op(")") {
                        break;
                    }
                    items.push(self.star_or_expression()?);
                }
                self.expect_op(")")?;
                Ok(Expr::Tuple(items))
            }
            Tok::Op("[") => {
                if self.eat_op("]") {
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.star_or_expression()?;
                if self.at_kw("for") {
                    let comp = self.comprehension(CompKind::List, first, None)?;
                    self.expect_op("]")?;
                    return Ok(comp);
                }
                let mut items = vec![first];
                while self.eat_op(",") {
                    if self.at_op("]") {
                        break;
                    }
                    items.push(self.star_or_expression()?);
                }
                self.expect_op("]")?;
                Ok(Expr::List(items))
            }
            Tok::Op("{") => self.brace(),
            Tok::Op("...") => Err(PyError::unsupported(line, "'...' (Ellipsis)")),
            _ => {
                self.pos = self.pos.saturating_sub(1);
                Err(self.unexpected("expected an expression"))
            }
        }
    }

    /// `{...}`: a dict, a set, or a comprehension of either.
    fn brace(&mut self) -> Result<Expr, PyError> {
        if self.eat_op("}") {
            return Ok(Expr::Dict(Vec::new()));
        }
        if self.eat_op("**") {
            let first = self.or_expr()?;
            return self.dict_rest(vec![(None, first)]);
        }
        let first = self.star_or_expression()?;
        if self.eat_op(":") {
            let value = self.expression()?;
            if self.at_kw("for") {
                let comp = self.comprehension(CompKind::Dict, first, Some(value))?;
                self.expect_op("}")?;
                return Ok(comp);
            }
            return self.dict_rest(vec![(Some(first), value)]);
        }
        if self.at_kw("for") {
            let comp = self.comprehension(CompKind::Set, first, None)?;
            self.expect_op("}")?;
            return Ok(comp);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_op("}") {
                break;
            }
            items.push(self.star_or_expression()?);
        }
        self.expect_op("}")?;
        Ok(Expr::Set(items))
    }

    fn dict_rest(&mut self, mut items: Vec<(Option<Expr>, Expr)>) -> Result<Expr, PyError> {
        while self.eat_op(",") {
            if self.at_op("}") {
                break;
            }
            if self.eat_op("**") {
                items.push((None, self.or_expr()?));
            } else {
                let key = self.expression()?;
                self.expect_op(":")?;
                items.push((Some(key), self.expression()?));
            }
        }
        self.expect_op("}")?;
        Ok(Expr::Dict(items))
    }

    /// Appends the pieces of one string literal.
    fn string_parts(
        &self,
        text: &str,
        fstring: bool,
        raw: bool,
        line: usize,
        parts: &mut Vec<FPart>,
    ) -> Result<(), PyError> {
        let literal = |s: &str| -> Result<String, PyError> {
            if raw {
                Ok(s.to_owned())
            } else {
                unescape(s, line)
            }
        };
        if !fstring {
            parts.push(FPart::Text(literal(text)?));
            return Ok(());
        }
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let mut pending = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c == '{' && chars.get(i + 1) == Some(&'{') {
                pending.push('{');
                i += 2;
                continue;
            }
            if c == '}' && chars.get(i + 1) == Some(&'}') {
                pending.push('}');
                i += 2;
                continue;
            }
            if c == '}' {
                return Err(PyError::syntax(line, "f-string: single '}' is not allowed"));
            }
            if c != '{' {
                pending.push(c);
                i += 1;
                continue;
            }
            if !pending.is_empty() {
                parts.push(FPart::Text(literal(&pending)?));
                pending.clear();
            }
            // Find the end of the field, skipping nested brackets and strings.
            let mut j = i + 1;
            let mut depth = 0usize;
            let mut quote: Option<char> = None;
            let mut expr_end = None;
            let mut conversion = None;
            while j < chars.len() {
                let d = chars[j];
                if let Some(q) = quote {
                    if d == q {
                        quote = None;
                    }
                } else if d == '\'' || d == '"' {
                    quote = Some(d);
                } else if d == '(' || d == '[' || d == '{' {
                    depth += 1;
                } else if (d == ')' || d == ']' || d == '}') && depth > 0 {
                    depth -= 1;
                } else if depth == 0 && (d == '}' || d == ':' || d == '!') {
                    if d == '!' && chars.get(j + 1) == Some(&'=') {
                        j += 2;
                        continue;
                    }
                    expr_end.get_or_insert(j);
                    if d == '!' {
                        conversion = chars.get(j + 1).copied();
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            let Some(end) = expr_end else {
                return Err(PyError::syntax(line, "f-string: expecting '}'"));
            };
            let source: String = chars[i + 1..end].iter().collect();
            let mut spec = String::new();
            if chars.get(j) == Some(&':') {
                j += 1;
                while j < chars.len() && chars[j] != '}' {
                    spec.push(chars[j]);
                    j += 1;
                }
            }
            if chars.get(j) != Some(&'}') {
                return Err(PyError::syntax(line, "f-string: expecting '}'"));
            }
            let source = source.trim_end();
            let (source, debug) = match source.strip_suffix('=') {
                Some(s) => (s, true),
                None => (source, false),
            };
            let expr = parse_expression(source, line)?;
            if debug {
                parts.push(FPart::Text(format!("{source}=")));
            }
            let conversion = conversion.or(if debug && spec.is_empty() {
                Some('r')
            } else {
                None
            });
            parts.push(FPart::Field(expr, conversion, spec));
            i = j + 1;
        }
        if !pending.is_empty() {
            parts.push(FPart::Text(literal(&pending)?));
        }
        Ok(())
    }
}

/// Parses one expression (an f-string field), reporting errors at `line`.
fn parse_expression(src: &str, line: usize) -> Result<Expr, PyError> {
    let tokens = tokenize(&format!("({src})")).map_err(|e| e.at(line))?;
    let mut p = Parser {
        tokens,
        pos: 0,
        nesting: 0,
    };
    let expr = p.expression().map_err(|e| e.at(line))?;
    if !matches!(p.peek(), Tok::Newline | Tok::Eof) {
        return Err(PyError::syntax(line, "f-string: invalid expression"));
    }
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_of_a_config_file() {
        let src = "c = get_config()  # noqa\nimport os, sys\nfrom os import environ as e\n\
                   c.A.b = 1\nc.A.l += [1]\nif x:\n    pass\nelif y: z = 1\nelse:\n    pass\n\
                   for i in [1, 2]:\n    c.A.l.append(i)\ndef hook(spawner):\n    return 1\n\
                   class X(Y):\n    pass\nwhile True:\n    pass\n";
        let stmts = parse(src).unwrap();
        let kinds: Vec<_> = stmts
            .iter()
            .map(|s| {
                format!("{}:{:?}", s.line, s.kind)
                    .chars()
                    .take(12)
                    .collect::<String>()
            })
            .collect();
        assert_eq!(stmts.len(), 10, "{kinds:?}");
        assert!(matches!(stmts[4].kind, StmtKind::AugAssign(_, "+", _)));
        assert!(matches!(&stmts[7].kind, StmtKind::Def(n) if n == "hook"));
        assert_eq!(stmts[7].line, 13);
        assert!(matches!(&stmts[8].kind, StmtKind::Class(n) if n == "X"));
        assert!(matches!(&stmts[9].kind, StmtKind::Unsupported(k) if k == "while"));
    }

    #[test]
    fn fstring_fields() {
        let stmts = parse("x = f'a{b!r:>4}{{c}}' 'd'\n").unwrap();
        let StmtKind::Assign(_, Expr::FStr(parts)) = &stmts[0].kind else {
            panic!("{stmts:?}");
        };
        assert_eq!(parts.len(), 4);
        assert!(matches!(&parts[1], FPart::Field(_, Some('r'), s) if s == ">4"));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse("a = 1\nb = (2,\nc = 3\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let err = parse("a = 1\nb = = 2\n").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
