//! Rule files: the built-in set's own inline tests, strict loading, error
//! reporting and layering.

use portal_triage::{ErrorKind, Route, RuleSet, Triage};

#[test]
fn every_inline_rule_test_passes() {
    let triage = Triage::default();
    let failures = triage.run_rule_tests();
    let total: usize = triage.rules().rules().map(|r| r.tests).sum();
    println!("{total} finding-rule tests run (plus cue tests)");
    assert!(total >= 100, "only {total} inline tests");
    if !failures.is_empty() {
        let list: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
        panic!(
            "{} inline rule tests fail:\n{}",
            failures.len(),
            list.join("\n")
        );
    }
}

#[test]
fn builtin_combinations_only_use_earned_groups() {
    let rules = RuleSet::builtin().unwrap();
    let unknown = rules.unknown_groups();
    assert!(unknown.is_empty(), "{unknown:#?}");
}

#[test]
fn every_builtin_rule_has_a_firing_test() {
    for r in RuleSet::builtin().unwrap().rules() {
        assert!(r.tests > 0, "{} has no tests", r.id);
    }
}

#[test]
fn all_errors_are_reported_at_once_with_locations() {
    let a = "[[rule]]\nid = \"a.one\"\nconcept = \"x\"\nroute = \"call911\"\nphrases = [\"x\"]\n";
    let b = "[[rule]]\nid = \"b.one\"\nconcept = \"y\"\nroute = \"needs-call\"\nphrase = [\"y\"]\n\n[[rule]]\nid = \"b.two\"\nconcept = \"z\"\nroute = \"needs-call\"\npatterns = [\"(unclosed\"]\n[[rule.tests]]\ntext = \"z\"\n";
    let c = "this is not toml = = \n";
    let err = RuleSet::from_sources([("a.toml", a), ("b.toml", b), ("c.toml", c)]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rules);
    let d = err.diagnostics();
    assert!(d.len() >= 4, "{err}");
    let text = err.to_string();
    // Bad enum value, located on its line.
    assert!(text.contains("a.toml:4:1: error[E0002]"), "{text}");
    // Unknown field, located on its key.
    assert!(text.contains("b.toml:5:1: error[E0002]"), "{text}");
    assert!(text.contains("unknown field `phrase`"), "{text}");
    // Bad regex.
    assert!(text.contains("b.toml:11:1: error[E0004]"), "{text}");
    // Syntax error in another file, reported in the same pass.
    assert!(text.contains("c.toml:1:"), "{text}");
    // The offending line is shown with a caret.
    assert!(text.contains("5 | phrase = [\"y\"]"), "{text}");
}

#[test]
fn duplicate_ids_are_errors() {
    let src = "[[rule]]\nid = \"x.a\"\nconcept = \"x\"\nroute = \"needs-call\"\nphrases = [\"aa\"]\n[[rule.tests]]\ntext = \"aa\"\n\n[[rule]]\nid = \"x.a\"\nconcept = \"y\"\nroute = \"needs-call\"\nphrases = [\"bb\"]\n[[rule.tests]]\ntext = \"bb\"\n";
    let err = RuleSet::from_sources([("dup.toml", src)]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "dup.toml:10:1: error[E0003]: duplicate id `x.a`: first defined at dup.toml:2"
        ),
        "{text}"
    );
}

#[test]
fn rules_without_a_firing_test_are_errors() {
    let src =
        "[[rule]]\nid = \"x.a\"\nconcept = \"x\"\nroute = \"needs-call\"\nphrases = [\"aa\"]\n";
    let err = RuleSet::from_sources([("t.toml", src)]).unwrap_err();
    assert!(err.to_string().contains("error[E0007]"), "{err}");
}

#[test]
fn extra_rules_layer_on_the_default() {
    let extra = RuleSet::from_sources([(
        "site.toml",
        r#"
[[rule]]
id = "site.pump-occlusion"
concept = "insulin pump occlusion alarm"
route = "needs-call"
phrases = ["occlusion alarm", "says occlusion"]
[[rule.tests]]
text = "my insulin pump says occlusion"
route = "needs-call"

[[rule]]
id = "cardiac.palpitations"
concept = "racing heartbeat (site: call for any)"
route = "needs-call"
phrases = ["heart racing"]
[[rule.tests]]
text = "heart racing"
"#,
    )])
    .unwrap();
    let base = Triage::default();
    assert_eq!(
        base.classify("my insulin pump says occlusion").route,
        Route::NonUrgent
    );
    let t = Triage::new(RuleSet::builtin().unwrap().layered(extra)).unwrap();
    assert_eq!(
        t.classify("my insulin pump says occlusion").route,
        Route::NeedsCall
    );
    // Same id replaces the default rule.
    assert_eq!(
        t.classify("my heart racing this morning").route,
        Route::NeedsCall
    );
    // The rest of the default still works.
    assert_eq!(t.classify("crushing chest pain").route, Route::Call911);
}

#[test]
fn a_layer_can_disable_a_rule() {
    let extra = RuleSet::from_sources([(
        "off.toml",
        "[[rule]]\nid = \"cardiac.chest-pain\"\nconcept = \"off\"\nroute = \"non-urgent\"\nenabled = false\n",
    )])
    .unwrap();
    let t = Triage::new(RuleSet::builtin().unwrap().layered(extra)).unwrap();
    let d = t.classify("chest pain");
    assert!(d.findings.iter().all(|f| f.rule != "cardiac.chest-pain"));
}

#[test]
fn rule_directories_load_and_report_io_errors() {
    let dir = std::env::temp_dir().join(format!("pt-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in RuleSet::builtin_sources() {
        let file = std::path::Path::new(name).file_name().unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    }
    let from_dir = Triage::new(RuleSet::from_dir(&dir).unwrap()).unwrap();
    let msg = "my wife is slurring her words and her face is drooping";
    assert_eq!(from_dir.classify(msg), Triage::default().classify(msg));
    std::fs::remove_dir_all(&dir).unwrap();
    let err = RuleSet::from_dir(dir.join("missing")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
}

/// Issue 16 item 13: a less urgent rule's longer phrase must not swallow a
/// more urgent phrase where a triage nurse would still act on it. These
/// wordings were hidden (W0003) and routed one level too low.
#[test]
fn urgent_phrases_count_inside_the_wordings_that_used_to_hide_them() {
    let engine = Triage::builtin().unwrap();
    for (text, route) in [
        // "blood everywhere" (call-911) was hidden by "bright red blood
        // everywhere" (needs-call).
        (
            "bright red blood everywhere from the cut on my leg and it won't stop",
            Route::Call911,
        ),
        ("there is bright red blood everywhere", Route::Call911),
        // Throat closed: anaphylaxis, not a tight throat.
        ("siento la garganta cerrada", Route::Call911),
        ("tengo la garganta cerrada", Route::Call911),
        // Will not wake properly: unresponsive, not confused.
        ("mi papá no se despierta bien", Route::Call911),
        (
            "mi abuela no despierta bien desde la mañana",
            Route::Call911,
        ),
        // A child who took someone's pills: poisoning, not a wrong dose.
        ("mi hijo se tomo las pastillas de su abuela", Route::Call911),
    ] {
        assert_eq!(engine.classify(text).route, route, "{text}");
    }
    // The same words without the longer wording route the same way.
    assert_eq!(
        engine
            .classify("blood everywhere from the cut on my leg and it won't stop")
            .route,
        Route::Call911
    );
}

/// The cues that a finding or pseudo phrase used to claim (W0002) act again.
#[test]
fn resolved_cues_are_not_claimed_by_a_medication_finding() {
    let engine = Triage::builtin().unwrap();
    // "havent had it since" was the dose-gap finding, so the chest pain of
    // Monday stayed current (call-911); it is over: needs-call.
    let d = engine.classify("I had chest pain on monday, havent had it since");
    assert_eq!(d.route, Route::NeedsCall);
    // A medicine gap is still read from its own words.
    let d = engine.classify("I ran out of my insulin on friday and havent had it since");
    assert_eq!(d.route, Route::NeedsCall);
}

/// Every warning of the built-in set is either fixed or allowed in the rule
/// file with a reason; every allowed W0003 (an urgent phrase hidden inside a
/// less urgent wording) is one the rule files explain.
#[test]
fn the_builtin_rules_are_lint_clean_and_every_allow_has_a_reason() {
    let rules = RuleSet::builtin().unwrap();
    let report = portal_triage::lint_report(&rules, RuleSet::builtin_sources());
    // W0007 is pedantic (`check --pedantic`) and not part of "clean".
    let warnings: Vec<_> = report
        .warnings
        .iter()
        .filter(|w| w.code != "W0007")
        .collect();
    assert!(
        warnings.is_empty(),
        "{}",
        warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(!report.allowed.is_empty());
    for a in &report.allowed {
        assert!(a.reason.split_whitespace().count() >= 5, "{a:?}");
        assert!(a.allow_path.starts_with("rules/"), "{a:?}");
    }
    // The shadowing that was a bug is not among the allowed ones.
    for a in report.allowed.iter().filter(|a| a.lint.code == "W0003") {
        for hidden in [
            "\"blood everywhere\"",
            "\"garganta cerrada\"",
            "\"no se despierta\"",
            "\"no despierta\"",
            "\"se tomo las pastillas de\"",
        ] {
            assert!(
                !a.lint.message.starts_with(&format!("phrase {hidden}")),
                "{a:?}"
            );
        }
    }
}
