//! One input record to one scored record: parse what can be parsed, recover
//! what can be recovered, classify, and name the problem if there was one.

use crate::csv_rows::{Damage, Unclosed};
use crate::fields::{FieldPath, Fields};
use crate::input::{CsvRow, Format, MAX_RECORD_BYTES, Raw, RawData};
use crate::json_record::Id;
use portal_triage::{Decision, Triage};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// What was wrong with a malformed record (the kinds counted in the
/// summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The line is not valid JSON.
    BadJson,
    /// The line is JSON but not an object.
    NotObject,
    /// The CSV row is damaged (an unclosed quote, a stray quote, a NUL) or
    /// has a different number of cells than the header.
    BadCsvRow,
    /// The bytes are not valid UTF-8.
    InvalidUtf8,
    /// The record has no text field.
    MissingText,
    /// The text field is not a string.
    TextNotString,
    /// The text is empty or only whitespace.
    EmptyText,
    /// The record has no id.
    MissingId,
    /// A FHIR resource that is not a `Communication`.
    NotCommunication,
    /// The record was longer than the limit and was cut.
    TooLong,
    /// The id or text key appears more than once in the record.
    DuplicateField,
}

impl Problem {
    /// Every kind, in the order of the summary.
    pub const ALL: [Problem; 11] = [
        Problem::BadJson,
        Problem::NotObject,
        Problem::BadCsvRow,
        Problem::InvalidUtf8,
        Problem::MissingText,
        Problem::TextNotString,
        Problem::EmptyText,
        Problem::MissingId,
        Problem::NotCommunication,
        Problem::TooLong,
        Problem::DuplicateField,
    ];

    /// The kind's name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Problem::BadJson => "bad-json",
            Problem::NotObject => "not-an-object",
            Problem::BadCsvRow => "bad-csv-row",
            Problem::InvalidUtf8 => "invalid-utf8",
            Problem::MissingText => "missing-text",
            Problem::TextNotString => "text-not-a-string",
            Problem::EmptyText => "empty-text",
            Problem::MissingId => "missing-id",
            Problem::NotCommunication => "not-a-communication",
            Problem::TooLong => "too-long",
            Problem::DuplicateField => "duplicate-field",
        }
    }

    /// Index into [`Problem::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The first problem found in a record; its message never quotes the
/// record's text.
#[derive(Debug, Clone)]
pub struct RecordError {
    /// The kind.
    pub kind: Problem,
    /// A sentence for the `error` field.
    pub message: String,
}

/// One scored record, ready to be written.
pub struct Scored {
    /// The input's index on the command line.
    pub source: u32,
    /// The input's format.
    pub format: Format,
    /// The line where the record starts.
    pub line: u64,
    /// The id (null when none could be found); a numeric id as written in
    /// the input (`18446744073709551616`, `1e2`), echoed instead of its
    /// nearest 64-bit float.
    pub id: Id,
    /// The decision on whatever text was found.
    pub decision: Decision,
    /// The first problem, if any.
    pub error: Option<RecordError>,
    /// The `--keep-fields` values, in order (null when absent).
    pub kept: Vec<Value>,
}

/// Time spent by a scoring thread, split between the engine and the rest.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timing {
    /// In `Triage::classify`.
    pub classify: Duration,
    /// Parsing records and encoding output.
    pub other: Duration,
}

struct Parts {
    id: Value,
    id_text: Option<Box<RawValue>>,
    text: String,
    error: Option<RecordError>,
    kept: Vec<Value>,
}

impl Parts {
    fn problem(&mut self, kind: Problem, message: impl FnOnce() -> String) {
        if self.error.is_none() {
            self.error = Some(RecordError {
                kind,
                message: message(),
            });
        }
    }
}

/// Score one record; never fails: a malformed record is scored on the text
/// that could be recovered and carries an error.
pub fn score(engine: &Triage, raw: Raw, fields: &Fields, timing: &mut Timing) -> Scored {
    let started = Instant::now();
    let mut parts = Parts {
        id: Value::Null,
        id_text: None,
        text: String::new(),
        error: None,
        kept: Vec::new(),
    };
    if raw.cut {
        parts.problem(Problem::TooLong, || {
            format!(
                "record longer than {} MiB; scored on its first {} MiB",
                MAX_RECORD_BYTES >> 20,
                MAX_RECORD_BYTES >> 20
            )
        });
    }
    match (&raw.data, raw.format) {
        (RawData::Line(bytes), Format::Text) => {
            let text = utf8(bytes, &mut parts);
            parts.id = Value::from(raw.line);
            parts.text = text.into_owned();
        }
        (RawData::Line(bytes), format) => parse_json(bytes, format, fields, &mut parts),
        (RawData::Csv(row), _) => parse_csv(row, raw.line, &mut parts),
    }
    if parts.kept.len() < fields.keep().len() {
        parts.kept.resize(fields.keep().len(), Value::Null);
    }
    if parts.error.is_none() && parts.text.trim().is_empty() {
        parts.problem(Problem::EmptyText, || "empty text".to_string());
    }
    let classify_start = Instant::now();
    let decision = engine.classify(&parts.text);
    let classify_end = Instant::now();
    timing.classify += classify_end - classify_start;
    timing.other += classify_start - started;
    Scored {
        source: raw.source,
        format: raw.format,
        line: raw.line,
        id: match parts.id_text {
            Some(text) => Id::Number(text),
            None => Id::Value(parts.id),
        },
        decision,
        error: parts.error,
        kept: parts.kept,
    }
}

fn utf8<'a>(bytes: &'a [u8], parts: &mut Parts) -> Cow<'a, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            parts.problem(Problem::InvalidUtf8, || "invalid UTF-8".to_string());
            String::from_utf8_lossy(bytes)
        }
    }
}

fn parse_json(bytes: &[u8], format: Format, fields: &Fields, parts: &mut Parts) {
    let line = utf8(bytes, parts);
    let id_path = fields.id(format);
    let text_path = fields.text(format);
    match serde_json::from_str::<Value>(&line) {
        Ok(Value::Object(obj)) => {
            if format == Format::Fhir
                && obj.get("resourceType").and_then(Value::as_str) != Some("Communication")
            {
                parts.problem(Problem::NotCommunication, || {
                    "not a FHIR Communication resource (resourceType)".to_string()
                });
            }
            // A repeated id or text key is ambiguous: flag it, and read
            // every value it was given (the text of all of them, the ids
            // as an array) rather than serde_json's silent last one.
            let id_copies = repeated(&line, &obj, id_path, parts);
            let text_copies = repeated(&line, &obj, text_path, parts);
            parts.id = match &id_copies {
                None => id_path.value(&obj),
                Some(copies) => value_over(id_path, copies),
            };
            if parts.id.is_f64() && id_copies.is_none() {
                parts.id_text = number_text(&line, id_path);
            }
            parts.kept = fields.keep().iter().map(|k| k.value(&obj)).collect();
            let objects = text_copies.as_deref().unwrap_or(std::slice::from_ref(&obj));
            parts.text = text_of(objects, fields, format, parts);
            if parts.id.is_null() {
                parts.problem(Problem::MissingId, || {
                    format!("missing id field `{}`", id_path.as_str())
                });
            }
        }
        Ok(_) => parts.problem(Problem::NotObject, || "not a JSON object".to_string()),
        Err(e) => {
            parts.problem(Problem::BadJson, || {
                let what = e.to_string();
                let what = what.split(" at line").next().unwrap_or("syntax error");
                format!("bad JSON: {what} (column {})", e.column())
            });
            // Recover what we can: the fields if they can be found,
            // otherwise the whole line as text.
            parts.id = salvage(&line, id_path.leaf()).unwrap_or(Value::Null);
            if parts.id.is_f64() {
                parts.id_text = salvage_number_text(&line, id_path.leaf());
            }
            parts.text = match salvage(&line, text_path.leaf()) {
                Some(Value::String(t)) => t,
                _ => line.into_owned(),
            };
        }
    }
}

/// The text at the text path in `objects` (one object, or one per copy of
/// a repeated key): strings joined by newlines (FHIR payloads), anything
/// else noted as a problem and read as JSON text.
fn text_of(
    objects: &[Map<String, Value>],
    fields: &Fields,
    format: Format,
    parts: &mut Parts,
) -> String {
    let path = fields.text(format);
    let found: Vec<&Value> = objects
        .iter()
        .flat_map(|obj| path.resolve(obj))
        .filter(|v| !v.is_null())
        .collect();
    if found.is_empty() {
        parts.problem(Problem::MissingText, || {
            if format == Format::Fhir && !fields.text_given() {
                "no payload[].contentString (attachments are not read)".to_string()
            } else {
                format!("missing text field `{}`", path.as_str())
            }
        });
        return String::new();
    }
    let mut text = String::new();
    for (i, v) in found.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        match v {
            Value::String(s) => text.push_str(s),
            other => {
                parts.problem(Problem::TextNotString, || {
                    format!("text field `{}` is not a string", path.as_str())
                });
                text.push_str(&other.to_string());
            }
        }
    }
    text
}

fn parse_csv(row: &CsvRow, line: u64, parts: &mut Parts) {
    if let Some(damage) = row.damage {
        parts.problem(Problem::BadCsvRow, || csv_damage(damage));
    }
    if row.width != row.expected_width {
        parts.problem(Problem::BadCsvRow, || {
            let other = if row.header {
                "the header"
            } else {
                "the first row"
            };
            format!(
                "CSV row has {} fields, {other} has {}",
                row.width, row.expected_width
            )
        });
    }
    let cell =
        |c: &Option<Vec<u8>>, parts: &mut Parts| c.as_deref().map(|b| utf8(b, parts).into_owned());
    let id = cell(&row.id, parts);
    let text = match (&row.text, &row.all) {
        (Some(t), _) => utf8(t, parts).into_owned(),
        (None, Some(all)) => utf8(all, parts).into_owned(),
        (None, None) => String::new(),
    };
    parts.kept = row
        .keep
        .iter()
        .map(|k| cell(k, parts).map_or(Value::Null, Value::String))
        .collect();
    match id {
        _ if row.id_is_line => parts.id = Value::from(line),
        Some(id) if !id.trim().is_empty() => parts.id = Value::String(id),
        _ => parts.problem(Problem::MissingId, || {
            "missing id (empty id cell)".to_string()
        }),
    }
    parts.text = text;
}

/// The `error` sentence for a damaged CSV row; it names lines, never cells.
fn csv_damage(damage: Damage) -> String {
    match damage {
        Damage::Unclosed(why) => {
            let why = match why {
                Unclosed::EndOfInput => "the input ends inside the quoted field".to_string(),
                Unclosed::TooManyLines(n) => {
                    format!("the quoted field would span more than {n} lines")
                }
                Unclosed::TooManyBytes(n) => {
                    format!("the row would be longer than {} MiB", n >> 20)
                }
                Unclosed::ClosedMidField(l) => {
                    format!("the quote on line {l} that would close it is followed by more text")
                }
            };
            format!(
                "CSV row: an opening quote on this line was never closed ({why}); scored on this line alone, the lines after it were read as rows of their own"
            )
        }
        Damage::TextAfterQuote => {
            "CSV row has text after the closing quote of a field (kept as part of the field)"
                .to_string()
        }
        Damage::QuoteInUnquoted => {
            "CSV row has a quote inside an unquoted field (kept as a character)".to_string()
        }
        Damage::Nul => "CSV row contains a NUL byte".to_string(),
    }
}

/// The members of one JSON object in order, duplicates kept, each value as
/// its JSON text (so a number keeps its exact digits).
pub struct Members<'a>(pub Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// When the key `path` starts with appears more than once at the top level
/// of `line` (whose last copy is in `obj`): flag the record and return one
/// object per copy, each holding only that key, in order. serde_json keeps
/// only the last copy; a triage must not ignore the others. Keys spelled
/// with `\u` escapes are not compared with the plain spelling.
fn repeated(
    line: &str,
    obj: &Map<String, Value>,
    path: &FieldPath,
    parts: &mut Parts,
) -> Option<Vec<Map<String, Value>>> {
    let key = if obj.contains_key(path.as_str()) {
        path.as_str()
    } else {
        path.segments().first()?.as_str()
    };
    // Cheap first: the quoted key must occur twice in the line (a string
    // value cannot hide an unescaped quote), so the common record pays no
    // second parse.
    let quoted = serde_json::to_string(key).ok()?;
    line.matches(quoted.as_str()).nth(1)?;
    let Members(members) = serde_json::from_str::<Members>(line).ok()?;
    let copies: Vec<Map<String, Value>> = members
        .into_iter()
        .filter(|(k, _)| k == key)
        .filter_map(|(k, v)| {
            let v = serde_json::from_str::<Value>(v.get()).ok()?;
            Some(Map::from_iter([(k, v)]))
        })
        .collect();
    if copies.len() < 2 {
        return None;
    }
    parts.problem(Problem::DuplicateField, || {
        format!(
            "the field `{key}` appears {} times; all of its values were read",
            copies.len()
        )
    });
    Some(copies)
}

/// The values `path` reaches over several objects: one as is, several as
/// an array, none as null (as [`FieldPath::value`] does in one object).
fn value_over(path: &FieldPath, objects: &[Map<String, Value>]) -> Value {
    let mut found: Vec<&Value> = objects.iter().flat_map(|o| path.resolve(o)).collect();
    match found.len() {
        0 => Value::Null,
        1 => found.remove(0).clone(),
        _ => Value::Array(found.into_iter().cloned().collect()),
    }
}

/// The JSON text of the one number `path` reaches in `line` (a valid JSON
/// object), so an id is echoed with the digits it was written with; None
/// when the path gathers over an array or does not reach a number. Read only
/// for ids that serde_json holds as a float (beyond 64 bits, a fraction or
/// an exponent; a 64-bit integer is written exactly anyway), so the common
/// record pays no second parse.
pub fn number_text(line: &str, path: &FieldPath) -> Option<Box<RawValue>> {
    use std::collections::HashMap;
    // As `serde_json::Value`, a repeated key keeps its last value.
    let member = |object: &str, key: &str| -> Option<Box<RawValue>> {
        let map = serde_json::from_str::<HashMap<String, &RawValue>>(object).ok()?;
        map.get(key).map(|v| (*v).to_owned())
    };
    let found = match member(line, path.as_str()) {
        Some(v) => v,
        None => {
            let (first, rest) = path.segments().split_first()?;
            let mut current = member(line, first)?;
            for seg in rest {
                current = if current.get().starts_with('{') {
                    member(current.get(), seg)?
                } else {
                    let items = serde_json::from_str::<Vec<&RawValue>>(current.get()).ok()?;
                    (*items.get(seg.parse::<usize>().ok()?)?).to_owned()
                };
            }
            current
        }
    };
    // A RawValue holds the value's text without the whitespace around it.
    found
        .get()
        .starts_with(|c: char| c == '-' || c.is_ascii_digit())
        .then_some(found)
}

/// The text of the number after `"field":` in a line that is not valid JSON
/// (what [`salvage`] reads as a float), when it is a JSON number.
pub fn salvage_number_text(line: &str, field: &str) -> Option<Box<RawValue>> {
    let number = number_prefix(value_after_key(line, field)?);
    serde_json::from_str::<&RawValue>(number)
        .ok()
        .map(ToOwned::to_owned)
}

/// What follows `"field":` (and the spaces after the colon) in a line that
/// is not valid JSON.
fn value_after_key<'a>(line: &'a str, field: &str) -> Option<&'a str> {
    let key = format!("\"{field}\"");
    let at = line.find(&key)? + key.len();
    Some(line[at..].trim_start().strip_prefix(':')?.trim_start())
}

/// The characters a JSON number can have, from the start of `rest`.
fn number_prefix(rest: &str) -> &str {
    let len = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '-' | '.' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    &rest[..len]
}

/// Find `"field": value` in a line that is not valid JSON and decode the
/// value: a string (up to its closing quote, or the end of the line when the
/// record was cut), or a number.
pub fn salvage(line: &str, field: &str) -> Option<Value> {
    let rest = value_after_key(line, field)?;
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
    serde_json::from_str::<serde_json::Number>(number_prefix(rest))
        .ok()
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::{Problem, salvage};
    use serde_json::json;

    #[test]
    fn problem_kinds_index_their_own_slot() {
        for (i, p) in Problem::ALL.iter().enumerate() {
            assert_eq!(p.index(), i, "{}", p.name());
        }
    }

    #[test]
    fn salvages_fields_of_broken_lines() {
        let line = r#"{"id": "m7", "text": "chest pain \"bad\" and"#;
        assert_eq!(salvage(line, "id"), Some(json!("m7")));
        assert_eq!(salvage(line, "text"), Some(json!("chest pain \"bad\" and")));
        assert_eq!(salvage(r#"{"id": 42, "text": }"#, "id"), Some(json!(42)));
        assert_eq!(salvage("no fields here", "id"), None);
    }
}
