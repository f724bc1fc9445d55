//! What the driver did, counted: cheap plain integers, readable at any time.

use crate::Extension;

/// Why the lease was invalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Cause {
    /// The node left the leader role (step-down observed, or a round
    /// reported a leadership loss).
    Role,
    /// The term changed while the node stayed leader between two
    /// observations (observations were coarser than the role changes).
    Term,
    /// A leadership transfer: `MsgTimeoutNow` left this leader.
    Transfer,
    /// A clock read failed.
    Clock,
    /// A membership the tracker cannot hold.
    Membership,
}

/// Invalidations by [`Cause`]. Only invalidations of a lease that may have
/// been valid are counted (a follower's term changes are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Invalidations {
    /// [`Cause::Role`].
    pub role: u64,
    /// [`Cause::Term`].
    pub term: u64,
    /// [`Cause::Transfer`].
    pub transfer: u64,
    /// [`Cause::Clock`].
    pub clock: u64,
    /// [`Cause::Membership`].
    pub membership: u64,
}

/// Outcomes of [`Lease::extend`](crate::Lease::extend) calls the driver made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Extensions {
    /// [`Extension::Extended`].
    pub extended: u64,
    /// [`Extension::NotLonger`].
    pub not_longer: u64,
    /// [`Extension::StaleGeneration`].
    pub stale_generation: u64,
    /// [`Extension::Busy`].
    pub busy: u64,
    /// [`Extension::Overflow`].
    pub overflow: u64,
}

/// The driver's counters ([`LeaseDriver::counters`](crate::LeaseDriver::counters)).
///
/// Plain `u64`s in the driver, which its owner mutates alone: counting
/// costs an increment and no atomic, and the lease's own read path stays
/// store-free (invariant 7). The hit ratio users quote is
/// `reads_local / (reads_local + reads_quorum)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Reads served locally under the lease.
    pub reads_local: u64,
    /// Reads that needed a quorum round (the lease did not cover them).
    pub lease_misses: u64,
    /// Quorum (ReadIndex) rounds that completed successfully.
    pub reads_quorum: u64,
    /// Invalidations by cause.
    pub invalidations: Invalidations,
    /// Extension outcomes.
    pub extensions: Extensions,
    /// Extensions the driver did not attempt because the lease was
    /// suspended (a transfer in this term), no entry of the term was applied
    /// yet, or the node was not leader.
    pub extensions_withheld: u64,
    /// Vote and pre-vote requests dropped by the vote guard.
    pub votes_dropped: u64,
    /// Responses whose tag credited nothing (unknown, forgotten, of another
    /// term or peer, or from a non-voter).
    pub acks_ignored: u64,
}

impl Counters {
    pub(crate) fn extension(&mut self, e: Extension) {
        let x = &mut self.extensions;
        let slot = match e {
            Extension::Extended => &mut x.extended,
            Extension::NotLonger => &mut x.not_longer,
            Extension::StaleGeneration => &mut x.stale_generation,
            Extension::Busy => &mut x.busy,
            Extension::Overflow => &mut x.overflow,
        };
        *slot = slot.saturating_add(1);
    }

    pub(crate) fn invalidation(&mut self, c: Cause) {
        let x = &mut self.invalidations;
        let slot = match c {
            Cause::Role => &mut x.role,
            Cause::Term => &mut x.term,
            Cause::Transfer => &mut x.transfer,
            Cause::Clock => &mut x.clock,
            Cause::Membership => &mut x.membership,
        };
        *slot = slot.saturating_add(1);
    }
}

/// `n += 1` without a reachable overflow panic.
pub(crate) fn bump(n: &mut u64) {
    *n = n.saturating_add(1);
}
