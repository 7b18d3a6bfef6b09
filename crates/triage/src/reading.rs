//! Reading: every word of a message, normalized once into its canonical
//! word, with its span kept.
//!
//! The byte normalization (`normalize`) folds case, accents and
//! apostrophes. Reading then takes the text a word at a time:
//!
//! 1. a word with a digit is kept as it is (numbers and units are read by
//!    the number readers);
//! 2. a `[[rewrite]]` word (text-speak, contractions) is read as its words
//!    ("kms" as "kill myself", "cant" as "can not");
//! 3. a filler (a word or words of a `filler = true` class: "kinda",
//!    "kind of") is read past: it leaves the reading; a word of degree
//!    (`degree = true`: "very", "muy") is read past and remembered on the
//!    next word, for phrases written with it;
//! 4. a word the rule set does not know is corrected against the rule
//!    set's own vocabulary: Damerau-Levenshtein (optimal string alignment)
//!    distance 1; or, where a neighbour wants it, distance 2 in a word of
//!    7+ letters or the same Double Metaphone code. A word of the common-English dictionary
//!    ("stoke", "rite") is corrected only when the correction is wanted by
//!    a word near it in the same clause, one that shares a rule phrase or
//!    pattern with the correction ("having a stoke"), and never by a
//!    one-letter substitution that does not sound the same ("gain" is not
//!    "pain"); an unknown word ("tounge") is corrected on its own when the
//!    correction keeps its first letter. A message read as Spanish gets
//!    no corrections of unknown words (no Spanish dictionary guards them);
//! 5. `[[lemma]]` (irregular forms: "took" as "take"), then the Porter2
//!    English stemmer: "falling" and "falls" read "fall".
//!
//! Rule phrases, cue phrases, class entries and word patterns' words are
//! read the same way (without correction) when the rules compile, so a
//! phrase written once matches its inflections, fillers, text-speak and
//! typos. The reading is a [`Normalized`] text whose every byte maps back
//! to the original, so findings still point at what the patient wrote.

use crate::normalize::Normalized;
use std::collections::HashSet;

/// Hash maps keyed by words. Message words are untrusted, so the hasher is
/// seeded per process (foldhash), not a fixed function whose collisions a
/// sender could craft; it is several times faster than SipHash on short
/// keys, and the reading looks up every word.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<K> = HashSet<K, foldhash::fast::RandomState>;

/// The common-English word list (4+ letters) that guards correction; see
/// `lexicon/README.md`.
static DICTIONARY: &str = include_str!("../lexicon/english-words.txt");

/// Words longer than this are never corrected (bounded work per word).
const MAX_CORRECTED_LEN: usize = 24;

/// How many words either side a guarded correction looks for a word that
/// wants it: as far as neighbours are apart in the rule phrases that make
/// them neighbours (see `Lexicon::new`), so the correction completes a
/// phrase's words, not merely shares a clause with one.
const NEIGHBOR_WINDOW: usize = 3;

/// Words too common to say that a correction is wanted.
const STOP: &[&str] = &[
    "the",
    "and",
    "for",
    "but",
    "you",
    "your",
    "his",
    "her",
    "she",
    "him",
    "they",
    "them",
    "are",
    "was",
    "were",
    "been",
    "this",
    "that",
    "with",
    "from",
    "have",
    "has",
    "had",
    "not",
    "can",
    "will",
    "would",
    "could",
    "what",
    "when",
    "who",
    "how",
    "all",
    "any",
    "out",
    "get",
    "got",
    "our",
    "its",
    "one",
    "two",
    "some",
    "very",
    "just",
    "also",
    "there",
    "then",
    "than",
    "into",
    "about",
    "over",
    "after",
    "before",
    "again",
    "still",
    "now",
    "day",
    "days",
    "time",
    "she",
    "he",
    "my",
    "me",
    "him",
    "we",
    "us",
    "it",
    "is",
    "am",
    "be",
    "being",
    "do",
    "did",
    "does",
    "done",
    "going",
    "went",
    "go",
    "get",
    "got",
    "like",
    "feel",
    "feels",
    "felt",
    "so",
    "too",
    "much",
    "more",
    "really",
    "very",
    "off",
    "up",
    "down",
    "back",
    "right",
    "left",
    "today",
    "yesterday",
    "last",
    "night",
    "morning",
    "week",
    "keep",
    "keeps",
    "kept",
    "started",
    "start",
    "since",
    "past",
    "hours",
    "hour",
    "minutes",
    "little",
    "bit",
    "lot",
    "bad",
    "worse",
];

/// A word read differently from how it was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Correction {
    /// Byte offset of the written word in the original text.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
    /// The word as written, normalized (lower case, apostrophes dropped).
    pub written: String,
    /// The rule vocabulary word it was read as.
    pub read: String,
}

/// A reading of several words.
type Words = Box<[Box<str>]>;

/// The lexicon tables of a rule set, as `Lexicon::new` takes them.
#[derive(Debug, Default, Clone)]
pub(crate) struct LexiconInput {
    /// (token, surface words it is read as).
    pub rewrites: Vec<(String, Vec<String>)>,
    /// (written form, base form).
    pub lemmas: Vec<(String, String)>,
    /// Filler entries, each a list of words.
    pub fillers: Vec<Vec<String>>,
    /// Vocabulary: each rule phrase, class entry or pattern's words (as a
    /// list of surface words), and whether it comes from a Spanish file.
    pub phrases: Vec<(Vec<String>, bool)>,
    /// Words of degree (`degree = true` classes), as written there.
    pub degree: Vec<String>,
    /// The rewrite and lemma tokens that come from Spanish files.
    pub spanish_read_as: HashSet<String>,
}

/// What one written word reads as, before its neighbours are looked at.
#[derive(Debug, Clone)]
enum Entry {
    /// Canonical words (one for a plain word, several for a rewrite, none
    /// for a filler).
    Words(Words),
    /// A word the rules do not know: its own canonical form and the
    /// vocabulary words it may be a misspelling of, best first.
    Unknown {
        own: Words,
        /// For a word no dictionary knows: every candidate, taken where a
        /// neighbour wants it. For a common word: the candidates one edit
        /// away that are not a one-letter substitution, and those that sound
        /// the same (two edits, or the same first letter and at most 3
        /// edits), taken only where a neighbour wants them. A substitution
        /// turns one real word into another ("gain" / "pain", "heal" /
        /// "head") far more often than it mends a typo.
        cands: Box<[u32]>,
        /// The correction an unknown word takes on its own, without a
        /// neighbour: the best candidate one edit away that keeps the
        /// first letter (a first letter is rarely mistyped; "surgent" is not
        /// "urgent", "aswell" is not "swell").
        alone: Option<u32>,
    },
}

/// A correction candidate as ranked: class (0 strong, 1 sounding, 2 weak),
/// distance, not the same first letter, not the same sound, how rarely the
/// rules use it, its vocabulary id (the order, best first), and whether it
/// is a one-letter substitution that does not sound the same.
type Scored = (u8, usize, bool, bool, std::cmp::Reverse<u32>, u32, bool);

/// The correction candidates of one word (see `Entry::Unknown`).
#[derive(Debug, Default)]
struct Candidates {
    /// All of them, best first.
    all: Vec<u32>,
    /// Those a common word may take.
    for_common: Vec<u32>,
    /// The one an unknown word takes on its own.
    alone: Option<u32>,
}

/// The compiled reading tables of a rule set.
pub(crate) struct Lexicon {
    /// A process-unique number, so per-thread caches know whose they are.
    id: u64,
    rewrites: HashMap<Box<str>, Box<[Box<str>]>>,
    lemmas: HashMap<Box<str>, Box<str>>,
    fillers: FastSet<Box<str>>,
    /// Read forms of the words of degree ("very", "muy").
    degree: FastSet<Box<str>>,
    /// Fillers of several words, by their first word.
    multi_fillers: HashMap<Box<str>, Vec<Words>>,
    stemmer: rust_stemmers::Stemmer,
    /// Surface vocabulary words, their canonical forms, how many phrases
    /// use them, and whether only Spanish rules do.
    vocab: Vec<Box<str>>,
    vocab_canon: Vec<Box<str>>,
    vocab_freq: Vec<u32>,
    vocab_index: HashMap<Box<str>, u32>,
    /// Canonical forms of every vocabulary word, with how many vocabulary
    /// words read as each: a word reading as one of these is known.
    known: HashMap<Box<str>, u32>,
    /// Surface words only the Spanish rules use and English does not know.
    spanish: FastSet<Box<str>>,
    /// (hash of a deletion variant, vocabulary id), sorted: the symmetric
    /// delete index (SymSpell) for edit-distance lookups.
    deletes: Vec<(u64, u32)>,
    /// Double Metaphone code -> vocabulary ids.
    sounds: HashMap<Box<str>, Vec<u32>>,
    metaphone: rphonetic::DoubleMetaphone,
    /// Each vocabulary word's Double Metaphone codes (primary, alternate),
    /// computed once: every lookup compares candidates with them.
    vocab_sounds: Vec<(Box<str>, Box<str>)>,
    /// For each vocabulary id, the canonical words that share a phrase or
    /// pattern with it (a correction to it is wanted near one of these), as
    /// sorted ids of `canon_ids`.
    neighbors: Vec<Box<[u32]>>,
    /// An id for each canonical form of a vocabulary word.
    canon_ids: HashMap<Box<str>, u32>,
    dictionary: &'static [&'static str],
}

/// The dictionary's words, split once per process (not per engine).
static DICTIONARY_WORDS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| DICTIONARY.lines().filter(|l| !l.is_empty()).collect());

impl std::fmt::Debug for Lexicon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lexicon")
            .field("vocabulary", &self.vocab.len())
            .field("rewrites", &self.rewrites.len())
            .field("lemmas", &self.lemmas.len())
            .finish()
    }
}

/// Per-thread reading buffers and the cache of word readings.
#[derive(Default)]
pub(crate) struct ReadWork {
    lexicon: u64,
    /// Written word -> its index in `arena`: one lookup per word read.
    /// Words of up to `INLINE` bytes are keyed in place (no pointer to
    /// follow when the table compares keys); longer ones by their text.
    cache: HashMap<InlineWord, u32>,
    long_cache: HashMap<Box<str>, u32>,
    arena: Vec<Cached>,
    tokens: Vec<Token>,
    multi_filler: Vec<bool>,
    before_word: Vec<bool>,
    /// Tokens of unknown words, waiting for their neighbours.
    unknown: Vec<usize>,
    /// Offsets in the last reading of the words that follow a word of
    /// degree ("tight" in "so tight"), ascending.
    pub(crate) intensified: Vec<u32>,
    /// Read each word as if the one phrase that lists it did not (for the
    /// lint: would the text still read as another phrase without it?).
    unlisted: bool,
}

/// The longest word keyed in place in the word cache.
const INLINE: usize = 23;

/// A word of at most [`INLINE`] bytes, stored in the key itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct InlineWord {
    len: u8,
    bytes: [u8; INLINE],
}

impl InlineWord {
    fn new(w: &str) -> Option<InlineWord> {
        let b = w.as_bytes();
        (b.len() <= INLINE).then(|| {
            let mut bytes = [0u8; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            InlineWord {
                len: b.len() as u8,
                bytes,
            }
        })
    }
}

/// The cache is dropped past this many words (real archives have a long
/// tail of names and typos).
const MAX_CACHED: usize = 1 << 16;

impl ReadWork {
    pub(crate) fn capacity(&self) -> usize {
        self.tokens.capacity() * 48
    }
}

/// Everything the reading needs to know of one written word, computed once
/// per word and thread (see `ReadWork::cache`).
#[derive(Debug)]
struct Cached {
    entry: Entry,
    /// The entry's words (its own reading), joined by single spaces.
    text: Box<str>,
    /// Ids (`Lexicon::canon_ids`) of the entry's words.
    ids: Box<[u32]>,
    /// A one-word filler read as itself (at a clause's end: "if so"), and
    /// the ids of that reading.
    alone: Option<(Box<str>, Box<[u32]>)>,
    /// A word of degree: its reading is one word of a degree class.
    degree: bool,
    /// The first word of a filler of several words.
    multi: bool,
    /// A word only Spanish rules use.
    spanish: bool,
}

/// Which reading of its word a token takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum View {
    /// No words: a filler or a word of degree read past.
    #[default]
    Nothing,
    /// The word's entry (its own reading, before any correction).
    Entry,
    /// A one-word filler read as itself.
    Alone,
}

/// One word of a message being read.
#[derive(Debug, Clone, Default)]
struct Token {
    /// Byte range in the normalized text.
    start: u32,
    end: u32,
    /// Its word's index in `ReadWork::arena`.
    cached: u32,
    /// Which reading it takes (a correction overrides it).
    view: View,
    /// A correction to this vocabulary word, when one was made.
    corrected: Option<u32>,
    /// Whether a sentence or clause break ends the stretch before it.
    break_before: bool,
    /// A word of degree read past ("so" in "so tight").
    degree: bool,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// FNV-1a over byte slices (the delete index keys).
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Every deletion variant of `w` with up to `max` bytes deleted (hashed),
/// `w` itself included.
fn deletion_hashes(w: &[u8], max: usize, out: &mut Vec<u64>) {
    out.push(fnv(&[w]));
    let n = w.len();
    if max >= 1 {
        for i in 0..n {
            out.push(fnv(&[&w[..i], &w[i + 1..]]));
        }
    }
    if max >= 2 {
        for i in 0..n {
            for j in i + 1..n {
                out.push(fnv(&[&w[..i], &w[i + 1..j], &w[j + 1..]]));
            }
        }
    }
}

/// Optimal string alignment distance (Damerau-Levenshtein where a swap of
/// two neighbouring letters is one edit), over bytes.
pub(crate) fn osa(a: &[u8], b: &[u8]) -> usize {
    let (n, m) = (a.len(), b.len());
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

/// The edit distance a word of `len` letters may be corrected across.
fn edit_limit(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=6 => 1,
        _ => 2,
    }
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Lexicon {
    pub(crate) fn new(input: &LexiconInput) -> Lexicon {
        let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
        let mut lex = Lexicon {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            rewrites: HashMap::default(),
            lemmas: HashMap::default(),
            fillers: FastSet::default(),
            degree: FastSet::default(),
            multi_fillers: HashMap::default(),
            stemmer,
            vocab: Vec::new(),
            vocab_canon: Vec::new(),
            vocab_freq: Vec::new(),
            vocab_index: HashMap::default(),
            known: HashMap::default(),
            spanish: FastSet::default(),
            deletes: Vec::new(),
            sounds: HashMap::default(),
            metaphone: rphonetic::DoubleMetaphone::default(),
            neighbors: Vec::new(),
            canon_ids: HashMap::default(),
            vocab_sounds: Vec::new(),
            dictionary: DICTIONARY_WORDS.as_slice(),
        };
        for (from, to) in &input.lemmas {
            lex.lemmas.insert(from.as_str().into(), to.as_str().into());
        }
        for (from, to) in &input.rewrites {
            let words: Box<[Box<str>]> = to.iter().map(|w| w.as_str().into()).collect();
            lex.rewrites.insert(from.as_str().into(), words);
        }
        for w in &input.degree {
            let c = lex.canon(w);
            lex.degree.insert(c.into());
        }
        for f in &input.fillers {
            match f.as_slice() {
                [] => {}
                [one] => {
                    lex.fillers.insert(one.as_str().into());
                }
                [first, ..] => {
                    let words: Box<[Box<str>]> = f.iter().map(|w| w.as_str().into()).collect();
                    lex.multi_fillers
                        .entry(first.as_str().into())
                        .or_default()
                        .push(words);
                }
            }
        }
        // Vocabulary: every word of every phrase (rewrite outputs and
        // lemma forms included), with its canonical form and neighbours.
        let mut neighbors: Vec<HashSet<Box<str>>> = Vec::new();
        let mut english: HashSet<Box<str>> = HashSet::new();
        let mut spanish_words: HashSet<Box<str>> = HashSet::new();
        let add =
            |lex: &mut Lexicon, neighbors: &mut Vec<HashSet<Box<str>>>, w: &str| -> Option<u32> {
                if w.is_empty() || w.chars().any(|c| c.is_ascii_digit()) || lex.is_filler(w) {
                    return None;
                }
                if let Some(&i) = lex.vocab_index.get(w) {
                    lex.vocab_freq[i as usize] += 1;
                    return Some(i);
                }
                let i = lex.vocab.len() as u32;
                let canon = lex.canon(w);
                *lex.known.entry(canon.as_str().into()).or_default() += 1;
                lex.vocab.push(w.into());
                lex.vocab_canon.push(canon.into());
                lex.vocab_freq.push(1);
                lex.vocab_index.insert(w.into(), i);
                neighbors.push(HashSet::new());
                Some(i)
            };
        let extra: Vec<(Vec<String>, bool)> = (input.rewrites.iter())
            .map(|(from, to)| (to.clone(), input.spanish_read_as.contains(from)))
            .chain((input.lemmas.iter()).map(|(a, b)| {
                (
                    vec![a.clone(), b.clone()],
                    input.spanish_read_as.contains(a),
                )
            }))
            .collect();
        for (words, es) in input.phrases.iter().chain(&extra) {
            let slots: Vec<Option<u32>> = words
                .iter()
                .map(|w| add(&mut lex, &mut neighbors, w))
                .collect();
            for w in words {
                if *es {
                    spanish_words.insert(w.as_str().into());
                } else {
                    english.insert(w.as_str().into());
                }
            }
            // Neighbours: the content words at most 3 words away in the
            // same phrase.
            let content = |i: u32| {
                let w = &lex.vocab[i as usize];
                w.len() >= 3 && !STOP.contains(&&**w)
            };
            for (p, a) in slots.iter().enumerate() {
                let Some(a) = *a else { continue };
                let lo = p.saturating_sub(3);
                let hi = (p + 4).min(slots.len());
                for b in slots[lo..hi].iter().flatten().copied() {
                    if b != a && content(b) {
                        let c = lex.vocab_canon[b as usize].clone();
                        if c != lex.vocab_canon[a as usize] {
                            neighbors[a as usize].insert(c);
                        }
                    }
                }
            }
        }
        // Neighbours as ids of canonical forms, sorted for lookup.
        for c in &lex.vocab_canon {
            let next = lex.canon_ids.len() as u32;
            lex.canon_ids.entry(c.clone()).or_insert(next);
        }
        lex.neighbors = (neighbors.into_iter())
            .map(|set| {
                let mut ids: Vec<u32> = set.iter().map(|c| lex.canon_ids[c]).collect();
                ids.sort_unstable();
                ids.into()
            })
            .collect();
        // Words only Spanish phrases use are never a correction target:
        // English text is corrected toward English rules ("feavor" is a
        // misspelled "fever", not the "favor" of "por favor"), and Spanish
        // text is not corrected at all.
        let mut spanish_only: HashSet<u32> = HashSet::new();
        for w in spanish_words {
            if english.contains(&w) {
                continue;
            }
            if let Some(&i) = lex.vocab_index.get(&w) {
                spanish_only.insert(i);
            }
            if !lex.in_dictionary(&w) {
                lex.spanish.insert(w);
            }
        }
        // The delete index and the sound index, over words of 3+ ASCII
        // letters.
        let mut hashes = Vec::new();
        lex.vocab_sounds = (lex.vocab.iter())
            .map(|w| {
                let r = lex.metaphone.double_metaphone(w);
                (r.primary().into(), r.alternate().into())
            })
            .collect();
        for (i, w) in lex.vocab.iter().enumerate() {
            let b = w.as_bytes();
            if b.len() < 3
                || !b.iter().all(u8::is_ascii_lowercase)
                || spanish_only.contains(&(i as u32))
            {
                continue;
            }
            hashes.clear();
            deletion_hashes(b, if b.len() >= 5 { 2 } else { 1 }, &mut hashes);
            hashes.sort_unstable();
            hashes.dedup();
            lex.deletes.extend(hashes.iter().map(|&h| (h, i as u32)));
            if b.len() >= 4 {
                let (p, a) = &lex.vocab_sounds[i];
                for code in [p, a] {
                    if code.is_empty() {
                        continue;
                    }
                    let list = lex.sounds.entry(code.clone()).or_default();
                    if !list.contains(&(i as u32)) {
                        list.push(i as u32);
                    }
                }
            }
        }
        lex.deletes.sort_unstable();
        lex
    }

    fn is_filler(&self, w: &str) -> bool {
        self.fillers.contains(w)
    }

    /// Whether `w` is a common English word.
    pub(crate) fn in_dictionary(&self, w: &str) -> bool {
        self.dictionary.binary_search(&w).is_ok()
    }

    /// The canonical form of one word: its lemma, then its stem.
    ///
    /// The stem is Porter2's, but only where it undoes inflection: a word
    /// ending in -s, -ed or -ing takes its full stem ("swelling" and
    /// "swelled" read "swell"); any other word loses at most a last "e" or
    /// turns a last "y" into "i" ("breathe" reads "breath", "heavy"
    /// "heavi"), so derivation does not merge words ("several" is not
    /// "sever"). A `[[lemma]]` that reads a word as itself keeps it from
    /// the stemmer altogether ("severe" is not "severed").
    pub(crate) fn canon(&self, w: &str) -> String {
        let base = match self.lemmas.get(w) {
            Some(b) if **b == *w => return w.to_string(),
            Some(b) => &**b,
            None => w,
        };
        if base.chars().any(|c| c.is_ascii_digit()) {
            return base.to_string();
        }
        let stem = self.stemmer.stem(base);
        let inflected = ["ed", "ing"].iter().any(|x| base.ends_with(x))
            || (base.ends_with('s') && !["ss", "us", "is"].iter().any(|x| base.ends_with(x)));
        let small = |stem: &str| {
            stem == base
                || base.strip_suffix('e') == Some(stem)
                || (base
                    .strip_suffix('y')
                    .is_some_and(|b| stem.strip_suffix('i') == Some(b)))
        };
        if inflected || small(&stem) {
            stem.into_owned()
        } else {
            base.to_string()
        }
    }

    /// How a rule's word reads: no words for a filler, several for a
    /// rewrite, else its canonical form. Never corrected.
    pub(crate) fn read_word(&self, w: &str) -> Vec<String> {
        if w.chars().any(|c| c.is_ascii_digit()) {
            return vec![w.to_string()];
        }
        if self.is_filler(w) {
            return Vec::new();
        }
        match self.rewrites.get(w) {
            Some(words) => words
                .iter()
                .filter(|x| !self.is_filler(x))
                .map(|x| self.canon(x))
                .collect(),
            None => vec![self.canon(w)],
        }
    }

    /// A phrase's reading, and which of its words (bit i: word i) follow a
    /// word of degree: "very confused" reads "confus" with bit 0, and
    /// matches only where a word of degree stands before "confused".
    pub(crate) fn read_phrase_with_degree(&self, phrase: &str) -> (String, u64) {
        let norm = Normalized::new(phrase);
        let mut out = Normalized::default();
        let mut work = ReadWork::default();
        self.read_normalized(&norm, &mut out, &mut work, None);
        let lead = out.text.len() - out.text.trim_start().len();
        let mut mask = 0u64;
        for &o in &work.intensified {
            let before = out.text.get(lead..o as usize).unwrap_or("");
            let i = before.bytes().filter(|&b| b == b' ').count();
            if i < 64 {
                mask |= 1 << i;
            }
        }
        (out.text.trim().to_string(), mask)
    }

    /// The vocabulary words within correcting reach of `w` (see
    /// `Entry::Unknown`).
    fn candidates(&self, w: &str) -> Candidates {
        let b = w.as_bytes();
        let limit = edit_limit(b.len());
        if limit == 0 || b.len() > MAX_CORRECTED_LEN || !b.iter().all(u8::is_ascii_lowercase) {
            return Candidates::default();
        }
        let mut hashes = Vec::new();
        deletion_hashes(b, limit, &mut hashes);
        hashes.sort_unstable();
        hashes.dedup();
        let mut found: Vec<u32> = Vec::new();
        for h in hashes {
            let lo = self.deletes.partition_point(|&(k, _)| k < h);
            for &(k, i) in &self.deletes[lo..] {
                if k != h {
                    break;
                }
                found.push(i);
            }
        }
        let code = self.metaphone.double_metaphone(w);
        let codes = [code.primary(), code.alternate()];
        for c in &codes {
            if let Some(list) = self.sounds.get(c.as_str()) {
                found.extend(list.iter().copied());
            }
        }
        found.sort_unstable();
        found.dedup();
        let mut scored: Vec<Scored> = found
            .into_iter()
            .filter_map(|i| {
                let v = self.vocab[i as usize].as_bytes();
                if v.len() < 4 {
                    return None;
                }
                let d = osa(b, v);
                let (vp, va) = &self.vocab_sounds[i as usize];
                let sounds = codes
                    .iter()
                    .any(|c| !c.is_empty() && (c.as_str() == &**vp || c.as_str() == &**va));
                let same_first = v.first() == b.first();
                // Strong: one edit. Sounding: two edits (in a word of 7+
                // letters) that sound the same, or the same sound and first
                // letter within 3 edits ("rite" / "right"); only where a
                // neighbour wants it, as clinical words no dictionary knows
                // ("biliary") sit two edits from rule words ("bleary").
                let strong = d == 1;
                let sounding = (d <= limit && sounds) || (sounds && same_first && d <= 3);
                let weak = d <= limit || sounding;
                let class = if strong {
                    0
                } else if sounding {
                    1
                } else {
                    2
                };
                // One letter put for another, in place.
                let substitution = d == 1
                    && v.len() == b.len()
                    && v.iter().zip(b).filter(|(x, y)| x != y).count() == 1;
                (strong || weak).then_some((
                    class,
                    d,
                    !same_first,
                    !sounds,
                    std::cmp::Reverse(self.vocab_freq[i as usize]),
                    i,
                    substitution && !sounds,
                ))
            })
            .collect();
        scored.sort_unstable();
        scored.truncate(16);
        Candidates {
            alone: scored.first().filter(|s| s.0 == 0 && !s.2).map(|s| s.5),
            all: scored.iter().map(|s| s.5).collect(),
            for_common: (scored.iter())
                .filter(|s| s.0 == 1 || (s.0 == 0 && !s.6))
                .map(|s| s.5)
                .collect(),
        }
    }

    /// The reading of one written word, before its neighbours are seen.
    fn entry(&self, w: &str, unlisted: bool) -> Entry {
        if w.chars().any(|c| c.is_ascii_digit()) {
            return Entry::Words(one(w));
        }
        if self.is_filler(w) {
            return Entry::Words(Words::default());
        }
        if let Some(words) = self.rewrites.get(w) {
            return Entry::Words(
                words
                    .iter()
                    .filter(|x| !self.is_filler(x))
                    .map(|x| self.canon(x).into())
                    .collect::<Vec<Box<str>>>()
                    .into(),
            );
        }
        let own = self.canon(w);
        let me = self.vocab_index.get(w).copied();
        let readers = self.known.get(own.as_str()).copied().unwrap_or(0);
        let known = match (me, unlisted) {
            (Some(_), false) => true,
            // Listed once, and no other vocabulary word reads the same.
            (Some(i), true) => self.vocab_freq[i as usize] > 1 || readers > 1,
            (None, _) => readers > 0,
        };
        if known {
            return Entry::Words(one(&own));
        }
        let mut found = self.candidates(w);
        // Never a correction to the word itself (a listed word read as
        // unlisted, for the lint).
        if let Some(i) = me {
            found.all.retain(|&c| c != i);
            found.for_common.retain(|&c| c != i);
            found.alone = found.alone.filter(|&c| c != i);
        }
        let common = self.in_dictionary(w);
        let cands = if common { found.for_common } else { found.all };
        if cands.is_empty() {
            return Entry::Words(one(&own));
        }
        Entry::Unknown {
            own: one(&own),
            cands: cands.into(),
            alone: if common { None } else { found.alone },
        }
    }

    /// How many times the rules use vocabulary word `w` (0: not at all).
    pub(crate) fn uses(&self, w: &str) -> u32 {
        (self.vocab_index.get(w)).map_or(0, |&i| self.vocab_freq[i as usize])
    }

    /// Read rule phrase `text` as the engine would read a message made of
    /// it if no rule listed its words that only it lists: the reading, and
    /// the first correction made (written, read).
    pub(crate) fn read_unlisted(&self, text: &str) -> (String, Option<(String, String)>) {
        let mut raw = Normalized::default();
        raw.refill(text);
        let mut out = Normalized::default();
        let mut corrections = Vec::new();
        let mut work = ReadWork {
            unlisted: true,
            ..ReadWork::default()
        };
        self.read_into(&raw, &mut out, &mut work, &mut corrections);
        let first = corrections.into_iter().next().map(|c| (c.written, c.read));
        (out.text, first)
    }

    /// Read normalized text `raw` into `out`: canonical words, every byte
    /// mapped to the original. Corrections made go to `work.corrections`.
    pub(crate) fn read_into(
        &self,
        raw: &Normalized,
        out: &mut Normalized,
        work: &mut ReadWork,
        corrections: &mut Vec<Correction>,
    ) {
        self.read_normalized(raw, out, work, Some(corrections));
    }

    fn read_normalized(
        &self,
        raw: &Normalized,
        out: &mut Normalized,
        work: &mut ReadWork,
        mut corrections: Option<&mut Vec<Correction>>,
    ) {
        let correct = corrections.is_some();
        if work.lexicon != self.id || work.arena.len() > MAX_CACHED {
            work.cache.clear();
            work.long_cache.clear();
            work.arena.clear();
            work.lexicon = self.id;
        }
        out.clear();
        if let Some(c) = corrections.as_deref_mut() {
            c.clear();
        }
        let text = raw.text.as_str();
        // Tokens: runs of letters and digits, each looked up once.
        let mut tokens = std::mem::take(&mut work.tokens);
        tokens.clear();
        let mut pending_break = false;
        let mut iter = text.char_indices().peekable();
        while let Some((i, c)) = iter.next() {
            if !is_word_char(c) {
                if matches!(c, '.' | '!' | '?' | ';' | '\n') {
                    pending_break = true;
                }
                continue;
            }
            let start = i;
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = iter.peek() {
                if !is_word_char(d) {
                    break;
                }
                end = j + d.len_utf8();
                iter.next();
            }
            let w = &text[start..end];
            let inline = InlineWord::new(w);
            let known = match &inline {
                Some(key) => work.cache.get(key),
                None => work.long_cache.get(w),
            };
            let cached = match known {
                Some(&k) => k,
                None => {
                    let k = work.arena.len() as u32;
                    work.arena.push(self.cached(w, work.unlisted));
                    match inline {
                        Some(key) => work.cache.insert(key, k),
                        None => work.long_cache.insert(w.into(), k),
                    };
                    k
                }
            };
            tokens.push(Token {
                start: start as u32,
                end: end as u32,
                cached,
                view: View::Nothing,
                corrected: None,
                break_before: std::mem::take(&mut pending_break),
                degree: false,
            });
        }
        let arena = &work.arena;
        // Fillers of several words.
        let word = |t: &Token| &text[t.start as usize..t.end as usize];
        let mut filler_until = 0usize;
        let mut is_multi_filler = std::mem::take(&mut work.multi_filler);
        is_multi_filler.clear();
        is_multi_filler.resize(tokens.len(), false);
        for i in 0..tokens.len() {
            if i < filler_until {
                is_multi_filler[i] = true;
                continue;
            }
            if !arena[tokens[i].cached as usize].multi {
                continue;
            }
            if let Some(list) = self.multi_fillers.get(word(&tokens[i])) {
                for f in list {
                    let n = f.len();
                    let fits = i + n <= tokens.len()
                        && (0..n).all(|k| word(&tokens[i + k]) == &*f[k])
                        && (1..n).all(|k| {
                            !tokens[i + k].break_before
                                && tokens[i + k].start == tokens[i + k - 1].end + 1
                        });
                    if fits {
                        filler_until = i + n;
                        is_multi_filler[i] = true;
                        break;
                    }
                }
            }
        }
        // First reading of every word; unknown words wait for their
        // neighbours.
        let mut unknown = std::mem::take(&mut work.unknown);
        unknown.clear();
        let mut spanish = 0usize;
        let mut before_word = std::mem::take(&mut work.before_word);
        before_word.clear();
        before_word.extend((0..tokens.len()).map(|k| {
            tokens.get(k + 1).is_some_and(|n| {
                !n.break_before && text.get(tokens[k].end as usize..n.start as usize) == Some(" ")
            })
        }));
        for (k, t) in tokens.iter_mut().enumerate() {
            if is_multi_filler[k] {
                continue;
            }
            let c = &arena[t.cached as usize];
            spanish += usize::from(c.spanish);
            match &c.entry {
                // A filler is read past only before another word of its
                // clause ("so tight"); at the end it is a word ("if so").
                Entry::Words(ws) if ws.is_empty() && c.alone.is_some() && !before_word[k] => {
                    t.view = View::Alone;
                }
                // A word of degree before another word of its clause is
                // read past and remembered on that word.
                Entry::Words(_) if before_word[k] && c.degree => t.degree = true,
                Entry::Words(_) => t.view = View::Entry,
                Entry::Unknown { .. } => {
                    t.view = View::Entry;
                    if correct {
                        unknown.push(k);
                    }
                }
            }
        }
        // Corrections: a common word only where a neighbour wants it; an
        // unknown word preferably to a correction a neighbour wants, else
        // to the best one (not in a message read as Spanish).
        let read_as_spanish = spanish >= 2;
        for &k in &unknown {
            let Entry::Unknown { cands, alone, .. } = &arena[tokens[k].cached as usize].entry
            else {
                continue;
            };
            let wanted =
                (cands.iter().copied()).find(|&c| self.neighbor_wants(&tokens, arena, k, c));
            let pick = match wanted {
                Some(c) => Some(c),
                None if !read_as_spanish => *alone,
                None => None,
            };
            if let Some(c) = pick {
                tokens[k].corrected = Some(c);
            }
        }
        // Write the reading: separators as they are (space runs left by a
        // filler collapse), words as read.
        let mut at = 0usize;
        work.intensified.clear();
        let mut degree = false;
        for t in &tokens {
            let (s, e) = (t.start as usize, t.end as usize);
            push_separator(out, raw, at, s);
            at = e;
            if t.break_before {
                degree = false;
            }
            let words = self.token_text(t, arena);
            if words.is_empty() {
                degree |= t.degree;
                continue;
            }
            if std::mem::take(&mut degree) {
                work.intensified.push(out.text.len() as u32);
            }
            let from = raw.origin_of(s, e);
            out.push_from(words, from);
            if let (Some(c), Some(list)) = (t.corrected, corrections.as_deref_mut()) {
                list.push(Correction {
                    start: from.0 as usize,
                    end: from.1 as usize,
                    written: text[s..e].to_string(),
                    read: self.vocab[c as usize].to_string(),
                });
            }
        }
        push_separator(out, raw, at, text.len());
        // A trailing space left by a dropped last word.
        out.trim_end_spaces();
        work.tokens = tokens;
        work.multi_filler = is_multi_filler;
        work.before_word = before_word;
        work.unknown = unknown;
    }

    /// The words token `t` reads as, separated by single spaces.
    fn token_text<'a>(&'a self, t: &Token, arena: &'a [Cached]) -> &'a str {
        if let Some(c) = t.corrected {
            return &self.vocab_canon[c as usize];
        }
        let c = &arena[t.cached as usize];
        match t.view {
            View::Nothing => "",
            View::Entry => &c.text,
            View::Alone => c.alone.as_ref().map_or("", |(text, _)| text),
        }
    }

    /// The ids (`canon_ids`) of the words token `t` reads as, before any
    /// correction (a corrected token is never asked).
    fn token_ids<'a>(t: &Token, arena: &'a [Cached]) -> &'a [u32] {
        let c = &arena[t.cached as usize];
        match t.view {
            View::Nothing => &[],
            View::Entry => &c.ids,
            View::Alone => c.alone.as_ref().map_or(&[], |(_, ids)| ids),
        }
    }

    /// What the reading needs of written word `w`, computed once.
    fn cached(&self, w: &str, unlisted: bool) -> Cached {
        let entry = self.entry(w, unlisted);
        let ids_of = |ws: &[Box<str>]| -> Box<[u32]> {
            (ws.iter())
                .filter_map(|x| self.canon_ids.get(x).copied())
                .collect()
        };
        let (ids, degree, text) = match &entry {
            Entry::Words(ws) => (
                ids_of(ws),
                ws.len() == 1 && self.degree.contains(&ws[0]),
                ws.join(" "),
            ),
            Entry::Unknown { own, .. } => (ids_of(own), false, own.join(" ")),
        };
        let alone = self.is_filler(w).then(|| {
            let ws = one(&self.canon(w));
            let ids = ids_of(&ws);
            (ws.join(" ").into(), ids)
        });
        Cached {
            entry,
            text: text.into(),
            ids,
            alone,
            degree,
            multi: self.multi_fillers.contains_key(w),
            spanish: self.spanish.contains(w),
        }
    }

    /// Whether a word near token `k`, in the same clause, shares a rule
    /// phrase with vocabulary word `c`.
    fn neighbor_wants(&self, tokens: &[Token], arena: &[Cached], k: usize, c: u32) -> bool {
        let wants = &self.neighbors[c as usize];
        if wants.is_empty() {
            return false;
        }
        let wanted = |t: &Token| {
            Self::token_ids(t, arena)
                .iter()
                .any(|id| wants.binary_search(id).is_ok())
        };
        // Backwards until a clause break.
        let mut j = k;
        let mut seen = 0;
        while j > 0 && seen < NEIGHBOR_WINDOW && !tokens[j].break_before {
            j -= 1;
            seen += 1;
            let t = &tokens[j];
            if t.corrected.is_none() && wanted(t) {
                return true;
            }
        }
        let mut j = k + 1;
        let mut seen = 0;
        while j < tokens.len() && seen < NEIGHBOR_WINDOW && !tokens[j].break_before {
            if wanted(&tokens[j]) {
                return true;
            }
            j += 1;
            seen += 1;
        }
        false
    }
}

/// A reading of one word.
fn one(w: &str) -> Words {
    Box::new([Box::<str>::from(w)])
}

/// Copy the separator `raw.text[from..to]`, without a space that would
/// double one already written (a word read as nothing leaves two).
fn push_separator(out: &mut Normalized, raw: &Normalized, from: usize, to: usize) {
    if from >= to {
        return;
    }
    let sep = &raw.text[from..to];
    let skip = if (out.text.is_empty() || out.text.ends_with(' ')) && sep.starts_with(' ') {
        1
    } else {
        0
    };
    out.push_span_of(raw, from + skip, to);
}
