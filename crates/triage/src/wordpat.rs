//! Word patterns: a small rule language over the engine's canonical words.
//!
//! A rule's `words = [...]` entries are word patterns. A pattern is read
//! like message text (each literal word goes through the same reading:
//! text-speak rewrites, fillers deleted, lemma, stem), then compiled into
//! one regex over the canonical text, in which words are separated by a
//! single space or by `, ` and any other punctuation (`. ! ? ; :`, a new
//! line) ends a clause. Each word item matches one whole canonical word;
//! the engine checks whole-word boundaries itself, as for phrases.
//!
//! Items are separated by white space:
//!
//! | item | matches |
//! | --- | --- |
//! | `chest` | the word, read like message text ("cant" becomes "can not", a filler becomes nothing) |
//! | `swell*` | any word beginning with `swell` (matched against the canonical, stemmed word) |
//! | `<body-part>` | any entry of the class `body-part` (entries may be several words) |
//! | `_` | any one word |
//! | `_{m,n}` | `m` to `n` arbitrary words (`_{,n}` = `_{0,n}`, `_{n}` = `_{n,n}`) |
//! | `( a b \| c )` | alternatives, each a sequence |
//! | `X?` | `X` or nothing |
//! | `X{m,n}` | `m` to `n` repetitions of `X` (`n` <= 8) |
//! | `{A & B}` | `A` and `B` (each a sequence) in either order, at most 6 other words between, within one clause |
//! | `,` | nothing: a comma between words is always allowed |
//!
//! `?` and `{m,n}` follow their item directly (no space); a `{` after a
//! space starts `{A & B}`. Alternatives `a | b` at the top level of a
//! pattern are allowed and mean `(a | b)`. Words are written in lower case:
//! `a-z`, `0-9` and non-ASCII letters; a prefix likewise, ending in `*`. A
//! class name is kebab-case (`a-z`, `0-9`, `-`).
//!
//! A pattern must match at least one word: a pattern whose items are all
//! optional (or all fillers once read) is an error, and so is a side of
//! `{A & B}` that can match nothing. Nesting is limited to
//! [`MAX_NESTING`] levels and the compiled regex, with its repetitions
//! expanded, to [`MAX_EXPANDED`] bytes, so an untrusted rule file cannot
//! make a huge automaton.
//!
//! Compilation keeps separators exact: every item after the first carries
//! its own leading separator (`,? `), so an optional item that is absent,
//! or a filler word that reads as nothing, never leaves a doubled or
//! dangling separator. The output uses no `\b`, `\w`, look-around or
//! back-references.

#![allow(dead_code)]

use std::fmt;

/// The separator between two canonical words: a space, optionally after a comma.
const SEP: &str = ",? ";
/// One canonical word: anything up to a space or punctuation.
const WORD: &str = r"[^\s,.!?;:]+";
/// A number: digits, with letters ("10mg", "2nd") and single inner
/// `.`, `:`, `/` or `-` between digits ("101.5", "10:30", "180/110").
const NUMBER: &str = r"[0-9](?:[0-9a-z]|[.:/-][0-9])*";
/// The rest of a word after a prefix.
const WORD_REST: &str = r"[^\s,.!?;:]*";
/// At most this many other words between the two sides of `{A & B}`.
pub(crate) const MAX_GAP: u32 = 6;
/// The largest upper bound of a repetition `{m,n}`.
pub(crate) const MAX_REPEAT: u32 = 8;
/// The deepest nesting of groups and `{A & B}`.
pub(crate) const MAX_NESTING: usize = 16;
/// The largest compiled regex, in bytes, with every counted repetition expanded.
pub(crate) const MAX_EXPANDED: usize = 64 * 1024;

/// A parse error: byte column (0-based) in the pattern source and a message (no message text of users involved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError {
    pub column: usize,
    pub message: String,
}

impl PatternError {
    fn new(column: usize, message: impl Into<String>) -> Self {
        PatternError {
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

/// One item of a pattern; `col` is the byte column where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Word {
        text: String,
        col: usize,
    },
    Prefix {
        text: String,
        col: usize,
    },
    Any {
        col: usize,
    },
    /// `#`: a number ("12", "101.5", "180/110", "10mg", "2nd").
    Number {
        col: usize,
    },
    Class {
        name: String,
        col: usize,
    },
    Group {
        alts: Vec<Vec<Node>>,
        col: usize,
    },
    Repeat {
        inner: Box<Node>,
        min: u32,
        max: u32,
        col: usize,
    },
    Both {
        a: Vec<Node>,
        b: Vec<Node>,
        col: usize,
    },
}

impl Node {
    fn col(&self) -> usize {
        match self {
            Node::Word { col, .. }
            | Node::Prefix { col, .. }
            | Node::Any { col }
            | Node::Number { col }
            | Node::Class { col, .. }
            | Node::Group { col, .. }
            | Node::Repeat { col, .. }
            | Node::Both { col, .. } => *col,
        }
    }

    /// Can the item match no words, before reading (every literal word counts as a word)?
    fn nullable(&self) -> bool {
        match self {
            Node::Word { .. }
            | Node::Prefix { .. }
            | Node::Any { .. }
            | Node::Number { .. }
            | Node::Class { .. } => false,
            Node::Group { alts, .. } => alts.iter().any(|s| seq_nullable(s)),
            Node::Repeat { inner, min, .. } => *min == 0 || inner.nullable(),
            Node::Both { .. } => false,
        }
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Node)) {
        f(self);
        match self {
            Node::Group { alts, .. } => alts.iter().flatten().for_each(|n| n.visit(f)),
            Node::Repeat { inner, .. } => inner.visit(f),
            Node::Both { a, b, .. } => a.iter().chain(b).for_each(|n| n.visit(f)),
            _ => {}
        }
    }
}

fn seq_nullable(seq: &[Node]) -> bool {
    seq.iter().all(Node::nullable)
}

/// Parsed pattern (AST). Parse once at rule-load time to report syntax errors with position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WordPattern {
    /// Top-level alternatives, each a sequence (usually just one).
    alts: Vec<Vec<Node>>,
}

impl WordPattern {
    /// Parses a pattern; the error gives the byte column of the problem.
    pub(crate) fn parse(src: &str) -> Result<WordPattern, PatternError> {
        let mut p = Parser { src, pos: 0 };
        p.skip_space();
        if p.peek().is_none() {
            return Err(PatternError::new(0, "empty word pattern"));
        }
        let alts = p.alternatives(0)?;
        if let Some(c) = p.peek() {
            let msg = match c {
                ')' => "unbalanced `)`: no `(` before it",
                '}' => "unbalanced `}`: no `{` before it",
                '&' => "`&` outside `{A & B}`",
                _ => "unexpected character",
            };
            return Err(PatternError::new(p.pos, msg));
        }
        if alts.iter().any(|s| seq_nullable(s)) {
            return Err(PatternError::new(
                0,
                "the pattern can match no words: every item is optional",
            ));
        }
        Ok(WordPattern { alts })
    }

    fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Node)) {
        self.alts.iter().flatten().for_each(|n| n.visit(f));
    }

    /// Class names referenced (`<name>`), for validation against the rule set's classes.
    pub(crate) fn classes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit(&mut |n| {
            if let Node::Class { name, .. } = n {
                if !out.contains(&name.as_str()) {
                    out.push(name);
                }
            }
        });
        out
    }

    /// Literal words in the pattern (not prefixes), for the rule set's vocabulary.
    pub(crate) fn words(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        self.visit(&mut |n| {
            if let Node::Word { text, .. } = n {
                if !out.contains(&text.as_str()) {
                    out.push(text);
                }
            }
        });
        out
    }

    /// Compile to a regex source string. `read(word)` gives the canonical reading of one
    /// literal word as zero or more canonical words (empty = a filler: the item becomes
    /// empty/optional; several words = a rewrite such as "cant" -> ["can","not"]).
    /// `class(name)` gives the entries of a class already in canonical form (each entry a
    /// Vec of canonical words; None = unknown class -> error).
    pub(crate) fn compile(
        &self,
        read: &dyn Fn(&str) -> Vec<String>,
        class: &dyn Fn(&str) -> Option<Vec<Vec<String>>>,
    ) -> Result<String, PatternError> {
        let c = Compiler { read, class };
        let frag = c.alternatives(&self.alts, 0)?;
        match frag.n {
            Some(n) if !frag.nullable => Ok(n.text),
            _ => Err(PatternError::new(
                0,
                "the pattern can match no words: every item is optional or a filler word",
            )),
        }
    }
}

// ---------------------------------------------------------------- parser

struct Parser<'s> {
    src: &'s str,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_lowercase()
        || c.is_ascii_digit()
        || (!c.is_ascii() && c.is_alphabetic() && !c.is_uppercase())
}

/// Why a character cannot start an item.
fn bad_char(c: char) -> &'static str {
    match c {
        c if c.is_uppercase() => "write words in lower case",
        '*' => "`*` ends a word prefix such as `swell*`",
        '?' => "`?` must follow an item directly",
        '>' => "unbalanced `>`",
        '\'' => "apostrophes are dropped from messages: write `cant`, not `can't`",
        '-' => "a hyphen between letters reads as a space: write two words",
        _ => "unexpected character",
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Skips white space and commas (a comma between words is always allowed).
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' {
                self.bump();
            } else {
                break;
            }
        }
    }

    /// `seq ( '|' seq )*`, stopping before `)`, `}`, `&` or the end.
    fn alternatives(&mut self, depth: usize) -> Result<Vec<Vec<Node>>, PatternError> {
        let mut alts = Vec::new();
        loop {
            self.skip_space();
            let start = self.pos;
            let seq = self.sequence(depth)?;
            if seq.is_empty() {
                return Err(PatternError::new(start, "empty alternative"));
            }
            alts.push(seq);
            if self.peek() == Some('|') {
                self.bump();
            } else {
                return Ok(alts);
            }
        }
    }

    /// Items separated by white space, stopping before `|`, `)`, `}`, `&` or the end.
    fn sequence(&mut self, depth: usize) -> Result<Vec<Node>, PatternError> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None | Some('|' | ')' | '}' | '&') => return Ok(items),
                Some(_) => {}
            }
            let item = self.item(depth)?;
            let item = self.postfix(item)?;
            // An item ends at white space, a comma or a closing token.
            match self.peek() {
                None | Some('|' | ')' | '}' | '&' | ',') => {}
                Some(c) if c.is_whitespace() => {}
                Some('?' | '{') => {
                    return Err(PatternError::new(
                        self.pos,
                        "one `?` or `{m,n}` per item: put the item in a group to repeat it again",
                    ));
                }
                Some(c) if is_word_char(c) || matches!(c, '(' | '<' | '_' | '#') => {
                    return Err(PatternError::new(
                        self.pos,
                        "items must be separated by a space",
                    ));
                }
                Some(c) => return Err(PatternError::new(self.pos, bad_char(c))),
            }
            items.push(item);
        }
    }

    fn item(&mut self, depth: usize) -> Result<Node, PatternError> {
        let col = self.pos;
        let Some(c) = self.peek() else {
            return Err(PatternError::new(col, "expected an item"));
        };
        match c {
            '(' => {
                self.nest(depth, col)?;
                self.bump();
                self.skip_space();
                if self.peek() == Some(')') {
                    return Err(PatternError::new(col, "empty group `()`"));
                }
                let alts = self.alternatives(depth + 1)?;
                match self.peek() {
                    Some(')') => {
                        self.bump();
                        Ok(Node::Group { alts, col })
                    }
                    Some('&') => Err(PatternError::new(
                        self.pos,
                        "`&` belongs in `{A & B}`, not in a group",
                    )),
                    Some('}') => Err(PatternError::new(
                        self.pos,
                        "`}` closes no `{`: this `(` is still open",
                    )),
                    _ => Err(PatternError::new(col, "unclosed `(`")),
                }
            }
            '{' => {
                self.nest(depth, col)?;
                self.bump();
                let rest = &self.src[self.pos..];
                if let Some(end) = rest.find('}') {
                    let body = &rest[..end];
                    if body.chars().all(|c| c.is_ascii_digit() || c == ',') {
                        return Err(PatternError::new(
                            col,
                            "a repetition `{m,n}` must follow its item directly, without a space",
                        ));
                    }
                }
                let a = self.both_side(depth + 1, col)?;
                if self.peek() != Some('&') {
                    return Err(match self.peek() {
                        None => PatternError::new(col, "unclosed `{`"),
                        _ => PatternError::new(col, "`{A & B}` needs an `&` between its two sides"),
                    });
                }
                self.bump();
                let b = self.both_side(depth + 1, col)?;
                match self.peek() {
                    Some('}') => {
                        self.bump();
                        Ok(Node::Both { a, b, col })
                    }
                    Some('&') => Err(PatternError::new(
                        self.pos,
                        "`{A & B}` takes exactly two sides: nest `{A & {B & C}}` for more",
                    )),
                    _ => Err(PatternError::new(col, "unclosed `{`")),
                }
            }
            '<' => {
                self.bump();
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                        self.bump();
                    } else {
                        break;
                    }
                }
                let name = &self.src[start..self.pos];
                match self.peek() {
                    Some('>') if !name.is_empty() => {
                        self.bump();
                        Ok(Node::Class {
                            name: name.to_string(),
                            col,
                        })
                    }
                    Some('>') => Err(PatternError::new(col, "empty class name `<>`")),
                    None => Err(PatternError::new(col, "unclosed `<`")),
                    Some(_) => Err(PatternError::new(
                        self.pos,
                        "a class name is kebab-case: a-z, 0-9 and `-`",
                    )),
                }
            }
            '_' => {
                self.bump();
                Ok(Node::Any { col })
            }
            '#' => {
                self.bump();
                Ok(Node::Number { col })
            }
            c if is_word_char(c) => {
                while let Some(c) = self.peek() {
                    if is_word_char(c) {
                        self.bump();
                    } else {
                        break;
                    }
                }
                let text = self.src[col..self.pos].to_string();
                if self.peek() == Some('*') {
                    self.bump();
                    return Ok(Node::Prefix {
                        text: text.to_lowercase(),
                        col,
                    });
                }
                Ok(Node::Word { text, col })
            }
            c => Err(PatternError::new(col, bad_char(c))),
        }
    }

    fn nest(&self, depth: usize, col: usize) -> Result<(), PatternError> {
        if depth >= MAX_NESTING {
            Err(PatternError::new(
                col,
                format!("groups nested more than {MAX_NESTING} deep"),
            ))
        } else {
            Ok(())
        }
    }

    /// One side of `{A & B}`: a non-empty sequence that must match at least one word.
    fn both_side(&mut self, depth: usize, open: usize) -> Result<Vec<Node>, PatternError> {
        self.skip_space();
        let start = self.pos;
        let seq = self.sequence(depth)?;
        if self.peek() == Some('|') {
            return Err(PatternError::new(
                self.pos,
                "alternatives inside `{A & B}` need parentheses: `{(a | b) & c}`",
            ));
        }
        if seq.is_empty() {
            return Err(match self.peek() {
                None => PatternError::new(open, "unclosed `{`"),
                _ => PatternError::new(start, "empty side of `{A & B}`"),
            });
        }
        if seq_nullable(&seq) {
            return Err(PatternError::new(
                start,
                "each side of `{A & B}` must match at least one word",
            ));
        }
        Ok(seq)
    }

    /// An optional `?` or `{m,n}` directly after an item.
    fn postfix(&mut self, item: Node) -> Result<Node, PatternError> {
        let col = self.pos;
        match self.peek() {
            Some('?') => {
                self.bump();
                Ok(Node::Repeat {
                    inner: Box::new(item),
                    min: 0,
                    max: 1,
                    col,
                })
            }
            Some('{') => {
                self.bump();
                let min = self.number();
                let max = if self.peek() == Some(',') {
                    self.bump();
                    match self.number() {
                        Some(n) => Some(n),
                        None => {
                            return Err(PatternError::new(
                                col,
                                "a repetition needs an upper bound: `{m,n}`",
                            ));
                        }
                    }
                } else {
                    min
                };
                if self.peek() != Some('}') {
                    return Err(PatternError::new(
                        col,
                        "a repetition is written `{m,n}`, `{,n}` or `{n}`",
                    ));
                }
                self.bump();
                let (Some(max), min) = (max, min.unwrap_or(0)) else {
                    return Err(PatternError::new(
                        col,
                        "a repetition is written `{m,n}`, `{,n}` or `{n}`",
                    ));
                };
                if max > MAX_REPEAT {
                    return Err(PatternError::new(
                        col,
                        format!("a repetition may not exceed {MAX_REPEAT}"),
                    ));
                }
                if min > max {
                    return Err(PatternError::new(
                        col,
                        "in a repetition `{m,n}`, m must not exceed n",
                    ));
                }
                if max == 0 {
                    return Err(PatternError::new(
                        col,
                        "a repetition `{0,0}` matches nothing: drop the item",
                    ));
                }
                Ok(Node::Repeat {
                    inner: Box::new(item),
                    min,
                    max,
                    col,
                })
            }
            _ => Ok(item),
        }
    }

    /// Decimal digits, saturating (any large value is rejected by the caller).
    fn number(&mut self) -> Option<u32> {
        let mut value: Option<u32> = None;
        while let Some(c) = self.peek() {
            let Some(d) = c.to_digit(10) else { break };
            self.bump();
            value = Some(value.unwrap_or(0).saturating_mul(10).saturating_add(d));
        }
        value
    }
}

// -------------------------------------------------------------- compiler

/// A compiled regex fragment and its size with counted repetitions expanded.
#[derive(Debug, Clone)]
struct Re {
    text: String,
    expanded: usize,
}

impl Re {
    fn lit(s: &str) -> Re {
        Re {
            text: s.to_string(),
            expanded: s.len(),
        }
    }

    fn empty() -> Re {
        Re::lit("")
    }

    fn push(&mut self, other: &Re) {
        self.text.push_str(&other.text);
        self.expanded = self.expanded.saturating_add(other.expanded);
    }

    fn cat(parts: &[&Re]) -> Re {
        let mut out = Re::empty();
        for p in parts {
            out.push(p);
        }
        out
    }

    /// `(?:a|b|...)`, or the single part as it is.
    fn alt(parts: Vec<Re>) -> Re {
        if parts.len() == 1 {
            return parts.into_iter().next().unwrap_or_else(Re::empty);
        }
        let mut out = Re::lit("(?:");
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push(&Re::lit("|"));
            }
            out.push(p);
        }
        out.push(&Re::lit(")"));
        out
    }

    /// `(?:self){min,max}` (or `?`, or nothing for `{0,0}`); `self` must be non-empty.
    fn repeat(&self, min: u32, max: u32) -> Re {
        if max == 0 {
            return Re::empty();
        }
        if min == 1 && max == 1 {
            return self.clone();
        }
        let suffix = match (min, max) {
            (0, 1) => "?".to_string(),
            (a, b) if a == b => format!("{{{a}}}"),
            (a, b) => format!("{{{a},{b}}}"),
        };
        let text = format!("(?:{}){}", self.text, suffix);
        Re {
            text,
            expanded: self
                .expanded
                .saturating_add(4)
                .saturating_mul(max as usize)
                .saturating_add(suffix.len()),
        }
    }
}

/// What an item compiles to.
#[derive(Debug, Clone)]
struct Frag {
    /// Its non-empty matches, without a leading or trailing separator;
    /// `None` when it can only match no words (a filler word).
    n: Option<Re>,
    /// It can match no words.
    nullable: bool,
    /// Its matches as they follow an earlier word: each non-empty match with
    /// its own leading separator, or nothing when `nullable`.
    l: Re,
}

impl Frag {
    fn new(n: Option<Re>, nullable: bool) -> Frag {
        let l = match &n {
            None => Re::empty(),
            Some(n) => {
                let with_sep = Re::cat(&[&Re::lit(SEP), n]);
                if nullable {
                    with_sep.repeat(0, 1)
                } else {
                    with_sep
                }
            }
        };
        Frag {
            nullable: nullable || n.is_none(),
            n,
            l,
        }
    }

    fn word(re: Re) -> Frag {
        Frag::new(Some(re), false)
    }
}

struct Compiler<'f> {
    read: &'f dyn Fn(&str) -> Vec<String>,
    class: &'f dyn Fn(&str) -> Option<Vec<Vec<String>>>,
}

/// Canonical words joined by the separator, escaped; `None` for no words.
fn words_re<S: AsRef<str>>(words: &[S]) -> Option<Re> {
    let parts: Vec<String> = words
        .iter()
        .flat_map(|w| w.as_ref().split_whitespace())
        .map(regex::escape)
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(Re::lit(&parts.join(SEP)))
    }
}

fn check_size(re: &Re, col: usize) -> Result<(), PatternError> {
    if re.expanded > MAX_EXPANDED {
        Err(PatternError::new(
            col,
            format!("the pattern is too large once compiled (over {MAX_EXPANDED} bytes)"),
        ))
    } else {
        Ok(())
    }
}

impl Compiler<'_> {
    fn alternatives(&self, alts: &[Vec<Node>], col: usize) -> Result<Frag, PatternError> {
        let mut parts = Vec::new();
        let mut nullable = false;
        for seq in alts {
            let f = self.sequence(seq)?;
            nullable |= f.nullable;
            if let Some(n) = f.n {
                if !parts.iter().any(|p: &Re| p.text == n.text) {
                    parts.push(n);
                }
            }
        }
        let n = if parts.is_empty() {
            None
        } else {
            let re = Re::alt(parts);
            check_size(&re, col)?;
            Some(re)
        };
        Ok(Frag::new(n, nullable))
    }

    fn sequence(&self, seq: &[Node]) -> Result<Frag, PatternError> {
        let frags = seq
            .iter()
            .map(|n| self.item(n))
            .collect::<Result<Vec<_>, _>>()?;
        let col = seq.first().map_or(0, Node::col);
        let re = seq_n(&frags);
        if let Some(re) = &re {
            check_size(re, col)?;
        }
        Ok(Frag::new(re, frags.iter().all(|f| f.nullable)))
    }

    fn item(&self, node: &Node) -> Result<Frag, PatternError> {
        let frag = match node {
            Node::Word { text, .. } => match words_re(&(self.read)(text)) {
                Some(re) => Frag::word(re),
                None => Frag::new(None, true),
            },
            Node::Prefix { text, .. } => {
                Frag::word(Re::lit(&format!("{}{WORD_REST}", regex::escape(text))))
            }
            Node::Any { .. } => Frag::word(Re::lit(WORD)),
            Node::Number { .. } => Frag::word(Re::lit(NUMBER)),
            Node::Class { name, col } => {
                let Some(entries) = (self.class)(name) else {
                    return Err(PatternError::new(*col, "unknown class"));
                };
                let mut nullable = false;
                let mut parts: Vec<Re> = Vec::new();
                for entry in &entries {
                    match words_re(entry) {
                        Some(re) => parts.push(re),
                        None => nullable = true,
                    }
                }
                if parts.is_empty() && !nullable {
                    return Err(PatternError::new(*col, "the class has no entries"));
                }
                // Longest first, so that leftmost-first matching prefers
                // "chest wall" to "chest"; ties in a fixed order.
                parts.sort_by(|a, b| b.text.len().cmp(&a.text.len()).then(a.text.cmp(&b.text)));
                parts.dedup_by(|a, b| a.text == b.text);
                let n = if parts.is_empty() {
                    None
                } else {
                    Some(Re::alt(parts))
                };
                Frag::new(n, nullable)
            }
            Node::Group { alts, col } => self.alternatives(alts, *col)?,
            Node::Repeat {
                inner, min, max, ..
            } => {
                let f = self.item(inner)?;
                match f.n {
                    None => Frag::new(None, true),
                    Some(n) => {
                        let tail = Re::cat(&[&Re::lit(SEP), &n]);
                        if f.nullable || *min == 0 {
                            // Non-empty: 1..=max non-empty matches; or none at all.
                            let n_re = Re::cat(&[&n, &tail.repeat(0, max - 1)]);
                            Frag {
                                n: Some(n_re),
                                nullable: true,
                                l: tail.repeat(0, *max),
                            }
                        } else {
                            let n_re = Re::cat(&[&n, &tail.repeat(min - 1, max - 1)]);
                            Frag {
                                n: Some(n_re),
                                nullable: false,
                                l: tail.repeat(*min, *max),
                            }
                        }
                    }
                }
            }
            Node::Both { a, b, col } => {
                let fa = self.sequence(a)?;
                let fb = self.sequence(b)?;
                let (Some(na), Some(nb)) = (fa.n, fb.n) else {
                    return Err(PatternError::new(
                        *col,
                        "each side of `{A & B}` must match at least one word",
                    ));
                };
                if fa.nullable || fb.nullable {
                    return Err(PatternError::new(
                        *col,
                        "each side of `{A & B}` must match at least one word",
                    ));
                }
                let gap = Re::cat(&[&Re::lit(SEP), &Re::lit(WORD)]).repeat(0, MAX_GAP);
                let sep = Re::lit(SEP);
                let ab = Re::cat(&[&na, &gap, &sep, &nb]);
                let ba = Re::cat(&[&nb, &gap, &sep, &na]);
                Frag::word(Re::alt(vec![ab, ba]))
            }
        };
        if let Some(n) = &frag.n {
            check_size(n, node.col())?;
        }
        check_size(&frag.l, node.col())?;
        Ok(frag)
    }
}

/// The non-empty matches of a sequence, or `None` when it matches only no words.
///
/// With `j` the first item that cannot be empty, a match is: the words of
/// the items before `j` (maybe none, then followed by a separator), then
/// `j`, then every later item in its leading-separator form. When all the
/// items can be empty, a match starts at whichever item first matches a word.
fn seq_n(frags: &[Frag]) -> Option<Re> {
    let rest_l = |from: usize| -> Re {
        let mut out = Re::empty();
        for f in &frags[from..] {
            out.push(&f.l);
        }
        out
    };
    match frags.iter().position(|f| !f.nullable) {
        Some(j) => {
            let nj = frags[j].n.as_ref()?;
            let mut out = Re::empty();
            if let Some(prefix) = nullable_seq_n(&frags[..j]) {
                out.push(&Re::cat(&[&prefix, &Re::lit(SEP)]).repeat(0, 1));
            }
            out.push(nj);
            out.push(&rest_l(j + 1));
            Some(out)
        }
        None => nullable_seq_n(frags),
    }
}

/// The non-empty matches of a sequence whose items can all be empty.
fn nullable_seq_n(frags: &[Frag]) -> Option<Re> {
    let mut parts = Vec::new();
    for (i, f) in frags.iter().enumerate() {
        if let Some(n) = &f.n {
            let mut re = n.clone();
            for g in &frags[i + 1..] {
                re.push(&g.l);
            }
            parts.push(re);
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(Re::alt(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn read(w: &str) -> Vec<String> {
        match w {
            "really" | "so" | "very" => vec![],
            "cant" => vec!["can".into(), "not".into()],
            "kms" => vec!["kill".into(), "myself".into()],
            "swelling" => vec!["swell".into()],
            w => vec![w.to_string()],
        }
    }

    fn class(name: &str) -> Option<Vec<Vec<String>>> {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match name {
            "tight" => Some(vec![v(&["tight"]), v(&["heavi"]), v(&["tight"])]),
            "body-part" => Some(vec![v(&["chest"]), v(&["left", "arm"]), v(&["arm"])]),
            "hedge" => Some(vec![v(&[]), v(&["kinda"])]),
            "nothing" => Some(vec![v(&[])]),
            "empty" => Some(vec![]),
            _ => None,
        }
    }

    fn compile(src: &str) -> Result<String, PatternError> {
        WordPattern::parse(src)?.compile(&read, &class)
    }

    fn re(src: &str) -> Regex {
        let s = compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        Regex::new(&format!("^(?:{s})$")).unwrap_or_else(|e| panic!("{src} -> {s}: {e}"))
    }

    fn err(src: &str) -> PatternError {
        match compile(src) {
            Ok(s) => panic!("{src} compiled to {s}"),
            Err(e) => e,
        }
    }

    fn col(src: &str) -> usize {
        err(src).column
    }

    #[test]
    fn parse_errors_have_columns() {
        assert_eq!(col(""), 0);
        assert_eq!(col("   "), 0);
        assert_eq!(col("chest (pain"), 6);
        assert_eq!(col("chest pain)"), 10);
        assert_eq!(col("chest pain}"), 10);
        assert_eq!(col("a {b & c"), 2);
        assert_eq!(col("a {b c}"), 2);
        assert_eq!(col("a {b & c & d}"), 9);
        assert_eq!(col("a {b | c & d}"), 5);
        assert_eq!(col("chest _{0,9}"), 7);
        assert_eq!(col("chest _{3,2}"), 7);
        assert_eq!(col("chest _{2,}"), 7);
        assert_eq!(col("chest _{0,0}"), 7);
        assert_eq!(col("chest Pain"), 6);
        assert_eq!(col("chest paIn"), 8);
        assert_eq!(col("chest can't"), 9);
        assert_eq!(col("left-arm"), 4);
        assert_eq!(col("chest pa$n"), 8);
        assert_eq!(col("chest <Body>"), 7);
        assert_eq!(col("chest <body"), 6);
        assert_eq!(col("chest <>"), 6);
        assert_eq!(col("chest ?"), 6);
        assert_eq!(col("chest * pain"), 6);
        assert_eq!(col("chest pain?{1,2}"), 11);
        assert_eq!(col("chest(pain)"), 5);
        assert_eq!(col("chest ()"), 6);
        assert_eq!(col("chest (a | )"), 11);
        assert_eq!(col("a & b"), 2);
        assert_eq!(col("chest {1,2}"), 6);
        assert_eq!(col("a? (b | c?)"), 0);
        assert_eq!(col("x {a? & b}"), 3);
        let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
        assert_eq!(col(&deep), MAX_NESTING);
        assert!(!err("chest Pain").message.is_empty());
    }

    #[test]
    fn compile_errors() {
        // Unknown class: the column of the `<`.
        assert_eq!(col("chest <pressure>"), 6);
        assert_eq!(col("chest <empty>"), 6);
        // All words fillers once read.
        assert_eq!(col("really so"), 0);
        assert_eq!(col("really <nothing>"), 0);
        assert_eq!(col("x {really & pain}"), 2);
        // An expansion that would be huge.
        let big = "{a & {b & {c & {d & {e & {f & {g & {h & {i & {j & {k & {l & m}}}}}}}}}}}}";
        assert!(compile(big).is_err());
        let reps = "((((a{8}){8}){8}){8}){8}";
        assert!(compile(reps).is_err());
    }

    #[test]
    fn optional_group_and_class() {
        let r = re("chest (is|feel)? <tight>");
        assert!(r.is_match("chest is tight"));
        assert!(r.is_match("chest heavi"));
        assert!(r.is_match("chest feel heavi"));
        assert!(r.is_match("chest, tight"));
        assert!(!r.is_match("chest pain"));
        assert!(!r.is_match("chest  tight"));
        assert!(!r.is_match("chest is is tight"));
        let any = Regex::new(&compile("chest (is|feel)? <tight>").unwrap()).unwrap();
        assert!(any.is_match("my chest is tight"));
        assert!(!any.is_match("my chest. tight"));
    }

    #[test]
    fn class_entries_longest_first_deduplicated() {
        let s = compile("<body-part>").unwrap();
        assert_eq!(s, "(?:left,? arm|chest|arm)");
        assert_eq!(compile("<tight>").unwrap(), "(?:heavi|tight)");
        let r = re("<body-part> hurt");
        assert!(r.is_match("left arm hurt"));
        assert!(r.is_match("left, arm hurt"));
        assert!(r.is_match("arm hurt"));
        // A class with an empty entry is optional.
        let r = re("i <hedge> hurt");
        assert!(r.is_match("i hurt"));
        assert!(r.is_match("i kinda hurt"));
        assert!(!r.is_match("i  hurt"));
    }

    #[test]
    fn both_orders_within_a_clause() {
        let r = re("{chest & <tight>}");
        assert!(r.is_match("tight in my chest"));
        assert!(r.is_match("chest, tight"));
        assert!(r.is_match("chest tight"));
        assert!(r.is_match("heavi chest"));
        assert!(r.is_match("chest a b c d e f tight"));
        assert!(!r.is_match("chest a b c d e f g tight"));
        let find = Regex::new(&compile("{chest & <tight>}").unwrap()).unwrap();
        assert!(!find.is_match("chest hurt. tight jean"));
        assert!(!find.is_match("chest hurt; tight jean"));
        assert!(!find.is_match("chest hurt! tight"));
        assert!(find.is_match("my chest is so tight today"));
        // Sides may be sequences and nest.
        let r = re("{left arm & numb*}");
        assert!(r.is_match("numbness in my left arm"));
        assert!(!r.is_match("left numb arm"));
        let r = re("{a & {b & c}}");
        assert!(r.is_match("c x b a"));
        assert!(r.is_match("a b c"));
    }

    #[test]
    fn gaps() {
        let r = re("chest _{0,2} pain");
        assert!(r.is_match("chest pain"));
        assert!(r.is_match("chest wall pain"));
        assert!(r.is_match("chest, wall, pain"));
        assert!(r.is_match("chest a b pain"));
        assert!(!r.is_match("chest a b c pain"));
        assert!(!r.is_match("chest  pain"));
        let r = re("chest _{,1} pain");
        assert!(r.is_match("chest pain"));
        assert!(r.is_match("chest x pain"));
        let r = re("chest _{2} pain");
        assert!(!r.is_match("chest x pain"));
        assert!(r.is_match("chest x y pain"));
        let r = re("_ pain");
        assert!(r.is_match("bad pain"));
        assert!(!r.is_match("pain"));
        let r = re("_{1,3}");
        assert!(r.is_match("a b c"));
        assert!(!r.is_match("a b c d"));
        let find = Regex::new(&compile("chest _{0,2} pain").unwrap()).unwrap();
        assert!(!find.is_match("chest. pain"));
    }

    #[test]
    fn fillers_and_rewrites() {
        // A filler word in a pattern reads as nothing.
        assert_eq!(compile("chest really tight").unwrap(), "chest,? tight");
        assert_eq!(compile("really chest").unwrap(), "chest");
        assert_eq!(compile("chest really").unwrap(), "chest");
        let r = re("(really | very)? chest tight");
        assert!(r.is_match("chest tight"));
        // A rewrite expands to several words.
        assert_eq!(compile("cant breath").unwrap(), "can,? not,? breath");
        let r = re("(kms | die)");
        assert!(r.is_match("kill myself"));
        assert!(r.is_match("die"));
        // Literal words are read, prefixes are not.
        assert!(re("swelling").is_match("swell"));
        assert!(re("swelling*").is_match("swellingx"));
        // Escaping.
        let p = WordPattern::parse("a b").unwrap();
        let s = p.compile(&|w| vec![format!("{w}.+")], &class).unwrap();
        assert_eq!(s, r"a\.\+,? b\.\+");
    }

    #[test]
    fn prefixes_and_any() {
        assert_eq!(compile("swell*").unwrap(), r"swell[^\s,.!?;:]*");
        assert_eq!(compile("_").unwrap(), r"[^\s,.!?;:]+");
        let r = re("face swell*");
        assert!(r.is_match("face swell"));
        assert!(!r.is_match("face swollen"));
        assert!(r.is_match("face swelling"));
        assert!(!r.is_match("face swell."));
    }

    #[test]
    fn optional_items_never_double_separators() {
        for src in [
            "a? b? c",
            "a b? c? d",
            "a? b c?",
            "(a | b c)? d (e f?)?",
            "a? (b? c)? d",
            "a{0,2} b _{0,3} c?",
            "really? a very b? so",
            "(a? b?) c",
        ] {
            let r = re(src);
            let mut matched = 0;
            for text in [
                "c", "a c", "b c", "a b c", "a b c d", "a d", "a b d", "d", "b d e f", "b d e",
                "a a b c", "b x y c", "a", "a b",
            ] {
                if r.is_match(text) {
                    matched += 1;
                    if text.contains(' ') {
                        let doubled = text.replace(' ', "  ");
                        assert!(!r.is_match(&doubled), "{src} matched {doubled:?}");
                    }
                    let leading = format!(" {text}");
                    assert!(!r.is_match(&leading), "{src} matched {leading:?}");
                }
            }
            assert!(matched > 0, "{src} matched none of the samples");
            let text_bad = ["  c", "c ", " a c", "a  c", "a, , c", "a ,c"];
            for t in text_bad {
                assert!(!r.is_match(t), "{src} matched {t:?}");
            }
        }
        let r = re("a b? c");
        assert!(r.is_match("a c"));
        assert!(r.is_match("a b c"));
        assert!(r.is_match("a, b, c"));
        assert!(!r.is_match("a  c"));
        let r = re("a? b? c");
        assert!(r.is_match("c"));
        assert!(r.is_match("b c"));
        assert!(r.is_match("a c"));
        let r = re("(a? b?) c");
        assert!(r.is_match("c") && r.is_match("a c") && r.is_match("a b c"));
    }

    #[test]
    fn repetition() {
        let r = re("very{1,3} bad");
        // `very` is a filler: the repetition is nothing.
        assert!(r.is_match("bad"));
        let r = re("(ow){2,3} pain");
        assert!(!r.is_match("ow pain"));
        assert!(r.is_match("ow ow pain"));
        assert!(r.is_match("ow, ow, ow pain"));
        assert!(!r.is_match("ow ow ow ow pain"));
        let r = re("x (a? b?){2}");
        assert!(r.is_match("x a"));
        assert!(r.is_match("x a b a b"));
        assert!(!r.is_match("x a b a b a"));
        let r = re("a <body-part>{1,2}");
        assert!(r.is_match("a chest left arm"));
        assert!(!r.is_match("a chest chest chest"));
    }

    #[test]
    fn top_level_alternatives_and_commas() {
        let r = re("chest pain | <tight> chest");
        assert!(r.is_match("chest pain"));
        assert!(r.is_match("tight chest"));
        assert_eq!(
            compile("chest, pain").unwrap(),
            compile("chest pain").unwrap()
        );
    }

    #[test]
    fn classes_and_words_listed() {
        let p = WordPattern::parse("{chest & <tight>} (cant | <tight> swell* _) chest").unwrap();
        assert_eq!(p.classes(), vec!["tight"]);
        assert_eq!(p.words(), vec!["chest", "cant"]);
        let p = WordPattern::parse("crème brûlée").unwrap();
        assert_eq!(p.words(), vec!["crème", "brûlée"]);
    }

    #[test]
    fn no_word_boundary_escapes() {
        for src in ["a _ b*", "{a & b}", "<body-part>{1,2}", "x _{0,8}"] {
            let s = compile(src).unwrap();
            assert!(!s.contains(r"\b") && !s.contains(r"\w"), "{s}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;
        use std::collections::BTreeSet;

        fn leaf() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec!["a", "b", "chest", "really", "cant", "kms", "9"])
                    .prop_map(String::from),
                Just("sw*".to_string()),
                Just("_".to_string()),
                Just("<tight>".to_string()),
                Just("<hedge>".to_string()),
                Just("<body-part>".to_string()),
                (0u32..3, 1u32..4).prop_map(|(m, n)| format!("_{{{},{}}}", m.min(n), n)),
            ]
        }

        fn pattern() -> impl Strategy<Value = String> {
            leaf().prop_recursive(4, 24, 4, |inner| {
                let seq = prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join(" "));
                prop_oneof![
                    prop::collection::vec(seq.clone(), 1..3)
                        .prop_map(|v| format!("({})", v.join(" | "))),
                    (seq.clone(), seq.clone()).prop_map(|(a, b)| format!("{{{a} & {b}}}")),
                    inner.clone().prop_map(|x| format!("({x})?")),
                    (inner, 1u32..4).prop_map(|(x, n)| format!("({x}){{0,{n}}}")),
                    seq,
                ]
            })
        }

        fn words() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop::sample::select(vec![
                    "a", "b", "chest", "can", "not", "tight", "heavi", "kinda", "sw", "swx",
                    "left", "arm", "x", ",",
                ]),
                0..12,
            )
            .prop_map(|v| v.join(" ").replace(" ,", ","))
        }

        /// A reference matcher over word tokens: the end positions of the
        /// matches of `seq` starting at `start`.
        fn seq_ends(seq: &[Node], toks: &[&str], start: usize) -> BTreeSet<usize> {
            let mut ends = BTreeSet::from([start]);
            for node in seq {
                ends = ends
                    .iter()
                    .flat_map(|&s| node_ends(node, toks, s))
                    .collect();
            }
            ends
        }

        fn words_at(ws: &[String], toks: &[&str], start: usize) -> Option<usize> {
            let end = start + ws.len();
            (end <= toks.len() && toks[start..end].iter().zip(ws).all(|(t, w)| t == w))
                .then_some(end)
        }

        fn node_ends(node: &Node, toks: &[&str], start: usize) -> BTreeSet<usize> {
            match node {
                Node::Word { text, .. } => words_at(&read(text), toks, start).into_iter().collect(),
                Node::Prefix { text, .. } => toks
                    .get(start)
                    .filter(|t| t.starts_with(text.as_str()))
                    .map(|_| start + 1)
                    .into_iter()
                    .collect(),
                Node::Any { .. } => (start < toks.len())
                    .then_some(start + 1)
                    .into_iter()
                    .collect(),
                Node::Number { .. } => toks
                    .get(start)
                    .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
                    .map(|_| start + 1)
                    .into_iter()
                    .collect(),
                Node::Class { name, .. } => class(name)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|e| words_at(e, toks, start))
                    .collect(),
                Node::Group { alts, .. } => {
                    alts.iter().flat_map(|a| seq_ends(a, toks, start)).collect()
                }
                Node::Repeat {
                    inner, min, max, ..
                } => {
                    let mut out = BTreeSet::new();
                    let mut cur = BTreeSet::from([start]);
                    for count in 0..=*max {
                        if count >= *min {
                            out.extend(cur.iter().copied());
                        }
                        cur = cur
                            .iter()
                            .flat_map(|&s| node_ends(inner, toks, s))
                            .collect();
                    }
                    out
                }
                Node::Both { a, b, .. } => {
                    let mut out = BTreeSet::new();
                    for (x, y) in [(a, b), (b, a)] {
                        for e in seq_ends(x, toks, start) {
                            for gap in 0..=MAX_GAP as usize {
                                out.extend(seq_ends(y, toks, e + gap));
                            }
                        }
                    }
                    out.retain(|&e| e <= toks.len());
                    out
                }
            }
        }

        fn text() -> impl Strategy<Value = (Vec<&'static str>, Vec<bool>)> {
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "a", "b", "chest", "can", "not", "tight", "heavi", "kinda", "sw", "swx",
                        "left", "arm", "kill", "myself", "9",
                    ]),
                    any::<bool>(),
                ),
                1..9,
            )
            .prop_map(|v| v.into_iter().unzip())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn regex_agrees_with_a_reference_matcher(src in pattern(), (toks, commas) in text()) {
                let Ok(p) = WordPattern::parse(&src) else { return Ok(()) };
                let Ok(s) = p.compile(&read, &class) else { return Ok(()) };
                let r = Regex::new(&format!("^(?:{s})$")).unwrap();
                // Every span of words, as canonical text, against the reference.
                for i in 0..toks.len() {
                    let ends: BTreeSet<usize> =
                        p.alts.iter().flat_map(|a| seq_ends(a, &toks, i)).collect();
                    for j in i + 1..=toks.len() {
                        let mut joined = String::new();
                        for k in i..j {
                            if k > i {
                                joined.push_str(if commas[k] { ", " } else { " " });
                            }
                            joined.push_str(toks[k]);
                        }
                        prop_assert_eq!(r.is_match(&joined), ends.contains(&j),
                            "{} -> {} on {:?}", src, s, joined);
                    }
                }
            }
        }

        proptest! {
            #[test]
            fn random_patterns_compile_to_valid_regexes(src in pattern()) {
                match compile(&src) {
                    Ok(s) => {
                        prop_assert!(Regex::new(&s).is_ok(), "{} -> {}", src, s);
                    }
                    Err(e) => prop_assert!(e.column <= src.len()),
                }
            }

            #[test]
            fn matches_never_start_or_end_at_a_separator(src in pattern(), text in words()) {
                if let Ok(s) = compile(&src) {
                    let r = Regex::new(&s).unwrap();
                    for m in r.find_iter(&text) {
                        let t = m.as_str();
                        prop_assert!(!t.is_empty());
                        prop_assert!(!t.starts_with([' ', ',']) && !t.ends_with([' ', ',']),
                            "{} -> {} matched {:?}", src, s, t);
                        prop_assert!(!t.contains("  "));
                    }
                }
            }

            #[test]
            fn parse_never_panics(src in "[a-z _(){}<>|&?*,0-9A-Z'-]{0,40}") {
                if let Err(e) = WordPattern::parse(&src) {
                    prop_assert!(e.column <= src.len());
                }
            }
        }
    }
}
