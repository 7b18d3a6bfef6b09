//! Counters for `GET /metrics`, in the Prometheus text exposition format
//! (version 0.0.4). Plain atomics: no locks on the request path, and label
//! sets that are fixed in advance (endpoints, routes, error codes), so a
//! client cannot grow the exposition by sending odd paths.

use portal_triage::Route;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The endpoints counted under their own label; anything else is `other`.
pub const ENDPOINTS: [&str; 8] = [
    "/v1/triage",
    "/v1/triage/batch",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/",
    "/app.js",
    "/app.css",
];

/// The label for anything that is not one of [`ENDPOINTS`].
const OTHER: &str = "other";

/// The status codes the service answers with.
pub const STATUSES: [u16; 9] = [200, 400, 404, 405, 408, 413, 415, 500, 503];

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The error codes of [`super::api::ApiError`], counted one by one.
pub const ERROR_CODES: [&str; 16] = [
    "bad-json",
    "not-an-array",
    "not-an-object",
    "missing-text",
    "text-not-a-string",
    "bad-id",
    "invalid-utf8",
    "body-too-large",
    "too-many-items",
    "unsupported-media-type",
    "timeout",
    "not-found",
    "method-not-allowed",
    "bad-body",
    "internal",
    "overloaded",
];

/// All the service's counters.
pub struct Metrics {
    /// [endpoint (or other)][status (or other)].
    requests: Vec<[AtomicU64; STATUSES.len() + 1]>,
    /// Cumulative is computed at exposition; these are per-bucket counts,
    /// the last one for +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_sum_nanos: AtomicU64,
    duration_count: AtomicU64,
    /// Indexed like `Route::MOST_SEVERE_FIRST`.
    routes: [AtomicU64; 3],
    errors: [AtomicU64; ERROR_CODES.len()],
    /// Messages classified (single and batch items).
    messages: AtomicU64,
}

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: (0..=ENDPOINTS.len()).map(|_| zeros()).collect(),
            buckets: zeros(),
            duration_sum_nanos: AtomicU64::new(0),
            duration_count: AtomicU64::new(0),
            routes: zeros(),
            errors: zeros(),
            messages: AtomicU64::new(0),
        }
    }
}

/// The label under which `path` is counted (and logged).
pub fn endpoint_label(path: &str) -> &'static str {
    ENDPOINTS
        .iter()
        .find(|e| **e == path)
        .copied()
        .unwrap_or(OTHER)
}

impl Metrics {
    /// Count one finished request.
    pub fn request(&self, endpoint: &str, status: u16, elapsed: Duration) {
        let e = ENDPOINTS
            .iter()
            .position(|x| *x == endpoint)
            .unwrap_or(ENDPOINTS.len());
        let s = STATUSES
            .iter()
            .position(|x| *x == status)
            .unwrap_or(STATUSES.len());
        self.requests[e][s].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BUCKETS.len());
        self.buckets[b].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.duration_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.duration_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Count one classified message.
    pub fn route(&self, route: Route) {
        let i = Route::MOST_SEVERE_FIRST
            .iter()
            .position(|r| *r == route)
            .unwrap_or(0);
        self.routes[i].fetch_add(1, Ordering::Relaxed);
        self.messages.fetch_add(1, Ordering::Relaxed);
    }

    /// Count one error (a whole request's or one batch item's).
    pub fn error(&self, code: &str) {
        if let Some(i) = ERROR_CODES.iter().position(|c| *c == code) {
            self.errors[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str(
            "# HELP portal_triage_requests_total HTTP requests answered, by endpoint and status.\n\
             # TYPE portal_triage_requests_total counter\n",
        );
        for (e, row) in self.requests.iter().enumerate() {
            let endpoint = ENDPOINTS.get(e).copied().unwrap_or(OTHER);
            for (s, n) in row.iter().enumerate() {
                let n = get(n);
                // Show every endpoint's 200 line (so dashboards see zeros),
                // other statuses once they happened.
                if n == 0 && s != 0 {
                    continue;
                }
                let status = STATUSES
                    .get(s)
                    .map_or_else(|| "other".to_string(), u16::to_string);
                let _ = writeln!(
                    out,
                    "portal_triage_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP portal_triage_request_duration_seconds Time from request to response, in seconds.\n\
             # TYPE portal_triage_request_duration_seconds histogram\n",
        );
        let mut cumulative = 0;
        for (i, le) in BUCKETS.iter().enumerate() {
            cumulative += get(&self.buckets[i]);
            let _ = writeln!(
                out,
                "portal_triage_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += get(&self.buckets[BUCKETS.len()]);
        let _ = writeln!(
            out,
            "portal_triage_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum = get(&self.duration_sum_nanos) as f64 / 1e9;
        let _ = writeln!(out, "portal_triage_request_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "portal_triage_request_duration_seconds_count {}",
            get(&self.duration_count)
        );
        out.push_str(
            "# HELP portal_triage_routes_total Messages classified, by route.\n\
             # TYPE portal_triage_routes_total counter\n",
        );
        for (i, r) in Route::MOST_SEVERE_FIRST.iter().enumerate() {
            let _ = writeln!(
                out,
                "portal_triage_routes_total{{route=\"{r}\"}} {}",
                get(&self.routes[i])
            );
        }
        out.push_str(
            "# HELP portal_triage_errors_total Rejected requests and batch items, by error code.\n\
             # TYPE portal_triage_errors_total counter\n",
        );
        for (i, code) in ERROR_CODES.iter().enumerate() {
            let _ = writeln!(
                out,
                "portal_triage_errors_total{{code=\"{code}\"}} {}",
                get(&self.errors[i])
            );
        }
        out.push_str(
            "# HELP portal_triage_messages_total Messages classified (single requests and batch items).\n\
             # TYPE portal_triage_messages_total counter\n",
        );
        let _ = writeln!(out, "portal_triage_messages_total {}", get(&self.messages));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_counts_everything() {
        let m = Metrics::default();
        m.request("/v1/triage", 200, Duration::from_micros(300));
        m.request("/v1/triage", 200, Duration::from_secs(60));
        m.request("/nope", 404, Duration::from_micros(50));
        let text = m.render();
        assert!(text.contains("portal_triage_request_duration_seconds_bucket{le=\"0.0001\"} 1\n"));
        assert!(text.contains("portal_triage_request_duration_seconds_bucket{le=\"0.0005\"} 2\n"));
        assert!(text.contains("portal_triage_request_duration_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("portal_triage_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("portal_triage_request_duration_seconds_count 3\n"));
        assert!(
            text.contains("portal_triage_requests_total{endpoint=\"other\",status=\"404\"} 1\n")
        );
        assert!(
            text.contains(
                "portal_triage_requests_total{endpoint=\"/v1/triage\",status=\"200\"} 2\n"
            )
        );
    }

    #[test]
    fn unknown_paths_share_one_label() {
        assert_eq!(endpoint_label("/v1/triage"), "/v1/triage");
        assert_eq!(endpoint_label("/chest pain"), "other");
    }
}
