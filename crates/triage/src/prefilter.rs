//! Required literals of a pattern: sets of strings such that every match of
//! the pattern contains at least one string of each set.
//!
//! The engine runs several hundred patterns per message. Most of them cannot
//! match most messages, and the regex crate can only skip a text quickly
//! when a match must *start* with a literal. Many of ours start with an
//! optional or open-ended part (`(?:\d+|two|a few)? towels? ... soaked`), so
//! the regex engine would scan every message with its lazy DFA. Instead, the
//! engine gathers every pattern's required literals into the one
//! Aho-Corasick pass it already makes over the text for the phrases, and
//! runs a pattern only when a literal of each of its sets occurs (and, for a
//! pattern whose matches are short, only around those literals). The
//! analysis is conservative: when it cannot prove a literal is required,
//! the pattern has no gate and always runs.

use crate::normalize::floor_boundary;
use regex_syntax::hir::{Hir, HirKind};

/// A required set whose shortest literal is shorter than this is not worth
/// gating on (it occurs in almost every message and would fill the shared
/// automaton with matches), unless its literals all hold a digit.
const MIN_LITERAL: usize = 3;

/// The most strings a finite set may have, and the longest string, when
/// sets are multiplied out (`(?:is|are) swollen` is `is swollen`, `are
/// swollen`).
const MAX_SET: usize = 256;
/// Products are formed up to each of these sizes in turn, so a pattern whose
/// long products do not fit the per-pattern budget still has the smaller
/// products of the same parts to choose from.
const PRODUCT_CAPS: &[usize] = &[MAX_SET, 32, 8];
const MAX_LEN: usize = 48;

/// The most required sets kept per pattern (the best ones).
const MAX_CONJUNCTS: usize = 8;

/// The most literals kept per pattern, over all its sets (the best sets
/// that fit, or the smallest set when none does): bounds the automaton a
/// hostile rule set can make. Measured on the built-in rules: 128 instead of
/// 1,024 makes the automaton a third smaller (engine build 61 -> 50 MB peak)
/// at no cost in classification time.
const MAX_LITERALS_PER_PATTERN: usize = 128;

/// A set of literals one of which every match contains.
pub(crate) type LiteralSet = Vec<Vec<u8>>;

/// The required literal sets of `pattern` (in the syntax the regex crate
/// compiles, i.e. after `normalize::fast_pattern`): every match of the
/// pattern contains at least one literal of *each* returned set. Empty when
/// nothing useful can be proven (the pattern must always run).
#[cfg(test)]
pub(crate) fn required_literals(pattern: &str) -> Vec<LiteralSet> {
    literal_sets(pattern, useful)
}

/// A rule pattern's gate, from one parse.
#[derive(Debug, Default)]
pub(crate) struct PatternGate {
    /// Its required literal sets.
    pub sets: Vec<LiteralSet>,
    /// When it can be searched in windows, its reach (see [`reach_of`]).
    pub reach: Option<Reach>,
    /// When it cannot, but its matches end a bounded distance after a
    /// literal of a set: the set and the distance (see [`tail_of`]).
    pub tail: Option<(LiteralSet, usize)>,
}

pub(crate) fn gate(pattern: &str) -> PatternGate {
    let Some(hir) = parse(pattern) else {
        return PatternGate::default();
    };
    let reach = reach_of(&hir);
    PatternGate {
        sets: sets_of(&hir, useful),
        tail: reach.is_none().then(|| tail_of(&hir)).flatten(),
        reach,
    }
}

fn parse(pattern: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()
}

fn literal_sets(pattern: &str, keep: fn(&LiteralSet) -> bool) -> Vec<LiteralSet> {
    parse(pattern).map_or_else(Vec::new, |hir| sets_of(&hir, keep))
}

fn sets_of(hir: &Hir, keep: fn(&LiteralSet) -> bool) -> Vec<LiteralSet> {
    let mut sets: Vec<LiteralSet> = PRODUCT_CAPS
        .iter()
        .flat_map(|&cap| required(hir, cap))
        .map(|mut s| {
            s.sort();
            s.dedup();
            s
        })
        .filter(keep)
        .collect();
    sets.sort_by(|a, b| quality(b).cmp(&quality(a)).then_with(|| a.cmp(b)));
    sets.dedup();
    // A set with a literal found in nearly every message gates little and
    // costs a match per occurrence: only when there is nothing better.
    let has_common = |s: &LiteralSet| s.iter().any(|l| common(l));
    if sets.iter().any(|s| !has_common(s)) {
        sets.retain(|s| !has_common(s));
    } else {
        sets.truncate(1);
    }
    // The best sets that fit the budget; a set too big to fit is skipped,
    // not the end of the choice (a smaller one further down still gates).
    // If none fits, the smallest one: a big gate beats none.
    let smallest = sets.iter().min_by_key(|s| s.len()).cloned();
    let mut total = 0;
    sets.retain(|s| {
        let fits = total + s.len() <= MAX_LITERALS_PER_PATTERN;
        if fits {
            total += s.len();
        }
        fits
    });
    if sets.is_empty() {
        sets.extend(smallest);
    }
    sets.truncate(MAX_CONJUNCTS);
    sets
}

/// A pattern with its own gate, for the few fixed patterns run on every
/// message (the number readers): it is searched only when each of its
/// required literal sets occurs in the text. The engine looks for the sets
/// in its one pass over the text, so short literals such as `/` or `%` are
/// worth checking too.
#[derive(Debug, Clone)]
pub(crate) struct Gated {
    pub(crate) re: regex::Regex,
    sets: Vec<LiteralSet>,
    /// This pattern's bit in a gate mask.
    bit: u32,
}

impl Gated {
    pub fn new(re: regex::Regex, index: u32) -> Gated {
        let sets = literal_sets(re.as_str(), |set| {
            !set.is_empty()
                && set.len() <= MAX_SET
                && set
                    .iter()
                    .all(|l| l.len() >= 2 || l.first().is_some_and(|b| !b.is_ascii_alphabetic()))
        });
        debug_assert!(re.captures_len() <= MAX_GROUPS, "{}", re.as_str());
        Gated {
            re,
            sets,
            bit: 1 << index,
        }
    }

    pub fn sets(&self) -> &[LiteralSet] {
        &self.sets
    }

    /// This pattern's bit number in a gate mask.
    pub fn index(&self) -> u32 {
        self.bit.trailing_zeros()
    }

    /// The matches of this pattern in `text`, with their capture groups, as
    /// `regex::Regex::captures_iter` gives them; none unless this pattern's
    /// bit is set in `gates`. The capture buffers are reused from call to
    /// call on a thread, so a match costs no allocation.
    pub fn captures_iter<'t>(&self, text: &'t str, gates: u32) -> CapturesIter<'t, '_> {
        let locs = (gates & self.bit != 0).then(|| take_locations(self));
        CapturesIter {
            gated: self,
            text,
            at: 0,
            locs,
        }
    }

    pub fn captures<'t>(&self, text: &'t str, gates: u32) -> Option<Caps<'t>> {
        self.captures_iter(text, gates).next()
    }
}

/// The most capture groups (the whole match included) a gated pattern has.
pub(crate) const MAX_GROUPS: usize = 10;

/// One match and its capture groups (byte spans into the text).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps<'t> {
    text: &'t str,
    spans: [Option<(usize, usize)>; MAX_GROUPS],
}

/// A capture group's match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group<'t> {
    text: &'t str,
    start: usize,
    end: usize,
}

impl<'t> Caps<'t> {
    pub fn get(&self, i: usize) -> Option<Group<'t>> {
        let (start, end) = (*self.spans.get(i)?)?;
        Some(Group {
            text: self.text,
            start,
            end,
        })
    }
}

impl<'t> Group<'t> {
    pub fn start(&self) -> usize {
        self.start
    }

    pub fn end(&self) -> usize {
        self.end
    }

    pub fn as_str(&self) -> &'t str {
        self.text.get(self.start..self.end).unwrap_or("")
    }
}

thread_local! {
    /// Capture buffers of the gated patterns, by pattern bit, with the
    /// address of the regex they were made for: a buffer is reused only
    /// with that regex (and only if its group count fits, should another
    /// engine's regex later sit at the same address).
    static LOCATIONS: std::cell::RefCell<Vec<Option<(usize, regex::CaptureLocations)>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn regex_id(re: &regex::Regex) -> usize {
    std::ptr::from_ref(re) as usize
}

/// This thread's capture buffer for `g` (a new one if it has none, or one
/// made for another regex).
fn take_locations(g: &Gated) -> regex::CaptureLocations {
    let slot = g.index() as usize;
    let id = regex_id(&g.re);
    LOCATIONS
        .try_with(|cell| {
            let mut all = cell.try_borrow_mut().ok()?;
            match all.get_mut(slot)?.take() {
                Some((owner, locs)) if owner == id && locs.len() == g.re.captures_len() => {
                    Some(locs)
                }
                _ => None,
            }
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| g.re.capture_locations())
}

/// Give a capture buffer back for the next search.
fn put_locations(g: &Gated, locs: regex::CaptureLocations) {
    let slot = g.index() as usize;
    let id = regex_id(&g.re);
    let _ = LOCATIONS.try_with(|cell| {
        if let Ok(mut all) = cell.try_borrow_mut() {
            if all.len() <= slot {
                all.resize_with(slot + 1, || None);
            }
            all[slot] = Some((id, locs));
        }
    });
}

/// Iterator of [`Gated::captures_iter`].
pub(crate) struct CapturesIter<'t, 'g> {
    gated: &'g Gated,
    text: &'t str,
    at: usize,
    /// None once done (or when the gate is closed).
    locs: Option<regex::CaptureLocations>,
}

impl<'t> Iterator for CapturesIter<'t, '_> {
    type Item = Caps<'t>;

    fn next(&mut self) -> Option<Caps<'t>> {
        let locs = self.locs.as_mut()?;
        let found = (self.at <= self.text.len())
            .then(|| self.gated.re.captures_read_at(locs, self.text, self.at))
            .flatten();
        // Gated patterns cannot match the empty string (a test checks the
        // readers'); were one to, the iteration stops rather than loop.
        let Some(m) = found.filter(|m| !m.is_empty()) else {
            if let Some(locs) = self.locs.take() {
                put_locations(self.gated, locs);
            }
            return None;
        };
        self.at = m.end();
        let mut spans = [None; MAX_GROUPS];
        for (i, span) in spans.iter_mut().enumerate().take(locs.len()) {
            *span = locs.get(i);
        }
        Some(Caps {
            text: self.text,
            spans,
        })
    }
}

impl Drop for CapturesIter<'_, '_> {
    fn drop(&mut self) {
        if let Some(locs) = self.locs.take() {
            put_locations(self.gated, locs);
        }
    }
}

/// The longest match a windowed search allows (see [`reach_of`]).
const MAX_WINDOW_REACH: usize = 256;

/// The most ASCII white-space bytes a match searched in word windows may
/// hold (see [`reach_of`]).
const MAX_WORD_REACH: usize = 48;

/// How far a match of a pattern can reach from a literal it contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// At most this many bytes long.
    Bytes(u32),
    /// Holding at most this many ASCII white-space bytes: it lies within
    /// that many word separators either side of the literal, however long
    /// its words (a word pattern's `_` is any one word).
    Words(u32),
}

/// How far a match of a pattern can reach from any literal it contains,
/// when the pattern cannot match the empty string and every look-around it
/// uses looks only behind or is an ASCII word boundary: its maximum length,
/// when that is at most 256 bytes; else the most white space a match holds,
/// when that is at most [`MAX_WORD_REACH`] bytes. Such a pattern can be
/// searched only in windows around its literal hits (see
/// [`find_in_windows`]).
fn reach_of(hir: &Hir) -> Option<Reach> {
    if !cuttable(hir) {
        return None;
    }
    match hir.properties().maximum_len() {
        Some(n) if n <= MAX_WINDOW_REACH => Some(Reach::Bytes(n as u32)),
        _ => white_space_of(hir)
            .filter(|&n| n <= MAX_WORD_REACH)
            .map(|n| Reach::Words(n as u32)),
    }
}

/// The most ASCII white-space bytes a match of `h` holds (`None`:
/// unbounded, or past `u32`).
fn white_space_of(h: &Hir) -> Option<usize> {
    let white = is_white;
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(0),
        HirKind::Literal(l) => Some(l.0.iter().filter(|&&b| white(b)).count()),
        HirKind::Class(regex_syntax::hir::Class::Unicode(c)) => {
            Some(usize::from(c.ranges().iter().any(|r| {
                (0u8..0x80).any(|b| white(b) && r.start() <= b as char && b as char <= r.end())
            })))
        }
        HirKind::Class(regex_syntax::hir::Class::Bytes(c)) => {
            Some(usize::from((c.ranges().iter()).any(|r| {
                (0u8..0x80).any(|b| white(b) && r.start() <= b && b <= r.end())
            })))
        }
        HirKind::Repetition(r) => match white_space_of(&r.sub)? {
            0 => Some(0),
            n => n.checked_mul(r.max? as usize),
        },
        HirKind::Capture(c) => white_space_of(&c.sub),
        HirKind::Concat(parts) => parts
            .iter()
            .try_fold(0usize, |acc, p| acc.checked_add(white_space_of(p)?)),
        HirKind::Alternation(alts) => alts
            .iter()
            .try_fold(0usize, |acc, p| Some(acc.max(white_space_of(p)?))),
    }
}

/// Whether a search of the pattern may be cut short at the end of a word:
/// it cannot match the empty string, and every look-around it uses looks
/// only behind or is an ASCII word boundary (which reads the same at a
/// word's end whether the text goes on or not).
fn cuttable(hir: &Hir) -> bool {
    use regex_syntax::hir::Look;
    let props = hir.properties();
    if props.minimum_len().is_none_or(|n| n == 0) {
        return false;
    }
    let safe = [
        Look::Start,
        Look::StartLF,
        Look::StartCRLF,
        Look::WordAscii,
        Look::WordAsciiNegate,
        Look::WordStartAscii,
        Look::WordEndAscii,
        Look::WordStartHalfAscii,
        Look::WordEndHalfAscii,
    ];
    props.look_set().iter().all(|l| safe.contains(&l))
}

/// The most literals, and the longest distance, of a tail (see [`tail_of`]).
const MAX_TAIL_SET: usize = MAX_SET;
const MAX_TAIL: usize = 1024;

/// For a pattern that cannot be searched in windows (its matches are
/// unbounded or long): a set one literal of which ends every match at most
/// a bounded distance before the match ends, with that distance. It is the
/// whole language of one part of the pattern's top-level concatenation,
/// followed only by parts of bounded length (`... (?:pills|tablets)\b`: the
/// set of drug words, distance 0). So no match ends after the last such
/// literal in a text plus the distance, and the search can stop there (at
/// the end of that word: see [`cuttable`]); a text without one of them
/// cannot match at all.
fn tail_of(hir: &Hir) -> Option<(LiteralSet, usize)> {
    if !cuttable(hir) {
        return None;
    }
    let mut h = hir;
    while let HirKind::Capture(c) = h.kind() {
        h = &c.sub;
    }
    let HirKind::Concat(parts) = h.kind() else {
        return None;
    };
    let mut after = 0usize;
    for p in parts.iter().rev() {
        if let Some(mut set) = exact(p, MAX_TAIL_SET) {
            set.sort();
            set.dedup();
            if useful(&set) && !set.iter().any(|l| common(l)) {
                return Some((set, after));
            }
        }
        after = after.checked_add(p.properties().maximum_len()?)?;
        if after > MAX_TAIL {
            return None;
        }
    }
    None
}

/// The offsets of the white-space bytes of `text` (what a
/// [`Reach::Words`] counts), into `out`.
pub(crate) fn white_space(text: &str, out: &mut Vec<u32>) {
    out.clear();
    out.extend(
        (text.bytes().enumerate())
            .filter(|&(_, b)| is_white(b))
            .map(|(i, _)| i as u32),
    );
}

/// A white-space byte as [`Reach::Words`] counts them.
fn is_white(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

/// The end of the word at `pos` (see [`WordEnds`]).
pub(crate) fn word_end(text: &str, pos: usize) -> usize {
    WordEnds::new(text).at(pos.min(text.len()))
}

/// Where windows may end: the end of the word at a position (a character
/// boundary before a byte that is not an ASCII word character, or the end
/// of the text). It remembers its last answer, so a text that is one long
/// word full of literal hits is walked once, not once per hit (a megabyte of
/// "1212..." took minutes before).
struct WordEnds<'t> {
    text: &'t str,
    /// (a position asked about, the end of its word).
    known: (usize, usize),
    /// Bytes walked, for the test that keeps this linear.
    steps: usize,
}

impl<'t> WordEnds<'t> {
    fn new(text: &'t str) -> WordEnds<'t> {
        WordEnds {
            text,
            known: (usize::MAX, 0),
            steps: 0,
        }
    }

    fn at(&mut self, start: usize) -> usize {
        let (text, bytes) = (self.text, self.text.as_bytes());
        if self.known.0 <= start && start <= self.known.1 {
            return self.known.1;
        }
        let mut i = start;
        while i < bytes.len()
            && (!text.is_char_boundary(i) || bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_')
        {
            if i == self.known.0 {
                i = self.known.1;
                break;
            }
            i += 1;
            self.steps += 1;
        }
        self.known = (start, i);
        i
    }
}

/// Every match of `re` in `text`, exactly as `re.find_iter(text)` gives them
/// (empty matches aside), searching only the windows that reach `reach`
/// bytes either side of the `hits` (byte spans, sorted by start, of
/// literals one of which every match contains).
///
/// Why it is the same: a match contains a hit and is at most `reach` long,
/// so it lies inside that hit's window; windows that overlap are merged, so
/// every match lies inside one merged window, and the matches starting in a
/// window are the same whether the search sees the whole text or the text
/// up to the window's end. The search starts inside the text, so what lies
/// behind (`^`, `\b`) is seen as it is; the window ends at a character
/// boundary before a byte that is not an ASCII word character (or at the
/// end of the text), where an ASCII word boundary reads the same either way;
/// `reach_of` refuses patterns that look ahead in any other way.
///
/// A [`Reach::Words`] window runs from just after the `reach + 1`th white
/// space byte before the hit to that byte after it: a match holding at most
/// `reach` of them cannot start or end past those (it ends at such a byte,
/// which is a character boundary and not a word character, or at the end
/// of the text).
///
/// `white` lists the offsets of the text's white-space bytes, ascending
/// (see [`white_space`]).
pub(crate) fn find_in_windows(
    re: &regex::Regex,
    text: &str,
    white: &[u32],
    hits: impl Iterator<Item = (usize, usize)>,
    reach: Reach,
    mut f: impl FnMut(usize, usize),
) {
    let bytes = text.as_bytes();
    let mut ends = WordEnds::new(text);
    // The (n + 1)th white-space byte before `s` (the window starts after
    // it) and from `e` on (the window ends at it).
    let words_back = |s: usize, n: usize| {
        let i = white.partition_point(|&w| (w as usize) < s);
        i.checked_sub(n + 1).map_or(0, |k| white[k] as usize + 1)
    };
    let words_ahead = |e: usize, n: usize| {
        let i = white.partition_point(|&w| (w as usize) < e);
        white.get(i + n).map_or(bytes.len(), |&w| w as usize)
    };
    let mut window_of = |s: usize, e: usize| match reach {
        Reach::Bytes(r) => {
            let r = r as usize;
            (
                floor_boundary(text, s.saturating_sub(r)),
                ends.at((e + r).min(bytes.len())),
            )
        }
        Reach::Words(n) => (words_back(s, n as usize), words_ahead(e, n as usize)),
    };
    let mut search = |from: usize, to: usize| {
        let hay = &text[..to];
        let mut at = from;
        while at <= to {
            // A windowed pattern cannot match the empty string (reach_of).
            let Some(m) = re.find_at(hay, at).filter(|m| !m.is_empty()) else {
                break;
            };
            f(m.start(), m.end());
            at = m.end();
        }
    };
    let mut window: Option<(usize, usize)> = None;
    for (s, e) in hits {
        let (from, to) = window_of(s, e);
        window = match window {
            Some((a, b)) if from <= b => Some((a, b.max(to))),
            Some((a, b)) => {
                search(a, b);
                Some((from, to))
            }
            None => Some((from, to)),
        };
    }
    if let Some((a, b)) = window {
        search(a, b);
    }
}

fn useful(set: &LiteralSet) -> bool {
    !set.is_empty()
        && set.len() <= MAX_SET
        && set
            .iter()
            .all(|l| l.len() >= MIN_LITERAL || (!l.is_empty() && l.iter().any(u8::is_ascii_digit)))
}

/// Function words (English and Spanish) that occur in nearly every message.
const COMMON_WORDS: &[&str] = &[
    "a", "an", "the", "my", "his", "her", "our", "their", "your", "its", "i", "im", "me", "he",
    "she", "it", "we", "they", "you", "him", "them", "us", "is", "are", "was", "were", "be",
    "been", "am", "do", "does", "did", "have", "has", "had", "and", "or", "but", "not", "no", "so",
    "to", "of", "in", "on", "at", "for", "with", "from", "by", "as", "up", "out", "if", "this",
    "that", "then", "than", "just", "el", "la", "los", "las", "un", "una", "de", "del", "y", "o",
    "que", "en", "con", "por", "para", "mi", "su", "se", "le", "lo", "es",
];

/// A literal that occurs in nearly every message: a function word with or
/// without the spaces around it, a space, or one punctuation mark (a digit,
/// `/` and `%` are selective enough for the number readers).
fn common(l: &[u8]) -> bool {
    match l.trim_ascii() {
        [] => true,
        [b] => !(b.is_ascii_digit() || b"/%".contains(b)),
        t => COMMON_WORDS.iter().any(|w| w.as_bytes() == t),
    }
}

/// How good a literal set is as a gate: longer shortest literal first, then
/// fewer literals.
fn quality(set: &LiteralSet) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
    (shortest, std::cmp::Reverse(set.len()))
}

/// Sets each of which is required (a conjunction).
fn required(h: &Hir, cap: usize) -> Vec<LiteralSet> {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Vec::new(),
        HirKind::Literal(_) | HirKind::Class(_) => exact(h, cap).into_iter().collect(),
        // A part repeated at least once is there at least once.
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub, cap),
        HirKind::Repetition(_) => Vec::new(),
        HirKind::Capture(c) => required(&c.sub, cap),
        // Every part of a concatenation is in every match. Runs of parts
        // whose language is a small finite set are multiplied out into
        // longer literals; each run's set, and each other part's required
        // sets, are all required.
        HirKind::Concat(parts) => {
            let mut out = Vec::new();
            let mut run: Option<LiteralSet> = None;
            for p in parts {
                match exact(p, cap) {
                    Some(set) => {
                        run = Some(match run.take() {
                            None => set,
                            Some(prev) => match product(&prev, &set, cap) {
                                Some(x) => x,
                                None => {
                                    out.push(prev);
                                    set
                                }
                            },
                        })
                    }
                    None => {
                        out.extend(run.take());
                        out.extend(required(p, cap));
                    }
                }
            }
            out.extend(run);
            out
        }
        // Every match matches one branch: the union of each branch's best
        // set, if every branch has a useful one.
        HirKind::Alternation(branches) => {
            if let Some(set) = exact(h, cap) {
                return vec![set];
            }
            let mut all = Vec::new();
            for b in branches {
                let best = required(b, cap)
                    .into_iter()
                    .filter(useful)
                    .max_by_key(quality);
                match best {
                    Some(s) => all.extend(s),
                    None => return Vec::new(),
                }
                if all.len() > cap {
                    return Vec::new();
                }
            }
            vec![all]
        }
    }
}

/// The whole language of `h` when it is a small finite set of strings.
fn exact(h: &Hir, cap: usize) -> Option<LiteralSet> {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![Vec::new()]),
        HirKind::Literal(lit) => (lit.0.len() <= MAX_LEN).then(|| vec![lit.0.to_vec()]),
        HirKind::Class(class) => {
            let mut out = Vec::new();
            match class {
                regex_syntax::hir::Class::Unicode(u) => {
                    for r in u.iter() {
                        for c in r.start()..=r.end() {
                            out.push(c.to_string().into_bytes());
                            if out.len() > 16 {
                                return None;
                            }
                        }
                    }
                }
                regex_syntax::hir::Class::Bytes(b) => {
                    for r in b.iter() {
                        for c in r.start()..=r.end() {
                            out.push(vec![c]);
                            if out.len() > 16 {
                                return None;
                            }
                        }
                    }
                }
            }
            Some(out)
        }
        HirKind::Capture(c) => exact(&c.sub, cap),
        HirKind::Repetition(r) => {
            let max = r.max?;
            if max > 4 {
                return None;
            }
            let one = exact(&r.sub, cap)?;
            let mut power: LiteralSet = vec![Vec::new()];
            let mut out: LiteralSet = Vec::new();
            for k in 0..=max {
                if k >= r.min {
                    out.extend(power.iter().cloned());
                }
                if k < max {
                    power = product(&power, &one, cap)?;
                }
                if out.len() > cap {
                    return None;
                }
            }
            Some(out)
        }
        HirKind::Concat(parts) => {
            let mut acc: LiteralSet = vec![Vec::new()];
            for p in parts {
                acc = product(&acc, &exact(p, cap)?, cap)?;
            }
            Some(acc)
        }
        HirKind::Alternation(branches) => {
            let mut out = Vec::new();
            for b in branches {
                out.extend(exact(b, cap)?);
                if out.len() > cap {
                    return None;
                }
            }
            Some(out)
        }
    }
}

/// Every string of `a` followed by every string of `b`, if small enough.
fn product(a: &LiteralSet, b: &LiteralSet, cap: usize) -> Option<LiteralSet> {
    if a.len() * b.len() > cap {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            if x.len() + y.len() > MAX_LEN {
                return None;
            }
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    #[test]
    fn reach_in_bytes_or_in_words() {
        let reach = |p: &str| reach_of(&parse(p).unwrap());
        assert_eq!(reach(r"(?-u:\b)chest pain(?-u:\b)"), Some(Reach::Bytes(10)));
        // A Unicode word boundary looks ahead past a window's end.
        assert_eq!(reach(r"\bchest pain\b"), None);
        // Words of any length: bounded only in white space.
        assert_eq!(
            reach(r"chest(?: [^\s,.]+){0,3} pain"),
            Some(Reach::Words(4))
        );
        assert_eq!(reach(r"took [0-9]+ pills"), Some(Reach::Words(2)));
        // A run that may cross words without bound: no windows.
        assert_eq!(reach(r"chest[^.]* pain"), None);
        assert_eq!(reach(r"chest(?: and [a-z]+)* pain"), None);
        // Past the word cap.
        assert_eq!(reach(r"a(?: [a-z]+){0,60} b"), None);
    }

    #[test]
    fn word_windows_find_what_the_whole_text_search_finds() {
        let re = Regex::new(r"(?-u:\b)chest(?: [^\s,.!?;:]+){0,3} pain(?-u:\b)").unwrap();
        let long = "x".repeat(400);
        let text = format!(
            "{long} chest {long} really {long} pain. chest pain {long} chest a b c d pain chest a b c pain"
        );
        let mut white = Vec::new();
        white_space(&text, &mut white);
        let hits: Vec<(usize, usize)> = text
            .match_indices("chest")
            .map(|(i, m)| (i, i + m.len()))
            .collect();
        let mut got = Vec::new();
        find_in_windows(
            &re,
            &text,
            &white,
            hits.into_iter(),
            Reach::Words(4),
            |s, e| got.push((s, e)),
        );
        let want: Vec<(usize, usize)> = re.find_iter(&text).map(|m| (m.start(), m.end())).collect();
        assert_eq!(got, want);
        assert_eq!(want.len(), 3);
    }

    fn lits(p: &str) -> Vec<Vec<String>> {
        required_literals(p)
            .into_iter()
            .map(|set| {
                set.into_iter()
                    .map(|l| String::from_utf8(l).unwrap())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn finds_the_literals_every_match_needs() {
        // Both "towel" and "soaked" are required; the better set first.
        assert_eq!(
            lits(r"(?-u:\b)(?:\d+|two|a few)? ?towels? (?:are |is )*soaked"),
            vec![
                vec!["soaked"],
                vec![" towel ", " towels ", "towel ", "towels "]
            ]
        );
        // Small finite parts are multiplied out into longer literals.
        assert_eq!(
            lits(r"(?:cant|cannot) (?:breathe|talk)"),
            vec![vec![
                "cannot breathe",
                "cannot talk",
                "cant breathe",
                "cant talk"
            ]]
        );
        // An optional part is not required; a wide class is not a literal.
        assert!(lits(r"(?:swollen)?[a-z]+").is_empty());
        // Too short to be worth it, unless digits.
        assert!(lits(r"ab|cd").is_empty());
        assert_eq!(lits(r"6[5-6]"), vec![vec!["65", "66"]]);
        assert_eq!(lits(r"x(?:throat)+y"), vec![vec!["throat"]]);
        // Every branch needs a set for the alternation to have one.
        assert_eq!(
            lits(r"(?:[a-z]+ swollen|puffy [a-z]+)"),
            vec![vec![" swollen", "puffy "]]
        );
        assert!(lits(r"(?:[a-z]+ swollen|[a-z]+)").is_empty());
    }

    #[test]
    fn common_words_gate_only_when_nothing_else_does() {
        // "my " and "the " occur in nearly every message: the rarer set
        // alone gates.
        assert_eq!(
            lits(r"(?:the|my) [a-z]+ (?:swollen|puffy)"),
            vec![vec![" puffy", " swollen"]]
        );
        // Nothing else: the common set is better than no gate.
        assert_eq!(lits(r"(?:the|my) [a-z]+"), vec![vec!["my ", "the "]]);
        for l in [" ", ".", ",", "the ", " y ", " and", "es"] {
            assert!(common(l.as_bytes()), "{l:?}");
        }
        for l in ["/", "%", "7", "mg", "the rash", "swollen"] {
            assert!(!common(l.as_bytes()), "{l:?}");
        }
    }

    #[test]
    fn literal_sets_fit_the_per_pattern_budget() {
        // Multiplied out, the leading run is 4^4 = 256 literals: over the
        // budget. Smaller products of the same parts fit, with the rest.
        let p = r"(?:alpha|beta|gamma|delta)(?:one|two|six|ten)(?:red|tan|blue|gray)(?:up|in|on|at) [a-z]+ (?:swollen|puffy)";
        let sets = required_literals(p);
        let total: usize = sets.iter().map(Vec::len).sum();
        assert!(total <= MAX_LITERALS_PER_PATTERN, "{total} literals");
        assert!(sets.len() >= 2, "{sets:?}");
        assert!(sets.contains(&vec![b" puffy".to_vec(), b" swollen".to_vec()]));
        // Every set is required: a text without one of them cannot match.
        let re = Regex::new(p).unwrap();
        assert!(re.is_match("betasixblueon lower swollen"));
        for set in &sets {
            let t = b"betasixblueon lower swollen";
            assert!(set.iter().any(|l| t.windows(l.len()).any(|w| w == &l[..])));
        }
    }

    #[test]
    fn tails_bound_where_matches_end() {
        let tail = |p: &str| {
            parse(p).and_then(|h| tail_of(&h)).map(|(set, after)| {
                let set: Vec<String> = set
                    .into_iter()
                    .map(|l| String::from_utf8(l).unwrap())
                    .collect();
                (set, after)
            })
        };
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // The last part's words, nothing after them.
        assert_eq!(
            tail(r"(?:ate|took) \d+ (?:pills|tabs)(?-u:\b)"),
            Some((words(&["pills", "tabs"]), 0))
        );
        // An optional ending is bounded: at most its length after them.
        assert_eq!(
            tail(r"(?:ate|took) \d+ (?:pills|tabs)(?: at once| today)?"),
            Some((words(&["pills", "tabs"]), 8))
        );
        // An unbounded ending, or a look-ahead that cutting the text would
        // change, has no tail.
        assert_eq!(tail(r"(?:ate|took) (?:pills|tabs) \d+"), None);
        assert_eq!(tail(r"(?:ate|took) \d+ (?:pills|tabs)$"), None);
        // Function words do not make a tail.
        assert_eq!(tail(r"(?:ate|took) \d+ (?:then|just)"), None);
        // Every match ends at most `after` bytes past a tail literal.
        let p = r"(?:ate|took) \d+ (?:pills|tabs)(?: at once| today)?";
        let (set, after) = tail(p).unwrap();
        let re = Regex::new(p).unwrap();
        for t in ["took 3 pills today", "ate 12 tabs at once", "took 1 tabs"] {
            let m = re.find(t).unwrap();
            let last = set
                .iter()
                .filter_map(|l| t.rfind(l.as_str()).map(|i| i + l.len()))
                .max()
                .unwrap();
            assert!(m.end() <= last + after, "{t:?}");
        }
    }

    #[test]
    fn word_ends_walk_a_long_word_once() {
        // One word of 1 MB with a hit every 4 bytes: asking for the end of
        // the word at every hit (ascending, and a little behind the last
        // answer, as windows do) walks each byte about once.
        let text = "1212".repeat(250_000) + " end";
        let mut ends = WordEnds::new(&text);
        let mut i = 0;
        while i + 300 < text.len() - 4 {
            assert_eq!(ends.at(i + 300), 1_000_000);
            assert_eq!(ends.at(i + 299), 1_000_000);
            i += 4;
        }
        assert_eq!(ends.at(1_000_001), 1_000_004);
        assert!(ends.steps <= 1_000_010, "walked {} bytes", ends.steps);
        // Word boundaries: a space or punctuation ends a word, a character
        // boundary is kept.
        let mut ends = WordEnds::new("ab cd,é x");
        assert_eq!(ends.at(0), 2);
        assert_eq!(ends.at(3), 5);
        assert_eq!(ends.at(6), 6);
    }

    #[test]
    fn a_gated_pattern_never_matches_without_its_literals() {
        // Soundness on texts built from the patterns' own words.
        let patterns = [
            r"(?-u:\b)(?:used|gave) (?:my |his )?(?:epi ?pens?|epinephrine)(?-u:\b)",
            r"(?:(?:new|red) )*(?:rash|hives)(?: (?:is|are) )*(?:spreading|all over)",
            r"(?:pressing|held) [a-z ]{0,20}?(?:still bleeding|keeps bleeding)",
            r"(?:[4-9]|1\d|2[0-7]) ?(?:weeks|wks) ?(?:pregnant|along)",
        ];
        let texts = [
            "gave his epipen",
            "used epinephrine",
            "gave epi pens",
            "red new rash is spreading",
            "hives is all over",
            "new rash are all over",
            "held it hard still bleeding",
            "pressing keeps bleeding",
            "19 weeks pregnant",
            "4wks along",
            "nothing here",
        ];
        for p in patterns {
            let sets = required_literals(p);
            assert!(!sets.is_empty(), "{p:?} has no gate");
            let re = Regex::new(p).unwrap();
            let mut matched = 0;
            for t in texts {
                if re.is_match(t) {
                    matched += 1;
                    for set in &sets {
                        assert!(
                            set.iter()
                                .any(|l| t.as_bytes().windows(l.len()).any(|w| w == &l[..])),
                            "{p:?} matched {t:?} without any of {set:?}"
                        );
                    }
                }
            }
            assert!(matched >= 2, "{p:?}: matched {matched} texts");
        }
    }
}
