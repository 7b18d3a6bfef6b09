//! The rule-tuning subcommands, run as the real binary on fixtures:
//! `eval`, `diff`, `explain` and `rules`, and the end-to-end review of a
//! site rule added in a temporary extra-rules directory.

mod common;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_portal-triage"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("NO_COLOR");
    c
}

fn run_with(mut cmd: Command, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("stdin takes the input");
    let out = child.wait_with_output().expect("the binary finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run(args: &[&str]) -> (i32, String, String) {
    run_with(bin(), args, b"")
}

const LABELED: &str = "tests/fixtures/tuning/labeled.jsonl";

/// The texts of the fixture, none of which may appear in eval/diff output.
fn fixture_texts() -> Vec<String> {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(LABELED))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn assert_no_message_text(output: &str) {
    for t in fixture_texts() {
        let words: String = t.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        assert!(
            !output.contains(&words),
            "output echoes message text {words:?}:\n{output}"
        );
    }
}

/// A site layer in a temporary directory: insulin pump occlusion alarms
/// need a call today.
fn site_layer() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pump.toml"),
        r#"
[[rule]]
id = "site.pump-occlusion"
concept = "insulin pump occlusion alarm"
route = "needs-call"
phrases = ["says occlusion", "occlusion alarm"]
[[rule.tests]]
text = "my insulin pump says occlusion"
route = "needs-call"
[[rule.tests]]
text = "no occlusion alarm since I changed the set"
fires = false
route = "non-urgent"
"#,
    )
    .unwrap();
    dir
}

// ------------------------------------------------------------------ eval

#[test]
fn eval_puts_call_911_sensitivity_first() {
    let (code, out, err) = run(&["eval", LABELED]);
    assert_eq!(code, 0, "{err}");
    let first_metric = out
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("eval:"));
    assert_eq!(
        first_metric,
        Some(
            "CALL-911 SENSITIVITY: 1.000 (2 of 2 emergencies routed call-911; 0 to needs-call, 0 to non-urgent)"
        )
    );
    assert!(
        out.contains("accuracy 0.857 | under-triage 0.143 (1) | over-triage 0.000 (0)"),
        "{out}"
    );
    // Rows truth, columns predicted, most severe first.
    assert!(out.contains("  call-911              2          0          0       2\n  needs-call            0          1          1       2\n  non-urgent            0          0          3       3"), "{out}");
    assert!(
        out.contains("needs-call       1.000     0.500       2"),
        "{out}"
    );
    assert!(out.contains("pump 0.500 (1/2)"), "{out}");
    // The under-triaged message by id, with what fired.
    assert!(
        out.contains("t-03  needs-call -> non-urgent  fired: metabolic.insulin (non-urgent)"),
        "{out}"
    );
    assert_no_message_text(&out);
}

#[test]
fn eval_json_is_one_document() {
    let (code, out, _) = run(&["eval", "--json", LABELED]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["n"], 7);
    assert_eq!(doc["call911_sensitivity"], 1.0);
    assert_eq!(doc["routes"][0], "call-911");
    assert_eq!(doc["confusion"][1], serde_json::json!([0, 1, 1]));
    assert_eq!(doc["under_triaged"][0]["id"], "t-03");
    assert_eq!(doc["per_tag"]["pump"]["n"], 2);
}

#[test]
fn eval_lists_the_suppressed_mentions_of_a_miss() {
    let input = br#"{"id": "x1", "text": "no chest pain but my arm is numb and my face is drooping?? no", "route": "non-urgent"}
{"id": "x2", "text": "if the chest pain comes back, do I call you first", "route": "call-911"}
"#;
    let (code, out, _) = run_with(bin(), &["eval", "-"], input);
    assert_eq!(code, 0);
    assert!(
        out.contains("x2  call-911 -> non-urgent  fired: none; not counted: cardiac.chest-pain (call-911, hypothetical by"),
        "{out}"
    );
}

#[test]
fn eval_gates_fail_with_exit_1() {
    let (code, out, err) = run(&[
        "eval",
        LABELED,
        "--min-recall",
        "call-911=0.97",
        "--min-recall",
        "needs-call=0.9",
        "--max-under-triage",
        "0.05",
        "--max-over-triage",
        "0.05",
        "--min-accuracy",
        "0.8",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.contains("ok   min-recall call-911 >= 0.97: 1.000"),
        "{out}"
    );
    assert!(
        out.contains("FAIL min-recall needs-call >= 0.9: 0.500"),
        "{out}"
    );
    assert!(
        out.contains("FAIL max-under-triage <= 0.05: 0.143"),
        "{out}"
    );
    assert!(out.contains("ok   max-over-triage <= 0.05: 0.000"), "{out}");
    assert!(out.contains("ok   min-accuracy >= 0.8: 0.857"), "{out}");
    assert!(
        err.contains("2 gate(s) failed: min-recall needs-call, max-under-triage"),
        "{err}"
    );

    let (code, _, _) = run(&[
        "eval",
        LABELED,
        "--min-recall",
        "call-911=1",
        "--max-non-urgent-to-911",
        "0",
    ]);
    assert_eq!(code, 0);
}

#[test]
fn eval_bad_gate_is_a_usage_error() {
    let (code, _, err) = run(&["eval", LABELED, "--min-recall", "call911=0.9"]);
    assert_eq!(code, 2);
    assert!(err.contains("not one of call-911"), "{err}");
    let (code, _, err) = run(&["eval", LABELED, "--max-under-triage", "5"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a rate between 0 and 1"), "{err}");
}

#[test]
fn eval_a_gate_with_nothing_to_measure_fails() {
    let input = br#"{"id": "a", "text": "refill please", "route": "non-urgent"}"#;
    let (code, out, _) = run_with(bin(), &["eval", "-", "--min-recall", "call-911=0.9"], input);
    assert_eq!(code, 1);
    assert!(
        out.contains("FAIL min-recall call-911 >= 0.9: n/a"),
        "{out}"
    );
}

#[test]
fn eval_reports_unusable_lines_by_file_line_and_id() {
    let input = b"{\"id\": \"ok\", \"text\": \"refill please\", \"route\": \"non-urgent\"}\n\
{\"id\": \"nolabel\", \"text\": \"crushing chest pain\"}\n\
{\"id\": \"badroute\", \"text\": \"crushing chest pain\", \"route\": \"urgent\"}\n\
{\"id\": \"cut\", \"text\": \"crushing chest pain\n\
\n\
{\"text\": \"crushing chest pain\", \"route\": \"call-911\"}\n\
{\"id\": \"shifted\", \"text\": \"x\", \"route\": \"my chest hurts so bad\"}\n";
    let (code, out, err) = run_with(bin(), &["eval", "-"], input);
    assert_eq!(code, 1, "{err}");
    assert!(out.starts_with("eval: 1 labeled messages"), "{out}");
    assert!(
        err.contains("-:2: record nolabel: missing route label"),
        "{err}"
    );
    assert!(
        err.contains("-:3: record badroute: route `urgent` is not one of"),
        "{err}"
    );
    assert!(err.contains("-:4: bad JSON"), "{err}");
    assert!(err.contains("-:6: missing id"), "{err}");
    // Text in the route column (a shifted export) is described, not shown.
    assert!(
        err.contains("-:7: record shifted: the route (a string of 21 characters) is not one of"),
        "{err}"
    );
    assert!(
        !err.contains("chest"),
        "errors never echo message text: {err}"
    );
}

#[test]
fn eval_missing_file_is_exit_2() {
    let (code, _, err) = run(&["eval", "/nonexistent/labeled.jsonl"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot open /nonexistent/labeled.jsonl"),
        "{err}"
    );
}

/// `eval` and the independent `shared/tools/metrics.py` (run on `score`
/// output) agree on the dev corpus.
#[test]
fn eval_agrees_with_metrics_py_on_the_dev_corpus() {
    let Some(shared) = common::shared_dir("eval_agrees_with_metrics_py_on_the_dev_corpus") else {
        return;
    };
    let dev = shared.join("corpus/dev.jsonl");
    let script = shared.join("tools/metrics.py");
    let dev_s = dev.to_str().unwrap();
    let (code, out, _) = run(&["eval", "--json", dev_s]);
    assert_eq!(code, 0);
    let ours: Value = serde_json::from_str(&out).unwrap();
    let (_, preds, _) = run(&["score", dev_s]);
    let tmp = tempfile::tempdir().unwrap();
    let pred_path = tmp.path().join("pred.jsonl");
    std::fs::write(&pred_path, preds).unwrap();
    let py = Command::new("python3")
        .arg(&script)
        .arg(&dev)
        .arg(&pred_path)
        .args(["--lang", "all", "--json"])
        .output();
    let py = match py {
        Ok(py) => py,
        Err(e) => {
            if std::env::var("PORTAL_TRIAGE_REQUIRE_SHARED").as_deref() == Ok("1") {
                panic!("python3 is needed for the metrics.py cross-check: {e}");
            }
            common::skip_notice(
                "eval_agrees_with_metrics_py_on_the_dev_corpus",
                &format!("python3 is unavailable ({e})"),
                "PORTAL_TRIAGE_REQUIRE_SHARED",
            );
            return;
        }
    };
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let theirs: Value = serde_json::from_slice(&py.stdout).unwrap();
    let close = |a: &Value, b: &Value, what: &str| {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((a - b).abs() < 1e-3, "{what}: eval {a} vs metrics.py {b}");
    };
    assert_eq!(ours["n"], theirs["n"]);
    close(
        &ours["call911_sensitivity"],
        &theirs["call911_recall"],
        "call-911 recall",
    );
    close(&ours["accuracy"], &theirs["accuracy"], "accuracy");
    close(
        &ours["under_triage"],
        &theirs["under_triage"],
        "under-triage",
    );
    close(&ours["over_triage"], &theirs["over_triage"], "over-triage");
    close(
        &ours["non_urgent_to_911"],
        &theirs["non_urgent_to_911"],
        "non-urgent -> 911",
    );
    close(
        &ours["call911_as_any_call"],
        &theirs["call911_as_any_call"],
        "call-911 as any call",
    );
    close(
        &ours["per_route"][0]["precision"],
        &theirs["call911_precision"],
        "call-911 precision",
    );
    close(
        &ours["per_route"][1]["recall"],
        &theirs["needs_call_recall"],
        "needs-call recall",
    );
    let routes = ["call-911", "needs-call", "non-urgent"];
    for (t, truth) in routes.iter().enumerate() {
        for (p, pred) in routes.iter().enumerate() {
            assert_eq!(
                ours["confusion"][t][p], theirs["confusion"][truth][pred],
                "{truth} -> {pred}"
            );
        }
    }
    for (tag, acc) in theirs["tag_accuracy"].as_object().unwrap() {
        close(&ours["per_tag"][tag]["recall"], acc, tag);
    }
}

// ------------------------------------------------------------------ diff

/// End to end: a rule added in a temporary extra-rules directory shows up
/// in `diff` (a fix and a regression, with the rule responsible) and in
/// `eval`.
#[test]
fn a_site_rule_in_an_extra_layer_shows_in_diff_and_eval() {
    let site = site_layer();
    let site_s = site.path().to_str().unwrap();
    let (code, out, err) = run(&["diff", "--extra-rules", site_s, LABELED]);
    assert_eq!(code, 1, "a labeled message regressed: {out}{err}");
    assert!(
        out.contains("2 change route: 1 fixes, 1 regressions, 0 still wrong, 0 unlabeled"),
        "{out}"
    );
    assert!(out.contains("non-urgent -> needs-call (2):"), "{out}");
    assert!(
        out.contains("t-03  fix (labeled needs-call)  +site.pump-occlusion (needs-call)"),
        "{out}"
    );
    assert!(
        out.contains("t-06  REGRESSION (labeled non-urgent)  +site.pump-occlusion (needs-call)"),
        "{out}"
    );
    assert!(
        out.contains("under-triage                  0.143    0.000"),
        "{out}"
    );
    assert!(err.contains("1 labeled message(s) regressed"), "{err}");
    assert_no_message_text(&out);

    let (code, out, _) = run(&[
        "eval",
        "--extra-rules",
        site_s,
        LABELED,
        "--min-recall",
        "needs-call=1",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("needs-call       0.667     1.000       2"),
        "{out}"
    );
    assert!(
        out.contains("t-06  non-urgent -> needs-call  fired: site.pump-occlusion (needs-call)"),
        "{out}"
    );
}

#[test]
fn diff_json_names_the_rules_responsible() {
    let site = site_layer();
    let (_, out, _) = run(&[
        "diff",
        "--json",
        "--after-extra",
        site.path().to_str().unwrap(),
        LABELED,
    ]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["summary"]["changed"], 2);
    let c = &doc["changes"][0];
    assert_eq!(c["id"], "t-03");
    assert_eq!(c["before"], "non-urgent");
    assert_eq!(c["after"], "needs-call");
    assert_eq!(c["verdict"], "fix");
    assert_eq!(c["rules"][0]["rule"], "site.pump-occlusion");
    assert_eq!(c["rules"][0]["before"], Value::Null);
    assert_eq!(doc["metrics"]["after"]["under_triage"], 0.0);
}

#[test]
fn diff_two_rule_directories_on_unlabeled_messages() {
    let a = PathBuf::from("tests/fixtures/check/clean/rules");
    let b = tempfile::tempdir().unwrap();
    // B: the same rule, now call-911.
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(&a)
            .join("findings.toml"),
    )
    .unwrap()
    .replacen(
        "route = \"needs-call\"\nphrases",
        "route = \"call-911\"\nphrases",
        1,
    );
    std::fs::write(b.path().join("findings.toml"), text).unwrap();
    let input =
        b"{\"id\": 1, \"text\": \"pump says occlusion\"}\n{\"id\": 2, \"text\": \"all good\"}\n";
    let (code, out, err) = run_with(
        bin(),
        &[
            "diff",
            "--rules",
            a.to_str().unwrap(),
            "--rules",
            b.path().to_str().unwrap(),
            "-",
        ],
        input,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 change route: 0 fixes, 0 regressions, 0 still wrong, 1 unlabeled"),
        "{out}"
    );
    assert!(out.contains("needs-call -> call-911 (1):"), "{out}");
    assert!(
        out.contains("1  unlabeled  ~site.pump-occlusion (needs-call -> call-911)"),
        "{out}"
    );
    assert!(
        !out.contains("labeled messages"),
        "no metrics without labels: {out}"
    );
}

#[test]
fn diff_needs_two_different_rule_sets() {
    let (code, _, err) = run(&["diff", LABELED]);
    assert_eq!(code, 2);
    assert!(err.contains("both sides are the same rules"), "{err}");
    let (code, _, err) = run(&[
        "diff", "--rules", "a", "--rules", "b", "--rules", "c", LABELED,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("at most twice"), "{err}");
}

// ------------------------------------------------------------------ explain

const EXPLAIN_TEXT: &str = "No chest pain, but bp 192/118 and my husband is slurring his words";

#[test]
fn explain_marks_spans_without_colour_when_piped() {
    let (code, out, _) = run(&["explain", EXPLAIN_TEXT]);
    assert_eq!(code, 0);
    assert!(out.starts_with("route: call-911 (score "), "{out}");
    assert!(
        out.contains(
            "  No {{chest pain}}, but {{bp}} [[192/118]] and my husband is [[slurring his words]]\n"
        ),
        "{out}"
    );
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    assert!(
        out.contains("- neuro.speech [call-911] \"slurring his words\" at 48..66"),
        "{out}"
    );
    assert!(
        out.contains(
            "context: current, the patient, written of in the third person; cues: person.third \"my husband\" (third-person)"
        ),
        "the context and its cue: {out}"
    );
    assert!(
        out.contains("combines: neuro.speech + vitals.bp-crisis"),
        "{out}"
    );
    assert!(
        out.contains("- cardiac.chest-pain [would be call-911] \"chest pain\" at 3..13: negated by negation.forward \"No\" at 0..2"),
        "the suppressed mention and its cue: {out}"
    );
    assert!(
        out.contains("- blood-pressure systolic=192 diastolic=118 \"192/118\" at 22..29"),
        "{out}"
    );
    assert!(
        out.contains("advice: This may be an emergency. Call 911 now"),
        "{out}"
    );
}

#[test]
fn explain_colour_is_opt_in_off_a_terminal_and_no_color_wins_in_auto() {
    let (_, out, _) = run(&["explain", "--color", "always", EXPLAIN_TEXT]);
    assert!(out.contains("\x1b[1;31m192/118\x1b[0m"), "{out}");
    assert!(out.contains("\x1b[33mchest pain\x1b[0m"), "{out}");
    let mut cmd = bin();
    cmd.env("NO_COLOR", "1");
    let (_, out, _) = run_with(cmd, &["explain", EXPLAIN_TEXT], b"");
    assert!(!out.contains('\x1b'));
}

#[test]
fn explain_reads_standard_input_and_prints_json() {
    let (code, out, _) = run_with(bin(), &["explain", "--json", "-"], EXPLAIN_TEXT.as_bytes());
    assert_eq!(code, 0);
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["route"], "call-911");
    assert_eq!(d["suppressed"][0]["cause"]["id"], "negation.forward");
    // The fired rules, as `score` and `serve` name them.
    let (_, scored, _) = run_with(
        bin(),
        &["score", "-q", "--format", "text"],
        EXPLAIN_TEXT.as_bytes(),
    );
    let scored: Value = serde_json::from_str(scored.trim()).unwrap();
    assert_eq!(d["rules"], scored["rules"], "{out}");
    assert_eq!(d["rules"][0], "neuro.speech", "{out}");
    let (code, out, _) = run_with(bin(), &["explain"], b"refill please");
    assert_eq!(code, 0);
    assert!(out.starts_with("route: non-urgent"), "{out}");
    assert!(out.contains("findings (0):\n  none"), "{out}");
}

#[test]
fn explain_with_an_extra_layer() {
    let site = site_layer();
    let (_, out, _) = run(&[
        "explain",
        "--extra-rules",
        site.path().to_str().unwrap(),
        "my pump says occlusion",
    ]);
    assert!(out.starts_with("route: needs-call"), "{out}");
    assert!(out.contains("my pump [[says occlusion]]"), "{out}");
}

// ------------------------------------------------------------------ rules

#[test]
fn rules_lists_id_route_area_phrases_and_tests() {
    let (code, out, _) = run(&["rules"]);
    assert_eq!(code, 0);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("id\troute\tarea\tkind\tphrases\tpatterns\ttests\tdefined at")
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("cardiac.chest-pain\t"))
        .expect("a row for cardiac.chest-pain");
    let cols: Vec<&str> = row.split('\t').collect();
    assert_eq!(cols[1], "call-911");
    assert_eq!(cols[2], "cardiac");
    assert_eq!(cols[3], "phrase");
    assert!(cols[4].parse::<usize>().unwrap() > 5);
    assert!(cols[6].parse::<usize>().unwrap() >= 1);
    assert!(cols[7].starts_with("rules/cardiac.toml:"));

    let site = site_layer();
    let (_, out, _) = run(&[
        "rules",
        "--json",
        "--extra-rules",
        site.path().to_str().unwrap(),
    ]);
    let rules: Vec<Value> = serde_json::from_str(&out).unwrap();
    let site_rule = rules
        .iter()
        .find(|r| r["id"] == "site.pump-occlusion")
        .unwrap();
    assert_eq!(site_rule["phrases"], 2);
    assert_eq!(site_rule["tests"], 2);
    assert_eq!(site_rule["area"], "pump");
}

#[test]
fn rules_phrases_exports_every_literal_once_sorted() {
    let (code, out, _) = run(&["rules", "--phrases"]);
    assert_eq!(code, 0);
    let phrases: Vec<&str> = out.lines().collect();
    assert!(phrases.contains(&"chest pain"));
    assert!(phrases.contains(&"no"), "context cues are exported too");
    assert!(
        phrases.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    assert!(
        phrases
            .iter()
            .all(|p| !p.is_empty() && *p == p.to_lowercase())
    );
}

#[test]
fn rules_phrases_findings_leaves_out_the_context_words() {
    let (code, all, _) = run(&["rules", "--phrases"]);
    assert_eq!(code, 0);
    let (code, findings, _) = run(&["rules", "--phrases", "--findings"]);
    assert_eq!(code, 0);
    let all: Vec<&str> = all.lines().collect();
    let findings: Vec<&str> = findings.lines().collect();
    assert!(findings.contains(&"chest pain"));
    assert!(!findings.contains(&"no"), "a negation cue is not a finding");
    assert!(
        !findings.contains(&"i"),
        "a first-person cue is not a finding"
    );
    assert!(
        findings.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    assert!(
        findings.iter().all(|p| all.binary_search(p).is_ok()),
        "a subset of --phrases"
    );
    assert!(findings.len() < all.len());
    let (code, _, err) = run(&["rules", "--findings"]);
    assert_eq!(code, 2, "--findings without --phrases is a usage error");
    assert!(err.contains("--phrases"), "{err}");
}

/// A change made by context (a pseudo phrase or cue in the layer) names
/// the cue that now suppresses the mention.
#[test]
fn diff_names_the_cue_behind_a_change() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("names.toml"),
        "[[pseudo]]\nid = \"site.clinic-names\"\nphrases = [\"chest pain clinic\"]\n",
    )
    .unwrap();
    let input = br#"{"id": "c1", "text": "is the chest pain clinic open on saturday?", "route": "non-urgent"}"#;
    let (code, out, _) = run_with(
        bin(),
        &["diff", "--extra-rules", dir.path().to_str().unwrap(), "-"],
        input,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("call-911 -> non-urgent (1):"), "{out}");
    assert!(
        out.contains("c1  fix (labeled non-urgent)  -cardiac.chest-pain (call-911; now idiom by site.clinic-names)"),
        "{out}"
    );
    let (_, out, _) = run_with(
        bin(),
        &[
            "diff",
            "--json",
            "--extra-rules",
            dir.path().to_str().unwrap(),
            "-",
        ],
        input,
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["changes"][0]["rules"][0]["context"],
        "idiom by site.clinic-names"
    );
}

/// `... | head` closes the pipe early: no panic, no error message, and the
/// exit code still tells the result.
#[test]
fn a_closed_pipe_is_not_an_error() {
    for (args, want) in [
        (&["check"][..], None),
        (&["rules", "--phrases"][..], Some(0)),
    ] {
        let mut child = bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away (more than a pipe's buffer is written)
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("error"),
            "{args:?}: {err}"
        );
        if let Some(code) = want {
            assert_eq!(out.status.code(), Some(code), "{args:?}");
        } else {
            assert_ne!(
                out.status.code(),
                Some(1),
                "{args:?}: the built-in rules have no errors"
            );
        }
    }
}

// --------------------------------------------------------------------- test

#[test]
fn test_reports_on_stdout_and_keeps_stderr_for_errors() {
    let (code, out, err) = run(&["test"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("0 rule tests failed (")
            && out.ends_with(" finding-rule tests in the set)\n"),
        "the report is the command's output: {out}"
    );
    assert!(err.is_empty(), "nothing on stderr when all pass: {err}");
}
