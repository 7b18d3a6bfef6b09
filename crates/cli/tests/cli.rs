//! The `portal-triage score` contract: one output line per input record, in
//! order, also for malformed records.

mod common;

use common::run_cli as run;

fn records(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn scores_jsonl_in_order() {
    let input = br#"{"id": "a", "text": "crushing chest pain right now"}
{"id": "b", "text": "refill my lisinopril please"}
{"id": 3, "text": "passed out yesterday, fine now"}
"#;
    let (code, out, _) = run(&["score"], input);
    assert_eq!(code, 0);
    let r = records(&out);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["id"], "a");
    assert_eq!(r[0]["route"], "call-911");
    assert_eq!(r[0]["rules"][0], "cardiac.chest-pain");
    assert_eq!(r[1]["route"], "non-urgent");
    assert_eq!(r[2]["id"], 3);
    assert_eq!(r[2]["route"], "needs-call");
    assert!(r[0]["score"].as_f64().unwrap() > r[2]["score"].as_f64().unwrap());
}

#[test]
fn malformed_records_still_yield_one_record_each() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"id\": \"ok\", \"text\": \"hello\"}\n");
    input.extend_from_slice(b"{\"id\": \"cut\", \"text\": \"crushing chest pain and\n");
    input.extend_from_slice(b"{\"id\": \"notext\"}\n");
    input.extend_from_slice(b"{\"id\": \"bad-utf8\", \"text\": \"chest pain \xff\xfe\"}\n");
    input.extend_from_slice(b"{\"id\": \"empty\", \"text\": \"\"}\n");
    input.extend_from_slice(b"[1, 2]\n");
    let (code, out, err) = run(&["score"], &input);
    assert_eq!(code, 1, "{err}");
    let r = records(&out);
    assert_eq!(r.len(), 6);
    assert!(r[0].get("error").is_none());
    assert_eq!(r[1]["line"], 2);
    assert!(r[1]["error"].as_str().unwrap().starts_with("bad JSON"));
    // Id and text recovered from the cut record, and scored.
    assert_eq!(r[1]["id"], "cut");
    assert_eq!(r[1]["route"], "call-911");
    assert_eq!(r[2]["id"], "notext");
    assert!(r[2]["error"].as_str().unwrap().contains("missing text"));
    assert_eq!(r[3]["id"], "bad-utf8");
    assert_eq!(r[3]["error"], "invalid UTF-8");
    assert_eq!(r[3]["route"], "call-911");
    assert_eq!(r[4]["flags"][0], "empty");
    assert_eq!(r[5]["error"], "not a JSON object");
    // Errors never echo message text.
    assert!(!err.contains("chest"), "{err}");
}

#[test]
fn explain_includes_findings_and_advice() {
    let (code, out, _) = run(
        &["score", "--explain"],
        b"{\"id\":1,\"text\":\"no chest pain, I took the whole bottle of pills\"}\n",
    );
    assert_eq!(code, 0);
    let r = &records(&out)[0];
    assert_eq!(r["route"], "call-911");
    assert_eq!(r["suppressed"][0]["by"], "negated");
    assert!(r["advice"].as_str().unwrap().contains("911"));
}

#[test]
fn a_broken_rule_directory_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("pt-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("x.toml"),
        "[[rule]]\nid = \"x\"\nroute = \"soon\"\n",
    )
    .unwrap();
    let (code, _, err) = run(&["score", "--rules", dir.to_str().unwrap()], b"");
    assert_eq!(code, 2);
    assert!(err.contains("x.toml:"), "{err}");
    assert!(err.contains("error[E0002]"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_input_file_is_exit_2() {
    let (code, _, err) = run(&["score", "/nonexistent/file.jsonl"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("cannot open"), "{err}");
}

/// The README's first command scores the shipped sample, and the output the
/// README shows is what it gives (so the quick start stays true when the
/// rules change).
#[test]
fn the_readme_quick_start_output_is_what_the_sample_gives() {
    let root = portal_triage_testkit::repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains("cargo run --release -- score examples/messages.jsonl"),
        "the quick start names the sample"
    );
    let shown: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("{\"id\":\"msg-"))
        .collect();
    let sample = root.join("examples/messages.jsonl");
    let (code, out, err) = run(&["score", sample.to_str().unwrap()], b"");
    assert_eq!(code, 0, "{err}");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), 12, "a dozen messages");
    assert_eq!(
        got, shown,
        "README.md's quick-start output differs from `score examples/messages.jsonl`; update the README"
    );
    let routes: std::collections::BTreeSet<String> = records(&out)
        .iter()
        .map(|r| r["route"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(routes.len(), 3, "the sample spans the three routes");
    assert!(
        err.contains("routes: call-911 3, needs-call 4, non-urgent 5"),
        "{err}"
    );
}
