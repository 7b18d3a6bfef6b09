//! Load arbitrary text as a rule file, and when it loads, build an engine
//! from it layered on the built-in rules and classify with it: a clear error
//! or a working engine, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portal_triage::{RuleSet, Triage};

fuzz_target!(|data: &[u8]| {
    // Invalid UTF-8 is refused when a rule directory is read (E0009; a test
    // covers it); here the loader gets text.
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    match RuleSet::from_sources([("fuzz.toml", text)]) {
        Ok(set) => {
            if let Ok(t) = Triage::new(set) {
                let _ = t.classify("chest pain since this morning, no fever");
                let _ = t.run_rule_tests();
            }
        }
        Err(e) => {
            // Every diagnostic points into the file.
            for d in e.diagnostics() {
                assert!(d.line >= 1);
            }
        }
    }
});
