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
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The OpenAPI document, kept in the repository and served as is.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");
/// The demo page and its assets (no build step, no external network).
pub const INDEX_HTML: &str = include_str!("../../../web/index.html");
/// The demo page's script.
pub const APP_JS: &str = include_str!("../../../web/app.js");
/// The demo page's style sheet.
pub const APP_CSS: &str = include_str!("../../../web/app.css");

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
fn json_response(value: &Value) -> Response {
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
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if declared.is_some_and(|n| n > limit as u64) && expects_continue {
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

/// Read and drop a body the answer does not need (so the client reads the
/// answer rather than a reset connection), keeping none of it; up to
/// [`DRAIN_LIMIT`] bytes and `--body-timeout`. A client that waits for
/// `100 Continue` is not asked to send it.
pub async fn drain_body(headers: &HeaderMap, body: Body, limits: BodyLimits) {
    let expects_continue = headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
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

/// One message to triage, parsed from a JSON value.
struct Message {
    id: Value,
    text: String,
}

/// Read `{"text": "...", "id": optional}`. Messages name the field, never
/// its value.
fn message_of(value: Value) -> Result<Message, (Value, ApiError)> {
    let Value::Object(mut obj) = value else {
        return Err((
            Value::Null,
            ApiError::bad(
                "not-an-object",
                "expected a JSON object like {\"text\": \"...\"}",
            ),
        ));
    };
    let id = obj.remove("id").unwrap_or(Value::Null);
    if !matches!(id, Value::Null | Value::String(_) | Value::Number(_)) {
        return Err((
            Value::Null,
            ApiError::bad("bad-id", "`id` must be a string or a number"),
        ));
    }
    match obj.remove("text") {
        Some(Value::String(text)) => Ok(Message { id, text }),
        None | Some(Value::Null) => Err((
            id,
            ApiError::bad(
                "missing-text",
                "missing `text` field (the message, a string)",
            ),
        )),
        Some(_) => Err((
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

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad("invalid-utf8", "the body is not valid UTF-8"))?;
    serde_json::from_str(text).map_err(|e| json_error(&e))
}

/// UTF-16 code units before byte offset `at` of `text` (what JavaScript
/// string indexes count); 0 if `at` is not a char boundary of `text`.
/// The reference for [`utf16_offsets`].
#[cfg(test)]
fn utf16_offset(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |s| s.encode_utf16().count())
}

/// [`utf16_offset`] of each byte offset in `at`, as a table sorted by byte
/// offset, in one pass over `text` (counting from the start for each offset
/// took time proportional to the text times the findings: 27 s for a 1 MiB
/// message with 25,000 findings).
fn utf16_offsets(text: &str, mut at: Vec<usize>) -> Vec<(usize, usize)> {
    at.sort_unstable();
    at.dedup();
    let mut out = Vec::with_capacity(at.len());
    let mut chars = text.char_indices().peekable();
    let mut units = 0usize;
    for a in at {
        while let Some(&(i, c)) = chars.peek() {
            if i >= a {
                break;
            }
            units += c.len_utf16();
            chars.next();
        }
        out.push((a, if text.is_char_boundary(a) { units } else { 0 }));
    }
    out
}

/// The JSON answer for one message: the same fields as `score --explain`
/// (id, route, score, rules, flags, findings, suppressed, readings, advice,
/// summary), and for each finding and suppressed mention its span in UTF-16
/// code units too (`start_utf16`, `end_utf16`), for JavaScript.
pub fn record(id: &Value, text: &str, d: &Decision) -> Value {
    let mut rec = Map::new();
    rec.insert("id".into(), id.clone());
    rec.insert("route".into(), json!(d.route));
    rec.insert("score".into(), json!(d.score));
    rec.insert("rules".into(), json!(d.rule_ids()));
    rec.insert("flags".into(), json!(d.flags));
    let findings = json!(d.findings);
    let suppressed = json!(d.suppressed);
    let byte_offset = |obj: &Map<String, Value>, key: &str| -> usize {
        let at = obj.get(key).and_then(Value::as_u64).unwrap_or(0);
        usize::try_from(at).unwrap_or(usize::MAX)
    };
    let wanted: Vec<usize> = [&findings, &suppressed]
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|obj| [byte_offset(obj, "start"), byte_offset(obj, "end")])
        .collect();
    let table = utf16_offsets(text, wanted);
    let utf16_at = |at: usize| -> usize {
        table
            .binary_search_by_key(&at, |(byte, _)| *byte)
            .map_or(0, |i| table[i].1)
    };
    let with_utf16 = |items: Value| -> Value {
        let Value::Array(items) = items else {
            return items;
        };
        Value::Array(
            items
                .into_iter()
                .map(|mut item| {
                    if let Value::Object(obj) = &mut item {
                        for (byte_key, key) in [("start", "start_utf16"), ("end", "end_utf16")] {
                            let at = byte_offset(obj, byte_key);
                            obj.insert(key.into(), json!(utf16_at(at)));
                        }
                    }
                    item
                })
                .collect(),
        )
    };
    rec.insert("findings".into(), with_utf16(findings));
    rec.insert("suppressed".into(), with_utf16(suppressed));
    rec.insert("readings".into(), json!(d.readings));
    rec.insert("advice".into(), json!(d.advice));
    rec.insert("summary".into(), json!(d.summary));
    Value::Object(rec)
}

/// Up to this many bytes of text (about 1 ms of `classify`) are classified
/// right on the async worker; more goes to the blocking pool.
const INLINE_MAX_BYTES: usize = 4096;

fn classify_each(service: &Service, messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| {
            let d = service.engine.classify(&m.text);
            service.metrics.route(d.route);
            record(&m.id, &m.text, &d)
        })
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
async fn classify_all(service: &Shared, messages: Vec<Message>) -> Vec<Value> {
    let bytes: usize = messages.iter().map(|m| m.text.len()).sum();
    if bytes <= INLINE_MAX_BYTES {
        return classify_each(service, &messages);
    }
    // The semaphore is never closed; if it were, classify without the
    // bound rather than fail the request.
    let _permit = service.classify_slots.acquire().await.ok();
    let svc = Arc::clone(service);
    let job = tokio::task::spawn_blocking(move || classify_each(&svc, &messages));
    // The engine never panics on any text; a join error would mean it did.
    job.await.unwrap_or_default()
}

/// `POST /v1/triage`: one message in, its decision out.
pub async fn triage(State(service): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let run = async {
        let (_, bytes) = expect_media(&headers, body, service.body, &["application/json"]).await?;
        let message = message_of(parse_json(&bytes)?).map_err(|(_, e)| e)?;
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
        id: Value,
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
        let items = if media == "application/json" {
            match parse_json(&bytes)? {
                Value::Array(values) => values
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
                _ => {
                    return Err(ApiError::bad(
                        "not-an-array",
                        "expected a JSON array of messages like [{\"text\": \"...\"}] (or NDJSON with Content-Type: application/x-ndjson)",
                    ));
                }
            }
        } else {
            ndjson_items(&bytes)
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
    let mut slots: Vec<Option<Value>> = Vec::with_capacity(items.len());
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
                let mut rec = Map::new();
                rec.insert("id".into(), id);
                if let Some(line) = line {
                    rec.insert("line".into(), json!(line));
                }
                rec.insert("error".into(), error.body());
                slots.push(Some(Value::Object(rec)));
            }
        }
    }
    let mut done = classify_all(&service, messages).await.into_iter();
    let results: Vec<Value> = slots
        .into_iter()
        .map(|slot| slot.or_else(|| done.next()).unwrap_or(Value::Null))
        .collect();
    json_response(&json!({"results": results, "errors": errors}))
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
                    .and_then(|l| crate::cli::score::salvage(l, "id"))
                    .filter(|v| v.is_string() || v.is_number())
                    .unwrap_or(Value::Null);
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
    fn the_one_pass_utf16_table_agrees_with_counting_from_the_start() {
        let text = "café 😀 chest pain, naïve 日本語 text 😀😀 end";
        let every: Vec<usize> = (0..=text.len() + 3).rev().chain([0, 5, 5]).collect();
        let table = utf16_offsets(text, every);
        assert_eq!(table.len(), text.len() + 4, "sorted, without repeats");
        for (at, units) in table {
            assert_eq!(units, utf16_offset(text, at), "byte {at}");
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
                assert_eq!(id, &json!(2));
                assert_eq!(*line, Some(3));
            }
            Item::Message(_) => panic!("line 3 is broken"),
        }
    }
}
