//! Properties that hold for every input (proptest).

use portal_triage::{Route, Triage};
use portal_triage_testkit::text::any_text;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_and_spans_are_valid(text in any_text()) {
        let d = Triage::default().classify(&text);
        prop_assert!((0.0..=1.0).contains(&d.score));
        for f in &d.findings {
            prop_assert!(f.start <= f.end && f.end <= text.len());
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            prop_assert_eq!(&text[f.start..f.end], f.text.as_str());
            for c in &f.context.cues {
                prop_assert!(text.is_char_boundary(c.start) && text.is_char_boundary(c.end));
                prop_assert!(c.end <= text.len());
            }
        }
        for s in &d.suppressed {
            prop_assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end) && s.end <= text.len());
        }
        for r in &d.readings {
            prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end) && r.end <= text.len());
        }
    }

    #[test]
    fn same_input_same_output(text in any_text()) {
        let t = Triage::default();
        prop_assert_eq!(t.classify(&text), t.classify(&text));
    }

    #[test]
    fn appending_an_emergency_never_lowers_the_route(text in any_text()) {
        let t = Triage::default();
        let before = t.classify(&text).route;
        let after = t.classify(&format!("{text}\nMy husband collapsed and is not breathing.")).route;
        prop_assert!(after >= before);
        prop_assert_eq!(after, Route::Call911);
    }

    #[test]
    fn ascii_case_never_changes_the_route(text in any_text()) {
        let t = Triage::default();
        let r = t.classify(&text).route;
        prop_assert_eq!(t.classify(&text.to_ascii_uppercase()).route, r);
        prop_assert_eq!(t.classify(&text.to_ascii_lowercase()).route, r);
    }
}
