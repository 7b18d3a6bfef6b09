//! The batch reader of `portal-triage score` on arbitrary input: any bytes,
//! as any format (auto, JSON Lines, CSV, text, FHIR), possibly gzip. Every
//! record cut out of the input is scored and accounted for, the reader
//! always ends, and nothing panics. The reader is the
//! `portal-triage-archive` crate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portal_triage::{RuleSet, Triage};
use std::sync::OnceLock;

use portal_triage_archive::fields::Fields;
use portal_triage_archive::input::{Counters, FormatArg, Records, open};
use portal_triage_archive::record::{Timing, score as score_record};

/// A small engine: this target is about reading, not about the rules.
fn engine() -> &'static Triage {
    static ENGINE: OnceLock<Triage> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let rules = r#"
[[rule]]
id = "fuzz.chest"
concept = "chest pain"
route = "call-911"
phrases = ["chest pain"]
[[rule.tests]]
text = "chest pain"
"#;
        Triage::new(RuleSet::from_sources([("fuzz.toml", rules)]).unwrap()).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = match selector % 5 {
        0 => FormatArg::Auto,
        1 => FormatArg::Jsonl,
        2 => FormatArg::Csv,
        3 => FormatArg::Text,
        _ => FormatArg::Fhir,
    };
    let dir = std::env::temp_dir().join(format!("pt-fuzz-batch-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(if selector & 0x80 != 0 { "input.gz" } else { "input" });
    if std::fs::write(&path, body).is_err() {
        return;
    }
    let fields = Fields::new(None, None, &["meta.site".to_string()]);
    let counters = Counters::default();
    // Refusing an input (not UTF-8 text, a JSON array, ...) is an answer.
    let Ok(input) = open(Some(&path), format, &fields, &counters) else {
        return;
    };
    let mut records = Records::new(input, 0);
    let mut timing = Timing::default();
    let mut last_line = 0;
    while let Ok(Some((raw, _))) = records.next_record() {
        let scored = score_record(engine(), raw, &fields, &mut timing);
        assert!(scored.line >= last_line, "records come in order");
        last_line = scored.line;
        assert_eq!(scored.kept.len(), 1);
    }
});
