//! Spelling correction on real text nobody on this project wrote: the
//! consumer health questions of `../shared/corpus/real/`. Real questions
//! carry real typos ("diabitic", "collaped"), and a corrector also meets
//! names, abbreviations and words no rule uses, where a correction would
//! invent a finding. Every finding that rests on a correction there is
//! listed and reviewed in `tests/real-corrections.tsv`; this test keeps
//! the engine to that list, so a change in what the reading corrects is
//! reviewed before it lands, and bounds the wrong ones.

use portal_triage::Triage;
use std::collections::BTreeSet;

/// Wrong corrections (another word than the writer's) allowed to create a
/// finding on the real corpora, none of them an emergency.
const MAX_WRONG: usize = 6;

type Row = (String, String, String, String, String);

#[test]
fn corrections_on_real_text_are_the_reviewed_ones() {
    let Some(shared) = portal_triage_testkit::shared_dir("corrections_on_real_text") else {
        return;
    };
    let t = Triage::builtin().unwrap();
    let mut found: BTreeSet<Row> = BTreeSet::new();
    let mut texts = 0;
    for corpus in ["meqsum", "mediqa2021", "kqa"] {
        let path = shared.join(format!("corpus/real/{corpus}.jsonl"));
        let body =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (Some(id), Some(text)) = (v["id"].as_str(), v["text"].as_str()) else {
                continue;
            };
            texts += 1;
            let d = t.classify(text);
            for f in &d.findings {
                for c in &f.corrections {
                    found.insert((
                        id.to_string(),
                        f.rule.to_string(),
                        f.route.to_string(),
                        c.written.clone(),
                        c.read.clone(),
                    ));
                }
            }
        }
    }
    assert!(texts > 2000, "{texts} real texts read");

    let reviewed_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real-corrections.tsv");
    let reviewed_text = std::fs::read_to_string(&reviewed_path).unwrap();
    let mut reviewed: BTreeSet<Row> = BTreeSet::new();
    let mut wrong: Vec<(Row, String)> = Vec::new();
    for line in reviewed_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() >= 6,
            "real-corrections.tsv: {line:?} has too few columns"
        );
        let row: Row = (
            cols[0].into(),
            cols[1].into(),
            cols[2].into(),
            cols[3].into(),
            cols[4].into(),
        );
        match cols[5] {
            "typo" => {}
            "wrong" => wrong.push((row.clone(), cols.get(6).unwrap_or(&"").to_string())),
            v => panic!("real-corrections.tsv: verdict {v:?} is neither typo nor wrong"),
        }
        reviewed.insert(row);
    }

    let new: Vec<&Row> = found.difference(&reviewed).collect();
    let gone: Vec<&Row> = reviewed.difference(&found).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "the findings that rest on a correction on the real corpora changed.\n\
         new (review each: the word the writer meant? add it with its verdict):\n{}\n\
         no longer made (remove):\n{}",
        rows(&new),
        rows(&gone)
    );
    assert!(
        wrong.len() <= MAX_WRONG,
        "{} wrong corrections create findings (at most {MAX_WRONG}): {wrong:?}",
        wrong.len()
    );
    for (row, note) in &wrong {
        assert_ne!(
            row.2, "call-911",
            "a wrong correction creates an emergency: {row:?} ({note})"
        );
    }
    eprintln!(
        "{} findings rest on a correction in {texts} real texts; {} of the corrections are wrong",
        found.len(),
        wrong.len()
    );
}

fn rows(list: &[&Row]) -> String {
    list.iter()
        .map(|r| format!("{}\t{}\t{}\t{}\t{}", r.0, r.1, r.2, r.3, r.4))
        .collect::<Vec<_>>()
        .join("\n")
}
