//! `portal-triage serve`: the engine as a small local HTTP service, for
//! portal back ends in any language, and a demo compose page that warns the
//! patient before a message is sent.

mod api;
mod metrics;

use super::{EXIT_ERROR, EXIT_OK, RuleArgs};
use axum::Router;
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
--body-timeout); 404 not-found; 405 method-not-allowed. Messages never quote
the request. A UTF-8 byte-order mark before the JSON is skipped.

Privacy: one log line per request on stderr names the request id, method,
endpoint, status and latency; never the text, the query or the body.
--quiet drops those lines.

Shutdown: SIGTERM or Ctrl-C stops accepting connections, lets the requests
in flight finish, then exits 0.

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

/// The per-request log: ids, and lines that never carry message text.
pub struct RequestLog {
    next: AtomicU64,
    quiet: bool,
}

impl RequestLog {
    fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn line(&self, id: u64, method: &str, endpoint: &str, status: u16, elapsed: Duration) {
        if !self.quiet {
            eprintln!(
                "portal-triage: request={id} {method} {endpoint} {status} {:.3}ms",
                elapsed.as_secs_f64() * 1000.0
            );
        }
    }
}

/// The router, with its state (also what the tests of this module drive).
fn router(service: api::Shared, log: Arc<RequestLog>) -> Router {
    Router::new()
        .route("/v1/triage", post(api::triage))
        .route("/v1/triage/batch", post(api::batch))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .route("/", get(api::index))
        .route("/app.js", get(api::app_js))
        .route("/app.css", get(api::app_css))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            (Arc::clone(&service), log),
            api::observe,
        ))
        .with_state(service)
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("portal-triage: shutting down: finishing the requests in flight");
}

pub fn run(args: Args) -> i32 {
    let Some(engine) = args.rules.engine_or_report() else {
        return EXIT_ERROR;
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let service = Arc::new(api::Service {
        rule_count: engine.rules().rules().count(),
        engine,
        metrics: metrics::Metrics::default(),
        body: api::BodyLimits {
            max_bytes: args.max_body_bytes,
            timeout: Duration::from_secs_f64(args.body_timeout),
        },
        max_batch_items: args.max_batch_items,
        classify_slots: tokio::sync::Semaphore::new(cores),
    });
    let log = Arc::new(RequestLog {
        next: AtomicU64::new(0),
        quiet: args.quiet,
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portal-triage: cannot start the async runtime: {e}");
            return EXIT_ERROR;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("portal-triage: cannot listen on {}: {e}", args.addr);
                return EXIT_ERROR;
            }
        };
        let local = listener.local_addr().unwrap_or(args.addr);
        eprintln!("portal-triage: listening on http://{local}");
        if !local.ip().is_loopback() {
            eprintln!(
                "portal-triage: warning: {} is not a loopback address; put TLS and access control in front of this service",
                local.ip()
            );
        }
        let app = router(service, log);
        match axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
        {
            Ok(()) => {
                eprintln!("portal-triage: stopped");
                EXIT_OK
            }
            Err(e) => {
                eprintln!("portal-triage: the server failed: {e}");
                EXIT_ERROR
            }
        }
    })
}
