//! Classifying allocates the decision it returns and (almost) nothing else:
//! the engine's working buffers are per thread and reused. A counting
//! allocator compares one classification with a clone of its decision (which
//! allocates each of the decision's vectors and strings once, at its final
//! size). This file holds one test, so no other test allocates while it
//! counts.

use portal_triage::Triage;
use std::hint::black_box;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

#[test]
fn classify_allocates_little_beyond_its_decision() {
    let triage = Triage::default();
    let messages = [
        "Could you send a refill of my atorvastatin to the pharmacy? Thank you",
        "hello nurse, there is a heavy squeezing feeling behind my breastbone for the last half hour, it spreads into my jaw and i feel clammy. probably indigestion?? let me know",
        "Home reading today 178/102, again after resting 174/99. no headache, vision ok, no chest discomfort. Took my losartan as usual. Should I change anything",
        "sugar 385 after dinner. drinking water nonstop and up all night to pee. not throwing up. type 2, on metformin and jardiance",
        "My wife can't lift her left arm and her words are coming out garbled, it began about 10 minutes ago. She had a stroke in 2019. No chest pain.",
    ];
    // Warm up: the per-thread buffers and the regexes' lazy DFA caches grow
    // to these messages' size.
    for _ in 0..3 {
        for m in messages {
            black_box(triage.classify(m));
        }
    }
    let mut report = Vec::new();
    for m in messages {
        let total = allocations(|| {
            black_box(triage.classify(black_box(m)));
        });
        let d = triage.classify(m);
        let output = allocations(|| {
            black_box(d.clone());
        });
        // The decision's vectors grow while it is built (a push past the
        // capacity is one more allocation than the clone makes): a few
        // growth steps per finding, suppressed mention and reading (their
        // cue lists, the readings' values), besides the top-level vectors.
        // Measured: at most one per item; the margin keeps the bound from
        // depending on the standard library's growth policy, and it is far
        // below what per-message work buffers or per-match captures cost
        // (the 300-byte bench message took 73 allocations for a decision
        // of 29 before they were reused).
        let items = d.findings.len() + d.suppressed.len() + d.readings.len();
        let slack = 4 + 2 * items;
        report.push(format!(
            "{total} allocations, decision alone {output}, slack {slack}: {m:?}"
        ));
        assert!(
            total <= output + slack as u64,
            "classify allocated {total} times for a decision that takes {output} \
             (allowed {slack} more for growth) on {m:?}"
        );
    }
    println!("{}", report.join("\n"));
}
