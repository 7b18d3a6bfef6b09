//! The engine: a compiled rule set that classifies messages.

use crate::context::{
    self, Assessment, CueCategory, CueHit, CueSpec, CueUse, Experiencer, Layout, Temporality,
};
use crate::decision::{
    ADVICE_911, ADVICE_CALL, ADVICE_ROUTINE, Cause, Decision, Finding, Flag, Suppressed,
    SuppressedBy,
};
use crate::error::{Diagnostic, Error, ErrorKind, Severity};
use crate::normalize::{Normalized, alnum_at, alnum_before, floor_boundary};
use crate::route::Route;
use crate::rules::{RuleKind, RuleSet};
use crate::vitals::{Readers, Reading};
use regex::Regex;
use std::sync::{Arc, OnceLock};

/// The default longest message read in full, in bytes (1 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1 << 20;

/// How much consecutive chunks of a long message overlap (at most; a quarter
/// of the chunk size for small limits).
const CHUNK_OVERLAP: usize = 16 << 10;

/// The most gate and tail literals (see `prefilter`) the automaton takes
/// for rule patterns; at most 48 bytes each, a rule set adds at most about
/// 12 MB of literals to it (a pattern brings at most 256 gate literals and
/// 256 tail literals).
const MAX_GATE_LITERALS: usize = 256 << 10;

/// Who owns a phrase or pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Rule(u32),
    Cue(u32),
    Pseudo(u32),
    Terminator(u32),
}

impl Owner {
    fn class(self) -> u8 {
        match self {
            Owner::Pseudo(_) => 0,
            Owner::Rule(_) => 1,
            Owner::Cue(_) | Owner::Terminator(_) => 2,
        }
    }
}

/// A pattern an automaton pattern gates.
#[derive(Debug, Clone, Copy)]
struct Gate {
    /// Index into `regexes` (or past it: a number reader).
    pattern: u32,
    /// The bit of the required set the literal belongs to; 0 for a
    /// literal of the pattern's tail (see `Compiled::tail`), which gates
    /// nothing but bounds where its matches end.
    bit: u8,
    /// The literal anchors the pattern's search windows (its first set, and
    /// the pattern is windowed).
    anchor: bool,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    start: u32,
    end: u32,
    owner: Owner,
}

/// The phrase and literal automaton: a double-array Aho-Corasick (each
/// trie step one array lookup, 12 bytes a state: 2.8 MB for the default
/// rules' 197,000 states). Measured against the `aho-corasick` crate's
/// contiguous NFA on corpus messages: 12% fewer classify instructions.
/// Each pattern's value is its slot.
struct Automaton(daachorse::DoubleArrayAhoCorasick<u32>);

impl std::fmt::Debug for Automaton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Automaton")
            .field("states", &self.0.num_states())
            .finish()
    }
}

#[derive(Debug)]
struct Compiled {
    rules: RuleSet,
    /// One automaton for every phrase and every pattern's required
    /// literals (see `prefilter`): one pass over the text finds both.
    automaton: Option<Automaton>,
    /// For automaton pattern `p`, its owners are
    /// `owner_list[slots[p].0..slots[p + 1].0]` (a phrase may belong to
    /// several; a pattern's literal has none) and the patterns it gates are
    /// `gate_list[slots[p].1..slots[p + 1].1]`. Flat arrays: the pass
    /// looks them up for every match, and nested vectors cost a cache miss
    /// each (measured: 40% of the pass's own time).
    slots: Vec<(u32, u32)>,
    owner_list: Vec<Owner>,
    gate_list: Vec<Gate>,
    regexes: Vec<(Regex, Owner)>,
    /// For each pattern, the bits of all its required sets: it runs when
    /// one literal of each set occurs.
    gate_full: Vec<u8>,
    /// Patterns with no provable required literal: they run on every text.
    ungated: Vec<u32>,
    /// For each rule pattern, how far a match reaches from a literal of its
    /// first required set, when bounded: it is searched only around them.
    reach: Vec<Option<u32>>,
    /// For each rule pattern not searched in windows, when its matches end
    /// at most this many bytes after a literal of its tail set
    /// (`prefilter::tail_of`): its search stops there, and a text without
    /// such a literal is not searched.
    tail: Vec<Option<u32>>,
    /// The number readers whose patterns have no required literal set
    /// (bits as in `Readers::read`); the others' sets are in the automaton
    /// as gates numbered from `regexes.len()`.
    readers_always: u32,
    cue_specs: Vec<CueSpec>,
    /// The largest `max_words` of any cue (how far to look for cues).
    cue_reach: u32,
    readers: Readers,
    /// Each rule's groups, as ids shared by every rule with the same group
    /// name (combinations compare ids, not strings).
    group_ids: Vec<Vec<u32>>,
    /// The combination rules, in rule order: the rule's index and, for each
    /// entry of `combo_all`, the ids of its alternatives (a name no rule
    /// carries has no id: it can never be met).
    combos: Vec<(u32, Vec<Vec<u32>>)>,
    /// For group id `g`, the combination entries it meets:
    /// `combo_entries[combo_slots[g]..combo_slots[g + 1]]`, as (index in
    /// `combos`, entry number counted over all combinations).
    combo_slots: Vec<u32>,
    combo_entries: Vec<(u32, u32)>,
    /// How many entries all combinations have together.
    combo_entry_count: u32,
    max_message_bytes: usize,
}

/// The triage engine: a compiled rule set.
///
/// Built once, immutable, `Send + Sync`, and cheap to clone (an `Arc`
/// inside): share one value across all threads.
///
/// ```
/// use portal_triage::{Route, Triage};
/// let triage = Triage::default();
/// let d = triage.classify("my husband has crushing chest pain and is sweating");
/// assert_eq!(d.route, Route::Call911);
/// let d = triage.classify("No chest pain. Just need my metoprolol refilled.");
/// assert_eq!(d.route, Route::NonUrgent);
/// assert_eq!(d.suppressed[0].concept, "chest pain or pressure");
/// ```
#[derive(Debug, Clone)]
pub struct Triage {
    inner: Arc<Compiled>,
}

impl Default for Triage {
    /// The engine on the built-in rules, built once per process and shared.
    ///
    /// The built-in rules are validated by the crate's own tests, so this
    /// cannot fail in a released build; use [`Triage::builtin`] to handle
    /// the error anyway.
    fn default() -> Triage {
        static BUILTIN: OnceLock<Triage> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Triage::builtin().unwrap_or_else(|e| {
                    panic!("the built-in rule set is invalid (a bug in this crate): {e}")
                })
            })
            .clone()
    }
}

impl Triage {
    /// Build an engine on the built-in rules.
    pub fn builtin() -> Result<Triage, Error> {
        Triage::new(RuleSet::builtin()?)
    }

    /// Build an engine from a rule set.
    ///
    /// ```
    /// use portal_triage::{RuleSet, Triage};
    /// let rules = RuleSet::builtin()?;
    /// let triage = Triage::new(rules)?;
    /// # Ok::<(), portal_triage::Error>(())
    /// ```
    pub fn new(rules: RuleSet) -> Result<Triage, Error> {
        Triage::with_max_message_bytes(rules, DEFAULT_MAX_MESSAGE_BYTES)
    }

    /// Build an engine and run every inline test of the rule set; fail with
    /// [`ErrorKind::RuleTests`] (one diagnostic per failing test, code
    /// `E0010`) if any fails. Use it when loading a site's rules in
    /// production: a rule set that contradicts its own tests never goes live.
    ///
    /// ```
    /// use portal_triage::{ErrorKind, RuleSet, Triage};
    /// let wrong = RuleSet::from_sources([("site.toml", r#"
    /// [[rule]]
    /// id = "site.cough"
    /// concept = "cough"
    /// route = "needs-call"
    /// phrases = ["cough"]
    /// [[rule.tests]]
    /// text = "a mild cough"
    /// route = "non-urgent"
    /// "#)])?;
    /// let err = Triage::new_strict(wrong).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::RuleTests);
    /// assert!(err.to_string().contains("site.toml:2:1: error[E0010]"));
    /// # Ok::<(), portal_triage::Error>(())
    /// ```
    pub fn new_strict(rules: RuleSet) -> Result<Triage, Error> {
        let triage = Triage::new(rules)?;
        let failures = triage.run_rule_tests();
        if failures.is_empty() {
            return Ok(triage);
        }
        let diagnostics = failures
            .into_iter()
            .map(|f| Diagnostic {
                severity: Severity::Error,
                message: format!(
                    "test {} of `{}` fails: {} (fired: {})",
                    f.test,
                    f.rule,
                    f.problem,
                    f.fired()
                ),
                path: f.path,
                line: f.line,
                column: 1,
                code: "E0010",
                source_line: String::new(),
            })
            .collect();
        Err(Error::with_diagnostics(ErrorKind::RuleTests, diagnostics))
    }

    /// Build an engine that reads a message in one piece up to `max` bytes,
    /// and a longer one in overlapping chunks of `max` bytes (the decision is
    /// flagged [`Flag::Chunked`]). Memory per message is bounded by the chunk
    /// size; time stays linear. Findings are not lost at chunk boundaries
    /// when `max` is at least 64 KiB (chunks overlap by 16 KiB).
    pub fn with_max_message_bytes(rules: RuleSet, max: usize) -> Result<Triage, Error> {
        // Automaton patterns: (bytes, owners, gated patterns), one per
        // distinct string.
        type Slot = (Vec<u8>, Vec<Owner>, Vec<(u32, u8)>);
        let mut patterns: Vec<Slot> = Vec::new();
        let mut index: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        fn slot(
            index: &mut std::collections::HashMap<Vec<u8>, usize>,
            patterns: &mut Vec<Slot>,
            p: &[u8],
        ) -> usize {
            *index.entry(p.to_vec()).or_insert_with(|| {
                patterns.push((p.to_vec(), Vec::new(), Vec::new()));
                patterns.len() - 1
            })
        }
        // Every phrase and pattern, with the rule, cue, pseudo or terminator
        // it belongs to.
        let sources = (rules.rules.iter().enumerate())
            .map(|(i, r)| (Owner::Rule(i as u32), &r.phrases, &r.compiled))
            .chain(
                rules
                    .cues
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (Owner::Cue(i as u32), &c.phrases, &c.compiled)),
            )
            .chain(
                rules
                    .pseudos
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (Owner::Pseudo(i as u32), &c.phrases, &c.compiled)),
            )
            .chain(
                rules
                    .terminators
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (Owner::Terminator(i as u32), &c.phrases, &c.compiled)),
            );
        let mut regexes: Vec<(Regex, Owner)> = Vec::new();
        let mut gated: Vec<(usize, Vec<crate::prefilter::LiteralSet>)> = Vec::new();
        let mut ungated: Vec<u32> = Vec::new();
        let mut gate_full: Vec<u8> = Vec::new();
        let mut reach: Vec<Option<u32>> = Vec::new();
        let mut tail: Vec<Option<u32>> = Vec::new();
        let mut tails: Vec<(usize, crate::prefilter::LiteralSet)> = Vec::new();
        let mut gate_literals = 0usize;
        for (o, ps, res) in sources {
            for p in ps {
                let i = slot(&mut index, &mut patterns, p.as_bytes());
                patterns[i].1.push(o);
            }
            for re in res {
                let r = regexes.len();
                let crate::prefilter::PatternGate {
                    mut sets,
                    reach: windowed,
                    tail: mut tail_set,
                } = crate::prefilter::gate(re.as_str());
                // Past the budget, a pattern is not gated (it runs on every
                // text: slower, never wrong).
                gate_literals += sets.iter().map(Vec::len).sum::<usize>();
                gate_literals += tail_set.as_ref().map_or(0, |(t, _)| t.len());
                if gate_literals > MAX_GATE_LITERALS {
                    sets.clear();
                }
                if sets.is_empty() {
                    tail_set = None;
                }
                tail.push(tail_set.as_ref().map(|&(_, after)| after as u32));
                if let Some((set, _)) = tail_set {
                    tails.push((r, set));
                }
                gate_full.push(((1u16 << sets.len()) - 1) as u8);
                reach.push(
                    (!sets.is_empty())
                        .then_some(windowed)
                        .flatten()
                        .map(|n| n as u32),
                );
                if sets.is_empty() {
                    ungated.push(r as u32);
                } else {
                    gated.push((r, sets));
                }
                regexes.push((re.clone(), o));
            }
        }
        // The number readers' patterns are gated the same way, numbered
        // after the rule patterns.
        let readers = Readers::new();
        let mut readers_always = 0u32;
        let mut reader_sets: Vec<(u32, &[crate::prefilter::LiteralSet])> =
            readers.gate_sets().collect();
        reader_sets.sort_by_key(|&(i, _)| i);
        for (i, sets) in reader_sets {
            debug_assert_eq!(gate_full.len(), regexes.len() + i as usize);
            gate_full.push(((1u16 << sets.len()) - 1) as u8);
            if sets.is_empty() {
                readers_always |= 1 << i;
            } else {
                gated.push((regexes.len() + i as usize, sets.to_vec()));
            }
        }
        for (r, sets) in gated {
            for (bit, set) in sets.iter().enumerate() {
                for l in set {
                    let i = slot(&mut index, &mut patterns, l);
                    patterns[i].2.push((r as u32, 1 << bit));
                }
            }
        }
        // Tail literals: bit 0, which gates nothing (see `Gate::bit`).
        for (r, set) in tails {
            for l in &set {
                let i = slot(&mut index, &mut patterns, l);
                patterns[i].2.push((r as u32, 0));
            }
        }
        let mut phrases = Vec::with_capacity(patterns.len());
        let mut slots = Vec::with_capacity(patterns.len() + 1);
        let (mut owner_list, mut gate_list) = (Vec::new(), Vec::new());
        for (p, o, g) in patterns {
            phrases.push(p);
            slots.push((owner_list.len() as u32, gate_list.len() as u32));
            owner_list.extend(o);
            gate_list.extend(g.into_iter().map(|(r, bit)| Gate {
                pattern: r,
                bit,
                anchor: bit == 1 && reach.get(r as usize).is_some_and(Option::is_some),
            }));
        }
        slots.push((owner_list.len() as u32, gate_list.len() as u32));
        drop(index);
        let automaton = if phrases.is_empty() {
            None
        } else {
            Some(Automaton(
                daachorse::DoubleArrayAhoCorasickBuilder::new()
                    .build(&phrases)
                    .map_err(|e| Error::new(ErrorKind::Limit, format!("phrase automaton: {e}")))?,
            ))
        };
        let cue_specs: Vec<CueSpec> = rules
            .cues
            .iter()
            .map(|c| CueSpec {
                category: c.category,
                direction: c.direction,
                scope: c.scope,
                max_words: c.max_words,
                terminated_by: context::category_bits(&c.terminated_by),
                requires: context::category_bits(&c.requires),
                unless: context::category_bits(&c.unless),
            })
            .collect();
        let mut group_index: std::collections::HashMap<&str, u32> = Default::default();
        let group_ids: Vec<Vec<u32>> = (rules.rules.iter())
            .map(|r| {
                (r.groups.iter())
                    .map(|g| {
                        let next = group_index.len() as u32;
                        *group_index.entry(g.as_str()).or_insert(next)
                    })
                    .collect()
            })
            .collect();
        let combos: Vec<(u32, Vec<Vec<u32>>)> = (rules.rules.iter().enumerate())
            .filter(|(_, r)| r.kind == RuleKind::Combo)
            .map(|(i, r)| {
                let alts = (r.combo_all.iter())
                    .map(|alts| {
                        (alts.iter())
                            .filter_map(|a| group_index.get(a.as_str()).copied())
                            .collect()
                    })
                    .collect();
                (i as u32, alts)
            })
            .collect();
        let mut by_group: Vec<Vec<(u32, u32)>> = vec![Vec::new(); group_index.len()];
        let mut combo_entry_count = 0u32;
        for (k, (_, all)) in combos.iter().enumerate() {
            for alts in all {
                for &g in alts {
                    let e = (k as u32, combo_entry_count);
                    if !by_group[g as usize].contains(&e) {
                        by_group[g as usize].push(e);
                    }
                }
                combo_entry_count += 1;
            }
        }
        let mut combo_slots = Vec::with_capacity(by_group.len() + 1);
        let mut combo_entries = Vec::new();
        for list in by_group {
            combo_slots.push(combo_entries.len() as u32);
            combo_entries.extend(list);
        }
        combo_slots.push(combo_entries.len() as u32);
        drop(group_index);
        Ok(Triage {
            inner: Arc::new(Compiled {
                rules,
                group_ids,
                combos,
                combo_slots,
                combo_entries,
                combo_entry_count,
                automaton,
                slots,
                owner_list,
                gate_list,
                regexes,
                gate_full,
                ungated,
                reach,
                tail,
                cue_reach: cue_specs
                    .iter()
                    .map(|c: &CueSpec| c.max_words)
                    .max()
                    .unwrap_or(0),
                cue_specs,
                readers,
                readers_always,
                max_message_bytes: max.max(1),
            }),
        })
    }

    /// The rule set this engine was built from.
    pub fn rules(&self) -> &RuleSet {
        &self.inner.rules
    }

    /// Classify one message.
    ///
    /// Never panics, whatever the text; the time taken is linear in the
    /// length of the text. A text longer than the engine's maximum message
    /// length ([`DEFAULT_MAX_MESSAGE_BYTES`] unless set with
    /// [`Triage::with_max_message_bytes`]) is read in full, in overlapping
    /// chunks of at most that length, and flagged [`Flag::Chunked`].
    pub fn classify(&self, text: &str) -> Decision {
        if text.len() > self.inner.max_message_bytes {
            return self.classify_chunked(text);
        }
        self.classify_one(text)
    }

    fn classify_one(&self, text: &str) -> Decision {
        let mut flags = Vec::new();
        if text.contains('\u{FFFD}') {
            flags.push(Flag::ReplacementCharacters);
        }
        if text.trim().is_empty() {
            flags.insert(0, Flag::Empty);
            return Decision {
                route: Route::NonUrgent,
                score: 0.0,
                findings: Vec::new(),
                suppressed: Vec::new(),
                readings: Vec::new(),
                flags,
                advice: ADVICE_ROUTINE.to_string(),
                summary: "non-urgent: empty message".to_string(),
            };
        }
        if !text.chars().any(char::is_alphanumeric) {
            flags.push(Flag::NoWords);
        }
        with_work(|w| {
            self.analyze_into(text, &[], &mut w.an, &mut w.scan);
            self.decide(text, &mut w.an, flags, &mut w.decide)
        })
    }

    /// A long text, read in chunks of at most `max_message_bytes` that
    /// overlap by `overlap` bytes. Each chunk owns the part of the text from
    /// the middle of its leading overlap to the middle of its trailing one;
    /// a finding counts in the chunk that owns its first byte. So a finding
    /// no longer than `overlap / 2` bytes, with the context up to `overlap /
    /// 2` bytes either side of it, is seen whole by its chunk: nothing is
    /// lost at a boundary. (Combinations need their parts in one chunk.)
    fn classify_chunked(&self, text: &str) -> Decision {
        let max = self.inner.max_message_bytes;
        let overlap = (max / 4).min(CHUNK_OVERLAP);
        let floor = |p: usize| floor_boundary(text, p);
        let mut parts: Vec<Decision> = Vec::new();
        let (mut own_start, mut chunk_start) = (0usize, 0usize);
        while own_start < text.len() {
            let chunk_end = floor(chunk_start + max);
            let own_end = if chunk_end >= text.len() {
                text.len()
            } else {
                floor(chunk_end - overlap / 2)
            };
            // Always move forward, even past a character wider than the
            // chunk.
            let own_end = if own_end > own_start {
                own_end
            } else {
                text[own_start..]
                    .chars()
                    .next()
                    .map_or(text.len(), |c| own_start + c.len_utf8())
            };
            let chunk_end = chunk_end.max(own_end);
            let mut d = self.classify_one(&text[chunk_start..chunk_end]);
            let owns = |s: usize| (own_start..own_end).contains(&(s + chunk_start));
            d.findings.retain(|f| owns(f.start));
            d.suppressed.retain(|f| owns(f.start));
            d.readings.retain(|r| owns(r.start));
            for f in &mut d.findings {
                f.start += chunk_start;
                f.end += chunk_start;
                for u in &mut f.context.cues {
                    u.start += chunk_start;
                    u.end += chunk_start;
                }
            }
            for x in &mut d.suppressed {
                x.start += chunk_start;
                x.end += chunk_start;
                x.cause.start += chunk_start;
                x.cause.end += chunk_start;
            }
            for r in &mut d.readings {
                r.start += chunk_start;
                r.end += chunk_start;
            }
            parts.push(d);
            own_start = own_end;
            chunk_start = floor(own_end.saturating_sub(overlap / 2));
        }
        // The most urgent part decides the route, score and advice.
        let lead = parts
            .iter()
            .enumerate()
            .max_by(|(i, a), (j, b)| {
                (a.route, a.score)
                    .partial_cmp(&(b.route, b.score))
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(j.cmp(i)) // the earliest on a tie
            })
            .map_or(0, |(i, _)| i);
        let (route, score, advice) = parts
            .get(lead)
            .map(|d| (d.route, d.score, d.advice.clone()))
            .unwrap_or((Route::NonUrgent, 0.0, ADVICE_ROUTINE.to_string()));
        let mut findings: Vec<Finding> = Vec::new();
        let mut suppressed = Vec::new();
        let mut readings = Vec::new();
        let mut flags = vec![Flag::Chunked];
        for d in parts {
            findings.extend(d.findings);
            suppressed.extend(d.suppressed);
            readings.extend(d.readings);
            for f in d.flags {
                if f != Flag::Empty && !flags.contains(&f) {
                    flags.push(f);
                }
            }
        }
        if flags.contains(&Flag::NoWords) && text.chars().any(char::is_alphanumeric) {
            flags.retain(|f| *f != Flag::NoWords);
        }
        findings.sort_by(|a, b| (b.route, a.start).cmp(&(a.route, b.start)));
        suppressed.sort_by_key(|x| x.start);
        let summary = summary(
            route,
            &findings,
            &suppressed,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut String::new(),
        );
        Decision {
            route,
            score,
            findings,
            suppressed,
            readings,
            flags,
            advice,
            summary,
        }
    }

    /// One pass of the automaton over normalized text: the phrase matches
    /// (whole words) into `cands`, and which patterns and number readers can
    /// match (their required literals all occur).
    fn literal_pass(&self, t: &str, cands: &mut Vec<Candidate>, pass: &mut LiteralPass) {
        let c = &*self.inner;
        let LiteralPass {
            run,
            seen,
            hits,
            tail_end,
            reader_gates,
        } = pass;
        // The patterns to run on this text: the ungated ones, and those
        // whose required literal sets all occur.
        run.clear();
        run.extend_from_slice(&c.ungated);
        seen.clear();
        seen.resize(c.gate_full.len(), 0);
        // Where the first required set of each windowed pattern occurs, and
        // where the last tail literal of each other pattern ends.
        hits.clear();
        tail_end.clear();
        tail_end.resize(c.tail.len(), 0);
        if let Some(ac) = &c.automaton {
            for m in ac.0.find_overlapping_iter(t) {
                let (s, e) = (m.start(), m.end());
                let p = m.value() as usize;
                let ((o0, g0), (o1, g1)) = (c.slots[p], c.slots[p + 1]);
                for g in &c.gate_list[g0 as usize..g1 as usize] {
                    let r = g.pattern;
                    if g.bit == 0 {
                        tail_end[r as usize] = tail_end[r as usize].max(e as u32);
                        continue;
                    }
                    if g.anchor {
                        hits.push((r, s as u32, e as u32));
                    }
                    let got = &mut seen[r as usize];
                    if *got & g.bit == 0 {
                        *got |= g.bit;
                        if *got == c.gate_full[r as usize] {
                            run.push(r);
                        }
                    }
                }
                let owners = &c.owner_list[o0 as usize..o1 as usize];
                if owners.is_empty() || !whole_words(t, s, e) {
                    continue;
                }
                for &owner in owners {
                    cands.push(Candidate {
                        start: s as u32,
                        end: e as u32,
                        owner,
                    });
                }
            }
        }
        // Gates numbered past the rule patterns are the number readers'.
        *reader_gates = c.readers_always;
        run.retain(|&r| match (r as usize).checked_sub(c.regexes.len()) {
            Some(i) => {
                *reader_gates |= 1 << i;
                false
            }
            None => true,
        });
        run.sort_unstable();
        run.dedup();
        hits.sort_unstable();
    }

    /// The whole-word matches of rule pattern `r` in normalized text `t`.
    /// Each pattern runs on its own: its literal prefilter and lazy DFA are
    /// fast, while one RegexSet over hundreds of patterns outgrows its DFA
    /// cache and falls back to the PikeVM (measured 30x slower on the
    /// throughput corpus).
    fn pattern_matches_into(
        &self,
        t: &str,
        r: u32,
        pass: &LiteralPass,
        mut f: impl FnMut(usize, usize),
    ) {
        let c = &*self.inner;
        let hits = &pass.hits;
        let re = &c.regexes[r as usize].0;
        let mut push = |s: usize, e: usize| {
            if s < e && whole_words(t, s, e) {
                f(s, e);
            }
        };
        match c.reach[r as usize] {
            // A bounded pattern: only around its literals.
            Some(reach) => {
                let lo = hits.partition_point(|h| h.0 < r);
                let hi = hits.partition_point(|h| h.0 <= r);
                crate::prefilter::find_in_windows(
                    re,
                    t,
                    hits[lo..hi].iter().map(|h| (h.1 as usize, h.2 as usize)),
                    reach as usize,
                    &mut push,
                );
            }
            None => {
                // Matches end by the last tail literal plus the tail's
                // length: the search stops at the end of that word.
                let end = match c.tail[r as usize] {
                    Some(after) => match pass.tail_end[r as usize] {
                        0 => return,
                        last => crate::prefilter::word_end(t, last as usize + after as usize),
                    },
                    None => t.len(),
                };
                re.find_iter(&t[..end])
                    .for_each(|m| push(m.start(), m.end()))
            }
        }
    }

    /// Which number readers the automaton pass lets run on normalized text
    /// `t` (for tests).
    #[cfg(test)]
    pub(crate) fn reader_gates(&self, t: &str) -> u32 {
        let mut pass = LiteralPass::default();
        self.literal_pass(t, &mut Vec::new(), &mut pass);
        pass.reader_gates
    }

    /// The engine's matches of rule pattern `r` in normalized text `t`,
    /// gates and windows included, sorted (for tests).
    #[cfg(test)]
    fn pattern_matches(&self, t: &str, r: usize) -> Vec<(u32, u32)> {
        let mut pass = LiteralPass::default();
        self.literal_pass(t, &mut Vec::new(), &mut pass);
        let mut out = Vec::new();
        if pass.run.contains(&(r as u32)) {
            self.pattern_matches_into(t, r as u32, &pass, |s, e| out.push((s as u32, e as u32)));
        }
        out.sort_unstable();
        out
    }

    /// Find phrases and patterns, resolve overlaps, read numbers.
    /// `targets` are mentions assessed from outside (normalized spans);
    /// like findings, they keep a pseudo phrase from hiding a cue when they
    /// begin inside it ("no change" + "change in vision").
    fn scan(&self, t: &str, targets: &[(u32, u32)], out: &mut Scan, b: &mut ScanWork) {
        let c = &*self.inner;
        let ScanWork {
            cands,
            pass,
            pseudo,
            pseudo_for_cues,
            trigger_reach,
            open,
        } = b;
        cands.clear();
        self.literal_pass(t, cands, pass);
        for &r in &pass.run {
            let owner = c.regexes[r as usize].1;
            self.pattern_matches_into(t, r, pass, |start, end| {
                cands.push(Candidate {
                    start: start as u32,
                    end: end as u32,
                    owner,
                })
            });
        }
        let reader_gates = pass.reader_gates;
        // Resolve overlaps, class by class: pseudo phrases, then findings,
        // then cues and terminators. A phrase and a pattern of one rule on
        // the same words are one match.
        cands.sort_by_key(|k| (k.owner.class(), k.start, std::cmp::Reverse(k.end)));
        cands.dedup_by(|a, b| a.start == b.start && a.end == b.end && a.owner == b.owner);
        let split_at = |class: u8| cands.partition_point(|k| k.owner.class() < class);
        let (p_end, f_end) = (split_at(1), split_at(2));

        // Pseudo phrases: leftmost-longest, not overlapping.
        pseudo.clear();
        for &k in &cands[..p_end] {
            if pseudo.last().is_none_or(|p| k.start >= p.end) {
                pseudo.push(k);
            }
        }
        // The pseudo match that contains `k`, if any.
        let container = |k: &Candidate| -> Option<Candidate> {
            let i = pseudo.partition_point(|p| p.start <= k.start);
            let p = *pseudo.get(i.checked_sub(1)?)?;
            (p.end >= k.end).then_some(p)
        };

        // Findings: a pseudo phrase hides a finding it strictly contains
        // ("dying to know" hides "dying"); on the same words the finding wins
        // ("not responding" as a symptom). Between findings, leftmost-longest:
        // the longer phrase is the more specific reading ("fainting spells"
        // over "fainting", "almost out of" over "out of insulin"); on the
        // very same words every rule's finding stands ("chest pain" is
        // cardiac and a target-organ sign).
        let Scan {
            triggers,
            cues,
            shadowed,
            readings,
        } = out;
        shadowed.clear();
        triggers.clear();
        // Running maximum of finding ends, for "is this cue inside a finding".
        trigger_reach.clear();
        for &k in &cands[p_end..f_end] {
            if let Some(p) = container(&k) {
                if p.end - p.start > k.end - k.start {
                    if !shadowed.iter().any(|(s, _)| s.owner == k.owner) {
                        shadowed.push((k, p));
                    }
                    continue;
                }
            }
            if let (Some(last), Some(&reach)) = (triggers.last(), trigger_reach.last()) {
                let same = last.start == k.start && last.end == k.end;
                if k.start < reach && !same {
                    continue;
                }
            }
            let reach = trigger_reach.last().map_or(k.end, |&r| r.max(k.end));
            triggers.push(k);
            trigger_reach.push(reach);
        }

        // An assessed target is the reading of its words: a finding that
        // overlaps it does not swallow the cue words around the target
        // ("status post" in the finding "status post liver transplant" is
        // the target "liver transplant"'s cue).
        if !targets.is_empty() {
            triggers.retain(|t| !targets.iter().any(|&(s, e)| t.start < e && s < t.end));
            trigger_reach.clear();
            let mut reach = 0;
            for t in triggers.iter() {
                reach = t.end.max(reach);
                trigger_reach.push(reach);
            }
        }

        // Cues and terminators. A cue inside a longer cue of another kind is
        // part of it ("now" in "fine now", "no" in "no longer"); nested cues
        // of one kind agree and both stand ("fine now" in "she's fine now"),
        // and so do cues that merely overlap ("totally fine", "fine since").
        // A cue word inside a pseudo phrase or a finding is part of it: "no
        // doubt", "can't breathe".
        //
        // A pseudo phrase that a finding (or an assessed target) begins
        // inside and runs past is not a pseudo phrase there: its words are
        // the cue before the finding ("no change" + "change in vision" is a
        // negated change in vision), so it does not hide the cue.
        let runs_past = |p: &Candidate, s: u32, e: u32| p.start < s && s < p.end && e > p.end;
        pseudo_for_cues.clear();
        pseudo_for_cues.extend(pseudo.iter().filter(|p| {
            let lo = triggers.partition_point(|t| t.start <= p.start);
            let hi = triggers.partition_point(|t| t.start < p.end);
            !triggers[lo..hi.max(lo)]
                .iter()
                .any(|t| runs_past(p, t.start, t.end))
                && !targets.iter().any(|&(s, e)| runs_past(p, s, e))
        }));
        let inside_pseudo = |k: &Candidate| {
            let i = pseudo_for_cues.partition_point(|p| p.start <= k.start);
            i.checked_sub(1)
                .and_then(|i| pseudo_for_cues.get(i))
                .is_some_and(|p| p.end >= k.end)
        };
        let kind = |o: Owner| match o {
            Owner::Cue(i) => Some(c.rules.cues[i as usize].category),
            _ => None,
        };
        cues.clear();
        for &k in &cands[f_end..] {
            if inside_pseudo(&k) {
                continue;
            }
            // Who is spoken of stays known when the finding names them ("my
            // grandma" is also an older-adult qualifier).
            let person = matches!(
                kind(k.owner),
                Some(CueCategory::ThirdPerson | CueCategory::Other)
            );
            let i = triggers.partition_point(|t| t.start <= k.start);
            if i > 0 && trigger_reach[i - 1] >= k.end && !person {
                continue;
            }
            // Earlier cues that could contain this one start at most one
            // phrase length before it.
            let window = k.start.saturating_sub(crate::rules::MAX_PHRASE_LEN as u32);
            let inside_other = cues
                .iter()
                .rev()
                .take_while(|p| p.start >= window)
                .any(|p| {
                    p.start <= k.start
                        && k.end <= p.end
                        && (p.start, p.end) != (k.start, k.end)
                        && kind(p.owner) != kind(k.owner)
                });
            if !inside_other {
                cues.push(k);
            }
        }
        c.readers.read_with(t, reader_gates, readings, open);
    }

    /// Normalize, scan, and lay out words, sentences and cue hits: all a
    /// decision or a context assessment needs.
    fn analyze_into(
        &self,
        text: &str,
        targets: &[std::ops::Range<usize>],
        an: &mut Analysis,
        work: &mut ScanWork,
    ) {
        let Analysis {
            norm,
            scan,
            layout,
            hits,
        } = an;
        norm.refill(text);
        let targets: Vec<(u32, u32)> = targets
            .iter()
            .map(|r| {
                let s = norm.normalized_offset(r.start) as u32;
                (s, (norm.normalized_offset(r.end) as u32).max(s))
            })
            .collect();
        self.scan(&norm.text, &targets, scan, work);
        layout.build(&norm.text);
        layout.set_terminators(scan.cues.iter().filter_map(|k| match k.owner {
            Owner::Terminator(_) => Some(k.start),
            _ => None,
        }));
        hits.clear();
        hits.extend(scan.cues.iter().filter_map(|k| match k.owner {
            Owner::Cue(i) => Some(CueHit {
                cue: i,
                start: k.start,
                end: k.end,
                first_word: layout.first_word(k.start),
                last_word: layout.last_word(k.start, k.end),
            }),
            _ => None,
        }));
    }

    /// A cue hit as the public `CueUse`, located in the original text.
    fn cue_use(&self, an: &Analysis, original: &str, h: u32) -> CueUse {
        let hit = &an.hits[h as usize];
        let def = &self.inner.rules.cues[hit.cue as usize];
        let (s, e) = an.norm.original_span(hit.start as usize, hit.end as usize);
        CueUse {
            id: def.id.clone(),
            category: def.category,
            text: original.get(s..e).unwrap_or("").to_string(),
            start: s,
            end: e,
            decides: Vec::new(),
        }
    }

    /// The public context of an assessment: its flags and deciding cues.
    fn build_context(
        &self,
        an: &Analysis,
        original: &str,
        a: &Assessment,
        past_resolves: bool,
        from: &mut Vec<u32>,
    ) -> crate::context::Context {
        let experiencer = if a.other.is_some() {
            Experiencer::Other
        } else {
            Experiencer::Patient
        };
        let third_person = a.third.is_some();
        // A past time alone ("passed out yesterday") resolves an event only
        // when the writer had it: they are writing, so it is over. Someone
        // else's ("found him unresponsive this morning") needs a resolution
        // cue.
        let resolved = match a.status {
            Some((CueCategory::Resolved, _)) => true,
            Some((CueCategory::Past, _)) => {
                past_resolves && experiencer == Experiencer::Patient && !third_person
            }
            _ => false,
        };
        let mut cues: Vec<CueUse> = Vec::new();
        from.clear(); // the hit behind each of `cues`
        for (h, aspect) in a.deciding() {
            match from.iter().position(|&x| x == h) {
                Some(i) => cues[i].decides.push(aspect),
                None => {
                    let mut u = self.cue_use(an, original, h);
                    u.decides.push(aspect);
                    cues.push(u);
                    from.push(h);
                }
            }
        }
        crate::context::Context {
            negated: a.negated.is_some(),
            temporality: a.temporality.map_or(Temporality::Recent, |(t, _)| t),
            experiencer,
            resolved,
            uncertain: a.uncertain.is_some(),
            third_person,
            cues,
        }
    }

    fn decide(
        &self,
        original: &str,
        an: &mut Analysis,
        flags: Vec<Flag>,
        w: &mut DecideWork,
    ) -> Decision {
        let c = &*self.inner;
        // The readings go out with the decision as they are (offsets mapped
        // back to the original text below).
        let mut readings = std::mem::take(&mut an.scan.readings);
        let an = &*an;
        let (norm, layout, hits) = (&an.norm, &an.layout, &an.hits);
        let orig = |s: u32, e: u32| norm.original_span(s as usize, e as usize);
        let slice = |s: usize, e: usize| original.get(s..e).unwrap_or("").to_string();
        let cue_use = |h: u32| self.cue_use(an, original, h);
        let DecideWork {
            targets,
            groups,
            rule_of,
            parts,
            entry_met,
            entries_met,
            ready,
            order,
            rules_sorted,
            reach,
            from,
            seen,
            seen2,
            text,
        } = w;

        let mut findings: Vec<Finding> = Vec::new();
        // The rule behind each finding (index into the rule set).
        rule_of.clear();
        let mut suppressed: Vec<Suppressed> = Vec::new();
        // Groups earned by the counted findings (for combinations).
        groups.clear();

        for (k, pseudo) in &an.scan.shadowed {
            let Owner::Rule(r) = k.owner else { continue };
            let rule = &c.rules.rules[r as usize];
            let (s, e) = orig(k.start, k.end);
            let (ps, pe) = orig(pseudo.start, pseudo.end);
            let id = match pseudo.owner {
                Owner::Pseudo(p) => c.rules.pseudos[p as usize].id.clone(),
                _ => String::new(),
            };
            suppressed.push(Suppressed {
                rule: rule.id.clone(),
                concept: rule.concept.clone(),
                would_route: rule.route,
                start: s,
                end: e,
                text: slice(s, e),
                by: SuppressedBy::Idiom,
                cause: Cause {
                    id,
                    text: slice(ps, pe),
                    start: ps,
                    end: pe,
                },
            });
        }

        // Phrase and pattern findings, then vital readings.
        targets.clear();
        targets.extend(an.scan.triggers.iter().filter_map(|k| match k.owner {
            Owner::Rule(r) => Some((k.start, k.end, r)),
            _ => None,
        }));
        for reading in &readings {
            for (r, rule) in c.rules.rules.iter().enumerate() {
                if rule.kind != RuleKind::Vital || rule.measure != Some(reading.measure) {
                    continue;
                }
                let any = rule.any.is_empty() || rule.any.iter().any(|x| x.holds(reading));
                let all = rule.all_conditions.iter().all(|x| x.holds(reading));
                if any && all {
                    targets.push((reading.start as u32, reading.end as u32, r as u32));
                }
            }
        }

        for &(s, e, r) in targets.iter() {
            let rule = &c.rules.rules[r as usize];
            let a = context::assess(layout, &c.cue_specs, hits, c.cue_reach, s, e, reach);
            let (os, oe) = orig(s, e);
            let ctx = self.build_context(an, original, &a, rule.past_resolves, from);
            let (negated, resolved) = (ctx.negated, ctx.resolved);
            let suppress = if negated {
                Some((SuppressedBy::Negated, a.negated))
            } else {
                match a.temporality {
                    Some((Temporality::Hypothetical, h)) => {
                        Some((SuppressedBy::Hypothetical, Some(h)))
                    }
                    Some((Temporality::Historical, h)) => {
                        let by = if c.rules.cues[hits[h as usize].cue as usize].category
                            == CueCategory::Family
                        {
                            SuppressedBy::Family
                        } else {
                            SuppressedBy::Historical
                        };
                        Some((by, Some(h)))
                    }
                    _ => a.uncertain.map(|h| (SuppressedBy::Uncertain, Some(h))),
                }
            };
            if let Some((by, Some(h))) = suppress {
                suppressed.push(Suppressed {
                    rule: rule.id.clone(),
                    concept: rule.concept.clone(),
                    would_route: rule.route,
                    start: os,
                    end: oe,
                    text: slice(os, oe),
                    by,
                    cause: cue_use(h).into(),
                });
                continue;
            }
            let route = if resolved {
                rule.resolved_route.unwrap_or_else(|| rule.route.resolved())
            } else {
                rule.route
            };
            for &g in &c.group_ids[r as usize] {
                groups.push((g, findings.len()));
            }
            rule_of.push(r as usize);
            findings.push(Finding {
                rule: rule.id.clone(),
                concept: rule.concept.clone(),
                route,
                start: os,
                end: oe,
                text: slice(os, oe),
                context: ctx,
                because: Vec::new(),
            });
        }

        // Combinations of groups earned by asserted, current findings.
        // Only a combination with every entry met by some earned group can
        // be complete: those are found from the groups, not by trying all.
        entry_met.clear();
        entry_met.resize(c.combo_entry_count as usize, false);
        entries_met.clear();
        entries_met.resize(c.combos.len(), 0);
        ready.clear();
        for &(g, _) in groups.iter() {
            let (a, b) = (c.combo_slots[g as usize], c.combo_slots[g as usize + 1]);
            for &(k, e) in &c.combo_entries[a as usize..b as usize] {
                if !std::mem::replace(&mut entry_met[e as usize], true) {
                    entries_met[k as usize] += 1;
                    if entries_met[k as usize] as usize == c.combos[k as usize].1.len() {
                        ready.push(k);
                    }
                }
            }
        }
        ready.sort_unstable();
        for &k in ready.iter() {
            let (ri, all) = &c.combos[k as usize];
            let (ri, rule) = (*ri as usize, &c.rules.rules[*ri as usize]);
            parts.clear();
            // Each entry is met by a finding (every entry of a ready
            // combination has one), distinct ones where possible (a finding
            // with two groups of the combination does not combine with
            // itself).
            for alts in all {
                let mut fits = groups.iter().filter(|&&(g, _)| alts.contains(&g));
                let first = fits.clone().next();
                if let Some(&(_, f)) = fits.find(|(_, f)| !parts.contains(f)).or(first) {
                    parts.push(f);
                }
            }
            parts.sort_unstable();
            parts.dedup();
            if parts.len() < 2 {
                continue; // one finding cannot combine with itself
            }
            let first = &findings[parts[0]];
            let because = parts.iter().map(|&i| findings[i].rule.clone()).collect();
            let other = parts
                .iter()
                .any(|&i| findings[i].context.experiencer == Experiencer::Other);
            let third_person = parts.iter().any(|&i| findings[i].context.third_person);
            // A combination is resolved only when all of it has resolved
            // (vomited blood this morning, lightheaded now: not resolved);
            // qualifiers ("first ever", "on warfarin") have no time of their
            // own and do not keep it current.
            let resolved = parts
                .iter()
                .filter(|&&i| !c.rules.rules[rule_of[i]].qualifier)
                .all(|&i| findings[i].context.resolved);
            rule_of.push(ri);
            findings.push(Finding {
                rule: rule.id.clone(),
                concept: rule.concept.clone(),
                route: if resolved {
                    rule.route.resolved()
                } else {
                    rule.route
                },
                start: first.start,
                end: first.end,
                text: first.text.clone(),
                context: crate::context::Context {
                    negated: false,
                    temporality: Temporality::Recent,
                    experiencer: if other {
                        Experiencer::Other
                    } else {
                        Experiencer::Patient
                    },
                    resolved,
                    uncertain: false,
                    third_person,
                    cues: Vec::new(),
                },
                because,
            });
        }

        // Most severe first, then in text order (a stable sort: the same
        // order for the findings and for their rules).
        let severity = |a: &Finding, b: &Finding| (b.route, a.start).cmp(&(a.route, b.start));
        order.clear();
        order.extend(0..findings.len());
        order.sort_by(|&a, &b| severity(&findings[a], &findings[b]));
        rules_sorted.clear();
        rules_sorted.extend(order.iter().map(|&i| rule_of[i]));
        findings.sort_by(severity);
        suppressed.sort_by_key(|s| s.start);
        let route = findings.first().map_or(Route::NonUrgent, |f| f.route);
        let rule = |i: usize| &c.rules.rules[rules_sorted[i]];
        let score = score(route, &findings, |i| rule(i).weight, seen);
        let advice = advice(route, &findings, |i| rule(i).advice.as_deref(), seen, text);
        let summary = summary(route, &findings, &suppressed, seen, seen2, text);
        for r in &mut readings {
            (r.start, r.end) = orig(r.start as u32, r.end as u32);
        }
        Decision {
            route,
            score,
            findings,
            suppressed,
            readings,
            flags,
            advice,
            summary,
        }
    }

    /// Assess the context of the byte range `start..end` of `text` (a
    /// mention of a condition), with this engine's cues: negated or not,
    /// recent, historical or hypothetical, the patient or someone else,
    /// resolved or not, and the cue (with its span in `text`) that decided
    /// each ([`Context::cue_for`]). The triage decision uses the very same
    /// assessment for every finding.
    ///
    /// Offsets outside the text or off character boundaries are clamped to
    /// the nearest valid ones.
    ///
    /// ```
    /// use portal_triage::{Aspect, Temporality, Triage};
    /// let t = Triage::default();
    /// let text = "Patient denies chest pain. History of stroke in 2019.";
    /// let c = t.context(text, 15, 25);
    /// assert!(c.negated);
    /// let cue = c.cue_for(Aspect::Negation).unwrap();
    /// assert_eq!((cue.id.as_str(), &text[cue.start..cue.end]), ("negation.list", "denies"));
    /// let c = t.context(text, 38, 44);
    /// assert_eq!(c.temporality, Temporality::Historical);
    /// ```
    pub fn context(&self, text: &str, start: usize, end: usize) -> crate::context::Context {
        let c = &*self.inner;
        let clamp = |p: usize| floor_boundary(text, p);
        let (start, end) = (clamp(start), clamp(end.max(start)));
        let span = std::ops::Range { start, end };
        with_work(|w| {
            let an = &mut w.an;
            self.analyze_into(text, std::slice::from_ref(&span), an, &mut w.scan);
            // Map original offsets to normalized ones.
            let ns = an.norm.normalized_offset(start) as u32;
            let ne = (an.norm.normalized_offset(end) as u32).max(ns);
            let d = &mut w.decide;
            let a = context::assess(
                &an.layout,
                &c.cue_specs,
                &an.hits,
                c.cue_reach,
                ns,
                ne,
                &mut d.reach,
            );
            self.build_context(an, text, &a, false, &mut d.from)
        })
    }

    /// Assess several mentions of one text: one [`Context`](crate::Context)
    /// per span, in order, each exactly as [`Triage::context`] gives it (a
    /// finding that covers one mention does not change another's context).
    ///
    /// ```
    /// use portal_triage::{Experiencer, Triage};
    /// let text = "Mother had breast cancer. Patient reports chest pain.";
    /// let c = Triage::default().contexts(text, &[11..24, 42..52]);
    /// assert_eq!(c[0].experiencer, Experiencer::Other);
    /// assert!(c[1].asserted());
    /// ```
    pub fn contexts(
        &self,
        text: &str,
        spans: &[std::ops::Range<usize>],
    ) -> Vec<crate::context::Context> {
        spans
            .iter()
            .map(|s| self.context(text, s.start, s.end))
            .collect()
    }

    /// Find `phrase` in `text` (as [`find_phrase`] does: case-insensitive,
    /// flexible whitespace and punctuation folding, whole words, first
    /// occurrence) and assess its context. `None` when the phrase does not
    /// occur.
    ///
    /// ```
    /// use portal_triage::{Temporality, Triage};
    /// let t = Triage::default();
    /// let text = "Return to the ED if you develop fever or shortness of breath.";
    /// let (span, c) = t.context_of_phrase(text, "Shortness  of breath").unwrap();
    /// assert_eq!(&text[span], "shortness of breath");
    /// assert_eq!(c.temporality, Temporality::Hypothetical);
    /// assert!(t.context_of_phrase(text, "chest pain").is_none());
    /// ```
    pub fn context_of_phrase(
        &self,
        text: &str,
        phrase: &str,
    ) -> Option<(std::ops::Range<usize>, crate::context::Context)> {
        let (s, e) = find_phrase(text, phrase)?;
        Some((s..e, self.context(text, s, e)))
    }

    /// Run every inline test of the rule set (rules, vitals, combinations
    /// and cues) and return the failures.
    ///
    /// ```
    /// let t = portal_triage::Triage::default();
    /// assert!(t.run_rule_tests().is_empty());
    /// ```
    pub fn run_rule_tests(&self) -> Vec<TestFailure> {
        let c = &*self.inner;
        let mut out = Vec::new();
        for rule in &c.rules.rules {
            for (i, test) in rule.tests.iter().enumerate() {
                let d = self.classify(&test.text);
                let fired = d.findings.iter().any(|f| f.rule == rule.id);
                let mut problems = Vec::new();
                if fired != test.fires {
                    problems.push(if test.fires {
                        "the rule did not fire".to_string()
                    } else {
                        "the rule fired but must not".to_string()
                    });
                }
                if let Some(want) = test.route {
                    if d.route != want {
                        problems.push(format!("route {} (expected {want})", d.route));
                    }
                }
                if !problems.is_empty() {
                    out.push(TestFailure {
                        rule: rule.id.clone(),
                        path: rule.origin.path.clone(),
                        line: rule.origin.line,
                        test: i + 1,
                        text: test.text.clone(),
                        problem: problems.join("; "),
                        decision_rules: d.rule_ids().iter().map(|s| s.to_string()).collect(),
                    });
                }
            }
        }
        for cue in &c.rules.cues {
            for (i, test) in cue.tests.iter().enumerate() {
                let problem = match find_phrase(&test.text, &test.target) {
                    None => Some("the target does not occur in the text".to_string()),
                    Some((s, e)) => {
                        let ctx = self.context(&test.text, s, e);
                        let applied = ctx.cues.iter().any(|u| u.id == cue.id);
                        (applied != test.applies).then(|| {
                            if test.applies {
                                format!(
                                    "the cue did not apply (cues that did: {})",
                                    ctx.cues
                                        .iter()
                                        .map(|u| u.id.as_str())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            } else {
                                "the cue applied but must not".to_string()
                            }
                        })
                    }
                };
                if let Some(problem) = problem {
                    out.push(TestFailure {
                        rule: cue.id.clone(),
                        path: cue.origin.path.clone(),
                        line: cue.origin.line,
                        test: i + 1,
                        text: test.text.clone(),
                        problem,
                        decision_rules: Vec::new(),
                    });
                }
            }
        }
        out
    }
}

/// Whether `t[s..e]` starts and ends on word boundaries. A match that
/// begins (or ends) with punctuation, such as the cue `? no`, needs no
/// boundary on that side.
fn whole_words(t: &str, s: usize, e: usize) -> bool {
    s >= e || ((!alnum_at(t, s) || !alnum_before(t, s)) && (!alnum_before(t, e) || !alnum_at(t, e)))
}

/// Find `target` in `text`: case-insensitive, flexible whitespace, on the
/// normalized forms; returns original byte offsets.
pub fn find_phrase(text: &str, target: &str) -> Option<(usize, usize)> {
    let norm = Normalized::new(text);
    let want = crate::normalize::normalize_phrase(target);
    if want.is_empty() {
        return None;
    }
    let t = norm.text.as_str();
    let mut from = 0;
    while let Some(i) = t[from..].find(&want) {
        let s = from + i;
        let e = s + want.len();
        if whole_words(t, s, e) {
            return Some(norm.original_span(s, e));
        }
        from = s + want.chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// An inline rule test that failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TestFailure {
    /// The rule or cue id.
    pub rule: String,
    /// Its file.
    pub path: String,
    /// The line of its table.
    pub line: usize,
    /// Which of its tests (1-based).
    pub test: usize,
    /// The test's text.
    pub text: String,
    /// What went wrong.
    pub problem: String,
    /// The rules that did fire on the text.
    pub decision_rules: Vec<String>,
}

impl TestFailure {
    /// The rules that fired, as one phrase ("nothing" when none did).
    fn fired(&self) -> String {
        if self.decision_rules.is_empty() {
            "nothing".to_string()
        } else {
            self.decision_rules.join(", ")
        }
    }
}

impl std::fmt::Display for TestFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: test {} of `{}`: {}: {:?} (fired: {})",
            self.path,
            self.line,
            self.test,
            self.rule,
            self.problem,
            self.text,
            self.fired()
        )
    }
}

/// One message, normalized, scanned and laid out.
#[derive(Default)]
struct Analysis {
    norm: Normalized,
    scan: Scan,
    layout: Layout,
    hits: Vec<CueHit>,
}

/// What one automaton pass found besides phrases.
#[derive(Default)]
struct LiteralPass {
    /// Rule patterns that can match, ascending.
    run: Vec<u32>,
    /// For each pattern, the bits of its required sets seen so far.
    seen: Vec<u8>,
    /// (pattern, start, end) of the first required set's literals of the
    /// windowed patterns, sorted.
    hits: Vec<(u32, u32, u32)>,
    /// For each rule pattern with a tail set, where its last literal ends
    /// (0: none).
    tail_end: Vec<u32>,
    /// Number readers that can match (see `Readers::read`).
    reader_gates: u32,
}

/// The scan's own buffers.
#[derive(Default)]
struct ScanWork {
    cands: Vec<Candidate>,
    pass: LiteralPass,
    pseudo: Vec<Candidate>,
    pseudo_for_cues: Vec<Candidate>,
    trigger_reach: Vec<u32>,
    /// For the number readers.
    open: Vec<usize>,
}

/// The decision's own buffers (what it returns is allocated fresh).
#[derive(Default)]
struct DecideWork {
    /// (start, end, rule) of each mention to assess.
    targets: Vec<(u32, u32, u32)>,
    /// Groups earned by the counted findings: (group id, finding).
    groups: Vec<(u32, usize)>,
    /// The rule behind each finding.
    rule_of: Vec<usize>,
    /// The findings of a combination.
    parts: Vec<usize>,
    /// Which combination entries the earned groups meet, how many entries
    /// of each combination are met, and the combinations with all met.
    entry_met: Vec<bool>,
    entries_met: Vec<u32>,
    ready: Vec<u32>,
    /// Findings in output order, and their rules.
    order: Vec<usize>,
    rules_sorted: Vec<usize>,
    /// For `context::assess` and `build_context`.
    reach: Vec<(u32, u32)>,
    from: Vec<u32>,
    /// For `score`, `advice` and `summary`.
    seen: Vec<usize>,
    seen2: Vec<usize>,
    /// For the advice and summary text.
    text: String,
}

/// Everything one classification fills and the next one on the same thread
/// reuses: once the buffers have grown to a message's size, classifying
/// allocates only the decision it returns.
#[derive(Default)]
struct Work {
    an: Analysis,
    scan: ScanWork,
    decide: DecideWork,
}

impl Work {
    /// Bytes held by the larger buffers (those that grow with the text).
    fn capacity(&self) -> usize {
        self.an.norm.capacity()
            + self.an.layout.capacity()
            + (self.scan.cands.capacity() + self.scan.pass.hits.capacity()) * 12
    }
}

/// Work kept between messages is dropped past this size: a megabyte message
/// does not pin megabytes per thread.
const MAX_KEPT_WORK: usize = 4 << 20;

thread_local! {
    static WORK: std::cell::RefCell<Work> = std::cell::RefCell::default();
}

/// Run `f` with this thread's work buffers. They are taken out for the call
/// and put back after it, so a nested call (or one during thread exit) just
/// starts with empty buffers.
fn with_work<R>(f: impl FnOnce(&mut Work) -> R) -> R {
    let mut w = WORK
        .try_with(|cell| cell.try_borrow_mut().map(|mut w| std::mem::take(&mut *w)))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let r = f(&mut w);
    if w.capacity() <= MAX_KEPT_WORK {
        let _ = WORK.try_with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                *slot = w;
            }
        });
    }
    r
}

#[derive(Default)]
struct Scan {
    triggers: Vec<Candidate>,
    cues: Vec<Candidate>,
    shadowed: Vec<(Candidate, Candidate)>,
    readings: Vec<Reading>,
}

/// Urgency in [0, 1]: the route sets the band (non-urgent [0, 0.3],
/// needs-call [0.4, 0.69], call-911 [0.7, 1]); the heaviest finding of that
/// route and the number of distinct findings place it inside the band.
fn score(
    route: Route,
    findings: &[Finding],
    weight: impl Fn(usize) -> f64,
    at_route: &mut Vec<usize>,
) -> f64 {
    let (base, width) = match route {
        Route::NonUrgent => (0.0, 0.3),
        Route::NeedsCall => (0.4, 0.29),
        Route::Call911 => (0.7, 0.3),
    };
    at_route.clear();
    at_route.extend((0..findings.len()).filter(|&i| findings[i].route == route));
    if at_route.is_empty() {
        return base;
    }
    let max_w = at_route.iter().map(|&i| weight(i)).fold(0.0_f64, f64::max);
    // Distinct rules among them.
    at_route.sort_unstable_by(|&a, &b| findings[a].rule.cmp(&findings[b].rule));
    at_route.dedup_by(|a, b| findings[*a].rule == findings[*b].rule);
    let breadth = 1.0 - 0.5_f64.powi(at_route.len() as i32 - 1);
    let s = base + width * (0.7 * max_w + 0.3 * breadth);
    (s * 1000.0).round() / 1000.0
}

fn advice<'a>(
    route: Route,
    findings: &[Finding],
    extra: impl Fn(usize) -> Option<&'a str>,
    used: &mut Vec<usize>,
    buf: &mut String,
) -> String {
    let out = buf;
    out.clear();
    out.push_str(match route {
        Route::Call911 => ADVICE_911,
        Route::NeedsCall => ADVICE_CALL,
        Route::NonUrgent => ADVICE_ROUTINE,
    });
    // The findings whose advice was added (a handful: a linear scan).
    used.clear();
    for i in 0..findings.len() {
        if let Some(a) = extra(i) {
            if !used.iter().any(|&j| extra(j) == Some(a)) {
                used.push(i);
                out.push(' ');
                out.push_str(a);
            }
        }
    }
    out.as_str().to_owned()
}

fn summary(
    route: Route,
    findings: &[Finding],
    suppressed: &[Suppressed],
    concepts: &mut Vec<usize>,
    items: &mut Vec<usize>,
    buf: &mut String,
) -> String {
    // Written into a reused buffer, then copied out at its final size: one
    // allocation instead of one per growth step.
    let out = buf;
    out.clear();
    out.push_str(route.as_str());
    // A handful of items each: a linear scan dedupes them faster than a
    // hash set, and without cloning. They are kept as indices.
    let key = |i: usize| {
        let f = &findings[i];
        (
            f.concept.as_str(),
            f.context.resolved,
            f.context.experiencer == Experiencer::Other || f.context.third_person,
        )
    };
    concepts.clear();
    for (i, f) in findings.iter().enumerate() {
        if f.route > Route::NonUrgent && !concepts.iter().any(|&j| key(j) == key(i)) {
            concepts.push(i);
        }
    }
    if concepts.is_empty() {
        out.push_str(": no urgent finding");
    } else {
        for (n, &i) in concepts.iter().enumerate() {
            let (concept, resolved, other) = key(i);
            out.push_str(if n == 0 { ": " } else { "; " });
            out.push_str(concept);
            if resolved {
                out.push_str(" (resolved)");
            }
            if other {
                out.push_str(" (someone else)");
            }
        }
    }
    if !suppressed.is_empty() {
        let item = |i: usize| {
            let x = &suppressed[i];
            (
                x.concept.as_str(),
                match x.by {
                    SuppressedBy::Negated => "negated",
                    SuppressedBy::Historical => "historical",
                    SuppressedBy::Hypothetical => "hypothetical",
                    SuppressedBy::Family => "family history",
                    SuppressedBy::Uncertain => "to be ruled out",
                    SuppressedBy::Idiom => "idiom",
                },
            )
        };
        items.clear();
        for i in 0..suppressed.len() {
            if !items.iter().any(|&j| item(j) == item(i)) {
                items.push(i);
            }
        }
        out.push_str(" | not counted: ");
        for (n, &i) in items.iter().enumerate() {
            let (concept, by) = item(i);
            if n > 0 {
                out.push_str("; ");
            }
            out.push_str(concept);
            out.push_str(" (");
            out.push_str(by);
            out.push(')');
        }
    }
    out.as_str().to_owned()
}

impl Normalized {
    /// The normalized byte offset of original byte offset `pos`.
    pub(crate) fn normalized_offset(&self, pos: usize) -> usize {
        self.first_at_or_after(pos)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn triage_is_send_sync_clone() {
        fn is<T: Send + Sync + Clone>() {}
        is::<super::Triage>();
    }

    /// What running `re` on the whole of normalized text `n` finds, as the
    /// engine counts matches (non-empty, whole words), sorted: the oracle
    /// for the engine's gated and windowed search.
    fn whole_text_matches(re: &regex::Regex, n: &str) -> Vec<(u32, u32)> {
        let mut found: Vec<(u32, u32)> = re
            .find_iter(n)
            .filter(|m| !m.is_empty() && super::whole_words(n, m.start(), m.end()))
            .map(|m| (m.start() as u32, m.end() as u32))
            .collect();
        found.sort_unstable();
        found
    }

    fn texts_of(rules: &crate::rules::RuleSet) -> Vec<String> {
        let mut texts: Vec<String> = Vec::new();
        for r in &rules.rules {
            texts.extend(r.tests.iter().map(|x| x.text.clone()));
        }
        for q in &rules.cues {
            texts.extend(q.tests.iter().map(|x| x.text.clone()));
        }
        texts
    }

    /// A pattern is skipped when one of its required literal sets is absent
    /// from the text: that is only right if the pattern cannot match there.
    /// Check every built-in pattern against every text the rule files test
    /// with (hundreds of real matches), and every pattern's gate against the
    /// engine's own decision to run it.
    #[test]
    fn every_pattern_match_contains_its_required_literals() {
        let t = super::Triage::builtin().unwrap();
        let c = &*t.inner;
        let rules = &c.rules;
        let texts = texts_of(rules);
        let mut matched = 0;
        for text in &texts {
            let norm = crate::normalize::Normalized::new(text);
            let n = norm.text.as_str();
            for (re, _) in &c.regexes {
                if !re.is_match(n) {
                    continue;
                }
                matched += 1;
                for set in crate::prefilter::required_literals(re.as_str()) {
                    assert!(
                        set.iter()
                            .any(|l| n.as_bytes().windows(l.len()).any(|w| w == &l[..])),
                        "pattern {:?} matched {n:?} without any of {:?}",
                        re.as_str(),
                        set.iter()
                            .map(|l| String::from_utf8_lossy(l))
                            .collect::<Vec<_>>()
                    );
                }
            }
        }
        assert!(matched > 500, "only {matched} pattern matches checked");
        // Gates never hide a match, windows never change one: the engine's
        // scan finds exactly the matches of running every pattern on the
        // whole text, on every tested text and on all of them joined.
        let mut all: Vec<String> = texts_of(rules);
        all.push(all.join(" ... "));
        for text in &all {
            let norm = crate::normalize::Normalized::new(text);
            let n = norm.text.as_str();
            for (r, (re, _)) in c.regexes.iter().enumerate() {
                let found = whole_text_matches(re, n);
                assert_eq!(
                    t.pattern_matches(n, r),
                    found,
                    "pattern {:?} on {n:?}",
                    re.as_str()
                );
            }
        }
        // Most patterns are gated (the point of the prefilter).
        assert!(
            c.ungated.len() * 10 < c.regexes.len(),
            "{} ungated",
            c.ungated.len()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]
        /// Gates and windows on texts made of the rules' own words: phrases,
        /// the literals the gates look for, numbers and punctuation, glued
        /// together or spaced, so literals land at every kind of boundary.
        #[test]
        fn gated_windowed_scan_equals_running_every_pattern(
            picks in proptest::collection::vec((0usize..100_000, 0usize..6), 1..60)
        ) {
            use std::sync::OnceLock;
            static WORDS: OnceLock<(super::Triage, Vec<String>)> = OnceLock::new();
            let (t, words) = WORDS.get_or_init(|| {
                let t = super::Triage::builtin().unwrap();
                let mut words: Vec<String> = t.inner.rules.literal_phrases();
                for (re, _) in &t.inner.regexes {
                    for set in crate::prefilter::required_literals(re.as_str()) {
                        words.extend(set.iter().map(|l| String::from_utf8_lossy(l).into_owned()));
                    }
                }
                words.extend(["12", "7", "103.5", "190/120", "%", "-", ".", "(", ")", "é"].map(String::from));
                (t, words)
            });
            let seps = [" ", "", " ", ", ", ". ", "\n"];
            let mut text = String::new();
            for (w, sep) in picks {
                text.push_str(&words[w % words.len()]);
                text.push_str(seps[sep]);
            }
            let norm = crate::normalize::Normalized::new(&text);
            let n = norm.text.as_str();
            for (r, (re, _)) in t.inner.regexes.iter().enumerate() {
                let full = whole_text_matches(re, n);
                proptest::prop_assert_eq!(t.pattern_matches(n, r), full, "pattern {:?} on {:?}", re.as_str(), n);
            }
        }
    }
}
