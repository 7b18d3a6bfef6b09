//! `portal-triage serve` over real HTTP: the real binary on a free loopback
//! port, every endpoint, every error case, 200 parallel requests against
//! sequential answers, the OpenAPI document against real responses, and a
//! graceful shutdown with a request in flight.

mod common;

use common::server::{Response, Server, read_response, request};
use portal_triage::Triage;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

const EMERGENCY: &str = "my chest is crushing and my left arm is numb";
const ROUTINE: &str = "could you refill my lisinopril";
/// A word that must never reach the service's log.
const SECRET: &str = "zebracorn";

fn error_code(r: &Response) -> String {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "errors are JSON: {r:?}"
    );
    let v = r.json();
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "an error says what was wrong: {v}");
    assert!(
        !message.contains(SECRET) && !message.contains("chest"),
        "errors never quote the request: {message}"
    );
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

/// The record the service returns, minus the UTF-16 offsets, equals the
/// library's decision in the same shape (`score --explain`).
fn assert_matches_library(rec: &Value, text: &str) {
    let d = Triage::default().classify(text);
    assert_eq!(rec["route"], json!(d.route));
    assert_eq!(rec["score"], json!(d.score));
    assert_eq!(rec["rules"], json!(d.rule_ids()));
    assert_eq!(rec["advice"], json!(d.advice));
    assert_eq!(rec["summary"], json!(d.summary));
    assert_eq!(rec["readings"], json!(d.readings));
    assert_eq!(rec["flags"], json!(d.flags));
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(items) = v.as_array_mut() {
            for item in items {
                if let Some(obj) = item.as_object_mut() {
                    obj.remove("start_utf16");
                    obj.remove("end_utf16");
                }
            }
        }
        v
    };
    assert_eq!(strip(&rec["findings"]), json!(d.findings));
    assert_eq!(strip(&rec["suppressed"]), json!(d.suppressed));
}

#[test]
fn triage_one_message() {
    let server = Server::start(&[]);
    let r = server.post_json(
        "/v1/triage",
        &json!({"id": "m1", "text": EMERGENCY}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("x-request-id").is_some());
    let rec = r.json();
    assert_eq!(rec["id"], "m1");
    assert_eq!(rec["route"], "call-911");
    assert!(
        rec["advice"]
            .as_str()
            .unwrap_or_default()
            .contains("Call 911")
    );
    assert_matches_library(&rec, EMERGENCY);
    for f in rec["findings"].as_array().into_iter().flatten() {
        let (s, e) = (
            f["start"].as_u64().unwrap_or(0),
            f["end"].as_u64().unwrap_or(0),
        );
        assert_eq!(EMERGENCY[s as usize..e as usize], f["text"], "{f}");
        // ASCII text: UTF-16 offsets equal byte offsets.
        assert_eq!(f["start_utf16"], f["start"]);
    }

    // Numeric id, no id, routine text.
    let rec = server
        .post_json("/v1/triage", &json!({"id": 7, "text": ROUTINE}).to_string())
        .json();
    assert_eq!(rec["id"], 7);
    assert_eq!(rec["route"], "non-urgent");
    assert_matches_library(&rec, ROUTINE);
    let rec = server
        .post_json("/v1/triage", &json!({"text": ROUTINE}).to_string())
        .json();
    assert_eq!(rec["id"], Value::Null);
    // A charset parameter on the content type is fine; empty text is a
    // decision too (flagged), not an error.
    let r = server.request(
        "POST",
        "/v1/triage",
        Some("application/json; charset=utf-8"),
        br#"{"text": ""}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["flags"], json!(["empty"]));
}

#[test]
fn utf16_offsets_point_at_the_same_words_as_byte_offsets() {
    let server = Server::start(&[]);
    let text = "Café 😀 ñandú, then my chest is crushing";
    let rec = server
        .post_json("/v1/triage", &json!({"text": text}).to_string())
        .json();
    assert_matches_library(&rec, text);
    let findings = rec["findings"].as_array().cloned().unwrap_or_default();
    assert!(!findings.is_empty(), "{rec}");
    let units: Vec<u16> = text.encode_utf16().collect();
    for f in findings {
        let (s, e) = (
            f["start_utf16"].as_u64().unwrap_or(0) as usize,
            f["end_utf16"].as_u64().unwrap_or(0) as usize,
        );
        assert_eq!(String::from_utf16_lossy(&units[s..e]), f["text"], "{f}");
        let (bs, be) = (
            f["start"].as_u64().unwrap_or(0) as usize,
            f["end"].as_u64().unwrap_or(0) as usize,
        );
        assert_eq!(text[bs..be], f["text"]);
        assert!(bs > s, "bytes run ahead of UTF-16 units after é, 😀, ñ, ú");
    }
}

#[test]
fn batch_json_array_answers_in_order_and_keeps_bad_items() {
    let server = Server::start(&[]);
    let body = json!([
        {"id": "a", "text": ROUTINE},
        {"id": "b", "text": EMERGENCY},
        "just a string",
        {"id": "d"},
        {"id": "e", "text": 5},
        {"id": {"nested": true}, "text": "hi"},
        {"id": "g", "text": "I want to end my life"},
    ]);
    let r = server.post_json("/v1/triage/batch", &body.to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let results = v["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 7);
    assert_eq!(v["errors"], 4);
    assert_eq!(results[0]["id"], "a");
    assert_eq!(results[0]["route"], "non-urgent");
    assert_matches_library(&results[0], ROUTINE);
    assert_eq!(results[1]["route"], "call-911");
    assert_matches_library(&results[1], EMERGENCY);
    assert_eq!(results[2]["error"]["code"], "not-an-object");
    assert_eq!(results[3]["error"]["code"], "missing-text");
    assert_eq!(results[3]["id"], "d");
    assert_eq!(results[4]["error"]["code"], "text-not-a-string");
    assert_eq!(results[4]["id"], "e");
    assert_eq!(results[5]["error"]["code"], "bad-id");
    assert_eq!(results[6]["id"], "g");
    assert!(
        results[6]["advice"]
            .as_str()
            .unwrap_or_default()
            .contains("988")
    );
    // An empty batch is an empty answer.
    let v = server.post_json("/v1/triage/batch", "[]").json();
    assert_eq!(v, json!({"results": [], "errors": 0}));
}

#[test]
fn batch_ndjson_flags_malformed_lines_in_place() {
    let server = Server::start(&[]);
    let body = format!(
        "{}\r\n\n{{\"id\": \"b\", \"text\": \"chest\n[1, 2]\n{}\n",
        json!({"id": "a", "text": EMERGENCY}),
        json!({"id": "d", "text": ROUTINE}),
    );
    let r = server.request(
        "POST",
        "/v1/triage/batch",
        Some("application/x-ndjson"),
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let results = v["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 4, "blank lines are not messages: {v}");
    assert_eq!(v["errors"], 2);
    assert_eq!(results[0]["route"], "call-911");
    assert_eq!(results[1]["error"]["code"], "bad-json");
    assert_eq!(results[1]["id"], "b", "the id of a broken line is salvaged");
    assert_eq!(results[1]["line"], 3);
    assert_eq!(results[2]["error"]["code"], "not-an-object");
    assert_eq!(results[2]["line"], 4);
    assert_eq!(results[3]["id"], "d");
    assert_eq!(results[3]["route"], "non-urgent");
}

/// A UTF-8 byte-order mark before the JSON (Windows tools write one) is
/// skipped, as `score` skips it in a file.
#[test]
fn a_byte_order_mark_before_the_body_is_skipped() {
    let server = Server::start(&[]);
    let bom = "\u{feff}";
    let r = server.post_json(
        "/v1/triage",
        &format!("{bom}{}", json!({"id": "m1", "text": EMERGENCY})),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["route"], "call-911");
    let r = server.post_json(
        "/v1/triage/batch",
        &format!("{bom}{}", json!([{"id": 1, "text": EMERGENCY}])),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["errors"], 0);
    assert_eq!(r.json()["results"][0]["route"], "call-911");
    let body = format!(
        "{bom}{}\n{}\n",
        json!({"id": 1, "text": EMERGENCY}),
        json!({"id": 2, "text": ROUTINE})
    );
    let r = server.request(
        "POST",
        "/v1/triage/batch",
        Some("application/x-ndjson"),
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["results"][0]["route"], "call-911");
    assert_eq!(v["results"][1]["route"], "non-urgent");
}

/// An id is echoed exactly as sent: a number beyond 64 bits, or written
/// with an exponent, is not turned into a float.
#[test]
fn ids_are_echoed_exactly_as_sent() {
    let server = Server::start(&[]);
    let ids = [
        "18446744073709551616",
        "1e2",
        "-12.50",
        "123456789012345678901234567890",
    ];
    for id in ids {
        let r = server.post_json(
            "/v1/triage",
            &format!(r#"{{"id": {id}, "text": "{ROUTINE}"}}"#),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.text().starts_with(r#"{"advice":"#) && r.text().contains(&format!(r#""id":{id},"#)),
            "{id}: {}",
            r.text()
        );
    }
    // Batch, JSON array: decisions and error items alike.
    let body = format!(
        r#"[{{"id": {}, "text": "{ROUTINE}"}}, {{"id": {}}}, {{"id": 7, "text": "{EMERGENCY}"}}]"#,
        ids[0], ids[1]
    );
    let r = server.post_json("/v1/triage/batch", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains(&format!(r#""id":{},"#, ids[0])), "{text}");
    assert!(
        text.contains(&format!(r#""id":{}}}"#, ids[1]))
            || text.contains(&format!(r#""id":{},"#, ids[1])),
        "{text}"
    );
    assert!(text.contains(r#""id":7,"#), "{text}");
    // NDJSON, and the id salvaged from a broken line.
    let body = format!(
        "{{\"id\": {}, \"text\": \"{ROUTINE}\"}}\n{{\"id\": {}, \"text\": \"chest\n",
        ids[3], ids[0]
    );
    let r = server.request(
        "POST",
        "/v1/triage/batch",
        Some("application/x-ndjson"),
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(text.contains(&format!(r#""id":{},"#, ids[3])), "{text}");
    assert!(
        text.contains(&format!(r#""id":{},"#, ids[0])),
        "salvaged: {text}"
    );
    assert_eq!(r.json()["results"][1]["error"]["code"], "bad-json");
}

/// A repeated key is ambiguous (which text is the message?): 400
/// `duplicate-field` naming the key, never a value; in a batch, an error
/// item in its place.
#[test]
fn duplicate_keys_are_refused_naming_the_field() {
    let server = Server::start(&[]);
    let doc = openapi_doc();
    let r = server.post_json("/v1/triage", r#"{"text": "chest pain", "text": "refill"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(error_code(&r), "duplicate-field");
    let message = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("`text`"), "{message}");
    assert!(!message.contains("refill"), "{message}");
    check_documented(&doc, "POST", "/v1/triage", &r);
    // A key that is not a plain name is not echoed.
    let r = server.post_json(
        "/v1/triage",
        &format!(r#"{{"text": "a", "{SECRET} chest": 1, "{SECRET} chest": 2}}"#),
    );
    assert_eq!(error_code(&r), "duplicate-field");

    let body = format!(
        r#"[{{"id": "a", "text": "{ROUTINE}"}}, {{"id": "b", "text": "chest pain", "text": "refill"}}, {{"id": "c", "text": "{EMERGENCY}"}}]"#
    );
    let r = server.post_json("/v1/triage/batch", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    check_documented(&doc, "POST", "/v1/triage/batch", &r);
    let v = r.json();
    assert_eq!(v["errors"], 1);
    assert_eq!(v["results"][0]["route"], "non-urgent");
    assert_eq!(v["results"][1]["id"], "b");
    assert_eq!(v["results"][1]["error"]["code"], "duplicate-field");
    assert_eq!(v["results"][2]["route"], "call-911");
    let body = format!(
        "{}\n{{\"id\": \"b\", \"id\": \"c\", \"text\": \"refill\"}}\n",
        json!({"id": "a", "text": ROUTINE})
    );
    let r = server.request(
        "POST",
        "/v1/triage/batch",
        Some("application/x-ndjson"),
        body.as_bytes(),
    );
    let v = r.json();
    assert_eq!(v["errors"], 1, "{v}");
    assert_eq!(v["results"][1]["error"]["code"], "duplicate-field");
    assert_eq!(v["results"][1]["line"], 2);
    assert_eq!(v["results"][1]["id"], Value::Null, "which id would it be?");
    assert!(!server.log_text().contains(SECRET));
}

/// The subject is checked with the text: the page's subject line alone can
/// make a message an emergency, and each span says which field it is in,
/// with offsets counted in that field.
#[test]
fn a_subject_is_checked_with_the_text() {
    let server = Server::start(&[]);
    let doc = openapi_doc();
    let subject = "Chest pain and I cannot breathe";
    let r = server.post_json(
        "/v1/triage",
        &json!({"id": "s1", "subject": subject, "text": "see subject"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    check_documented(&doc, "POST", "/v1/triage", &r);
    let rec = r.json();
    assert_eq!(rec["route"], "call-911", "{rec}");
    let findings = rec["findings"].as_array().cloned().unwrap_or_default();
    assert!(!findings.is_empty());
    for f in &findings {
        assert_eq!(f["field"], "subject", "{f}");
        let (s, e) = (
            f["start"].as_u64().unwrap_or(0) as usize,
            f["end"].as_u64().unwrap_or(0) as usize,
        );
        assert_eq!(subject[s..e], f["text"], "{f}");
        assert_eq!(f["start_utf16"], f["start"]);
    }

    // Words in both fields; non-ASCII before them; a negation in the
    // subject does not reach into the text.
    let subject = "Café 😀 no fever";
    let text = "Since this morning my chest is crushing";
    let rec = server
        .post_json(
            "/v1/triage",
            &json!({"subject": subject, "text": text}).to_string(),
        )
        .json();
    assert_eq!(rec["route"], "call-911", "{rec}");
    let utf16 = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    let mut fields = BTreeSet::new();
    for f in rec["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(rec["suppressed"].as_array().into_iter().flatten())
    {
        let field = f["field"].as_str().unwrap_or_default();
        fields.insert(field.to_string());
        let source = if field == "subject" { subject } else { text };
        let (s, e) = (
            f["start"].as_u64().unwrap_or(0) as usize,
            f["end"].as_u64().unwrap_or(0) as usize,
        );
        assert_eq!(source[s..e], f["text"], "{f}");
        let units = utf16(source);
        let (s, e) = (
            f["start_utf16"].as_u64().unwrap_or(0) as usize,
            f["end_utf16"].as_u64().unwrap_or(0) as usize,
        );
        assert_eq!(String::from_utf16_lossy(&units[s..e]), f["text"], "{f}");
        if let Some(cause) = f.get("cause") {
            assert_eq!(cause["field"], f["field"], "{f}");
            let (s, e) = (
                cause["start"].as_u64().unwrap_or(0) as usize,
                cause["end"].as_u64().unwrap_or(0) as usize,
            );
            assert_eq!(source[s..e], cause["text"], "{f}");
        }
    }
    assert_eq!(
        fields,
        BTreeSet::from(["subject".to_string(), "text".to_string()]),
        "{rec}"
    );

    // A blank subject changes nothing but the field names; no subject
    // answers exactly as before (no `field`).
    let with = server
        .post_json(
            "/v1/triage",
            &json!({"subject": " ", "text": EMERGENCY}).to_string(),
        )
        .json();
    let without = server
        .post_json("/v1/triage", &json!({"text": EMERGENCY}).to_string())
        .json();
    assert_matches_library(&without, EMERGENCY);
    assert!(!without.to_string().contains("\"field\""), "{without}");
    assert_eq!(with["findings"][0]["field"], "text");
    assert_eq!(
        with["findings"][0]["start"],
        without["findings"][0]["start"]
    );
    assert_eq!(with["route"], without["route"]);

    // Batch items take a subject too; a subject that is not a string is
    // an error in its place.
    let body = json!([
        {"id": 1, "subject": "I cannot breathe", "text": "see subject"},
        {"id": 2, "subject": 5, "text": "hi"},
        {"id": 3, "subject": null, "text": ROUTINE},
    ]);
    let r = server.post_json("/v1/triage/batch", &body.to_string());
    check_documented(&doc, "POST", "/v1/triage/batch", &r);
    let v = r.json();
    assert_eq!(v["results"][0]["route"], "call-911", "{v}");
    assert_eq!(v["results"][1]["error"]["code"], "subject-not-a-string");
    assert_eq!(v["results"][1]["id"], 2);
    assert_eq!(v["results"][2]["route"], "non-urgent");
    let r = server.post_json("/v1/triage", r#"{"subject": ["a"], "text": "hi"}"#);
    assert_eq!(r.status, 400);
    assert_eq!(error_code(&r), "subject-not-a-string");
}

/// Method, path, content type, body, expected status and error code.
type Case = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

#[test]
fn bad_requests_get_clear_json_errors() {
    let server = Server::start(&["--max-body-bytes", "2000", "--max-batch-items", "3"]);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            format!("{{\"text\": \"{SECRET} chest").into_bytes(),
            400,
            "bad-json",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            b"".to_vec(),
            400,
            "bad-json",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            b"[1]".to_vec(),
            400,
            "not-an-object",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            br#"{"id": "x"}"#.to_vec(),
            400,
            "missing-text",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            br#"{"text": null}"#.to_vec(),
            400,
            "missing-text",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            br#"{"text": ["a"]}"#.to_vec(),
            400,
            "text-not-a-string",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            br#"{"text": "a", "id": [1]}"#.to_vec(),
            400,
            "bad-id",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            b"{\"text\": \"caf\xff\"}".to_vec(),
            400,
            "invalid-utf8",
        ),
        (
            "POST",
            "/v1/triage",
            Some("text/plain"),
            SECRET.as_bytes().to_vec(),
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/x-www-form-urlencoded"),
            b"text=hi".to_vec(),
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/v1/triage",
            None,
            br#"{"text": "hi"}"#.to_vec(),
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/x-ndjson"),
            br#"{"text": "hi"}"#.to_vec(),
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            json!({"text": SECRET.repeat(300)}).to_string().into_bytes(),
            413,
            "body-too-large",
        ),
        (
            "POST",
            "/v1/triage/batch",
            Some("application/json"),
            br#"{"text": "hi"}"#.to_vec(),
            400,
            "not-an-array",
        ),
        (
            "POST",
            "/v1/triage/batch",
            Some("application/json"),
            b"[{]".to_vec(),
            400,
            "bad-json",
        ),
        (
            "POST",
            "/v1/triage/batch",
            Some("text/csv"),
            b"id,text\n1,hi\n".to_vec(),
            415,
            "unsupported-media-type",
        ),
        (
            "POST",
            "/v1/triage/batch",
            Some("application/json"),
            json!([{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}])
                .to_string()
                .into_bytes(),
            413,
            "too-many-items",
        ),
        (
            "POST",
            "/v1/triage/batch",
            Some("application/x-ndjson"),
            b"{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"c\"}\n{\"text\": \"d\"}\n"
                .to_vec(),
            413,
            "too-many-items",
        ),
        (
            "POST",
            "/v1/triage/batch",
            Some("application/x-ndjson"),
            vec![b'x'; 100_000],
            413,
            "body-too-large",
        ),
        (
            "GET",
            "/v1/triage",
            None,
            Vec::new(),
            405,
            "method-not-allowed",
        ),
        (
            "PUT",
            "/v1/triage/batch",
            Some("application/json"),
            b"[]".to_vec(),
            405,
            "method-not-allowed",
        ),
        (
            "POST",
            "/healthz",
            Some("application/json"),
            b"{}".to_vec(),
            405,
            "method-not-allowed",
        ),
        (
            "DELETE",
            "/metrics",
            None,
            Vec::new(),
            405,
            "method-not-allowed",
        ),
        ("GET", "/v2/triage", None, Vec::new(), 404, "not-found"),
        (
            "POST",
            "/chest-pain",
            Some("application/json"),
            br#"{"text": "hi"}"#.to_vec(),
            404,
            "not-found",
        ),
    ];
    for (method, path, ct, body, status, code) in cases {
        let r = server.request(method, path, ct, &body);
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (status, code),
            "{method} {path} ({ct:?}, {} bytes): {}",
            body.len(),
            r.text()
        );
    }
    // A 2 MiB body is read and dropped, not cut off mid-send: the client
    // gets its 413.
    let huge = vec![b' '; 2 << 20];
    let r = server.request("POST", "/v1/triage", Some("application/json"), &huge);
    assert_eq!(r.status, 413);
    // With `Expect: 100-continue` (curl's habit for large bodies) the 413
    // comes before the body is sent.
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    let head = format!(
        "POST /v1/triage HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        huge.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    let r = read_response(stream);
    assert_eq!(r.status, 413);
    assert_eq!(error_code(&r), "body-too-large");

    // The service is still healthy, and the log never held the text.
    assert_eq!(server.get("/healthz").status, 200);
    let log = server.log_text();
    assert!(!log.contains(SECRET), "message text in the log:\n{log}");
    assert!(
        !log.contains("chest-pain"),
        "free path text in the log:\n{log}"
    );
    assert!(log.contains(" 413 "), "the log names statuses:\n{log}");
}

#[test]
fn health_metrics_and_static_assets() {
    let server = Server::start(&[]);
    let h = server.get("/healthz");
    assert_eq!(h.status, 200);
    let v = h.json();
    assert_eq!(v["status"], "ok");
    assert!(v["rules"].as_u64().unwrap_or(0) > 100);

    server.post_json("/v1/triage", &json!({"text": EMERGENCY}).to_string());
    server.post_json("/v1/triage", &json!({"text": ROUTINE}).to_string());
    server.post_json("/v1/triage", "{");
    server.post_json(
        "/v1/triage/batch",
        &json!([{"text": ROUTINE}, {"id": 1}]).to_string(),
    );
    let m = server.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = m.text();
    for line in [
        "portal_triage_requests_total{endpoint=\"/v1/triage\",status=\"200\"} 2",
        "portal_triage_requests_total{endpoint=\"/v1/triage\",status=\"400\"} 1",
        "portal_triage_requests_total{endpoint=\"/v1/triage/batch\",status=\"200\"} 1",
        "portal_triage_requests_total{endpoint=\"/healthz\",status=\"200\"} 1",
        "portal_triage_routes_total{route=\"call-911\"} 1",
        "portal_triage_routes_total{route=\"non-urgent\"} 2",
        "portal_triage_errors_total{code=\"bad-json\"} 1",
        "portal_triage_errors_total{code=\"missing-text\"} 1",
        "portal_triage_messages_total 3",
        "portal_triage_request_duration_seconds_count 5",
        "portal_triage_request_duration_seconds_bucket{le=\"+Inf\"} 5",
        "# TYPE portal_triage_request_duration_seconds histogram",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // Every sample line is `name{labels} number` or `name number`.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap_or_default();
        assert!(value.parse::<f64>().is_ok(), "bad sample {line:?}");
    }

    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("<label for=\"message\">"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    for (path, ct) in [
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
        ("/openapi.json", "application/json"),
    ] {
        let r = server.get(path);
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some(ct)),
            "{path}"
        );
        assert!(!r.text().contains("https://fonts."), "{path}");
    }
    // HEAD works wherever GET does.
    assert_eq!(server.request("HEAD", "/healthz", None, b"").status, 200);
}

#[test]
fn two_hundred_parallel_requests_match_sequential_answers() {
    let server = Server::start(&["--quiet"]);
    let texts: Vec<String> = (0..200)
        .map(|i| match i % 5 {
            0 => format!("{EMERGENCY} (message {i})"),
            1 => format!("{ROUTINE}, thanks ({i})"),
            2 => format!(
                "bp {}/{} this morning and a pounding headache",
                150 + i % 50,
                95 + i % 30
            ),
            3 => format!("Café visit {i}: no chest pain, just a cough"),
            _ => format!("passed out yesterday after standing up, fine now ({i})"),
        })
        .collect();
    let body = |i: usize| json!({"id": i, "text": texts[i]}).to_string();
    let sequential: Vec<Value> = (0..texts.len())
        .map(|i| server.post_json("/v1/triage", &body(i)).json())
        .collect();
    let addr = server.addr;
    let parallel: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..texts.len())
            .map(|i| {
                let b = body(i);
                s.spawn(move || {
                    request(
                        addr,
                        "POST",
                        "/v1/triage",
                        Some("application/json"),
                        b.as_bytes(),
                        &[],
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let r = h.join().expect("a client thread");
                assert_eq!(r.status, 200, "{}", r.text());
                r.json()
            })
            .collect()
    });
    assert_eq!(parallel.len(), 200);
    for (i, (p, q)) in parallel.iter().zip(&sequential).enumerate() {
        assert_eq!(p, q, "message {i}");
        assert_eq!(p["id"], i);
    }
    let routes: BTreeSet<&str> = sequential
        .iter()
        .filter_map(|v| v["route"].as_str())
        .collect();
    assert_eq!(
        routes.len(),
        3,
        "the messages cover every route: {routes:?}"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut server = Server::start(&[]);
    let body = json!({"id": "slow", "text": EMERGENCY}).to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = format!(
        "POST /v1/triage HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(first).expect("send half the body");
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.wait_exit(Duration::from_millis(1)),
        None,
        "the service waits for the request in flight"
    );
    stream.write_all(rest).expect("send the rest of the body");
    let r = read_response(stream);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "slow");
    assert_eq!(r.json()["route"], "call-911");
    assert_eq!(server.wait_exit(Duration::from_secs(20)), Some(0));
    let log = server.log_text();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn a_busy_address_is_a_clear_error() {
    let server = Server::start(&[]);
    let (code, _, err) = common::run_cli(&["serve", "--addr", &server.addr.to_string()], b"");
    assert_eq!(code, 2);
    assert!(err.contains("cannot listen on"), "{err}");
}

// ---- The OpenAPI document against the real service ----

/// A small structural JSON Schema check (the subset the document uses):
/// `$ref`, `type` (one or several), `enum`, `required`, `properties`,
/// `additionalProperties: false`, `items`, `prefixItems`, `oneOf`,
/// `minimum`, `maximum`, `minItems`, `maxItems`.
fn validate(doc: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "dangling $ref {r}");
        return validate(doc, target, value, path, errors);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| {
                let mut e = Vec::new();
                validate(doc, o, value, path, &mut e);
                e.is_empty()
            })
            .count();
        if matching != 1 {
            errors.push(format!("{path}: matches {matching} of oneOf: {value}"));
        }
        return;
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{path}: expected {types:?}, got {value}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            errors.push(format!("{path}: {value} is not one of {options:?}"));
        }
    }
    if let (Some(min), Some(v)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if v < min {
            errors.push(format!("{path}: {v} < minimum {min}"));
        }
    }
    if let (Some(max), Some(v)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if v > max {
            errors.push(format!("{path}: {v} > maximum {max}"));
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(req) {
                errors.push(format!("{path}: missing required `{req}`"));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(doc, s, v, &format!("{path}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: undocumented property `{k}`"));
                }
                None => {}
            }
        }
    }
    if let Some(items) = value.as_array() {
        let n = items.len() as u64;
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
            || schema
                .get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
        {
            errors.push(format!("{path}: {n} items out of bounds"));
        }
        let prefix = schema.get("prefixItems").and_then(Value::as_array);
        for (i, item) in items.iter().enumerate() {
            let s = prefix
                .and_then(|p| p.get(i))
                .or_else(|| schema.get("items"));
            if let Some(s) = s {
                validate(doc, s, item, &format!("{path}[{i}]"), errors);
            }
        }
    }
}

fn openapi_doc() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/docs/openapi.json");
    let text = std::fs::read_to_string(path).expect("docs/openapi.json is readable");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

/// Check a real response against the document's schema for this path,
/// method and status.
fn check_documented(doc: &Value, method: &str, path: &str, r: &Response) {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is not documented");
    let resp = &op["responses"][r.status.to_string()];
    assert!(
        resp.is_object(),
        "{method} {path}: status {} is not documented",
        r.status
    );
    let ct = r
        .header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let media = &resp["content"][&ct];
    assert!(
        media.is_object(),
        "{method} {path} {}: content type {ct} is not documented",
        r.status
    );
    if ct == "application/json" {
        let mut errors = Vec::new();
        validate(doc, &media["schema"], &r.json(), "$", &mut errors);
        assert!(
            errors.is_empty(),
            "{method} {path} {}: the response does not match the document:\n{}",
            r.status,
            errors.join("\n")
        );
    }
}

#[test]
fn openapi_document_matches_the_service() {
    let doc = openapi_doc();
    assert_eq!(doc["openapi"], "3.1.0");
    let server = Server::start(&["--max-batch-items", "5", "--max-body-bytes", "100000"]);

    // The document served is the one in the repository.
    let served = server.get("/openapi.json").json();
    assert_eq!(served, doc);

    // Every endpoint the service counts in /metrics (its routing table) is
    // documented, and every documented path is served.
    let metrics = server.get("/metrics").text();
    let served_paths: BTreeSet<String> = metrics
        .lines()
        .filter_map(|l| l.split("endpoint=\"").nth(1))
        .filter_map(|l| l.split('"').next())
        .filter(|p| *p != "other")
        .map(str::to_string)
        .collect();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(served_paths, documented);
    for path in &documented {
        let methods: Vec<String> = doc["paths"][path]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for m in methods {
            let r = server.request(
                &m.to_ascii_uppercase(),
                path,
                Some("application/json"),
                b"{}",
            );
            assert_ne!(r.status, 404, "{m} {path} is documented but not served");
            assert_ne!(r.status, 405, "{m} {path} is documented but not served");
        }
    }

    // Real responses, valid and invalid, against the schemas.
    let texts = [
        EMERGENCY,
        ROUTINE,
        "no chest pain but bp 192/121 and blurry vision; my dad had a stroke",
        "Café 😀: I want to end my life",
        "passed out yesterday, fine now",
        "",
        "💊💊",
    ];
    for t in texts {
        let r = server.post_json("/v1/triage", &json!({"text": t, "id": "x"}).to_string());
        assert_eq!(r.status, 200);
        check_documented(&doc, "POST", "/v1/triage", &r);
    }
    let batch = json!([{"text": texts[2], "id": 1}, {"id": 2}, 3, {"text": texts[3]}]).to_string();
    let r = server.post_json("/v1/triage/batch", &batch);
    check_documented(&doc, "POST", "/v1/triage/batch", &r);
    let r = server.request(
        "POST",
        "/v1/triage/batch",
        Some("application/x-ndjson"),
        b"{\"text\": \"chest pain\"}\n{broken\n",
    );
    check_documented(&doc, "POST", "/v1/triage/batch", &r);
    let errors: Vec<(&str, &str, Option<&str>, Vec<u8>)> = vec![
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            b"{".to_vec(),
        ),
        ("POST", "/v1/triage", Some("text/plain"), b"hi".to_vec()),
        (
            "POST",
            "/v1/triage",
            Some("application/json"),
            vec![b' '; 200_000],
        ),
        ("GET", "/v1/triage", None, Vec::new()),
        (
            "POST",
            "/v1/triage/batch",
            Some("application/json"),
            b"{}".to_vec(),
        ),
        (
            "POST",
            "/v1/triage/batch",
            Some("application/json"),
            b"[1,2,3,4,5,6]".to_vec(),
        ),
        ("POST", "/v1/triage/batch", None, b"[]".to_vec()),
        ("POST", "/healthz", None, Vec::new()),
        ("POST", "/metrics", None, Vec::new()),
        ("POST", "/openapi.json", None, Vec::new()),
        ("POST", "/", None, Vec::new()),
    ];
    for (method, path, ct, body) in errors {
        let r = server.request(method, path, ct, &body);
        assert!(r.status >= 400, "{method} {path}");
        let m = if r.status == 405 { "get" } else { method };
        // A 405 is documented under the path's own method.
        let m = if r.status == 405 && path.starts_with("/v1/") {
            "post"
        } else {
            m
        };
        check_documented(&doc, m, path, &r);
    }
    for path in [
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/",
        "/app.js",
        "/app.css",
    ] {
        check_documented(&doc, "GET", path, &server.get(path));
    }
    // 404 is the same Error shape.
    let r = server.get("/nowhere");
    let mut errs = Vec::new();
    validate(
        &doc,
        &json!({"$ref": "#/components/schemas/Error"}),
        &r.json(),
        "$",
        &mut errs,
    );
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn the_schema_check_catches_mismatches() {
    let doc = openapi_doc();
    let result = json!({"$ref": "#/components/schemas/TriageResult"});
    let good = json!({
        "id": null, "route": "non-urgent", "score": 0.0, "rules": [], "flags": [],
        "findings": [], "suppressed": [], "readings": [], "advice": "a", "summary": "s"
    });
    let mut errors = Vec::new();
    validate(&doc, &result, &good, "$", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let mut bad = good.clone();
    bad["extra"] = json!(1);
    bad["route"] = json!("urgent");
    bad["score"] = json!("high");
    bad.as_object_mut().map(|o| o.remove("advice"));
    bad["findings"] = json!([{"rule": "x"}]);
    validate(&doc, &result, &bad, "$", &mut errors);
    let all = errors.join("\n");
    for expected in [
        "undocumented property `extra`",
        "\"urgent\" is not one of",
        "$.score: expected",
        "missing required `advice`",
        "$.findings[0]: missing required `start_utf16`",
    ] {
        assert!(all.contains(expected), "{expected:?} not in\n{all}");
    }
}

#[test]
fn a_full_batch_and_a_long_message_match_single_requests() {
    // Over 4 KiB of text: classified on the blocking pool rather than
    // inline; the answers must not change, nor their order.
    let server = Server::start(&["--quiet"]);
    let texts: Vec<String> = (0..1000)
        .map(|i| match i % 4 {
            0 => format!("{i}: {EMERGENCY}"),
            1 => format!("{i}: {ROUTINE}"),
            2 => format!("{i}: my sugar is 45 and I feel shaky and confused"),
            _ => format!("{i}: no chest pain today, had a stroke in 2018"),
        })
        .collect();
    let body: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"id": i, "text": t}))
        .collect();
    let r = server.post_json("/v1/triage/batch", &Value::Array(body).to_string());
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let results = v["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1000);
    assert_eq!(v["errors"], 0);
    for i in [0, 1, 2, 3, 498, 999] {
        let single = server
            .post_json(
                "/v1/triage",
                &json!({"id": i, "text": texts[i]}).to_string(),
            )
            .json();
        assert_eq!(results[i], single, "item {i}");
    }
    let long = format!("{} {EMERGENCY}", ROUTINE.repeat(400));
    let rec = server
        .post_json("/v1/triage", &json!({"text": long}).to_string())
        .json();
    assert_eq!(rec["route"], "call-911");
    assert_matches_library(&rec, &long);
}

#[test]
fn a_body_that_stops_arriving_gets_408() {
    let server = Server::start(&["--body-timeout", "0.5"]);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let head = "POST /v1/triage HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"text\": \"zebra";
    stream.write_all(head.as_bytes()).expect("send part of it");
    let r = read_response(stream);
    assert_eq!(r.status, 408);
    assert_eq!(error_code(&r), "timeout");
    check_documented(&openapi_doc(), "POST", "/v1/triage", &r);
    // The service goes on.
    assert_eq!(server.get("/healthz").status, 200);
    let (code, _, err) = common::run_cli(&["serve", "--body-timeout", "0"], b"");
    assert_eq!(code, 2, "{err}");
}

// ---- Hostile clients: slow heads, too many connections, overload ----

/// Read from `stream` until EOF, an error or `within`; the bytes read and
/// whether the connection ended (EOF or reset) in that time.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    use std::io::Read;
    let deadline = std::time::Instant::now() + within;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return (raw, false);
        }
        stream.set_read_timeout(Some(left)).expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => return (raw, true),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (raw, false);
            }
            Err(_) => return (raw, true),
        }
    }
}

#[test]
fn a_request_head_that_stops_arriving_is_cut_off_after_the_header_timeout() {
    let server = Server::start(&["--header-timeout", "0.5"]);
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    let started = std::time::Instant::now();
    stream
        .write_all(b"POST /v1/triage HTTP/1.1\r\nHost: x\r\nContent-Type: applic")
        .expect("send part of a head");
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
    let open_for = started.elapsed();
    assert!(closed, "the connection is still open after 10 s");
    assert!(
        open_for >= Duration::from_millis(400) && open_for < Duration::from_secs(5),
        "closed after {open_for:?}, not about 0.5 s"
    );
    // An idle keep-alive connection is closed the same way; requests on it
    // before that work.
    let mut keep = TcpStream::connect(server.addr).expect("connect");
    for _ in 0..2 {
        keep.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        let (raw, closed) = read_until_closed(&mut keep, Duration::from_millis(300));
        assert!(!closed, "keep-alive: the connection stays open");
        assert!(
            raw.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&raw)
        );
    }
    let (_, closed) = read_until_closed(&mut keep, Duration::from_secs(10));
    assert!(closed, "an idle keep-alive connection is closed");
    assert_eq!(server.get("/healthz").status, 200);
    let (code, _, err) = common::run_cli(&["serve", "--header-timeout", "0"], b"");
    assert_eq!(code, 2, "{err}");
}

#[test]
fn connections_over_the_cap_wait_until_one_closes() {
    let server = Server::start(&["--max-connections", "2", "--header-timeout", "60"]);
    let mut holders: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).expect("connect");
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .expect("send part of a head");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // The third connection is queued, not served.
    let mut third = TcpStream::connect(server.addr).expect("the listen queue takes it");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send a request");
    let (raw, closed) = read_until_closed(&mut third, Duration::from_millis(800));
    assert!(
        raw.is_empty() && !closed,
        "a connection over the cap was served: {}",
        String::from_utf8_lossy(&raw)
    );
    // One closes: the third is served.
    holders.pop();
    let (rest, closed) = read_until_closed(&mut third, Duration::from_secs(20));
    assert!(closed);
    let r = common::server::parse_response(&[raw, rest].concat());
    assert_eq!(r.status, 200);
    drop(holders);
    assert_eq!(server.get("/healthz").status, 200);
}

/// Send the head and part of a body of `len` bytes to `/v1/triage`; the
/// request stays in flight until the rest is sent.
fn start_slow_post(server: &Server, len: usize) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    let head = format!(
        "POST /v1/triage HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{{\"text\": \""
    );
    stream.write_all(head.as_bytes()).expect("send");
    stream
}

fn finish_slow_post(mut stream: TcpStream, len: usize) -> Response {
    let sent = "{\"text\": \"".len();
    let rest = format!("{}\"}}", "a".repeat(len - sent - 2));
    stream.write_all(rest.as_bytes()).expect("send the rest");
    read_response(stream)
}

fn assert_overloaded(r: &Response) {
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(error_code(r), "overloaded");
    assert_eq!(r.header("retry-after"), Some("1"));
    check_documented(&openapi_doc(), "POST", "/v1/triage", r);
}

#[test]
fn requests_over_the_in_flight_limit_get_503_with_retry_after() {
    let server = Server::start(&["--max-inflight-requests", "1"]);
    let slow = start_slow_post(&server, 200);
    std::thread::sleep(Duration::from_millis(200));
    let r = server.post_json("/v1/triage", &json!({"text": ROUTINE}).to_string());
    assert_overloaded(&r);
    let r = server.post_json("/v1/triage/batch", &json!([{"text": ROUTINE}]).to_string());
    assert_eq!(r.status, 503);
    check_documented(&openapi_doc(), "POST", "/v1/triage/batch", &r);
    // Health and metrics are not counted.
    assert_eq!(server.get("/healthz").status, 200);
    assert!(
        server
            .get("/metrics")
            .text()
            .contains("portal_triage_errors_total{code=\"overloaded\"} 2")
    );
    assert_eq!(finish_slow_post(slow, 200).status, 200);
    let r = server.post_json("/v1/triage", &json!({"text": ROUTINE}).to_string());
    assert_eq!(r.status, 200, "the slot was given back");
}

#[test]
fn bytes_over_the_in_flight_limit_get_503_declared_or_chunked() {
    let server = Server::start(&["--max-inflight-bytes", "1000", "--max-body-bytes", "1000"]);
    let slow = start_slow_post(&server, 800);
    std::thread::sleep(Duration::from_millis(200));
    // 800 + 300 declared bytes do not fit in 1000.
    let body = format!("{{\"text\": \"{}\"}}", "a".repeat(300 - 12));
    assert_eq!(body.len(), 300);
    assert_overloaded(&server.post_json("/v1/triage", &body));
    // Nor do 300 chunked bytes (reserved as they arrive).
    let mut chunked = TcpStream::connect(server.addr).expect("connect");
    let head = format!(
        "POST /v1/triage HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    chunked.write_all(head.as_bytes()).expect("send");
    assert_overloaded(&read_response(chunked));
    // A small one fits.
    let small = json!({"text": "refill"}).to_string();
    assert_eq!(server.post_json("/v1/triage", &small).status, 200);
    assert_eq!(finish_slow_post(slow, 800).status, 200);
    // Everything was given back: a body of 900 bytes fits again.
    let big = format!("{{\"text\": \"{}\"}}", "a".repeat(900 - 12));
    assert_eq!(server.post_json("/v1/triage", &big).status, 200);
    let (code, _, err) = common::run_cli(
        &[
            "serve",
            "--max-inflight-bytes",
            "10",
            "--max-body-bytes",
            "100",
        ],
        b"",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-inflight-bytes"), "{err}");
}

#[test]
fn a_megabyte_message_with_thousands_of_findings_is_answered_in_linear_time() {
    // 25,000 findings over 1 MiB: the UTF-16 offsets were counted from the
    // start of the text for each one (27 s in a release build).
    let server = Server::start(&["--quiet"]);
    let text: String = "lorem ipsum dolor sit amet refill please "
        .repeat(25_000)
        .chars()
        .take((1 << 20) - 64)
        .collect();
    let body = json!({"text": text}).to_string();
    let started = std::time::Instant::now();
    let r = server.post_json("/v1/triage", &body);
    let took = started.elapsed();
    assert_eq!(r.status, 200);
    let v = r.json();
    let findings = v["findings"].as_array().map_or(0, Vec::len);
    assert!(findings > 20_000, "{findings} findings");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[cfg(unix)]
#[test]
fn sigterm_at_any_moment_of_start_up_exits_0() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    // None: right after the "starting" line (the rules are loading);
    // otherwise that long after the process started.
    for delay in [None, Some(150), Some(400), Some(1000), Some(2500)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_portal-triage"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let spawned = std::time::Instant::now();
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line.clone());
                lines.push(line);
            }
            lines
        });
        match delay {
            None => loop {
                let line = rx
                    .recv_timeout(Duration::from_secs(30))
                    .expect("a start-up line");
                if line.contains("starting") {
                    break;
                }
            },
            Some(ms) => {
                std::thread::sleep(Duration::from_millis(ms).saturating_sub(spawned.elapsed()));
            }
        }
        let pid = child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let status = child.wait().expect("wait");
        let lines = reader.join().expect("reader").join("\n");
        assert_eq!(
            status.code(),
            Some(0),
            "delay {delay:?}: {status:?}\n{lines}"
        );
        assert!(lines.contains("stopped"), "delay {delay:?}: {lines}");
    }
}
