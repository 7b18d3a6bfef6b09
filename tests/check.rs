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
    assert!(
        stdout.contains("warnings about the base rules alone are not shown"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("`infection.spots`"),
        "base-only warnings hidden: {stdout}"
    );
}
