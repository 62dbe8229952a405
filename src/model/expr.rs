//! Rule expressions over options: `!mmu`, `smp && arch == arm`,
//! `mmu && (arch != arm || smp)`, `profile == release`, `true`.
//!
//! Grammar (lowest precedence first):
//! `or := and ("||" and)*`, `and := unary ("&&" unary)*`,
//! `unary := "!" unary | cmp`, `cmp := atom (("==" | "!=") atom)?`,
//! `atom := ident | "(" or ")"`. An identifier names an option, `arch` or
//! `profile` (its value) or is a literal word (`true`, `false`, a choice
//! value). This module parses and evaluates; it does not know the config.
use std::collections::BTreeSet;

use super::Value;

/// A parsed expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    /// A name: an option's value, or a literal word.
    Ident(String),
    /// Logical not.
    Not(Box<Expr>),
    /// Logical and.
    And(Box<Expr>, Box<Expr>),
    /// Logical or.
    Or(Box<Expr>, Box<Expr>),
    /// Equality (`negate` for `!=`).
    Eq(Box<Expr>, Box<Expr>, bool),
}

/// A parse error: the message and the byte offset in the expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// What is wrong.
    pub(crate) message: String,
    /// Byte offset of the problem.
    pub(crate) offset: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Not,
    And,
    Or,
    EqEq,
    Ne,
    LParen,
    RParen,
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let two = bytes.get(i..i + 2);
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'&' if two == Some(b"&&") => Tok::And,
            b'|' if two == Some(b"||") => Tok::Or,
            b'=' if two == Some(b"==") => Tok::EqEq,
            b'!' if two == Some(b"!=") => Tok::Ne,
            b'!' => Tok::Not,
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'.' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'-' | b'.'))
                {
                    i += 1;
                }
                out.push((Tok::Ident(src[start..i].to_owned()), start));
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(ParseError {
                    message: format!("unexpected character `{ch}`"),
                    offset: i,
                });
            }
        };
        let len = if matches!(tok, Tok::And | Tok::Or | Tok::EqEq | Tok::Ne) {
            2
        } else {
            1
        };
        out.push((tok, i));
        i += len;
    }
    Ok(out)
}

/// Nesting deeper than this is refused (no stack overflow on hostile input).
const MAX_DEPTH: usize = 64;

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.1)
    }

    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            offset: self.offset(),
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            lhs = Expr::Or(Box::new(lhs), Box::new(self.and()?));
        }
        Ok(lhs)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            lhs = Expr::And(Box::new(lhs), Box::new(self.unary()?));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        let lhs = self.atom()?;
        let negate = match self.peek() {
            Some(Tok::EqEq) => false,
            Some(Tok::Ne) => true,
            _ => return Ok(lhs),
        };
        self.pos += 1;
        let rhs = self.atom()?;
        Ok(Expr::Eq(Box::new(lhs), Box::new(rhs), negate))
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("expression nested deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                Ok(Expr::Ident(name))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                self.enter()?;
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err("expected `)`"));
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(t) => Err(self.err(format!("expected a name or `(`, found {t:?}"))),
            None => Err(self.err("expression ends too early")),
        }
    }
}

impl Expr {
    /// Parse an expression.
    pub(crate) fn parse(src: &str) -> Result<Expr, ParseError> {
        let toks = lex(src)?;
        let mut p = Parser {
            toks,
            pos: 0,
            end: src.len(),
            depth: 0,
        };
        let e = p.or()?;
        if p.pos != p.toks.len() {
            return Err(p.err("unexpected text after the expression"));
        }
        Ok(e)
    }

    /// Every identifier used, for validation and rule ordering.
    pub(crate) fn idents(&self, out: &mut BTreeSet<String>) {
        match self {
            Expr::Ident(n) => {
                out.insert(n.clone());
            }
            Expr::Not(e) => e.idents(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Eq(a, b, _) => {
                a.idents(out);
                b.idents(out);
            }
        }
    }

    /// Identifiers in value position (operands of `==`/`!=` that are not
    /// names, e.g. `arm` in `arch == arm`) are literals; `lookup` gives a
    /// name's value or `None` for a literal word.
    pub(crate) fn eval(&self, lookup: &dyn Fn(&str) -> Option<Value>) -> Value {
        match self {
            Expr::Ident(n) => lookup(n).unwrap_or_else(|| literal(n)),
            Expr::Not(e) => Value::Bool(!truthy(&e.eval(lookup))),
            Expr::And(a, b) => Value::Bool(truthy(&a.eval(lookup)) && truthy(&b.eval(lookup))),
            Expr::Or(a, b) => Value::Bool(truthy(&a.eval(lookup)) || truthy(&b.eval(lookup))),
            Expr::Eq(a, b, negate) => {
                let (x, y) = (a.eval(lookup), b.eval(lookup));
                Value::Bool((x == y) != *negate)
            }
        }
    }

    /// Evaluate as a condition.
    pub(crate) fn holds(&self, lookup: &dyn Fn(&str) -> Option<Value>) -> bool {
        truthy(&self.eval(lookup))
    }
}

fn literal(word: &str) -> Value {
    match word {
        "true" | "y" | "yes" => Value::Bool(true),
        "false" | "n" | "no" => Value::Bool(false),
        w => Value::Str(w.to_owned()),
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Str(s) => !s.is_empty() && s != "off",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<Value> {
        match name {
            "arch" => Some(Value::Str("arm".into())),
            "smp" => Some(Value::Bool(false)),
            "mmu" => Some(Value::Bool(true)),
            _ => None,
        }
    }

    #[test]
    fn precedence_and_comparison() {
        let e = Expr::parse("mmu && (arch != arm || smp)").unwrap();
        assert!(!e.holds(&env));
        assert!(Expr::parse("!smp && arch == arm").unwrap().holds(&env));
        assert!(Expr::parse("smp || mmu && true").unwrap().holds(&env));
        assert!(!Expr::parse("false").unwrap().holds(&env));
    }

    #[test]
    fn errors_point_at_the_offset() {
        let e = Expr::parse("mmu && (smp").unwrap_err();
        assert_eq!(e.offset, 11);
        let e = Expr::parse("mmu & smp").unwrap_err();
        assert_eq!(e.offset, 4);
        assert!(
            Expr::parse("mmu smp")
                .unwrap_err()
                .message
                .contains("after")
        );
        assert!(Expr::parse("").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_without_overflow() {
        let deep = format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(Expr::parse(&deep).unwrap_err().message.contains("deeper"));
        let nots = format!("{}x", "!".repeat(10_000));
        assert!(Expr::parse(&nots).is_err());
    }
}
