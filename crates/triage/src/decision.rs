//! What the engine returns for one message: a [`Decision`] a clinic can act
//! on and audit.

use crate::context::{Context, CueUse};
use crate::route::Route;
use crate::vitals::Reading;
use serde::Serialize;

/// The triage decision for one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The route: the most severe route any counted finding earns.
    pub route: Route,
    /// Urgency in [0, 1]; orders messages within and across routes
    /// (non-urgent < 0.4 <= needs-call < 0.7 <= call-911).
    pub score: f64,
    /// Findings that count, most severe first, then in text order.
    pub findings: Vec<Finding>,
    /// Mentions that did not count, and why ("no chest pain").
    pub suppressed: Vec<Suppressed>,
    /// The numbers read (blood pressure, glucose, ...), in text order.
    pub readings: Vec<Reading>,
    /// Conditions of the input worth knowing (empty, chunked, ...).
    pub flags: Vec<Flag>,
    /// Plain-language advice for the patient.
    pub advice: String,
    /// One line for the clinician.
    pub summary: String,
}

impl Decision {
    /// The ids of the rules behind the counted findings, without repeats,
    /// in the order of `findings`.
    pub fn rule_ids(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::with_capacity(self.findings.len());
        for f in &self.findings {
            if !out.contains(&f.rule.as_str()) {
                out.push(&f.rule);
            }
        }
        out
    }
}

/// A finding that counts toward the route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The id of the rule that found it.
    pub rule: String,
    /// What it is, in plain words.
    pub concept: String,
    /// The route this finding earned (after context, e.g. resolved).
    pub route: Route,
    /// Byte offset in the original text.
    pub start: usize,
    /// Byte offset just past the finding in the original text.
    pub end: usize,
    /// The words of the original text that matched.
    pub text: String,
    /// The context that applied.
    pub context: Context,
    /// For a combination: the rules of the findings it combines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub because: Vec<String>,
    /// Words of the finding read as another word of the rules ("read
    /// 'stoke' as 'stroke'"), with their spans in the original text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<crate::reading::Correction>,
}

/// Why a mention did not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuppressedBy {
    /// A negation cue ("no", "denies").
    Negated,
    /// A historical cue ("history of", "in 2018").
    Historical,
    /// A hypothetical cue ("if", "in case").
    Hypothetical,
    /// Someone else's past ("my dad died of").
    Family,
    /// Only a possibility being checked ("to rule out a heart attack").
    Uncertain,
    /// A pseudo-cue or harmless idiom claimed the words ("dying to know").
    Idiom,
}

/// A mention that did not count toward the route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppressed {
    /// The rule that matched.
    pub rule: String,
    /// What it is, in plain words.
    pub concept: String,
    /// The route it would have earned.
    pub would_route: Route,
    /// Byte offset in the original text.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// The words that matched.
    pub text: String,
    /// Why it did not count.
    pub by: SuppressedBy,
    /// The cue or idiom that suppressed it.
    pub cause: Cause,
}

/// The words that suppressed a mention: a context cue or a pseudo phrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// The id of the cue or pseudo rule.
    pub id: String,
    /// Its words as written in the original text.
    pub text: String,
    /// Byte offset in the original text.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

impl From<CueUse> for Cause {
    fn from(c: CueUse) -> Cause {
        Cause {
            id: c.id,
            text: c.text,
            start: c.start,
            end: c.end,
        }
    }
}

/// Conditions of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    /// The text is empty or only whitespace.
    Empty,
    /// The text has no letters or digits (emoji only, symbols, noise).
    NoWords,
    /// The text was longer than the engine's maximum message length and was
    /// read in overlapping chunks (all of it was read).
    Chunked,
    /// The text contained U+FFFD replacement characters (it was not valid
    /// UTF-8 where it came from).
    ReplacementCharacters,
}

pub(crate) const ADVICE_911: &str = "This may be an emergency. Call 911 now (or have someone call for you). Do not wait for a reply to this message.";
pub(crate) const ADVICE_CALL: &str = "A nurse or doctor from your care team will call you today. If it gets worse before then, or you feel it is an emergency, call 911.";
pub(crate) const ADVICE_ROUTINE: &str = "Your care team will answer within 1-3 business days. If something changes or you feel it is an emergency, call 911.";
