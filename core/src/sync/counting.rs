//! Unit tests only: every lease word counts the writes (and critical
//! sections) this thread made, so that a test can prove the read path makes
//! none (invariant 7).

extern crate std;

use core::cell::Cell;

use super::{Inner, Ordering};

std::thread_local! {
    static WRITES: Cell<u64> = const { Cell::new(0) };
    static LOCKS: Cell<u64> = const { Cell::new(0) };
}

/// Stores and read-modify-writes made by this thread so far.
pub(crate) fn writes() -> u64 {
    WRITES.with(Cell::get)
}

/// Critical sections this thread entered for the split words so far.
pub(crate) fn locks() -> u64 {
    LOCKS.with(Cell::get)
}

/// Called by the split word on entering a critical section.
#[cfg_attr(
    not(any(leasehold_split, not(target_has_atomic = "64"))),
    allow(dead_code)
)]
pub(crate) fn note_lock() {
    LOCKS.with(|n| n.set(n.get() + 1));
}

fn count() {
    WRITES.with(|w| w.set(w.get() + 1));
}

/// The word of this build (native or split), counting every operation that
/// writes.
#[derive(Debug)]
pub(crate) struct Counting<const TORN: u64>(Inner<TORN>);

impl<const TORN: u64> Counting<TORN> {
    pub(crate) const fn new(v: u64) -> Self {
        Counting(Inner::<TORN>::new(v))
    }
    pub(crate) fn load(&self, o: Ordering) -> u64 {
        self.0.load(o)
    }
    pub(crate) fn store(&self, v: u64, o: Ordering) {
        count();
        self.0.store(v, o)
    }
    pub(crate) fn compare_exchange(
        &self,
        current: u64,
        new: u64,
        success: Ordering,
        failure: Ordering,
    ) -> Result<u64, u64> {
        count();
        self.0.compare_exchange(current, new, success, failure)
    }
    pub(crate) fn fetch_sub(&self, v: u64, o: Ordering) -> u64 {
        count();
        self.0.fetch_sub(v, o)
    }
    pub(crate) fn fetch_or(&self, v: u64, o: Ordering) -> u64 {
        count();
        self.0.fetch_or(v, o)
    }
    pub(crate) fn fetch_and(&self, v: u64, o: Ordering) -> u64 {
        count();
        self.0.fetch_and(v, o)
    }

    /// The split word itself (`--cfg leasehold_split` or 32-bit targets).
    #[cfg(any(leasehold_split, not(target_has_atomic = "64")))]
    pub(crate) fn split(&self) -> &Inner<TORN> {
        &self.0
    }
}
