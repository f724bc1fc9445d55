//! A 64-bit event count that one interrupt handler increments and any
//! context reads, on every target (invariant 19: no 64-bit atomic here may
//! spin or deadlock in an interrupt handler, whatever the final binary
//! enables).
//!
//! With native 64-bit atomics it is an `AtomicU64`. Without them (thumbv6m,
//! thumbv7m, thumbv7em, riscv32) it is two 32-bit halves and a sequence
//! number, as in `leasehold-core`'s lease words: the increment runs inside
//! `critical_section::with` (on one core: interrupts masked for a dozen
//! instructions), so no reader on that core ever sees it half done; a read
//! takes no lock and retries only if an increment completed between its
//! first and last load, which needs the handler to run inside those few
//! instructions: at most once per timer event, so the loop ends. With
//! several cores a reader on another core may also retry while the bounded,
//! interrupt-masked increment runs there; nothing waits for a context that
//! can be preempted. (portable-atomic's 64-bit fallback is a spinlock that a
//! handler preempting its holder spins on forever, issue 11.)

cfg_if::cfg_if! {
    if #[cfg(any(leasehold_split, not(target_has_atomic = "64")))] {
        pub(crate) use split::Count64;
    } else {
        pub(crate) use native::Count64;
    }
}

#[cfg(all(target_has_atomic = "64", not(leasehold_split)))]
mod native {
    use core::sync::atomic::{AtomicU64, Ordering};

    #[derive(Debug)]
    pub(crate) struct Count64(AtomicU64);

    impl Count64 {
        pub(crate) const fn new() -> Self {
            Count64(AtomicU64::new(0))
        }

        #[inline]
        pub(crate) fn increment(&self) {
            self.0.fetch_add(1, Ordering::Release);
        }

        #[inline]
        pub(crate) fn load(&self) -> u64 {
            self.0.load(Ordering::Acquire)
        }
    }
}

#[cfg(any(leasehold_split, not(target_has_atomic = "64"), test))]
mod split {
    use core::fmt;
    use core::sync::atomic::{fence, AtomicU32, Ordering};

    pub(crate) struct Count64 {
        seq: AtomicU32,
        lo: AtomicU32,
        hi: AtomicU32,
    }

    impl Count64 {
        pub(crate) const fn new() -> Self {
            Count64 {
                seq: AtomicU32::new(0),
                lo: AtomicU32::new(0),
                hi: AtomicU32::new(0),
            }
        }

        /// Adds one, as the only writer (a seqlock write: odd, halves, even).
        #[inline]
        pub(crate) fn increment(&self) {
            critical_section::with(|_| {
                let v = self.read_locked().wrapping_add(1);
                let s = self.seq.load(Ordering::Relaxed);
                self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
                fence(Ordering::Release);
                self.lo.store(v as u32, Ordering::Relaxed);
                self.hi.store((v >> 32) as u32, Ordering::Relaxed);
                self.seq.store(s.wrapping_add(2), Ordering::Release);
            })
        }

        /// The count (`Acquire`). Takes no lock; see the module docs for why
        /// the retry ends.
        #[inline]
        pub(crate) fn load(&self) -> u64 {
            loop {
                if let Some(v) = self.try_load() {
                    return v;
                }
            }
        }

        /// One seqlock read: `None` if an increment overlapped it.
        #[inline]
        pub(crate) fn try_load(&self) -> Option<u64> {
            let s1 = self.seq.load(Ordering::Acquire);
            let lo = self.lo.load(Ordering::Relaxed);
            let hi = self.hi.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            let s2 = self.seq.load(Ordering::Relaxed);
            (s1 == s2 && s1 & 1 == 0).then_some(u64::from(hi) << 32 | u64::from(lo))
        }

        fn read_locked(&self) -> u64 {
            u64::from(self.hi.load(Ordering::Relaxed)) << 32
                | u64::from(self.lo.load(Ordering::Relaxed))
        }
    }

    impl fmt::Debug for Count64 {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&self.load(), f)
        }
    }

    #[cfg(test)]
    mod tests {
        extern crate std;

        use super::*;

        #[test]
        fn carries_into_the_high_half() {
            let c = Count64::new();
            c.lo.store(u32::MAX - 1, Ordering::Relaxed);
            c.increment();
            assert_eq!(c.load(), 0xFFFF_FFFF);
            c.increment();
            assert_eq!(c.load(), 0x1_0000_0000);
        }

        #[test]
        fn a_read_during_an_increment_is_refused_then_retried() {
            let c = Count64::new();
            c.lo.store(u32::MAX, Ordering::Relaxed);
            // An increment on another core, halfway: seq odd, low half wrapped.
            c.seq.store(1, Ordering::Relaxed);
            c.lo.store(0, Ordering::Relaxed);
            assert_eq!(c.try_load(), None);
            c.hi.store(1, Ordering::Relaxed);
            c.seq.store(2, Ordering::Release);
            assert_eq!(c.try_load(), Some(0x1_0000_0000));
        }

        // Increments racing reads from another thread across carries: reads
        // never go backwards and never see a mix of two values' halves.
        #[test]
        fn concurrent_reads_are_monotonic_across_carries() {
            use std::sync::atomic::AtomicBool;
            use std::sync::Arc;
            let c = Arc::new(Count64::new());
            c.lo.store(u32::MAX - 50_000, Ordering::Relaxed);
            let stop = Arc::new(AtomicBool::new(false));
            let writer = {
                let (c, stop) = (c.clone(), stop.clone());
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        c.increment();
                    }
                    stop.store(true, Ordering::Release);
                })
            };
            let mut prev = c.load();
            while !stop.load(Ordering::Acquire) {
                let v = c.load();
                assert!(v >= prev, "backwards: {v:#x} after {prev:#x}");
                assert!(v - prev < 1 << 31, "jumped: {v:#x} after {prev:#x}");
                prev = v;
            }
            writer.join().unwrap();
            assert_eq!(c.load(), u64::from(u32::MAX) - 50_000 + 100_000);
        }
    }
}
