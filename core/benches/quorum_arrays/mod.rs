//! Bench-only: `ArrayTracker` as it was before heapless (commit d11e676),
//! fixed arrays `ids`, `roles`, `acks` plus a length, so that the `quorum`
//! bench can measure both storages in one run. The logic is the library's,
//! line for line; only the storage differs. `quorum.rs` checks that both
//! give the same answers before it measures.

use leasehold_core::{Instant, Stamp, TrackerError};

const INCOMING: u8 = 1;
const OUTGOING: u8 = 2;

/// `QuorumTracker` with fixed arrays (see the module docs).
pub struct ArrayTracker<const N: usize> {
    self_id: u64,
    /// Number of peers in the membership; they occupy slots `..len` of the
    /// arrays below. Slots from `len` on are always zero, so that the
    /// derived `PartialEq` compares only meaningful state.
    len: usize,
    ids: [u64; N],
    /// `INCOMING` and/or `OUTGOING` for each peer in the membership.
    roles: [u8; N],
    /// The freshest ack of each peer as [`Instant::as_nanos`], `0` for none
    /// (an `Instant` is never zero, so `0` is free and sorts below every
    /// ack). Every stored ack belongs to generation `floor`, which is why
    /// only the instant is kept.
    acks: [u64; N],
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

impl<const N: usize> ArrayTracker<N> {
    /// An empty tracker for the node `self_id`, with no membership yet (every
    /// ack is an [`UnknownPeer`](TrackerError::UnknownPeer) until
    /// [`set_membership`](Self::set_membership)) and generation floor 0.
    pub const fn new(self_id: u64) -> ArrayTracker<N> {
        ArrayTracker {
            self_id,
            len: 0,
            ids: [0; N],
            roles: [0; N],
            acks: [0; N],
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
        let nanos = *self.acks.get(self.slot_of(peer)?)?;
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
        let (Some(ack), Some(&role)) = (self.acks.get_mut(slot), self.roles.get(slot)) else {
            // Unreachable: slot_of only returns slots below len <= N.
            return Ok(None);
        };
        let old = *ack;
        if old >= new {
            // A late response to an older request: acks never move back.
            // (Also keeps the single-increase premise of `advance`.)
            return Ok(None);
        }
        *ack = new;
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
        let mut ids = [0u64; N];
        let mut roles = [0u8; N];
        let mut len = 0usize;
        for (list, role) in [(voters, INCOMING), (outgoing_voters, OUTGOING)] {
            for &peer in list {
                let known = ids.iter().take(len).position(|&id| id == peer);
                match known.and_then(|slot| roles.get_mut(slot)) {
                    Some(r) if *r & role != 0 => {
                        return Err(TrackerError::DuplicatePeer { peer });
                    }
                    Some(r) => *r |= role,
                    None => {
                        // A failing get_mut is exactly "len == N": capacity exhausted.
                        let (Some(id), Some(r)) = (ids.get_mut(len), roles.get_mut(len)) else {
                            return Err(TrackerError::TooManyPeers { capacity: N });
                        };
                        *id = peer;
                        *r = role;
                        len += 1;
                    }
                }
            }
        }

        let mut acks = [0u64; N];
        let single_voter = outgoing_voters.is_empty() && voters.len() == 1;
        if !single_voter {
            // Carry over the acks of peers that stay; anyone else starts
            // empty, so a removed peer that is re-added later cannot bring
            // its old ack back.
            for (ack, &peer) in acks.iter_mut().zip(ids.iter().take(len)) {
                *ack = self.ack(peer).map_or(0, |s| s.instant().as_nanos());
            }
        }

        self.ids = ids;
        self.roles = roles;
        self.acks = acks;
        self.len = len;
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
    /// generation [`Lease::invalidate`](leasehold_core::Lease::invalidate) returns:
    /// `tracker.reset(lease.invalidate())`. Acks stamped before the
    /// invalidation are then ignored forever, however late they arrive.
    /// (DESIGN.md proposed a bare `reset()`; without the floor a late ack
    /// could refill the tracker, because the tracker cannot see the lease.)
    ///
    /// Pass the returned value rather than a fresh
    /// [`Lease::generation`](leasehold_core::Lease::generation): if another context
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
        self.ids.iter().take(self.len).position(|&id| id == peer)
    }

    fn clear_acks(&mut self) {
        self.acks = [0; N];
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
        self.roles
            .iter()
            .zip(self.acks.iter())
            .take(self.len)
            .filter(move |(r, _)| **r & role != 0)
            .map(|(_, &ack)| ack)
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
            self.acks
                .iter()
                .take(self.len)
                .copied()
                .for_each(&mut count);
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
