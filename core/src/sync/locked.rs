//! A `u64` behind a critical section, for targets without 64-bit atomics:
//! what `ManualClock` keeps its time in there. Unlike the lease's split
//! words its loads take the critical section too (a clock reading cannot
//! fail closed the way a lease read can); on one core that masks interrupts
//! for a few instructions and never waits.

use core::cell::Cell;

use critical_section::Mutex;

use super::Ordering;

/// `AtomicU64`'s methods that `ManualClock` uses, each one critical section.
#[derive(Debug)]
pub(crate) struct LockedU64(Mutex<Cell<u64>>);

impl LockedU64 {
    pub(crate) const fn new(v: u64) -> Self {
        LockedU64(Mutex::new(Cell::new(v)))
    }

    pub(crate) fn load(&self, _: Ordering) -> u64 {
        critical_section::with(|cs| self.0.borrow(cs).get())
    }

    pub(crate) fn store(&self, v: u64, _: Ordering) {
        critical_section::with(|cs| self.0.borrow(cs).set(v))
    }

    /// Applies `f` to the value and stores what it returns, as one critical
    /// section; `Err(value)` (unchanged) if `f` returns `None`.
    pub(crate) fn fetch_update(
        &self,
        _: Ordering,
        _: Ordering,
        f: impl FnMut(u64) -> Option<u64>,
    ) -> Result<u64, u64> {
        let mut f = f;
        critical_section::with(|cs| {
            let cell = self.0.borrow(cs);
            let v = cell.get();
            match f(v) {
                Some(new) => {
                    cell.set(new);
                    Ok(v)
                }
                None => Err(v),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_atomic_u64() {
        let c = LockedU64::new(u64::MAX - 1);
        assert_eq!(c.load(Ordering::SeqCst), u64::MAX - 1);
        assert_eq!(
            c.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_add(1)),
            Ok(u64::MAX - 1)
        );
        assert_eq!(
            c.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_add(1)),
            Err(u64::MAX)
        );
        c.store(0x1_0000_0000, Ordering::SeqCst);
        assert_eq!(c.load(Ordering::SeqCst), 0x1_0000_0000);
    }
}
