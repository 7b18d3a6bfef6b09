//! The context engine as a capability of its own: the library API and the
//! `portal-triage context` subcommand.

mod common;

use portal_triage::{Aspect, CueCategory, Experiencer, SuppressedBy, Temporality, Triage};

fn ctx(text: &str, target: &str) -> portal_triage::Context {
    Triage::default()
        .context_of_phrase(text, target)
        .unwrap_or_else(|| panic!("{target:?} not in {text:?}"))
        .1
}

#[test]
fn each_aspect_names_the_cue_that_decided_it() {
    let text = "Her mother had a stroke at 60; she denies headache.";
    let c = ctx(text, "stroke");
    assert_eq!(c.experiencer, Experiencer::Other);
    assert_eq!(c.temporality, Temporality::Historical);
    let cue = c.cue_for(Aspect::Experiencer).unwrap();
    assert_eq!(&text[cue.start..cue.end], "mother had");
    assert!(cue.decides.contains(&Aspect::Temporality));
    assert!(c.cue_for(Aspect::Negation).is_none());

    let c = ctx(text, "headache");
    let cue = c.cue_for(Aspect::Negation).unwrap();
    assert_eq!(
        (&text[cue.start..cue.end], cue.category),
        ("denies", CueCategory::Negated)
    );
    assert_eq!(c.experiencer, Experiencer::Patient);
}

#[test]
fn spans_and_phrases_agree() {
    let t = Triage::default();
    let text = "No  Chest Pain today. History of asthma.";
    let (span, by_phrase) = t.context_of_phrase(text, "chest pain").unwrap();
    assert_eq!(&text[span.clone()], "Chest Pain");
    assert_eq!(by_phrase, t.context(text, span.start, span.end));
    let many = t.contexts(text, &[span.clone(), 33..39, 0..0, 500..900]);
    assert_eq!(many.len(), 4);
    assert!(many[0].negated);
    assert_eq!(many[1].temporality, Temporality::Historical);
    assert!(t.context_of_phrase(text, "fever").is_none());
}

#[test]
fn negations_govern_clinical_lists_until_a_new_statement() {
    let text = "He denies palpitations, shortness of breath, chest pain, headache, nausea or lightheadedness.";
    assert!(ctx(text, "lightheadedness").negated);
    let text = "MRI showed no biliary dilatation and positive for gallstones.";
    assert!(ctx(text, "biliary dilatation").negated);
    assert!(!ctx(text, "gallstones").negated);
    let text = "No new medicines and he is now confused and sweaty.";
    assert!(!ctx(text, "sweaty").negated);
    // A pseudo phrase that a mention starts inside does not hide the cue.
    assert!(ctx("no change in vision or hearing", "change in vision").negated);
    assert!(
        !ctx(
            "no change in the chest pain since this morning",
            "chest pain"
        )
        .negated
    );
}

#[test]
fn history_headings_and_return_precautions() {
    let text = "Past medical history: asthma, gout, hypertension, kidney stones and depression.";
    assert_eq!(ctx(text, "depression").temporality, Temporality::Historical);
    let text = "Presents with a two-day history of fever and cough.";
    assert_eq!(ctx(text, "cough").temporality, Temporality::Recent);
    let text = "She should return to the ED if she develops fever, vomiting, belly pain, leg swelling or chest pain.";
    assert_eq!(
        ctx(text, "chest pain").temporality,
        Temporality::Hypothetical
    );
    // A finding that covers the mention does not swallow its cue.
    let c = ctx(
        "The patient is status post liver transplant.",
        "liver transplant",
    );
    assert_eq!(c.temporality, Temporality::Historical);
    assert!(c.third_person);
    assert_eq!(c.experiencer, Experiencer::Patient);
}

#[test]
fn rule_outs_are_uncertain_and_do_not_count() {
    let c = ctx("admitted overnight to rule out MI", "MI");
    assert!(c.uncertain && !c.negated && !c.asserted());
    assert_eq!(c.temporality, Temporality::Recent);
    let d =
        Triage::default().classify("They kept me overnight to rule out a heart attack, all fine.");
    assert!(d.suppressed.iter().any(|s| s.by == SuppressedBy::Uncertain));
    assert_eq!(d.route, portal_triage::Route::NonUrgent);
    // "ruled out" is a negation, and a hedge is not a cue.
    assert!(ctx("a stroke was ruled out", "stroke").negated);
    let d = Triage::default().classify("possible stroke, her face is drooping right now");
    assert_eq!(d.route, portal_triage::Route::Call911);
}

#[test]
fn chronic_is_not_historical() {
    let d = Triage::default()
        .classify("I have chronic chest pain but today it is crushing and I am sweating");
    assert_eq!(d.route, portal_triage::Route::Call911);
}

#[test]
fn context_subcommand_one_record_per_line_in_order() {
    let input = br#"{"id": "a", "text": "Pt denies chest pain or dyspnea.", "target": "DYSPNEA"}
{"id": "b", "text": "History of stroke in 2019.", "start": 11, "end": 17}

{"id": "c", "text": "nothing to see", "target": "fever"}
{"id": "d", "text": "no rash", "start": 3, "end": 99}
not json {"id": "e", "text": "if I get chest pain", "target": "chest pain"
{"id": "f", "text": "no target here"}
"#;
    let (code, out, err) = common::run_cli(&["context"], input);
    assert_eq!(code, 1, "{err}");
    let r: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = r.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c", "d", "e", "f"]);
    assert_eq!(r[0]["negated"], true);
    assert_eq!(r[0]["cues"][0]["text"], "denies");
    assert_eq!(r[0]["cues"][0]["decides"][0], "negation");
    assert_eq!(
        (r[0]["start"].as_u64(), r[0]["end"].as_u64()),
        (Some(24), Some(31))
    );
    assert_eq!(r[1]["temporality"], "historical");
    assert_eq!(
        (r[2]["found"].as_bool(), r[2]["line"].as_u64()),
        (Some(false), Some(4))
    );
    assert!(r[2]["error"].as_str().unwrap().contains("not found"));
    assert_eq!(r[3]["found"], false);
    assert!(r[3]["error"].as_str().unwrap().contains("3..99"));
    assert_eq!(
        (r[4]["temporality"].as_str(), r[4]["error"].as_str()),
        (Some("hypothetical"), Some("bad JSON"))
    );
    assert!(r[5]["error"].as_str().unwrap().contains("no target"));
    // Errors name lines and ids, never message text.
    assert!(!err.contains("rash") && !err.contains("chest"), "{err}");
    let (code, out, _) = common::run_cli(
        &["context"],
        br#"{"id":1,"text":"no fever","target":"fever"}"#,
    );
    assert_eq!((code, out.lines().count()), (0, 1));
}

#[test]
fn as_if_about_to_happen_is_hypothetical_but_a_near_faint_still_counts() {
    let c = ctx("dizzy, as if she was going to pass out", "pass out");
    assert_eq!(c.temporality, Temporality::Hypothetical);
    // The same words are a near-faint in a message: the finding keeps them.
    for text in [
        "my son looked as if he was going to pass out, pale and sweaty",
        "I felt as if I was going to pass out at work",
    ] {
        let d = Triage::default().classify(text);
        assert!(
            d.findings.iter().any(|f| f.rule == "neuro.near-faint"),
            "{text}"
        );
    }
    // A writer's own "as if I am going to ..." is not hypothetical.
    let d = Triage::default().classify("I feel as if I am going to kill myself tonight");
    assert_eq!(d.route, portal_triage::Route::Call911);
}

/// Found by the property tests and by the rule linter's review.
#[test]
fn regressions_found_by_properties_and_lints() {
    let t = Triage::default();
    let route = |text: &str| t.classify(text).route;
    use portal_triage::Route::*;
    // "never had X like this before" is a new symptom, not a denial.
    assert_eq!(
        route("never had chest pain like this before, it is crushing"),
        Call911
    );
    assert_eq!(
        route("I have never had a stroke, can I stop my aspirin?"),
        NonUrgent
    );
    // "my grandma" names the person even inside the older-adult qualifier:
    // someone else's event this morning is not over without a cue saying so.
    assert_eq!(route("my grandma passed out this morning"), Call911);
    assert!(
        t.classify("my grandma is slurring her words")
            .findings
            .iter()
            .any(|f| f.context.third_person)
    );
    // A reading's span does not swallow the space before a terminator.
    assert!(
        t.classify("temp 103 but denied")
            .findings
            .iter()
            .any(|f| f.rule == "vitals.fever-high")
    );
    // "can't ... without" is not a negation; a patient's hedge is not one.
    assert_eq!(
        route("I cannot climb stairs without chest pain anymore"),
        Call911
    );
    assert_eq!(
        route("walked a mile without chest pain, feeling good"),
        NonUrgent
    );
    assert_eq!(
        route("I doubt this chest pain is anything but it has been crushing for an hour"),
        Call911
    );
    // A full stop after a reading is not a decimal point.
    assert_eq!(route("My BP is 200/125. Is that ok?"), NeedsCall);
}
