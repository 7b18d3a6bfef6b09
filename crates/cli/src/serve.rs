//! `portal-triage serve`: the command line of the HTTP service in
//! `portal_triage_server`.

use super::{EXIT_ERROR, EXIT_OK, RuleArgs};
use portal_triage_server::{Exit, Options};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(clap::Args)]
#[command(after_help = "\
Endpoints:
  POST /v1/triage         {\"text\": \"...\", \"subject\": optional, \"id\": optional}
                          -> the decision as JSON: id (echoed exactly as sent,
                          a number keeps its digits), route, score, rules,
                          flags, findings (byte spans, and start_utf16/end_utf16
                          for JavaScript), suppressed, readings, advice, summary.
                          A subject is checked with the text (the subject, a
                          blank line, the text); then each span says its
                          \"field\" (\"subject\" or \"text\") and counts from
                          the start of that field
  POST /v1/triage/batch   a JSON array of such objects (application/json) or
                          NDJSON (application/x-ndjson) -> {\"results\": [...],
                          \"errors\": N}, in input order; a malformed item gets an
                          {\"id\", \"error\"} item in its place (NDJSON: + \"line\")
  GET  /healthz           {\"status\": \"ok\", \"version\", \"rules\"}
  GET  /metrics           Prometheus text: requests, latency histogram,
                          routes, errors
  GET  /openapi.json      the OpenAPI 3.1 document of all of the above
  GET  /                  the demo page: a compose box that warns as you type

Errors are JSON {\"error\": {\"code\", \"message\"}}: 400 bad-json, not-an-object,
not-an-array, missing-text, text-not-a-string, subject-not-a-string, bad-id,
duplicate-field (a key given twice in a message object; named if it is a
plain name), invalid-utf8; 413
body-too-large (--max-body-bytes), too-many-items (--max-batch-items); 415
unsupported-media-type; 408 timeout (the body took longer than
--body-timeout); 404 not-found; 405 method-not-allowed; 431 (a request head
over 64 KiB); 503 overloaded (over --max-inflight-requests or
--max-inflight-bytes; the answer carries Retry-After: 1). Messages never
quote the request. A UTF-8 byte-order mark before the JSON is skipped.

Limits on what a client can hold: the triage requests in flight
(--max-inflight-requests) and the bytes of their bodies and answers
(--max-inflight-bytes; a body with a Content-Length reserves it before it is
read, a chunked one as it arrives) are answered 503 past the limit, at once,
rather than queued in memory; /healthz, /metrics and the page are not
counted. Open connections are capped (--max-connections): past the cap new
connections wait in the listen queue until one closes. A connection must
send its request head within --header-timeout (an idle keep-alive connection
too), and a head larger than 64 KiB is refused (431).

Privacy: one log line per request on stderr names the request id, method,
endpoint, status and latency; never the text, the query or the body.
--quiet drops those lines.

Shutdown: SIGTERM or Ctrl-C stops accepting connections, lets the requests
in flight finish, then exits 0; one that arrives while the rules are still
loading exits 0 without listening.

Exit codes: 0 stopped cleanly; 2 usage or rule error, or the address could
not be bound.

Example:
  portal-triage serve --addr 127.0.0.1:8080 &
  curl -s localhost:8080/v1/triage -H 'Content-Type: application/json' \\
       -d '{\"text\": \"my chest is crushing and my left arm is numb\"}'")]
pub struct Args {
    /// The address to listen on (loopback by default; port 0 picks a free
    /// port, printed at startup).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    addr: SocketAddr,
    #[command(flatten)]
    rules: RuleArgs,
    /// The largest request body accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = 1 << 20, value_name = "N")]
    max_body_bytes: usize,
    /// Seconds a request body may take to arrive (slower: 408).
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS", value_parser = positive_seconds)]
    body_timeout: f64,
    /// The most messages in one batch request (more: 413).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    max_batch_items: usize,
    /// The most bytes of request bodies and answers of triage requests
    /// held at once (more: 503 overloaded). At least --max-body-bytes.
    #[arg(long, default_value_t = 64 << 20, value_name = "N")]
    max_inflight_bytes: usize,
    /// The most triage requests (POST /v1/triage, /v1/triage/batch) in
    /// flight at once (more: 503 overloaded).
    #[arg(long, default_value_t = 256, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_inflight_requests: u32,
    /// The most open connections; more wait to be accepted until one
    /// closes. 1024: the usual open-file limit of a process, and far more
    /// than a portal back end's connection pool needs.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Seconds a connection may take to send a request head, and may stay
    /// idle between requests (slower: the connection is closed).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = positive_seconds)]
    header_timeout: f64,
    /// Do not log one line per request.
    #[arg(long, short)]
    quiet: bool,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err("expected a number of seconds, more than 0 and at most 86400".to_string()),
    }
}

impl Args {
    fn options(&self) -> Options {
        Options {
            addr: self.addr,
            max_body_bytes: self.max_body_bytes,
            body_timeout: Duration::from_secs_f64(self.body_timeout),
            max_batch_items: self.max_batch_items,
            max_inflight_bytes: self.max_inflight_bytes,
            max_inflight_requests: self.max_inflight_requests as usize,
            max_connections: self.max_connections as usize,
            header_timeout: Duration::from_secs_f64(self.header_timeout),
            quiet: self.quiet,
        }
    }
}

pub fn run(args: Args) -> i32 {
    let rules = args.rules.clone();
    match portal_triage_server::run(args.options(), move || rules.engine_or_report()) {
        Exit::Stopped => EXIT_OK,
        Exit::Failed => EXIT_ERROR,
    }
}
