//! Classify arbitrary bytes (as lossy UTF-8), and assess the context of an
//! arbitrary span of them: never a panic, and every span in the decision
//! lies inside the text on character boundaries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portal_triage::Triage;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let t = Triage::default();
    let d = t.classify(&text);
    assert!((0.0..=1.0).contains(&d.score));
    for f in &d.findings {
        assert_eq!(text.get(f.start..f.end), Some(f.text.as_str()));
    }
    for s in &d.suppressed {
        assert!(text.get(s.start..s.end).is_some());
    }
    for r in &d.readings {
        assert!(text.get(r.start..r.end).is_some());
    }
    // Any span, clamped by the engine.
    if data.len() >= 2 {
        let (a, b) = (data[0] as usize * 7, data[1] as usize * 13);
        let c = t.context(&text, a.min(b), a.max(b));
        for u in &c.cues {
            assert!(text.get(u.start..u.end).is_some());
        }
    }
});
