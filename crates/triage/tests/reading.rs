//! The reading's mechanism, tested on every rule's own test texts: a typo
//! in a long word, a dropped apostrophe, upper case and an inserted
//! intensifier leave the rule firing.

use portal_triage::{RuleSet, Triage};

/// (rule id, text) of every inline test that must fire.
fn firing_tests(t: &Triage) -> Vec<(String, String)> {
    let rules: &RuleSet = t.rules();
    rules
        .rule_tests()
        .filter(|(_, test)| test.fires)
        .map(|(id, test)| (id.to_string(), test.text.clone()))
        .collect()
}

fn fires(t: &Triage, id: &str, text: &str) -> bool {
    let d = t.classify(text);
    d.findings.iter().any(|f| f.rule == id) || d.suppressed.iter().any(|s| s.rule == id)
}

/// Swap the 2nd and 3rd letters of the first word of 5+ letters that the
/// rule's finding covers: one edit.
fn with_typo(t: &Triage, id: &str, text: &str) -> Option<String> {
    let d = t.classify(text);
    let f = d.findings.iter().find(|f| f.rule == id)?;
    let span = &text[f.start..f.end];
    let word = span
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|w| w.len() >= 5 && w.as_bytes()[1] != w.as_bytes()[2])?;
    let at = f.start + span.find(word)?;
    let mut b = text.as_bytes().to_vec();
    b.swap(at + 1, at + 2);
    String::from_utf8(b).ok()
}

#[test]
fn apostrophes_and_case_change_nothing() {
    let t = Triage::builtin().unwrap();
    for (id, text) in firing_tests(&t) {
        let route = t.classify(&text).route;
        let plain = text.replace(['\'', '’'], "");
        assert_eq!(t.classify(&plain).route, route, "{id}: without apostrophes");
        assert_eq!(
            t.classify(&text.to_uppercase()).route,
            route,
            "{id}: upper case"
        );
    }
}

#[test]
fn a_typo_in_a_long_word_still_fires() {
    let t = Triage::builtin().unwrap();
    let (mut tried, mut kept, mut missed) = (0, 0, Vec::new());
    for (id, text) in firing_tests(&t) {
        if id.starts_with("es.") || id.starts_with("vitals.") {
            continue;
        }
        let Some(typo) = with_typo(&t, &id, &text) else {
            continue;
        };
        tried += 1;
        if fires(&t, &id, &typo) {
            kept += 1;
        } else {
            missed.push(id);
        }
    }
    let rate = kept as f64 / tried as f64;
    eprintln!(
        "one-edit typo in the finding: {kept}/{tried} still fire ({rate:.3}); missed: {missed:?}"
    );
    assert!(tried > 300, "{tried} texts tried");
    assert!(rate >= 0.90, "only {kept}/{tried} still fire: {missed:?}");
}

#[test]
fn an_intensifier_inside_a_finding_still_fires() {
    let t = Triage::builtin().unwrap();
    let (mut tried, mut kept) = (0, 0);
    for (id, text) in firing_tests(&t) {
        let d = t.classify(&text);
        let Some(f) = d.findings.iter().find(|f| f.rule == id) else {
            continue;
        };
        // Before the finding's last word.
        let span = &text[f.start..f.end];
        let Some(sp) = span.rfind(' ') else { continue };
        let at = f.start + sp + 1;
        let with = format!("{}really {}", &text[..at], &text[at..]);
        tried += 1;
        if fires(&t, &id, &with) {
            kept += 1;
        }
    }
    let rate = kept as f64 / tried as f64;
    eprintln!("'really' inserted in the finding: {kept}/{tried} still fire ({rate:.3})");
    assert!(tried > 300);
    assert!(rate >= 0.95, "only {kept}/{tried}");
}
