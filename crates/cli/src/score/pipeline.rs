//! The batch pipeline: one reader thread cuts records into batches, a pool
//! of scoring threads classifies and encodes whole batches, and the calling
//! thread writes them strictly in input order.
//!
//! Memory stays flat: the reader must take a token before it sends a batch
//! and the writer returns the token only once that batch is written, so at
//! most `tokens` batches (each at most [`BATCH_RECORDS`] records or about
//! [`BATCH_BYTES`] bytes) exist at any time, however large the input and
//! however unevenly the threads progress.

use super::progress::Progress;
use portal_triage::{Route, Triage};
use portal_triage_archive::fields::Fields;
use portal_triage_archive::input::{Counters, Planned, Raw, Records};
use portal_triage_archive::output::{Layout, Sink};
use portal_triage_archive::record::{self, Problem, Timing};
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Records per batch at most.
pub const BATCH_RECORDS: usize = 256;
/// Input bytes per batch, about (a batch closes once it reaches this).
pub const BATCH_BYTES: usize = 1 << 20;
/// Malformed records named one by one on stderr, at most.
pub const ERRORS_SHOWN: usize = 20;

struct Batch {
    seq: u64,
    /// Input bytes read when the batch was cut (for progress).
    read_mark: u64,
    records: Vec<Raw>,
}

struct Done {
    seq: u64,
    read_mark: u64,
    bytes: Vec<u8>,
    tally: Tally,
}

/// Counts of a run (or of one batch).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Records written.
    pub records: u64,
    /// Records per route, indexed like [`Route::MOST_SEVERE_FIRST`].
    pub routes: [u64; 3],
    /// Malformed records per kind, indexed like [`Problem::ALL`].
    pub problems: [u64; Problem::ALL.len()],
    /// The first malformed records, one line each (`file:line: problem`).
    pub notes: Vec<String>,
    /// Time on the scoring threads.
    pub timing: Timing,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.records += other.records;
        for (a, b) in self.routes.iter_mut().zip(other.routes) {
            *a += b;
        }
        for (a, b) in self.problems.iter_mut().zip(other.problems) {
            *a += b;
        }
        for note in other.notes {
            if self.notes.len() < ERRORS_SHOWN {
                self.notes.push(note);
            }
        }
        self.timing.classify += other.timing.classify;
        self.timing.other += other.timing.other;
    }

    /// Malformed records in all.
    pub fn malformed(&self) -> u64 {
        self.problems.iter().sum()
    }
}

/// What went wrong with a run as a whole.
pub enum Failure {
    /// Reading an input failed (the message names it and the line).
    Read(String),
    /// Writing failed (`BrokenPipe` when the reader of our output went
    /// away).
    Write {
        /// The error.
        error: io::Error,
        /// Records written whole before it.
        records: u64,
    },
    /// A scoring thread stopped (a bug).
    Internal,
}

/// The result of a run.
pub struct Report {
    /// The counts.
    pub tally: Tally,
    /// Wall time from the first read to the last write.
    pub elapsed: Duration,
    /// Time the reader spent reading and cutting records (not waiting).
    pub read: Duration,
    /// Time the writer spent writing.
    pub write: Duration,
}

/// Everything a scoring thread needs.
pub struct Shared {
    /// The engine.
    pub engine: Triage,
    /// The fields to read.
    pub fields: Fields,
    /// The output layout.
    pub layout: Layout,
}

/// Score `inputs` with `threads` scoring threads and write the records to
/// `sink` in input order.
pub fn run(
    inputs: Vec<Planned>,
    shared: Arc<Shared>,
    threads: usize,
    sink: &mut Sink,
    progress: &mut Progress,
    counters: &Counters,
) -> (Result<(), Failure>, Report) {
    let started = Instant::now();
    let tokens_n = threads * 4;
    let (token_tx, token_rx) = sync_channel::<()>(tokens_n);
    for _ in 0..tokens_n {
        let _ = token_tx.send(());
    }
    let (work_tx, work_rx) = channel::<Batch>();
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = channel::<Done>();

    let reader = std::thread::Builder::new().name("reader".into()).spawn({
        let shared = Arc::clone(&shared);
        let counters = counters.clone();
        move || read_all(inputs, &shared.fields, &counters, work_tx, token_rx)
    });
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads {
        let rx = Arc::clone(&work_rx);
        let tx = done_tx.clone();
        let shared = Arc::clone(&shared);
        workers.push(
            std::thread::Builder::new()
                .name(format!("score-{i}"))
                .spawn(move || score_batches(&rx, &tx, &shared)),
        );
    }
    drop(done_tx);

    let mut tally = Tally::default();
    let mut write_time = Duration::ZERO;
    let mut outcome = Ok(());
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    'recv: for done in done_rx.iter() {
        pending.insert(done.seq, done);
        while let Some(done) = pending.remove(&next) {
            let t = Instant::now();
            let written = sink.write(&done.bytes);
            write_time += t.elapsed();
            if let Err(error) = written {
                sink.roll_back();
                outcome = Err(Failure::Write {
                    error,
                    records: tally.records,
                });
                break 'recv;
            }
            tally.add(done.tally);
            next += 1;
            // The reader may be gone already; a closed channel is fine.
            let _ = token_tx.send(());
            progress.update(tally.records, done.read_mark);
        }
    }
    // Stop the reader and the scoring threads if we left early.
    drop(done_rx);
    drop(token_tx);
    if outcome.is_err() {
        // The output is gone: do not wait for batches in flight to finish
        // (`| head` should end at once); the threads end with the process.
        let report = Report {
            tally,
            elapsed: started.elapsed(),
            read: Duration::ZERO,
            write: write_time,
        };
        return (outcome, report);
    }
    let read = match reader.map(|h| h.join()) {
        Ok(Ok(Ok(stats))) => {
            if outcome.is_ok() && next != stats.batches {
                outcome = Err(Failure::Internal);
            }
            stats.busy
        }
        Ok(Ok(Err(message))) => {
            if outcome.is_ok() {
                outcome = Err(Failure::Read(message));
            }
            Duration::ZERO
        }
        _ => {
            if outcome.is_ok() {
                outcome = Err(Failure::Internal);
            }
            Duration::ZERO
        }
    };
    for w in workers {
        if !matches!(w.map(|h| h.join()), Ok(Ok(()))) && outcome.is_ok() {
            outcome = Err(Failure::Internal);
        }
    }
    let report = Report {
        tally,
        elapsed: started.elapsed(),
        read,
        write: write_time,
    };
    (outcome, report)
}

struct ReadStats {
    batches: u64,
    busy: Duration,
}

fn read_all(
    inputs: Vec<Planned>,
    fields: &Fields,
    counters: &Counters,
    work: Sender<Batch>,
    tokens: Receiver<()>,
) -> Result<ReadStats, String> {
    let mut seq = 0u64;
    let mut busy = Duration::ZERO;
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let mut bytes = 0usize;
    // Send the batch; false when the rest of the pipeline has stopped.
    let send = |batch: Vec<Raw>, seq: &mut u64| -> bool {
        if tokens.recv().is_err() {
            return false;
        }
        let sent = work
            .send(Batch {
                seq: *seq,
                read_mark: counters.read.load(Ordering::Relaxed),
                records: batch,
            })
            .is_ok();
        *seq += 1;
        sent
    };
    for (i, planned) in inputs.into_iter().enumerate() {
        let name = planned.name().to_string();
        let input = match planned.open(fields, counters) {
            Ok(input) => input,
            Err(message) => {
                if !batch.is_empty() {
                    send(std::mem::take(&mut batch), &mut seq);
                }
                return Err(format!(
                    "{message} (it changed since the run started); the inputs before it were scored and written"
                ));
            }
        };
        let mut records = Records::new(input, i as u32);
        loop {
            let t = Instant::now();
            let next = records.next_record();
            busy += t.elapsed();
            match next {
                Ok(Some((raw, size))) => {
                    batch.push(raw);
                    bytes += size;
                    if batch.len() >= BATCH_RECORDS || bytes >= BATCH_BYTES {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_RECORDS));
                        bytes = 0;
                        if !send(full, &mut seq) {
                            return Ok(ReadStats { batches: seq, busy });
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // Score what was read whole, then report.
                    if !batch.is_empty() {
                        send(std::mem::take(&mut batch), &mut seq);
                    }
                    return Err(format!(
                        "{name}: read error after line {}: {e}; the records before it were scored and written",
                        records.line()
                    ));
                }
            }
        }
    }
    if !batch.is_empty() {
        send(batch, &mut seq);
    }
    Ok(ReadStats { batches: seq, busy })
}

fn score_batches(work: &Mutex<Receiver<Batch>>, done: &Sender<Done>, shared: &Shared) {
    loop {
        let batch = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(batch) = batch else { return };
        let mut tally = Tally::default();
        let mut scored = Vec::with_capacity(batch.records.len());
        for raw in batch.records {
            let r = record::score(&shared.engine, raw, &shared.fields, &mut tally.timing);
            tally.records += 1;
            let route_index = Route::MOST_SEVERE_FIRST
                .iter()
                .position(|&x| x == r.decision.route)
                .unwrap_or(0);
            tally.routes[route_index] += 1;
            if let Some(e) = &r.error {
                tally.problems[e.kind.index()] += 1;
                if tally.notes.len() < ERRORS_SHOWN {
                    tally.notes.push(note(&shared.layout, &r, &e.message));
                }
            }
            scored.push(r);
        }
        let t = Instant::now();
        let bytes = shared.layout.encode(&scored);
        tally.timing.other += t.elapsed();
        if done
            .send(Done {
                seq: batch.seq,
                read_mark: batch.read_mark,
                bytes,
                tally,
            })
            .is_err()
        {
            return;
        }
    }
}

/// `file:line: problem (id X)`; never the text.
fn note(layout: &Layout, r: &record::Scored, message: &str) -> String {
    let name = layout.input_name(r.source);
    let mut id = r.id.plain();
    if id.chars().count() > 40 {
        id = id.chars().take(40).collect::<String>() + "...";
    }
    if id.is_empty() {
        format!("{name}:{}: {message}", r.line)
    } else {
        format!("{name}:{}: {message} (id {id})", r.line)
    }
}
