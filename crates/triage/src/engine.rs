//! The engine: the public [`Triage`] type and its API.
//!
//! A message's path: [`Triage::new`] compiles the rules once
//! (`compile`); [`Triage::classify`] reads a long text in chunks (here),
//! then for each piece the scan finds the mentions (`scan`) and the decision
//! applies their context and decides (`decide`), with per-thread buffers
//! (`work`). The context API and the rule files' inline tests live here too.

use crate::compile::Compiled;
use crate::context;
use crate::decide::summary;
use crate::decision::{ADVICE_ROUTINE, Decision, Finding, Flag};
use crate::error::{Diagnostic, Error, ErrorKind, Severity};
use crate::normalize::{Normalized, floor_boundary};
use crate::route::Route;
use crate::rules::RuleSet;
use crate::scan::whole_words;
use crate::work::with_work;
use std::sync::{Arc, OnceLock};

/// The default longest message read in full, in bytes (1 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1 << 20;

/// How much consecutive chunks of a long message overlap (at most; a quarter
/// of the chunk size for small limits).
const CHUNK_OVERLAP: usize = 16 << 10;

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
    pub(crate) inner: Arc<Compiled>,
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
            .map(TestFailure::into_diagnostic)
            .collect();
        Err(Error::with_diagnostics(ErrorKind::RuleTests, diagnostics))
    }

    /// Build an engine that reads a message in one piece up to `max` bytes,
    /// and a longer one in overlapping chunks of `max` bytes (the decision is
    /// flagged [`Flag::Chunked`]). Memory per message is bounded by the chunk
    /// size; time stays linear. Findings are not lost at chunk boundaries
    /// when `max` is at least 64 KiB (chunks overlap by 16 KiB).
    pub fn with_max_message_bytes(rules: RuleSet, max: usize) -> Result<Triage, Error> {
        Ok(Triage {
            inner: Arc::new(Compiled::new(rules, max)?),
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
            self.inner.analyze_into(text, &[], &mut w.an, &mut w.scan);
            self.inner.decide(text, &mut w.an, flags, &mut w.decide)
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
                for k in &mut f.corrections {
                    k.start += chunk_start;
                    k.end += chunk_start;
                }
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

    /// Assess the context of the byte range `start..end` of `text` (a
    /// mention of a condition), with this engine's cues: negated or not,
    /// recent, historical or hypothetical, the patient or someone else,
    /// resolved or not, and the cue (with its span in `text`) that decided
    /// each ([`Context::cue_for`](crate::Context::cue_for)). The triage
    /// decision uses the very same assessment for every finding.
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
            self.inner
                .analyze_into(text, std::slice::from_ref(&span), an, &mut w.scan);
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
            self.inner.build_context(an, text, &a, false, &mut d.from)
        })
    }

    /// How the engine reads `text`: the words its rules are matched
    /// against (lower case, contractions and text-speak expanded, fillers
    /// read past, inflections folded, spelling corrected), and each
    /// correction made. For rule authors: a phrase or word pattern matches
    /// this reading, not the text as written.
    ///
    /// ```
    /// use portal_triage::Triage;
    /// let (reading, corrections) = Triage::default().read("I think im having a stoke");
    /// assert!(reading.contains("stroke"));
    /// assert_eq!(corrections[0].written, "stoke");
    /// ```
    pub fn read(&self, text: &str) -> (String, Vec<crate::Correction>) {
        with_work(|w| {
            let an = &mut w.an;
            (self.inner).read_into(text, &mut an.norm, &mut an.corrections, &mut w.scan);
            (an.norm.text.clone(), an.corrections.clone())
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
    /// The failure as an `E0010` error at the rule's table (column 1,
    /// without its source line), the form `new_strict` and `portal-triage
    /// check` report it in.
    pub fn into_diagnostic(self) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: format!(
                "test {} of `{}` fails: {} (fired: {})",
                self.test,
                self.rule,
                self.problem,
                self.fired()
            ),
            line: self.line,
            path: self.path,
            column: 1,
            code: "E0010",
            source_line: String::new(),
        }
    }

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

#[cfg(test)]
mod tests {
    #[test]
    fn triage_is_send_sync_clone() {
        fn is<T: Send + Sync + Clone>() {}
        is::<super::Triage>();
    }
}
