//! `portal-triage score`: JSON Lines in, one JSON line out per input line.

use super::{EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, RuleArgs};
use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "\
Input: JSON Lines, one object per line with an id and a text field.
Output: one JSON object per input line, in input order:
  {\"id\", \"route\", \"score\", \"rules\"} (+ \"findings\" etc. with --explain,
  + \"error\" and \"line\" when the record was malformed).
A malformed line (bad JSON, missing text, invalid UTF-8) still yields a record,
scored on whatever text could be recovered. Blank lines are not records and are
skipped. Errors on stderr name line numbers, never message text.

Exit codes: 0 all records scored; 1 some records were malformed (the output is
still complete); 2 usage, rule or I/O error.")]
pub struct Args {
    /// JSON Lines file to score (standard input when absent or `-`).
    file: Option<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Include the full decision (findings, suppressed, readings, advice).
    #[arg(long)]
    explain: bool,
    /// Name of the id field.
    #[arg(long, default_value = "id")]
    id_field: String,
    /// Name of the text field.
    #[arg(long, default_value = "text")]
    text_field: String,
}

pub fn run(args: Args) -> i32 {
    let engine = match args.rules.engine() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("portal-triage: {e}");
            return EXIT_ERROR;
        }
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
    let mut malformed = 0usize;
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
        let record = score_line(&engine, raw, line_no, &args);
        if record.get("error").is_some() {
            malformed += 1;
        }
        let write = serde_json::to_writer(&mut out, &record)
            .map_err(std::io::Error::from)
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
    if malformed > 0 {
        eprintln!(
            "portal-triage: {malformed} malformed record(s); each was still scored and carries an \"error\" field"
        );
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    }
}

pub(super) fn trim_line(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b'\n' | b'\r'] = l {
        l = rest;
    }
    l
}

/// Score one input line into one output record; never fails.
fn score_line(engine: &portal_triage::Triage, raw: &[u8], line_no: usize, args: &Args) -> Value {
    let (text_owned, utf8_error) = match std::str::from_utf8(raw) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), None),
        Err(_) => (String::from_utf8_lossy(raw), Some("invalid UTF-8")),
    };
    let mut error: Option<String> = utf8_error.map(str::to_string);
    let (id, text): (Value, String) = match serde_json::from_str::<Value>(&text_owned) {
        Ok(Value::Object(obj)) => {
            let id = obj.get(&args.id_field).cloned().unwrap_or(Value::Null);
            let text = match obj.get(&args.text_field) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => {
                    error
                        .get_or_insert_with(|| format!("missing text field `{}`", args.text_field));
                    String::new()
                }
                Some(other) => {
                    error.get_or_insert_with(|| {
                        format!("text field `{}` is not a string", args.text_field)
                    });
                    other.to_string()
                }
            };
            if id.is_null() {
                error.get_or_insert_with(|| format!("missing id field `{}`", args.id_field));
            }
            (id, text)
        }
        Ok(_) => {
            error.get_or_insert_with(|| "not a JSON object".to_string());
            (Value::Null, String::new())
        }
        Err(e) => {
            error.get_or_insert_with(|| {
                format!(
                    "bad JSON: {}",
                    e.to_string()
                        .split(" at line")
                        .next()
                        .unwrap_or("syntax error")
                )
            });
            // Recover what we can: the fields if they can be found,
            // otherwise the whole line as text.
            let id = salvage(&text_owned, &args.id_field).unwrap_or(Value::Null);
            let text = match salvage(&text_owned, &args.text_field) {
                Some(Value::String(t)) => t,
                _ => text_owned.into_owned(),
            };
            (id, text)
        }
    };
    let d = engine.classify(&text);
    let mut rec = Map::new();
    rec.insert("id".into(), id);
    rec.insert("route".into(), json!(d.route));
    rec.insert("score".into(), json!(d.score));
    rec.insert("rules".into(), json!(d.rule_ids()));
    if !d.flags.is_empty() {
        rec.insert("flags".into(), json!(d.flags));
    }
    if let Some(e) = error {
        rec.insert("error".into(), json!(e));
        rec.insert("line".into(), json!(line_no));
    }
    if args.explain {
        rec.insert("findings".into(), json!(d.findings));
        rec.insert("suppressed".into(), json!(d.suppressed));
        rec.insert("readings".into(), json!(d.readings));
        rec.insert("advice".into(), json!(d.advice));
        rec.insert("summary".into(), json!(d.summary));
    }
    Value::Object(rec)
}

/// Find `"field": value` in a line that is not valid JSON and decode the
/// value: a string (up to its closing quote, or the end of the line when the
/// record was cut), or a number.
pub(super) fn salvage(line: &str, field: &str) -> Option<Value> {
    let key = format!("\"{field}\"");
    let at = line.find(&key)? + key.len();
    let rest = line[at..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(body) = rest.strip_prefix('"') {
        let mut end = None;
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let literal = &body[..end.unwrap_or(body.len())];
        let decoded = serde_json::from_str::<String>(&format!("\"{literal}\""))
            .unwrap_or_else(|_| literal.to_string());
        return Some(Value::String(decoded));
    }
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | 'e' | 'E' | '+'))
        .collect();
    serde_json::from_str::<serde_json::Number>(&number)
        .ok()
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::salvage;
    use serde_json::json;

    #[test]
    fn salvages_fields_of_broken_lines() {
        let line = r#"{"id": "m7", "text": "chest pain \"bad\" and"#;
        assert_eq!(salvage(line, "id"), Some(json!("m7")));
        assert_eq!(salvage(line, "text"), Some(json!("chest pain \"bad\" and")));
        assert_eq!(salvage(r#"{"id": 42, "text": }"#, "id"), Some(json!(42)));
        assert_eq!(salvage("no fields here", "id"), None);
    }
}
