//! # portal-triage
//!
//! Reads patient-portal secure messages and decides how fast a human must
//! act on each: [`Route::NonUrgent`] (the normal inbox, 1-3 days),
//! [`Route::NeedsCall`] (a clinician phones the patient today) or
//! [`Route::Call911`] (an emergency is happening; the patient must call 911
//! now). Every decision says why: the findings with their byte spans in the
//! original text, the context that applied to each, the mentions that did
//! not count and the cue that suppressed them, the numbers read, advice for
//! the patient and a one-line summary for the clinician.
//!
//! ```
//! use portal_triage::{Route, Triage};
//!
//! let triage = Triage::default(); // the built-in rules, compiled once
//! let d = triage.classify("bp 192/118 and I have a pounding headache and blurry vision");
//! assert_eq!(d.route, Route::Call911);
//! assert!(d.advice.contains("Call 911"));
//!
//! let d = triage.classify("passed out yesterday after standing up, feel fine now");
//! assert_eq!(d.route, Route::NeedsCall); // resolved: one level lower
//!
//! let d = triage.classify("If the chest pain comes back tonight, do I go to the ER?");
//! assert_eq!(d.route, Route::NonUrgent); // hypothetical
//! ```
//!
//! The context engine is public on its own, for any mention in any text
//! (clinical notes as well as patient messages): [`Triage::context`],
//! [`Triage::contexts`] and [`Triage::context_of_phrase`] say whether a
//! mention is negated, recent, historical or hypothetical, about the patient
//! or someone else, resolved or only to be ruled out, and which cue decided
//! each ([`Context::cue_for`]).
//!
//! ```
//! use portal_triage::{Temporality, Triage};
//!
//! let text = "Denies fever. Return if she develops chest pain or shortness of breath.";
//! let (_, c) = Triage::default().context_of_phrase(text, "shortness of breath").unwrap();
//! assert_eq!(c.temporality, Temporality::Hypothetical);
//! ```
//!
//! # Untrusted input
//!
//! Any `&str` is fine: [`Triage::classify`] never panics, takes time linear
//! in the length of the text, and reads a text longer than the maximum
//! message length ([`DEFAULT_MAX_MESSAGE_BYTES`], 1 MiB) in full, in
//! overlapping chunks, flagging the decision [`Flag::Chunked`]. Rule files
//! are untrusted too: size limits on phrases, patterns and nesting give
//! errors with stable codes, never a hang. The README's "Untrusted input"
//! section gives the measured constants.
//!
//! The clinical knowledge lives in TOML rule files (`rules/` in the
//! repository, compiled in). Load a site's own with [`RuleSet::from_dir`],
//! or layer extra files on the default with [`RuleSet::layered`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod compile;
mod context;
mod decide;
mod decision;
mod engine;
mod error;
mod lint;
mod normalize;
mod prefilter;
mod reading;
mod route;
mod rules;
mod scan;
mod vitals;
mod wordpat;
mod work;

pub use context::{
    Aspect, Context, CueCategory, CueUse, Direction, Experiencer, Scope, Temporality,
};
pub use decision::{Cause, Decision, Finding, Flag, Suppressed, SuppressedBy};
pub use engine::{DEFAULT_MAX_MESSAGE_BYTES, TestFailure, Triage, find_phrase};
pub use error::{Diagnostic, Error, ErrorKind, Severity};
pub use lint::{AllowedLint, LintReport, lint, lint_report};
pub use reading::Correction;
pub use route::{ParseRouteError, Route};
pub use rules::{CueTest, Origin, RuleInfo, RuleKind, RuleSet, RuleTest};
pub use vitals::{Condition, Measure, Reading};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
