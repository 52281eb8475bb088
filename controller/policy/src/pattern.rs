//! Regular expressions in the two dialects policy is written in.
//!
//! * **IOS** (AS-path access lists, expanded community lists): POSIX-like regexes over the text
//!   of the AS path or community list, plus `_`, which matches a delimiter — start or end of
//!   the text, a space, a comma, or a brace/parenthesis/bracket of a set or confederation
//!   segment. We translate `_` and hand the rest to the `regex` crate (linear time, no
//!   catastrophic backtracking, whatever a neighbor sends).
//! * **GateD** (RFC 1164 §4.2 style, seed 003's "Matching AS paths"): the alphabet is AS
//!   numbers, not characters. Terms are an AS number, `.` (any one AS) and parenthesised
//!   sub-expressions; operators are `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}` and `|`;
//!   concatenation is juxtaposition. The expression must match the **whole** path. We compile
//!   it to a character regex over the path rendered as `ASN,` tokens.

use regex::Regex;

use crate::route::AsPath;

/// Why a regular expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad regular expression `{pattern}`: {reason}")]
pub struct PatternError {
    pub pattern: String,
    pub reason: String,
}

/// What IOS's `_` stands for.
const IOS_DELIMITER: &str = r"(?:^|$|[ ,{}()\[\]])";

/// Translates an IOS regular expression to the `regex` crate's syntax.
pub fn ios_to_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` right after `[` or `[^` is a literal in POSIX classes.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str(r"\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '_' if !in_class => out.push_str(IOS_DELIMITER),
            c => out.push(c),
        }
    }
    out
}

/// Compiles an IOS regular expression (unanchored search, as IOS does).
pub fn compile_ios(pattern: &str) -> Result<Regex, PatternError> {
    Regex::new(&ios_to_regex(pattern)).map_err(|e| PatternError {
        pattern: pattern.to_string(),
        reason: first_line(&e.to_string()),
    })
}

/// Compiles an IOS regular expression that must match the whole text (`exact-match`).
pub fn compile_ios_anchored(pattern: &str) -> Result<Regex, PatternError> {
    Regex::new(&format!("^(?:{})$", ios_to_regex(pattern))).map_err(|e| PatternError {
        pattern: pattern.to_string(),
        reason: first_line(&e.to_string()),
    })
}

fn first_line(s: &str) -> String {
    // The regex crate's messages are multi-line with a caret diagram; keep the last line,
    // which says what is wrong.
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim().trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| s.lines().next().unwrap_or("").to_string())
}

/// A compiled AS-path regular expression of either dialect.
#[derive(Clone, Debug)]
pub struct AsPathRegex {
    source: String,
    dialect: Dialect,
    regex: Regex,
    /// The same IOS pattern as a literal matcher, when it has the common shape.
    simple: Option<Simple>,
}

/// What may stand before the first / after the last AS number of a [`Simple`] pattern.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Edge {
    /// Nothing: the digits may be part of a longer number (`65` in `165`).
    Free,
    /// `^` or `$`: the start or end of the text.
    Anchor,
    /// `_`: the start or end of the text, or one delimiter character.
    Delim,
}

/// The IOS AS-path patterns operators write most (`_65001_`, `^65001_`, `_65001$`,
/// `^65001$`, `^65001_65002_`, `^$`), matched without a regex engine: find the first AS
/// number's digits, check the edges and the single delimiters between the numbers. Five to
/// ten times cheaper than the general regex, and checked equal to it by a property test.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Simple {
    start: Edge,
    tokens: Vec<String>,
    end: Edge,
}

fn is_delim(b: u8) -> bool {
    matches!(b, b' ' | b',' | b'{' | b'}' | b'(' | b')' | b'[' | b']')
}

impl Simple {
    fn parse(p: &str) -> Option<Simple> {
        if p == "^$" {
            return Some(Simple {
                start: Edge::Anchor,
                tokens: vec![],
                end: Edge::Anchor,
            });
        }
        let (start, rest) = if let Some(r) = p.strip_prefix('^') {
            (Edge::Anchor, r)
        } else if let Some(r) = p.strip_prefix('_') {
            (Edge::Delim, r)
        } else {
            (Edge::Free, p)
        };
        let (end, middle) = if let Some(r) = rest.strip_suffix('$') {
            (Edge::Anchor, r)
        } else if let Some(r) = rest.strip_suffix('_') {
            (Edge::Delim, r)
        } else {
            (Edge::Free, rest)
        };
        let tokens: Vec<String> = middle.split('_').map(str::to_string).collect();
        if tokens
            .iter()
            .any(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        Some(Simple { start, tokens, end })
    }

    fn is_match(&self, text: &str) -> bool {
        let t = text.as_bytes();
        let Some(first) = self.tokens.first() else {
            return t.is_empty();
        };
        let first = first.as_bytes();
        match self.start {
            // Only the start of the text can begin the match.
            Edge::Anchor => t.starts_with(first) && self.matches_at(t, 0),
            // Only the start of an AS number can: position 0 and after each delimiter.
            Edge::Delim => {
                (t.starts_with(first) && self.matches_at(t, 0))
                    || t.iter().enumerate().any(|(i, &b)| {
                        is_delim(b) && t[i + 1..].starts_with(first) && self.matches_at(t, i + 1)
                    })
            }
            Edge::Free => {
                let lead = first[0];
                t.iter()
                    .enumerate()
                    .any(|(p, &b)| b == lead && t[p..].starts_with(first) && self.matches_at(t, p))
            }
        }
    }

    fn matches_at(&self, t: &[u8], p: usize) -> bool {
        let start_ok = match self.start {
            Edge::Free => true,
            Edge::Anchor => p == 0,
            Edge::Delim => p == 0 || is_delim(t[p - 1]),
        };
        if !start_ok {
            return false;
        }
        let mut q = p + self.tokens[0].len();
        for tok in &self.tokens[1..] {
            let tok = tok.as_bytes();
            if q < t.len() && is_delim(t[q]) && t[q + 1..].starts_with(tok) {
                q += 1 + tok.len();
            } else {
                return false;
            }
        }
        match self.end {
            Edge::Free => true,
            Edge::Anchor => q == t.len(),
            Edge::Delim => q == t.len() || is_delim(t[q]),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    Ios,
    Gated,
}

impl AsPathRegex {
    pub fn ios(pattern: &str) -> Result<Self, PatternError> {
        Ok(AsPathRegex {
            source: pattern.to_string(),
            dialect: Dialect::Ios,
            regex: compile_ios(pattern)?,
            simple: Simple::parse(pattern),
        })
    }

    pub fn gated(pattern: &str) -> Result<Self, PatternError> {
        Ok(AsPathRegex {
            source: pattern.to_string(),
            dialect: Dialect::Gated,
            regex: compile_gated(pattern)?,
            simple: None,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn is_match(&self, path: &AsPath) -> bool {
        match self.dialect {
            Dialect::Ios => match &self.simple {
                Some(simple) => simple.is_match(path.text()),
                None => self.regex.is_match(path.text()),
            },
            Dialect::Gated => self.regex.is_match(&gated_text(path)),
        }
    }
}

/// The path as GateD's regexes see it: each AS number followed by a comma, sets flattened,
/// confederation segments left out (they never leave the confederation).
pub fn gated_text(path: &AsPath) -> String {
    let mut s = String::new();
    for asn in path.asns() {
        s.push_str(&asn.to_string());
        s.push(',');
    }
    s
}

#[derive(Debug, PartialEq)]
enum Tok {
    Asn(u32),
    Any,
    Open,
    Close,
    Star,
    Plus,
    Question,
    Alt,
    /// `{m}`, `{m,}` (no upper bound) and `{m,n}`.
    Repeat(u32, Option<u32>),
}

fn tokenize_gated(p: &str) -> Result<Vec<Tok>, String> {
    let b = p.as_bytes();
    let mut i = 0;
    let mut toks = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' => i += 1,
            b'0'..=b'9' => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n: u32 = p[start..i]
                    .parse()
                    .map_err(|_| format!("AS number `{}` is out of range", &p[start..i]))?;
                toks.push(Tok::Asn(n));
            }
            b'.' => {
                toks.push(Tok::Any);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            b')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            b'*' => {
                toks.push(Tok::Star);
                i += 1;
            }
            b'+' => {
                toks.push(Tok::Plus);
                i += 1;
            }
            b'?' => {
                toks.push(Tok::Question);
                i += 1;
            }
            b'|' => {
                toks.push(Tok::Alt);
                i += 1;
            }
            b'{' => {
                let end = p[i..]
                    .find('}')
                    .map(|e| i + e)
                    .ok_or_else(|| "`{` without `}`".to_string())?;
                let inner: String = p[i + 1..end].chars().filter(|c| !c.is_whitespace()).collect();
                let bad = || format!("`{{{}}}` is not {{m}}, {{m,}} or {{m,n}}", &p[i + 1..end]);
                let (m, n) = match inner.split_once(',') {
                    None => {
                        let m: u32 = inner.parse().map_err(|_| bad())?;
                        (m, Some(m))
                    }
                    Some((m, "")) => (m.parse().map_err(|_| bad())?, None),
                    Some((m, n)) => {
                        let m: u32 = m.parse().map_err(|_| bad())?;
                        let n: u32 = n.parse().map_err(|_| bad())?;
                        if m > n {
                            return Err(format!("in {{{m},{n}}} m must not exceed n"));
                        }
                        (m, Some(n))
                    }
                };
                toks.push(Tok::Repeat(m, n));
                i = end + 1;
            }
            _ => {
                return Err(format!(
                    "`{}` is not part of a GateD AS path expression (AS numbers, `.`, `( )`, `* + ? {{m,n}} |`)",
                    p[i..].chars().next().unwrap_or('?')
                ))
            }
        }
    }
    Ok(toks)
}

/// Compiles a GateD AS path regular expression to a whole-path character regex.
pub fn compile_gated(pattern: &str) -> Result<Regex, PatternError> {
    let err = |reason: String| PatternError {
        pattern: pattern.to_string(),
        reason,
    };
    let toks = tokenize_gated(pattern).map_err(err)?;
    let mut out = String::from("^(?:");
    let mut depth = 0usize;
    // Whether the previous token ends a term an operator may apply to.
    let mut after_term = false;
    for t in &toks {
        match t {
            Tok::Asn(n) => {
                out.push_str(&format!("(?:{n},)"));
                after_term = true;
            }
            Tok::Any => {
                out.push_str("(?:[0-9]+,)");
                after_term = true;
            }
            Tok::Open => {
                out.push_str("(?:");
                depth += 1;
                after_term = false;
            }
            Tok::Close => {
                if depth == 0 {
                    return Err(err("`)` without `(`".into()));
                }
                depth -= 1;
                out.push(')');
                after_term = true;
            }
            Tok::Alt => {
                out.push('|');
                after_term = false;
            }
            op => {
                if !after_term {
                    return Err(err(
                        "an operator (`* + ? {m,n}`) must follow an AS number, `.` or `( )`".into(),
                    ));
                }
                match op {
                    Tok::Star => out.push('*'),
                    Tok::Plus => out.push('+'),
                    Tok::Question => out.push('?'),
                    Tok::Repeat(m, Some(n)) if m == n => out.push_str(&format!("{{{m}}}")),
                    Tok::Repeat(m, Some(n)) => out.push_str(&format!("{{{m},{n}}}")),
                    Tok::Repeat(m, None) => out.push_str(&format!("{{{m},}}")),
                    _ => unreachable!("operators only"),
                }
                // GateD applies one operator to a term; a second one would be a regex-crate
                // lazy/possessive modifier or an error, so refuse it plainly.
                after_term = false;
            }
        }
    }
    if depth != 0 {
        return Err(err("`(` without `)`".into()));
    }
    out.push_str(")$");
    Regex::new(&out).map_err(|e| err(first_line(&e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{AsSegment, SegmentType};

    fn path(asns: &[u32]) -> AsPath {
        AsPath::from_sequence(asns.to_vec())
    }

    #[test]
    fn ios_underscore_is_a_delimiter() {
        let r = AsPathRegex::ios("_100_").unwrap();
        assert!(r.is_match(&path(&[100])));
        assert!(r.is_match(&path(&[200, 100, 300])));
        assert!(r.is_match(&path(&[200, 100])));
        assert!(!r.is_match(&path(&[1100])));
        assert!(!r.is_match(&path(&[1001])));
        let set = AsPath::new(vec![
            AsSegment::sequence(vec![1]),
            AsSegment::set(vec![100, 7]),
        ]);
        assert!(r.is_match(&set), "{}", set.text());
        let origin = AsPathRegex::ios("_65001$").unwrap();
        assert!(origin.is_match(&path(&[3, 65001])));
        assert!(!origin.is_match(&path(&[65001, 3])));
        let empty = AsPathRegex::ios("^$").unwrap();
        assert!(empty.is_match(&AsPath::default()));
        assert!(!empty.is_match(&path(&[1])));
        let neighbor = AsPathRegex::ios("^65002_").unwrap();
        assert!(neighbor.is_match(&path(&[65002, 1])));
        assert!(neighbor.is_match(&path(&[65002])));
        assert!(!neighbor.is_match(&path(&[650021])));
    }

    #[test]
    fn ios_classes_keep_underscore_literal() {
        assert_eq!(ios_to_regex("[_a]"), "[_a]");
        assert_eq!(ios_to_regex("[]_]"), r"[\]_]");
        assert_eq!(ios_to_regex(r"\_"), r"\_");
        assert!(compile_ios("(").is_err());
        assert!(compile_ios("^[0-9]+$").is_ok());
    }

    #[test]
    fn gated_matches_whole_paths_over_as_numbers() {
        let r = AsPathRegex::gated("145 .*").unwrap();
        assert!(r.is_match(&path(&[145])));
        assert!(r.is_match(&path(&[145, 1, 2])));
        assert!(!r.is_match(&path(&[1, 145])));
        assert!(
            !r.is_match(&path(&[1450])),
            "AS numbers are symbols, not digits"
        );
        let any = AsPathRegex::gated(".*").unwrap();
        assert!(any.is_match(&AsPath::default()));
        assert!(any.is_match(&path(&[1, 2, 3])));
        let alt = AsPathRegex::gated("(1 | 2) 3{1,2}").unwrap();
        assert!(alt.is_match(&path(&[1, 3])));
        assert!(alt.is_match(&path(&[2, 3, 3])));
        assert!(!alt.is_match(&path(&[2, 3, 3, 3])));
        assert!(!alt.is_match(&path(&[3])));
        let exact2 = AsPathRegex::gated(". {2}").unwrap();
        assert!(exact2.is_match(&path(&[7, 8])));
        assert!(!exact2.is_match(&path(&[7])));
        let plus = AsPathRegex::gated("701+ 1?").unwrap();
        assert!(plus.is_match(&path(&[701, 701])));
        assert!(plus.is_match(&path(&[701, 1])));
        assert!(!plus.is_match(&path(&[1])));
        let open = AsPathRegex::gated("5{2,}").unwrap();
        assert!(open.is_match(&path(&[5, 5, 5])));
        assert!(!open.is_match(&path(&[5])));
        let empty = AsPathRegex::gated("").unwrap();
        assert!(empty.is_match(&AsPath::default()));
        assert!(!empty.is_match(&path(&[1])));
    }

    #[test]
    fn gated_syntax_errors() {
        for bad in [
            "(1",
            "1)",
            "* 1",
            "1 ^",
            "1 {3,1}",
            "1 {x}",
            "_1_",
            "1 **",
            "99999999999",
        ] {
            assert!(compile_gated(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn simple_shapes_are_recognised() {
        for p in [
            "_65001_", "^65001_", "_65001$", "^65001$", "^1_2_3$", "^$", "65", "_1_2",
        ] {
            assert!(Simple::parse(p).is_some(), "{p}");
        }
        for p in ["_650.1_", "^(1|2)_", ".*", "^_1", "__", "^1__2$", "", "1+"] {
            assert!(Simple::parse(p).is_none(), "{p}");
        }
    }

    proptest::proptest! {
        /// The literal matcher agrees with the regex engine on every pattern it accepts.
        #[test]
        fn simple_agrees_with_regex(
            start in 0u8..3,
            toks in proptest::collection::vec(proptest::sample::select(vec!["1", "10", "65001", "100", "0"]), 1..4),
            end in 0u8..3,
            segs in proptest::collection::vec(
                (0u8..4, proptest::collection::vec(proptest::sample::select(vec![1u32, 10, 100, 1100, 65001, 0, 165001]), 0..4)),
                0..4,
            ),
        ) {
            let mut p = String::new();
            p.push_str(["", "^", "_"][start as usize]);
            p.push_str(&toks.join("_"));
            p.push_str(["", "$", "_"][end as usize]);
            let simple = Simple::parse(&p).expect("grammar shape");
            let regex = compile_ios(&p).unwrap();
            let kinds = [SegmentType::Sequence, SegmentType::Set, SegmentType::ConfedSequence, SegmentType::ConfedSet];
            let path = AsPath::new(segs.into_iter().map(|(k, asns)| AsSegment { kind: kinds[k as usize], asns }).collect());
            proptest::prop_assert_eq!(simple.is_match(path.text()), regex.is_match(path.text()), "pattern {} on {:?}", p, path.text());
        }
    }
}
