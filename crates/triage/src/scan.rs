//! The scan: everything that finds mentions in a text, reading the compiled
//! rule set (`compile`) and deciding nothing.
//!
//! One automaton pass finds the phrases and tells which patterns and number
//! readers can match (`literal_pass`); the patterns run, gated and windowed
//! (`pattern_matches_into`); overlaps resolve into findings' candidates,
//! cues, terminators and idioms, and the number readers read (`scan`); the
//! words, sentences and cue hits are laid out for the context assessor
//! (`analyze_into`).

use crate::compile::{Compiled, Owner};
use crate::context::{CueCategory, CueHit, Layout};
use crate::normalize::{Normalized, alnum_at, alnum_before};
use crate::vitals::Reading;

/// A match of a phrase or pattern in normalized text, and whose it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) owner: Owner,
}

impl Compiled {
    /// One pass of the automaton over the reading: the phrase matches
    /// (whole words) into `cands`, and which patterns can match (their
    /// required literals all occur).
    fn literal_pass(
        &self,
        t: &str,
        intensified: &[u32],
        cands: &mut Vec<Candidate>,
        pass: &mut LiteralPass,
    ) {
        let c = self;
        let LiteralPass {
            run,
            seen,
            hits,
            tail_end,
            white,
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
                let degrees = &c.owner_degree[o0 as usize..o1 as usize];
                for (&owner, &degree) in owners.iter().zip(degrees) {
                    if degree != 0 && !has_degree(t, s, e, degree, intensified) {
                        continue;
                    }
                    cands.push(Candidate {
                        start: s as u32,
                        end: e as u32,
                        owner,
                    });
                }
            }
        }
        run.sort_unstable();
        run.dedup();
        hits.sort_unstable();
        // Windows counted in words need the white space: only a text that
        // runs such a pattern pays for finding it.
        white.clear();
        if (run.iter())
            .any(|&r| matches!(c.reach[r as usize], Some(crate::prefilter::Reach::Words(_))))
        {
            crate::prefilter::white_space(t, white);
        }
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
        let c = self;
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
                    &pass.white,
                    hits[lo..hi].iter().map(|h| (h.1 as usize, h.2 as usize)),
                    reach,
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

    /// Find phrases and patterns, resolve overlaps, read numbers.
    /// `targets` are mentions assessed from outside (normalized spans);
    /// like findings, they keep a pseudo phrase from hiding a cue when they
    /// begin inside it ("no change" + "change in vision").
    fn scan(&self, t: &str, targets: &[(u32, u32)], out: &mut Scan, b: &mut ScanWork) {
        let c = self;
        let ScanWork {
            cands,
            pass,
            pseudo,
            pseudo_for_cues,
            trigger_reach,
            read,
            ..
        } = b;
        cands.clear();
        self.literal_pass(t, &read.intensified, cands, pass);
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
            ..
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
    }

    /// The reading of `text` into `norm` (its byte normalization, then its
    /// words read), with the corrections made.
    pub(crate) fn read_into(
        &self,
        text: &str,
        norm: &mut Normalized,
        corrections: &mut Vec<crate::reading::Correction>,
        work: &mut ScanWork,
    ) {
        work.raw.refill(text);
        self.lexicon
            .read_into(&work.raw, norm, &mut work.read, corrections);
    }

    /// Normalize, scan, and lay out words, sentences and cue hits: all a
    /// decision or a context assessment needs.
    pub(crate) fn analyze_into(
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
            corrections,
        } = an;
        self.read_into(text, norm, corrections, work);
        let targets: Vec<(u32, u32)> = targets
            .iter()
            .map(|r| {
                let s = norm.normalized_offset(r.start) as u32;
                (s, (norm.normalized_offset(r.end) as u32).max(s))
            })
            .collect();
        self.scan(&norm.text, &targets, scan, work);
        // Numbers and units are read from the text before its words were
        // read (a reading's words are not stemmed or corrected), then
        // placed on the reading's offsets. The readers' own automaton says
        // which of their patterns can match that text.
        let gates = self.readers.gates(&work.raw.text);
        self.readers
            .read_with(&work.raw.text, gates, &mut scan.readings, &mut work.open);
        for r in &mut scan.readings {
            let (s, e) = work.raw.original_span(r.start, r.end);
            r.start = norm.first_at_or_after(s);
            r.end = norm.first_at_or_after(e).max(r.start);
        }
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
}

/// Test helpers on the engine: what the scan sees of one text.
#[cfg(test)]
impl crate::Triage {
    /// The engine's matches of rule pattern `r` in normalized text `t`,
    /// gates and windows included, sorted (for tests).
    fn pattern_matches(&self, t: &str, r: usize) -> Vec<(u32, u32)> {
        let mut pass = LiteralPass::default();
        self.inner.literal_pass(t, &[], &mut Vec::new(), &mut pass);
        let mut out = Vec::new();
        if pass.run.contains(&(r as u32)) {
            self.inner
                .pattern_matches_into(t, r as u32, &pass, |s, e| out.push((s as u32, e as u32)));
        }
        out.sort_unstable();
        out
    }
}

/// Whether `t[s..e]` starts and ends on word boundaries. A match that
/// begins (or ends) with punctuation, such as the cue `? no`, needs no
/// boundary on that side.
/// Whether each word of `t[s..e]` marked in `mask` (bit i: word i) follows
/// a word of degree: its offset is in `intensified` (ascending).
fn has_degree(t: &str, s: usize, e: usize, mask: u64, intensified: &[u32]) -> bool {
    let mut at = s;
    for (i, w) in t[s..e].split(' ').enumerate() {
        if i < 64 && mask & (1 << i) != 0 && intensified.binary_search(&(at as u32)).is_err() {
            return false;
        }
        at += w.len() + 1;
    }
    true
}

pub(crate) fn whole_words(t: &str, s: usize, e: usize) -> bool {
    s >= e || ((!alnum_at(t, s) || !alnum_before(t, s)) && (!alnum_before(t, e) || !alnum_at(t, e)))
}

/// What the scan found in one text: findings' candidates, cues and
/// terminators, findings hidden by a pseudo phrase (with it), readings.
#[derive(Default)]
pub(crate) struct Scan {
    pub(crate) triggers: Vec<Candidate>,
    pub(crate) cues: Vec<Candidate>,
    pub(crate) shadowed: Vec<(Candidate, Candidate)>,
    pub(crate) readings: Vec<Reading>,
}

/// One message, normalized, scanned and laid out.
#[derive(Default)]
pub(crate) struct Analysis {
    pub(crate) norm: Normalized,
    pub(crate) scan: Scan,
    pub(crate) layout: Layout,
    pub(crate) hits: Vec<CueHit>,
    /// Words read as another word of the rules (spelling correction).
    pub(crate) corrections: Vec<crate::reading::Correction>,
}

/// What one automaton pass found besides phrases.
#[derive(Default)]
pub(crate) struct LiteralPass {
    /// Rule patterns that can match, ascending.
    pub(crate) run: Vec<u32>,
    /// For each pattern, the bits of its required sets seen so far.
    pub(crate) seen: Vec<u8>,
    /// (pattern, start, end) of the first required set's literals of the
    /// windowed patterns, sorted.
    pub(crate) hits: Vec<(u32, u32, u32)>,
    /// For each rule pattern with a tail set, where its last literal ends
    /// (0: none).
    pub(crate) tail_end: Vec<u32>,
    /// The offsets of the text's white-space bytes (for windows counted in
    /// words).
    pub(crate) white: Vec<u32>,
}

/// The scan's own buffers.
#[derive(Default)]
pub(crate) struct ScanWork {
    pub(crate) cands: Vec<Candidate>,
    pub(crate) pass: LiteralPass,
    pub(crate) pseudo: Vec<Candidate>,
    pub(crate) pseudo_for_cues: Vec<Candidate>,
    pub(crate) trigger_reach: Vec<u32>,
    /// For the number readers.
    pub(crate) open: Vec<usize>,
    /// The byte-normalized text, before its words are read.
    pub(crate) raw: crate::normalize::Normalized,
    /// The reading's buffers and word cache.
    pub(crate) read: crate::reading::ReadWork,
}

#[cfg(test)]
mod tests {
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
        let t = crate::Triage::builtin().unwrap();
        let c = &*t.inner;
        let rules = &c.rules;
        let texts = texts_of(rules);
        let mut matched = 0;
        for text in &texts {
            // Patterns run on the reading of the text.
            let reading = t.read(text).0;
            let n = reading.as_str();
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
            let reading = t.read(text).0;
            let n = reading.as_str();
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
            static WORDS: OnceLock<(crate::Triage, Vec<String>)> = OnceLock::new();
            let (t, words) = WORDS.get_or_init(|| {
                let t = crate::Triage::builtin().unwrap();
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
