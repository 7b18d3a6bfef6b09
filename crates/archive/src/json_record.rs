//! The JSON record of one decision, as `portal-triage score` writes it (one
//! JSON Lines record) and the HTTP service answers with it: one builder for
//! both, the caller choosing what differs (whether `flags` is always
//! written, whether the explanation is, and how its spans are given).
//!
//! The record's `id` is written exactly as it was read: a number such as
//! `18446744073709551616` or `1e2` keeps its digits rather than becoming
//! the nearest 64-bit float.

use portal_triage::Decision;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

/// A record's id as it was read, written back exactly.
#[derive(Debug, Clone)]
pub enum Id {
    /// Any JSON value, written as `serde_json` writes it: null (no id), a
    /// string, or what a field path found (an array of the values of a
    /// repeated id key, ...).
    Value(Value),
    /// A number kept as its text in the input, echoed as written.
    Number(Box<RawValue>),
}

impl Id {
    /// No id (`null`).
    pub fn null() -> Id {
        Id::Value(Value::Null)
    }

    /// A string id.
    pub fn text(s: String) -> Id {
        Id::Value(Value::String(s))
    }

    /// Whether this is the null id.
    pub fn is_null(&self) -> bool {
        matches!(self, Id::Value(Value::Null))
    }

    /// The id as plain text (a CSV cell, a note): empty for null, a string
    /// as it is, a number as written, anything else as JSON.
    pub fn plain(&self) -> String {
        match self {
            Id::Number(raw) => raw.get().to_string(),
            Id::Value(Value::Null) => String::new(),
            Id::Value(Value::String(s)) => s.clone(),
            Id::Value(other) => other.to_string(),
        }
    }
}

impl From<Value> for Id {
    fn from(v: Value) -> Id {
        Id::Value(v)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Value(v) => v.serialize(serializer),
            Id::Number(raw) => raw.serialize(serializer),
        }
    }
}

/// When the `flags` field is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flags {
    /// Always, as an array (the HTTP answers).
    Always,
    /// Only when the decision has flags (`score`'s records).
    WhenPresent,
}

/// A list of spans in the explanation, for a caller that rewrites spans
/// (see [`JsonRecord::explain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanList {
    /// `findings`: the mentions that counted.
    Findings,
    /// `suppressed`: the mentions that did not count, and why.
    Suppressed,
    /// `readings`: the vital-sign readings.
    Readings,
}

/// One output record: its fields in a map, with the `id` written from
/// [`Id`] exactly as read (the map holds the place of `id` only).
#[derive(Debug, Clone)]
pub struct JsonRecord {
    id: Id,
    fields: Map<String, Value>,
}

impl JsonRecord {
    /// A record holding only `id`.
    pub fn new(id: Id) -> JsonRecord {
        let mut fields = Map::new();
        // The place of the id; serializing writes `id` there.
        fields.insert("id".into(), Value::Null);
        JsonRecord { id, fields }
    }

    /// The head of a decision's record: `id`, `route`, `score`, `rules`
    /// and `flags` (per `flags`).
    pub fn decision(id: Id, d: &Decision, flags: Flags) -> JsonRecord {
        let mut rec = JsonRecord::new(id);
        rec.insert("route", json!(d.route));
        rec.insert("score", json!(d.score));
        rec.insert("rules", json!(d.rule_ids()));
        if flags == Flags::Always || !d.flags.is_empty() {
            rec.insert("flags", json!(d.flags));
        }
        rec
    }

    /// Add the explanation: `findings`, `suppressed`, `readings`, `advice`
    /// and `summary`. Each list of spans goes through `spans` first (the
    /// HTTP service gives spans per field and in UTF-16 code units too);
    /// [`JsonRecord::explain_as_is`] writes them as the engine gives them.
    pub fn explain(&mut self, d: &Decision, mut spans: impl FnMut(SpanList, Value) -> Value) {
        self.insert("findings", spans(SpanList::Findings, json!(d.findings)));
        self.insert(
            "suppressed",
            spans(SpanList::Suppressed, json!(d.suppressed)),
        );
        self.insert("readings", spans(SpanList::Readings, json!(d.readings)));
        self.insert("advice", json!(d.advice));
        self.insert("summary", json!(d.summary));
    }

    /// [`JsonRecord::explain`] with the spans in bytes of the classified
    /// text, as the engine gives them.
    pub fn explain_as_is(&mut self, d: &Decision) {
        self.explain(d, |_, v| v);
    }

    /// Add (or replace) a field. The `id` is not a field: it is given to
    /// [`JsonRecord::new`].
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        if key != "id" {
            self.fields.insert(key, value);
        }
    }

    /// The id.
    pub fn id(&self) -> &Id {
        &self.id
    }

    /// The fields (the value of `id` in it is a placeholder).
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }
}

impl Serialize for JsonRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (key, value) in &self.fields {
            if key == "id" {
                map.serialize_entry(key, &self.id)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_string(v: &impl Serialize) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }

    #[test]
    fn numeric_ids_are_written_as_read() {
        for text in ["18446744073709551616", "1e2", "-0.50", "7"] {
            let raw = serde_json::from_str::<Box<RawValue>>(text);
            let Ok(raw) = raw else {
                panic!("{text} is JSON");
            };
            let rec = JsonRecord::new(Id::Number(raw));
            assert_eq!(to_string(&rec), format!("{{\"id\":{text}}}"));
        }
        assert_eq!(to_string(&Id::null()), "null");
        assert_eq!(to_string(&Id::text("café".into())), "\"café\"");
        assert_eq!(Id::null().plain(), "");
        assert_eq!(Id::from(json!([1, "a"])).plain(), "[1,\"a\"]");
    }

    #[test]
    fn flags_are_written_as_asked() {
        let d = portal_triage::Triage::default().classify("refill my metformin please");
        assert!(d.flags.is_empty());
        let always = JsonRecord::decision(Id::null(), &d, Flags::Always);
        assert_eq!(always.fields().get("flags"), Some(&json!([])));
        let present = JsonRecord::decision(Id::null(), &d, Flags::WhenPresent);
        assert_eq!(present.fields().get("flags"), None);
    }

    #[test]
    fn the_id_cannot_be_overwritten_by_a_field() {
        let mut rec = JsonRecord::new(Id::text("a".into()));
        rec.insert("id", json!("b"));
        rec.insert("x", json!(1));
        assert_eq!(to_string(&rec), r#"{"id":"a","x":1}"#);
    }
}
