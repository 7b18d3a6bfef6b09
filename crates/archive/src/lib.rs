//! Reading and writing patient-portal message archives for
//! [`portal_triage`]: the batch reader behind `portal-triage score`
//! (JSON Lines, CSV, plain text, FHIR `Communication`, each possibly
//! gzip-compressed), field paths into nested records, the salvage of
//! malformed records (each is still scored, and flagged), the output
//! record (JSON Lines or CSV) that `score` writes and the HTTP service
//! answers with, and labeled corpora with their triage metrics.
//!
//! Every input record yields exactly one output record, in order; errors
//! name files, line numbers and ids, never message text.

#![forbid(unsafe_code)]

pub mod csv_rows;
pub mod fields;
pub mod input;
pub mod json_record;
pub mod labeled;
pub mod metrics;
pub mod output;
pub mod record;

pub use json_record::{Id, JsonRecord};
pub use record::{Members, salvage, salvage_number_text};
