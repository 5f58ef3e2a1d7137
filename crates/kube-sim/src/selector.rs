//! Label and field selectors, parsed and matched the way kube-apiserver does it.
//!
//! This module owns the selector *language*: the apimachinery label-selector grammar
//! (`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, and the rarely used
//! `k>n`/`k<n`) and the field-selector grammar (`f=v`, `f==v`, `f!=v` with `\`-escaping).
//! Parse errors are returned as the message text of the 400 BadRequest a real apiserver
//! sends. It must not know about objects: callers pass a label map or a field lookup
//! function, and decide which field names a resource supports.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed label selector; an empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: LabelOp,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabelOp {
    Exists,
    DoesNotExist,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
}

impl LabelSelector {
    /// Parses a `labelSelector` query value (apimachinery `labels.Parse`).
    ///
    /// The error is the message of the apiserver's 400 BadRequest, e.g.
    /// `unable to parse requirement: found '', expected: identifier`.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let tokens = lex(s);
        let mut p = Parser { tokens, pos: 0 };
        let requirements = p.parse()?;
        Ok(LabelSelector { requirements })
    }

    /// The selector `k1=v1,k2=v2,...` that a `matchLabels` map stands for.
    pub fn from_map(map: &BTreeMap<String, String>) -> LabelSelector {
        let requirements = map
            .iter()
            .map(|(k, v)| Requirement {
                key: k.clone(),
                op: LabelOp::Equals,
                values: vec![v.clone()],
            })
            .collect();
        LabelSelector { requirements }
    }

    /// True when every requirement holds for `labels` (comma means AND).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True for the selector that matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        let in_set = |v: &String| self.values.iter().any(|x| x == v);
        match self.op {
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
            LabelOp::Equals | LabelOp::DoubleEquals | LabelOp::In => value.is_some_and(in_set),
            // apimachinery: `!=` and `notin` also select objects that lack the key.
            LabelOp::NotEquals | LabelOp::NotIn => !value.is_some_and(in_set),
            LabelOp::GreaterThan | LabelOp::LessThan => {
                // Both sides must parse as integers, otherwise the object does not match.
                let (Some(have), Some(want)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|v| v.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.op == LabelOp::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let first = r.values.first().map_or("", String::as_str);
            match r.op {
                LabelOp::Exists => write!(f, "{}", r.key)?,
                LabelOp::DoesNotExist => write!(f, "!{}", r.key)?,
                LabelOp::Equals => write!(f, "{}={first}", r.key)?,
                LabelOp::DoubleEquals => write!(f, "{}=={first}", r.key)?,
                LabelOp::NotEquals => write!(f, "{}!={first}", r.key)?,
                LabelOp::GreaterThan => write!(f, "{}>{first}", r.key)?,
                LabelOp::LessThan => write!(f, "{}<{first}", r.key)?,
                LabelOp::In | LabelOp::NotIn => {
                    let op = if r.op == LabelOp::In { "in" } else { "notin" };
                    write!(f, "{} {op} ({})", r.key, r.values.join(","))?;
                }
            }
        }
        Ok(())
    }
}

// ---- label selector lexer and parser (apimachinery `labels/selector.go`) ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    Ident,
    In,
    NotIn,
    Bang,
    NotEquals,
    Equals,
    DoubleEquals,
    GreaterThan,
    LessThan,
    OpenPar,
    ClosePar,
    Comma,
}

/// Go's lexer treats exactly these as whitespace.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn special_token(s: &str) -> Option<Tok> {
    Some(match s {
        "!" => Tok::Bang,
        "!=" => Tok::NotEquals,
        "=" => Tok::Equals,
        "==" => Tok::DoubleEquals,
        ">" => Tok::GreaterThan,
        "<" => Tok::LessThan,
        "(" => Tok::OpenPar,
        ")" => Tok::ClosePar,
        "," => Tok::Comma,
        _ => return None,
    })
}

/// Splits the input into tokens; the last one is always `End`.
fn lex(s: &str) -> Vec<(Tok, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_space(b[i]) {
            i += 1;
        } else if is_special(b[i]) {
            // Longest run of special characters that still forms a token, like Go's
            // scanSpecialSymbol. Every single special character is a token, so this
            // always makes progress.
            let mut end = i + 1;
            while end < b.len() && is_special(b[end]) && special_token(&s[i..=end]).is_some() {
                end += 1;
            }
            let lit = &s[i..end];
            out.push((special_token(lit).unwrap_or(Tok::Comma), lit));
            i = end;
        } else {
            // Identifiers run to the next whitespace or special character; all of those
            // are ASCII, so slicing here never splits a UTF-8 sequence.
            let start = i;
            while i < b.len() && !is_space(b[i]) && !is_special(b[i]) {
                i += 1;
            }
            let lit = &s[start..i];
            let tok = match lit {
                "in" => Tok::In,
                "notin" => Tok::NotIn,
                _ => Tok::Ident,
            };
            out.push((tok, lit));
        }
    }
    out.push((Tok::End, ""));
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    tokens: Vec<(Tok, &'a str)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn lookahead(&self, ctx: Ctx) -> (Tok, &'a str) {
        let (tok, lit) = self.tokens[self.pos.min(self.tokens.len() - 1)];
        // In a value position the keywords `in`/`notin` are plain identifiers.
        if ctx == Ctx::Values && matches!(tok, Tok::In | Tok::NotIn) {
            (Tok::Ident, lit)
        } else {
            (tok, lit)
        }
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, &'a str) {
        let t = self.lookahead(ctx);
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        // Each iteration consumes at least one token, and the token list is finite.
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Ident | Tok::Bang => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Ident && t2 != Tok::Bang {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!("found '{l}', expected: ',' or 'end of string'"));
                        }
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, unary) = self.parse_key_and_infer_operator()?;
        if let Some(op) = unary {
            return new_requirement(key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            LabelOp::In | LabelOp::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(key, op, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<LabelOp>), String> {
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        let negated = tok == Tok::Bang;
        if negated {
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Ident {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        validate_key(lit)?;
        let (next, _) = self.lookahead(Ctx::Values);
        if next == Tok::End || next == Tok::Comma {
            let op = if negated {
                LabelOp::DoesNotExist
            } else {
                LabelOp::Exists
            };
            return Ok((lit.to_string(), Some(op)));
        }
        if negated {
            return Err(format!("found '{lit}', expected: ',' or 'end of string'"));
        }
        Ok((lit.to_string(), None))
    }

    fn parse_operator(&mut self) -> Result<LabelOp, String> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => LabelOp::In,
            Tok::NotIn => LabelOp::NotIn,
            Tok::Equals => LabelOp::Equals,
            Tok::DoubleEquals => LabelOp::DoubleEquals,
            Tok::NotEquals => LabelOp::NotEquals,
            Tok::GreaterThan => LabelOp::GreaterThan,
            Tok::LessThan => LabelOp::LessThan,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Ident | Tok::Comma => {
                let values = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Ctx::Values);
                if tok != Tok::ClosePar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(values)
            }
            // `k in ()` is the set holding only the empty value.
            Tok::ClosePar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        let insert = |set: &mut Vec<String>, v: &str| {
            if !set.iter().any(|x| x == v) {
                set.push(v.to_string());
            }
        };
        // Each iteration consumes at least one token.
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Ident => {
                    insert(&mut set, lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosePar => return Ok(set),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                // An empty element, as in `(,a)`, `(a,,b)` or `(a,)`, is the empty value.
                Tok::Comma => {
                    if set.is_empty() {
                        insert(&mut set, "");
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosePar {
                        insert(&mut set, "");
                        return Ok(set);
                    }
                    if t2 == Tok::Comma {
                        self.consume(Ctx::Values);
                        insert(&mut set, "");
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Ident {
            return Ok(vec![lit.to_string()]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

/// apimachinery `NewRequirement`: operator arity and label value validation.
fn new_requirement(
    key: String,
    op: LabelOp,
    mut values: Vec<String>,
) -> Result<Requirement, String> {
    let mut errs = Vec::new();
    match op {
        LabelOp::In | LabelOp::NotIn if values.is_empty() => {
            errs.push(
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
                    .to_string(),
            );
        }
        LabelOp::GreaterThan | LabelOp::LessThan => {
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(format!(
                        "values[{i}]: Invalid value: \"{v}\": for 'Gt', 'Lt' operators, the value must be an integer"
                    ));
                }
            }
        }
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        if let Some(msg) = label_value_error(v) {
            errs.push(format!("values[{i}]: Invalid value: \"{v}\": {msg}"));
        }
    }
    match errs.len() {
        0 => {
            // The set operators keep their values sorted, as apimachinery's string set does.
            if matches!(op, LabelOp::In | LabelOp::NotIn) {
                values.sort();
            }
            Ok(Requirement { key, op, values })
        }
        1 => Err(errs.remove(0)),
        _ => Err(format!("[{}]", errs.join(", "))),
    }
}

const NAME_FMT_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A DNS-1123 subdomain: lowercase labels of `[a-z0-9]([-a-z0-9]*[a-z0-9])?` joined by dots.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && is_lower_alnum(b[0])
                && is_lower_alnum(b[b.len() - 1])
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        })
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Label keys are qualified names: an optional DNS subdomain prefix and `/`, then a name
/// of at most 63 characters (apimachinery `IsQualifiedName`).
fn validate_key(key: &str) -> Result<(), String> {
    let mut msgs: Vec<String> = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => Some(*name),
        [prefix, name] => {
            if prefix.is_empty() {
                msgs.push("prefix part must be non-empty".to_string());
            } else if !is_dns_subdomain(prefix) {
                msgs.push("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character".to_string());
            }
            Some(*name)
        }
        _ => {
            msgs.push(format!("a qualified name {NAME_FMT_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
            None
        }
    };
    if let Some(name) = name {
        if name.is_empty() {
            msgs.push("name part must be non-empty".to_string());
        } else if name.len() > 63 {
            msgs.push("name part must be no more than 63 characters".to_string());
        }
        if !name.is_empty() && !is_qualified_name_part(name) {
            msgs.push(format!("name part {NAME_FMT_MSG}"));
        }
    }
    if msgs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "key: Invalid value: \"{key}\": {}",
            msgs.join("; ")
        ))
    }
}

/// Label values: empty, or at most 63 characters of the qualified-name alphabet.
fn label_value_error(v: &str) -> Option<String> {
    let mut msgs = Vec::new();
    if v.len() > 63 {
        msgs.push("must be no more than 63 characters".to_string());
    }
    if !v.is_empty() && !is_qualified_name_part(v) {
        msgs.push(format!(
            "a valid label must be an empty string or {NAME_FMT_MSG}"
        ));
    }
    (!msgs.is_empty()).then(|| msgs.join("; "))
}

// ---- field selectors (apimachinery `fields/selector.go`) ----

/// A parsed field selector; an empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldTerm {
    field: String,
    equal: bool,
    value: String,
}

impl FieldSelector {
    /// Parses a `fieldSelector` query value; every field must be one of `supported`.
    ///
    /// Errors are the apiserver's 400 messages: syntax errors first, then
    /// `field label not supported: <field>` for the first unsupported field.
    pub fn parse(s: &str, supported: &[&str]) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for term in split_terms(s) {
            // apimachinery skips empty terms, so `a=b,` is fine.
            if term.is_empty() {
                continue;
            }
            let Some((field, op, raw)) = split_term(term) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            let value = unescape_value(raw)?;
            terms.push(FieldTerm {
                field: field.to_string(),
                equal: op != "!=",
                value,
            });
        }
        if let Some(t) = terms
            .iter()
            .find(|t| !supported.contains(&t.field.as_str()))
        {
            return Err(format!("field label not supported: {}", t.field));
        }
        Ok(FieldSelector { terms })
    }

    /// True when every term holds; `value_of` returns a field's value, `None` counting as "".
    pub fn matches(&self, value_of: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let have = value_of(&t.field).unwrap_or_default();
            (have == t.value) == t.equal
        })
    }

    /// True for the selector that matches everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if t.equal { "=" } else { "!=" };
            write!(f, "{}{op}", t.field)?;
            for c in t.value.chars() {
                if matches!(c, '\\' | ',' | '=') {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Splits on commas that are not escaped with a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.bytes().enumerate() {
        if escaped {
            escaped = false;
        } else if c == b'\\' {
            escaped = true;
        } else if c == b',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// The first operator occurrence wins; at one position `!=` and `==` beat `=`.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for i in 0..term.len() {
        let rest = &term.as_bytes()[i..];
        for op in ["!=", "==", "="] {
            if rest.starts_with(op.as_bytes()) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

/// Undoes `\\`, `\,` and `\=`; any other escape, a dangling `\`, or a bare `,`/`=` is an error.
fn unescape_value(raw: &str) -> Result<String, String> {
    if !raw.contains(['\\', ',', '=']) {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{e}"
                    ));
                }
                None => {
                    return Err("invalid field selector: unterminated escape sequence".to_string());
                }
            },
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {c}"
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_operators_match_like_apimachinery() {
        let web = labels(&[("app", "web"), ("tier", "front"), ("version", "3")]);
        let db = labels(&[("app", "db")]);
        let none = labels(&[]);
        // (selector, matches web, matches db, matches none)
        let cases: &[(&str, bool, bool, bool)] = &[
            ("", true, true, true),
            ("app=web", true, false, false),
            ("app==web", true, false, false),
            ("app!=web", false, true, true),
            ("app in (web,db)", true, true, false),
            ("app in (web)", true, false, false),
            ("app notin (web)", false, true, true),
            ("app notin (web,db)", false, false, true),
            ("tier", true, false, false),
            ("!tier", false, true, true),
            ("app", true, true, false),
            ("app=web,tier=front", true, false, false),
            ("app=web,tier=back", false, false, false),
            ("app in (web,db),!tier", false, true, false),
            ("version>2", true, false, false),
            ("version<2", false, false, false),
            ("app=", false, false, false),
            ("app in ()", false, false, false),
            ("in=web", false, false, false),
            ("app in (in,notin)", false, false, false),
        ];
        for &(sel, w, d, n) in cases {
            let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
            assert_eq!(s.matches(&web), w, "{sel:?} vs web");
            assert_eq!(s.matches(&db), d, "{sel:?} vs db");
            assert_eq!(s.matches(&none), n, "{sel:?} vs no labels");
        }
    }

    #[test]
    fn empty_value_selectors_match_empty_labels() {
        let empty = labels(&[("app", "")]);
        assert!(LabelSelector::parse("app=").unwrap().matches(&empty));
        assert!(LabelSelector::parse("app in ()").unwrap().matches(&empty));
        assert!(LabelSelector::parse("app in (,x)").unwrap().matches(&empty));
        assert!(LabelSelector::parse("app in (x,)").unwrap().matches(&empty));
    }

    #[test]
    fn label_whitespace_is_tolerated() {
        let web = labels(&[("app", "web"), ("tier", "front")]);
        for sel in [
            "  app = web ",
            "app=web , tier=front",
            "app in(web, db)",
            "app   in   ( web ,db )",
            "\tapp\n==\rweb",
            " ! env , app",
            "app notin(db)",
        ] {
            let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
            assert!(s.matches(&web), "{sel:?}");
        }
        assert!(LabelSelector::parse("   ").unwrap().is_empty());
    }

    #[test]
    fn label_syntax_errors_are_bad_request_messages() {
        let cases: &[(&str, &str)] = &[
            (
                "app in",
                "unable to parse requirement: found '' expected: '('",
            ),
            (
                "app in (a",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "app in a",
                "unable to parse requirement: found 'a' expected: '('",
            ),
            ("app=web,", "found '', expected: identifier after ','"),
            (
                "app web",
                "unable to parse requirement: found 'web', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "!app=web",
                "unable to parse requirement: found 'app', expected: ',' or 'end of string'",
            ),
            (
                "=web",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                ",",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            (
                "app=(",
                "unable to parse requirement: found '(', expected: identifier",
            ),
            ("app=a b", "found 'b', expected: ',' or 'end of string'"),
            ("app in (a)(", "found '(', expected: ',' or 'end of string'"),
        ];
        for &(sel, want) in cases {
            assert_eq!(LabelSelector::parse(sel).unwrap_err(), want, "{sel:?}");
        }
    }

    #[test]
    fn label_keys_and_values_are_validated() {
        for sel in [
            "-app=web",
            "app-=web",
            "a/b/c=x",
            "/app=x",
            "Example.com/app=x",
            "app=-web",
            "app in (ok,-bad)",
            "version>abc",
        ] {
            let err = LabelSelector::parse(sel).unwrap_err();
            assert!(
                err.starts_with("unable to parse requirement: "),
                "{sel:?}: {err}"
            );
            assert!(err.contains("Invalid value"), "{sel:?}: {err}");
        }
        let long = "a".repeat(64);
        assert!(LabelSelector::parse(&format!("{long}=x")).is_err());
        assert!(LabelSelector::parse(&format!("x={long}")).is_err());
        for sel in [
            "example.com/app=x",
            "app.kubernetes.io/name=web",
            "a_b.c-d=E_f.9",
            &format!("{}=x", "a".repeat(63)),
        ] {
            assert!(LabelSelector::parse(sel).is_ok(), "{sel:?}");
        }
    }

    #[test]
    fn from_map_and_display_round_trip() {
        let map = labels(&[("app", "web"), ("pod-template-hash", "abc")]);
        let s = LabelSelector::from_map(&map);
        assert!(s.matches(&map));
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert_eq!(s.to_string(), "app=web,pod-template-hash=abc");
        assert!(LabelSelector::from_map(&BTreeMap::new()).is_empty());
        for sel in ["app in (db,web),!x", "a!=b,c==d,e,f notin (g),v>1,w<2"] {
            let parsed = LabelSelector::parse(sel).unwrap();
            assert_eq!(LabelSelector::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }

    const POD_FIELDS: &[&str] = &[
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "status.phase",
    ];

    fn pod_field(name: &str) -> impl Fn(&str) -> Option<String> + '_ {
        move |f: &str| match f {
            "metadata.name" => Some(name.to_string()),
            "metadata.namespace" => Some("default".to_string()),
            "status.phase" => Some("Running".to_string()),
            _ => None,
        }
    }

    #[test]
    fn field_operators_match() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=web-1", true),
            ("metadata.name==web-1", true),
            ("metadata.name!=web-1", false),
            ("metadata.name=web-2", false),
            ("metadata.name!=web-2", true),
            ("metadata.name=web-1,status.phase=Running", true),
            ("metadata.name=web-1,status.phase!=Running", false),
            ("spec.nodeName=", true),
            ("spec.nodeName!=", false),
            ("spec.nodeName!=node-1", true),
            ("metadata.name=web-1,", true),
        ];
        for &(sel, want) in cases {
            let s =
                FieldSelector::parse(sel, POD_FIELDS).unwrap_or_else(|e| panic!("{sel:?}: {e}"));
            assert_eq!(s.matches(pod_field("web-1")), want, "{sel:?}");
        }
    }

    #[test]
    fn field_values_are_unescaped() {
        let s = FieldSelector::parse(r"metadata.name=a\,b\=c\\d", POD_FIELDS).unwrap();
        assert!(s.matches(pod_field(r"a,b=c\d")));
        assert_eq!(s.to_string(), r"metadata.name=a\,b\=c\\d");
        let two =
            FieldSelector::parse(r"metadata.name=x\,y,status.phase=Running", POD_FIELDS).unwrap();
        assert!(two.matches(pod_field("x,y")));
    }

    #[test]
    fn field_errors_are_bad_request_messages() {
        let cases: &[(&str, &str)] = &[
            ("spec.host=x", "field label not supported: spec.host"),
            (
                "metadata.labels=x",
                "field label not supported: metadata.labels",
            ),
            ("=x", "field label not supported: "),
            (
                "metadata.name",
                "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
            ),
            ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
            (
                r"metadata.name=a\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            (
                r"metadata.name=a\",
                "invalid field selector: unterminated escape sequence",
            ),
            (
                "metadata.name=a=b",
                "invalid field selector: unescaped character in value: =",
            ),
        ];
        for &(sel, want) in cases {
            assert_eq!(
                FieldSelector::parse(sel, POD_FIELDS).unwrap_err(),
                want,
                "{sel:?}"
            );
        }
    }

    /// A small deterministic generator (xorshift64*), so the property tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    const ALPHABET: &[&str] = &[
        "a",
        "b",
        "=",
        "==",
        "!",
        "!=",
        "(",
        ")",
        ",",
        " ",
        "in",
        "notin",
        "<",
        ">",
        "\\",
        "/",
        "-",
        ".",
        "é",
        "\t",
        "0",
        "app",
        "metadata.name",
        "x.io/",
        "\u{0}",
    ];

    #[test]
    fn no_input_panics_exhaustive_short() {
        let atoms: Vec<&str> = ALPHABET.to_vec();
        let n = atoms.len();
        for i in 0..n * n * n {
            let s = format!("{}{}{}", atoms[i % n], atoms[(i / n) % n], atoms[i / n / n]);
            check_total(&s);
        }
    }

    #[test]
    fn no_input_panics_random() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let len = (rng.next() % 16) as usize;
            let s: String = (0..len)
                .map(|_| ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize])
                .collect();
            check_total(&s);
        }
    }

    /// Parsing never panics, and whatever parses also prints back to an equivalent selector.
    fn check_total(s: &str) {
        let probe = labels(&[("a", "b"), ("app", "0")]);
        if let Ok(sel) = LabelSelector::parse(s) {
            let again = LabelSelector::parse(&sel.to_string())
                .unwrap_or_else(|e| panic!("{s:?} -> {sel} does not reparse: {e}"));
            assert_eq!(again.matches(&probe), sel.matches(&probe), "{s:?}");
        }
        let supported = ["a", "metadata.name", ""];
        if let Ok(sel) = FieldSelector::parse(s, &supported) {
            let value = |f: &str| (f == "a").then(|| "b".to_string());
            let again = FieldSelector::parse(&sel.to_string(), &supported)
                .unwrap_or_else(|e| panic!("{s:?} -> {sel} does not reparse: {e}"));
            assert_eq!(again.matches(value), sel.matches(value), "{s:?}");
        }
    }
}
