//! Accuracy on labeled corpora: the shared dev corpus (thresholds from the
//! engine issue) and this repository's own regression corpus.

mod common;

use common::{Metrics, load_labeled, shared_dir};
use portal_triage::{Route, Triage};
use std::path::PathBuf;

#[test]
fn dev_corpus_meets_thresholds() {
    let Some(shared) = shared_dir("dev_corpus_meets_thresholds") else {
        return;
    };
    let corpus = load_labeled(&shared.join("corpus/dev.jsonl"));
    assert!(
        corpus.len() >= 600,
        "dev corpus has {} messages",
        corpus.len()
    );
    let m = Metrics::run(&Triage::default(), &corpus);
    println!("{}", m.report("shared dev corpus"));
    assert!(
        m.recall(Route::Call911) >= 0.97,
        "call-911 recall {:.3} < 0.97",
        m.recall(Route::Call911)
    );
    assert!(
        m.non_urgent_to_911() <= 0.02,
        "non-urgent routed call-911 {:.3} > 0.02",
        m.non_urgent_to_911()
    );
    assert!(m.accuracy() >= 0.85, "accuracy {:.3} < 0.85", m.accuracy());
    assert!(
        m.under_triage() <= 0.05,
        "under-triage {:.3} > 0.05",
        m.under_triage()
    );
}

#[test]
fn holdout_corpus_meets_thresholds() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/holdout.jsonl");
    let corpus = load_labeled(&path);
    assert_eq!(corpus.len(), 240);
    let m = Metrics::run(&Triage::default(), &corpus);
    println!("{}", m.report("held-out corpus (tests/corpus)"));
    assert!(
        m.recall(Route::Call911) >= 0.95,
        "call-911 recall {:.3}",
        m.recall(Route::Call911)
    );
    assert!(
        m.non_urgent_to_911() <= 0.02,
        "non-urgent routed call-911 {:.3}",
        m.non_urgent_to_911()
    );
    assert!(m.accuracy() >= 0.9, "accuracy {:.3} < 0.9", m.accuracy());
    assert!(
        m.under_triage() <= 0.05,
        "under-triage {:.3} > 0.05",
        m.under_triage()
    );
}

#[test]
fn regression_corpus_meets_thresholds() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/regression.jsonl");
    let corpus = load_labeled(&path);
    assert!(
        corpus.len() >= 300,
        "regression corpus has {} messages",
        corpus.len()
    );
    let m = Metrics::run(&Triage::default(), &corpus);
    println!("{}", m.report("regression corpus (tests/corpus)"));
    assert!(
        m.recall(Route::Call911) >= 0.97,
        "call-911 recall {:.3} < 0.97",
        m.recall(Route::Call911)
    );
    assert!(
        m.non_urgent_to_911() <= 0.02,
        "non-urgent routed call-911 {:.3}",
        m.non_urgent_to_911()
    );
    assert!(m.accuracy() >= 0.85, "accuracy {:.3} < 0.85", m.accuracy());
    assert!(
        m.under_triage() <= 0.05,
        "under-triage {:.3} > 0.05",
        m.under_triage()
    );
    // Every context phenomenon is represented and handled.
    for tag in [
        "negation",
        "hypothetical",
        "historical",
        "family-history",
        "other-person",
        "resolved",
        "numeric",
        "misspelling",
        "idiom",
    ] {
        let r = m
            .tag_recall(tag)
            .unwrap_or_else(|| panic!("tag {tag} missing from the regression corpus"));
        assert!(r >= 0.75, "tag {tag}: route accuracy {r:.2} < 0.75");
    }
}
