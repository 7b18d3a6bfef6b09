//! Accuracy on labeled corpora: the shared dev corpus (thresholds from the
//! engine issue) and this repository's own regression and held-out corpora.
//! Each test prints its confusion matrix and per-tag accuracy
//! (`cargo test --test corpus -- --nocapture`).

mod common;

use common::{Labeled, Metrics, Run, load_labeled, shared_dir};
use portal_triage::{Route, Triage};
use std::path::PathBuf;

/// The thresholds a corpus must meet.
struct Gates {
    min_call911_recall: f64,
    max_non_urgent_to_911: f64,
    min_accuracy: f64,
    max_under_triage: f64,
}

/// The engine issue's thresholds.
const ENGINE_GATES: Gates = Gates {
    min_call911_recall: 0.97,
    max_non_urgent_to_911: 0.02,
    min_accuracy: 0.85,
    max_under_triage: 0.05,
};

fn check(name: &str, corpus: &[Labeled], min_len: usize, gates: &Gates) -> Metrics {
    assert!(
        corpus.len() >= min_len,
        "{name} has {} messages",
        corpus.len()
    );
    let run = Run::new(&Triage::default(), corpus);
    println!("{}", run.report(name));
    let m = run.metrics;
    // With nothing to measure (not the case in these corpora, which are
    // checked for size first), a rate passes its gate as it always did:
    // no emergency missed, none sent to 911, no under-triage.
    let recall = m.recall(Route::Call911).unwrap_or(1.0);
    assert!(
        recall >= gates.min_call911_recall,
        "{name}: call-911 recall {recall:.3}"
    );
    let to_911 = m.non_urgent_to_911().unwrap_or(0.0);
    assert!(
        to_911 <= gates.max_non_urgent_to_911,
        "{name}: non-urgent routed call-911 {to_911:.3}"
    );
    let accuracy = m.accuracy().unwrap_or(0.0);
    assert!(
        accuracy >= gates.min_accuracy,
        "{name}: accuracy {accuracy:.3}"
    );
    let under = m.under_triage().unwrap_or(0.0);
    assert!(
        under <= gates.max_under_triage,
        "{name}: under-triage {under:.3}"
    );
    m
}

fn own(file: &str) -> Vec<Labeled> {
    load_labeled(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(file),
    )
}

#[test]
fn dev_corpus_meets_thresholds() {
    let Some(shared) = shared_dir("dev_corpus_meets_thresholds") else {
        return;
    };
    let corpus = load_labeled(&shared.join("corpus/dev.jsonl"));
    check("shared dev corpus", &corpus, 600, &ENGINE_GATES);
}

#[test]
fn regression_corpus_meets_thresholds() {
    let m = check(
        "regression corpus (tests/corpus)",
        &own("regression.jsonl"),
        300,
        &ENGINE_GATES,
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

#[test]
fn holdout_corpus_meets_thresholds() {
    // Written last, in other voices, 30 of its 240 messages in Spanish: a
    // slightly looser accuracy gate, the same safety gates.
    let gates = Gates {
        min_call911_recall: 0.95,
        min_accuracy: 0.9,
        ..ENGINE_GATES
    };
    check(
        "held-out corpus (tests/corpus)",
        &own("holdout.jsonl"),
        240,
        &gates,
    );
}

/// A skipped corpus check must say so in the output of a plain `cargo test`
/// (no `--nocapture`): run this test binary again on one corpus test with
/// the shared folder pointed at a path that does not exist.
#[test]
fn a_skipped_corpus_check_is_visible_without_nocapture() {
    let Ok(me) = std::env::current_exe() else {
        panic!("the test binary's path is known");
    };
    let missing = std::env::temp_dir().join("portal-triage-no-shared-folder-here");
    let out = std::process::Command::new(me)
        .args(["--exact", "dev_corpus_meets_thresholds", "--test-threads=1"])
        .env("PORTAL_TRIAGE_SHARED", &missing)
        .env_remove("PORTAL_TRIAGE_REQUIRE_SHARED")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the corpus test ran (and skipped): {stdout}"
    );
    assert!(
        stderr.contains("SKIPPED: dev_corpus_meets_thresholds: the shared folder is absent"),
        "the skip is shown without --nocapture; stderr was: {stderr}"
    );
}
