//! Tokens of the Python subset, with Python's line structure: `Newline` ends a
//! logical line, `Indent`/`Dedent` open and close blocks, brackets and a
//! trailing backslash join physical lines. Every token carries its line, so
//! each refusal can name it.

use super::PyError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// An identifier or keyword.
    Name(String),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal; for an f-string `text` is the body as written
    /// (escapes not yet applied), split by the parser.
    Str {
        text: String,
        fstring: bool,
        raw: bool,
    },
    /// An operator or delimiter.
    Op(&'static str),
    /// End of a logical line.
    Newline,
    /// A block opens.
    Indent,
    /// A block closes.
    Dedent,
    /// End of the file.
    Eof,
}

/// A token and the line it starts on (from 1).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) line: usize,
}

/// Longest first, so `**=` is not read as `**` then `=`.
const OPS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "**", "//", "==", "!=", "<=", ">=", "->", "+=", "-=", "*=",
    "/=", "%=", "|=", "&=", "^=", ":=", "<<", ">>", "+", "-", "*", "/", "%", "|", "&", "^", "~",
    "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "=", "@",
];

/// Splits `src` into tokens.
pub(super) fn tokenize(src: &str) -> Result<Vec<Token>, PyError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut indents = vec![0usize];
    let mut depth = 0usize;
    // Open brackets and their lines, to name an unclosed one as Python does.
    let mut open: Vec<(&'static str, usize)> = Vec::new();
    let mut line = 1usize;
    let mut i = 0usize;
    let mut at_line_start = true;
    while i < chars.len() {
        if at_line_start && depth == 0 {
            // Measure the indentation; skip blank and comment-only lines.
            let mut col = 0;
            let mut j = i;
            while j < chars.len() && (chars[j] == ' ' || chars[j] == '\t') {
                col = if chars[j] == '\t' {
                    (col / 8 + 1) * 8
                } else {
                    col + 1
                };
                j += 1;
            }
            if j >= chars.len() {
                break;
            }
            if chars[j] == '#' || chars[j] == '\n' || chars[j] == '\r' {
                while j < chars.len() && chars[j] != '\n' {
                    j += 1;
                }
                i = j + 1;
                line += 1;
                continue;
            }
            if chars[j] == '\\' && chars.get(j + 1) == Some(&'\n') {
                return Err(PyError::syntax(line, "unexpected line continuation"));
            }
            let current = indents.last().copied().unwrap_or(0);
            if col > current {
                indents.push(col);
                out.push(Token {
                    tok: Tok::Indent,
                    line,
                });
            } else {
                while col < indents.last().copied().unwrap_or(0) {
                    indents.pop();
                    out.push(Token {
                        tok: Tok::Dedent,
                        line,
                    });
                }
                if col != indents.last().copied().unwrap_or(0) {
                    return Err(PyError::syntax(
                        line,
                        "unindent does not match any outer indentation level",
                    ));
                }
            }
            i = j;
            at_line_start = false;
        }
        let c = chars[i];
        match c {
            '\n' => {
                if depth == 0 {
                    out.push(Token {
                        tok: Tok::Newline,
                        line,
                    });
                    at_line_start = true;
                }
                line += 1;
                i += 1;
            }
            ' ' | '\t' | '\r' | '\x0c' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                line += 1;
                i += 2;
            }
            '\\' if chars.get(i + 1) == Some(&'\r') && chars.get(i + 2) == Some(&'\n') => {
                line += 1;
                i += 3;
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let (tok, next) = number(&chars, i, line)?;
                out.push(Token { tok, line });
                i = next;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if matches!(chars.get(i), Some('\'' | '"')) && is_string_prefix(&word) {
                    let lower = word.to_ascii_lowercase();
                    let start_line = line;
                    let (text, next, lines) = string_body(&chars, i, line)?;
                    if lower.contains('b') {
                        return Err(PyError::new(
                            start_line,
                            "bytes literals (b'...') are not supported; use a str",
                        ));
                    }
                    out.push(Token {
                        tok: Tok::Str {
                            text,
                            fstring: lower.contains('f'),
                            raw: lower.contains('r'),
                        },
                        line: start_line,
                    });
                    line += lines;
                    i = next;
                } else {
                    out.push(Token {
                        tok: Tok::Name(word),
                        line,
                    });
                }
            }
            '\'' | '"' => {
                let start_line = line;
                let (text, next, lines) = string_body(&chars, i, line)?;
                out.push(Token {
                    tok: Tok::Str {
                        text,
                        fstring: false,
                        raw: false,
                    },
                    line: start_line,
                });
                line += lines;
                i = next;
            }
            _ => {
                let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
                let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) else {
                    return Err(PyError::syntax(line, &format!("invalid character {c:?}")));
                };
                match *op {
                    "(" | "[" | "{" => {
                        depth += 1;
                        open.push((op, line));
                    }
                    ")" | "]" | "}" => {
                        depth = depth.saturating_sub(1);
                        open.pop();
                    }
                    _ => {}
                }
                out.push(Token {
                    tok: Tok::Op(op),
                    line,
                });
                i += op.len();
            }
        }
    }
    if let Some((bracket, opened)) = open.first() {
        return Err(PyError::syntax(
            *opened,
            &format!("'{bracket}' was never closed"),
        ));
    }
    if !matches!(
        out.last(),
        None | Some(Token {
            tok: Tok::Newline,
            ..
        })
    ) {
        out.push(Token {
            tok: Tok::Newline,
            line,
        });
    }
    while indents.len() > 1 {
        indents.pop();
        out.push(Token {
            tok: Tok::Dedent,
            line,
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        line,
    });
    Ok(out)
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "f" | "b" | "rf" | "fr" | "br" | "rb"
    )
}

/// Reads a quoted body starting at the quote `chars[i]`; returns the text
/// between the quotes (escapes kept), the index after the closing quote and
/// how many newlines it spanned.
fn string_body(chars: &[char], i: usize, line: usize) -> Result<(String, usize, usize), PyError> {
    let quote = chars[i];
    let triple = chars.get(i + 1) == Some(&quote) && chars.get(i + 2) == Some(&quote);
    let mut j = if triple { i + 3 } else { i + 1 };
    let mut text = String::new();
    let mut lines = 0;
    loop {
        let Some(&c) = chars.get(j) else {
            return Err(PyError::syntax(line, "unterminated string literal"));
        };
        if c == '\\'
            && let Some(&next) = chars.get(j + 1)
        {
            text.push(c);
            text.push(next);
            if next == '\n' {
                lines += 1;
            }
            j += 2;
            continue;
        }
        if c == quote {
            if !triple {
                return Ok((text, j + 1, lines));
            }
            if chars.get(j + 1) == Some(&quote) && chars.get(j + 2) == Some(&quote) {
                return Ok((text, j + 3, lines));
            }
        }
        if c == '\n' {
            if !triple {
                return Err(PyError::syntax(line, "unterminated string literal"));
            }
            lines += 1;
        }
        text.push(c);
        j += 1;
    }
}

/// Applies Python's backslash escapes to a (non-raw) string body.
pub(super) fn unescape(text: &str, line: usize) -> Result<String, PyError> {
    let mut out = String::with_capacity(text.len());
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(e) = it.next() else {
            out.push('\\');
            break;
        };
        match e {
            '\n' => {}
            '\\' => out.push('\\'),
            '\'' => out.push('\''),
            '"' => out.push('"'),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '0' => out.push('\0'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            'x' | 'u' | 'U' => {
                let len = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let hex: String = (0..len).filter_map(|_| it.next()).collect();
                let ch = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| PyError::syntax(line, &format!("bad escape \\{e}{hex}")))?;
                out.push(ch);
            }
            other => {
                // Python keeps unknown escapes as written.
                out.push('\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

fn number(chars: &[char], start: usize, line: usize) -> Result<(Tok, usize), PyError> {
    let mut i = start;
    let radix = match (chars.get(i), chars.get(i + 1).map(char::to_ascii_lowercase)) {
        (Some('0'), Some('x')) => 16,
        (Some('0'), Some('o')) => 8,
        (Some('0'), Some('b')) => 2,
        _ => 10,
    };
    if radix != 10 {
        i += 2;
        let begin = i;
        while i < chars.len() && (chars[i].is_digit(radix) || chars[i] == '_') {
            i += 1;
        }
        let digits: String = chars[begin..i].iter().filter(|c| **c != '_').collect();
        let value = i64::from_str_radix(&digits, radix)
            .map_err(|_| PyError::syntax(line, "invalid or too large integer literal"))?;
        return Ok((Tok::Int(value), i));
    }
    let mut is_float = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || c == '_' {
            i += 1;
        } else if c == '.' && !is_float {
            is_float = true;
            i += 1;
        } else if (c == 'e' || c == 'E')
            && chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_digit() || *n == '+' || *n == '-')
        {
            is_float = true;
            i += 2;
        } else {
            break;
        }
    }
    let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
    if chars.get(i).is_some_and(|c| *c == 'j' || *c == 'J') {
        return Err(PyError::new(line, "complex numbers are not supported"));
    }
    if is_float {
        let value = text
            .parse::<f64>()
            .map_err(|_| PyError::syntax(line, "invalid float literal"))?;
        Ok((Tok::Float(value), i))
    } else {
        let value = text.parse::<i64>().map_err(|_| {
            PyError::new(line, "integer literal too large (ferrohub keeps 64 bits)")
        })?;
        Ok((Tok::Int(value), i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn blocks_and_brackets() {
        let t = toks("if x:\n    y = [1,\n  2]\nz = 3\n");
        assert!(t.contains(&Tok::Indent));
        assert!(t.contains(&Tok::Dedent));
        // The list spans two physical lines but is one logical line.
        assert_eq!(t.iter().filter(|t| **t == Tok::Newline).count(), 3);
    }

    #[test]
    fn strings_and_numbers() {
        let t = toks("a = r'\\d' + '''x\ny''' + f\"{b}\" + 0x10 + 1_000 + 2.5e3\n");
        assert!(t.contains(&Tok::Str {
            text: "\\d".into(),
            fstring: false,
            raw: true
        }));
        assert!(t.contains(&Tok::Str {
            text: "x\ny".into(),
            fstring: false,
            raw: false
        }));
        assert!(t.contains(&Tok::Int(16)));
        assert!(t.contains(&Tok::Int(1000)));
        assert!(t.contains(&Tok::Float(2500.0)));
        assert_eq!(unescape("a\\tb\\n\\x41\\q", 1).unwrap(), "a\tb\nA\\q");
    }

    #[test]
    fn lines_are_counted_across_triple_quotes() {
        let tokens = tokenize("a = '''\n\n'''\nb = 1\n").unwrap();
        let b = tokens
            .iter()
            .find(|t| t.tok == Tok::Name("b".into()))
            .unwrap();
        assert_eq!(b.line, 4);
    }
}
