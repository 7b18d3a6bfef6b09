//! The HTTP endpoints: triage one message or a batch, health, metrics, the
//! OpenAPI document and the demo page.
//!
//! Every answer is JSON except the page, its assets and the metrics; every
//! error is `{"error": {"code", "message"}}` with a 4xx status, and no error
//! message ever quotes the request body (it is patient health information).

use super::metrics::Metrics;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use portal_triage::{Decision, Triage};
use portal_triage_archive::json_record::{Flags, SpanList};
use portal_triage_archive::{Id, JsonRecord, Members};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The OpenAPI document, kept in the repository and served as is.
pub const OPENAPI: &str = include_str!("../docs/openapi.json");
/// The demo page and its assets (no build step, no external network).
pub const INDEX_HTML: &str = include_str!("../web/index.html");
/// The demo page's script.
pub const APP_JS: &str = include_str!("../web/app.js");
/// The demo page's style sheet.
pub const APP_CSS: &str = include_str!("../web/app.css");

/// An over-limit body is read and discarded up to this many bytes (so the
/// client reads the 413 instead of a reset connection); past it the
/// connection is closed.
const DRAIN_LIMIT: usize = 64 << 20;

/// What every handler shares.
pub struct Service {
    /// The engine (immutable, shared by every request).
    pub engine: Triage,
    /// Request counters.
    pub metrics: Metrics,
    /// How large a request body may be, and how long it may take.
    pub body: BodyLimits,
    /// The most messages in one batch.
    pub max_batch_items: usize,
    /// Bounds the messages classified at once to the cores, so a burst of
    /// requests queues here instead of piling up blocking threads.
    pub classify_slots: Semaphore,
    /// How many rules the engine has (for `/healthz`).
    pub rule_count: usize,
    /// The triage requests and the bytes held in flight
    /// (`--max-inflight-requests`, `--max-inflight-bytes`).
    pub limits: Arc<super::limits::Limits>,
}

/// How large a request body may be, and how long it may take to arrive.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// The largest body accepted, in bytes (larger: 413).
    pub max_bytes: usize,
    /// A body still arriving after this long is answered with 408.
    pub timeout: Duration,
}

/// The shared state of the router.
pub type Shared = Arc<Service>;

/// An error answer: status, stable code, and a message that never quotes
/// the request body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, kebab-case code (also the metrics label).
    pub code: &'static str,
    /// One sentence saying what was wrong and what to do.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 503 `overloaded`: over an in-flight limit; retry later.
    pub fn overloaded(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", message)
    }

    /// The `{"code", "message"}` object.
    fn body(&self) -> Value {
        json!({"code": self.code, "message": self.message})
    }

    /// Count the error and build the response.
    pub fn respond(self, service: &Service) -> Response {
        service.metrics.error(self.code);
        (self.status, json_response(&json!({"error": self.body()}))).into_response()
    }
}

/// A JSON response body with its content type.
fn json_response<T: Serialize>(value: &T) -> Response {
    // A Value always serializes.
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    // The answer to a long message can be megabytes, held until the client
    // has read it: not the up to twice as much that growing by doubling
    // leaves allocated.
    body.shrink_to_fit();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// The media type of the request, lowercased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = v.split(';').next().unwrap_or("").trim();
    Some(essence.to_ascii_lowercase())
}

/// Read the whole body, up to `limit` bytes. An over-limit body is still
/// read (and dropped) up to [`DRAIN_LIMIT`] so the client gets to read the
/// 413; a declared `Content-Length` over the limit is refused before
/// reading (a client that sent `Expect: 100-continue`, as curl does for
/// large bodies, then never sends it).
async fn read_body(headers: &HeaderMap, body: Body, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let limit = limits.max_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!(
                "the request body is larger than the limit of {limit} bytes (--max-body-bytes); send fewer or shorter messages"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) && expects_continue(headers) {
        return Err(too_large());
    }
    let read = async {
        let mut body = body;
        // A declared length (within the limit) is allocated once: growing
        // by doubling would hold up to twice the body at a time.
        let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(0).min(limit));
        let mut buf: Vec<u8> = Vec::with_capacity(capacity);
        let mut seen = 0usize;
        let mut overloaded = false;
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(frame) => frame,
                // Over --max-inflight-bytes while arriving: keep nothing
                // more, drain the rest, answer 503.
                Err(e) if is_overloaded(&e) => {
                    overloaded = true;
                    buf = Vec::new();
                    continue;
                }
                // The client went away or sent a broken body; nobody reads
                // this answer, but say what happened.
                Err(_) => {
                    return Err(ApiError::bad(
                        "bad-body",
                        "the request body could not be read",
                    ));
                }
            };
            if let Ok(data) = frame.into_data() {
                seen = seen.saturating_add(data.len());
                if seen <= limit && !overloaded {
                    buf.extend_from_slice(&data);
                } else if seen > DRAIN_LIMIT {
                    break;
                }
            }
        }
        if seen > limit {
            Err(too_large())
        } else if overloaded {
            Err(super::limits::overloaded(
                "the request bytes in flight are at --max-inflight-bytes",
            ))
        } else {
            Ok(Bytes::from(buf))
        }
    };
    match tokio::time::timeout(limits.timeout, read).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!(
                "the request body did not arrive within {} seconds (--body-timeout)",
                limits.timeout.as_secs_f64()
            ),
        )),
    }
}

/// Whether a body error is the metered body's "over --max-inflight-bytes".
fn is_overloaded(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<super::limits::Overloaded>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Did the client send `Expect: 100-continue` (it sends the body only when
/// asked to, so a refused body need not be drained)?
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Read and drop a body the answer does not need (so the client reads the
/// answer rather than a reset connection), keeping none of it; up to
/// [`DRAIN_LIMIT`] bytes and `--body-timeout`. A client that waits for
/// `100 Continue` is not asked to send it.
pub async fn drain_body(headers: &HeaderMap, body: Body, limits: BodyLimits) {
    if expects_continue(headers) {
        return;
    }
    let drain = async {
        let mut body = body;
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                seen = seen.saturating_add(data.len());
                if seen > DRAIN_LIMIT {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(limits.timeout, drain).await;
}

/// Check the content type against the accepted ones; on a mismatch the body
/// is still drained so the connection stays usable.
async fn expect_media(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
    accepted: &[&str],
) -> Result<(String, Bytes), ApiError> {
    let media = media_type(headers);
    match media {
        Some(m) if accepted.contains(&m.as_str()) => {
            let bytes = read_body(headers, body, limits).await?;
            Ok((m, bytes))
        }
        other => {
            let _ = read_body(headers, body, limits).await;
            let got = match other {
                Some(m) => format!("got `{m}`"),
                None => "no Content-Type was given".to_string(),
            };
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                format!(
                    "send the body as {} ({got}), e.g. with the header `Content-Type: {}`",
                    accepted.join(" or "),
                    accepted[0]
                ),
            ))
        }
    }
}

/// The batch answer (keys in the order they have always been written).
#[derive(Serialize)]
struct BatchAnswer {
    errors: usize,
    results: Vec<JsonRecord>,
}

/// One message to triage, parsed from a JSON object.
struct Message {
    id: Id,
    /// The optional subject line, classified with the text.
    subject: Option<String>,
    text: String,
}

/// A key short and plain enough to name in an error message (a field name,
/// not a value somebody put in the key position).
fn nameable(key: &str) -> bool {
    (1..=32).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Read `{"text": "...", "subject": optional, "id": optional}`. Messages
/// name the field, never its value. Every key of the message object must
/// appear once (a repeated key is ambiguous: 400 `duplicate-field`); values
/// of other keys are not read, so keys nested inside them are not checked.
fn message_of(raw: &RawValue) -> Result<Message, (Id, ApiError)> {
    let not_an_object = || {
        (
            Id::null(),
            ApiError::bad(
                "not-an-object",
                "expected a JSON object like {\"text\": \"...\"}",
            ),
        )
    };
    if !raw.get().starts_with('{') {
        return Err(not_an_object());
    }
    let Ok(Members(members)) = serde_json::from_str::<Members>(raw.get()) else {
        return Err(not_an_object());
    };
    // A value given as null counts as absent.
    let get = |name: &str| {
        members
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
            .filter(|v| v.get() != "null")
    };
    let id = match get("id") {
        None => Ok(Id::null()),
        Some(v) if v.get().starts_with('"') => serde_json::from_str::<String>(v.get())
            .map(Id::text)
            .map_err(|_| ()),
        Some(v)
            if v.get()
                .starts_with(|c: char| c == '-' || c.is_ascii_digit()) =>
        {
            Ok(Id::Number(v.to_owned()))
        }
        Some(_) => Err(()),
    };
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    if let Some((key, _)) = members.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        let named = if nameable(key) {
            format!("the field `{key}` appears more than once")
        } else {
            "a field appears more than once".to_string()
        };
        // An id given twice is not echoed: which one would it be?
        let id = if key == "id" {
            Id::null()
        } else {
            id.unwrap_or(Id::null())
        };
        return Err((
            id,
            ApiError::bad(
                "duplicate-field",
                format!("{named} in the message object; send each field once"),
            ),
        ));
    }
    let Ok(id) = id else {
        return Err((
            Id::null(),
            ApiError::bad("bad-id", "`id` must be a string or a number"),
        ));
    };
    let subject = match get("subject") {
        None => None,
        Some(v) => match serde_json::from_str::<String>(v.get()) {
            Ok(s) => Some(s),
            Err(_) => {
                return Err((
                    id,
                    ApiError::bad("subject-not-a-string", "`subject` must be a string"),
                ));
            }
        },
    };
    match get("text").map(|v| serde_json::from_str::<String>(v.get())) {
        Some(Ok(text)) => Ok(Message { id, subject, text }),
        None => Err((
            id,
            ApiError::bad(
                "missing-text",
                "missing `text` field (the message, a string)",
            ),
        )),
        Some(Err(_)) => Err((
            id,
            ApiError::bad("text-not-a-string", "`text` must be a string"),
        )),
    }
}

/// The serde_json error without the input it quotes: its category and
/// position only.
fn json_error(e: &serde_json::Error) -> ApiError {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the JSON ends too early",
        serde_json::error::Category::Syntax => "the JSON is malformed",
        serde_json::error::Category::Data => "the JSON has an unexpected value",
        serde_json::error::Category::Io => "the JSON could not be read",
    };
    ApiError::bad(
        "bad-json",
        format!("{what} (line {}, column {})", e.line(), e.column()),
    )
}

/// The UTF-8 byte-order mark some clients (and Windows tools) put before
/// JSON; skipped at the start of a body, as `score` skips it in a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

/// Check that the bytes are one JSON value and keep its text.
fn parse_json(bytes: &[u8]) -> Result<&RawValue, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad("invalid-utf8", "the body is not valid UTF-8"))?;
    serde_json::from_str::<&RawValue>(text).map_err(|e| json_error(&e))
}

/// UTF-16 code units before byte offset `at` of `text` (what JavaScript
/// string indexes count); 0 if `at` is not a char boundary of `text`.
/// The reference for [`Utf16Index`].
#[cfg(test)]
fn utf16_offset(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |s| s.encode_utf16().count())
}

/// Byte offsets of one text to UTF-16 code units (what JavaScript string
/// indexes count), each in constant time after one pass over the text.
/// Counting from the start for every span took time proportional to the
/// text times the findings: 27 s for a 1 MiB message with 25,000 findings.
struct Utf16Index<'a> {
    text: &'a str,
    /// The code units of the characters that start before each
    /// [`UTF16_BLOCK`]-byte block; empty for ASCII text, where the two
    /// counts are the same.
    blocks: Vec<usize>,
}

/// Bytes per block of a [`Utf16Index`]: a look-up counts at most this many
/// bytes.
const UTF16_BLOCK: usize = 64;

impl<'a> Utf16Index<'a> {
    fn new(text: &'a str) -> Utf16Index<'a> {
        if text.is_ascii() {
            return Utf16Index {
                text,
                blocks: Vec::new(),
            };
        }
        let mut blocks = vec![0; text.len() / UTF16_BLOCK + 1];
        let mut next = 0;
        let mut units = 0;
        for (i, c) in text.char_indices() {
            while next * UTF16_BLOCK <= i {
                blocks[next] = units;
                next += 1;
            }
            units += c.len_utf16();
        }
        for b in blocks.iter_mut().skip(next) {
            *b = units;
        }
        Utf16Index { text, blocks }
    }

    /// The code units before byte `at`; 0 when `at` is not a character
    /// boundary of the text (as [`utf16_offset`] answers).
    fn at(&self, at: usize) -> usize {
        if !self.text.is_char_boundary(at) {
            return 0;
        }
        if self.blocks.is_empty() {
            return at;
        }
        let block = at / UTF16_BLOCK;
        let mut from = block * UTF16_BLOCK;
        while !self.text.is_char_boundary(from) {
            from += 1;
        }
        let within: usize = self
            .text
            .get(from..at)
            .map_or(0, |s| s.chars().map(char::len_utf16).sum());
        self.blocks.get(block).copied().unwrap_or(0) + within
    }
}

/// Between the subject and the text in what the engine reads: a blank line
/// ends a sentence, so no phrase, clause or negation runs from one field
/// into the other.
const FIELD_SEPARATOR: &str = "\n\n";

/// Where a message's fields sit in the text the engine read.
struct Layout<'a> {
    /// The subject, when the request had one: then every span names the
    /// field it is in (`"field": "subject"` or `"text"`).
    subject: Option<&'a str>,
    /// Where `text` starts in the engine's text (after a non-blank subject
    /// and the separator; else 0).
    text_at: usize,
    /// The message text.
    text: &'a str,
    /// UTF-16 offsets in the subject (empty without one) and in the text.
    subject_units: Utf16Index<'a>,
    text_units: Utf16Index<'a>,
}

impl Layout<'_> {
    /// The field a span starting at byte `start` of the engine's text is
    /// in: its name, its text, and where it starts.
    fn locate(&self, start: usize) -> (&'static str, &str, usize) {
        match self.subject {
            Some(subject) if start < self.text_at => ("subject", subject, 0),
            _ => ("text", self.text, self.text_at),
        }
    }

    /// Make the span of `obj` (`start`, `end`) relative to its field, name
    /// the field when there is a subject, and with `utf16` add the span in
    /// UTF-16 code units of that field.
    fn rebase(&self, obj: &mut Map<String, Value>, utf16: bool) {
        let at = |key: &str| {
            let n = obj.get(key).and_then(Value::as_u64).unwrap_or(0);
            usize::try_from(n).unwrap_or(usize::MAX)
        };
        let (start, end) = (at("start"), at("end"));
        let (field, text, base) = self.locate(start);
        let start = start.saturating_sub(base).min(text.len());
        let end = end.saturating_sub(base).clamp(start, text.len());
        if self.subject.is_some() {
            obj.insert("field".into(), json!(field));
            obj.insert("start".into(), json!(start));
            obj.insert("end".into(), json!(end));
        }
        if utf16 {
            let units = if field == "subject" {
                &self.subject_units
            } else {
                &self.text_units
            };
            obj.insert("start_utf16".into(), json!(units.at(start)));
            obj.insert("end_utf16".into(), json!(units.at(end)));
        }
    }

    /// Rebase every span in `items` (findings, suppressed mentions or
    /// readings), and with a subject also the spans inside them (cues and
    /// causes).
    fn spans(&self, items: Value, utf16: bool) -> Value {
        let Value::Array(mut items) = items else {
            return items;
        };
        for item in &mut items {
            let Value::Object(obj) = item else { continue };
            self.rebase(obj, utf16);
            if self.subject.is_none() {
                continue;
            }
            if let Some(Value::Object(cause)) = obj.get_mut("cause") {
                self.rebase(cause, false);
            }
            let cues = obj
                .get_mut("context")
                .and_then(|c| c.get_mut("cues"))
                .and_then(Value::as_array_mut);
            for cue in cues.into_iter().flatten() {
                if let Value::Object(cue) = cue {
                    self.rebase(cue, false);
                }
            }
        }
        Value::Array(items)
    }
}

/// The JSON answer for one message: the same fields as `score --explain`
/// (id, route, score, rules, flags, findings, suppressed, readings, advice,
/// summary), and for each finding and suppressed mention its span in UTF-16
/// code units too (`start_utf16`, `end_utf16`), for JavaScript. With a
/// subject, every span (findings, suppressed mentions, their cues and
/// causes, readings) also says which field it is in, and its offsets count
/// from the start of that field.
fn record(id: Id, layout: &Layout, d: &Decision) -> JsonRecord {
    let mut rec = JsonRecord::decision(id, d, Flags::Always);
    rec.explain(d, |list, spans| match list {
        SpanList::Findings | SpanList::Suppressed => layout.spans(spans, true),
        SpanList::Readings if layout.subject.is_some() => layout.spans(spans, false),
        SpanList::Readings => spans,
    });
    rec
}

/// Classify one message: its subject (if any and not blank), a blank line,
/// then its text, as one text.
fn classify_message(service: &Service, m: Message) -> JsonRecord {
    let Message { id, subject, text } = m;
    let joined = subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| format!("{s}{FIELD_SEPARATOR}{text}"));
    let text_at = joined.as_ref().map_or(0, |j| j.len() - text.len());
    let d = service
        .engine
        .classify(joined.as_deref().unwrap_or(text.as_str()));
    service.metrics.route(d.route);
    let layout = Layout {
        subject: subject.as_deref(),
        text_at,
        text: &text,
        subject_units: Utf16Index::new(subject.as_deref().unwrap_or("")),
        text_units: Utf16Index::new(&text),
    };
    record(id, &layout, &d)
}

/// Up to this many bytes of text (about 1 ms of `classify`) are classified
/// right on the async worker; more goes to the blocking pool.
const INLINE_MAX_BYTES: usize = 4096;

fn classify_each(service: &Service, messages: Vec<Message>) -> Vec<JsonRecord> {
    messages
        .into_iter()
        .map(|m| classify_message(service, m))
        .collect()
}

/// Classify messages; answers in the order given.
///
/// A typical message (a few hundred bytes, ~0.2 ms) is classified inline
/// on the async worker: the workers are one per core, so that bounds the
/// work at once, and a hand-off to another thread costs more than it saves
/// (measured with wrk on 2 cores, noisy: 26-51% more requests per second
/// than always using `spawn_blocking`). Long texts and batches go to the
/// blocking pool, at most one job per core at a time (a semaphore), so the
/// async workers stay free to answer other requests, `/healthz` and
/// `/metrics`, while a large batch runs, and a burst queues instead of
/// starting hundreds of threads.
async fn classify_all(service: &Shared, messages: Vec<Message>) -> Vec<JsonRecord> {
    let bytes: usize = messages
        .iter()
        .map(|m| m.text.len() + m.subject.as_ref().map_or(0, String::len))
        .sum();
    if bytes <= INLINE_MAX_BYTES {
        return classify_each(service, messages);
    }
    // The semaphore is never closed; if it were, classify without the
    // bound rather than fail the request.
    let _permit = service.classify_slots.acquire().await.ok();
    let svc = Arc::clone(service);
    let job = tokio::task::spawn_blocking(move || classify_each(&svc, messages));
    // The engine never panics on any text; a join error would mean it did.
    job.await.unwrap_or_default()
}

/// `POST /v1/triage`: one message in, its decision out.
pub async fn triage(State(service): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let run = async {
        let (_, bytes) = expect_media(&headers, body, service.body, &["application/json"]).await?;
        let message = message_of(parse_json(strip_bom(&bytes))?).map_err(|(_, e)| e)?;
        // The parsed text is all that is needed now; not the body too.
        drop(bytes);
        let mut out = classify_all(&service, vec![message]).await;
        out.pop().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the message could not be classified",
            )
        })
    };
    match run.await {
        Ok(rec) => json_response(&rec),
        Err(e) => e.respond(&service),
    }
}

/// One batch item: a message, or the error that kept it from being one.
enum Item {
    Message(Message),
    Error {
        id: Id,
        line: Option<usize>,
        error: ApiError,
    },
}

/// `POST /v1/triage/batch`: a JSON array of messages, or NDJSON (one
/// message per line); the results in input order, one per message (a
/// malformed item gets an error item in its place: nothing vanishes).
pub async fn batch(State(service): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let run = async {
        let (media, bytes) = expect_media(
            &headers,
            body,
            service.body,
            &["application/json", "application/x-ndjson"],
        )
        .await?;
        let bytes = strip_bom(&bytes);
        let items = if media == "application/json" {
            match serde_json::from_str::<Vec<&RawValue>>(parse_json(bytes)?.get()) {
                Ok(values) => values
                    .into_iter()
                    .map(|v| match message_of(v) {
                        Ok(m) => Item::Message(m),
                        Err((id, error)) => Item::Error {
                            id,
                            line: None,
                            error,
                        },
                    })
                    .collect::<Vec<Item>>(),
                Err(_) => {
                    return Err(ApiError::bad(
                        "not-an-array",
                        "expected a JSON array of messages like [{\"text\": \"...\"}] (or NDJSON with Content-Type: application/x-ndjson)",
                    ));
                }
            }
        } else {
            ndjson_items(bytes)
        };
        if items.len() > service.max_batch_items {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-many-items",
                format!(
                    "the batch has {} messages, more than the limit of {} (--max-batch-items); split it",
                    items.len(),
                    service.max_batch_items
                ),
            ));
        }
        Ok(items)
    };
    let items = match run.await {
        Ok(items) => items,
        Err(e) => return e.respond(&service),
    };
    // Classify the good messages in one blocking job, then put the errors
    // back in their places.
    let mut slots: Vec<Option<JsonRecord>> = Vec::with_capacity(items.len());
    let mut messages = Vec::new();
    let mut errors = 0usize;
    for item in items {
        match item {
            Item::Message(m) => {
                messages.push(m);
                slots.push(None);
            }
            Item::Error { id, line, error } => {
                errors += 1;
                service.metrics.error(error.code);
                let mut rec = JsonRecord::new(id);
                if let Some(line) = line {
                    rec.insert("line", json!(line));
                }
                rec.insert("error", error.body());
                slots.push(Some(rec));
            }
        }
    }
    let mut done = classify_all(&service, messages).await.into_iter();
    let results: Vec<JsonRecord> = slots
        .into_iter()
        .map(|slot| {
            // One answer per message, always: a missing decision (the
            // engine never panics, so never) still gets an item.
            slot.or_else(|| done.next()).unwrap_or_else(|| {
                let error = ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the message could not be classified",
                );
                let mut rec = JsonRecord::new(Id::null());
                rec.insert("error", error.body());
                rec
            })
        })
        .collect();
    json_response(&BatchAnswer { errors, results })
}

/// NDJSON lines to items; blank lines are not messages; a line that is not
/// a message becomes an error item naming its line number.
fn ndjson_items(bytes: &[u8]) -> Vec<Item> {
    let mut items = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_no = i + 1;
        let item = match parse_json(line) {
            Ok(v) => match message_of(v) {
                Ok(m) => Item::Message(m),
                Err((id, error)) => Item::Error {
                    id,
                    line: Some(line_no),
                    error,
                },
            },
            Err(error) => {
                // Salvage the id of a broken line, as `score` does.
                let id = std::str::from_utf8(line)
                    .ok()
                    .map_or(Id::null(), salvage_id);
                Item::Error {
                    id,
                    line: Some(line_no),
                    error,
                }
            }
        };
        items.push(item);
    }
    items
}

/// The id of a line that is not valid JSON, if it can be found: a string
/// as `score` salvages it, a number as written.
fn salvage_id(line: &str) -> Id {
    match portal_triage_archive::salvage(line, "id") {
        Some(Value::String(s)) => Id::text(s),
        Some(Value::Number(_)) => {
            // `salvage` read the number as a float; take its text instead.
            portal_triage_archive::salvage_number_text(line, "id").map_or(Id::null(), Id::Number)
        }
        _ => Id::null(),
    }
}

/// `GET /healthz`.
pub async fn healthz(State(service): State<Shared>) -> Response {
    json_response(&json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "rules": service.rule_count,
    }))
}

/// `GET /metrics`.
pub async fn metrics(State(service): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        service.metrics.render(),
    )
        .into_response()
}

/// A static asset with its type; the page may load only its own assets.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
                ),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    asset("application/json", OPENAPI)
}

/// `GET /`: the demo compose page.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /app.js`.
pub async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /app.css`.
pub async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// Any path that is not served: 404 as JSON.
pub async fn not_found(State(service): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    drain_body(&headers, body, service.body).await;
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "no such endpoint; see /openapi.json for the endpoints",
    )
    .respond(&service)
}

/// A served path with the wrong method: 405 as JSON.
pub async fn method_not_allowed(
    State(service): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    drain_body(&headers, body, service.body).await;
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this endpoint does not take that method; see /openapi.json",
    )
    .respond(&service)
}

/// Count, time and log every request: the log line names the request id,
/// method, endpoint label, status and latency, never the path's free part,
/// the query or the body.
pub async fn observe(
    State(ctx): State<(Shared, Arc<super::RequestLog>)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (service, log) = ctx;
    let started = Instant::now();
    let endpoint = super::metrics::endpoint_label(request.uri().path());
    let method = request.method().clone();
    let id = log.next_id();
    let mut response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    service.metrics.request(endpoint, status, elapsed);
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert("x-request-id", v);
    }
    log.line(id, method.as_str(), endpoint, status, elapsed);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_offsets_count_code_units() {
        let text = "café 😀 chest pain";
        let start = text.find("chest").unwrap_or(0);
        assert_eq!(start, 11);
        // c a f é ␠ (5) + 😀 (2) + ␠ (1)
        assert_eq!(utf16_offset(text, start), 8);
        assert_eq!(utf16_offset(text, 3), 3);
        assert_eq!(utf16_offset(text, 4), 0, "not a char boundary");
    }

    #[test]
    fn the_one_pass_utf16_index_agrees_with_counting_from_the_start() {
        let long = "naïve 日本語 😀 x".repeat(20);
        for text in [
            "café 😀 chest pain, naïve 日本語 text 😀😀 end",
            "plain ascii chest pain",
            long.as_str(),
            "",
            "😀",
        ] {
            let index = Utf16Index::new(text);
            for at in 0..=text.len() + 3 {
                assert_eq!(
                    index.at(at),
                    utf16_offset(text, at),
                    "byte {at} of {text:?}"
                );
            }
        }
    }

    #[test]
    fn json_errors_never_quote_the_input() {
        let secret = "{\"text\": \"my chest hurts\" \"id\": 3}";
        let e = parse_json(secret.as_bytes()).err().map(|e| e.message);
        let message = e.unwrap_or_default();
        assert!(message.contains("malformed"), "{message}");
        assert!(!message.contains("chest"), "{message}");
    }

    fn id_json(id: &Id) -> String {
        serde_json::to_string(id).unwrap_or_default()
    }

    fn parse_message(body: &str) -> Result<Message, (Id, ApiError)> {
        match parse_json(strip_bom(body.as_bytes())) {
            Ok(raw) => message_of(raw),
            Err(e) => Err((Id::null(), e)),
        }
    }

    #[test]
    fn ids_are_kept_as_written() {
        for (body, id) in [
            (
                r#"{"id": 18446744073709551616, "text": "a"}"#,
                "18446744073709551616",
            ),
            (r#"{"id": 1e2, "text": "a"}"#, "1e2"),
            (r#"{"id": -0.50, "text": "a"}"#, "-0.50"),
            (r#"{"id": 7, "text": "a"}"#, "7"),
            (r#"{"id": "caf\u00e9", "text": "a"}"#, "\"café\""),
            (r#"{"id": null, "text": "a"}"#, "null"),
            (r#"{"text": "a"}"#, "null"),
        ] {
            let m = parse_message(body).map_err(|(_, e)| e.code);
            assert_eq!(
                m.as_ref().map(|m| id_json(&m.id)),
                Ok(id.to_string()),
                "{body}"
            );
        }
        for body in [
            r#"{"id": [1], "text": "a"}"#,
            r#"{"id": true, "text": "a"}"#,
        ] {
            let code = parse_message(body).err().map(|(_, e)| e.code);
            assert_eq!(code, Some("bad-id"), "{body}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let m = parse_message("\u{feff}{\"text\": \"refill\"}");
        assert_eq!(m.ok().map(|m| m.text), Some("refill".to_string()));
        let items = ndjson_items(strip_bom(
            b"\xEF\xBB\xBF{\"text\": \"a\"}\n{\"text\": \"b\"}\n",
        ));
        assert!(items.iter().all(|i| matches!(i, Item::Message(_))));
    }

    #[test]
    fn duplicate_keys_are_refused_naming_the_key_only() {
        for (body, named, id) in [
            (
                r#"{"text": "chest pain", "text": "refill"}"#,
                Some("text"),
                "null",
            ),
            (r#"{"id": 4, "text": "a", "text": "b"}"#, Some("text"), "4"),
            (r#"{"id": 1, "id": 2, "text": "a"}"#, Some("id"), "null"),
            (r#"{"text": "a", "x": 1, "x": 2}"#, Some("x"), "null"),
            (
                r#"{"text": "a", "zebracorn chest": 1, "zebracorn chest": 2}"#,
                None,
                "null",
            ),
        ] {
            let Err((got_id, e)) = parse_message(body) else {
                panic!("{body} was accepted");
            };
            assert_eq!(e.code, "duplicate-field", "{body}");
            assert_eq!(id_json(&got_id), id, "{body}");
            match named {
                Some(key) => assert!(e.message.contains(&format!("`{key}`")), "{}", e.message),
                None => assert!(!e.message.contains("zebracorn"), "{}", e.message),
            }
            assert!(!e.message.contains("chest") && !e.message.contains("refill"));
        }
        // Keys repeated deeper, in a field the service does not read, are
        // not the message's: accepted.
        assert!(parse_message(r#"{"text": "a", "meta": {"k": 1, "k": 2}}"#).is_ok());
    }

    #[test]
    fn ndjson_keeps_every_line_in_order() {
        let body =
            b"{\"id\": 1, \"text\": \"refill\"}\n\n{\"id\": 2, \"text\": \n[1]\n{\"id\": 4}\n";
        let items = ndjson_items(body);
        assert_eq!(items.len(), 4);
        let codes: Vec<&str> = items
            .iter()
            .map(|i| match i {
                Item::Message(_) => "ok",
                Item::Error { error, .. } => error.code,
            })
            .collect();
        assert_eq!(codes, ["ok", "bad-json", "not-an-object", "missing-text"]);
        match &items[1] {
            Item::Error { id, line, .. } => {
                assert_eq!(id_json(id), "2");
                assert_eq!(*line, Some(3));
            }
            Item::Message(_) => panic!("line 3 is broken"),
        }
    }
}
