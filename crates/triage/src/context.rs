//! Clinical context, in the spirit of ConText: whether a mention is negated,
//! historical, hypothetical, about someone else, resolved or happening now.
//!
//! Cues are phrases from `rules/context.toml`. Each has a category, a
//! direction (does it govern what follows, what precedes, or both), a scope
//! (clause, sentence, or a word window that crosses sentences), a maximum
//! distance in words, and the categories of other cues that end its scope.

use crate::decision::SuppressedBy;
use serde::{Deserialize, Serialize};

/// What a context cue says about the findings in its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CueCategory {
    /// "no", "denies", "without": the finding is absent.
    Negated,
    /// "history of", "in 2018", "years ago": the finding is in the past.
    Historical,
    /// "if", "what should I do if", "in case": the finding is not real now.
    Hypothetical,
    /// "to rule out", "r/o": the finding is only a possibility being
    /// checked. It does not count, and is neither negated nor hypothetical.
    Uncertain,
    /// "his mother", "sister with", "family members": someone other than
    /// the patient; the mention is reported as experiencer other. It still
    /// counts for triage (someone near the writer may need help now).
    Other,
    /// "family history of", "my dad died of": someone else's past.
    Family,
    /// "went away", "fine now": happened recently and is over.
    Resolved,
    /// "yesterday", "last night": a recent past time; resolves event rules.
    Past,
    /// "right now", "still", "since this morning": happening now.
    Current,
    /// "I", "my", "he": a new subject; only ends other cues' scopes.
    Subject,
    /// "like this before", "this bad", "until today": the mention is new
    /// and happening. No effect alone; a "never" negation is cancelled by
    /// it (`unless = ["novel"]`: "never had chest pain like this before").
    Novel,
    /// "my husband", "he", "the patient": the writer speaks about another
    /// person, who is the patient here (a caregiver's message, a clinical
    /// note). Counts like the writer's own, but a past time alone does not
    /// make it over ("found him unresponsive this morning").
    ThirdPerson,
    /// "yesterday afternoon", "last night": the past time a story starts
    /// from, possibly sentences before the finding. No effect alone; other
    /// cues can `require` it (a story that ends "I feel fine today").
    Anchor,
}

impl CueCategory {
    /// The category's name as written in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            CueCategory::Negated => "negated",
            CueCategory::Historical => "historical",
            CueCategory::Hypothetical => "hypothetical",
            CueCategory::Uncertain => "uncertain",
            CueCategory::Other => "other",
            CueCategory::Family => "family",
            CueCategory::Resolved => "resolved",
            CueCategory::Past => "past",
            CueCategory::Current => "current",
            CueCategory::Subject => "subject",
            CueCategory::Novel => "novel",
            CueCategory::ThirdPerson => "third-person",
            CueCategory::Anchor => "anchor",
        }
    }
}

/// Which side of a cue it governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Findings after the cue ("no chest pain").
    #[default]
    Forward,
    /// Findings before the cue ("chest pain? no").
    Backward,
    /// Both sides.
    Both,
}

/// How far a cue's influence reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Up to a terminator ("but", "however") or the end of the sentence.
    #[default]
    Clause,
    /// Up to the end of the sentence; terminators do not stop it.
    Sentence,
    /// Across sentences, limited only by `max_words`.
    Window,
}

/// When a finding happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Temporality {
    /// Now or recently (the default).
    Recent,
    /// In the past: history, years ago, someone's old diagnosis.
    Historical,
    /// Not real now: a question about a possible future, "if ...".
    Hypothetical,
}

/// Who the finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Experiencer {
    /// The writer or the patient the message is about (the default).
    Patient,
    /// Someone else: a family member, a friend.
    Other,
}

/// One part of a mention's context, as decided by a cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aspect {
    /// Negated or not.
    Negation,
    /// Recent, historical or hypothetical.
    Temporality,
    /// The patient or someone else.
    Experiencer,
    /// Resolved, a past time, or happening now.
    Status,
    /// Whether the writer speaks about another person (third person).
    Person,
    /// Certain, or only a possibility being checked.
    Certainty,
}

/// A cue that decided part of a finding's context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CueUse {
    /// The cue rule's id.
    pub id: String,
    /// The cue's category.
    pub category: CueCategory,
    /// The cue's words as written in the original text.
    pub text: String,
    /// Byte offset of the cue in the original text.
    pub start: usize,
    /// Byte offset just past the cue in the original text.
    pub end: usize,
    /// What this cue decided (one cue can decide several aspects: "family
    /// history of" makes a mention historical and someone else's).
    pub decides: Vec<Aspect>,
}

/// The context that applied to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    /// Whether the finding is negated.
    pub negated: bool,
    /// Recent, historical or hypothetical.
    pub temporality: Temporality,
    /// The patient or someone else.
    pub experiencer: Experiencer,
    /// Whether it happened recently and is over ("fine now").
    pub resolved: bool,
    /// Whether it is only a possibility being checked ("to rule out MI").
    pub uncertain: bool,
    /// Whether the writer speaks about another person ("my husband", "he",
    /// "the patient"): still the patient of the message, but a past time
    /// alone does not make it over.
    pub third_person: bool,
    /// The cues that decided the above (empty: plain assertion).
    pub cues: Vec<CueUse>,
}

impl Default for Context {
    /// A plain assertion: affirmed, recent, about the patient, no cues.
    fn default() -> Context {
        Context {
            negated: false,
            temporality: Temporality::Recent,
            experiencer: Experiencer::Patient,
            resolved: false,
            uncertain: false,
            third_person: false,
            cues: Vec::new(),
        }
    }
}

impl Context {
    /// Whether the finding counts at all (asserted, current or resolved).
    pub fn asserted(&self) -> bool {
        !self.negated && !self.uncertain && self.temporality == Temporality::Recent
    }

    /// The cue that decided `aspect`, if a cue did (none: the default, an
    /// affirmed recent mention about the patient).
    ///
    /// ```
    /// use portal_triage::{Aspect, Triage};
    /// let text = "Family history of stroke, no chest pain.";
    /// let (_, c) = Triage::default().context_of_phrase(text, "stroke").unwrap();
    /// let cue = c.cue_for(Aspect::Experiencer).unwrap();
    /// assert_eq!(&text[cue.start..cue.end], "Family history of");
    /// assert!(c.cue_for(Aspect::Negation).is_none());
    /// ```
    pub fn cue_for(&self, aspect: Aspect) -> Option<&CueUse> {
        self.cues.iter().find(|u| u.decides.contains(&aspect))
    }
}

/// The context in words: when, whether negated, resolved or uncertain, who,
/// and the ids of the cues behind it.
///
/// The plain form names no words of the message, so it is safe for logs;
/// the alternate form (`{:#}`) also quotes each cue's words as written in
/// the message, as `portal-triage explain` shows them.
///
/// ```
/// use portal_triage::Triage;
/// let (_, c) = Triage::default()
///     .context_of_phrase("No chest pain today", "chest pain")
///     .unwrap();
/// assert_eq!(c.to_string(), "current, negated; cues: negation.forward (negated)");
/// assert_eq!(
///     format!("{c:#}"),
///     "current, negated; cues: negation.forward \"No\" (negated)"
/// );
/// ```
impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<&str> = Vec::new();
        parts.push(match self.temporality {
            Temporality::Recent => "current",
            Temporality::Historical => "historical",
            Temporality::Hypothetical => "hypothetical",
        });
        if self.negated {
            parts.push("negated");
        }
        if self.resolved {
            parts.push("resolved (over now)");
        }
        if self.uncertain {
            parts.push("uncertain (being ruled out)");
        }
        if self.experiencer == Experiencer::Other {
            parts.push("someone else, now");
        } else if self.third_person {
            parts.push("the patient, written of in the third person");
        }
        f.write_str(&parts.join(", "))?;
        for (i, cue) in self.cues.iter().enumerate() {
            f.write_str(if i == 0 { "; cues: " } else { ", " })?;
            f.write_str(&cue.id)?;
            if f.alternate() {
                // One line whatever the cue's words hold: line breaks and
                // tabs read as spaces, other control characters as U+FFFD.
                let words: String = cue
                    .text
                    .chars()
                    .map(|c| match c {
                        '\n' | '\r' | '\t' => ' ',
                        c if c.is_control() => '\u{FFFD}',
                        c => c,
                    })
                    .collect();
                write!(f, " \"{words}\"")?;
            }
            write!(f, " ({})", cue.category.as_str())?;
        }
        Ok(())
    }
}

// ------------------------------------------------------------ the machinery

/// A compiled cue rule, as the assessor needs it.
#[derive(Debug, Clone)]
pub(crate) struct CueSpec {
    pub category: CueCategory,
    pub direction: Direction,
    pub scope: Scope,
    pub max_words: u32,
    /// Bit set of `CueCategory as u32` that end this cue's scope.
    pub terminated_by: u32,
    /// Categories that must also reach the target for this cue to count.
    pub requires: u32,
    /// Categories whose presence at the target cancels this cue.
    pub unless: u32,
}

pub(crate) fn category_bit(c: CueCategory) -> u32 {
    1 << (c as u32)
}

pub(crate) fn category_bits(cs: &[CueCategory]) -> u32 {
    cs.iter().fold(0, |acc, &c| acc | category_bit(c))
}

/// One cue occurrence in a message (normalized offsets).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CueHit {
    pub cue: u32,
    pub start: u32,
    pub end: u32,
    pub first_word: u32,
    pub last_word: u32,
}

/// The word and sentence structure of one normalized message.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    word_starts: Vec<u32>,
    sentence_breaks: Vec<u32>,
    clause_breaks: Vec<u32>,
}

const ABBREVIATIONS: &[&str] = &[
    "dr", "mr", "mrs", "ms", "st", "vs", "approx", "appt", "jr", "sr", "pt", "e.g", "i.e", "etc",
];

impl Layout {
    /// Words, and sentence breaks: `! ? ;`, a line break, or `.` followed by
    /// a space (not after a known abbreviation, not inside a number).
    pub fn build(&mut self, text: &str) {
        self.word_starts.clear();
        self.sentence_breaks.clear();
        self.clause_breaks.clear();
        // About one word per five bytes of message text: grow once, not
        // word by word.
        self.word_starts.reserve(text.len() / 4 + 8);
        self.sentence_breaks.reserve(text.len() / 32 + 4);
        let bytes = text.as_bytes();
        let mut in_word = false;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            // An ASCII byte is read as it is; only other characters are
            // decoded (`alnum_at`). The breaks below are all ASCII. `i` is
            // always a character start, so the lead byte gives the width.
            let alnum = crate::normalize::alnum_at(text, i);
            let len = match b {
                0..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            if alnum && !in_word {
                self.word_starts.push(i as u32);
            }
            in_word = alnum;
            match b {
                b'!' | b'?' | b';' | b'\n' => self.sentence_breaks.push((i + 1) as u32),
                b'.' => {
                    let next = bytes.get(i + 1).copied();
                    let ends = matches!(next, None | Some(b' ') | Some(b'\n') | Some(b'.'));
                    if ends && !self.abbreviation_before(text, i) {
                        self.sentence_breaks.push((i + 1) as u32);
                    }
                }
                _ => {}
            }
            i += len;
        }
        self.sentence_breaks.dedup();
    }

    fn abbreviation_before(&self, text: &str, dot: usize) -> bool {
        let word_start = text[..dot]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| c.is_alphanumeric() || c == '.')
            .last()
            .map_or(dot, |(i, _)| i);
        let word = &text[word_start..dot];
        // "No. 5" is a number sign; "Cough no. Bleeding yes" ends a sentence.
        let numbered = || {
            text[dot + 1..]
                .trim_start()
                .starts_with(|c: char| c.is_ascii_digit() || c == '#')
        };
        ABBREVIATIONS.contains(&word) || (word == "no" && numbered())
    }

    /// Bytes held by the buffers (what reusing this value keeps).
    pub fn capacity(&self) -> usize {
        (self.word_starts.capacity()
            + self.sentence_breaks.capacity()
            + self.clause_breaks.capacity())
            * 4
    }

    /// Add terminator positions (clause breaks besides sentence ends).
    pub fn set_terminators(&mut self, starts: impl Iterator<Item = u32>) {
        self.clause_breaks.clear();
        self.clause_breaks.extend_from_slice(&self.sentence_breaks);
        self.clause_breaks.extend(starts);
        self.clause_breaks.sort_unstable();
        self.clause_breaks.dedup();
    }

    /// Index of the first word starting at or after `pos`.
    pub fn first_word(&self, pos: u32) -> u32 {
        self.word_starts.partition_point(|&w| w < pos) as u32
    }

    /// Index of the last word starting before `end` (saturating at 0).
    pub fn last_word(&self, start: u32, end: u32) -> u32 {
        let n = self.word_starts.partition_point(|&w| w < end) as u32;
        n.saturating_sub(1).max(self.first_word(start).min(n))
    }

    fn broken(breaks: &[u32], a: u32, b: u32) -> bool {
        let i = breaks.partition_point(|&p| p <= a);
        i < breaks.len() && breaks[i] <= b
    }

    /// Whether a sentence ends between byte `a` and byte `b` (a < p <= b).
    pub fn sentence_between(&self, a: u32, b: u32) -> bool {
        Self::broken(&self.sentence_breaks, a, b)
    }

    /// Whether a clause ends between byte `a` and byte `b`.
    pub fn clause_between(&self, a: u32, b: u32) -> bool {
        Self::broken(&self.clause_breaks, a, b)
    }

    /// Sentence index of a byte position.
    #[cfg(test)]
    pub fn sentence_of(&self, pos: u32) -> usize {
        self.sentence_breaks.partition_point(|&p| p <= pos)
    }
}

/// An upper bound on the words in one cue phrase (phrases are at most 512
/// bytes; a word is at least one letter and a space).
const MAX_CUE_WORDS: u32 = 256;

/// What the assessor decided for one target, with the deciding cue hits
/// (indices into the message's cue hits).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Assessment {
    pub negated: Option<u32>,
    pub temporality: Option<(Temporality, u32)>,
    pub other: Option<u32>,
    /// The nearest third-person cue ("my husband", "he").
    pub third: Option<u32>,
    /// The first uncertainty cue that reaches the target ("to rule out").
    pub uncertain: Option<u32>,
    /// `Resolved` or `Past` (or `Current`, which means "not resolved").
    pub status: Option<(CueCategory, u32)>,
}

impl Assessment {
    /// The cue hits that decided something, with what each decided (a hit
    /// may decide several aspects and then appears once per aspect).
    pub fn deciding(&self) -> impl Iterator<Item = (u32, Aspect)> {
        [
            self.negated.map(|h| (h, Aspect::Negation)),
            self.temporality.map(|x| (x.1, Aspect::Temporality)),
            self.other.map(|h| (h, Aspect::Experiencer)),
            self.third.map(|h| (h, Aspect::Person)),
            self.uncertain.map(|h| (h, Aspect::Certainty)),
            self.status.map(|x| (x.1, Aspect::Status)),
        ]
        .into_iter()
        .flatten()
    }
}

// ------------------------------------- the policy: what a context means

// What the assessed context does to a mention's triage: whether it counts,
// what a suppressed one is reported as, and when it is over. The decision
// (`decide`) applies these; the vocabulary is docs/rules.md's cue
// categories and the triage policy's "context decides whether a mention
// counts".

impl Assessment {
    /// Whether the mention does not count toward the route, as what
    /// ([`SuppressedBy`]), with the cue hit that suppressed it (shown as
    /// the cause). The first that applies wins:
    ///
    /// 1. negated ("no chest pain", "denies"): [`SuppressedBy::Negated`].
    ///    An absent finding is absent whatever its time or its person, so
    ///    the negation is the cause shown.
    /// 2. hypothetical ("if the chest pain comes back"):
    ///    [`SuppressedBy::Hypothetical`];
    /// 3. historical ("history of stroke"): [`SuppressedBy::Historical`],
    ///    or [`SuppressedBy::Family`] when the deciding cue is a family one
    ///    ("my dad died of a stroke": someone else's past). A mention has one
    ///    temporality (the nearest cue wins, `assess`), so 2 and 3 never
    ///    compete.
    /// 4. uncertain ("to rule out MI"): [`SuppressedBy::Uncertain`]: only a
    ///    possibility being checked, reported as such only when nothing
    ///    above already explains why it does not count.
    ///
    /// Everything else counts: someone else now ("my husband can't
    /// breathe": the writer is the one who can call 911), the patient
    /// written of in the third person, and a resolved event (one level
    /// lower, see [`Assessment::resolves`]). [`SuppressedBy::Idiom`] is not
    /// decided here: the scan hides a finding inside a pseudo phrase before
    /// any context is assessed.
    ///
    /// `specs` and `hits` are those the assessment was made with.
    #[inline]
    pub fn suppression(&self, specs: &[CueSpec], hits: &[CueHit]) -> Option<(SuppressedBy, u32)> {
        if let Some(h) = self.negated {
            return Some((SuppressedBy::Negated, h));
        }
        match self.temporality {
            Some((Temporality::Hypothetical, h)) => Some((SuppressedBy::Hypothetical, h)),
            Some((Temporality::Historical, h)) => {
                let by = if specs[hits[h as usize].cue as usize].category == CueCategory::Family {
                    SuppressedBy::Family
                } else {
                    SuppressedBy::Historical
                };
                Some((by, h))
            }
            _ => self.uncertain.map(|h| (SuppressedBy::Uncertain, h)),
        }
    }

    /// Whether the mention happened recently and is over ([`Context`]'s
    /// `resolved`): its rule then routes it one level lower (never below
    /// needs-call) or to its `resolved_route`.
    ///
    /// - A resolution cue ("went away", "fine now") that wins the status
    ///   (the nearest of resolved, past and current, `assess`) resolves it.
    /// - A past time alone ("passed out yesterday") resolves it only for a
    ///   rule with `past_resolves` (an event, such as fainting), and only
    ///   when the writer had it (the patient, not written of in the third
    ///   person): they are writing, so it is over. Someone else's ("my
    ///   mother collapsed this morning", "found him unresponsive this
    ///   morning") needs a resolution cue: the writer may be with them, and
    ///   it may not be over.
    /// - A current cue ("still", "right now"), or no status cue, leaves it
    ///   current.
    #[inline]
    pub fn resolves(&self, past_resolves: bool) -> bool {
        let patient = self.other.is_none();
        let third_person = self.third.is_some();
        match self.status {
            Some((CueCategory::Resolved, _)) => true,
            Some((CueCategory::Past, _)) => past_resolves && patient && !third_person,
            _ => false,
        }
    }
}

/// Whether a combination of findings is resolved, from its parts as
/// (qualifier, resolved) pairs: only when all of it has resolved ("vomited
/// blood this morning" and "lightheaded now" is not over). A qualifier
/// ("first ever", "on warfarin", "pregnant": a rule with `qualifier = true`)
/// has no time of its own and does not keep a combination current.
#[inline]
pub(crate) fn combination_resolves(parts: impl IntoIterator<Item = (bool, bool)>) -> bool {
    parts
        .into_iter()
        .filter(|&(qualifier, _)| !qualifier)
        .all(|(_, resolved)| resolved)
}

/// Assess the context of the target `[start, end)` (normalized offsets).
///
/// `reach` is the largest `max_words` of any cue: only hits that close are
/// looked at, so the cost per target is bounded by the cues near it, not by
/// the length of the message.
pub(crate) fn assess(
    layout: &Layout,
    specs: &[CueSpec],
    hits: &[CueHit],
    reach: u32,
    start: u32,
    end: u32,
    work: &mut Vec<(u32, u32)>,
) -> Assessment {
    let first = layout.first_word(start);
    let last = layout.last_word(start, end);
    // Hits are in text order, so their first words ascend. A cue spans at
    // most a phrase's worth of words (MAX_CUE_WORDS) beyond its first.
    let lo = hits.partition_point(|h| {
        h.first_word
            .saturating_add(MAX_CUE_WORDS)
            .saturating_add(reach)
            < first
    });
    let hi = hits.partition_point(|h| h.first_word <= last.saturating_add(reach).saturating_add(1));
    let near = &hits[lo..hi.max(lo)];
    let mut out = Assessment::default();
    let mut best_time: Option<(u32, u8)> = None; // distance, rank
    let mut best_other: Option<u32> = None;
    let mut best_third: Option<u32> = None;
    // Nearest (distance, hit) of each status kind.
    let mut current: Option<(u32, u32)> = None;
    let mut resolved: Option<(u32, u32)> = None;
    let mut past: Option<(u32, u32)> = None;
    let nearest = |slot: &mut Option<(u32, u32)>, d: u32, h: u32| {
        if slot.is_none_or(|(best, _)| d < best) {
            *slot = Some((d, h));
        }
    };
    // First pass: which cues reach the target, and how far away they are.
    // (hit index, distance), in the caller's reusable buffer.
    let reach = work;
    reach.clear();
    for (n, hit) in near.iter().enumerate() {
        let h_idx = lo + n;
        let spec = &specs[hit.cue as usize];
        // Where is the cue, and how far (in words) from the target?
        // Where is the cue, and how far (in words) from the target? A cue
        // that overlaps the target's edge ("never had" + "had a seizure")
        // sits on the side where it starts, at distance 0. Only a negation
        // shares words with what it governs: the words a hypothetical or
        // uncertain cue shares with a finding are the finding's own ("as if
        // she was going to" + "going to pass out" is a near-faint).
        let overlaps = hit.start < end && start < hit.end;
        if overlaps
            && matches!(
                spec.category,
                CueCategory::Hypothetical | CueCategory::Uncertain
            )
        {
            continue;
        }
        let (gap_a, gap_b, distance) = if hit.start < start {
            if spec.direction == Direction::Backward {
                continue;
            }
            let d = first.saturating_sub(hit.last_word + 1);
            (hit.end.min(start), start, d)
        } else if hit.end > end || hit.start >= end {
            if spec.direction == Direction::Forward {
                continue;
            }
            let d = hit.first_word.saturating_sub(last + 1);
            (end, hit.start.max(end), d)
        } else {
            continue; // inside the target: part of it
        };
        if distance > spec.max_words {
            continue;
        }
        let blocked = match spec.scope {
            Scope::Clause => layout.clause_between(gap_a, gap_b),
            Scope::Sentence => layout.sentence_between(gap_a, gap_b),
            Scope::Window => false,
        };
        if blocked {
            continue;
        }
        // Cues strictly between the cue and the target end its scope when
        // their category is in its `terminated_by`.
        let between = {
            let a = near.partition_point(|h| h.start < gap_a);
            let b = near.partition_point(|h| h.start < gap_b);
            &near[a..b.max(a)]
        };
        if spec.terminated_by != 0
            && between.iter().any(|h| {
                h.end <= gap_b
                    && spec.terminated_by & category_bit(specs[h.cue as usize].category) != 0
            })
        {
            continue;
        }
        reach.push((h_idx as u32, distance));
    }
    // A cue may require, or be cancelled by, another category reaching the
    // same target ("mom had" is someone's history unless a recent time is
    // near: "my mom had slurred speech last night").
    let present = reach.iter().fold(0u32, |acc, &(h, _)| {
        acc | category_bit(specs[hits[h as usize].cue as usize].category)
    });
    for &(h, distance) in reach.iter() {
        let spec = &specs[hits[h as usize].cue as usize];
        if spec.requires & present != spec.requires || spec.unless & present != 0 {
            continue;
        }
        let better = |best: Option<(u32, u8)>, rank: u8| {
            best.is_none_or(|(d, r)| distance < d || (distance == d && rank > r))
        };
        match spec.category {
            CueCategory::Negated => {
                if out.negated.is_none() {
                    out.negated = Some(h);
                }
            }
            CueCategory::Subject | CueCategory::Anchor | CueCategory::Novel => {}
            CueCategory::Uncertain => {
                if out.uncertain.is_none() {
                    out.uncertain = Some(h);
                }
            }
            CueCategory::ThirdPerson => {
                if best_third.is_none_or(|d| distance < d) {
                    best_third = Some(distance);
                    out.third = Some(h);
                }
            }
            CueCategory::Other => {
                if best_other.is_none_or(|d| distance < d) {
                    best_other = Some(distance);
                    out.other = Some(h);
                }
            }
            CueCategory::Historical | CueCategory::Family | CueCategory::Hypothetical => {
                let (t, rank) = match spec.category {
                    CueCategory::Hypothetical => (Temporality::Hypothetical, 1),
                    _ => (Temporality::Historical, 2),
                };
                if better(best_time, rank) {
                    best_time = Some((distance, rank));
                    out.temporality = Some((t, h));
                }
                if spec.category == CueCategory::Family && best_other.is_none_or(|d| distance < d) {
                    best_other = Some(distance);
                    out.other = Some(h);
                }
            }
            CueCategory::Current => {
                if better(best_time, 3) {
                    best_time = Some((distance, 3));
                    out.temporality = Some((Temporality::Recent, h));
                }
                nearest(&mut current, distance, h);
            }
            CueCategory::Resolved => nearest(&mut resolved, distance, h),
            CueCategory::Past => nearest(&mut past, distance, h),
        }
    }
    // Status: a resolution cue wins unless a "now" cue is at least as near,
    // or both follow the finding and "now" comes later (the story's last
    // word: "the chest pain went away after lunch but it's back now"); a
    // past-time cue against "now": the nearer; otherwise "now" (or nothing).
    let beats_current = |x: Option<(u32, u32)>, latest_wins: bool| match (x, current) {
        (Some((d, hx)), Some((c, hc))) => {
            let (xh, ch) = (&hits[hx as usize], &hits[hc as usize]);
            if latest_wins && xh.start >= end && ch.start >= end {
                xh.start > ch.start
            } else {
                d < c
            }
        }
        (Some(_), None) => true,
        (None, _) => false,
    };
    out.status = if beats_current(resolved, true) {
        resolved.map(|(_, h)| (CueCategory::Resolved, h))
    } else if beats_current(past, false) {
        past.map(|(_, h)| (CueCategory::Past, h))
    } else {
        current.map(|(_, h)| (CueCategory::Current, h))
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cue specs of the given categories, and one hit of each (hit `i` is
    /// cue `i`).
    fn specs_and_hits(categories: &[CueCategory]) -> (Vec<CueSpec>, Vec<CueHit>) {
        let specs = (categories.iter())
            .map(|&category| CueSpec {
                category,
                direction: Direction::Forward,
                scope: Scope::Sentence,
                max_words: 5,
                terminated_by: 0,
                requires: 0,
                unless: 0,
            })
            .collect();
        let hits = (0..categories.len() as u32)
            .map(|i| CueHit {
                cue: i,
                start: i,
                end: i + 1,
                first_word: i,
                last_word: i,
            })
            .collect();
        (specs, hits)
    }

    #[test]
    fn suppression_order_negated_then_temporality_then_uncertain() {
        use CueCategory as C;
        let (specs, hits) = specs_and_hits(&[
            C::Negated,
            C::Hypothetical,
            C::Historical,
            C::Family,
            C::Uncertain,
        ]);
        let s = |a: Assessment| a.suppression(&specs, &hits);
        let all = Assessment {
            negated: Some(0),
            temporality: Some((Temporality::Hypothetical, 1)),
            uncertain: Some(4),
            other: Some(3),
            ..Assessment::default()
        };
        assert_eq!(s(all), Some((SuppressedBy::Negated, 0)));
        let a = Assessment {
            negated: None,
            ..all
        };
        assert_eq!(s(a), Some((SuppressedBy::Hypothetical, 1)));
        let a = Assessment {
            temporality: Some((Temporality::Historical, 2)),
            ..a
        };
        assert_eq!(s(a), Some((SuppressedBy::Historical, 2)));
        let a = Assessment {
            temporality: Some((Temporality::Historical, 3)),
            ..a
        };
        assert_eq!(s(a), Some((SuppressedBy::Family, 3)));
        let a = Assessment {
            temporality: Some((Temporality::Recent, 1)),
            ..a
        };
        assert_eq!(s(a), Some((SuppressedBy::Uncertain, 4)));
        // Someone else now, third person, resolved: all count.
        let a = Assessment {
            uncertain: None,
            third: Some(2),
            status: Some((C::Resolved, 2)),
            ..a
        };
        assert_eq!(s(a), None);
    }

    #[test]
    fn a_past_time_resolves_only_the_writers_own_events() {
        let past = Assessment {
            status: Some((CueCategory::Past, 0)),
            ..Assessment::default()
        };
        assert!(past.resolves(true));
        assert!(!past.resolves(false));
        assert!(
            !Assessment {
                other: Some(1),
                ..past
            }
            .resolves(true)
        );
        assert!(
            !Assessment {
                third: Some(1),
                ..past
            }
            .resolves(true)
        );
        let over = Assessment {
            status: Some((CueCategory::Resolved, 0)),
            other: Some(1),
            third: Some(2),
            ..Assessment::default()
        };
        assert!(over.resolves(false));
        let now = Assessment {
            status: Some((CueCategory::Current, 0)),
            ..Assessment::default()
        };
        assert!(!now.resolves(true));
        assert!(!Assessment::default().resolves(true));
    }

    #[test]
    fn a_combination_resolves_when_all_but_its_qualifiers_have() {
        assert!(combination_resolves([(false, true), (true, false)]));
        assert!(!combination_resolves([(false, true), (false, false)]));
        assert!(combination_resolves([(false, true), (false, true)]));
    }

    proptest::proptest! {
        /// The byte loop of `Layout::build` (ASCII read as it is) finds the
        /// words and sentence ends a character-by-character reading does,
        /// in any mix of ASCII and other characters.
        #[test]
        fn layout_equals_a_character_reading(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "pain", "99", " ", ".", ". ", "..", "!", "?", ";", "\n", "dr.", "no. 5",
                    "é", "ñ", "日本", "٣", "\u{2028}", "😀", "-", "'", "e.g.",
                ]),
                0..40,
            )
        ) {
            let text: String = parts.concat();
            let mut got = Layout::default();
            got.build(&text);
            // The reference: one character at a time.
            let mut want = Layout::default();
            let mut in_word = false;
            for (i, c) in text.char_indices() {
                let alnum = c.is_alphanumeric();
                if alnum && !in_word {
                    want.word_starts.push(i as u32);
                }
                in_word = alnum;
                match c {
                    '!' | '?' | ';' | '\n' => want.sentence_breaks.push((i + 1) as u32),
                    '.' => {
                        let next = text.as_bytes().get(i + 1).copied();
                        let ends = matches!(next, None | Some(b' ') | Some(b'\n') | Some(b'.'));
                        if ends && !want.abbreviation_before(&text, i) {
                            want.sentence_breaks.push((i + 1) as u32);
                        }
                    }
                    _ => {}
                }
            }
            want.sentence_breaks.dedup();
            proptest::prop_assert_eq!(&got.word_starts, &want.word_starts);
            proptest::prop_assert_eq!(&got.sentence_breaks, &want.sentence_breaks);
        }
    }

    #[test]
    fn sentence_breaks_skip_numbers_and_abbreviations() {
        let mut l = Layout::default();
        let t = "dr. lee, temp 98.6 today. chest pain? no";
        l.build(t);
        assert_eq!(l.sentence_of(t.find("temp").unwrap() as u32), 0);
        assert_eq!(l.sentence_of(t.find("chest").unwrap() as u32), 1);
        // "? no": the question mark belongs to the sentence it ends.
        assert_eq!(l.sentence_of(t.find('?').unwrap() as u32), 1);
        assert_eq!(l.sentence_of(t.find("no").unwrap() as u32), 2);
    }

    #[test]
    fn no_dot_ends_a_sentence_unless_a_number_follows() {
        let mut l = Layout::default();
        let t = "fever no. bleeding yes. see form no. 5 please";
        l.build(t);
        assert_eq!(l.sentence_of(t.find("bleeding").unwrap() as u32), 1);
        assert_eq!(l.sentence_of(t.find("please").unwrap() as u32), 2);
    }

    #[test]
    fn word_indices() {
        let mut l = Layout::default();
        let t = "no real chest pain";
        l.build(t);
        assert_eq!(l.first_word(8), 2);
        assert_eq!(l.last_word(8, 18), 3);
    }
}
