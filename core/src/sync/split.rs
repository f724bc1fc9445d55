//! A 64-bit word for targets without 64-bit atomics: two 32-bit halves and a
//! sequence number. Writers run inside a critical section; readers never
//! take it, never wait and never retry: a load that meets a write fails
//! closed, returning the word's `TORN` value instead of a torn one.
//!
//! # Why not portable-atomic
//!
//! Its `AtomicU64` on thumbv7m/thumbv7em is a global table of spinning
//! seqlocks: an interrupt handler that preempts a holder spins forever
//! (issue 11; rtic-rs/rtic#1117), unless the final binary enables one of its
//! `unsafe-assume-*` modes. Here the final binary cannot get it wrong: the
//! writer's critical section comes from the `critical-section` provider the
//! binary links (without one, linking fails on the undefined
//! `_critical_section_1_0_acquire`), and a reader takes nothing at all.
//!
//! # Protocol (a seqlock whose readers give up)
//!
//! A write, inside `critical_section::with`, makes `seq` odd, stores both
//! halves and makes `seq` even again. A load reads `seq`, both halves and
//! `seq` again; if `seq` was odd or changed, a write overlapped the load and
//! the halves may belong to different values, so the load returns `TORN`.
//! The lease gives each word a `TORN` that means "no lease" (the control
//! word's is `PENDING`, the expiry's is 0), so a reader that meets a write
//! serves nothing locally: it fails closed.
//!
//! On one core a critical section masks interrupts, so an interrupt handler
//! never observes a write in progress; only code that an interrupt preempted
//! between its loads can fail closed, and only if that interrupt wrote the
//! same word. With several cores a reader on one may meet a write on another
//! and fail closed the same way; the writer's critical section (interrupts
//! masked on its own core) is bounded, so no one can wait for it forever.
//!
//! Memory orderings are those of a seqlock (H.-J. Boehm, "Can seqlocks get
//! along with programming language memory models?", 2012): the writer's odd
//! store is followed by a release fence and its even store is `Release`; the
//! reader's first `seq` load is `Acquire` and its second is preceded by an
//! acquire fence. So every load is at least `Acquire`, every write at least
//! `Release`, and read-modify-writes see the previous write because all of
//! them are ordered by the critical section. `SeqCst` adds `SeqCst` fences.
//!
//! `seq` is 32 bits: a load that is preempted for exactly a multiple of 2^31
//! writes of the same word would not notice them. At one write per
//! microsecond that is one preemption of over 35 minutes.

use core::fmt;

cfg_if::cfg_if! {
    if #[cfg(loom)] {
        use loom::sync::atomic::{fence, AtomicU32};
    } else {
        use core::sync::atomic::{fence, AtomicU32};
    }
}

use super::Ordering;

/// A 64-bit word whose loads return `TORN` when they meet a write.
pub(crate) struct SplitU64<const TORN: u64> {
    seq: AtomicU32,
    lo: AtomicU32,
    hi: AtomicU32,
    /// loom cannot see a critical section: a per-word lock models "this
    /// word's writes are mutually exclusive", which is weaker than the
    /// global critical section, so what loom proves holds for that too.
    #[cfg(loom)]
    lock: loom::sync::Mutex<()>,
}

impl<const TORN: u64> SplitU64<TORN> {
    #[cfg(not(loom))]
    pub(crate) const fn new(v: u64) -> Self {
        SplitU64 {
            seq: AtomicU32::new(0),
            lo: AtomicU32::new(v as u32),
            hi: AtomicU32::new((v >> 32) as u32),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new(v: u64) -> Self {
        SplitU64 {
            seq: AtomicU32::new(0),
            lo: AtomicU32::new(v as u32),
            hi: AtomicU32::new((v >> 32) as u32),
            lock: loom::sync::Mutex::new(()),
        }
    }

    /// The value, or `TORN` if a write overlapped the load. Never waits.
    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> u64 {
        if order == Ordering::SeqCst {
            fence(Ordering::SeqCst);
        }
        let s1 = self.seq.load(Ordering::Acquire);
        let lo = self.lo.load(Ordering::Relaxed);
        let hi = self.hi.load(Ordering::Relaxed);
        // Keeps the halves' loads before the second `seq` load.
        fence(Ordering::Acquire);
        let s2 = self.seq.load(Ordering::Relaxed);
        if s1 == s2 && s1 & 1 == 0 {
            join(lo, hi)
        } else {
            TORN
        }
    }

    pub(crate) fn store(&self, v: u64, order: Ordering) {
        self.locked(order, |w| w.write(v));
    }

    pub(crate) fn compare_exchange(
        &self,
        current: u64,
        new: u64,
        success: Ordering,
        _failure: Ordering,
    ) -> Result<u64, u64> {
        self.locked(success, |w| {
            let v = w.read_locked();
            if v == current {
                w.write(new);
                Ok(v)
            } else {
                Err(v)
            }
        })
    }

    pub(crate) fn fetch_sub(&self, d: u64, order: Ordering) -> u64 {
        self.rmw(order, |v| v.wrapping_sub(d))
    }

    pub(crate) fn fetch_or(&self, bits: u64, order: Ordering) -> u64 {
        self.rmw(order, |v| v | bits)
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn fetch_and(&self, bits: u64, order: Ordering) -> u64 {
        self.rmw(order, |v| v & bits)
    }

    fn rmw(&self, order: Ordering, f: impl FnOnce(u64) -> u64) -> u64 {
        self.locked(order, |w| {
            let v = w.read_locked();
            w.write(f(v));
            v
        })
    }

    /// Runs `f` as the only writer of this word (for the critical section's
    /// duration: a few dozen instructions with interrupts masked).
    #[inline]
    fn locked<R>(&self, order: Ordering, f: impl FnOnce(&Self) -> R) -> R {
        #[cfg(all(test, not(loom)))]
        super::counting::note_lock();
        let seq_cst = order == Ordering::SeqCst;
        #[cfg(not(loom))]
        let r = critical_section::with(|_| {
            if seq_cst {
                fence(Ordering::SeqCst);
            }
            let r = f(self);
            if seq_cst {
                fence(Ordering::SeqCst);
            }
            r
        });
        #[cfg(loom)]
        let r = {
            let _only_writer = self.lock.lock().unwrap();
            if seq_cst {
                fence(Ordering::SeqCst);
            }
            let r = f(self);
            if seq_cst {
                fence(Ordering::SeqCst);
            }
            r
        };
        r
    }

    /// The value, read by the only writer: no write can overlap.
    fn read_locked(&self) -> u64 {
        join(
            self.lo.load(Ordering::Relaxed),
            self.hi.load(Ordering::Relaxed),
        )
    }

    /// Stores `v`, by the only writer.
    fn write(&self, v: u64) {
        let s = self.seq.load(Ordering::Relaxed);
        self.seq.store(s.wrapping_add(1), Ordering::Relaxed);
        // Keeps the halves' stores after the odd `seq`.
        fence(Ordering::Release);
        self.lo.store(v as u32, Ordering::Relaxed);
        self.hi.store((v >> 32) as u32, Ordering::Relaxed);
        self.seq.store(s.wrapping_add(2), Ordering::Release);
    }
}

#[cfg(all(test, not(loom), any(leasehold_split, not(target_has_atomic = "64"))))]
impl<const TORN: u64> SplitU64<TORN> {
    /// Leaves the word as a writer preempted halfway (on another core)
    /// would: `seq` odd until [`end_write`](Self::end_write).
    pub(crate) fn begin_write(&self) {
        self.seq.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn end_write(&self) {
        self.seq.fetch_add(1, Ordering::Release);
    }
}

fn join(lo: u32, hi: u32) -> u64 {
    u64::from(hi) << 32 | u64::from(lo)
}

impl<const TORN: u64> fmt::Debug for SplitU64<TORN> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.load(Ordering::Acquire), f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const TORN: u64 = 0xDEAD;

    #[test]
    fn values_round_trip_across_the_halves() {
        let w = SplitU64::<TORN>::new(0xFFFF_FFFF);
        assert_eq!(w.load(Ordering::Relaxed), 0xFFFF_FFFF);
        assert_eq!(w.fetch_or(1 << 32, Ordering::SeqCst), 0xFFFF_FFFF);
        assert_eq!(w.load(Ordering::Acquire), 0x1_FFFF_FFFF);
        assert_eq!(w.fetch_sub(0x1_0000_0000, Ordering::Release), 0x1_FFFF_FFFF);
        assert_eq!(w.fetch_and(0xFF, Ordering::Relaxed), 0xFFFF_FFFF);
        assert_eq!(
            w.compare_exchange(1, 2, Ordering::Acquire, Ordering::Relaxed),
            Err(0xFF)
        );
        assert_eq!(
            w.compare_exchange(0xFF, u64::MAX, Ordering::Acquire, Ordering::Relaxed),
            Ok(0xFF)
        );
        assert_eq!(w.load(Ordering::SeqCst), u64::MAX);
        w.store(0x1_0000_0000, Ordering::Relaxed);
        assert_eq!(w.load(Ordering::Relaxed), 0x1_0000_0000);
        // The sequence number wraps without a false alarm.
        w.seq.store(u32::MAX - 1, Ordering::Relaxed);
        w.store(7, Ordering::Relaxed);
        assert_eq!(w.seq.load(Ordering::Relaxed), 0);
        assert_eq!(w.load(Ordering::Relaxed), 7);
    }

    // A load that meets a write in progress (the state an interrupted
    // writer on another core leaves) fails closed.
    #[test]
    fn a_load_during_a_write_is_torn() {
        let w = SplitU64::<TORN>::new(0x1_FFFF_FFFF);
        // The writer made `seq` odd and stored one half of 0x2_0000_0000.
        w.seq.store(1, Ordering::Relaxed);
        w.lo.store(0, Ordering::Relaxed);
        assert_eq!(w.load(Ordering::Acquire), TORN);
        w.hi.store(2, Ordering::Relaxed);
        w.seq.store(2, Ordering::Release);
        assert_eq!(w.load(Ordering::Acquire), 0x2_0000_0000);
    }

    // Writes racing loads from another thread: a load sees one of the values
    // whole, or TORN, never a mix of two values' halves.
    #[test]
    fn concurrent_loads_see_whole_values_or_torn() {
        extern crate std;
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let a = 0x0000_0001_FFFF_FFFFu64;
        let b = 0x0000_0002_0000_0000u64;
        let w = Arc::new(SplitU64::<TORN>::new(a));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (w, stop) = (w.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    w.store(if n.is_multiple_of(2) { b } else { a }, Ordering::Release);
                    n += 1;
                }
            })
        };
        let (mut torn, mut whole) = (0u32, 0u32);
        for _ in 0..2_000_000 {
            match w.load(Ordering::Acquire) {
                TORN => torn += 1,
                v if v == a || v == b => whole += 1,
                v => panic!("mixed halves: {v:#x}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert!(whole > 0);
        std::println!("torn {torn}, whole {whole}");
    }

    #[test]
    fn loads_take_no_lock_and_writes_do() {
        use super::super::counting::locks;
        let w = SplitU64::<TORN>::new(5);
        let before = locks();
        for _ in 0..100 {
            assert_eq!(w.load(Ordering::Acquire), 5);
        }
        assert_eq!(locks(), before);
        w.store(6, Ordering::Relaxed);
        let _ = w.fetch_or(1, Ordering::SeqCst);
        let _ = w.compare_exchange(7, 8, Ordering::Acquire, Ordering::Relaxed);
        assert_eq!(locks(), before + 3);
    }
}
