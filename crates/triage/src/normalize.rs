//! Text normalization with an offset map back to the original text.
//!
//! Message text and rule phrases go through the same folding, so a rule
//! written as `can't breathe` matches `CANT BREATHE`, `can’t  breathe` and
//! `ｃａｎ’ｔ breathe` alike. Every normalized byte remembers the byte range of
//! the original character it came from, so findings point at the original.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Normalized text plus, for each of its bytes, the original byte range.
#[derive(Debug, Default, Clone)]
pub(crate) struct Normalized {
    /// Lower-case, folded text. Whitespace runs are one space, or one `\n`
    /// when the run held a line break.
    pub text: String,
    /// `origin[i]` = (start, end) in the original text of the character that
    /// produced normalized byte `i`.
    origin: Vec<(u32, u32)>,
}

impl Normalized {
    /// Normalize `input`. Inputs longer than `u32::MAX` bytes must be cut
    /// before (the engine caps message length far below that).
    pub fn new(input: &str) -> Normalized {
        let mut out = Normalized::default();
        out.refill(input);
        out
    }

    /// Normalize `input` into this value, reusing its buffers.
    pub fn refill(&mut self, input: &str) {
        let mut bytes = std::mem::take(&mut self.text).into_bytes();
        bytes.clear();
        bytes.reserve(input.len() + 8);
        self.origin.clear();
        self.origin.reserve(input.len() + 8);
        let mut out = Fill {
            bytes,
            origin: std::mem::take(&mut self.origin),
        };
        out.fill(input);
        // Only whole characters were pushed: the bytes are UTF-8.
        self.text = String::from_utf8(out.bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        self.origin = out.origin;
    }

    /// Bytes held by the buffers (what reusing this value keeps).
    pub fn capacity(&self) -> usize {
        self.text.capacity() + self.origin.capacity() * 8
    }

    /// The first normalized byte whose original character starts at or
    /// after original byte `pos` (the text length when none does).
    pub fn first_at_or_after(&self, pos: usize) -> usize {
        self.origin.partition_point(|&(s, _)| (s as usize) < pos)
    }

    /// The normalized byte offset of original byte offset `pos`.
    pub(crate) fn normalized_offset(&self, pos: usize) -> usize {
        self.first_at_or_after(pos)
    }

    /// Empty the text and its map, keeping the buffers.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.origin.clear();
    }

    /// Append `s`, every byte of it coming from original bytes `from`.
    pub(crate) fn push_from(&mut self, s: &str, from: (u32, u32)) {
        self.text.push_str(s);
        self.origin.extend(std::iter::repeat_n(from, s.len()));
    }

    /// Append `other.text[start..end]` with its own origins (a stretch
    /// of another normalized text copied as it is).
    pub(crate) fn push_span_of(&mut self, other: &Normalized, start: usize, end: usize) {
        if let (Some(s), Some(o)) = (other.text.get(start..end), other.origin.get(start..end)) {
            self.text.push_str(s);
            self.origin.extend_from_slice(o);
        }
    }

    /// Drop trailing spaces.
    pub(crate) fn trim_end_spaces(&mut self) {
        while self.text.ends_with(' ') {
            self.text.pop();
            self.origin.pop();
        }
    }

    /// The original range of normalized bytes `start..end`, as the `u32`
    /// pair the map stores.
    pub(crate) fn origin_of(&self, start: usize, end: usize) -> (u32, u32) {
        let (s, e) = self.original_span(start, end);
        (s as u32, e as u32)
    }

    /// Map a normalized byte range to the original byte range.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        if start >= end || start >= self.origin.len() {
            return (0, 0);
        }
        let end = end.min(self.origin.len());
        let s = self.origin[start].0 as usize;
        let e = self.origin[end - 1].1 as usize;
        (s, e.max(s))
    }
}

/// The buffers `Normalized::new` fills, as bytes (pushed whole
/// characters at a time).
struct Fill {
    bytes: Vec<u8>,
    origin: Vec<(u32, u32)>,
}

impl Fill {
    fn fill(&mut self, input: &str) {
        let mut pending_space: Option<(u32, u32, bool)> = None; // start, end, saw newline
        let mut prev_alpha = false;
        let bytes = input.as_bytes();
        // An ASCII letter, digit or punctuation mark other than an
        // apostrophe or a hyphen is copied as it is, lower-cased.
        let plain = |b: u8| PLAIN[b as usize];
        let mut i = 0;
        while i < bytes.len() {
            // The common case first, a run of plain bytes at a time (the same
            // steps as the general case below).
            if plain(bytes[i]) {
                if let Some((s, e, nl)) = pending_space.take() {
                    if !self.bytes.is_empty() {
                        self.push_ascii(if nl { b'\n' } else { b' ' }, s, e);
                    }
                }
                while let Some(&b) = bytes.get(i).filter(|&&b| plain(b)) {
                    self.push_ascii(b.to_ascii_lowercase(), i as u32, i as u32 + 1);
                    i += 1;
                }
                prev_alpha = bytes[i - 1].is_ascii_alphabetic();
                continue;
            }
            let Some(c) = input.get(i..).and_then(|rest| rest.chars().next()) else {
                break; // not reached: `i` is always a character boundary
            };
            let start = i as u32;
            i += c.len_utf8();
            let end = i as u32;
            if c.is_whitespace() || c.is_control() {
                let nl = c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{2029}';
                pending_space = Some(match pending_space {
                    Some((s, _, n)) => (s, end, n || nl),
                    None => (start, end, nl),
                });
                prev_alpha = false;
                continue;
            }
            // Apostrophes vanish: "can't" == "cant".
            if matches!(c, '\'' | '’' | '‘' | '‛' | 'ʼ' | '´' | '`' | '′') {
                continue;
            }
            if let Some((s, e, nl)) = pending_space.take() {
                if !self.bytes.is_empty() {
                    self.push(if nl { '\n' } else { ' ' }, s, e);
                }
            }
            // A hyphen between two letters is a space: "short-of-breath" ==
            // "short of breath". Between digits it stays ("93-95").
            let is_dash = matches!(
                c,
                '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '﹣' | '－'
            );
            if is_dash {
                let next_alpha = input[i..].chars().next().is_some_and(char::is_alphabetic);
                if prev_alpha && next_alpha {
                    self.push(' ', start, end);
                } else {
                    self.push('-', start, end);
                }
                prev_alpha = false;
                continue;
            }
            if c.is_ascii() {
                self.push(c.to_ascii_lowercase(), start, end);
                prev_alpha = c.is_ascii_alphabetic();
                continue;
            }
            prev_alpha = c.is_alphabetic();
            match c {
                '“' | '”' | '„' | '‟' | '«' | '»' | '〝' | '〞' => {
                    self.push('"', start, end)
                }
                '…' => {
                    for _ in 0..3 {
                        self.push('.', start, end);
                    }
                }
                _ => {
                    // Compatibility folding (full-width letters, ligatures,
                    // superscripts), accents dropped ("convulsión" ==
                    // "convulsion", as patients often type it), lower case.
                    for d in std::iter::once(c).nfkd() {
                        if matches!(d, '\'' | '’') || is_combining_mark(d) {
                            continue;
                        }
                        for l in d.to_lowercase() {
                            self.push(l, start, end);
                        }
                    }
                }
            }
        }
    }

    fn push_ascii(&mut self, b: u8, start: u32, end: u32) {
        self.bytes.push(b);
        self.origin.push((start, end));
    }

    fn push(&mut self, c: char, start: u32, end: u32) {
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            self.push_ascii(b, start, end);
        }
    }
}

/// The nearest character boundary of `text` at or before `p` (clamped to
/// the text).
pub(crate) fn floor_boundary(text: &str, p: usize) -> usize {
    let mut p = p.min(text.len());
    while !text.is_char_boundary(p) {
        p -= 1;
    }
    p
}

/// Normalize a rule phrase: same folding as message text, trimmed.
pub(crate) fn normalize_phrase(phrase: &str) -> String {
    Normalized::new(phrase.trim()).text.trim().to_string()
}

/// Rewrite a rule pattern for speed on normalized text: `\b` becomes the
/// ASCII word boundary `(?-u:\b)` and `\w` the ASCII class `[0-9A-Za-z_]`.
/// Normalized text is lower case with accents folded, and every match is
/// checked for whole words afterwards, so the meaning is kept; a Unicode
/// word boundary would force the regex engine off its fast DFA on any
/// non-ASCII text (emoji, curly quotes), a 50-fold slowdown.
pub(crate) fn fast_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('b') if class_depth == 0 => out.push_str("(?-u:\\b)"),
                Some('B') if class_depth == 0 => out.push_str("(?-u:\\B)"),
                Some('w') if class_depth == 0 => out.push_str("[0-9A-Za-z_]"),
                Some('w') => out.push_str("0-9A-Za-z_"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' => {
                class_depth += 1;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal.
                let rest = chars.as_str();
                let lead = if rest.starts_with('^') { 1 } else { 0 };
                if rest[lead..].starts_with(']') {
                    for _ in 0..=lead {
                        if let Some(n) = chars.next() {
                            out.push(n);
                        }
                    }
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `ALNUM[b]`: whether byte `b` is an ASCII letter or digit (one load
/// instead of range comparisons, in the per-byte loops).
static ALNUM: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

/// `PLAIN[b]`: an ASCII letter, digit or punctuation mark other than an
/// apostrophe, a backtick or a hyphen, which normalization copies as it is
/// (lower-cased).
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_graphic() && !matches!(c, b'\'' | b'`' | b'-');
        b += 1;
    }
    t
};

/// Whether the character of `text` that starts at byte `pos` is
/// alphanumeric (false at the end). An ASCII byte is read as it is; only
/// other characters are decoded.
#[inline]
pub(crate) fn alnum_at(text: &str, pos: usize) -> bool {
    match text.as_bytes().get(pos) {
        None => false,
        Some(&b) if b.is_ascii() => ALNUM[b as usize],
        Some(_) => text
            .get(pos..)
            .and_then(|r| r.chars().next())
            .is_some_and(char::is_alphanumeric),
    }
}

/// Whether the character of `text` that ends at byte `pos` is
/// alphanumeric (false at the start).
#[inline]
pub(crate) fn alnum_before(text: &str, pos: usize) -> bool {
    match pos.checked_sub(1).and_then(|p| text.as_bytes().get(p)) {
        None => false,
        Some(&b) if b.is_ascii() => ALNUM[b as usize],
        Some(_) => text
            .get(..pos)
            .and_then(|r| r.chars().next_back())
            .is_some_and(char::is_alphanumeric),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_apostrophes_and_space() {
        let n = Normalized::new("I CAN’T  breathe\u{a0}now");
        assert_eq!(n.text, "i cant breathe now");
    }

    proptest::proptest! {
        /// The byte-table boundary checks read every character boundary of
        /// mixed text the way decoding the character there does.
        #[test]
        fn boundary_checks_equal_decoding(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "Z", "7", " ", ".", "-", "é", "日", "٣", "😀", "\u{300}", "\n",
                ]),
                0..20,
            )
        ) {
            let text: String = parts.concat();
            for p in (0..=text.len()).filter(|&p| text.is_char_boundary(p)) {
                let at = text[p..].chars().next().is_some_and(char::is_alphanumeric);
                let before = text[..p].chars().next_back().is_some_and(char::is_alphanumeric);
                proptest::prop_assert_eq!(alnum_at(&text, p), at, "at {} in {:?}", p, text);
                proptest::prop_assert_eq!(alnum_before(&text, p), before, "before {} in {:?}", p, text);
            }
        }
    }

    #[test]
    fn keeps_line_breaks_as_one_newline() {
        let n = Normalized::new("chest pain? no\r\n\r\n  SOB? no");
        assert_eq!(n.text, "chest pain? no\nsob? no");
    }

    #[test]
    fn folds_full_width_and_quotes_and_dashes() {
        let n = Normalized::new("ＣＨＥＳＴ pain — “bad” short-of-breath");
        assert_eq!(n.text, "chest pain - \"bad\" short of breath");
    }

    #[test]
    fn maps_spans_back_to_original() {
        let src = "Hi — my CHEST’s tight";
        let n = Normalized::new(src);
        let at = n.text.find("chests").unwrap();
        let (s, e) = n.original_span(at, at + "chests".len());
        assert_eq!(&src[s..e], "CHEST’s");
    }

    #[test]
    fn drops_accents() {
        let n = Normalized::new("Dolor en el PECHO, convulsión, niño");
        assert_eq!(n.text, "dolor en el pecho, convulsion, nino");
    }

    #[test]
    fn leading_space_is_dropped() {
        assert_eq!(Normalized::new("  \n hello").text, "hello");
        assert_eq!(Normalized::new("").text, "");
    }

    #[test]
    fn fast_patterns_use_ascii_word_classes() {
        assert_eq!(fast_pattern(r"\bchest\b"), r"(?-u:\b)chest(?-u:\b)");
        assert_eq!(fast_pattern(r"\w+ [\w-]"), r"[0-9A-Za-z_]+ [0-9A-Za-z_-]");
        assert_eq!(fast_pattern(r"[\]\b] \\b \d"), r"[\]\b] \\b \d");
    }

    #[test]
    fn phrase_normalization_matches_text() {
        assert_eq!(normalize_phrase(" Can't  Breathe "), "cant breathe");
    }
}
