//! Hostile rule files: each gives a clear error with a stable code and a
//! position, or loads within the documented limits; never a hang or a
//! panic. (Limits: a phrase is at most 512 bytes, a rule set at most 200,000
//! phrases and 2,000 patterns, each compiled pattern at most 1 MiB, the
//! patterns' gate literals at most 262,144; TOML nesting is bounded by the
//! parser.)

use portal_triage::{ErrorKind, RuleSet, Triage};

fn rule(extra: &str) -> String {
    format!(
        "[[rule]]\nid = \"site.x\"\nconcept = \"x\"\nroute = \"needs-call\"\n{extra}\n[[rule.tests]]\ntext = \"zzq marker\"\n"
    )
}

/// Load one file; on error return the codes reported.
fn codes(text: &str) -> Result<RuleSet, Vec<&'static str>> {
    RuleSet::from_sources([("site.toml", text)]).map_err(|e| {
        assert!(
            matches!(e.kind(), ErrorKind::Rules | ErrorKind::Limit),
            "{e}"
        );
        for d in e.diagnostics() {
            // A place in the file, or the whole set for a set-wide limit.
            assert!(d.path == "site.toml" || d.path == "<rule set>", "{d:?}");
            assert!(d.path != "site.toml" || d.line >= 1, "{d:?}");
        }
        e.diagnostics().iter().map(|d| d.code).collect()
    })
}

#[test]
fn a_phrase_longer_than_512_bytes_is_refused() {
    let long = "a ".repeat(400);
    let err = codes(&rule(&format!("phrases = [\"zzq marker\", \"{long}\"]"))).unwrap_err();
    assert!(err.contains(&"E0011"), "{err:?}");
}

#[test]
fn one_hundred_thousand_phrases_load_and_work() {
    let phrases: Vec<String> = (0..100_000).map(|i| format!("\"zzq{i} marker\"")).collect();
    let text = rule(&format!(
        "phrases = [\"zzq marker\", {}]",
        phrases.join(", ")
    ));
    let set = codes(&text).expect("within the 200,000-phrase limit");
    let t = Triage::new(set).unwrap();
    assert_eq!(t.classify("it says zzq99999 marker").rule_ids(), ["site.x"]);
}

#[test]
fn more_phrases_than_the_limit_are_refused() {
    let phrases: Vec<String> = (0..200_001).map(|i| format!("\"p{i}\"")).collect();
    let err = codes(&rule(&format!(
        "phrases = [\"zzq marker\", {}]",
        phrases.join(",")
    )))
    .unwrap_err();
    assert!(err.contains(&"E0011"), "{err:?}");
}

#[test]
fn catastrophic_looking_patterns_are_linear_or_refused() {
    // Backtracking engines take exponential time on these; the regex crate
    // has no backtracking, so they load and scan in linear time.
    let set = codes(&rule(
        r"patterns = ['(a+)+b', '(a|aa)*c', '(x+x+)+y', 'zzq marker']",
    ))
    .unwrap();
    let t = Triage::new(set).unwrap();
    let d = t.classify(&"a".repeat(100_000));
    assert!(d.findings.is_empty());
    // Too big to compile within the size limit: a clear error.
    let err = codes(&rule(r"patterns = ['zzq marker', '\p{L}{5000}']")).unwrap_err();
    assert!(err.contains(&"E0004"), "{err:?}");
}

#[test]
fn deep_nesting_is_refused() {
    for depth in [1_000, 100_000] {
        let arrays = format!("phrases = {}\"a\"{}", "[".repeat(depth), "]".repeat(depth));
        assert!(codes(&rule(&arrays)).unwrap_err().contains(&"E0001"));
        let tables = format!("x = {}1{}\n", "{a=".repeat(depth), "}".repeat(depth));
        assert!(codes(&tables).unwrap_err().contains(&"E0001"));
        let groups = format!(
            "patterns = ['zzq marker', '{}a{}']",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        assert!(codes(&rule(&groups)).unwrap_err().contains(&"E0004"));
    }
}

#[test]
fn duplicate_ids_are_refused_with_both_places() {
    let text = format!(
        "{}\n{}",
        rule("phrases = [\"zzq marker\"]"),
        rule("phrases = [\"zzq marker\"]")
    );
    let err = RuleSet::from_sources([("site.toml", text.as_str())]).unwrap_err();
    let dup = err
        .diagnostics()
        .iter()
        .find(|d| d.code == "E0003")
        .expect("E0003");
    assert!(dup.line > 1, "points at the second definition");
}

#[test]
fn invalid_utf8_in_a_rule_directory_is_refused() {
    let dir = std::env::temp_dir().join(format!("pt-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bad.toml"), b"[[rule]]\nid = \"a.\xff\xfe\"\n").unwrap();
    let err = RuleSet::from_dir(&dir).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.diagnostics().iter().any(|d| d.code == "E0009"), "{err}");
    // The message names the file, never dumps its bytes.
    assert!(err.to_string().contains("bad.toml"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for text in [
        "",
        "\u{0}",
        "[[rule]]",
        "[[rule]]\n[[rule]]",
        "route = 5",
        "[[cue]]\ncategory = \"nope\"",
        "]]]]",
        "a = \"\\u{110000}\"",
    ] {
        let _ = RuleSet::from_sources([("site.toml", text)]);
    }
}

#[test]
fn patterns_with_huge_literal_sets_load_and_still_match() {
    // Each pattern is an alternation of 256 words: one required set of 256
    // literals (the engine's gates) and nothing smaller. 1,100 such
    // patterns exceed the engine's literal budget: the later ones are not
    // gated but still run, and match.
    let mut text = String::new();
    for i in 0..1_100 {
        let words: Vec<String> = (0..256).map(|j| format!("x{i}y{j}z")).collect();
        text.push_str(&format!(
            "[[rule]]\nid = \"site.p{i}\"\nconcept = \"p{i}\"\nroute = \"needs-call\"\npatterns = ['(?:{})']\n[[rule.tests]]\ntext = \"x{i}y0z\"\n",
            words.join("|")
        ));
    }
    let set = codes(&text).expect("the rule set loads");
    let triage = Triage::new(set).expect("the engine builds");
    for i in [0, 549, 1_099] {
        let d = triage.classify(&format!("hello x{i}y255z there"));
        assert_eq!(d.rule_ids(), [format!("site.p{i}").as_str()], "pattern {i}");
    }
    assert!(triage.classify("hello x5y256z there").findings.is_empty());
}
