//! The instant and lease generation an extension is based on.

use crate::Instant;

/// An instant paired with the lease generation current when it was read.
///
/// Take a stamp with `Lease::stamp` **before** the event that a
/// quorum will confirm: before a ReadIndex or a proposal starts, or when the
/// heartbeat or append being acknowledged is sent (invariant 4). The
/// generation makes a stamp from before an invalidation useless afterwards
/// (invariant 5).
///
/// Stamps are process-local like [`Instant`]s: never persist one or hand it
/// to another process. Keep the stamp of each request you send in a local
/// table keyed by the message (its id, index or term and index) and look it
/// up when the response arrives; a stamp echoed back by a peer is only as
/// trustworthy as that peer, and a forged later instant or generation would
/// extend the lease or raise the tracker's floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stamp {
    instant: Instant,
    generation: u64,
}

impl Stamp {
    /// A stamp from its parts; drivers and tests that keep stamps in their own
    /// tables use this. Normal code takes stamps from a lease.
    pub const fn new(instant: Instant, generation: u64) -> Stamp {
        Stamp {
            instant,
            generation,
        }
    }

    /// When the stamp was taken.
    pub const fn instant(self) -> Instant {
        self.instant
    }

    /// The lease generation at the time the stamp was taken.
    pub const fn generation(self) -> u64 {
        self.generation
    }
}
