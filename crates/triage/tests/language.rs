//! The language the engine must understand, phenomenon by phenomenon.

use portal_triage::{Experiencer, Flag, Route, SuppressedBy, Temporality, Triage};

fn route(text: &str) -> Route {
    Triage::default().classify(text).route
}

#[track_caller]
fn all(expected: Route, texts: &[&str]) {
    let t = Triage::default();
    for text in texts {
        let d = t.classify(text);
        assert_eq!(d.route, expected, "{text:?}\n{}", d.summary);
    }
}

#[test]
fn negation_suppresses_with_scope() {
    all(
        Route::NonUrgent,
        &[
            "no chest pain today",
            "I deny any shortness of breath",
            "without any numbness or weakness",
            "I'm not having chest pain",
            "Chest pain? no. Trouble breathing? no.",
        ],
    );
    let d = Triage::default().classify("no chest pain");
    assert_eq!(d.suppressed[0].by, SuppressedBy::Negated);
    assert_eq!(d.suppressed[0].cause.text, "no");
    // A terminator ends the negation.
    all(
        Route::Call911,
        &[
            "no fever but my chest hurts",
            "No cough, however I can't breathe",
        ],
    );
}

#[test]
fn negation_inside_the_symptom_is_the_symptom() {
    all(
        Route::Call911,
        &[
            "I can't breathe",
            "cant breathe",
            "the bleeding won't stop",
            "he's not breathing",
            "I can't wake him up",
        ],
    );
}

#[test]
fn hypothetical_and_questions_about_the_future() {
    all(
        Route::NonUrgent,
        &[
            "If the chest pain comes back tonight, do I go to the ER?",
            "If I ever have a seizure at work, who do I call?",
            "does this new pill make people dizzy sometimes?",
        ],
    );
    let d = Triage::default().classify("in case I get chest pain on the trip, what then?");
    assert_eq!(d.suppressed[0].by, SuppressedBy::Hypothetical);
}

#[test]
fn historical_and_family_history() {
    all(
        Route::NonUrgent,
        &[
            "I had a stroke in 2018, doing well, need a refill",
            "history of seizures, stable on keppra",
            "my dad died of a stroke, should I take aspirin?",
            "family history of heart attack",
        ],
    );
    let d = Triage::default().classify("my grandfather died of a heart attack at 70");
    assert_eq!(d.route, Route::NonUrgent);
    assert_eq!(d.suppressed[0].by, SuppressedBy::Family);
}

#[test]
fn someone_else_now_counts_like_the_writer() {
    // The husband is the patient of this message: spoken of in the third
    // person, not "someone other than the patient".
    let d = Triage::default().classify("my husband is having chest pain and can't breathe");
    assert_eq!(d.route, Route::Call911);
    assert!(d.findings.iter().any(|f| f.context.third_person));
    assert!(
        d.findings
            .iter()
            .all(|f| f.context.experiencer == Experiencer::Patient)
    );
    all(
        Route::Call911,
        &[
            "my mother just collapsed",
            "my husband is slurring his words",
        ],
    );
}

#[test]
fn resolved_recent_is_one_level_lower_never_below_needs_call() {
    all(
        Route::NeedsCall,
        &[
            "I passed out yesterday, I feel fine now",
            "had chest pressure last night for 10 minutes, it went away",
            "one side of my face drooped briefly at breakfast, fine now",
        ],
    );
    let d = Triage::default().classify("I passed out yesterday, I feel fine now");
    assert!(d.findings[0].context.resolved);
    assert_eq!(d.findings[0].context.temporality, Temporality::Recent);
}

#[test]
fn pseudo_cues_and_idioms() {
    all(
        Route::NonUrgent,
        &[
            "this paperwork is killing me",
            "dying to know my results!",
            "I nearly had a heart attack when I opened that bill",
        ],
    );
    all(
        Route::Call911,
        &[
            "no doubt this is chest pain, it is crushing",
            "not only chest pain but I can't breathe",
        ],
    );
}

#[test]
fn numbers_with_units() {
    all(
        Route::NeedsCall,
        &[
            "bp 186/104 this morning, feel fine",
            "bp 186 over 104",
            "190/ 120 mmHg and no symptoms",
            "sugar 420 at lunch",
            "blood sugar 18.5 mmol/L",
            "temp 103.1",
            "temperature 39.5 C",
            "oxygen 91%",
            "heart rate 140 at rest",
        ],
    );
    all(
        Route::NonUrgent,
        &[
            "bp 179/119",
            "sugar 300",
            "temp 102.9",
            "oxygen 93%",
            "hr 130",
            "my pain is 10/10 since my appt on 11/25",
        ],
    );
    all(Route::Call911, &["oxygen 88%"]);
    let d = Triage::default().classify("bp 186/104");
    assert_eq!(d.readings.len(), 1);
    assert_eq!(
        &"bp 186/104"[d.readings[0].start..d.readings[0].end],
        "186/104"
    );
}

#[test]
fn implausible_values_are_ignored() {
    all(
        Route::NonUrgent,
        &[
            "bp 999/999",
            "sugar 99999",
            "temp 3",
            "oxygen 300%",
            "heart rate 9999",
        ],
    );
}

#[test]
fn combinations() {
    all(
        Route::Call911,
        &[
            "bp 190/110 with a severe headache and blurry vision",
            "chest discomfort and sweating",
            "sugar 45 and she is confused",
        ],
    );
    assert_eq!(
        route("sugar 45, had juice, feeling better"),
        Route::NeedsCall
    );
}

#[test]
fn patient_spelling_and_unicode() {
    all(
        Route::Call911,
        &[
            "CHEST PIAN",
            "cant breath",
            "I CAN’T BREATHE",
            "ｃｈｅｓｔ ｐａｉｎ",
            "chest\u{a0}pain 😰",
        ],
    );
}

#[test]
fn most_severe_finding_anywhere_decides() {
    let long = format!(
        "{} Also, by the way, my husband collapsed a minute ago and won't wake up. {}",
        "Hi, I need a refill of my lisinopril and I want to move my appointment to Tuesday. "
            .repeat(20),
        "Thanks for everything, the office staff are great. ".repeat(20)
    );
    assert_eq!(route(&long), Route::Call911);
}

#[test]
fn self_harm_advice_names_988() {
    let d = Triage::default().classify("I'm going to kill myself tonight, I have the pills ready");
    assert_eq!(d.route, Route::Call911);
    assert!(
        d.advice.contains("911") && d.advice.contains("988"),
        "{}",
        d.advice
    );
}

#[test]
fn empty_and_noise_are_flagged_not_dropped() {
    let t = Triage::default();
    let d = t.classify("   ");
    assert_eq!(d.route, Route::NonUrgent);
    assert_eq!(d.flags, vec![Flag::Empty]);
    let d = t.classify("🙂🙂🙂");
    assert!(d.flags.contains(&Flag::NoWords));
}

#[test]
fn long_messages_are_read_in_chunks_and_flagged() {
    let t = Triage::with_max_message_bytes(portal_triage::RuleSet::builtin().unwrap(), 64).unwrap();
    let d = t.classify(&"refill please ".repeat(100));
    assert!(d.flags.contains(&Flag::Chunked));
}

#[test]
fn spans_point_at_the_original_text() {
    let text = "Hi Dr. Lee — my HUSBAND’s CHEST PAIN is back";
    let d = Triage::default().classify(text);
    let f = &d.findings[0];
    assert_eq!(&text[f.start..f.end], f.text);
    assert!(f.text.starts_with("CHEST PAIN"), "{}", f.text);
}

#[test]
fn decisions_serialize_with_route_names() {
    let d = Triage::default().classify("chest pain");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["route"], "call-911");
    assert_eq!(json["findings"][0]["rule"], "cardiac.chest-pain");
    assert!(json["score"].as_f64().unwrap() >= 0.7);
}

#[test]
fn scores_order_routes() {
    let t = Triage::default();
    let a = t.classify("need a refill").score;
    let b = t.classify("please call me today about my meds").score;
    let c = t.classify("crushing chest pain").score;
    assert!(a < b && b < c, "{a} {b} {c}");
    for s in [a, b, c] {
        assert!((0.0..=1.0).contains(&s));
    }
}
