//! Turning a lease and a clock reading into a way to serve one read.
//!
//! A read is served either locally, under the lease, or through a quorum
//! round (raft's ReadIndex) whose success extends the lease from a stamp
//! taken before the round started. The caller owns the I/O: these functions
//! only decide, and update the lease.
//!
//! ```
//! use core::time::Duration;
//! use leasehold_core::{
//!     finish_round, plan_read, read_local, Clock, Extension, Instant, Lease, LeadershipLoss,
//!     ManualClock, ReadPlan, RoundOutcome,
//! };
//!
//! #[derive(Debug)]
//! enum RaftError { NotLeader, Timeout }
//! impl LeadershipLoss for RaftError {
//!     fn is_leadership_loss(&self) -> bool { matches!(self, RaftError::NotLeader) }
//! }
//!
//! let clock = ManualClock::new(Instant::from_nanos(1_000_000).unwrap());
//! let lease = Lease::new();
//! let lease_duration = Duration::from_millis(80);
//! let state = 42; // the replicated state machine
//!
//! // No lease yet: the plan is a quorum read, stamped before it starts.
//! let ReadPlan::Quorum(stamp) = plan_read(&lease, clock.now()) else { unreachable!() };
//! clock.advance(Duration::from_millis(3)); // the ReadIndex round trip
//! let round: Result<(), RaftError> = Ok(());
//! assert_eq!(
//!     finish_round(&lease, stamp, &round, lease_duration),
//!     RoundOutcome::Extension(Extension::Extended)
//! );
//!
//! // Now reads are local; the lease is checked again after the read.
//! assert_eq!(read_local(&lease, &clock, || state), Ok(42));
//!
//! // A timeout leaves the lease alone; losing leadership ends it.
//! let timeout: Result<(), RaftError> = Err(RaftError::Timeout);
//! assert_eq!(finish_round(&lease, None, &timeout, lease_duration), RoundOutcome::Unchanged);
//! assert!(read_local(&lease, &clock, || state).is_ok());
//! let lost: Result<(), RaftError> = Err(RaftError::NotLeader);
//! assert_eq!(
//!     finish_round(&lease, None, &lost, lease_duration),
//!     RoundOutcome::Invalidated { generation: 1 }
//! );
//! assert!(read_local(&lease, &clock, || state).is_err());
//! ```

use core::time::Duration;

use crate::{Clock, ClockError, Extension, Instant, Lease, Safeguards, Stamp};

/// Lets [`finish_round`] tell which errors mean the node may have lost
/// leadership (invariant 11).
///
/// Only those invalidate the lease. A write conflict, a timeout or a dropped
/// message says nothing about who leads, and invalidating on them would keep
/// the lease cold.
pub trait LeadershipLoss {
    /// True if the node may no longer be the leader of the term its lease was
    /// granted in (not leader, stepped down, term changed, transfer started).
    fn is_leadership_loss(&self) -> bool;
}

/// How to serve one read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum ReadPlan {
    /// The lease covers the reading: read local state, then confirm with
    /// [`read_local`] (or a second check) before answering (invariant 12).
    Local,
    /// Do a quorum read (ReadIndex). When it succeeds, pass this stamp to
    /// [`finish_round`] to extend the lease. `None` when the clock read
    /// failed: the quorum read still serves the read, but nothing extends.
    Quorum(Option<Stamp>),
}

/// Why [`read_local`] did not return the local value, and the stamp to run
/// the quorum read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuorumNeeded {
    /// Taken before the quorum read starts; `None` if the clock failed.
    pub stamp: Option<Stamp>,
}

/// What [`finish_round`] did to the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum RoundOutcome {
    /// The round succeeded; this is what [`Lease::extend`] did.
    Extension(Extension),
    /// The round succeeded but had no stamp (the clock had failed): nothing
    /// was extended.
    NoStamp,
    /// The round failed with a leadership loss: the lease was invalidated.
    /// `generation` is what [`Lease::invalidate`] returned: pass it to
    /// `QuorumTracker::reset`.
    Invalidated {
        /// The generation the invalidation guarantees.
        generation: u64,
    },
    /// The round failed for another reason: the lease was left alone.
    Unchanged,
    /// The round succeeded but the lease driver does not extend now (not
    /// leader, no entry of its term applied yet, or a transfer suspended the
    /// lease; see `LeaseDriver::finish_read_index`). [`finish_round`] never
    /// returns it.
    Withheld,
}

/// Decides how to serve a read from the lease and a clock reading taken now.
///
/// A failed reading is never a time (invariant 1): it always plans a quorum
/// read, without a stamp, however valid the lease was, and it ends the
/// lease. A clock that fails may also have stopped counting while it failed
/// (a timer that reports "not started", a source that was reset), and then
/// the lease would outlive its promises in true time when the clock comes
/// back; the reader that meets the failure may be the only context that
/// ever sees it. The invalidation is a store on the error path only: a read
/// with a working clock still stores nothing (invariant 7).
pub fn plan_read(lease: &Lease, now: Result<Instant, ClockError>) -> ReadPlan {
    plan(lease, now, &Safeguards::ALL)
}

/// [`plan_read`] with the checks `checks` switches on (the lease driver
/// passes its own: all of them, except in a negative control).
fn plan(lease: &Lease, now: Result<Instant, ClockError>, checks: &Safeguards) -> ReadPlan {
    match now {
        Ok(now) if lease.is_valid(now) => ReadPlan::Local,
        Ok(now) => ReadPlan::Quorum(Some(lease.stamp(now))),
        Err(_) => {
            if checks.clock_error_invalidates {
                let _: u64 = lease.invalidate();
            }
            ReadPlan::Quorum(None)
        }
    }
}

/// Serves a read locally if the lease covers it, validating **after** the
/// read (invariant 12).
///
/// `read` takes the local snapshot. The lease is checked with a reading taken
/// before it (to skip pointless work) and again with a fresh reading taken
/// after it; the value is returned only if the lease was still valid then, so
/// a pause between the check and the read cannot serve data that another
/// leader may already have overwritten. Otherwise the value is dropped and the
/// caller does a quorum read with the returned stamp.
pub fn read_local<C, T>(
    lease: &Lease,
    clock: &C,
    read: impl FnOnce() -> T,
) -> Result<T, QuorumNeeded>
where
    C: Clock + ?Sized,
{
    read_local_checked(lease, clock, read, &Safeguards::ALL)
}

/// [`read_local`] with the checks `checks` switches on.
pub(crate) fn read_local_checked<C, T>(
    lease: &Lease,
    clock: &C,
    read: impl FnOnce() -> T,
    checks: &Safeguards,
) -> Result<T, QuorumNeeded>
where
    C: Clock + ?Sized,
{
    if let ReadPlan::Quorum(stamp) = plan(lease, clock.now(), checks) {
        return Err(QuorumNeeded { stamp });
    }
    let value = read();
    if !checks.validate_after_read {
        return Ok(value);
    }
    match plan(lease, clock.now(), checks) {
        ReadPlan::Local => Ok(value),
        ReadPlan::Quorum(stamp) => Err(QuorumNeeded { stamp }),
    }
}

/// Settles the lease after a quorum round (a ReadIndex, or a proposal) that
/// was started after `stamp` was taken.
///
/// * Success extends the lease to `stamp + lease_duration`, based on the
///   instant and generation taken **before** the round (invariant 4). A
///   proposal counts as success only once committed (invariant 11).
/// * A [leadership loss](LeadershipLoss) invalidates the lease.
/// * Any other error leaves it alone.
pub fn finish_round<T, E: LeadershipLoss>(
    lease: &Lease,
    stamp: Option<Stamp>,
    result: &Result<T, E>,
    lease_duration: Duration,
) -> RoundOutcome {
    match result {
        Ok(_) => match stamp {
            Some(stamp) => RoundOutcome::Extension(lease.extend(stamp, lease_duration)),
            None => RoundOutcome::NoStamp,
        },
        Err(e) if e.is_leadership_loss() => {
            let generation = lease.invalidate();
            RoundOutcome::Invalidated { generation }
        }
        Err(_) => RoundOutcome::Unchanged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use core::cell::Cell;

    #[derive(Debug)]
    enum Err_ {
        NotLeader,
        Conflict,
        Timeout,
    }
    impl LeadershipLoss for Err_ {
        fn is_leadership_loss(&self) -> bool {
            matches!(self, Err_::NotLeader)
        }
    }

    fn t(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000).unwrap()
    }
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }
    const LEASE: Duration = Duration::from_millis(80);
    const OK: Result<(), Err_> = Ok(());

    /// A lease extended at `at` for `LEASE`.
    fn leased(at: u64) -> Lease {
        let l = Lease::new();
        assert_eq!(l.extend(l.stamp(t(at)), LEASE), Extension::Extended);
        l
    }

    #[test]
    fn plan_is_local_only_strictly_inside_the_lease() {
        let l = leased(100);
        assert_eq!(plan_read(&l, Ok(t(179))), ReadPlan::Local);
        assert_eq!(
            plan_read(&l, Ok(t(180))),
            ReadPlan::Quorum(Some(l.stamp(t(180))))
        );
    }

    // Historical bug: a failed clock read treated as a valid time (zero, or
    // the last reading) kept serving locally.
    #[test]
    fn a_failed_clock_read_never_serves_locally_and_never_stamps() {
        let l = leased(100);
        for err in [
            ClockError::Os(5),
            ClockError::NotStarted,
            ClockError::OutOfRange,
        ] {
            assert_eq!(plan_read(&l, Err(err)), ReadPlan::Quorum(None));
        }
        let clock = ManualClock::new(t(120));
        clock.fail_with(ClockError::Os(22));
        let read = Cell::new(false);
        assert_eq!(
            read_local(&l, &clock, || read.set(true)),
            Err(QuorumNeeded { stamp: None })
        );
        assert!(!read.get(), "no local read without a valid time");
        // No stamp, so a successful round cannot extend from a made-up time.
        assert_eq!(finish_round(&l, None, &OK, LEASE), RoundOutcome::NoStamp);
        // The failure ended the lease: the clock may have stopped while it
        // failed, and a reading after it recovers would run behind.
        assert_eq!(l.expiry(), None);
        let before = l.generation();
        clock.recover();
        assert!(read_local(&l, &clock, || ()).is_err());
        assert_eq!(l.generation(), before, "a working clock stores nothing");
    }

    // Invariant 12: a pause between the check and the read must not serve
    // data read after the lease ran out.
    #[test]
    fn read_local_validates_after_the_snapshot() {
        let l = leased(100);
        let clock = ManualClock::new(t(170));
        let r = read_local(&l, &clock, || {
            // The process is paused for 20 ms while reading.
            clock.advance(ms(20));
            "snapshot"
        });
        assert_eq!(
            r,
            Err(QuorumNeeded {
                stamp: Some(l.stamp(t(190)))
            })
        );
        // Without a pause the read is served.
        clock.set(t(170));
        assert_eq!(read_local(&l, &clock, || "snapshot"), Ok("snapshot"));
    }

    #[test]
    fn read_local_clock_failing_after_the_snapshot_refuses() {
        let l = leased(100);
        let clock = ManualClock::new(t(150));
        let r = read_local(&l, &clock, || clock.fail_with(ClockError::Os(4)));
        assert_eq!(r, Err(QuorumNeeded { stamp: None }));
    }

    #[test]
    fn read_local_invalidated_during_the_read_refuses() {
        let l = leased(100);
        let clock = ManualClock::new(t(150));
        let r = read_local(&l, &clock, || l.invalidate());
        assert_eq!(
            r,
            Err(QuorumNeeded {
                stamp: Some(Stamp::new(t(150), 1))
            })
        );
    }

    #[test]
    fn read_local_does_not_read_when_the_lease_is_already_gone() {
        let l = leased(100);
        let clock = ManualClock::new(t(200));
        let read = Cell::new(false);
        assert!(read_local(&l, &clock, || read.set(true)).is_err());
        assert!(!read.get());
    }

    // Historical bug: the extension was based on the time the round finished,
    // not on the stamp taken before it started (invariant 4).
    #[test]
    fn extension_is_based_on_the_stamp_before_the_round() {
        let l = Lease::new();
        let clock = ManualClock::new(t(100));
        let ReadPlan::Quorum(stamp) = plan_read(&l, clock.now()) else {
            panic!("no lease yet")
        };
        clock.advance(ms(30)); // the round takes 30 ms
        assert_eq!(
            finish_round(&l, stamp, &OK, LEASE),
            RoundOutcome::Extension(Extension::Extended)
        );
        assert_eq!(
            l.expiry(),
            Some(t(180)),
            "not 210: the round's own time is not leased"
        );
    }

    // Historical bug: the generation was sampled when the round finished, so a
    // step-down (and re-election) during the round did not stop the extension.
    #[test]
    fn invalidation_during_the_round_stops_its_extension() {
        let l = leased(100);
        let clock = ManualClock::new(t(200));
        let ReadPlan::Quorum(stamp) = plan_read(&l, clock.now()) else {
            panic!("lease expired at 180")
        };
        // During the round the node steps down (and may even win again).
        l.invalidate();
        assert_eq!(
            finish_round(&l, stamp, &OK, LEASE),
            RoundOutcome::Extension(Extension::StaleGeneration)
        );
        assert_eq!(l.expiry(), None);
    }

    // Historical bug: every error invalidated, so the lease was always cold.
    #[test]
    fn only_leadership_loss_invalidates() {
        let l = leased(100);
        for e in [Err_::Conflict, Err_::Timeout] {
            let r: Result<(), Err_> = Err(e);
            assert_eq!(
                finish_round(&l, Some(l.stamp(t(150))), &r, LEASE),
                RoundOutcome::Unchanged
            );
            assert_eq!(l.expiry(), Some(t(180)));
            assert_eq!(l.generation(), 0);
        }
        let r: Result<(), Err_> = Err(Err_::NotLeader);
        assert_eq!(
            finish_round(&l, Some(l.stamp(t(150))), &r, LEASE),
            RoundOutcome::Invalidated { generation: 1 }
        );
        assert_eq!(l.expiry(), None);
        assert_eq!(l.generation(), 1);
    }

    // Only a successful (committed) round extends.
    #[test]
    fn failed_rounds_never_extend() {
        let l = Lease::new();
        let stamp = Some(l.stamp(t(100)));
        for e in [Err_::Conflict, Err_::Timeout, Err_::NotLeader] {
            let r: Result<(), Err_> = Err(e);
            let _ = finish_round(&l, stamp, &r, LEASE);
            assert_eq!(l.expiry(), None);
        }
    }
}
