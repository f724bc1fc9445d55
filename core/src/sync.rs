//! The atomics the lease protocol is written against: portable-atomic in
//! normal builds (64-bit atomics on every target, including thumbv6m and
//! thumbv7m), loom's model-checked atomics under `--cfg loom`, and in unit
//! tests a wrapper that counts every write so that a test can prove the read
//! path performs none (invariant 7).

#[cfg(all(not(loom), test))]
pub(crate) use counting::AtomicU64;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(all(not(loom), test))]
pub(crate) use portable_atomic::Ordering;
#[cfg(all(not(loom), not(test)))]
pub(crate) use portable_atomic::{AtomicU64, Ordering};

#[cfg(all(not(loom), test))]
pub(crate) mod counting {
    extern crate std;

    use core::cell::Cell;
    use portable_atomic::Ordering;

    std::thread_local! {
        static WRITES: Cell<u64> = const { Cell::new(0) };
    }

    /// Stores and read-modify-writes made by this thread so far.
    pub(crate) fn writes() -> u64 {
        WRITES.with(Cell::get)
    }

    fn count() {
        WRITES.with(|w| w.set(w.get() + 1));
    }

    /// portable-atomic's `AtomicU64`, counting every operation that writes.
    #[derive(Debug)]
    pub(crate) struct AtomicU64(portable_atomic::AtomicU64);

    impl AtomicU64 {
        pub(crate) const fn new(v: u64) -> Self {
            AtomicU64(portable_atomic::AtomicU64::new(v))
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
    }
}
