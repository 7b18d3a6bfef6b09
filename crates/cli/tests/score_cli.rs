//! `portal-triage score` on message archives: every input format, gzip,
//! content sniffing, malformed records, order across threads, CSV output,
//! field options, and the errors that stop a run. Each test runs the real
//! binary on fixtures under tests/fixtures/score/.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/score")
        .join(name)
        .display()
        .to_string()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_with(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal-triage"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    // A run that fails before reading closes stdin early; that is fine.
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().expect("the binary finishes");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("output is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn run(args: &[&str]) -> Run {
    run_with(args, b"")
}

fn records(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect()
}

/// (id, route) of each record.
fn routes(stdout: &str) -> Vec<(Value, String)> {
    records(stdout)
        .into_iter()
        .map(|r| {
            (
                r["id"].clone(),
                r["route"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn ids_routes(pairs: &[(&str, &str)]) -> Vec<(Value, String)> {
    pairs
        .iter()
        .map(|(id, route)| (Value::from(*id), route.to_string()))
        .collect()
}

/// Words of the fixture messages that must never appear on stderr.
const MESSAGE_WORDS: [&str; 4] = ["chest", "lisinopril", "slurring", "breathe"];

fn assert_no_message_text(stderr: &str) {
    for w in MESSAGE_WORDS {
        assert!(!stderr.contains(w), "stderr quotes message text: {stderr}");
    }
}

#[test]
fn jsonl_is_scored_in_order_and_blank_lines_are_not_records() {
    let r = run(&["score", &fixture("messages.jsonl")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = records(&r.stdout);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0]["id"], "m1");
    assert_eq!(got[0]["route"], "call-911");
    assert_eq!(got[1]["route"], "non-urgent");
    assert_eq!(got[2]["route"], "needs-call");
    assert_eq!(got[3]["id"], 4);
    assert!(got.iter().all(|r| r.get("error").is_none()));
}

/// A numeric id is echoed as written (issue 16 item 7): beyond 64 bits,
/// with an exponent, at a dotted path, from a broken line, and in CSV
/// output and the stderr note.
#[test]
fn numeric_ids_are_echoed_exactly_as_written() {
    let input = concat!(
        "{\"id\": 18446744073709551616, \"text\": \"refill\"}\n",
        "{\"id\": 1e2, \"text\": \"refill\"}\n",
        "{\"id\": -0.50, \"text\": \"refill\"}\n",
        "{\"id\": 99999999999999999999, \"text\": \"broken\n",
        "{\"id\": 7, \"text\": \"refill\"}\n",
    );
    let r = run_with(&["score", "--format", "jsonl"], input.as_bytes());
    let ids: Vec<&str> = r
        .stdout
        .lines()
        .map(|l| {
            let at = l.find("\"id\":").map_or(0, |a| a + 5);
            let len = l[at..].find([',', '}']).unwrap_or(0);
            &l[at..at + len]
        })
        .collect();
    assert_eq!(
        ids,
        [
            "18446744073709551616",
            "1e2",
            "-0.50",
            "99999999999999999999",
            "7"
        ],
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("(id 99999999999999999999)"),
        "{}",
        r.stderr
    );
    let r = run_with(
        &["score", "--format", "jsonl", "--output-format", "csv"],
        input.as_bytes(),
    );
    let first: Vec<&str> = r
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or_default())
        .collect();
    assert_eq!(
        first,
        [
            "18446744073709551616",
            "1e2",
            "-0.50",
            "99999999999999999999",
            "7"
        ]
    );
    let r = run_with(
        &["score", "--format", "jsonl", "--id-field", "meta.n.1"],
        b"{\"meta\": {\"n\": [5, 123456789012345678901]}, \"text\": \"refill\"}\n",
    );
    assert!(
        r.stdout.starts_with("{\"id\":123456789012345678901,"),
        "{}",
        r.stdout
    );
}

/// A repeated id or text key is ambiguous (issue 16 item 8): the record is
/// flagged `duplicate-field` and read with every value (an emergency in
/// either copy of the text counts; both ids are kept), not silently the
/// last one. A key word inside a value is not a repeated key.
#[test]
fn repeated_id_or_text_keys_are_flagged_and_every_value_is_read() {
    let input = concat!(
        "{\"id\": 1, \"text\": \"my chest is crushing\", \"text\": \"refill\"}\n",
        "{\"id\": 2, \"id\": 3, \"text\": \"refill\"}\n",
        "{\"id\": 4, \"kind\": \"text\", \"text\": \"say \\\"text\\\" please\"}\n",
        "{\"id\": 5, \"text\": \"refill\"}\n",
    );
    let r = run_with(&["score", "--format", "jsonl"], input.as_bytes());
    assert_eq!(r.code, 1, "{}", r.stderr);
    let recs = records(&r.stdout);
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0]["id"], 1);
    assert_eq!(recs[0]["route"], "call-911", "{}", recs[0]);
    assert!(
        recs[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("`text` appears 2 times"),
        "{}",
        recs[0]
    );
    assert_eq!(recs[1]["id"], serde_json::json!([2, 3]));
    assert!(
        recs[1]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("`id` appears 2 times")
    );
    assert!(recs[2].get("error").is_none(), "{}", recs[2]);
    assert!(recs[3].get("error").is_none(), "{}", recs[3]);
    assert!(r.stderr.contains("duplicate-field 2"), "{}", r.stderr);
    assert_no_message_text(&r.stderr);
    assert!(!r.stderr.contains("refill") && !r.stderr.contains("crushing"));
}

#[test]
fn csv_with_quoted_multi_line_fields() {
    let r = run(&["score", &fixture("messages.csv")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        routes(&r.stdout),
        ids_routes(&[
            ("c1", "call-911"),
            ("c2", "non-urgent"),
            ("c3", "needs-call")
        ])
    );
}

#[test]
fn text_lines_take_their_line_number_as_id() {
    let r = run(&["score", &fixture("messages.txt")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = routes(&r.stdout);
    assert_eq!(
        got,
        vec![
            (Value::from(1), "call-911".to_string()),
            (Value::from(3), "non-urgent".to_string()),
            (Value::from(4), "needs-call".to_string()),
        ]
    );
}

#[test]
fn fhir_communications_get_a_priority_and_joined_payloads() {
    let r = run(&["score", &fixture("communication.ndjson")]);
    // comm-4 carries only an attachment: scored, flagged, exit 1.
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    let pairs: Vec<(&str, &str, &str)> = got
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or(""),
                r["route"].as_str().unwrap_or(""),
                r["priority"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("comm-1", "call-911", "stat"),
            ("comm-2", "needs-call", "urgent"),
            ("comm-3", "non-urgent", "routine"),
            ("comm-4", "non-urgent", "routine"),
        ]
    );
    // "passed out yesterday," + "fine now" in two payloads read as one text.
    assert_eq!(got[1]["rules"][0], "neuro.loss-of-consciousness");
    assert_eq!(got[3]["line"], 4);
    assert!(
        got[3]["error"]
            .as_str()
            .unwrap_or("")
            .contains("contentString")
    );
}

#[test]
fn fhir_explain_gives_spans_into_the_joined_text() {
    let r = run(&["score", "--explain", &fixture("communication.ndjson")]);
    let first = &records(&r.stdout)[0];
    let f = &first["findings"][0];
    let text = "I can't breathe and my lips look blue";
    let (start, end) = (
        f["start"].as_u64().unwrap_or(0) as usize,
        f["end"].as_u64().unwrap_or(0) as usize,
    );
    assert_eq!(&text[start..end], f["text"].as_str().unwrap_or("-"));
    assert!(first["advice"].as_str().unwrap_or("").contains("911"));
}

#[test]
fn gzip_is_read_transparently_including_several_members() {
    let plain = run(&["score", &fixture("messages.jsonl")]);
    let gz = run(&["score", &fixture("messages.jsonl.gz")]);
    assert_eq!(gz.code, 0, "{}", gz.stderr);
    assert_eq!(gz.stdout, plain.stdout);
    let csv_gz = run(&["score", &fixture("messages.csv.gz")]);
    assert_eq!(
        csv_gz.stdout,
        run(&["score", &fixture("messages.csv")]).stdout
    );
    // Two gzip members (appended exports): both are read.
    let two = run(&["score", &fixture("two-members.txt.gz")]);
    assert_eq!(two.code, 0, "{}", two.stderr);
    let ids: Vec<Value> = records(&two.stdout)
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [1, 3, 4, 5, 7, 8].map(Value::from));
    // gzip on standard input too.
    let bytes = std::fs::read(fixture("messages.jsonl.gz")).unwrap_or_default();
    let stdin = run_with(&["score"], &bytes);
    assert_eq!(stdin.stdout, plain.stdout);
}

#[test]
fn the_format_is_sniffed_from_the_content() {
    let csv = run(&["score", &fixture("export-without-extension")]);
    assert_eq!(csv.stdout, run(&["score", &fixture("messages.csv")]).stdout);
    let fhir = run(&["score", &fixture("Communication-export")]);
    assert_eq!(
        fhir.stdout,
        run(&["score", &fixture("communication.ndjson")]).stdout
    );
    let bytes = std::fs::read(fixture("messages.csv")).unwrap_or_default();
    let stdin = run_with(&["score"], &bytes);
    assert_eq!(stdin.code, 0, "{}", stdin.stderr);
    assert_eq!(routes(&stdin.stdout).len(), 3);
    let text = std::fs::read(fixture("messages.txt")).unwrap_or_default();
    let stdin = run_with(&["score", "-q"], &text);
    assert_eq!(
        routes(&stdin.stdout)[0],
        (Value::from(1), "call-911".to_string())
    );
}

#[test]
fn malformed_jsonl_records_each_yield_a_record_with_their_problem() {
    let r = run(&["score", &fixture("malformed.jsonl")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    let summary: Vec<(Value, &str, Value)> = got
        .iter()
        .map(|r| {
            (
                r["id"].clone(),
                r["error"].as_str().unwrap_or(""),
                r["line"].clone(),
            )
        })
        .collect();
    assert_eq!(summary.len(), 8, "one record per input record");
    assert_eq!(summary[0], (Value::from("ok"), "", Value::Null));
    assert_eq!(summary[1].0, "cut");
    assert!(summary[1].1.starts_with("bad JSON"), "{}", summary[1].1);
    assert_eq!(summary[1].2, 2);
    assert_eq!(
        summary[2],
        (
            Value::from("notext"),
            "missing text field `text`",
            Value::from(3)
        )
    );
    assert_eq!(
        summary[3],
        (Value::from("bad-utf8"), "invalid UTF-8", Value::from(4))
    );
    assert_eq!(
        summary[4],
        (Value::from("empty"), "empty text", Value::from(5))
    );
    assert_eq!(
        summary[5],
        (Value::Null, "not a JSON object", Value::from(6))
    );
    assert_eq!(
        summary[6],
        (Value::Null, "missing id field `id`", Value::from(7))
    );
    assert_eq!(
        summary[7],
        (
            Value::from("num"),
            "text field `text` is not a string",
            Value::from(8)
        )
    );
    // Recovered text is still scored.
    assert_eq!(got[1]["route"], "call-911");
    assert_eq!(got[3]["route"], "call-911");
    assert_eq!(got[6]["route"], "needs-call");
    // The summary counts them by kind and names lines, never text.
    assert!(r.stderr.contains("malformed: 7"), "{}", r.stderr);
    assert!(r.stderr.contains("bad-json 1"), "{}", r.stderr);
    assert!(
        r.stderr.contains("malformed.jsonl:2: bad JSON"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("(id cut)"), "{}", r.stderr);
    assert_no_message_text(&r.stderr);
}

#[test]
fn malformed_csv_rows_each_yield_a_record_with_their_problem() {
    let r = run(&["score", &fixture("malformed.csv")]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    let summary: Vec<(Value, &str, Value, &str)> = got
        .iter()
        .map(|r| {
            (
                r["id"].clone(),
                r["error"].as_str().unwrap_or(""),
                r["line"].clone(),
                r["route"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (Value::from("k1"), "", Value::Null, "non-urgent"),
            // Line numbers count the multi-line field of k1.
            (
                Value::from("k2"),
                "CSV row has 2 fields, the header has 3",
                Value::from(4),
                "non-urgent"
            ),
            (
                Value::from("k3"),
                "CSV row has 4 fields, the header has 3",
                Value::from(5),
                "call-911"
            ),
            (
                Value::from("k4"),
                "invalid UTF-8",
                Value::from(6),
                "call-911"
            ),
            (
                Value::from("k5"),
                "empty text",
                Value::from(7),
                "non-urgent"
            ),
            (
                Value::Null,
                "missing id (empty id cell)",
                Value::from(8),
                "needs-call"
            ),
        ]
    );
    assert_no_message_text(&r.stderr);
}

#[test]
fn a_csv_quote_open_past_1000_lines_gives_back_every_row_after_it() {
    let mut input = b"id,text\nq1,\"refill please\nq2,never closed quote\n".to_vec();
    for i in 0..1200 {
        input.extend_from_slice(format!("r{i},another row\n").as_bytes());
    }
    let r = run_with(&["score", "--format", "csv"], &input);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    assert_eq!(got.len(), 1202, "one record per row");
    assert_eq!(got[0]["id"], "q1");
    assert_eq!(got[0]["line"], 2);
    let error = got[0]["error"].as_str().unwrap_or("");
    assert!(error.contains("never closed"), "{error}");
    assert!(error.contains("more than 1000 lines"), "{error}");
    assert_eq!(got[1]["id"], "q2");
    assert!(got[1].get("error").is_none(), "{}", got[1]);
    assert_eq!(got[1201]["id"], "r1199");
    assert!(r.stderr.contains("bad-csv-row 1"), "{}", r.stderr);
}

/// The example: an opening quote never closed must not swallow the
/// rows after it nor lend their words to the first id.
#[test]
fn an_unclosed_csv_quote_gives_back_every_row_after_it() {
    let input = b"id,text\n1,\"I said \"\"hi\"\" refill please\n2,need appointment\n3,my husband is not breathing\n4,refill\n";
    let r = run_with(&["score", "--format", "csv"], input);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    let ids: Vec<&str> = got.iter().map(|r| r["id"].as_str().unwrap_or("")).collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    assert_ne!(got[0]["route"], "call-911", "row 3's words stay with id 3");
    assert_eq!(got[2]["route"], "call-911");
    assert_eq!(got[0]["line"], 2);
    let error = got[0]["error"].as_str().unwrap_or("");
    assert!(error.starts_with("CSV row: an opening quote"), "{error}");
    assert!(error.contains("never closed"), "{error}");
    assert!(got[1..].iter().all(|r| r.get("error").is_none()));
    assert!(r.stderr.contains("scored 4 records"), "{}", r.stderr);
    assert!(r.stderr.contains("<stdin>:2: CSV row"), "{}", r.stderr);
    assert!(!r.stderr.contains("refill"), "{}", r.stderr);
    // A valid multi-line quoted field, after the damage, is still one
    // record, and line numbers stay right.
    let input = b"id,text\n1,\"open\n2,\"two\nlines\"\n3,x\n";
    let r = run_with(&["score", "--format", "csv"], input);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    let ids: Vec<&str> = got.iter().map(|r| r["id"].as_str().unwrap_or("")).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert!(
        got[0]["error"].as_str().unwrap_or("").contains("line 3"),
        "{}",
        got[0]
    );
    assert!(got[1].get("error").is_none(), "{}", got[1]);
}

/// Every other way a CSV can be damaged: one record per row, flagged when
/// odd, never fatal.
#[test]
fn damaged_csv_rows_are_one_flagged_record_each() {
    let input = b"id,text\r\n\
a1,he said \"stop\" now\r\n\
a2,\"closed\" then more,\r\n\
a3,nul \0 byte\r\n\
a4,bad \xff utf8\r\n\
a5,plain\ra6,after a lone CR\r\n\
a7,\"fine \"\"quoted\"\"\"\r\n";
    let r = run_with(&["score", "--format", "csv"], input);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got: Vec<(String, u64, String)> = records(&r.stdout)
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or("").to_string(),
                r["line"].as_u64().unwrap_or(0),
                r["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let ids: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]);
    assert!(
        got[0].2.contains("quote inside an unquoted field"),
        "{got:?}"
    );
    assert!(got[1].2.contains("text after the closing quote"), "{got:?}");
    assert!(got[2].2.contains("NUL"), "{got:?}");
    assert_eq!(got[3].2, "invalid UTF-8");
    assert_eq!(
        (got[4].2.as_str(), got[5].2.as_str(), got[6].2.as_str()),
        ("", "", "")
    );
    assert_eq!(
        got.iter().map(|g| g.1).take(4).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    // A header whose quote never closes cannot be read: exit 2, no output.
    let r = run_with(&["score", "--format", "csv"], b"id,\"text\n1,hello\n");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("cannot read the CSV header (line 1)"),
        "{}",
        r.stderr
    );
}

/// Nothing from the input reaches stderr, whatever is wrong with it.
#[test]
fn errors_never_quote_the_input() {
    const SECRET: &str = "zebra-violet-secret";
    let cases: Vec<(Vec<&str>, String)> = vec![
        // A CSV without a header row.
        (
            vec!["score", "--format", "csv"],
            format!("1,{SECRET},north\n"),
        ),
        // JSON Lines read as CSV.
        (
            vec!["score", "--format", "csv"],
            format!("{{\"id\": \"m1\", \"text\": \"{SECRET}\"}}\n"),
        ),
        // A kept column that does not exist.
        (
            vec!["score", "--format", "csv", "--keep-fields", "clinic"],
            format!("id,text,{SECRET}\n1,hello,x\n"),
        ),
        (
            vec!["score", "--format", "csv", "--id-field", "msg"],
            format!("{SECRET},text\n1,hello\n"),
        ),
        // Damaged rows and a damaged header.
        (
            vec!["score", "--format", "csv"],
            format!("id,text\n1,\"{SECRET}\n2,\"{SECRET}\" {SECRET}\n3,a\0{SECRET}\n"),
        ),
        (vec!["score", "--format", "csv"], format!("id,\"{SECRET}\n")),
        // Broken JSON, pretty JSON, a JSON array.
        (
            vec!["score"],
            format!("{{\"id\": 1, \"text\": \"{SECRET}\n"),
        ),
        (
            vec!["score"],
            format!("{{\n  \"id\": 1,\n  \"text\": \"{SECRET}\"\n}}\n"),
        ),
        (
            vec!["score"],
            format!("[{{\"id\": 1, \"text\": \"{SECRET}\"}}]\n"),
        ),
        (
            vec!["score", "--text-field", "body"],
            format!("{{\"id\": 1, \"text\": \"{SECRET}\"}}\n"),
        ),
    ];
    for (args, input) in cases {
        let r = run_with(&args, input.as_bytes());
        assert!(
            !r.stderr.contains(SECRET),
            "{args:?} quotes the input on stderr: {}",
            r.stderr
        );
    }
}

#[test]
fn a_csv_without_a_header_row_is_explained_then_scored_with_no_header() {
    let dir = tempdir("no-header");
    let h = dir.join("h.csv");
    std::fs::write(
        &h,
        "1,my chest hurts and I cannot breathe,north\n2,\"refill\nplease\",south\n3,\"never closed,east\n4,need an appointment,west\n",
    )
    .ok();
    let h = h.to_str().unwrap_or_default();
    let r = run(&["score", h]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains(
            "the first row does not look like a CSV header: it has 3 column(s), none named `text`"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("--no-header --text-column N"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("north"), "{}", r.stderr);
    assert_no_message_text(&r.stderr);

    let r = run(&[
        "score",
        "--no-header",
        "--id-column",
        "1",
        "--text-column",
        "2",
        "--keep-fields",
        "3",
        h,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    let rows: Vec<(Value, Value, Value)> = got
        .iter()
        .map(|r| (r["id"].clone(), r["3"].clone(), r["line"].clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("1".into(), "north".into(), Value::Null),
            ("2".into(), "south".into(), Value::Null),
            ("3".into(), Value::Null, 4.into()),
            ("4".into(), "west".into(), Value::Null),
        ]
    );
    assert_eq!(got[0]["route"], "call-911");
    assert!(
        got[2]["error"]
            .as_str()
            .unwrap_or("")
            .contains("never closed")
    );

    // Without --id-column the line number is the id.
    let r = run(&["score", "--no-header", "--text-column", "2", h]);
    let ids: Vec<Value> = records(&r.stdout).iter().map(|r| r["id"].clone()).collect();
    assert_eq!(ids, [1, 2, 4, 5].map(Value::from));

    // Misuse is caught before reading.
    for args in [
        vec!["score", "--id-column", "1", h],
        vec!["score", "--no-header", h],
        vec!["score", "--no-header", "--text-column", "0", h],
        vec![
            "score",
            "--no-header",
            "--text-column",
            "2",
            "--text-field",
            "t",
            h,
        ],
        vec![
            "score",
            "--no-header",
            "--text-column",
            "2",
            "--keep-fields",
            "clinic",
            h,
        ],
        vec![
            "score",
            "--no-header",
            "--text-column",
            "2",
            "--format",
            "jsonl",
            h,
        ],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn pretty_printed_json_is_refused_with_how_to_convert_it() {
    let dir = tempdir("pretty");
    let one = dir.join("one.json");
    std::fs::write(
        &one,
        "{\n  \"id\": 1,\n  \"text\": \"I cannot breathe\"\n}\n",
    )
    .ok();
    let several = dir.join("several.json");
    std::fs::write(
        &several,
        "{\n  \"id\": 1\n}\n{\n  \"id\": 2,\n  \"text\": \"hi\"\n}\n",
    )
    .ok();
    for f in [&one, &several] {
        let r = run(&["score", f.to_str().unwrap_or_default()]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert!(
            r.stderr.contains("spread over several lines"),
            "{}",
            r.stderr
        );
        assert!(r.stderr.contains("jq -c ."), "{}", r.stderr);
        assert_no_message_text(&r.stderr);
    }
    // JSON Lines whose first record is cut short is still scored.
    let broken = dir.join("broken.jsonl");
    std::fs::write(
        &broken,
        "{\"id\": \"a\", \"text\": \"crushing chest pa\n{\"id\": \"b\", \"text\": \"refill\"}\n",
    )
    .ok();
    let r = run(&["score", broken.to_str().unwrap_or_default()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    assert_eq!(got.len(), 2);
    assert!(
        got[0]["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("bad JSON")
    );
    assert_eq!(got[1]["id"], "b");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn order_and_bytes_are_the_same_with_one_thread_and_many() {
    // Enough records for many batches, malformed ones among them.
    let texts = [
        "crushing chest pain right now",
        "Could you send a refill of my lisinopril?",
        "passed out yesterday, fine now",
        "my husband is slurring his words",
        "",
    ];
    let mut input = Vec::new();
    for i in 0..1500 {
        if i % 97 == 13 {
            input.extend_from_slice(format!("{{\"id\": \"r{i}\", \"text\": \"cut\n").as_bytes());
        } else {
            let line = serde_json::json!({"id": format!("r{i}"), "text": texts[i % texts.len()]});
            input.extend_from_slice(line.to_string().as_bytes());
            input.push(b'\n');
        }
    }
    let one = run_with(&["score", "--threads", "1", "-q"], &input);
    let four = run_with(&["score", "--threads", "4", "-q"], &input);
    assert_eq!(one.code, 1, "{}", one.stderr);
    assert_eq!(four.code, 1, "{}", four.stderr);
    assert_eq!(
        one.stdout, four.stdout,
        "byte-identical across thread counts"
    );
    let ids: Vec<String> = records(&four.stdout)
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect();
    let expected: Vec<String> = (0..1500).map(|i| format!("r{i}")).collect();
    assert_eq!(ids, expected);
}

#[test]
fn several_inputs_make_one_output_and_errors_name_their_file() {
    let r = run(&[
        "score",
        &fixture("messages.jsonl"),
        &fixture("malformed.csv"),
        &fixture("messages.txt"),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let got = records(&r.stdout);
    assert_eq!(got.len(), 4 + 6 + 3);
    assert_eq!(got[0]["id"], "m1");
    assert_eq!(got[4]["id"], "k1");
    assert_eq!(got[10]["id"], 1);
    assert!(
        got[5]["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("malformed.csv")
    );
    assert!(
        got[0]["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("messages.jsonl")
    );
    assert!(
        got[10]["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("messages.txt")
    );
    let single = run(&["score", &fixture("malformed.csv")]);
    assert!(records(&single.stdout)[1].get("file").is_none());
    assert!(
        r.stderr.contains("from 3 input(s) (jsonl, csv, text)"),
        "{}",
        r.stderr
    );
}

#[test]
fn nested_fields_and_kept_fields() {
    let r = run(&[
        "score",
        "--id-field",
        "message.id",
        "--text-field",
        "message.body",
        "--keep-fields",
        "site,missing",
        &fixture("nested.jsonl"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let got = records(&r.stdout);
    assert_eq!(got[0]["id"], "n1");
    assert_eq!(got[0]["route"], "call-911");
    assert_eq!(got[0]["site"], "a");
    assert_eq!(got[0]["missing"], Value::Null);
    assert_eq!(got[1]["route"], "non-urgent");

    let r = run(&[
        "score",
        "--keep-fields",
        "clinic,meta.sent",
        &fixture("messages.jsonl"),
    ]);
    let got = records(&r.stdout);
    assert_eq!(got[0]["clinic"], "north");
    assert_eq!(got[0]["meta.sent"], "2024-01-02");

    let r = run(&[
        "score",
        "--keep-fields",
        "subject.reference",
        &fixture("communication.ndjson"),
    ]);
    assert_eq!(records(&r.stdout)[2]["subject.reference"], "Patient/p3");
}

#[test]
fn csv_output_with_kept_columns() {
    let dir = tempdir("csv-out");
    let out = dir.join("scored.csv");
    let r = run(&[
        "score",
        "--keep-fields",
        "clinic",
        "-o",
        out.to_str().unwrap_or_default(),
        &fixture("messages.csv"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let written = std::fs::read_to_string(&out).unwrap_or_default();
    let mut rows = csv::Reader::from_reader(written.as_bytes());
    let header: Vec<String> = rows
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    assert_eq!(
        header,
        [
            "id", "route", "score", "rules", "flags", "error", "line", "clinic"
        ]
    );
    let rows: Vec<csv::StringRecord> = rows.records().filter_map(Result::ok).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][0], "c1");
    assert_eq!(&rows[0][1], "call-911");
    assert_eq!(&rows[0][3], "neuro.speech neuro.face-droop");
    assert_eq!(&rows[0][7], "north");
    assert_eq!(&rows[2][1], "needs-call");

    // FHIR to CSV on stdout: a priority column.
    let r = run(&[
        "score",
        "--output-format",
        "csv",
        "-q",
        &fixture("communication.ndjson"),
    ]);
    let first = r.stdout.lines().next().unwrap_or("");
    assert_eq!(first, "id,route,score,rules,flags,error,line,priority");
    assert!(
        r.stdout.lines().nth(1).unwrap_or("").ends_with(",stat"),
        "{}",
        r.stdout
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_unknown_text_field_names_the_fields_that_exist() {
    let r = run(&["score", "--text-field", "body", &fixture("messages.jsonl")]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("`body`"), "{}", r.stderr);
    assert!(r.stderr.contains("clinic, id, meta, text"), "{}", r.stderr);
    assert!(!r.stderr.contains("north"), "no values: {}", r.stderr);
    assert_no_message_text(&r.stderr);

    // A CSV header is not listed: the first row may be a message.
    let r = run(&["score", "--text-field", "body", &fixture("messages.csv")]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("3 column(s), none named `body`"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("clinic"), "{}", r.stderr);
}

#[test]
fn input_errors_stop_before_any_output() {
    let r = run(&["score", "/nonexistent/inbox.jsonl"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot open /nonexistent/inbox.jsonl"),
        "{}",
        r.stderr
    );
    let r = run(&["score", &fixture("")]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is a directory"), "{}", r.stderr);
    let r = run(&["score", &fixture("patients.ndjson")]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("FHIR Patient resources"), "{}", r.stderr);
    let r = run(&[
        "score",
        "--keep-fields",
        "route",
        &fixture("messages.jsonl"),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already an output field"), "{}", r.stderr);
    let r = run(&[
        "score",
        "-o",
        &fixture("messages.jsonl"),
        &fixture("messages.jsonl"),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is also an input"), "{}", r.stderr);
    let r = run(&["score", "--keep-fields", "clinic", &fixture("messages.txt")]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("plain text, which has no fields"),
        "{}",
        r.stderr
    );
    let r = run(&[
        "score",
        "-o",
        "/nonexistent/dir/out.jsonl",
        &fixture("messages.jsonl"),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("cannot create the output file"),
        "{}",
        r.stderr
    );
    let r = run_with(&["score"], b"\xff\xfei\0d\0,\0t\0e\0x\0t\0\n\0");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is UTF-16 text"), "{}", r.stderr);
    let r = run_with(&["score"], b"[{\"id\": 1, \"text\": \"hello\"}]\n");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("looks like one JSON array"),
        "{}",
        r.stderr
    );
    let r = run(&["score", "--threads", "0", &fixture("messages.jsonl")]);
    assert_eq!(r.code, 2);
}

#[test]
fn a_file_named_gz_that_is_not_gzip_is_refused() {
    let dir = tempdir("fake-gz");
    let fake = dir.join("inbox.jsonl.gz");
    std::fs::write(&fake, b"{\"id\": 1, \"text\": \"hello\"}\n").ok();
    let r = run(&["score", fake.to_str().unwrap_or_default()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not gzip data"), "{}", r.stderr);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
#[cfg(target_os = "linux")]
fn a_full_disk_is_exit_2_with_a_clear_error() {
    let r = run(&["score", "-o", "/dev/full", &fixture("messages.jsonl")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot write to /dev/full"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("0 whole records"), "{}", r.stderr);
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut input = Vec::new();
    for i in 0..3000 {
        input.extend_from_slice(
            format!("{{\"id\": {i}, \"text\": \"refill please\"}}\n").as_bytes(),
        );
    }
    let dir = tempdir("pipe");
    let path = dir.join("many.jsonl");
    std::fs::write(&path, &input).ok();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal-triage"))
        .args(["score", "--threads", "2", path.to_str().unwrap_or_default()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).ok();
    drop(stdout); // the reader goes away, like `| head`
    let out = child.wait_with_output().expect("the binary finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(first.starts_with(b"{\"id\":0"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_read_error_mid_stream_keeps_what_was_scored_and_exits_2() {
    use flate2::{Compression, write::GzEncoder};
    // A gzip archive cut short, well past the part read to decide the format.
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    for i in 0..4000 {
        let line =
            format!("{{\"id\": {i}, \"text\": \"refill please, message number {i} of many\"}}\n");
        gz.write_all(line.as_bytes()).ok();
    }
    let bytes = gz.finish().unwrap_or_default();
    let dir = tempdir("cut-gz");
    let path = dir.join("cut.jsonl.gz");
    std::fs::write(&path, &bytes[..bytes.len() * 3 / 4]).ok();
    let r = run(&["score", path.to_str().unwrap_or_default()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cut.jsonl.gz: read error after line"),
        "{}",
        r.stderr
    );
    let got = records(&r.stdout);
    assert!(got.len() > 1000, "the records before the error are written");
    for (i, rec) in got.iter().enumerate() {
        assert_eq!(rec["id"], i, "whole records, in order");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
#[cfg(unix)]
fn pipes_given_as_files_are_read_once() {
    // `score <(zcat a.gz) <(cat b.csv)`: each pipe can be read only once, so
    // the bytes read to choose the format must not be lost.
    let script = format!(
        "exec \"$0\" score -q <(cat {}) <(gzip -dc {})",
        fixture("messages.csv"),
        fixture("messages.jsonl.gz")
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_portal-triage"))
        .output()
        .expect("bash runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<Value> = records(&String::from_utf8_lossy(&out.stdout))
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    let expected: Vec<Value> = vec![
        "c1".into(),
        "c2".into(),
        "c3".into(),
        "m1".into(),
        "m2".into(),
        "m3".into(),
        4.into(),
    ];
    assert_eq!(ids, expected);
}

#[test]
#[cfg(unix)]
fn many_inputs_do_not_hold_many_open_files() {
    // 200 inputs under a limit of 64 open files: each is opened in turn.
    let dir = tempdir("many");
    let mut args = vec![
        "ulimit -n 64 && exec \"$0\" score -q \"$@\"".to_string(),
        env!("CARGO_BIN_EXE_portal-triage").to_string(),
    ];
    for i in 0..200 {
        let path = dir.join(format!("day-{i:03}.jsonl"));
        let line = format!("{{\"id\": \"d{i}\", \"text\": \"refill please\"}}\n");
        std::fs::write(&path, line).ok();
        args.push(path.display().to_string());
    }
    let out = Command::new("sh")
        .arg("-c")
        .args(&args)
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids: Vec<Value> = records(&stdout)
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    let expected: Vec<Value> = (0..200).map(|i| Value::from(format!("d{i}"))).collect();
    assert_eq!(ids, expected);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn help_documents_formats_and_exit_codes() {
    let r = run(&["score", "--help"]);
    assert_eq!(r.code, 0);
    for needle in [
        "--format",
        "fhir",
        "--keep-fields",
        "--threads",
        "Exit codes: 0",
        "2 usage",
    ] {
        assert!(r.stdout.contains(needle), "--help lacks {needle}");
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pt-score-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok();
    dir
}
