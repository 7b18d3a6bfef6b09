//! Field names and dotted paths: `--id-field`, `--text-field`,
//! `--keep-fields`.

use crate::input::Format;
use serde_json::{Map, Value};

/// A JSON key or CSV column name; for JSON also a dotted path
/// (`message.body`, `payload.contentString`, `notes.0.text`).
///
/// A key that itself contains dots is found first; otherwise each segment
/// steps into an object, a number indexes an array, and any other segment
/// applied to an array applies to each element (so `payload.contentString`
/// gathers the text of every payload).
#[derive(Debug, Clone)]
pub struct FieldPath {
    raw: String,
    segments: Vec<String>,
}

impl FieldPath {
    /// A path from its written form.
    pub fn new(raw: &str) -> FieldPath {
        FieldPath {
            raw: raw.to_string(),
            segments: raw.split('.').map(str::to_string).collect(),
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The segments of the dotted form.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// The last segment (used to recover a field from a broken line).
    pub fn leaf(&self) -> &str {
        self.segments.last().map_or(&self.raw, String::as_str)
    }

    /// Every value the path reaches in `obj`, in document order.
    pub fn resolve<'a>(&self, obj: &'a Map<String, Value>) -> Vec<&'a Value> {
        if let Some(v) = obj.get(&self.raw) {
            return vec![v];
        }
        let Some((first, rest)) = self.segments.split_first() else {
            return Vec::new();
        };
        let mut current: Vec<&Value> = obj.get(first).into_iter().collect();
        for seg in rest {
            let mut next = Vec::new();
            for v in current {
                step(v, seg, &mut next);
            }
            current = next;
        }
        current
    }

    /// Does `obj` have this field (with a non-null value)?
    pub fn has_in(&self, obj: &Map<String, Value>) -> bool {
        self.resolve(obj).iter().any(|v| !v.is_null())
    }

    /// The value at the path: one value as is, several as an array, none as
    /// null.
    pub fn value(&self, obj: &Map<String, Value>) -> Value {
        let mut found = self.resolve(obj);
        match found.len() {
            0 => Value::Null,
            1 => found.remove(0).clone(),
            _ => Value::Array(found.into_iter().cloned().collect()),
        }
    }
}

fn step<'a>(v: &'a Value, seg: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => out.extend(m.get(seg)),
        Value::Array(items) => match seg.parse::<usize>() {
            Ok(i) => out.extend(items.get(i)),
            Err(_) => {
                for item in items {
                    step(item, seg, out);
                }
            }
        },
        _ => {}
    }
}

/// `--no-header`: the CSV columns read, by index from 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// The id column (None: the line number is the id).
    pub id: Option<usize>,
    /// The text column.
    pub text: usize,
    /// One entry per `--keep-fields` number.
    pub keep: Vec<usize>,
}

/// The fields `score` reads, with the defaults of each format.
#[derive(Debug, Clone)]
pub struct Fields {
    id: Option<FieldPath>,
    text: Option<FieldPath>,
    keep: Vec<FieldPath>,
    default_id: FieldPath,
    default_text: FieldPath,
    fhir_text: FieldPath,
    columns: Option<Columns>,
}

impl Fields {
    /// The fields from the command line (None: the format's default).
    pub fn new(id: Option<&str>, text: Option<&str>, keep: &[String]) -> Fields {
        Fields {
            id: id.map(FieldPath::new),
            text: text.map(FieldPath::new),
            keep: keep.iter().map(|k| FieldPath::new(k)).collect(),
            default_id: FieldPath::new("id"),
            default_text: FieldPath::new("text"),
            fhir_text: FieldPath::new("payload.contentString"),
            columns: None,
        }
    }

    /// Read CSV without a header row, these columns.
    pub fn with_columns(mut self, columns: Columns) -> Fields {
        self.columns = Some(columns);
        self
    }

    /// The columns by number under `--no-header`.
    pub fn columns(&self) -> Option<&Columns> {
        self.columns.as_ref()
    }

    /// The id field for `format` (`id` unless given).
    pub fn id(&self, _format: Format) -> &FieldPath {
        self.id.as_ref().unwrap_or(&self.default_id)
    }

    /// The text field for `format` (`text`, or `payload.contentString` for
    /// FHIR, unless given).
    pub fn text(&self, format: Format) -> &FieldPath {
        match (&self.text, format) {
            (Some(t), _) => t,
            (None, Format::Fhir) => &self.fhir_text,
            (None, _) => &self.default_text,
        }
    }

    /// Was `--text-field` given?
    pub fn text_given(&self) -> bool {
        self.text.is_some()
    }

    /// The `--keep-fields`.
    pub fn keep(&self) -> &[FieldPath] {
        &self.keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn dotted_paths_reach_nested_fields_and_gather_over_arrays() {
        let o = obj(json!({
            "message": {"body": "hi"},
            "a.b": 1,
            "payload": [{"contentString": "one"}, {"contentAttachment": {}}, {"contentString": "two"}]
        }));
        assert_eq!(FieldPath::new("message.body").value(&o), json!("hi"));
        assert_eq!(FieldPath::new("a.b").value(&o), json!(1));
        assert_eq!(
            FieldPath::new("payload.contentString").value(&o),
            json!(["one", "two"])
        );
        assert_eq!(
            FieldPath::new("payload.2.contentString").value(&o),
            json!("two")
        );
        assert_eq!(FieldPath::new("message.nope").value(&o), Value::Null);
        assert!(!FieldPath::new("nope").has_in(&o));
        assert_eq!(
            FieldPath::new("payload.contentString").leaf(),
            "contentString"
        );
    }
}
