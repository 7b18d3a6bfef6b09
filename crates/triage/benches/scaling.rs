//! Linear time: classify cost per byte over message sizes from 100 B to
//! 1 MiB, for ordinary text and for adversarial text made of cue words,
//! findings, one giant word and digits. Criterion reports time and MiB/s per
//! size; a flat MiB/s across sizes is linear time, and the adversarial rows
//! must not cost more per byte than ordinary text.
//!
//! `cargo bench --bench scaling` (about 3 minutes).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portal_triage::Triage;
use std::hint::black_box;
use std::time::Duration;

const ORDINARY: &str = "Hi Dr. Patel, my BP this morning was 150/95 and I have had a mild headache since lunch. \
No chest pain or shortness of breath. I took my lisinopril. My husband says I should ask whether to \
double the dose. Also can you refill my metformin to the CVS on Main? Thanks so much, Gloria. ";

/// `unit` repeated to `n` bytes (cut on a character boundary).
fn fill(unit: &str, n: usize) -> String {
    let mut s = unit.repeat(n / unit.len() + 1);
    let mut cut = n.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

fn bench(c: &mut Criterion) {
    let triage = Triage::default();
    let _ = triage.classify("warm up");

    let mut group = c.benchmark_group("scaling/ordinary");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    for n in [100, 1_000, 10_000, 100_000, 1 << 20] {
        let text = fill(ORDINARY, n);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, t| {
            b.iter(|| triage.classify(black_box(t)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("scaling/adversarial-1MiB");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    for (name, unit) in [
        ("ordinary", ORDINARY),
        ("no-no-no", "no "),
        ("if-if-if", "if "),
        ("never-like-this", "never like this "),
        ("denies-list", "denies fever, "),
        ("chest-pain", "chest pain "),
        ("cant-breathe", "can't breathe "),
        ("bp-readings", "bp 190/120 "),
        ("temp-readings", "temp 103 "),
        ("checklist", "chest pain? no "),
        ("digits", "1234567890"),
        // One long word full of the literals the pattern gates look for
        // (windows end at a word's end: once found quadratic, minutes per
        // megabyte).
        ("digit-pairs", "12"),
        ("glued-words", "painchest"),
        ("one-word", "a"),
        ("emoji", "😰"),
        ("punctuation", "?!. "),
    ] {
        let text = fill(unit, 1 << 20);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, t| {
            b.iter(|| triage.classify(black_box(t)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
