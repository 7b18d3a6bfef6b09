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
//!
//! The path of a record, one module per step:
//!
//! - [`input`]: decide each input's format and cut it into raw records
//!   ([`input::Records`]), with [`csv_rows`] cutting CSV rows that survive
//!   damage (unclosed quotes, stray quotes, NULs);
//! - [`fields`]: which field (a dotted path, or a CSV column) holds the id,
//!   the text and the kept fields;
//! - [`record`]: one raw record to one [`record::Scored`] (parsed, salvaged
//!   when malformed, classified);
//! - [`json_record`]: the JSON record of a decision, with its id written
//!   exactly as read ([`JsonRecord`], [`Id`]), shared by `score` and the
//!   HTTP service;
//! - [`output`]: scored records to JSON Lines or CSV bytes, and the
//!   destination they are written to.
//!
//! And for evaluating a rule set: [`labeled`] reads labeled corpora, and
//! [`metrics`] computes the triage metrics of labels against routes.
//!
//! The library reports problems as values (errors, [`record::RecordError`],
//! [`labeled::Problem`]): it writes nothing to standard error and never
//! exits the process. The `clap` feature (off by default) derives
//! `clap::ValueEnum` on the format enums for command lines.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

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
