//! The quorum-ack tracker: from stamped acks to the instant a majority
//! confirmed the leader (invariants 4, 8 and 9).

use core::fmt;

use heapless::Vec;

use crate::{Instant, Stamp};

/// Role bit: the peer is a voter of the incoming (or only) configuration.
const INCOMING: u8 = 1;
/// Role bit: the peer is a voter of the outgoing configuration of a joint change.
const OUTGOING: u8 = 2;

/// Why the tracker refused an operation. The tracker is unchanged after
/// every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TrackerError {
    /// An ack from a peer that is not a voter of the current membership:
    /// a learner, a removed peer whose response arrived late, or a peer the
    /// driver never announced. Drivers that forward every response may
    /// ignore this error; the ack did not count.
    UnknownPeer {
        /// The peer that sent the ack.
        peer: u64,
    },
    /// A peer id appears twice in the same voter set (an id in both the
    /// incoming and the outgoing set of a joint configuration is normal).
    DuplicatePeer {
        /// The first id, in the order given, that repeats.
        peer: u64,
    },
    /// The membership names more distinct peers than the tracker holds.
    TooManyPeers {
        /// The tracker's capacity `N`.
        capacity: usize,
    },
    /// The (incoming) voter set is empty: no majority can exist.
    EmptyVoterSet,
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::UnknownPeer { peer } => {
                write!(f, "ack from peer {peer}, which is not a voter")
            }
            TrackerError::DuplicatePeer { peer } => {
                write!(f, "peer {peer} appears twice in one voter set")
            }
            TrackerError::TooManyPeers { capacity } => {
                write!(
                    f,
                    "membership has more than {capacity} distinct peers (tracker capacity)"
                )
            }
            TrackerError::EmptyVoterSet => f.write_str("voter set is empty"),
        }
    }
}

impl core::error::Error for TrackerError {}

/// Tracks, per voter, the freshest [`Stamp`] a peer acknowledged, and derives
/// the quorum stamp: the instant up to which a majority of every voter set is
/// known to have followed this leader.
///
/// `N` is the capacity in distinct peers (both sets of a joint configuration
/// together). Everything lives in one fixed-capacity `heapless::Vec`: no
/// allocation, `O(N)` work per ack.
///
/// # What counts
///
/// * An ack carries the [`Stamp`] of the request it answers, taken when the
///   leader **sent** that request (invariant 4), never the arrival time.
/// * A peer's ack never moves backwards: a late response to an older request
///   is ignored.
/// * Only voters count. Learners are simply not voters: their acks are
///   rejected with [`TrackerError::UnknownPeer`], as are late responses of
///   removed peers.
/// * The local node is a voter like any other: the driver records its own
///   stamp (when it sends a heartbeat or append), so a single-voter cluster
///   needs no special path.
/// * The quorum stamp is the oldest ack among the freshest majority of each
///   voter set; in a joint configuration it is the older of the two sets'
///   values, and `None` until both sets have a majority of acks (invariant 8).
///
/// # Generations
///
/// The tracker cannot see the lease, so it keeps a *generation floor*:
/// [`reset(min_generation)`](Self::reset) drops every ack and raises the
/// floor; the driver calls it with the generation
/// [`Lease::invalidate`](crate::Lease::invalidate) returns (step-down, term
/// change, transfer). From then on a stamp of an older generation is
/// ignored forever, so a late ack from before the step-down cannot refill
/// the tracker. An ack stamped with a *newer* generation than the floor
/// raises the floor by itself and drops the older acks, so acks of two
/// generations are never mixed even if the driver forgot to reset. Within a
/// generation, acks compare by instant.
///
/// # Membership changes
///
/// [`set_membership`](Self::set_membership) keeps the acks of peers that are
/// still voters, drops the others (a peer that leaves and comes back starts
/// with no ack), and recomputes the quorum at once. Installing a single-voter
/// configuration drops every ack, including the remaining voter's
/// (invariant 9): its quorum is then exactly the next stamp that voter
/// records, so nothing measured under a larger configuration carries over.
///
/// # Example: a joint-consensus change
///
/// Voters `{1, 2, 3}` become `{3, 4, 5}` through the joint configuration
/// `{3, 4, 5} & {1, 2, 3}`. Node 1 is the leader and is removed.
///
/// ```
/// use leasehold_core::{Instant, QuorumTracker, Stamp, TrackerError};
///
/// let at = |ns| Stamp::new(Instant::from_nanos(ns).unwrap(), 0);
/// let mut t = QuorumTracker::<8>::new(1);
///
/// t.set_membership(&[1, 2, 3], &[])?;
/// assert_eq!(t.record_ack(1, at(10))?, None); // the leader's own stamp
/// assert_eq!(t.record_ack(2, at(12))?, Some(at(10))); // {1, 2} is a majority
///
/// // Joint: the quorum must hold in {3, 4, 5} (incoming) and {1, 2, 3} (outgoing).
/// t.set_membership(&[3, 4, 5], &[1, 2, 3])?;
/// assert_eq!(t.quorum_stamp(), None); // nobody in {3, 4, 5} acked yet
/// assert_eq!(t.record_ack(4, at(20))?, None); // one of three is no majority
/// // {4, 5} is a majority of the incoming set, {1, 2} of the outgoing one:
/// // the quorum is the older of the two sets' values.
/// assert_eq!(t.record_ack(5, at(21))?, Some(at(10)));
/// assert_eq!(t.record_ack(1, at(30))?, Some(at(12))); // outgoing: {30, 12} -> 12
///
/// // Leaving the joint configuration: the leader is no longer a voter.
/// t.set_membership(&[3, 4, 5], &[])?;
/// assert_eq!(t.quorum_stamp(), Some(at(20))); // {3: none, 4: 20, 5: 21}
/// assert!(!t.is_voter(t.self_id()));
/// assert_eq!(t.record_ack(1, at(30)), Err(TrackerError::UnknownPeer { peer: 1 }));
/// # Ok::<(), TrackerError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumTracker<const N: usize> {
    self_id: u64,
    /// Every peer of the membership, once, in the order first named by
    /// [`set_membership`](Self::set_membership) (a peer's index is its
    /// slot). The derived `PartialEq` compares only these `len()` entries.
    peers: Vec<Peer, N>,
    /// Whether an outgoing voter set is in force (joint consensus).
    joint: bool,
    /// Acks of an older generation are ignored.
    floor: u64,
    /// The quorum instant of the incoming set, kept exact after every change.
    incoming_quorum: Option<Instant>,
    /// The quorum instant of the outgoing set; `None` when not joint.
    outgoing_quorum: Option<Instant>,
    /// The combination of the two above, in generation `floor`.
    quorum: Option<Stamp>,
}

/// One peer of the membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Peer {
    id: u64,
    /// The freshest ack as [`Instant::as_nanos`], `0` for none (an `Instant`
    /// is never zero, so `0` is free and sorts below every ack). Every
    /// stored ack belongs to generation `floor`, which is why only the
    /// instant is kept.
    ack: u64,
    /// `INCOMING` and/or `OUTGOING`.
    role: u8,
}

#[cfg(feature = "defmt")]
impl<const N: usize> defmt::Format for QuorumTracker<N> {
    /// Formats the membership (per peer: id, freshest ack in ns, 0 for none,
    /// role bits) and the quorum stamp.
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "QuorumTracker {{ self_id: {=u64}, peers: {=[?]}, joint: {=bool}, floor: {=u64}, quorum: {} }}",
            self.self_id,
            self.peers.as_slice(),
            self.joint,
            self.floor,
            self.quorum
        )
    }
}

impl<const N: usize> QuorumTracker<N> {
    /// An empty tracker for the node `self_id`, with no membership yet (every
    /// ack is an [`UnknownPeer`](TrackerError::UnknownPeer) until
    /// [`set_membership`](Self::set_membership)) and generation floor 0.
    pub const fn new(self_id: u64) -> QuorumTracker<N> {
        QuorumTracker {
            self_id,
            peers: Vec::new(),
            joint: false,
            floor: 0,
            incoming_quorum: None,
            outgoing_quorum: None,
            quorum: None,
        }
    }

    /// The local node's id, as given to [`new`](Self::new).
    pub const fn self_id(&self) -> u64 {
        self.self_id
    }

    /// The capacity `N` in distinct peers.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Acks stamped with a generation below this are ignored.
    pub const fn generation_floor(&self) -> u64 {
        self.floor
    }

    /// Whether a joint configuration (non-empty outgoing voter set) is in force.
    pub const fn is_joint(&self) -> bool {
        self.joint
    }

    /// Whether `peer` is a voter of the incoming or the outgoing set. After a
    /// configuration that removes the leader is in force,
    /// `is_voter(self_id())` is `false`.
    pub fn is_voter(&self, peer: u64) -> bool {
        self.slot_of(peer).is_some()
    }

    /// The freshest ack that counts for `peer`, if it is a voter and has one.
    pub fn ack(&self, peer: u64) -> Option<Stamp> {
        let nanos = self.peers.get(self.slot_of(peer)?)?.ack;
        Some(Stamp::new(Instant::from_nanos(nanos)?, self.floor))
    }

    /// The current quorum stamp: the oldest ack among the freshest majority
    /// of each voter set, or `None` while some set lacks a majority of acks.
    ///
    /// A lease may be extended from it (it is a stamp taken before a majority
    /// confirmed the leader); the lease's own generation gate still applies.
    #[inline]
    pub const fn quorum_stamp(&self) -> Option<Stamp> {
        self.quorum
    }

    /// Records that `peer` acknowledged the request sent at `stamp`.
    ///
    /// Returns `Ok(Some(q))` when the quorum stamp advanced to `q` (within a
    /// generation it only moves forward), `Ok(None)` when it did not, which
    /// includes an ack that was ignored: not later than the peer's current
    /// ack, or of a generation below the floor. An ack of a newer generation
    /// raises the floor and drops every older ack first (the quorum then
    /// usually falls back to `None`).
    ///
    /// `O(N)` and no allocation: a scan for the peer, then one pass that
    /// updates each voter set's quorum from its previous value.
    ///
    /// # Errors
    ///
    /// [`TrackerError::UnknownPeer`] if `peer` is not a voter of the current
    /// membership (learner, removed peer, unknown id); nothing changes.
    pub fn record_ack(&mut self, peer: u64, stamp: Stamp) -> Result<Option<Stamp>, TrackerError> {
        let slot = self
            .slot_of(peer)
            .ok_or(TrackerError::UnknownPeer { peer })?;
        let generation = stamp.generation();
        if generation < self.floor {
            // From before the last reset (a step-down or invalidation): it
            // must never count again.
            return Ok(None);
        }
        if generation > self.floor {
            // The lease moved on without a reset reaching us; acks of the
            // old generation prove nothing about the new one.
            self.floor = generation;
            self.clear_acks();
        }
        let new = stamp.instant().as_nanos();
        let Some(p) = self.peers.get_mut(slot) else {
            // Unreachable: slot_of only returns slots below len().
            return Ok(None);
        };
        let (old, role) = (p.ack, p.role);
        if old >= new {
            // A late response to an older request: acks never move back.
            // (Also keeps the single-increase premise of `advance`.)
            return Ok(None);
        }
        p.ack = new;
        if role & INCOMING != 0 {
            self.incoming_quorum = self.advance(INCOMING, self.incoming_quorum, old);
        }
        if role & OUTGOING != 0 {
            self.outgoing_quorum = self.advance(OUTGOING, self.outgoing_quorum, old);
        }
        let before = self.quorum;
        self.refresh();
        // Within one generation the quorum only moves forward, so "changed
        // to Some" is "advanced"; after a floor raise any Some is new.
        Ok(self.quorum.filter(|_| self.quorum != before))
    }

    /// Installs a new membership and recomputes the quorum.
    ///
    /// `voters` is the voter set; a non-empty `outgoing_voters` means joint
    /// consensus (the quorum must hold in both sets). Learners are not
    /// listed. Acks of peers still in either set are kept, all others are
    /// dropped; a non-joint single-voter configuration drops every ack (see
    /// the type-level docs). Errors report the first offending id in the
    /// order given (`voters`, then `outgoing_voters`).
    ///
    /// The quorum may move (for example, removing a slow voter can advance
    /// it); read [`quorum_stamp`](Self::quorum_stamp) afterwards.
    ///
    /// # Errors
    ///
    /// [`EmptyVoterSet`](TrackerError::EmptyVoterSet),
    /// [`DuplicatePeer`](TrackerError::DuplicatePeer),
    /// [`TooManyPeers`](TrackerError::TooManyPeers); nothing changes.
    pub fn set_membership(
        &mut self,
        voters: &[u64],
        outgoing_voters: &[u64],
    ) -> Result<(), TrackerError> {
        if voters.is_empty() {
            return Err(TrackerError::EmptyVoterSet);
        }
        // Build the new membership aside, so that an error leaves self untouched.
        let mut peers = Vec::<Peer, N>::new();
        for (list, role) in [(voters, INCOMING), (outgoing_voters, OUTGOING)] {
            for &id in list {
                match peers.iter_mut().find(|p| p.id == id) {
                    Some(p) if p.role & role != 0 => {
                        return Err(TrackerError::DuplicatePeer { peer: id });
                    }
                    Some(p) => p.role |= role,
                    None => peers
                        .push(Peer { id, ack: 0, role })
                        .map_err(|_| TrackerError::TooManyPeers { capacity: N })?,
                }
            }
        }

        let single_voter = outgoing_voters.is_empty() && voters.len() == 1;
        if !single_voter {
            // Carry over the acks of peers that stay; anyone else starts
            // empty, so a removed peer that is re-added later cannot bring
            // its old ack back.
            for p in &mut peers {
                p.ack = self.ack(p.id).map_or(0, |s| s.instant().as_nanos());
            }
        }

        self.peers = peers;
        self.joint = !outgoing_voters.is_empty();
        // Both sets changed arbitrarily: select from scratch.
        self.incoming_quorum = self.select(INCOMING);
        self.outgoing_quorum = self.select(OUTGOING);
        self.refresh();
        Ok(())
    }

    /// Drops every ack and raises the generation floor to `min_generation`
    /// (it never lowers it); the membership stays.
    ///
    /// Call it on step-down, term change and leadership transfer with the
    /// generation [`Lease::invalidate`](crate::Lease::invalidate) returns:
    /// `tracker.reset(lease.invalidate())`. Acks stamped before the
    /// invalidation are then ignored forever, however late they arrive.
    /// (DESIGN.md proposed a bare `reset()`; without the floor a late ack
    /// could refill the tracker, because the tracker cannot see the lease.)
    ///
    /// Pass the returned value rather than a fresh
    /// [`Lease::generation`](crate::Lease::generation): if another context
    /// still holds the lease's write slot, the invalidation is applied only
    /// when it releases the slot, and until then `generation()` reads the old
    /// value, which would let old acks in again.
    pub fn reset(&mut self, min_generation: u64) {
        self.floor = self.floor.max(min_generation);
        self.clear_acks();
        self.refresh();
    }

    /// The slot of `peer` in the current membership.
    #[inline]
    fn slot_of(&self, peer: u64) -> Option<usize> {
        self.peers.iter().position(|p| p.id == peer)
    }

    fn clear_acks(&mut self) {
        for p in &mut self.peers {
            p.ack = 0;
        }
        self.incoming_quorum = None;
        self.outgoing_quorum = None;
    }

    /// Combines the per-set quorums into the quorum stamp.
    #[inline]
    fn refresh(&mut self) {
        let instant = match (self.incoming_quorum, self.outgoing_quorum) {
            (Some(i), _) if !self.joint => Some(i),
            (Some(i), Some(o)) => Some(i.min(o)),
            // Joint consensus needs a majority in both sets.
            _ => None,
        };
        self.quorum = instant.map(|i| Stamp::new(i, self.floor));
    }

    /// The acks of the voters with `role`, in slot order.
    #[inline]
    fn members(&self, role: u8) -> impl Iterator<Item = u64> + '_ {
        self.peers
            .iter()
            .filter(move |p| p.role & role != 0)
            .map(|p| p.ack)
    }

    /// The quorum of the `role` set after one of its members' ack rose from
    /// `old` (0: none), given `previous`, the exact quorum before the rise.
    ///
    /// Let `q = previous` be the `m`-th largest ack (`m` = majority). Fewer
    /// than `m` acks were above `q`. One ack rising can add at most one ack
    /// above `q` (only if `old <= q` and the new value is above `q`), so
    /// afterwards either still fewer than `m` acks exceed `q`, and `q` is
    /// still the `m`-th largest (the count at or above `q` did not drop:
    /// the risen ack is still at or above `q` if it was), or exactly `m` do,
    /// and the `m`-th largest is the smallest of them. Either way one pass,
    /// no selection.
    #[inline]
    fn advance(&self, role: u8, previous: Option<Instant>, old: u64) -> Option<Instant> {
        let Some(q) = previous else {
            // No quorum yet: nothing to start from.
            return self.select(role);
        };
        let q = q.as_nanos();
        if old > q {
            // The ack was above the quorum already; raising it changes nothing.
            return previous;
        }
        let (mut size, mut above, mut min_above) = (0usize, 0usize, u64::MAX);
        let mut count = |ack: u64| {
            size += 1;
            if ack > q {
                above += 1;
                min_above = min_above.min(ack);
            }
        };
        if self.joint {
            self.members(role).for_each(&mut count);
        } else {
            // Outside joint consensus every peer is an incoming voter: skip
            // the role filter on the hot path.
            self.peers.iter().map(|p| p.ack).for_each(&mut count);
        }
        if above > size / 2 {
            Instant::from_nanos(min_above)
        } else {
            previous
        }
    }

    /// The oldest ack among the freshest majority of the voters with `role`,
    /// or `None` if fewer than a majority of them acked (or the set is empty).
    ///
    /// `O(N)`: one pass to gather the set, then `select_nth_unstable`
    /// (worst-case linear selection), no sort and no allocation. Used when
    /// there is no previous quorum to advance from.
    fn select(&self, role: u8) -> Option<Instant> {
        let mut buf = [0u64; N];
        let mut size = 0usize;
        for (dst, ack) in buf.iter_mut().zip(self.members(role)) {
            *dst = ack;
            size += 1;
        }
        let members = buf.get_mut(..size)?;
        // A missing ack is 0, below every instant. With the set in ascending
        // order, the `majority`-th largest value sits at `size - majority`:
        // at least `majority` voters acked at or after it. If that value is
        // 0, fewer than a majority acked at all.
        let majority = size / 2 + 1;
        // size == 0 gives None here; otherwise majority >= 1 keeps the index
        // below `size`, so select_nth_unstable cannot panic.
        let index = size.checked_sub(majority)?;
        let (_, nth, _) = members.select_nth_unstable(index);
        Instant::from_nanos(*nth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stamp at `ns` in generation `g`.
    fn st(ns: u64, g: u64) -> Stamp {
        Stamp::new(Instant::from_nanos(ns).unwrap(), g)
    }

    fn at(ns: u64) -> Stamp {
        st(ns, 0)
    }

    fn tracker(voters: &[u64]) -> QuorumTracker<8> {
        let mut t = QuorumTracker::new(1);
        t.set_membership(voters, &[]).unwrap();
        t
    }

    #[test]
    fn majority_is_oldest_of_freshest_majority() {
        let mut t = tracker(&[1, 2, 3, 4, 5]);
        assert_eq!(t.record_ack(1, at(50)), Ok(None));
        assert_eq!(t.record_ack(2, at(40)), Ok(None));
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.record_ack(3, at(30)), Ok(Some(at(30))));
        // A fresher ack than the quorum element moves the quorum up to the
        // next one of the freshest three.
        assert_eq!(t.record_ack(4, at(45)), Ok(Some(at(40))));
        // An ack below the quorum changes nothing.
        assert_eq!(t.record_ack(5, at(10)), Ok(None));
        assert_eq!(t.quorum_stamp(), Some(at(40)));
        // Even-sized sets need n/2 + 1.
        let mut t = tracker(&[1, 2, 3, 4]);
        t.record_ack(1, at(9)).unwrap();
        t.record_ack(2, at(8)).unwrap();
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.record_ack(3, at(7)), Ok(Some(at(7))));
    }

    #[test]
    fn acks_never_move_backwards() {
        let mut t = tracker(&[1, 2, 3]);
        t.record_ack(1, at(10)).unwrap();
        assert_eq!(t.record_ack(2, at(20)), Ok(Some(at(10))));
        // A late response to an older request from peer 2.
        assert_eq!(t.record_ack(2, at(5)), Ok(None));
        assert_eq!(t.ack(2), Some(at(20)));
        // An equal stamp is not an advance either.
        assert_eq!(t.record_ack(2, at(20)), Ok(None));
        assert_eq!(t.quorum_stamp(), Some(at(10)));
    }

    #[test]
    fn no_membership_means_no_quorum_and_unknown_peers() {
        let mut t = QuorumTracker::<4>::new(1);
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(
            t.record_ack(1, at(1)),
            Err(TrackerError::UnknownPeer { peer: 1 })
        );
        // Capacity 0 can never hold a membership, and must not panic.
        let mut z = QuorumTracker::<0>::new(1);
        assert_eq!(
            z.set_membership(&[1], &[]),
            Err(TrackerError::TooManyPeers { capacity: 0 })
        );
        assert_eq!(
            z.record_ack(1, at(1)),
            Err(TrackerError::UnknownPeer { peer: 1 })
        );
        z.reset(3);
        assert_eq!(z.quorum_stamp(), None);
    }

    // ---- historical bugs (issue 4) ----

    /// Bug: after shrinking {1..5} to {1,2,3} and growing back, the acks that
    /// peers 4 and 5 sent before their removal satisfied the quorum.
    #[test]
    fn bug_removed_peers_acks_do_not_survive_shrink_and_regrow() {
        let mut t = tracker(&[1, 2, 3, 4, 5]);
        t.record_ack(4, at(100)).unwrap();
        t.record_ack(5, at(100)).unwrap();
        t.record_ack(1, at(10)).unwrap();
        assert_eq!(t.quorum_stamp(), Some(at(10)));
        t.set_membership(&[1, 2, 3], &[]).unwrap();
        assert_eq!(t.ack(4), None);
        t.set_membership(&[1, 2, 3, 4, 5], &[]).unwrap();
        // Only peer 1 acked in this membership: no majority.
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.ack(4), None);
        assert_eq!(t.ack(5), None);
        assert_eq!(t.record_ack(2, at(20)), Ok(None));
        assert_eq!(t.record_ack(3, at(30)), Ok(Some(at(10))));
    }

    /// Bug: a late response from a removed peer re-created its entry, which
    /// then counted after a regrow (or inflated the set).
    #[test]
    fn bug_late_response_from_removed_peer_is_rejected() {
        let mut t = tracker(&[1, 2, 3]);
        t.record_ack(1, at(10)).unwrap();
        t.set_membership(&[1, 2], &[]).unwrap();
        let before = t.clone();
        assert_eq!(
            t.record_ack(3, at(50)),
            Err(TrackerError::UnknownPeer { peer: 3 })
        );
        assert_eq!(t, before);
        // Re-adding peer 3 finds no entry for it.
        t.set_membership(&[1, 2, 3], &[]).unwrap();
        assert_eq!(t.ack(3), None);
        assert_eq!(t.quorum_stamp(), None);
    }

    /// Bug: removing a voter did not recompute the quorum, leaving a value
    /// that counted the removed voter's ack.
    #[test]
    fn bug_removal_recomputes_the_quorum() {
        let mut t = tracker(&[1, 2, 3]);
        t.record_ack(1, at(10)).unwrap();
        t.record_ack(3, at(30)).unwrap();
        assert_eq!(t.quorum_stamp(), Some(at(10)));
        // Removing 3 leaves {1, 2}: only 1 acked, so no majority any more.
        t.set_membership(&[1, 2], &[]).unwrap();
        assert_eq!(t.quorum_stamp(), None);
        // And a removal can also advance it: drop the slow voter 1.
        let mut t = tracker(&[1, 2, 3, 4, 5]);
        for (p, ns) in [(1, 10), (2, 20), (3, 30), (4, 40)] {
            t.record_ack(p, at(ns)).unwrap();
        }
        assert_eq!(t.quorum_stamp(), Some(at(20)));
        t.set_membership(&[2, 3, 4], &[]).unwrap();
        assert_eq!(t.quorum_stamp(), Some(at(30)));
    }

    /// Bug: after step-down the tracker was cleared, but a late ack of a
    /// request sent before the step-down refilled it.
    #[test]
    fn bug_late_ack_after_reset_is_ignored_forever() {
        let mut t = tracker(&[1, 2, 3]);
        t.record_ack(1, st(10, 0)).unwrap();
        t.record_ack(2, st(11, 0)).unwrap();
        assert_eq!(t.quorum_stamp(), Some(st(10, 0)));
        // Step-down: the driver invalidated the lease (generation 0 -> 1).
        t.reset(1);
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.generation_floor(), 1);
        // Late responses to generation-0 requests, even with later instants.
        assert_eq!(t.record_ack(1, st(90, 0)), Ok(None));
        assert_eq!(t.record_ack(3, st(91, 0)), Ok(None));
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.ack(1), None);
        // A reset never lowers the floor.
        t.reset(0);
        assert_eq!(t.record_ack(1, st(92, 0)), Ok(None));
        assert_eq!(t.record_ack(2, st(93, 0)), Ok(None));
        assert_eq!(t.quorum_stamp(), None);
        // New-generation acks count.
        t.record_ack(1, st(100, 1)).unwrap();
        assert_eq!(t.record_ack(2, st(101, 1)), Ok(Some(st(100, 1))));
    }

    /// Without a reset, an ack of a newer generation raises the floor and
    /// drops the older generation's acks rather than mixing them.
    #[test]
    fn newer_generation_raises_the_floor() {
        let mut t = tracker(&[1, 2, 3]);
        t.record_ack(1, st(50, 0)).unwrap();
        t.record_ack(2, st(60, 0)).unwrap();
        assert_eq!(t.quorum_stamp(), Some(st(50, 0)));
        // An earlier instant in a newer generation is not "older".
        assert_eq!(t.record_ack(3, st(40, 2)), Ok(None));
        assert_eq!(t.generation_floor(), 2);
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.ack(1), None);
        assert_eq!(t.record_ack(2, st(60, 0)), Ok(None));
        assert_eq!(t.record_ack(1, st(45, 2)), Ok(Some(st(40, 2))));
    }

    /// Bug: shrinking to a single voter kept a quorum value computed under
    /// the larger configuration.
    #[test]
    fn bug_shrink_to_one_voter_keeps_no_stale_value() {
        let mut t = tracker(&[1, 2, 3]);
        // Peers 2 and 3 acked recent requests; the leader's own entry is old.
        t.record_ack(1, at(5)).unwrap();
        t.record_ack(2, at(20)).unwrap();
        t.record_ack(3, at(20)).unwrap();
        assert_eq!(t.quorum_stamp(), Some(at(20)));
        t.set_membership(&[1], &[]).unwrap();
        // Neither the old quorum nor anything measured before the change.
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.ack(1), None);
        // The single voter's own next stamp is the quorum, no special path.
        assert_eq!(t.record_ack(1, at(30)), Ok(Some(at(30))));
        assert_eq!(t.record_ack(1, at(31)), Ok(Some(at(31))));
        // Regrow: the removed peers come back without their acks.
        t.set_membership(&[1, 2, 3], &[]).unwrap();
        assert_eq!(t.ack(2), None);
        assert_eq!(t.ack(3), None);
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.record_ack(3, at(40)), Ok(Some(at(31))));
    }

    // ---- joint consensus, learners ----

    #[test]
    fn joint_new_config_majority_alone_is_not_enough() {
        let mut t = tracker(&[1, 2, 3]);
        t.set_membership(&[3, 4, 5], &[1, 2, 3]).unwrap();
        assert!(t.is_joint());
        t.record_ack(4, at(40)).unwrap();
        t.record_ack(5, at(50)).unwrap();
        t.record_ack(3, at(30)).unwrap();
        // All of {3,4,5} acked, but only 3 of {1,2,3}.
        assert_eq!(t.quorum_stamp(), None);
        // The old config's majority alone is not enough either.
        let mut u = tracker(&[1, 2, 3]);
        u.set_membership(&[3, 4, 5], &[1, 2, 3]).unwrap();
        u.record_ack(1, at(10)).unwrap();
        u.record_ack(2, at(20)).unwrap();
        assert_eq!(u.quorum_stamp(), None);
        // Both majorities: the older of the two sets' values.
        assert_eq!(t.record_ack(1, at(10)), Ok(Some(at(10))));
        assert_eq!(t.record_ack(2, at(60)), Ok(Some(at(30))));
    }

    /// Each set's quorum only moves with the acks of its own voters.
    #[test]
    fn joint_each_set_advances_on_its_own_acks() {
        let mut t = tracker(&[1, 2, 3]);
        t.set_membership(&[3, 4, 5], &[1, 2, 3]).unwrap();
        for p in 1..=5 {
            t.record_ack(p, at(10)).unwrap();
        }
        assert_eq!(t.quorum_stamp(), Some(at(10)));
        // Incoming {3, 4, 5} moves to 50; outgoing {1, 2, 3} stays at 10.
        assert_eq!(t.record_ack(4, at(50)), Ok(None));
        assert_eq!(t.record_ack(5, at(60)), Ok(None));
        // Outgoing: {70, 10, 10} is still 10.
        assert_eq!(t.record_ack(1, at(70)), Ok(None));
        // Outgoing: {70, 70, 10} is 70; incoming is 50.
        assert_eq!(t.record_ack(2, at(70)), Ok(Some(at(50))));
        // Peer 3 is in both: incoming {80, 50, 60} -> 60, outgoing -> 70.
        assert_eq!(t.record_ack(3, at(80)), Ok(Some(at(60))));
    }

    #[test]
    fn joint_removes_the_leader_itself() {
        // Leader 1 leaves: {1,2,3} -> {2,3,4} & {1,2,3} -> {2,3,4}.
        let mut t = tracker(&[1, 2, 3]);
        t.set_membership(&[2, 3, 4], &[1, 2, 3]).unwrap();
        assert!(t.is_voter(1));
        // The leader's own stamp counts only for the outgoing set.
        t.record_ack(1, at(100)).unwrap();
        t.record_ack(4, at(100)).unwrap();
        assert_eq!(t.quorum_stamp(), None);
        assert_eq!(t.record_ack(2, at(20)), Ok(Some(at(20))));
        t.set_membership(&[2, 3, 4], &[]).unwrap();
        assert!(!t.is_joint());
        assert!(!t.is_voter(t.self_id()));
        assert_eq!(t.quorum_stamp(), Some(at(20)));
        // Its own stamps no longer count at all.
        assert_eq!(
            t.record_ack(1, at(200)),
            Err(TrackerError::UnknownPeer { peer: 1 })
        );
        assert_eq!(t.quorum_stamp(), Some(at(20)));
    }

    #[test]
    fn learners_never_count() {
        // Voters {1,2,3}; 4 and 5 are learners, so they are not listed.
        let mut t = tracker(&[1, 2, 3]);
        t.record_ack(1, at(10)).unwrap();
        let before = t.clone();
        for learner in [4, 5] {
            assert_eq!(
                t.record_ack(learner, at(50)),
                Err(TrackerError::UnknownPeer { peer: learner })
            );
        }
        assert_eq!(t, before);
        assert_eq!(t.quorum_stamp(), None);
        // Promoting a learner starts it with no ack.
        t.set_membership(&[1, 2, 3, 4], &[]).unwrap();
        assert_eq!(t.ack(4), None);
    }

    // ---- errors leave the state unchanged ----

    #[test]
    fn membership_errors_leave_state_unchanged() {
        let mut t = QuorumTracker::<4>::new(1);
        t.set_membership(&[1, 2, 3], &[]).unwrap();
        t.record_ack(1, at(10)).unwrap();
        t.record_ack(2, at(20)).unwrap();
        let before = t.clone();
        let cases: [(&[u64], &[u64], TrackerError); 7] = [
            (&[], &[], TrackerError::EmptyVoterSet),
            (&[], &[1, 2], TrackerError::EmptyVoterSet),
            (&[1, 2, 1], &[], TrackerError::DuplicatePeer { peer: 1 }),
            (&[1, 2], &[3, 3], TrackerError::DuplicatePeer { peer: 3 }),
            (
                &[1, 2, 3, 4, 5],
                &[],
                TrackerError::TooManyPeers { capacity: 4 },
            ),
            (
                &[1, 2, 3],
                &[4, 5],
                TrackerError::TooManyPeers { capacity: 4 },
            ),
            // The first offending id in order decides which error.
            (
                &[1, 2, 3, 4, 2, 5],
                &[],
                TrackerError::DuplicatePeer { peer: 2 },
            ),
        ];
        for (voters, outgoing, err) in cases {
            assert_eq!(t.set_membership(voters, outgoing), Err(err));
            assert_eq!(t, before);
        }
        assert_eq!(
            t.record_ack(9, st(99, 7)),
            Err(TrackerError::UnknownPeer { peer: 9 })
        );
        assert_eq!(t, before);
        assert_eq!(t.generation_floor(), 0);
        // Capacity 4 holds a joint configuration of 4 distinct peers.
        assert_eq!(t.set_membership(&[1, 2, 3], &[2, 3, 4]), Ok(()));
    }

    #[test]
    fn errors_display() {
        extern crate std;
        for (e, text) in [
            (
                TrackerError::UnknownPeer { peer: 7 },
                "ack from peer 7, which is not a voter",
            ),
            (
                TrackerError::DuplicatePeer { peer: 3 },
                "peer 3 appears twice in one voter set",
            ),
            (
                TrackerError::TooManyPeers { capacity: 8 },
                "membership has more than 8 distinct peers (tracker capacity)",
            ),
            (TrackerError::EmptyVoterSet, "voter set is empty"),
        ] {
            assert_eq!(std::format!("{e}"), text);
        }
        fn is_error<E: core::error::Error>() {}
        is_error::<TrackerError>();
    }
}
