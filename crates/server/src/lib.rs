//! [`portal_triage`] as a small local HTTP service (`portal-triage serve`), for
//! portal back ends in any language, and a demo compose page that warns the
//! patient before a message is sent.

mod api;
mod limits;
mod metrics;

use axum::Router;
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use portal_triage::Triage;
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

/// How the service listens and what it admits. [`Options::default`] gives
/// the command line's defaults.
#[derive(Debug, Clone)]
pub struct Options {
    /// The address to listen on (port 0 picks a free port, printed at
    /// startup).
    pub addr: SocketAddr,
    /// The largest request body accepted, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// How long a request body may take to arrive (slower: 408).
    pub body_timeout: Duration,
    /// The most messages in one batch request (more: 413).
    pub max_batch_items: usize,
    /// The most bytes of request bodies and answers of triage requests held
    /// at once (more: 503 overloaded). At least `max_body_bytes`.
    pub max_inflight_bytes: usize,
    /// The most triage requests in flight at once (more: 503 overloaded).
    pub max_inflight_requests: usize,
    /// The most open connections; more wait to be accepted.
    pub max_connections: usize,
    /// How long a connection may take to send a request head, and may stay
    /// idle between requests (slower: the connection is closed).
    pub header_timeout: Duration,
    /// No log line per request.
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1 << 20,
            body_timeout: Duration::from_secs(30),
            max_batch_items: 1000,
            max_inflight_bytes: 64 << 20,
            max_inflight_requests: 256,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            quiet: false,
        }
    }
}

/// How [`run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Stopped cleanly on SIGTERM or Ctrl-C (also before it listened).
    Stopped,
    /// Could not start: bad options, rules that did not load, an address
    /// that could not be bound (said on stderr).
    Failed,
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

/// Run the service until SIGTERM or Ctrl-C: load the engine with `load`
/// (on its own thread, while signals are already handled; `None` means it
/// failed and said why on stderr), listen on `options.addr`, answer, and on
/// a signal finish the requests in flight.
///
/// Options that cannot serve (`max_inflight_bytes` below `max_body_bytes`, a
/// cap or a timeout of 0) fail at once, before `load` runs.
pub fn run(options: Options, load: impl FnOnce() -> Option<Triage> + Send + 'static) -> Exit {
    let args = options;
    if args.max_inflight_bytes < args.max_body_bytes {
        eprintln!(
            "portal-triage: --max-inflight-bytes ({}) must be at least --max-body-bytes ({})",
            args.max_inflight_bytes, args.max_body_bytes
        );
        return Exit::Failed;
    }
    // The command line refuses these; a program building `Options` itself
    // could pass them, and would get a service that never admits a request.
    if args.max_inflight_requests == 0
        || args.max_connections == 0
        || args.body_timeout.is_zero()
        || args.header_timeout.is_zero()
    {
        eprintln!(
            "portal-triage: the request and connection caps and the timeouts must be more than 0"
        );
        return Exit::Failed;
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
            return Exit::Failed;
        }
    };
    let code = runtime.block_on(serve(args, load, cores));
    // A rule load abandoned on a signal may still be running on its
    // thread: do not wait for it.
    runtime.shutdown_background();
    code
}

/// Load the rules and serve until a signal; `cores` bounds the
/// classifications at once.
async fn serve(
    args: Options,
    load: impl FnOnce() -> Option<Triage> + Send + 'static,
    cores: usize,
) -> Exit {
    let mut stop = Stop::install();
    eprintln!("portal-triage: starting: loading the rules");
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(load());
    });
    let engine = tokio::select! {
        built = rx => match built {
            Ok(Some(engine)) => engine,
            _ => return Exit::Failed,
        },
        () = stop.wait() => {
            eprintln!("portal-triage: stopped before listening");
            return Exit::Stopped;
        }
    };
    let service = Arc::new(api::Service {
        rule_count: engine.rules().rules().count(),
        engine,
        metrics: metrics::Metrics::default(),
        body: api::BodyLimits {
            max_bytes: args.max_body_bytes,
            timeout: args.body_timeout,
        },
        max_batch_items: args.max_batch_items,
        classify_slots: Semaphore::new(cores),
        limits: Arc::new(limits::Limits::new(
            args.max_inflight_bytes,
            args.max_inflight_requests,
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
            return Exit::Failed;
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
        max_connections: args.max_connections,
        header_timeout: args.header_timeout,
    };
    serve_until(listener, app, conn_limits, &mut stop).await;
    eprintln!("portal-triage: stopped");
    Exit::Stopped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options a program could build but the command line refuses fail at
    /// once, without loading the rules or listening.
    #[test]
    fn options_that_cannot_serve_fail_before_loading() {
        let broken = [
            Options {
                max_inflight_requests: 0,
                ..Options::default()
            },
            Options {
                max_connections: 0,
                ..Options::default()
            },
            Options {
                body_timeout: Duration::ZERO,
                ..Options::default()
            },
            Options {
                header_timeout: Duration::ZERO,
                ..Options::default()
            },
            Options {
                max_inflight_bytes: 1,
                ..Options::default()
            },
        ];
        for options in broken {
            let loaded = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = Arc::clone(&loaded);
            let exit = run(options.clone(), move || {
                flag.store(true, Ordering::SeqCst);
                None
            });
            assert_eq!(exit, Exit::Failed, "{options:?}");
            assert!(
                !loaded.load(Ordering::SeqCst),
                "{options:?}: the rules were loaded"
            );
        }
    }
}
