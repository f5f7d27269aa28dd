//! The text form's lexer and recursive-descent parser (see
//! [`segment_expr`](super::segment_expr) for the grammar).

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use super::segment_expr::{
    parse_duration_ms, quote, CmpOp, DidCondition, Metric, MetricCondition, SegmentExpr,
    TraitCondition, MAX_DEPTH,
};
use crate::error::{Error, Result};
use crate::time::DAY_MS;

pub(super) const KEYWORDS: &[&str] = &[
    "and", "or", "not", "did", "true", "false", "null", "contains",
];

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    Ident(String),
    Str(String),
    Num(f64),
    Dur(i64),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Ident(s) => write!(f, "`{s}`"),
            Kind::Str(s) => write!(f, "string {}", quote(s)),
            Kind::Num(x) => write!(f, "number {x}"),
            Kind::Dur(ms) => write!(f, "duration {ms}ms"),
            Kind::Op(o) => write!(f, "`{}`", o.symbol()),
            Kind::LParen => f.write_str("`(`"),
            Kind::RParen => f.write_str("`)`"),
            Kind::Comma => f.write_str("`,`"),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) kind: Kind,
    /// 1-based character position.
    pub(super) at: usize,
}

fn parse_err(at: usize, msg: impl fmt::Display) -> Error {
    Error::invalid("segment expression", format!("at position {at}: {msg}"))
}

pub(super) fn lex(text: &str) -> Result<Vec<Tok>> {
    let cs: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let at = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '(' => Kind::LParen,
            ')' => Kind::RParen,
            ',' => Kind::Comma,
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match cs.get(i) {
                        None => return Err(parse_err(at, "unterminated string")),
                        Some('"') => break,
                        Some('\\') => {
                            match cs.get(i + 1) {
                                Some(&e @ ('"' | '\\')) => s.push(e),
                                Some('n') => s.push('\n'),
                                _ => return Err(parse_err(i + 1, "bad escape (use \\\" or \\\\)")),
                            }
                            i += 2;
                            continue;
                        }
                        Some(&ch) => s.push(ch),
                    }
                    i += 1;
                }
                Kind::Str(s)
            }
            '=' | '!' | '<' | '>' => {
                let two: String = cs[i..(i + 2).min(cs.len())].iter().collect();
                let (op, n) = match two.as_str() {
                    "==" => (CmpOp::Eq, 2),
                    "!=" => (CmpOp::Ne, 2),
                    "<=" => (CmpOp::Le, 2),
                    ">=" => (CmpOp::Ge, 2),
                    _ => match c {
                        '=' => (CmpOp::Eq, 1),
                        '<' => (CmpOp::Lt, 1),
                        '>' => (CmpOp::Gt, 1),
                        _ => return Err(parse_err(at, "`!` must be followed by `=` (use `not`)")),
                    },
                };
                i += n;
                out.push(Tok {
                    kind: Kind::Op(op),
                    at,
                });
                continue;
            }
            c if c.is_ascii_digit()
                || (c == '-' && cs.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < cs.len()
                    && (cs[i].is_ascii_digit()
                        || cs[i] == '.'
                        || cs[i] == 'e'
                        || cs[i] == 'E'
                        || ((cs[i] == '-' || cs[i] == '+') && matches!(cs[i - 1], 'e' | 'E')))
                {
                    i += 1;
                }
                let num: String = cs[start..i].iter().collect();
                let ustart = i;
                while i < cs.len() && cs[i].is_ascii_alphabetic() {
                    i += 1;
                }
                if ustart < i {
                    let all: String = cs[start..i].iter().collect();
                    let ms = parse_duration_ms(&all).map_err(|_| {
                        parse_err(
                            at,
                            format!("{all:?} is not a number or a duration (7d, 12h, 30m)"),
                        )
                    })?;
                    out.push(Tok {
                        kind: Kind::Dur(ms),
                        at,
                    });
                } else {
                    let x: f64 = num
                        .parse()
                        .ok()
                        .filter(|x: &f64| x.is_finite())
                        .ok_or_else(|| parse_err(at, format!("{num:?} is not a number")))?;
                    out.push(Tok {
                        kind: Kind::Num(x),
                        at,
                    });
                }
                continue;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < cs.len() && (cs[i].is_alphanumeric() || "_$-.".contains(cs[i])) {
                    i += 1;
                }
                let word: String = cs[start..i].iter().collect();
                let kind = if word.eq_ignore_ascii_case("contains") {
                    Kind::Op(CmpOp::Contains)
                } else {
                    Kind::Ident(word)
                };
                out.push(Tok { kind, at });
                continue;
            }
            _ => return Err(parse_err(at, format!("unexpected character {c:?}"))),
        };
        out.push(Tok { kind, at });
        i += 1;
    }
    Ok(out)
}

pub(super) struct Parser {
    pub(super) toks: Vec<Tok>,
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) len: usize,
}

impl Parser {
    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    pub(super) fn err_at(&self, at: usize, msg: impl fmt::Display) -> Error {
        parse_err(at, msg)
    }
    fn end_at(&self) -> usize {
        self.len + 1
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok { kind: Kind::Ident(w), .. }) if w.eq_ignore_ascii_case(kw))
    }
    fn next(&mut self, what: &str) -> Result<Tok> {
        match self.toks.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(t.clone())
            }
            None => Err(self.err_at(self.end_at(), format!("expected {what}, found the end"))),
        }
    }
    fn expect(&mut self, kind: Kind, what: &str) -> Result<()> {
        let t = self.next(what)?;
        if t.kind == kind {
            Ok(())
        } else {
            Err(self.err_at(t.at, format!("expected {what}, found {}", t.kind)))
        }
    }
    pub(super) fn or(&mut self) -> Result<SegmentExpr> {
        let mut v = vec![self.and()?];
        while self.keyword("or") {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            SegmentExpr::Or(v)
        })
    }
    fn and(&mut self) -> Result<SegmentExpr> {
        let mut v = vec![self.unary()?];
        while self.keyword("and") {
            self.pos += 1;
            v.push(self.unary()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            SegmentExpr::And(v)
        })
    }
    fn unary(&mut self) -> Result<SegmentExpr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let at = self.peek().map_or(self.end_at(), |t| t.at);
            return Err(self.err_at(at, format!("nested deeper than {MAX_DEPTH}")));
        }
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }
    fn unary_inner(&mut self) -> Result<SegmentExpr> {
        let t = self.next("a condition")?;
        match &t.kind {
            Kind::Ident(w) if w.eq_ignore_ascii_case("not") => {
                Ok(SegmentExpr::Not(Box::new(self.unary()?)))
            }
            Kind::LParen => {
                let e = if self.keyword("true") || self.keyword("false") {
                    let t = self.next("a condition")?;
                    match &t.kind {
                        Kind::Ident(w) if w.eq_ignore_ascii_case("true") => {
                            SegmentExpr::And(vec![])
                        }
                        _ => SegmentExpr::Or(vec![]),
                    }
                } else {
                    self.or()?
                };
                self.expect(Kind::RParen, "`)`")?;
                Ok(e)
            }
            Kind::Ident(w) if w.eq_ignore_ascii_case("did") => self.did(),
            Kind::Ident(w) => self.compare(w.clone(), t.at, false),
            Kind::Str(s) => self.compare(s.clone(), t.at, true),
            k => Err(self.err_at(t.at, format!("expected a condition, found {k}"))),
        }
    }
    fn did(&mut self) -> Result<SegmentExpr> {
        self.expect(Kind::LParen, "`(` after did")?;
        let t = self.next("an event name")?;
        let event = match t.kind {
            Kind::Ident(s) | Kind::Str(s) => s,
            k => return Err(self.err_at(t.at, format!("expected an event name, found {k}"))),
        };
        let mut d = DidCondition {
            event,
            op: CmpOp::Ge,
            count: 1,
            days: None,
        };
        let mut seen_count = false;
        loop {
            let t = self.next("`,` or `)`")?;
            match t.kind {
                Kind::RParen => break,
                Kind::Comma => {}
                k => return Err(self.err_at(t.at, format!("expected `,` or `)`, found {k}"))),
            }
            let t = self.next("a count (>= 3) or a duration (14d)")?;
            match t.kind {
                Kind::Op(op) if !seen_count && d.days.is_none() => {
                    let n = self.next("a count")?;
                    match n.kind {
                        Kind::Num(x) if x >= 0.0 && x.fract() == 0.0 => {
                            d.op = op;
                            d.count = x as u64;
                            seen_count = true;
                        }
                        k => {
                            return Err(
                                self.err_at(n.at, format!("expected a whole count, found {k}"))
                            )
                        }
                    }
                }
                Kind::Num(x) if !seen_count && d.days.is_none() && x >= 0.0 && x.fract() == 0.0 => {
                    d.count = x as u64;
                    seen_count = true;
                }
                Kind::Dur(ms) if d.days.is_none() => d.days = Some(ms as f64 / DAY_MS as f64),
                k => {
                    return Err(self.err_at(
                        t.at,
                        format!("expected a count (>= 3) then a duration (14d), found {k}"),
                    ))
                }
            }
        }
        Ok(SegmentExpr::Did(d))
    }
    fn compare(&mut self, field: String, at: usize, quoted: bool) -> Result<SegmentExpr> {
        if !quoted && KEYWORDS.contains(&field.to_ascii_lowercase().as_str()) {
            return Err(self.err_at(at, format!("expected a condition, found keyword `{field}`")));
        }
        let t = self.next("an operator (= != < <= > >= contains)")?;
        let Kind::Op(op) = t.kind else {
            return Err(self.err_at(
                t.at,
                format!(
                    "expected an operator (= != < <= > >= contains), found {}",
                    t.kind
                ),
            ));
        };
        let v = self.next("a value")?;
        let value = match v.kind {
            Kind::Str(s) => Value::String(s),
            Kind::Num(x) => serde_json::Number::from_f64(x).map_or(Value::Null, |n| {
                if x.fract() == 0.0 && x.abs() < 9e15 {
                    Value::from(x as i64)
                } else {
                    Value::Number(n)
                }
            }),
            Kind::Ident(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Kind::Ident(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Kind::Ident(w) if w.eq_ignore_ascii_case("null") => Value::Null,
            k => {
                return Err(self.err_at(
                    v.at,
                    format!("expected a value (\"text\", number, true, false, null), found {k}"),
                ))
            }
        };
        if quoted {
            return Ok(SegmentExpr::Trait(TraitCondition {
                key: field,
                op,
                value,
            }));
        }
        if let Some(name) = field.strip_prefix("metric.") {
            let metric = Metric::from_str(name).map_err(|e| self.err_at(at, e.to_string()))?;
            let Some(x) = value.as_f64() else {
                return Err(self.err_at(v.at, format!("metric.{name} compares with a number")));
            };
            return Ok(SegmentExpr::Metric(MetricCondition {
                metric,
                op,
                value: x,
            }));
        }
        let key = field.strip_prefix("trait.").unwrap_or(&field).to_string();
        if key.is_empty() {
            return Err(self.err_at(at, "empty trait name"));
        }
        Ok(SegmentExpr::Trait(TraitCondition { key, op, value }))
    }
}
