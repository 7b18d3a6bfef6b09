//! The untrusted-input contract beyond "never panics": findings are well
//! formed, a decision depends only on its own message, long messages are
//! read in full, and cues cannot reach across a terminator. (Speed and
//! linearity are measured in `benches/`, never timed here.)

use portal_triage::{Decision, Flag, Route, RuleKind, RuleSet, Triage};
use portal_triage_testkit::text::{any_text, words};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Each finding as (rule, start, end).
fn spans(d: &Decision) -> BTreeSet<(String, usize, usize)> {
    d.findings
        .iter()
        .map(|f| (f.rule.clone(), f.start, f.end))
        .collect()
}

/// Sentences that are complete on their own (their context is local), for
/// the long-message properties.
const SENTENCES: &[&str] = &[
    "Crushing chest pain right now and I am sweating.",
    "No fever today.",
    "Please refill my lisinopril.",
    "My husband is slurring his words.",
    "History of stroke in 2018.",
    "If my sugar drops overnight, who do I call?",
    "Sugar was 45 this morning and I am shaky.",
    "Thanks so much for your help with the forms!",
    "I passed out yesterday, fine now.",
    "Bleeding will not stop after 20 minutes of pressure.",
    "Can I move my appointment to Tuesday?",
    "BP 192/121 with a bad headache.",
];

fn long_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(SENTENCES), 300..700).prop_map(|s| s.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Findings lie inside the text, on character boundaries, quote their
    /// own words, and phrase findings never partly overlap: two of them
    /// cover the very same words (one phrase, several rules) or none.
    #[test]
    fn findings_are_well_formed(text in any_text()) {
        let t = Triage::default();
        let d = t.classify(&text);
        let kinds: std::collections::HashMap<String, RuleKind> =
            t.rules().rules().map(|r| (r.id, r.kind)).collect();
        let phrases: Vec<_> = d
            .findings
            .iter()
            .filter(|f| kinds.get(&f.rule) == Some(&RuleKind::Phrase))
            .collect();
        for f in &d.findings {
            prop_assert!(f.start <= f.end && f.end <= text.len());
            prop_assert_eq!(&text[f.start..f.end], f.text.as_str());
        }
        for (i, a) in phrases.iter().enumerate() {
            for b in &phrases[i + 1..] {
                let same = (a.start, a.end) == (b.start, b.end);
                let apart = a.end <= b.start || b.end <= a.start;
                prop_assert!(same || apart, "{}..{} and {}..{}", a.start, a.end, b.start, b.end);
            }
        }
    }

    /// A decision depends only on its message, not on what the engine (or
    /// this thread) classified before.
    #[test]
    fn decisions_do_not_depend_on_earlier_messages(a in any_text(), b in any_text()) {
        // Two engines built separately: one only ever sees the `b`s, the
        // other sees each `a` first.
        static ONLY_B: std::sync::OnceLock<Triage> = std::sync::OnceLock::new();
        let fresh = ONLY_B.get_or_init(|| Triage::builtin().unwrap()).classify(&b);
        let t = Triage::default();
        let _ = t.classify(&a);
        prop_assert_eq!(t.classify(&b), fresh);
    }

    /// A negation placed after a terminator never suppresses what came
    /// before it.
    #[test]
    fn a_negation_after_a_terminator_suppresses_nothing_before_it(
        text in words(),
        tail in prop::sample::select(&[
            " but no", " but none", ", however no", ". No.", " but denied", " but not",
            ". Nope.", " but negative",
        ][..]),
    ) {
        let t = Triage::default();
        let before = spans(&t.classify(&text));
        let after = spans(&t.classify(&format!("{text}{tail}")));
        prop_assert!(before.is_subset(&after), "{:?} lost", before.difference(&after).collect::<Vec<_>>());
    }

    /// Trailing whitespace or a signature never changes the route.
    #[test]
    fn trailing_whitespace_and_signatures_do_not_change_the_route(
        text in any_text(),
        tail in prop::sample::select(&[
            "\n", "   ", "\n\n\t", "\n\nThanks,\nMaria", "\n-- \nSent from my iPhone",
            "\n\nThank you!\nJ. Smith (DOB on file)", "\r\n\r\nBest regards, Tom",
        ][..]),
    ) {
        let t = Triage::default();
        prop_assert_eq!(t.classify(&format!("{text}{tail}")).route, t.classify(&text).route);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A message longer than the engine's limit is read in full, in
    /// overlapping chunks: the same findings as reading it whole, none lost
    /// at a boundary, and the decision is flagged. (4 KiB chunks overlap by
    /// 1 KiB: every finding has at least 512 bytes of context either side,
    /// more than any cue here reaches.)
    #[test]
    fn long_messages_are_read_in_full_in_chunks(text in long_text()) {
        static ENGINES: std::sync::OnceLock<(Triage, Triage)> = std::sync::OnceLock::new();
        let (whole, chunked) = ENGINES.get_or_init(|| {
            let rules = RuleSet::builtin().unwrap();
            (
                Triage::with_max_message_bytes(rules.clone(), 1 << 30).unwrap(),
                Triage::with_max_message_bytes(rules, 4096).unwrap(),
            )
        });
        let (w, c) = (whole.classify(&text), chunked.classify(&text));
        prop_assert!(text.len() > 4096);
        prop_assert!(c.flags.contains(&Flag::Chunked));
        prop_assert!(!w.flags.contains(&Flag::Chunked));
        prop_assert_eq!(c.route, w.route);
        // Combinations need their parts in one chunk; every other finding
        // is found, at the same place.
        let base = |d: &Decision| -> BTreeSet<_> {
            spans(d).into_iter().filter(|(r, _, _)| !r.starts_with("combo.")).collect()
        };
        prop_assert_eq!(base(&c), base(&w));
        prop_assert_eq!(c.readings.len(), w.readings.len());
        for f in &c.findings {
            prop_assert_eq!(&text[f.start..f.end], f.text.as_str());
        }
    }
}

#[test]
fn a_long_message_is_read_to_its_end() {
    let t = Triage::with_max_message_bytes(RuleSet::builtin().unwrap(), 64).unwrap();
    let text = format!(
        "{}my face is drooping right now",
        "refill please ".repeat(100)
    );
    let d = t.classify(&text);
    assert!(d.flags.contains(&Flag::Chunked));
    assert_eq!(d.route, Route::Call911);
    let f = &d.findings[0];
    assert_eq!(&text[f.start..f.end], f.text);
    // Multi-byte characters at every boundary, and chunks smaller than a
    // character.
    for max in [1, 2, 3, 5, 64, 100] {
        let t = Triage::with_max_message_bytes(RuleSet::builtin().unwrap(), max).unwrap();
        let d = t.classify(&"é😰中 chest pain ".repeat(20));
        assert!(d.flags.contains(&Flag::Chunked));
    }
}

/// One engine shared by 8 threads scoring 100,000 messages gives the same
/// decisions as scoring them one by one.
#[test]
fn eight_threads_share_one_engine() {
    let Some(shared) = portal_triage_testkit::shared_dir("eight_threads_share_one_engine") else {
        return;
    };
    let corpus: Vec<String> = std::fs::read_to_string(shared.join("corpus/dev.jsonl"))
        .expect("the dev corpus reads")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    assert!(corpus.len() >= 500, "the dev corpus has its messages");
    let texts: Vec<String> = (0..100_000)
        .map(|i| {
            let m = &corpus[i % corpus.len()];
            // Vary the messages so no two threads see the same sequence.
            match i % 3 {
                0 => m.clone(),
                1 => format!("{m} (message {i})"),
                _ => format!("Re: {m}"),
            }
        })
        .collect();
    let t = Triage::default();
    let sequential: Vec<(Route, Vec<String>)> = texts
        .iter()
        .map(|text| {
            let d = t.classify(text);
            (d.route, d.findings.into_iter().map(|f| f.rule).collect())
        })
        .collect();
    let mut parallel: Vec<Option<(Route, Vec<String>)>> = vec![None; texts.len()];
    std::thread::scope(|s| {
        for (k, part) in parallel.chunks_mut(texts.len().div_ceil(8)).enumerate() {
            let (t, texts) = (t.clone(), &texts);
            s.spawn(move || {
                let base = k * texts.len().div_ceil(8);
                for (j, slot) in part.iter_mut().enumerate() {
                    let d = t.classify(&texts[base + j]);
                    *slot = Some((d.route, d.findings.into_iter().map(|f| f.rule).collect()));
                }
            });
        }
    });
    assert!(parallel.iter().all(Option::is_some), "every message scored");
    for (i, expected) in sequential.iter().enumerate() {
        assert_eq!(parallel[i].as_ref(), Some(expected), "message {i}");
    }
}
