//! The triage metrics of a labeled corpus: the confusion matrix, call-911
//! sensitivity, accuracy, under- and over-triage, non-urgent messages sent
//! to 911, precision and recall per route, and route accuracy per tag.
//!
//! The definitions are those of the independent reference
//! `shared/tools/metrics.py`: under-triage is the share of all messages
//! routed less urgently than their label, over-triage more urgently; a
//! tag's recall is the share of its messages routed exactly as labeled.
//! A rate with nothing to measure (no message with that label) is `None`.

use crate::labeled::Record;
use portal_triage::Route;
use serde::Serialize;
use std::collections::BTreeMap;

/// The routes, most severe first: the order of [`Metrics::confusion`].
pub const ROUTES: [Route; 3] = [Route::Call911, Route::NeedsCall, Route::NonUrgent];

/// A route's place in [`ROUTES`].
fn idx(r: Route) -> usize {
    match r {
        Route::Call911 => 0,
        Route::NeedsCall => 1,
        Route::NonUrgent => 2,
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Route accuracy of the messages with one tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TagStats {
    /// Messages with the tag.
    pub n: usize,
    /// Of those, routed exactly as labeled.
    pub correct: usize,
    /// correct / n.
    pub recall: f64,
}

/// Labels against routes given, counted: add one message at a time with
/// [`Metrics::add`], or a corpus with [`Metrics::of`], then read the rates.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// `[truth][predicted]`, both in the order of [`ROUTES`].
    confusion: [[usize; 3]; 3],
    per_tag: BTreeMap<String, TagStats>,
}

impl Metrics {
    /// No message yet.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// The labeled records of a corpus against the routes given to them
    /// (same order; unlabeled records are left out).
    pub fn of(records: &[Record], predicted: impl IntoIterator<Item = Route>) -> Metrics {
        let mut m = Metrics::new();
        for (r, p) in records.iter().zip(predicted) {
            if let Some(truth) = r.route {
                m.add(truth, p, &r.tags);
            }
        }
        m
    }

    /// Count one message labeled `truth`, routed `predicted`, with `tags`.
    pub fn add(&mut self, truth: Route, predicted: Route, tags: &[String]) {
        self.confusion[idx(truth)][idx(predicted)] += 1;
        for t in tags {
            let s = self.per_tag.entry(t.clone()).or_insert(TagStats {
                n: 0,
                correct: 0,
                recall: 0.0,
            });
            s.n += 1;
            s.correct += usize::from(predicted == truth);
            s.recall = s.correct as f64 / s.n as f64;
        }
    }

    /// Messages counted.
    pub fn n(&self) -> usize {
        self.confusion.iter().flatten().sum()
    }

    /// The confusion matrix, `[truth][predicted]`, both in the order of
    /// [`ROUTES`] (most severe first).
    pub fn confusion(&self) -> [[usize; 3]; 3] {
        self.confusion
    }

    /// Messages labeled `truth` and routed `predicted`.
    pub fn count(&self, truth: Route, predicted: Route) -> usize {
        self.confusion[idx(truth)][idx(predicted)]
    }

    /// Messages labeled `route`.
    pub fn labeled(&self, route: Route) -> usize {
        self.confusion[idx(route)].iter().sum()
    }

    /// Messages routed `route`.
    pub fn predicted(&self, route: Route) -> usize {
        let p = idx(route);
        self.confusion.iter().map(|row| row[p]).sum()
    }

    /// Of the messages labeled `route`, the share routed `route`.
    pub fn recall(&self, route: Route) -> Option<f64> {
        ratio(self.count(route, route), self.labeled(route))
    }

    /// Of the messages routed `route`, the share labeled `route`.
    pub fn precision(&self, route: Route) -> Option<f64> {
        ratio(self.count(route, route), self.predicted(route))
    }

    /// The share routed exactly as labeled.
    pub fn accuracy(&self) -> Option<f64> {
        let correct = (0..3).map(|i| self.confusion[i][i]).sum();
        ratio(correct, self.n())
    }

    /// Call-911 recall (sensitivity): the safety number.
    pub fn call911_sensitivity(&self) -> Option<f64> {
        self.recall(Route::Call911)
    }

    /// Of the call-911 messages, the share routed call-911 or needs-call.
    pub fn call911_as_any_call(&self) -> Option<f64> {
        ratio(
            self.count(Route::Call911, Route::Call911)
                + self.count(Route::Call911, Route::NeedsCall),
            self.labeled(Route::Call911),
        )
    }

    /// Messages routed less urgently than their label.
    pub fn under_triaged(&self) -> usize {
        self.off_diagonal(|truth, predicted| predicted < truth)
    }

    /// Messages routed more urgently than their label.
    pub fn over_triaged(&self) -> usize {
        self.off_diagonal(|truth, predicted| predicted > truth)
    }

    fn off_diagonal(&self, keep: impl Fn(Route, Route) -> bool) -> usize {
        let mut n = 0;
        for truth in ROUTES {
            for predicted in ROUTES {
                if keep(truth, predicted) {
                    n += self.count(truth, predicted);
                }
            }
        }
        n
    }

    /// Under-triage: the share of all messages routed less urgently than
    /// their label.
    pub fn under_triage(&self) -> Option<f64> {
        ratio(self.under_triaged(), self.n())
    }

    /// Over-triage: the share of all messages routed more urgently than
    /// their label.
    pub fn over_triage(&self) -> Option<f64> {
        ratio(self.over_triaged(), self.n())
    }

    /// Of the non-urgent messages, the share routed call-911.
    pub fn non_urgent_to_911(&self) -> Option<f64> {
        ratio(
            self.count(Route::NonUrgent, Route::Call911),
            self.labeled(Route::NonUrgent),
        )
    }

    /// Route accuracy per tag, by tag name.
    pub fn per_tag(&self) -> &BTreeMap<String, TagStats> {
        &self.per_tag
    }

    /// The route accuracy of the messages with `tag`; `None` when no
    /// message has it.
    pub fn tag_recall(&self, tag: &str) -> Option<f64> {
        self.per_tag.get(tag).map(|s| s.recall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Route::{Call911, NeedsCall, NonUrgent};

    fn add(m: &mut Metrics, truth: Route, predicted: Route, tags: &[&str]) {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        m.add(truth, predicted, &tags);
    }

    #[test]
    fn the_rates_follow_the_reference_definitions() {
        let mut m = Metrics::new();
        add(&mut m, Call911, Call911, &["a"]);
        add(&mut m, Call911, NeedsCall, &["a"]);
        add(&mut m, Call911, NonUrgent, &[]);
        add(&mut m, NeedsCall, NeedsCall, &[]);
        add(&mut m, NeedsCall, Call911, &["b"]);
        add(&mut m, NonUrgent, NonUrgent, &["b"]);
        add(&mut m, NonUrgent, NonUrgent, &[]);
        add(&mut m, NonUrgent, Call911, &[]);
        assert_eq!(m.n(), 8);
        assert_eq!(m.confusion(), [[1, 1, 1], [1, 1, 0], [1, 0, 2]]);
        assert_eq!(m.call911_sensitivity(), Some(1.0 / 3.0));
        assert_eq!(m.call911_as_any_call(), Some(2.0 / 3.0));
        assert_eq!(m.precision(Call911), Some(1.0 / 3.0));
        assert_eq!(m.accuracy(), Some(4.0 / 8.0));
        assert_eq!(m.under_triaged(), 2);
        assert_eq!(m.over_triaged(), 2);
        assert_eq!(m.under_triage(), Some(2.0 / 8.0));
        assert_eq!(m.over_triage(), Some(2.0 / 8.0));
        assert_eq!(m.non_urgent_to_911(), Some(1.0 / 3.0));
        assert_eq!(m.tag_recall("a"), Some(0.5));
        assert_eq!(m.tag_recall("b"), Some(0.5));
        assert_eq!(m.tag_recall("c"), None);
    }

    #[test]
    fn nothing_to_measure_is_none() {
        let m = Metrics::new();
        assert_eq!(m.n(), 0);
        assert_eq!(m.accuracy(), None);
        assert_eq!(m.recall(Call911), None);
        assert_eq!(m.precision(NeedsCall), None);
        assert_eq!(m.under_triage(), None);
        assert_eq!(m.non_urgent_to_911(), None);
    }
}
