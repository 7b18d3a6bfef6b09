//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod server;

use portal_triage::{Route, Triage};
use std::collections::BTreeMap;

#[allow(unused_imports)]
pub use portal_triage_testkit::{shared_dir, skip_notice};

/// One labeled message.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Labeled {
    pub id: String,
    pub text: String,
    pub route: Route,
    #[serde(default)]
    pub tags: Vec<String>,
}

pub fn load_labeled(path: &std::path::Path) -> Vec<Labeled> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}:{}: bad record: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The triage metrics of a labeled corpus.
#[derive(Debug, Default)]
pub struct Metrics {
    pub n: usize,
    /// confusion[truth][predicted], indexed by Route as usize.
    pub confusion: [[usize; 3]; 3],
    pub tag_total: BTreeMap<String, usize>,
    pub tag_ok: BTreeMap<String, usize>,
    pub misses: Vec<(String, Route, Route)>,
}

fn idx(r: Route) -> usize {
    match r {
        Route::NonUrgent => 0,
        Route::NeedsCall => 1,
        Route::Call911 => 2,
    }
}

impl Metrics {
    pub fn run(triage: &Triage, corpus: &[Labeled]) -> Metrics {
        let mut m = Metrics::default();
        for msg in corpus {
            let got = triage.classify(&msg.text).route;
            m.n += 1;
            m.confusion[idx(msg.route)][idx(got)] += 1;
            for t in &msg.tags {
                *m.tag_total.entry(t.clone()).or_default() += 1;
                if got == msg.route {
                    *m.tag_ok.entry(t.clone()).or_default() += 1;
                }
            }
            if got != msg.route {
                m.misses.push((msg.id.clone(), msg.route, got));
            }
        }
        m
    }

    pub fn recall(&self, r: Route) -> f64 {
        let row = self.confusion[idx(r)];
        let total: usize = row.iter().sum();
        if total == 0 {
            1.0
        } else {
            row[idx(r)] as f64 / total as f64
        }
    }

    pub fn accuracy(&self) -> f64 {
        (0..3).map(|i| self.confusion[i][i]).sum::<usize>() as f64 / self.n.max(1) as f64
    }

    /// Share of all messages predicted less severe than the truth.
    pub fn under_triage(&self) -> f64 {
        let mut under = 0;
        for t in 0..3 {
            for p in 0..t {
                under += self.confusion[t][p];
            }
        }
        under as f64 / self.n.max(1) as f64
    }

    /// Share of non-urgent messages routed call-911.
    pub fn non_urgent_to_911(&self) -> f64 {
        let row = self.confusion[0];
        let total: usize = row.iter().sum();
        if total == 0 {
            0.0
        } else {
            row[2] as f64 / total as f64
        }
    }

    pub fn tag_recall(&self, tag: &str) -> Option<f64> {
        let total = *self.tag_total.get(tag)?;
        Some(*self.tag_ok.get(tag).unwrap_or(&0) as f64 / total as f64)
    }

    pub fn report(&self, name: &str) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let names = ["non-urgent", "needs-call", "call-911"];
        let _ = writeln!(s, "== {name}: {} messages ==", self.n);
        let _ = writeln!(
            s,
            "call-911 recall {:.3} | accuracy {:.3} | under-triage {:.3} | non-urgent->911 {:.3}",
            self.recall(Route::Call911),
            self.accuracy(),
            self.under_triage(),
            self.non_urgent_to_911()
        );
        let _ = writeln!(
            s,
            "confusion (rows truth, cols predicted): {:>10} {:>10} {:>10}",
            "call-911", "needs-call", "non-urgent"
        );
        for t in [2, 1, 0] {
            let _ = writeln!(
                s,
                "  {:>10}: {:>10} {:>10} {:>10}",
                names[t], self.confusion[t][2], self.confusion[t][1], self.confusion[t][0]
            );
        }
        let tags: Vec<String> = self
            .tag_total
            .iter()
            .map(|(t, n)| {
                format!(
                    "{t}={:.2}({n})",
                    *self.tag_ok.get(t).unwrap_or(&0) as f64 / *n as f64
                )
            })
            .collect();
        let _ = writeln!(s, "per-tag route accuracy: {}", tags.join(" "));
        let misses: Vec<String> = self
            .misses
            .iter()
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
