//! The per-thread work buffers one classification fills and the next one
//! on the same thread reuses.

use crate::decide::DecideWork;
use crate::scan::{Analysis, ScanWork};

/// Everything one classification fills and the next one on the same thread
/// reuses: once the buffers have grown to a message's size, classifying
/// allocates only the decision it returns.
#[derive(Default)]
pub(crate) struct Work {
    pub(crate) an: Analysis,
    pub(crate) scan: ScanWork,
    pub(crate) decide: DecideWork,
}

impl Work {
    /// Bytes held by the larger buffers (those that grow with the text).
    fn capacity(&self) -> usize {
        // The reading's word cache is bounded on its own (see `reading`).
        self.an.norm.capacity()
            + self.scan.raw.capacity()
            + self.scan.read.capacity()
            + self.an.layout.capacity()
            + (self.scan.cands.capacity() + self.scan.pass.hits.capacity()) * 12
    }
}

/// Work kept between messages is dropped past this size: a megabyte message
/// does not pin megabytes per thread.
const MAX_KEPT_WORK: usize = 4 << 20;

thread_local! {
    static WORK: std::cell::RefCell<Work> = std::cell::RefCell::default();
}

/// Run `f` with this thread's work buffers. They are taken out for the call
/// and put back after it, so a nested call (or one during thread exit) just
/// starts with empty buffers.
pub(crate) fn with_work<R>(f: impl FnOnce(&mut Work) -> R) -> R {
    let mut w = WORK
        .try_with(|cell| cell.try_borrow_mut().map(|mut w| std::mem::take(&mut *w)))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let r = f(&mut w);
    if w.capacity() <= MAX_KEPT_WORK {
        let _ = WORK.try_with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                *slot = w;
            }
        });
    }
    r
}
