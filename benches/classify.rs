//! Criterion benches: engine build, single-message latency, and batch
//! throughput against a naive keyword baseline measured in the same run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portal_triage::{RuleSet, Triage};
use std::hint::black_box;

const MESSAGES: &[&str] = &[
    "hi dr patel. having this pressure in my chest since about 20 min ago, goes down my left arm and im sweating alot. is this my reflux again?? pls advise",
    "No chest pain or shortness of breath, all good. Just need my metoprolol refilled to the CVS on Main. Thanks",
    "BP this morning 186/104, rechecked 10 min later 182/101. no headache no chest pain no vision stuff, feel normal. I did take my amlodipine. what should I do",
    "passed out in the kitchen yesterday after standing up too fast. came to right away, feel fine today. should I be worried? - Gloria",
    "Can I get the shingles vaccine at my physical? Also my insurance changed, I'll bring the new card.",
    "My husband's face looks droopy on the right side and he is slurring his words, started maybe 15 minutes ago.",
    "sugar 420 at lunch. been peeing a ton and really thirsty. no vomiting. I'm type 2 on metformin and glipizide",
    "Thanks for calling me back so quickly yesterday!!",
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
