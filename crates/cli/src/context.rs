//! `portal-triage context`: the context of one mention per record (negated?
//! recent, historical or hypothetical? the patient or someone else?), with
//! the cues that decided it.

use super::{EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, RuleArgs};
use portal_triage::Triage;
use serde::Serialize;
use serde_json::Value;
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "\
Input: JSON Lines, one object per line:
  {\"id\": ..., \"text\": \"...\", \"target\": \"a phrase in the text\"}
The target is found case-insensitively, with flexible whitespace, as whole
words (its first occurrence). Instead of a target, \"start\" and \"end\" byte
offsets of the mention in the text may be given.

Output: one JSON object per input line, in input order:
  {\"id\", \"found\": true, \"start\", \"end\", \"negated\": bool,
   \"temporality\": \"recent\"|\"historical\"|\"hypothetical\",
   \"experiencer\": \"patient\"|\"other\", \"resolved\": bool,
   \"uncertain\": bool, \"third_person\": bool,
   \"cues\": [{\"id\", \"category\", \"text\", \"start\", \"end\", \"decides\"}]}
A target that does not occur gives {\"id\", \"found\": false, \"error\", \"line\"};
a malformed line gives a record with \"error\" and \"line\". Blank lines are
skipped. Errors on stderr name line numbers, never message text.

Exit codes: 0 every record assessed; 1 some records were malformed or their
target was not found (the output is still complete); 2 usage, rule or I/O
error.")]
pub struct Args {
    /// JSON Lines file (standard input when absent or `-`).
    file: Option<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Name of the id field.
    #[arg(long, default_value = "id")]
    id_field: String,
    /// Name of the text field.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Name of the target-phrase field.
    #[arg(long, default_value = "target")]
    target_field: String,
}

pub fn run(args: Args) -> i32 {
    let Some(engine) = args.rules.engine_or_report() else {
        return EXIT_ERROR;
    };
    let input: Box<dyn Read> = match &args.file {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(p) => match std::fs::File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("portal-triage: cannot open {}: {e}", p.display());
                return EXIT_ERROR;
            }
        },
    };
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = Vec::new();
    let mut line_no = 0usize;
    let mut problems = 0usize;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("portal-triage: read error after line {line_no}: {e}");
                return EXIT_ERROR;
            }
        }
        line_no += 1;
        let raw = trim_line(&line);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue; // blank lines are not records
        }
        let (record, problem) = assess_line(&engine, raw, line_no, &args);
        if problem {
            problems += 1;
        }
        let write = out
            .write_all(record.as_bytes())
            .and_then(|_| out.write_all(b"\n"));
        if let Err(e) = write {
            if e.kind() == ErrorKind::BrokenPipe {
                return EXIT_OK;
            }
            eprintln!("portal-triage: write error: {e}");
            return EXIT_ERROR;
        }
    }
    if let Err(e) = out.flush() {
        if e.kind() != ErrorKind::BrokenPipe {
            eprintln!("portal-triage: write error: {e}");
            return EXIT_ERROR;
        }
    }
    if problems > 0 {
        eprintln!(
            "portal-triage: {problems} record(s) could not be assessed as given; each carries an \"error\" field"
        );
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    }
}

/// Where the mention is: a target phrase, or byte offsets.
enum Mention {
    Phrase(String),
    Span(usize, usize),
}

/// Assess one input line into one output record; never fails.
/// Returns the JSON record and whether it carries an error.
fn assess_line(engine: &Triage, raw: &[u8], line_no: usize, args: &Args) -> (String, bool) {
    let text_owned = String::from_utf8_lossy(raw);
    let mut error: Option<String> = std::str::from_utf8(raw)
        .is_err()
        .then(|| "invalid UTF-8".to_string());
    let (id, text, mention) = match serde_json::from_str::<Value>(&text_owned) {
        Ok(Value::Object(obj)) => {
            let id = obj.get(&args.id_field).cloned().unwrap_or(Value::Null);
            let text = match obj.get(&args.text_field) {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    error.get_or_insert_with(|| {
                        format!("missing or non-string text field `{}`", args.text_field)
                    });
                    String::new()
                }
            };
            let offset = |k: &str| obj.get(k).and_then(Value::as_u64).map(|n| n as usize);
            let mention = match (obj.get(&args.target_field), offset("start"), offset("end")) {
                (Some(Value::String(t)), _, _) => Some(Mention::Phrase(t.clone())),
                (_, Some(s), Some(e)) => Some(Mention::Span(s, e)),
                _ => {
                    error.get_or_insert_with(|| {
                        format!(
                            "no target: give a string `{}` or numeric `start` and `end`",
                            args.target_field
                        )
                    });
                    None
                }
            };
            (id, text, mention)
        }
        Ok(_) => {
            error.get_or_insert_with(|| "not a JSON object".to_string());
            (Value::Null, String::new(), None)
        }
        Err(_) => {
            error.get_or_insert_with(|| "bad JSON".to_string());
            let id =
                portal_triage_archive::salvage(&text_owned, &args.id_field).unwrap_or(Value::Null);
            let field = |k: &str| match portal_triage_archive::salvage(&text_owned, k) {
                Some(Value::String(t)) => Some(t),
                _ => None,
            };
            let mention = field(&args.target_field).map(Mention::Phrase);
            (id, field(&args.text_field).unwrap_or_default(), mention)
        }
    };
    let span = match mention {
        Some(Mention::Phrase(t)) => portal_triage::find_phrase(&text, &t),
        Some(Mention::Span(s, e)) => {
            let ok =
                s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e);
            if !ok {
                error.get_or_insert_with(|| {
                    format!(
                        "start..end ({s}..{e}) is not a span of the text ({} bytes, on character boundaries)",
                        text.len()
                    )
                });
            }
            ok.then_some((s, e))
        }
        None => None,
    };
    let assessed = span.map(|(s, e)| (s, e, engine.context(&text, s, e)));
    if assessed.is_none() {
        error.get_or_insert_with(|| "target not found in text".to_string());
    }
    let line = error.as_ref().map(|_| line_no);
    let record = match &assessed {
        Some((start, end, c)) => Record {
            id,
            found: true,
            start: Some(*start),
            end: Some(*end),
            negated: Some(c.negated),
            temporality: Some(c.temporality),
            experiencer: Some(c.experiencer),
            resolved: Some(c.resolved),
            uncertain: Some(c.uncertain),
            third_person: Some(c.third_person),
            cues: Some(&c.cues),
            error,
            line,
        },
        None => Record {
            id,
            found: false,
            error,
            line,
            ..Record::default()
        },
    };
    let problem = record.error.is_some();
    // Serialized directly, not through a `Value`, to keep the field order.
    let json = serde_json::to_string(&record).unwrap_or_else(|_| "{}".to_string());
    (json, problem)
}

/// One output record, in a fixed field order.
#[derive(Serialize, Default)]
struct Record<'a> {
    id: Value,
    found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    negated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temporality: Option<portal_triage::Temporality>,
    #[serde(skip_serializing_if = "Option::is_none")]
    experiencer: Option<portal_triage::Experiencer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uncertain: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    third_person: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cues: Option<&'a [portal_triage::CueUse]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
}

/// A line without its line ending.
fn trim_line(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b'\n' | b'\r'] = l {
        l = rest;
    }
    l
}
