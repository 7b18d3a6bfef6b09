//! Criterion benches: engine build, single-message latency, and batch
//! throughput against a naive keyword baseline measured in the same run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portal_triage::{RuleSet, Triage};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "../tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

/// Percentiles of single-call latency from raw samples (criterion reports
/// the median's confidence interval, not the tail).
fn tail(name: &str, mut f: impl FnMut()) {
    for _ in 0..200 {
        f();
    }
    let mut samples: Vec<Duration> = (0..5000)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "{name}: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}  (5000 calls)",
        at(0.5),
        at(0.9),
        at(0.99),
        samples[samples.len() - 1]
    );
}

/// Eight messages in the mix a portal sees (emergencies, readings, negated
/// and resolved symptoms, routine requests), written for the bench.
const MESSAGES: &[&str] = &[
    "hello nurse, there is a heavy squeezing feeling behind my breastbone for the last half hour, it spreads into my jaw and i feel clammy. probably indigestion?? let me know",
    "Doing well, no chest pain and breathing is fine. Could you send a refill of my atorvastatin to the Walgreens on 5th? Thank you",
    "Home reading today 178/102, again after resting 174/99. no headache, vision ok, no chest discomfort. Took my losartan as usual. Should I change anything",
    "fainted in the shower last night after getting up quickly. woke up right away and I'm fine this morning. do I need to come in? - Marta",
    "Is the flu shot available at my annual visit? Also I switched insurance plans, will bring the card with me.",
    "My wife can't lift her left arm and her words are coming out garbled, it began about 10 minutes ago.",
    "sugar 385 after dinner. drinking water nonstop and up all night to pee. not throwing up. type 2, on metformin and jardiance",
    "Appreciate the quick call back this morning, thank you!!",
];

fn naive_phrases() -> Vec<String> {
    RuleSet::builtin().unwrap().literal_phrases()
}

/// The naive baseline: lowercase, then `contains` for every phrase.
fn naive(text: &str, phrases: &[String]) -> usize {
    let lower = text.to_lowercase();
    phrases
        .iter()
        .filter(|p| lower.contains(p.as_str()))
        .count()
}

fn bench(c: &mut Criterion) {
    c.bench_function("build/default-rule-set", |b| {
        b.iter(|| Triage::new(black_box(RuleSet::builtin().unwrap())).unwrap())
    });

    let triage = Triage::default();
    let phrases = naive_phrases();
    let long = MESSAGES.join(" ").repeat(40);
    let cut = |n: usize| {
        let mut n = n.min(long.len());
        while !long.is_char_boundary(n) {
            n -= 1;
        }
        &long[..n]
    };
    let mut group = c.benchmark_group("latency");
    for (name, text) in [
        ("100B", cut(100)),
        ("300B", cut(300)),
        ("1KB", cut(1000)),
        ("20KB", cut(20_000)),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("classify/{name}"), |b| {
            b.iter(|| triage.classify(black_box(text)))
        });
        group.bench_function(format!("naive/{name}"), |b| {
            b.iter(|| naive(black_box(text), &phrases))
        });
    }
    group.finish();

    // The tail, and what one classification allocates: the decision it
    // returns (findings, strings) versus everything else.
    for (name, text) in [
        ("100B", cut(100)),
        ("300B", cut(300)),
        ("1KB", cut(1000)),
        ("20KB", cut(20_000)),
    ] {
        tail(&format!("latency/classify/{name}"), || {
            black_box(triage.classify(black_box(text)));
        });
        let d = triage.classify(text);
        let total = allocations(|| {
            black_box(triage.classify(black_box(text)));
        });
        let output = allocations(|| {
            black_box(d.clone());
        });
        println!(
            "allocations/classify/{name}: {total} per call; the returned decision alone takes {output} ({} findings)",
            d.findings.len()
        );
    }

    let batch: Vec<&str> = MESSAGES.iter().copied().cycle().take(400).collect();
    let bytes: usize = batch.iter().map(|m| m.len()).sum();
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("classify", |b| {
        b.iter(|| {
            batch
                .iter()
                .map(|m| triage.classify(black_box(m)).route as u32)
                .sum::<u32>()
        })
    });
    group.bench_function("naive-baseline", |b| {
        b.iter(|| {
            batch
                .iter()
                .map(|m| naive(black_box(m), &phrases))
                .sum::<usize>()
        })
    });
    group.finish();
    let mut group = c.benchmark_group("batch-messages");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("classify", |b| {
        b.iter(|| {
            batch
                .iter()
                .map(|m| triage.classify(black_box(m)).route as u32)
                .sum::<u32>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
