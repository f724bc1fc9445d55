//! The lease state machine: when may a leader answer a read from local state?
//!
//! # Protocol
//!
//! A [`Lease`] is two 64-bit words:
//!
//! * `ctrl`: bit 0 `WRITING` (a writer holds the lease's single write slot),
//!   bit 1 `PENDING` (an invalidation has been requested and not yet applied),
//!   bits 2.. the generation.
//! * `expiry`: the expiry instant in nanoseconds, 0 for "no lease".
//!
//! Only the holder of the write slot changes `expiry` or the generation, so an
//! extension's generation check and its store are atomic with respect to every
//! invalidation: a stamp from before an invalidation can never extend
//! (invariant 5), whatever the expiry values. The slot is taken with a
//! compare-exchange and never waited for:
//!
//! * [`Lease::extend`] that finds the slot taken returns [`Extension::Busy`]
//!   (not extending is always safe; a later round extends).
//! * [`Lease::invalidate`] never waits either: it sets `PENDING` with one
//!   atomic OR. If the slot is free it takes it and applies the invalidation
//!   (clear `expiry`, then bump the generation and clear `PENDING`); if a writer
//!   holds it, that writer applies it when it releases the slot. An extension
//!   never starts while `PENDING` is set. So invalidation wins against every
//!   concurrent extension (invariant 6), and an interrupt handler may extend
//!   or invalidate while the code it interrupted holds the slot without
//!   deadlocking.
//! * A pending invalidation never waits for the context that requested or
//!   inherited it: an applier can be preempted for any time between
//!   releasing the slot and applying (priority inversion), and until it is
//!   applied every extension would fail. So any `extend` or `invalidate`
//!   that finds `PENDING` set and the slot free finishes it. The slot's
//!   compare-exchange admits one applier, so the generation still moves
//!   exactly once per pending request.
//!
//! On targets without native 64-bit atomics (thumbv6m, thumbv7m, thumbv7em,
//! riscv32) each word is two 32-bit halves (`sync::split`): its writes run
//! inside a critical section (on one core: interrupts masked for a few dozen
//! instructions, never a wait) and its loads take nothing. A load that meets
//! a write in progress returns the word's *torn* value instead of a mix of
//! halves: `PENDING` for `ctrl`, 0 for `expiry`. Both mean "no lease", so such
//! a reader fails closed, and every other use is safe too: a stamp from a
//! torn `ctrl` is of generation 0, which can never extend again once any
//! invalidation happened; `take_slot_to_apply` only proposes a value to a
//! compare-exchange that checks it; and `extend` loads `expiry` only while it
//! holds the slot, when no write can overlap. So no lease operation spins or
//! deadlocks in an interrupt handler, whatever the final binary enables
//! (invariant 19); the binary only has to link a `critical-section` provider
//! (README, "Embedded").
//!
//! Readers ([`Lease::is_valid`], [`Lease::expiry`]) load `ctrl`, treat `PENDING`
//! as "no lease", then load `expiry`: two loads, no store, no lock, no retry
//! loop (invariant 7). A reader that observes `PENDING` cleared by the
//! invalidation's release also observes the cleared `expiry`, because the
//! applier clears `expiry` *before* publishing the new generation.
//!
//! # Memory orderings
//!
//! * Taking the slot is `Acquire` and releasing it `Release`, so each holder
//!   sees the `expiry` the previous holder wrote; `expiry` itself is then
//!   accessed `Relaxed` (it is only written under the slot).
//! * Readers load `ctrl` with `Acquire`, which keeps the `expiry` load after it
//!   and synchronises with the release that published a generation: a reader
//!   that sees the new generation cannot see the old expiry (invariant 6).
//! * [`Lease::invalidate`] sets `PENDING` with `SeqCst`. It is the
//!   linearisation point of the invalidation, but the proof above needs only
//!   coherence on `ctrl` (readers load it with `Acquire`, outside any SeqCst
//!   order), so `SeqCst` is belt and braces on a rare operation; it also keeps
//!   loom clear of its known false positives for weaker read-modify-writes.
//!
//! The generation has 62 bits; it would wrap after 2^62 invalidations, which
//! at one per nanosecond takes 146 years.
//!
//! `size_of::<Lease>()` is 16 bytes with native 64-bit atomics (two
//! `AtomicU64`) and 24 bytes with split words (a sequence number each).

use core::time::Duration;

use crate::sync::{Ordering, Word};
use crate::{Instant, Stamp};

const WRITING: u64 = 1;
const PENDING: u64 = 1 << 1;
const FLAGS: u64 = WRITING | PENDING;
const GEN_SHIFT: u32 = 2;
const GEN_ONE: u64 = 1 << GEN_SHIFT;
const MAX_GENERATION: u64 = u64::MAX >> GEN_SHIFT;

/// `ctrl`: a load that meets a write (split words only) reads as an
/// invalidation in progress in generation 0.
type Ctrl = Word<PENDING>;
/// `expiry`: a load that meets a write (split words only) reads as no lease.
type Expiry = Word<0>;

/// What [`Lease::extend`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum Extension {
    /// The expiry moved later.
    Extended,
    /// The stamp was taken before an invalidation (or one is in progress):
    /// nothing changed.
    StaleGeneration,
    /// The stamp's expiry is not later than the current one: nothing changed.
    /// Extensions never shorten a lease.
    NotLonger,
    /// `stamp + duration` does not fit in an [`Instant`]: nothing changed.
    Overflow,
    /// Another writer held the lease's write slot at that moment: nothing
    /// changed. Not extending is always safe; the next round extends.
    Busy,
}

/// A leader lease: a leader may serve reads locally while `is_valid(now)`.
///
/// `Lease` is `Sync` and allocation-free; put it in a `static` or share it by
/// reference. The read path is two atomic loads with no store; see the module
/// documentation for the protocol.
///
/// ```
/// use core::time::Duration;
/// use leasehold_core::{Extension, Instant, Lease};
///
/// static LEASE: Lease = Lease::new();
/// let t = |ms: u64| Instant::from_nanos(ms * 1_000_000).unwrap();
///
/// // Stamp *before* the quorum round (ReadIndex, heartbeat, proposal)...
/// let stamp = LEASE.stamp(t(100));
/// // ...and extend from the stamp once the quorum confirmed.
/// assert_eq!(LEASE.extend(stamp, Duration::from_millis(80)), Extension::Extended);
/// assert!(LEASE.is_valid(t(179)));
/// assert!(!LEASE.is_valid(t(180))); // strict: valid iff now < expiry
///
/// // Stepping down invalidates; the old stamp can no longer extend.
/// LEASE.invalidate();
/// assert!(!LEASE.is_valid(t(150)));
/// assert_eq!(LEASE.extend(stamp, Duration::from_millis(90)), Extension::StaleGeneration);
/// ```
#[derive(Debug)]
pub struct Lease {
    ctrl: Ctrl,
    expiry: Expiry,
}

impl Default for Lease {
    fn default() -> Self {
        Lease::new()
    }
}

impl Lease {
    /// A lease that has never been extended: invalid, generation 0.
    #[cfg(not(loom))]
    pub const fn new() -> Lease {
        Lease {
            ctrl: Ctrl::new(0),
            expiry: Expiry::new(0),
        }
    }

    /// A lease that has never been extended: invalid, generation 0.
    #[cfg(loom)]
    pub fn new() -> Lease {
        Lease {
            ctrl: Ctrl::new(0),
            expiry: Expiry::new(0),
        }
    }

    /// The current generation: it increases by one with every applied
    /// invalidation.
    ///
    /// It may lag: while an invalidation is pending it is the old one, and on
    /// targets without native 64-bit atomics a call that meets a write to the
    /// lease (made by an interrupt that preempted it, or another core) reads
    /// generation 0. Both are conservative for [`stamp`](Self::stamp); to
    /// reset a `QuorumTracker` use what [`invalidate`](Self::invalidate)
    /// returns.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.ctrl.load(Ordering::Acquire) >> GEN_SHIFT
    }

    /// A [`Stamp`] of `now` in the current generation. Take it **before** the
    /// event a quorum will confirm (invariant 4). A stamp taken while an
    /// invalidation is being applied carries the old generation and so can
    /// never extend: the conservative outcome.
    #[inline]
    pub fn stamp(&self, now: Instant) -> Stamp {
        Stamp::new(now, self.generation())
    }

    /// Whether the lease covers `now`: valid iff `now < expiry` (invariant 3).
    #[inline]
    pub fn is_valid(&self, now: Instant) -> bool {
        match self.expiry() {
            Some(expiry) => now < expiry,
            None => false,
        }
    }

    /// The expiry, or `None` if the lease was never extended, was
    /// invalidated, or an invalidation is in progress.
    #[inline]
    pub fn expiry(&self) -> Option<Instant> {
        // Acquire: the expiry load below cannot move before this one, and it
        // sees the expiry cleared by any invalidation whose release we observe.
        let ctrl = self.ctrl.load(Ordering::Acquire);
        if ctrl & PENDING != 0 {
            return None;
        }
        Instant::from_nanos(self.expiry.load(Ordering::Relaxed))
    }

    /// Extends the lease to `stamp.instant() + duration` if the stamp is of
    /// the current generation and that is later than the current expiry.
    /// Extension is monotonic and generation-gated (invariant 5); every
    /// outcome other than [`Extension::Extended`] leaves the lease unchanged.
    #[inline]
    pub fn extend(&self, stamp: Stamp, duration: Duration) -> Extension {
        self.extend_then(stamp, duration, || {})
    }

    /// [`extend`](Self::extend), running `while_held` just before the write
    /// slot is released: the hook the tests use to invalidate at exactly that
    /// point. The empty closure of `extend` compiles away.
    #[inline(always)]
    fn extend_then(
        &self,
        stamp: Stamp,
        duration: Duration,
        while_held: impl FnOnce(),
    ) -> Extension {
        let Some(new_expiry) = stamp.instant().checked_add(duration) else {
            return Extension::Overflow;
        };
        // The only `ctrl` that admits this stamp is its generation with both
        // flags clear (PENDING counts as a newer generation: the invalidation
        // has already been requested, so it must win). Expecting exactly that
        // value saves loading `ctrl` first. A generation too large to be
        // stored (only a forged stamp has one) would alias after the shift.
        if stamp.generation() > MAX_GENERATION {
            return Extension::StaleGeneration;
        }
        let idle = stamp.generation() << GEN_SHIFT;
        if let Err(ctrl) =
            self.ctrl
                .compare_exchange(idle, idle | WRITING, Ordering::Acquire, Ordering::Relaxed)
        {
            // Same generation and no invalidation requested: only WRITING
            // can differ, so another writer holds the slot.
            if ctrl & !WRITING == idle {
                return Extension::Busy;
            }
            if ctrl & FLAGS == PENDING {
                // An invalidation was requested and nobody holds the slot:
                // its applier stalled (preempted between releasing the slot
                // and applying, or between requesting and applying). Finish
                // it, so that stamps of the next generation can extend
                // without waiting for that context to run again.
                self.apply_pending();
            }
            return Extension::StaleGeneration;
        }
        // We hold the slot: nobody else writes `expiry` or the generation
        // until we release it, so the generation checked above still holds.
        let outcome = if new_expiry.as_nanos() <= self.expiry.load(Ordering::Relaxed) {
            Extension::NotLonger
        } else {
            self.expiry.store(new_expiry.as_nanos(), Ordering::Relaxed);
            Extension::Extended
        };
        while_held();
        // We hold WRITING, so subtracting it clears exactly that bit; unlike
        // fetch_and, fetch_sub returns the old value in one instruction (xadd).
        let before = self.ctrl.fetch_sub(WRITING, Ordering::Release);
        if before & PENDING != 0 {
            // An invalidation arrived while we held the slot and left it to us.
            self.apply_pending();
        }
        outcome
    }

    /// Ends the lease: afterwards `is_valid` is false for every instant and no
    /// stamp taken before this call can extend it. Wins against any
    /// concurrent extension (invariant 6). Never blocks and never fails, so it
    /// is safe to call from an interrupt handler, on every target.
    ///
    /// Returns the generation this invalidation guarantees: every stamp taken
    /// before the call is of an older one. If another context holds the write
    /// slot, [`generation`](Self::generation) reaches it only when that context
    /// releases the slot, so pass the returned value, not a fresh
    /// `generation()`, to `QuorumTracker::reset`.
    pub fn invalidate(&self) -> u64 {
        let before = self.ctrl.fetch_or(PENDING, Ordering::SeqCst);
        if before & WRITING == 0 {
            // The slot was free: apply the invalidation, or finish one that
            // is already pending but whose applier has not run yet (it may
            // be stalled for any time). Whoever takes the slot first
            // applies it; everybody else finds PENDING clear and stops.
            self.apply_pending();
        }
        // Otherwise the slot holder applies it when it releases the slot;
        // readers see PENDING until then. Either way exactly one generation
        // bump follows `before` (the slot admits one applier, and the
        // generation cannot move while PENDING is set).
        next_generation(before) >> GEN_SHIFT
    }

    /// Takes the write slot to apply a requested invalidation, if one is
    /// requested and the slot is free; returns `ctrl` as taken (with `WRITING`
    /// set).
    ///
    /// Several contexts may try to apply the same pending invalidation (the
    /// invalidator, the extender that releases the slot, and any extender or
    /// invalidator that finds it pending); the compare-exchange on `WRITING`
    /// admits exactly one, so the generation moves once per request.
    fn take_slot_to_apply(&self) -> Option<u64> {
        let mut ctrl = self.ctrl.load(Ordering::Relaxed);
        loop {
            if ctrl & PENDING == 0 || ctrl & WRITING != 0 {
                return None;
            }
            match self.ctrl.compare_exchange(
                ctrl,
                ctrl | WRITING,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(ctrl | WRITING),
                Err(current) => ctrl = current,
            }
        }
    }

    /// Applies a requested invalidation if the write slot is free. If someone
    /// else holds the slot, they apply it when they release it.
    #[cold]
    fn apply_pending(&self) {
        let Some(mut ctrl) = self.take_slot_to_apply() else {
            return;
        };
        // Clear the expiry before publishing the new generation, so that no
        // reader can see the new generation together with the old expiry.
        self.expiry.store(0, Ordering::Relaxed);
        loop {
            match self.ctrl.compare_exchange(
                ctrl,
                next_generation(ctrl),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                // Only another invalidation's OR of PENDING (already set) can
                // race us here; retry with the fresh value.
                Err(current) => ctrl = current,
            }
        }
    }
}

/// `ctrl` of the next generation, with both flags clear.
#[inline]
const fn next_generation(ctrl: u64) -> u64 {
    (ctrl & !FLAGS).wrapping_add(GEN_ONE)
}

#[cfg(feature = "defmt")]
impl defmt::Format for Lease {
    /// Formats the generation and expiry, read as [`Lease::generation`] and
    /// [`Lease::expiry`] do (two separate reads, each consistent on its own).
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Lease {{ generation: {=u64}, expiry: {} }}",
            self.generation(),
            self.expiry()
        )
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn t(n: u64) -> Instant {
        Instant::from_nanos(n).unwrap()
    }
    const D: Duration = Duration::from_nanos(100);

    #[test]
    fn starts_invalid_in_generation_zero() {
        let l = Lease::new();
        assert_eq!(l.generation(), 0);
        assert_eq!(l.expiry(), None);
        assert!(!l.is_valid(t(1)));
        assert!(!l.is_valid(t(u64::MAX)));
        assert_eq!(Lease::default().generation(), 0);
    }

    #[test]
    fn lease_is_sixteen_bytes_and_sync() {
        let words = if cfg!(any(leasehold_split, not(target_has_atomic = "64"))) {
            24
        } else {
            16
        };
        assert_eq!(core::mem::size_of::<Lease>(), words);
        fn sync<T: Sync + Send>() {}
        sync::<Lease>();
    }

    // Invariant 3.
    #[test]
    fn validity_is_strict() {
        let l = Lease::new();
        assert_eq!(l.extend(l.stamp(t(1000)), D), Extension::Extended);
        assert_eq!(l.expiry(), Some(t(1100)));
        assert!(l.is_valid(t(1)));
        assert!(l.is_valid(t(1099)));
        assert!(!l.is_valid(t(1100)), "now == expiry must be invalid");
        assert!(!l.is_valid(t(1101)));
    }

    // Invariant 5: monotonic. Historical bug: a late extension (a slow round
    // whose stamp is older) shortened a lease a faster round had extended.
    #[test]
    fn a_late_extension_never_shortens() {
        let l = Lease::new();
        let old = l.stamp(t(1000));
        let fresh = l.stamp(t(2000));
        assert_eq!(l.extend(fresh, D), Extension::Extended);
        assert_eq!(l.extend(old, D), Extension::NotLonger);
        assert_eq!(l.expiry(), Some(t(2100)));
        // Equal is not longer either.
        assert_eq!(l.extend(fresh, D), Extension::NotLonger);
        // A shorter duration from a newer stamp can still shorten nothing.
        assert_eq!(
            l.extend(l.stamp(t(2050)), Duration::from_nanos(10)),
            Extension::NotLonger
        );
        assert_eq!(l.expiry(), Some(t(2100)));
        assert_eq!(l.extend(l.stamp(t(2050)), D), Extension::Extended);
        assert_eq!(l.expiry(), Some(t(2150)));
    }

    // Invariant 5: generation-gated.
    #[test]
    fn a_stamp_from_before_invalidate_never_extends() {
        let l = Lease::new();
        let before = l.stamp(t(1000));
        l.invalidate();
        assert_eq!(l.generation(), 1);
        assert_eq!(l.extend(before, D), Extension::StaleGeneration);
        assert_eq!(l.expiry(), None);
        // Even with a much longer duration.
        assert_eq!(
            l.extend(before, Duration::from_secs(10)),
            Extension::StaleGeneration
        );
        assert_eq!(l.expiry(), None);
        // A stamp of the new generation does extend.
        assert_eq!(l.extend(l.stamp(t(1000)), D), Extension::Extended);
    }

    // Historical bug: a rollback (undoing a stale optimistic write) erased a
    // fresh lease that had the same expiry. A stale stamp must change nothing,
    // including when its expiry equals the fresh one.
    #[test]
    fn stale_stamp_with_equal_expiry_leaves_fresh_lease_alone() {
        let l = Lease::new();
        let stale = l.stamp(t(1000));
        l.invalidate();
        let fresh = l.stamp(t(1000));
        assert_eq!(l.extend(fresh, D), Extension::Extended);
        assert_eq!(l.extend(stale, D), Extension::StaleGeneration);
        assert_eq!(l.expiry(), Some(t(1100)));
        assert!(l.is_valid(t(1099)));
        assert_eq!(l.generation(), 1);
    }

    #[test]
    fn invalidate_clears_and_bumps_every_time() {
        let l = Lease::new();
        for g in 0..5u64 {
            assert_eq!(l.generation(), g);
            assert_eq!(l.extend(l.stamp(t(10)), D), Extension::Extended);
            assert!(l.is_valid(t(10)));
            l.invalidate();
            assert!(!l.is_valid(t(10)));
            assert_eq!(l.expiry(), None);
            assert_eq!(l.generation(), g + 1);
        }
        // Invalidating an already invalid lease still advances the generation,
        // so stamps taken before it are dead too.
        let s = l.stamp(t(10));
        l.invalidate();
        assert_eq!(l.extend(s, D), Extension::StaleGeneration);
    }

    #[test]
    fn overflow_changes_nothing() {
        let l = Lease::new();
        assert_eq!(l.extend(l.stamp(t(1)), D), Extension::Extended);
        assert_eq!(l.extend(l.stamp(t(u64::MAX)), D), Extension::Overflow);
        assert_eq!(l.extend(l.stamp(t(2)), Duration::MAX), Extension::Overflow);
        assert_eq!(l.expiry(), Some(t(101)));
        // The exact top of the range is fine.
        assert_eq!(l.extend(l.stamp(t(u64::MAX - 100)), D), Extension::Extended);
        assert_eq!(l.expiry(), Some(t(u64::MAX)));
        assert!(!l.is_valid(t(u64::MAX)));
    }

    #[test]
    fn a_stamp_of_a_future_generation_does_not_extend() {
        let l = Lease::new();
        let forged = Stamp::new(t(5), 7);
        assert_eq!(l.extend(forged, D), Extension::StaleGeneration);
        assert_eq!(l.expiry(), None);
        // Generations beyond the 62 stored bits must not alias generation 0
        // (2^62 << 2 wraps to 0).
        for g in [1 << 62, 3 << 62, u64::MAX] {
            assert_eq!(l.extend(Stamp::new(t(5), g), D), Extension::StaleGeneration);
        }
        assert_eq!(l.expiry(), None);
    }

    // The largest storable generation is a generation like any other.
    #[test]
    fn the_last_generation_still_extends() {
        let l = Lease::new();
        l.ctrl.store(MAX_GENERATION << GEN_SHIFT, Ordering::SeqCst);
        assert_eq!(l.generation(), MAX_GENERATION);
        let s = l.stamp(t(5));
        assert_eq!(l.extend(s, D), Extension::Extended);
        assert_eq!(l.expiry(), Some(t(105)));
    }

    // The interleavings below are among those loom explores
    // (tests/loom_lease.rs); here they are driven by hand through the private
    // words so that they run in every `cargo test`.

    // An invalidation that arrives while an extender holds the slot is applied
    // by the extender on release: the extension does not survive it.
    #[test]
    fn invalidation_during_an_extension_is_applied_on_release() {
        let l = Lease::new();
        assert_eq!(l.extend(l.stamp(t(10)), D), Extension::Extended);
        let stamp = l.stamp(t(400));
        let mut promised = None;
        let r = l.extend_then(stamp, D, || {
            // The extender has written its expiry and still holds the slot.
            promised = Some(l.invalidate());
            // Readers already see no lease; stamps are of the old generation.
            assert!(!l.is_valid(t(10)));
            assert_eq!(l.expiry(), None);
            assert_eq!(l.generation(), 0);
            // A second extender refuses while the invalidation is pending.
            assert_eq!(l.extend(l.stamp(t(20)), D), Extension::StaleGeneration);
        });
        // The extension happened, and was then undone by the invalidation
        // that the extender applied when it released the slot.
        assert_eq!(r, Extension::Extended);
        assert_eq!(l.generation(), 1);
        assert_eq!(promised, Some(1));
        assert_eq!(l.expiry(), None);
        assert!(!l.is_valid(t(10)));
        assert_eq!(l.extend(stamp, D), Extension::StaleGeneration);
        // Nothing is left pending or held.
        assert_eq!(l.ctrl.load(Ordering::SeqCst) & FLAGS, 0);
    }

    // A step-down while another context holds the slot: the tracker reset
    // must use the generation invalidate() promises, or acks stamped before
    // the step-down would count again.
    #[test]
    fn tracker_reset_during_a_held_slot_keeps_old_acks_out() {
        use crate::QuorumTracker;
        let l = Lease::new();
        let mut tracker = QuorumTracker::<3>::new(1);
        tracker.set_membership(&[1, 2, 3], &[]).unwrap();
        let old = l.stamp(t(100));
        let _ = l.extend_then(l.stamp(t(50)), D, || {
            tracker.reset(l.invalidate());
        });
        assert_eq!(tracker.record_ack(1, old), Ok(None));
        assert_eq!(tracker.record_ack(2, old), Ok(None));
        assert_eq!(tracker.quorum_stamp(), None);
    }

    // Invariant 7: the read path performs no store (and so takes no lock).
    #[test]
    fn reads_write_nothing() {
        use crate::sync::counting::{locks, writes};
        let l = Lease::new();
        assert_eq!(l.extend(l.stamp(t(10)), D), Extension::Extended);
        let (before, locked) = (writes(), locks());
        for n in 1..1_000 {
            let _ = l.is_valid(t(n));
            let _ = l.expiry();
            let _ = l.generation();
            let _ = l.stamp(t(n));
        }
        assert_eq!(writes(), before, "a read path wrote to the lease");
        // With split words (`--cfg leasehold_split`, 32-bit targets) writes
        // take a critical section; reads never do.
        assert_eq!(locks(), locked, "a read path took a critical section");
        // The counter does see writes.
        let _ = l.extend(l.stamp(t(20)), D);
        assert!(writes() > before);
    }

    #[test]
    fn invalidate_returns_the_generation_it_guarantees() {
        let l = Lease::new();
        assert_eq!(l.invalidate(), 1);
        assert_eq!(l.generation(), 1);
        // Two invalidations during one held slot merge into one bump, and
        // both promise exactly that generation.
        let mut promised = [0; 2];
        let _ = l.extend_then(l.stamp(t(5)), D, || {
            promised = [l.invalidate(), l.invalidate()];
        });
        assert_eq!(promised, [2, 2]);
        assert_eq!(l.generation(), 2);
    }

    #[test]
    fn a_second_writer_is_turned_away_not_blocked() {
        let l = Lease::new();
        l.ctrl.fetch_or(WRITING, Ordering::SeqCst);
        assert_eq!(l.extend(l.stamp(t(10)), D), Extension::Busy);
        l.ctrl.fetch_and(!WRITING, Ordering::SeqCst);
        assert_eq!(l.expiry(), None);
        assert_eq!(l.extend(l.stamp(t(10)), D), Extension::Extended);
    }

    // Stop an invalidation between its two steps and look: readers must see
    // no lease already. (The historical bug of publishing the new generation
    // before clearing the expiry is caught by tests/loom_lease.rs.)
    #[test]
    fn readers_see_no_lease_while_an_invalidation_is_applied() {
        let l = Lease::new();
        assert_eq!(l.extend(l.stamp(t(10)), D), Extension::Extended);
        // First half of invalidate(): request it, take the slot.
        l.ctrl.fetch_or(PENDING | WRITING, Ordering::SeqCst);
        // Readers during the invalidation see no lease and the old generation.
        assert_eq!(l.generation(), 0);
        assert_eq!(l.expiry(), None);
        // Second half, as apply_pending does it.
        l.ctrl.fetch_and(!WRITING, Ordering::SeqCst);
        l.apply_pending();
        assert_eq!(l.generation(), 1);
        assert_eq!(l.expiry(), None);
        assert_eq!(l.expiry.load(Ordering::SeqCst), 0);
    }

    // Issue 9, item 7b: a context stalled after requesting an invalidation
    // (or after releasing the slot with one pending) must not keep the lease
    // unextendable until it runs again. Here the stall is made by hand: the
    // first half of `invalidate` (PENDING set, slot free) without the second.
    #[test]
    fn a_stalled_invalidation_is_finished_by_the_next_extend() {
        let l = Lease::new();
        assert_eq!(l.extend(l.stamp(t(10)), D), Extension::Extended);
        let before = l.ctrl.fetch_or(PENDING, Ordering::SeqCst);
        let promised = next_generation(before) >> GEN_SHIFT;
        assert_eq!(l.expiry(), None, "readers see the request at once");
        // A stamp taken now is of the old generation; the extend that finds
        // the invalidation pending applies it and refuses the stamp.
        let old = l.stamp(t(20));
        assert_eq!(l.extend(old, D), Extension::StaleGeneration);
        assert_eq!(l.generation(), promised);
        assert_eq!(l.ctrl.load(Ordering::SeqCst) & FLAGS, 0);
        // The very next stamp extends.
        assert_eq!(l.extend(l.stamp(t(30)), D), Extension::Extended);
        // The stalled context finally runs its half: the slot tells it the
        // work is done, so no second bump erases the fresh extension.
        l.apply_pending();
        assert_eq!(l.generation(), promised);
        assert_eq!(l.expiry(), Some(t(130)));
    }

    #[test]
    fn a_stalled_invalidation_is_finished_by_the_next_invalidate() {
        let l = Lease::new();
        let before = l.ctrl.fetch_or(PENDING, Ordering::SeqCst);
        let first = next_generation(before) >> GEN_SHIFT;
        // A second invalidation merges with the pending one and applies it.
        assert_eq!(l.invalidate(), first);
        assert_eq!(l.generation(), first);
        assert_eq!(l.ctrl.load(Ordering::SeqCst) & FLAGS, 0);
        assert_eq!(l.extend(l.stamp(t(30)), D), Extension::Extended);
        l.apply_pending();
        assert_eq!(l.generation(), first, "two appliers bumped the generation");
        assert_eq!(l.expiry(), Some(t(130)));
    }

    // The stalled applier is the extender that released the slot: the
    // invalidation it inherited is finished by someone else.
    #[test]
    fn an_invalidation_left_by_a_stalled_extender_is_finished_by_others() {
        let l = Lease::new();
        let mut promised = 0;
        let _ = l.extend_then(l.stamp(t(5)), D, || {
            promised = l.invalidate();
            // Release the slot the way extend does, but stall before applying.
            l.ctrl.fetch_sub(WRITING, Ordering::Release);
            assert_eq!(l.expiry(), None);
            assert_eq!(l.extend(l.stamp(t(6)), D), Extension::StaleGeneration);
            assert_eq!(l.generation(), promised);
            assert_eq!(l.extend(l.stamp(t(7)), D), Extension::Extended);
            // Retake the slot so extend_then's own release is balanced.
            l.ctrl.fetch_or(WRITING, Ordering::Acquire);
        });
        assert_eq!(l.generation(), promised);
        assert_eq!(l.expiry(), Some(t(107)));
    }

    // Split words only (`--cfg leasehold_split`, and every 32-bit target):
    // a reader that meets a write in progress (a writer on another core, or
    // the code an interrupt preempted) sees no lease and a generation that
    // cannot extend: each word's torn value fails closed.
    #[cfg(leasehold_split)]
    #[test]
    fn a_reader_that_meets_a_write_fails_closed() {
        let l = Lease::new();
        l.invalidate();
        assert_eq!(l.extend(l.stamp(t(10)), D), Extension::Extended);
        // ctrl mid-write: an invalidation in progress, in generation 0.
        l.ctrl.split().begin_write();
        assert_eq!(l.expiry(), None);
        assert!(!l.is_valid(t(20)));
        assert_eq!(l.generation(), 0);
        let torn = l.stamp(t(30));
        l.ctrl.split().end_write();
        assert_eq!(l.extend(torn, D), Extension::StaleGeneration);
        assert_eq!(l.expiry(), Some(t(110)));
        // expiry mid-write: no lease either.
        l.expiry.split().begin_write();
        assert_eq!(l.expiry(), None);
        assert!(!l.is_valid(t(20)));
        assert_eq!(l.generation(), 1, "ctrl itself reads fine");
        l.expiry.split().end_write();
        assert!(l.is_valid(t(20)));
    }

    #[test]
    fn old_stamps_hammering_from_threads_never_resurrect() {
        extern crate std;
        use std::sync::atomic::{AtomicBool, Ordering as O};
        let lease = Lease::new();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for k in 0..2u64 {
                let (lease, stop) = (&lease, &stop);
                s.spawn(move || {
                    // Every stamp is of generation 0, i.e. from before the
                    // invalidation below, with ever later instants.
                    let mut n = 1 + k;
                    while !stop.load(O::Relaxed) {
                        n += 2;
                        let _ = lease.extend(Stamp::new(t(n), 0), Duration::from_secs(1));
                    }
                });
            }
            while lease.expiry().is_none() {
                core::hint::spin_loop();
            }
            lease.invalidate();
            for _ in 0..200_000 {
                assert_eq!(lease.expiry(), None, "an old stamp resurrected the lease");
                assert!(!lease.is_valid(t(1)));
            }
            stop.store(true, O::Relaxed);
        });
        assert_eq!(lease.generation(), 1);
    }
}
