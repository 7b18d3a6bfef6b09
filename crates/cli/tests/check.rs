//! `portal-triage check` golden files: each `tests/fixtures/check/<case>/`
//! holds a rule directory `rules/`, the expected standard output
//! `expected.stdout` and exit code `expected.code`. The binary runs in the
//! case's directory, so paths print as `rules/<file>.toml`.
//!
//! After a deliberate change of wording, regenerate the expected files with
//! `PORTAL_TRIAGE_BLESS=1 cargo test --test check` and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check")
}

fn run_check(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portal-triage"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn golden(case: &str) {
    let dir = cases().join(case);
    let (code, stdout, stderr) = run_check(&dir, &["rules"]);
    let (want_out, want_code) = (dir.join("expected.stdout"), dir.join("expected.code"));
    if std::env::var("PORTAL_TRIAGE_BLESS").as_deref() == Ok("1") {
        std::fs::write(&want_out, &stdout).unwrap();
        std::fs::write(&want_code, format!("{code}\n")).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&want_out).unwrap();
    let expected_code: i32 = std::fs::read_to_string(&want_code)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        stdout,
        expected,
        "check output of case `{case}` differs from {} (stderr: {stderr})",
        want_out.display()
    );
    assert_eq!(code, expected_code, "exit code of case `{case}`");
}

#[test]
fn a_broken_directory_reports_every_error_at_once() {
    golden("broken");
    let expected = std::fs::read_to_string(cases().join("broken/expected.stdout")).unwrap();
    // Several files, several codes, each with a source line and a caret.
    for code in ["E0001", "E0002", "E0003", "E0004", "E0005", "E0008"] {
        assert!(expected.contains(&format!("error[{code}]")), "{code}");
    }
    assert!(expected.contains("rules/a-findings.toml:7:1: error[E0002]"));
    assert!(expected.contains("rules/b-context.toml:6:7: error[E0001]"));
    assert!(expected.contains("7 | route = \"call911\"\n  | ^"));
}

#[test]
fn lints_are_warnings_with_exit_2() {
    golden("warnings");
    let expected = std::fs::read_to_string(cases().join("warnings/expected.stdout")).unwrap();
    for code in [
        "W0001", "W0002", "W0003", "W0004", "W0005", "W0006", "W0008",
    ] {
        assert!(expected.contains(&format!("warning[{code}]")), "{code}");
    }
}

#[test]
fn failing_inline_tests_and_unknown_groups_are_errors() {
    golden("failing");
}

#[test]
fn a_clean_directory_exits_0() {
    golden("clean");
}

#[test]
fn allow_and_json() {
    let dir = cases().join("warnings");
    let (code, stdout, _) = run_check(&dir, &["rules", "--json", "--allow", "W0001,W0002"]);
    assert_eq!(code, 2);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let codes: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert!(
        !codes.contains(&"W0001") && !codes.contains(&"W0002"),
        "{codes:?}"
    );
    assert!(codes.contains(&"W0003"), "{codes:?}");
    assert_eq!(doc["warnings"][0]["path"], "rules/context.toml");
    assert_eq!(doc["errors"].as_array().unwrap().len(), 0);

    let (code, _, _) = run_check(
        &dir,
        &[
            "rules",
            "--allow",
            "W0001,W0002,W0003,W0004,W0005,W0006,W0008",
        ],
    );
    assert_eq!(code, 0, "every warning allowed");
}

#[test]
fn pedantic_adds_rules_without_negative_tests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/site.toml"),
        "[[rule]]\nid = \"site.x\"\nconcept = \"x\"\nroute = \"needs-call\"\nphrases = [\"port is red\"]\n[[rule.tests]]\ntext = \"my port is red\"\n",
    )
    .unwrap();
    let (code, plain, _) = run_check(dir.path(), &["rules"]);
    assert_eq!(code, 0, "{plain}");
    let (code, pedantic, _) = run_check(dir.path(), &["rules", "--pedantic"]);
    assert_eq!(code, 2, "{pedantic}");
    assert!(
        pedantic.starts_with(
            "rules/site.toml:2:1: warning[W0007]: `site.x` has no test that must not fire"
        ),
        "{pedantic}"
    );
}

#[test]
fn the_builtin_rules_have_no_errors() {
    let (code, stdout, stderr) = run_check(&cases(), &[]);
    assert_ne!(code, 1, "{stdout}{stderr}");
    assert!(!stdout.contains("error["), "{stdout}");
    assert!(stdout.contains("check: 0 errors"), "{stdout}");
}

#[test]
fn a_missing_directory_is_an_error() {
    let (code, stdout, _) = run_check(&cases(), &["no-such-dir"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("cannot read rule directory no-such-dir"),
        "{stdout}"
    );
}

/// With an extra layer, check shows the warnings about the layer, including
/// a built-in call-911 phrase that a site's longer, less urgent phrase hides.
#[test]
fn an_extra_layer_is_checked_with_the_rules_under_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        r#"[[rule]]
id = "site.cough-chest"
concept = "chest pain only when coughing"
route = "needs-call"
phrases = ["chest pain when i cough"]
[[rule.tests]]
text = "chest pain when I cough"
[[rule.tests]]
text = "a cough, nothing else"
fires = false
"#,
    )
    .unwrap();
    let layer = dir.path().to_str().unwrap();
    let (code, stdout, _) = run_check(&cases(), &["--extra-rules", layer]);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.contains("warning[W0003]: phrase \"chest pain\" of `cardiac.chest-pain` (call-911) does not count where \"chest pain when i cough\" of `site.cough-chest` (needs-call) is written"),
        "{stdout}"
    );
    // The base rules are lint clean (their reviewed warnings are allowed
    // in their files), so nothing about them alone is shown or counted.
    assert!(
        stdout.contains("check: 0 errors, 1 warning (390 rules"),
        "{stdout}"
    );
}

/// Issue 16 item 13: the built-in rules are lint clean: every warning is
/// fixed or allowed in the rule files with a reason.
#[test]
fn the_builtin_rules_are_lint_clean() {
    let (code, stdout, stderr) = run_check(&cases(), &[]);
    assert!(
        stdout.contains("check: 0 errors, 0 warnings, "),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("allowed by [[allow]]"), "{stdout}");
    assert!(!stdout.contains("warning["), "{stdout}");
    assert_eq!(code, 0, "{stdout}");
    let (code, json, _) = run_check(&cases(), &["--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 0);
    for a in doc["allowed"].as_array().unwrap() {
        assert!(!a["reason"].as_str().unwrap().trim().is_empty(), "{a}");
    }
}

const TWO_RULES: &str = r#"[[rule]]
id = "site.a"
concept = "a"
route = "needs-call"
phrases = ["port is red", "port hurts"]
[[rule.tests]]
text = "my port is red"
[[rule.tests]]
text = "my port is fine"
fires = false
[[rule]]
id = "site.b"
concept = "b"
route = "needs-call"
phrases = ["port is red"]
[[rule.tests]]
text = "the port is red"
[[rule.tests]]
text = "the port is fine"
fires = false
"#;

fn site(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/site.toml"),
        format!("{TWO_RULES}{extra}"),
    )
    .unwrap();
    dir
}

#[test]
fn an_allow_with_a_reason_silences_a_warning_and_is_counted() {
    let dir = site("");
    let (code, stdout, _) = run_check(dir.path(), &["rules"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("warning[W0001]"), "{stdout}");

    // Either rule of the pair may carry it.
    for id in ["site.a", "site.b"] {
        let dir = site(&format!(
            "[[allow]]\nlint = \"W0001\"\nid = \"{id}\"\nphrases = [\"Port is red\"]\nreason = \"both findings\"\n"
        ));
        let (code, stdout, _) = run_check(dir.path(), &["rules"]);
        assert_eq!(code, 0, "{stdout}");
        assert!(
            stdout
                .contains("check: 0 errors, 0 warnings, 1 allowed by [[allow]] in the rule files"),
            "{stdout}"
        );
        let (_, json, _) = run_check(dir.path(), &["rules", "--json"]);
        let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["allowed"][0]["reason"], "both findings");
        assert_eq!(doc["allowed"][0]["lint"]["code"], "W0001");
        assert_eq!(doc["allowed"][0]["allow_line"], 21);
    }
}

#[test]
fn an_allow_needs_a_reason_and_a_known_code() {
    for (allow, want) in [
        (
            "[[allow]]\nlint = \"W0001\"\nid = \"site.b\"\nphrases = [\"port is red\"]\n",
            "rules/site.toml:21:1: error[E0002]: in this [[allow]]: missing field `reason`",
        ),
        (
            "[[allow]]\nlint = \"W0001\"\nid = \"site.b\"\nphrases = [\"port is red\"]\nreason = \"  \"\n",
            "rules/site.toml:25:1: error[E0008]: an [[allow]] needs a reason",
        ),
        (
            "[[allow]]\nlint = \"W0042\"\nid = \"site.b\"\nreason = \"x\"\n",
            "rules/site.toml:22:1: error[E0008]: `lint = \"W0042\"` is not a warning code",
        ),
        (
            "[[allow]]\nlint = \"W0001\"\nid = \"site.b\"\nreason = \"x\"\nwhy = \"y\"\n",
            "rules/site.toml:25:1: error[E0002]: in this [[allow]]: unknown field `why`",
        ),
    ] {
        let dir = site(allow);
        let (code, stdout, _) = run_check(dir.path(), &["rules"]);
        assert_eq!(code, 1, "{stdout}");
        assert!(stdout.contains(want), "want {want:?} in:\n{stdout}");
    }
}

#[test]
fn an_allow_that_matches_no_warning_is_a_warning() {
    // A phrase that is not duplicated ("port hurts"), and an allow for a
    // rule that does not exist.
    let dir = site(
        "[[allow]]\nlint = \"W0001\"\nid = \"site.a\"\nphrases = [\"port is red\", \"port hurts\"]\nreason = \"both findings\"\n\
         [[allow]]\nlint = \"W0003\"\nid = \"site.gone\"\nphrases = [\"port\"]\nreason = \"was hidden\"\n",
    );
    let (code, stdout, _) = run_check(dir.path(), &["rules"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.contains("rules/site.toml:24:27: warning[W0009]: [[allow]] of W0001 for `site.a` and phrase \"port hurts\" matches no warning"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning[W0009]: [[allow]] of W0003 for `site.gone` and phrase \"port\""),
        "{stdout}"
    );
    assert!(stdout.contains("2 warnings, 1 allowed"), "{stdout}");
}
