//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod server;

use portal_triage::{Route, Triage};
use portal_triage_archive::labeled;
use portal_triage_archive::metrics::ROUTES;

#[allow(unused_imports)]
pub use portal_triage_archive::labeled::Record as Labeled;
#[allow(unused_imports)]
pub use portal_triage_archive::metrics::Metrics;
#[allow(unused_imports)]
pub use portal_triage_testkit::{shared_dir, skip_notice};

/// Every message of a labeled corpus (the reader `eval` uses); panics on
/// a line that cannot be used.
pub fn load_labeled(path: &std::path::Path) -> Vec<Labeled> {
    let (records, problems) = labeled::read(&[path.to_path_buf()], true)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    if let Some(p) = problems.first() {
        panic!("{p}: bad record");
    }
    records
}

/// A corpus classified: its metrics, and the misrouted messages.
pub struct Run {
    pub metrics: Metrics,
    /// (id, truth, predicted), in corpus order.
    pub misses: Vec<(String, Route, Route)>,
}

impl Run {
    pub fn new(triage: &Triage, corpus: &[Labeled]) -> Run {
        let mut metrics = Metrics::new();
        let mut misses = Vec::new();
        for msg in corpus {
            let Some(truth) = msg.route else { continue };
            let got = triage.classify(&msg.text).route;
            metrics.add(truth, got, &msg.tags);
            if got != truth {
                misses.push((msg.id.clone(), truth, got));
            }
        }
        Run { metrics, misses }
    }

    /// The confusion matrix, per-tag accuracy and misses, for the log.
    pub fn report(&self, name: &str) -> String {
        use std::fmt::Write;
        let m = &self.metrics;
        let rate = |x: Option<f64>| x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"));
        let mut s = String::new();
        let _ = writeln!(s, "== {name}: {} messages ==", m.n());
        let _ = writeln!(
            s,
            "call-911 recall {} | accuracy {} | under-triage {} | non-urgent->911 {}",
            rate(m.recall(Route::Call911)),
            rate(m.accuracy()),
            rate(m.under_triage()),
            rate(m.non_urgent_to_911())
        );
        let _ = writeln!(
            s,
            "confusion (rows truth, cols predicted): {:>10} {:>10} {:>10}",
            "call-911", "needs-call", "non-urgent"
        );
        for t in ROUTES {
            let _ = writeln!(
                s,
                "  {:>10}: {:>10} {:>10} {:>10}",
                t.as_str(),
                m.count(t, Route::Call911),
                m.count(t, Route::NeedsCall),
                m.count(t, Route::NonUrgent)
            );
        }
        let tags: Vec<String> = (m.per_tag().iter())
            .map(|(t, s)| format!("{t}={:.2}({})", s.recall, s.n))
            .collect();
        let _ = writeln!(s, "per-tag route accuracy: {}", tags.join(" "));
        let misses: Vec<String> = (self.misses.iter())
            .map(|(id, t, p)| format!("{id}:{t}->{p}"))
            .collect();
        let _ = writeln!(s, "misrouted: {}", misses.join(" "));
        s
    }
}

/// Run the real `portal-triage` binary with `args`, feeding `stdin`;
/// returns the exit code, standard output and standard error.
pub fn run_cli(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal-triage"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the portal-triage binary runs");
    // The child may exit before reading everything (a usage error).
    let _ = child.stdin.take().expect("piped stdin").write_all(stdin);
    let out = child.wait_with_output().expect("the binary finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
