//! `portal-triage serve`: the engine as a small local HTTP service, for
//! portal back ends in any language, and a demo compose page that warns the
//! patient before a message is sent.

mod api;
mod limits;
mod metrics;

use super::{EXIT_ERROR, EXIT_OK, RuleArgs};
use axum::Router;
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// hyper's read buffer limit, in bytes: a request head (request line and
/// headers) still incomplete once the buffer holds this much is refused
/// with 431, so no head over twice this (64 KiB) is accepted; bounds what
/// a connection that is still sending its head can hold.
const MAX_HEAD_BYTES: usize = 32 << 10;

/// The listen queue: connections past --max-connections wait here (the
/// kernel caps it at net.core.somaxconn); the standard library's 128 fills
/// at once under a burst, and a client whose connection attempt is dropped
/// retries only after 1, 3, 7 s.
const LISTEN_BACKLOG: u32 = 1024;

/// Bind `addr` and listen, with [`LISTEN_BACKLOG`].
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

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
            Arc::clone(&service),
            limits::admit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            (Arc::clone(&service), log),
            api::observe,
        ))
        .with_state(service)
}

/// SIGTERM and Ctrl-C (SIGINT), listened to from the moment this is
/// made: a signal that arrives while the rules load is not lost (nor does
/// it kill the process, as the default action would).
struct Stop {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Stop {
    /// Install the handlers (inside the runtime).
    fn install() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Stop {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        Stop {}
    }

    /// Resolves on the first SIGTERM or SIGINT.
    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.term) => {},
                () = recv(&mut self.int) => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// How connections are accepted and read.
struct ConnLimits {
    max_connections: usize,
    header_timeout: Duration,
}

/// Accept connections until `stop`, at most `max_connections` open at
/// once (past it, new ones wait in the listen queue), each served by
/// hyper's HTTP/1.1 with a header-read timeout; then stop accepting, let
/// the requests in flight finish, and return.
async fn serve_until(
    mut listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnLimits,
    stop: &mut Stop,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let stopped = stop.wait();
    tokio::pin!(stopped);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&open).acquire_owned() => slot,
            () = &mut stopped => break,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let stream = tokio::select! {
            // Retries on errors itself (and sleeps on EMFILE).
            (stream, _) = axum::serve::Listener::accept(&mut listener) => stream,
            () = &mut stopped => break,
        };
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A connection error (a reset, a header timeout) ends only
            // that connection.
            let _ = conn.await;
            drop(slot);
        });
    }
    eprintln!("portal-triage: shutting down: finishing the requests in flight");
    drop(listener);
    graceful.shutdown().await;
}

pub fn run(args: Args) -> i32 {
    if args.max_inflight_bytes < args.max_body_bytes {
        eprintln!(
            "portal-triage: --max-inflight-bytes ({}) must be at least --max-body-bytes ({})",
            args.max_inflight_bytes, args.max_body_bytes
        );
        return EXIT_ERROR;
    }
    // The runtime and the signal handlers first: a SIGTERM at any moment
    // from here on stops the service cleanly (exit 0), even while the rules
    // are still loading.
    // Blocking threads: only the classification of long texts and batches
    // uses them, one job per core at a time (a semaphore); more threads
    // would only mean more malloc arenas holding freed memory.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(cores)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portal-triage: cannot start the async runtime: {e}");
            return EXIT_ERROR;
        }
    };
    let code = runtime.block_on(serve(args, cores));
    // A rule load abandoned on a signal may still be running on its
    // thread: do not wait for it.
    runtime.shutdown_background();
    code
}

/// Load the rules and serve until a signal; `cores` bounds the
/// classifications at once.
async fn serve(args: Args, cores: usize) -> i32 {
    let mut stop = Stop::install();
    eprintln!("portal-triage: starting: loading the rules");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let rules = args.rules;
    std::thread::spawn(move || {
        let _ = tx.send(rules.engine_or_report());
    });
    let engine = tokio::select! {
        built = rx => match built {
            Ok(Some(engine)) => engine,
            _ => return EXIT_ERROR,
        },
        () = stop.wait() => {
            eprintln!("portal-triage: stopped before listening");
            return EXIT_OK;
        }
    };
    let service = Arc::new(api::Service {
        rule_count: engine.rules().rules().count(),
        engine,
        metrics: metrics::Metrics::default(),
        body: api::BodyLimits {
            max_bytes: args.max_body_bytes,
            timeout: Duration::from_secs_f64(args.body_timeout),
        },
        max_batch_items: args.max_batch_items,
        classify_slots: Semaphore::new(cores),
        limits: Arc::new(limits::Limits::new(
            args.max_inflight_bytes,
            args.max_inflight_requests as usize,
        )),
    });
    let log = Arc::new(RequestLog {
        next: AtomicU64::new(0),
        quiet: args.quiet,
    });
    let listener = match listen(args.addr) {
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
    let conn_limits = ConnLimits {
        max_connections: args.max_connections as usize,
        header_timeout: Duration::from_secs_f64(args.header_timeout),
    };
    serve_until(listener, app, conn_limits, &mut stop).await;
    eprintln!("portal-triage: stopped");
    EXIT_OK
}
