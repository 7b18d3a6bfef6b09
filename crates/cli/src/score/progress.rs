//! Progress on stderr: a bar (records, bytes, rate, ETA when the input size
//! is known) on a terminal; plain lines every few seconds when forced with
//! `--progress` on something that is not a terminal; nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// Seconds between plain progress lines.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown.
pub enum Progress {
    /// Not at all.
    Off,
    /// An indicatif bar on the terminal.
    Bar(ProgressBar),
    /// One line every [`PLAIN_EVERY`].
    Plain {
        /// Total input bytes, when known.
        total: Option<u64>,
        /// When the run started.
        started: Instant,
        /// When the last line was printed.
        last: Instant,
    },
}

impl Progress {
    /// Choose: `force` (`--progress`) or `quiet` (`--quiet`), else a bar
    /// exactly when stderr is a terminal. `total` is the sum of the input
    /// sizes when all are regular files.
    pub fn new(force: bool, quiet: bool, total: Option<u64>) -> Progress {
        use std::io::IsTerminal;
        if quiet {
            return Progress::Off;
        }
        let terminal = std::io::stderr().is_terminal();
        if terminal {
            let bar = match total {
                Some(n) => {
                    ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr_with_hz(4))
                        .with_style(style(
                            "{bar:30} {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta} {msg}",
                        ))
                }
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4))
                    .with_style(style("{spinner} {decimal_bytes} {decimal_bytes_per_sec} {elapsed} {msg}")),
            };
            Progress::Bar(bar)
        } else if force {
            let now = Instant::now();
            Progress::Plain {
                total,
                started: now,
                last: now,
            }
        } else {
            Progress::Off
        }
    }

    /// Show `records` written, and `read`: the input bytes read when the
    /// last batch written was cut (so the bar follows the output, not the
    /// reader running ahead).
    pub fn update(&mut self, records: u64, read: u64) {
        match self {
            Progress::Off => {}
            Progress::Bar(bar) => {
                bar.set_position(read);
                bar.set_message(format!("{records} records"));
            }
            Progress::Plain {
                total,
                started,
                last,
            } => {
                if last.elapsed() < PLAIN_EVERY {
                    return;
                }
                *last = Instant::now();
                let secs = started.elapsed().as_secs_f64().max(1e-9);
                let share = match total {
                    Some(t) if *t > 0 => format!(" ({:.1}%)", read as f64 * 100.0 / *t as f64),
                    _ => String::new(),
                };
                eprintln!(
                    "portal-triage: {records} records, {:.1} MB read{share}, {:.0} records/s",
                    read as f64 / 1e6,
                    records as f64 / secs
                );
            }
        }
    }

    /// Remove the bar before the summary is printed.
    pub fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}
