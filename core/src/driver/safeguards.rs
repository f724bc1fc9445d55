//! The driver's safety checks, one switch each, so that the simulation can
//! show what each one prevents (a negative control per guard).

/// Which entry of its own term a leader must have before it extends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OwnTermEntry {
    /// Applied to the state that lease reads see (invariant 16). Correct.
    Applied,
    /// Only committed (the unsafe rule that asynchronous apply breaks; an
    /// adapter feeds the commit condition instead of the apply one).
    Committed,
    /// No condition.
    NotRequired,
}

/// Every check that keeps a read from being local or a stamp from counting.
///
/// Production code never sees anything but [`Safeguards::ALL`]: installing
/// another set needs the `negative-controls` feature
/// (`LeaseDriver::with_safeguards`),
/// which exists so that the simulation can switch exactly one check off and
/// show that random faults then produce stale reads. Adapters read the
/// switches that concern their mapping (`voters_only`, `own_term_entry`)
/// from [`LeaseDriver::safeguards`](crate::LeaseDriver::safeguards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Safeguards {
    /// An ack credits the stamp of the request its tag names (invariant 4).
    /// Off: the newest request sent to that peer, whichever was answered.
    pub credit_echoed_request: bool,
    /// Tags carry the leader's term, a leader credits only tags of its
    /// current term, and followers echo only requests they accepted
    /// (invariant 17). Off: tags are bare sequence numbers that restart with
    /// every incarnation, and any stepped request is echoed.
    pub unique_tags: bool,
    /// Only voters' acks count (invariant 8). Off: the adapter hands
    /// learners to the tracker as voters.
    pub voters_only: bool,
    /// A `MsgTimeoutNow` leaving this leader suspends the lease
    /// (invariant 14). Off: transfers leave the lease alone.
    pub transfer_suspends: bool,
    /// The suspension lasts until the term ends. Off: it lifts after one
    /// election timeout, when raft-rs abandons the transfer, while the
    /// `MsgTimeoutNow` may still be in flight.
    pub suspension_lasts_the_term: bool,
    /// Accepting a leader's message arms the vote guard (invariant 15).
    /// Off: the lease rests on raft-rs's own `in_lease` rule.
    pub vote_guard: bool,
    /// The vote guard is armed when the driver starts (a restart).
    pub restart_guard: bool,
    /// Which entry of its term a leader needs before extending.
    pub own_term_entry: OwnTermEntry,
    /// A local read is validated again after its snapshot (invariant 12).
    /// Off: only before.
    pub validate_after_read: bool,
    /// A failed clock read invalidates the lease, in the driver's events and
    /// on its read path (invariant 1). Off: it only fails the operation at
    /// hand.
    pub clock_error_invalidates: bool,
    /// Leaving the leader role or changing term invalidates (invariant 9).
    /// Off: the old expiry stays and nothing extends it.
    pub step_down_invalidates: bool,
}

impl Safeguards {
    /// Every check on: the only set production code uses.
    pub const ALL: Safeguards = Safeguards {
        credit_echoed_request: true,
        unique_tags: true,
        voters_only: true,
        transfer_suspends: true,
        suspension_lasts_the_term: true,
        vote_guard: true,
        restart_guard: true,
        own_term_entry: OwnTermEntry::Applied,
        validate_after_read: true,
        clock_error_invalidates: true,
        step_down_invalidates: true,
    };
}

impl Default for Safeguards {
    fn default() -> Self {
        Safeguards::ALL
    }
}
