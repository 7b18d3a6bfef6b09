//! Scored records to bytes (JSON Lines or CSV), and the destination they go
//! to, written a whole batch of whole records at a time.

use crate::input::Format;
use crate::json_record::{Flags, JsonRecord};
use crate::record::Scored;
use portal_triage::Route;
use serde_json::{Value, json};
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// The `--output-format` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum OutputFormat {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header row (lists joined by spaces, explanations as JSON).
    Csv,
}

/// Output names `--keep-fields` may not take.
pub const RESERVED: [&str; 14] = [
    "id",
    "route",
    "score",
    "rules",
    "flags",
    "error",
    "line",
    "file",
    "priority",
    "findings",
    "suppressed",
    "readings",
    "advice",
    "summary",
];

/// What each output record holds.
pub struct Layout {
    /// JSON Lines or CSV.
    pub format: OutputFormat,
    /// Add the full decision.
    pub explain: bool,
    /// The input names, by index; with more than one input, every record
    /// names its file (ids, such as the line numbers of text inputs, may
    /// repeat across files).
    pub inputs: Vec<String>,
    /// Some input is FHIR: CSV gets a `priority` column.
    pub any_fhir: bool,
    /// The `--keep-fields` names.
    pub keep: Vec<String>,
}

/// The FHIR `Communication.priority` for a route.
pub fn priority(route: Route) -> &'static str {
    match route {
        Route::NonUrgent => "routine",
        Route::NeedsCall => "urgent",
        Route::Call911 => "stat",
    }
}

impl Layout {
    fn multi(&self) -> bool {
        self.inputs.len() > 1
    }

    /// The name of the `source`-th input.
    pub fn input_name(&self, source: u32) -> &str {
        self.inputs
            .get(source as usize)
            .map_or("<input>", String::as_str)
    }

    /// The CSV header line, or nothing for JSON Lines.
    pub fn header(&self) -> Vec<u8> {
        if self.format != OutputFormat::Csv {
            return Vec::new();
        }
        let mut cols: Vec<&str> = vec!["id", "route", "score", "rules", "flags", "error", "line"];
        if self.multi() {
            cols.push("file");
        }
        if self.any_fhir {
            cols.push("priority");
        }
        cols.extend(self.keep.iter().map(String::as_str));
        if self.explain {
            cols.extend(["findings", "suppressed", "readings", "advice", "summary"]);
        }
        csv_encode(std::iter::once(
            cols.into_iter().map(str::to_string).collect(),
        ))
    }

    /// Encode a batch of records.
    pub fn encode(&self, records: &[Scored]) -> Vec<u8> {
        match self.format {
            OutputFormat::Jsonl => {
                let mut out = Vec::with_capacity(records.len() * 160);
                for r in records {
                    // A record of JSON values always serializes.
                    let _ = serde_json::to_writer(&mut out, &self.json(r));
                    out.push(b'\n');
                }
                out
            }
            OutputFormat::Csv => csv_encode(records.iter().map(|r| self.csv_row(r))),
        }
    }

    /// The JSON record of `r`: the decision's head, then where it came
    /// from and what was wrong, the kept fields, and with `--explain` the
    /// explanation.
    pub fn json(&self, r: &Scored) -> JsonRecord {
        let d = &r.decision;
        let mut rec = JsonRecord::decision(r.id.clone(), d, Flags::WhenPresent);
        if self.multi() {
            rec.insert("file", json!(self.input_name(r.source)));
        }
        if let Some(e) = &r.error {
            rec.insert("error", json!(e.message));
            rec.insert("line", json!(r.line));
        }
        if r.format == Format::Fhir {
            rec.insert("priority", json!(priority(d.route)));
        }
        for (name, value) in self.keep.iter().zip(&r.kept) {
            rec.insert(name.clone(), value.clone());
        }
        if self.explain {
            rec.explain_as_is(d);
        }
        rec
    }

    fn csv_row(&self, r: &Scored) -> Vec<String> {
        let d = &r.decision;
        let flags: Vec<String> = d
            .flags
            .iter()
            .map(|f| json!(f).as_str().unwrap_or_default().to_string())
            .collect();
        let mut row = vec![
            r.id.plain(),
            d.route.as_str().to_string(),
            json!(d.score).to_string(),
            d.rule_ids().join(" "),
            flags.join(" "),
            r.error
                .as_ref()
                .map_or(String::new(), |e| e.message.clone()),
            r.error
                .as_ref()
                .map_or(String::new(), |_| r.line.to_string()),
        ];
        if self.multi() {
            row.push(self.input_name(r.source).to_string());
        }
        if self.any_fhir {
            row.push(if r.format == Format::Fhir {
                priority(d.route).to_string()
            } else {
                String::new()
            });
        }
        row.extend(r.kept.iter().map(cell));
        if self.explain {
            row.push(json!(d.findings).to_string());
            row.push(json!(d.suppressed).to_string());
            row.push(json!(d.readings).to_string());
            row.push(d.advice.clone());
            row.push(d.summary.clone());
        }
        row
    }
}

/// A JSON value as a CSV cell: strings as they are, null empty, the rest as
/// JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_encode(rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(&row);
    }
    w.into_inner().unwrap_or_default()
}

/// Where the output goes: standard output or a file.
pub struct Sink {
    dest: Dest,
    /// Bytes written so far, always at a record boundary.
    written: u64,
}

enum Dest {
    Stdout(io::Stdout),
    File(File, String),
}

impl Sink {
    /// Standard output.
    pub fn stdout() -> Sink {
        Sink {
            dest: Dest::Stdout(io::stdout()),
            written: 0,
        }
    }

    /// Create (or truncate) `path`.
    pub fn create(path: &Path) -> Result<Sink, String> {
        let file = File::create(path).map_err(|e| {
            format!(
                "cannot create the output file {}: {e}; check the directory exists and is writable",
                path.display()
            )
        })?;
        Ok(Sink {
            dest: Dest::File(file, path.display().to_string()),
            written: 0,
        })
    }

    /// The destination's name for messages.
    pub fn name(&self) -> &str {
        match &self.dest {
            Dest::Stdout(_) => "standard output",
            Dest::File(_, name) => name,
        }
    }

    /// What to do when writing to it failed.
    pub fn hint(&self) -> &'static str {
        match &self.dest {
            Dest::Stdout(_) => "check where standard output goes",
            Dest::File(..) => "free space on its disk or choose another -o",
        }
    }

    /// Write whole records and flush them.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        match &mut self.dest {
            Dest::Stdout(out) => {
                let mut lock = out.lock();
                lock.write_all(bytes)?;
                lock.flush()?;
            }
            Dest::File(f, _) => f.write_all(bytes)?,
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// After a failed write to a file, cut it back to the last whole batch
    /// so it holds only whole records.
    pub fn roll_back(&mut self) {
        if let Dest::File(f, _) = &mut self.dest {
            let _ = f.set_len(self.written);
        }
    }
}
