//! What the service holds in flight, bounded: the requests to the triage
//! endpoints at once, and the bytes of their bodies and of their answers
//! (`--max-inflight-requests`, `--max-inflight-bytes`). A request over
//! either limit is answered `503 overloaded` with `Retry-After` at once,
//! instead of queueing in memory.
//!
//! A body whose `Content-Length` is known reserves its bytes before it is
//! read; a chunked body reserves as its chunks arrive. The reservation
//! lives until the answer has been handed to the connection, and grows by
//! the answer's size (the answer to a long message can be several times
//! larger than the message: one object per finding).

use super::api::{self, ApiError, Shared};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Seconds a client is asked to wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// The in-flight limits, shared by every request.
pub struct Limits {
    /// Bytes of bodies and answers held now.
    used: AtomicUsize,
    /// The most bytes held at once.
    max_bytes: usize,
    /// One permit per triage request in flight.
    requests: Arc<Semaphore>,
    max_requests: usize,
}

impl Limits {
    pub fn new(max_bytes: usize, max_requests: usize) -> Limits {
        Limits {
            used: AtomicUsize::new(0),
            max_bytes,
            requests: Arc::new(Semaphore::new(max_requests)),
            max_requests,
        }
    }

    /// Take `n` more bytes if they fit under the limit.
    fn try_take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= self.max_bytes)
            })
            .is_ok()
    }

    /// Take `n` more bytes even over the limit (an answer already built:
    /// counting it keeps new requests out until it has been sent).
    fn force_take(&self, n: usize) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Bytes taken from [`Limits`] for one request; given back when dropped.
struct Reservation {
    limits: Arc<Limits>,
    held: AtomicUsize,
}

impl Reservation {
    fn try_grow(&self, n: usize) -> bool {
        if self.limits.try_take(n) {
            self.held.fetch_add(n, Ordering::AcqRel);
            true
        } else {
            false
        }
    }

    fn force_grow(&self, n: usize) {
        self.limits.force_take(n);
        self.held.fetch_add(n, Ordering::AcqRel);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.limits.give_back(*self.held.get_mut());
    }
}

/// The error a metered request body yields when its next chunk does not
/// fit under `--max-inflight-bytes`.
#[derive(Debug)]
pub struct Overloaded;

impl std::fmt::Display for Overloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the service holds too many request bytes at once")
    }
}

impl std::error::Error for Overloaded {}

/// The 503 answer.
pub fn overloaded(what: &str) -> ApiError {
    ApiError::overloaded(format!(
        "the service is busy ({what}); retry after {RETRY_AFTER_SECONDS} s"
    ))
}

/// A request body that reserves its bytes as they arrive (past what was
/// reserved up front), up to `cap` bytes (what `read_body` keeps; the rest
/// of an over-long body is drained, not kept). When a chunk does not fit it
/// yields [`Overloaded`] once, then passes the rest through unreserved (it
/// is drained, not kept).
struct MeteredBody {
    inner: Body,
    reservation: Arc<Reservation>,
    seen: usize,
    cap: usize,
    failed: bool,
}

impl HttpBody for MeteredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                this.seen = this.seen.saturating_add(data.len());
                let kept = this.seen.min(this.cap);
                let held = this.reservation.held.load(Ordering::Acquire);
                if !this.failed && kept > held && !this.reservation.try_grow(kept - held) {
                    this.failed = true;
                    return Poll::Ready(Some(Err(axum::Error::new(Overloaded))));
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer body that holds the request's permit and reservation until
/// it has been sent (or the connection dropped it).
struct GuardedBody {
    inner: Body,
    guard: Option<(OwnedSemaphorePermit, Arc<Reservation>)>,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = &polled {
            this.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Does this request do triage work (and so count against the limits)?
fn counted(request: &Request) -> bool {
    request.method() == Method::POST
        && matches!(request.uri().path(), "/v1/triage" | "/v1/triage/batch")
}

/// The admission middleware: bounds the triage requests in flight and the
/// bytes they hold; answers the excess 503 with `Retry-After`.
pub async fn admit(State(service): State<Shared>, request: Request, next: Next) -> Response {
    if !counted(&request) {
        return next.run(request).await;
    }
    let limits = Arc::clone(&service.limits);
    let Ok(permit) = Arc::clone(&limits.requests).try_acquire_owned() else {
        let what = format!(
            "{} requests in flight, --max-inflight-requests",
            limits.max_requests
        );
        return refuse(&service, request, &what).await;
    };
    let max_body = service.body.max_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |n| {
            usize::try_from(n).unwrap_or(usize::MAX).min(max_body)
        });
    let reservation = Arc::new(Reservation {
        limits: Arc::clone(&limits),
        held: AtomicUsize::new(0),
    });
    if !reservation.try_grow(declared) {
        drop(permit);
        let what = format!(
            "{} bytes of requests in flight, --max-inflight-bytes",
            limits.max_bytes
        );
        return refuse(&service, request, &what).await;
    }
    let request = request.map(|body| {
        Body::new(MeteredBody {
            inner: body,
            reservation: Arc::clone(&reservation),
            seen: 0,
            cap: max_body,
            failed: false,
        })
    });
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    if let Some(n) = body.size_hint().exact() {
        reservation.force_grow(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if parts.status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    let body = Body::new(GuardedBody {
        inner: body,
        guard: Some((permit, reservation)),
    });
    Response::from_parts(parts, body)
}

/// Answer 503 without keeping the body: it is drained (so the client reads
/// the answer rather than a reset connection) unless the client waits for
/// `100 Continue`.
async fn refuse(service: &Shared, request: Request, what: &str) -> Response {
    let (parts, body) = request.into_parts();
    api::drain_body(&parts.headers, body, service.body).await;
    let mut response = overloaded(what).respond(service);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}
