//! `RaftLease`: the lease driver mapped onto a raft-rs `RawNode`.

use std::sync::Arc;
use std::time::Duration;

use leasehold_core::{
    Clock, ClockError, Counters, Extension, Instant, LeadershipLoss, Lease, LeaseDriver, NodeState,
    OwnTermEntry, QuorumNeeded, RoundOutcome, Stamp, Tag, TrackerError, VoteDecision,
};
use raft::eraftpb::{ConfState, Message, MessageType};
use raft::{RawNode, StateRole, Storage, CAMPAIGN_TRANSFER};

use crate::setup::{lease_config, SetupError, Timing};
use crate::ticker::Ticker;

/// The lease of one raft-rs node: wraps a [`LeaseDriver`] and feeds it from
/// the `RawNode` and its messages.
///
/// `L` holds the [`Lease`] (an `Arc<Lease>` by default, so reader threads
/// can share it); `PEERS` and `INFLIGHT` are the driver's capacities.
///
/// # The node loop
///
/// * Build it with [`RaftLease::new`] from the same `raft::Config` as the
///   `RawNode`, and a new one on every restart (a restart invalidates, and
///   guards votes for one election timeout).
/// * Step every message from a peer through [`step`](Self::step) (it drops
///   votes the guard refuses, steps, observes, and credits acks), tick
///   through [`tick`](Self::tick), and call [`observe`](Self::observe) after
///   anything else that touches the node (`propose`, `read_index`,
///   `campaign`, `transfer_leader`, `advance*`, `apply_conf_change`).
///   Pace the ticks with [`tick_if_due`](Self::tick_if_due) and the
///   [`Ticker`](crate::Ticker) from [`ticker`](Self::ticker): a loop that
///   fires the ticks it missed during a stall in a burst after messages
///   that waited meanwhile, or decides on a clock reading taken before it
///   stepped them, lets the vote guard open early.
///   Call `advance_apply` only once the entries are applied to the state
///   that reads see: "applied" is what lets a new leader lease-read.
/// * Send every outgoing message (`Ready::messages`,
///   `Ready::persisted_messages`, `LightReady::messages`) with the
///   [`Tag`] from [`tag`](Self::tag), beside it in your envelope
///   ([`Tag::to_bytes`]); pass the received tag to `step`.
/// * Reads: [`read`](Self::read); on `Err`, a raft-rs ReadIndex
///   (`ReadOnlyOption::Safe`), and when its read state is applied,
///   [`finish_read_index`](Self::finish_read_index) with the stamp from the
///   `Err`.
/// * Do not call `RawNode::campaign` yourself on a node that may have
///   acknowledged a leader recently: a campaign votes for itself, past the
///   guard.
/// * Give every ReadIndex round its own context: raft-rs matches heartbeat
///   responses to rounds by context, and a reused one lets a late response
///   confirm a later round that its follower's promise does not cover.
/// * Run every node with the same tick and `election_tick` (the lease of
///   one node rests on the vote guard of the others, counted in their
///   ticks); change them only with all nodes restarted.
/// * Install a snapshot into the state reads see before `advance_apply*`.
/// * A leader that applied its own removal must stop serving: check
///   [`read_index_confirmed`](Self::read_index_confirmed) before answering
///   a ReadIndex read (its lease is withheld already).
///
/// See the crate docs for a complete example.
#[derive(Debug)]
pub struct RaftLease<L = Arc<Lease>, const PEERS: usize = 16, const INFLIGHT: usize = 256> {
    driver: LeaseDriver<L, PEERS, INFLIGHT>,
    conf: ConfState,
    membership_error: Option<TrackerError>,
    /// The tick the lease was derived from (`Timing::tick`, validated).
    tick: Duration,
}

impl<L> RaftLease<L>
where
    L: core::ops::Deref<Target = Lease>,
{
    /// The lease of node `raft.id`, for a `RawNode` built with `raft` and a
    /// loop ticking as `timing` says, with the default capacities (16 peers,
    /// 256 requests in flight). The lease starts invalid.
    ///
    /// # Errors
    ///
    /// [`SetupError`] from [`lease_config`]: the configuration cannot run a
    /// safe lease.
    pub fn new(raft: &raft::Config, timing: &Timing, lease: L) -> Result<Self, SetupError> {
        Self::with_capacity(raft, timing, lease)
    }
}

impl<L, const PEERS: usize, const INFLIGHT: usize> RaftLease<L, PEERS, INFLIGHT>
where
    L: core::ops::Deref<Target = Lease>,
{
    /// [`new`](RaftLease::new) with the capacities of the type:
    /// `RaftLease::<Arc<Lease>, 64, 1024>::with_capacity(..)`.
    ///
    /// # Errors
    ///
    /// As [`new`](RaftLease::new).
    pub fn with_capacity(
        raft: &raft::Config,
        timing: &Timing,
        lease: L,
    ) -> Result<Self, SetupError> {
        let config = lease_config(raft, timing)?;
        Ok(RaftLease {
            driver: LeaseDriver::new(raft.id, lease, &config)?,
            conf: ConfState::default(),
            membership_error: None,
            tick: timing.tick,
        })
    }

    /// Replaces the safety checks (negative controls only; see
    /// [`Safeguards`](leasehold_core::Safeguards)).
    #[cfg(feature = "negative-controls")]
    pub fn with_safeguards(mut self, safeguards: leasehold_core::Safeguards) -> Self {
        self.driver = self.driver.with_safeguards(safeguards);
        self
    }

    /// The lease readers consult.
    pub fn lease(&self) -> &Lease {
        self.driver.lease()
    }

    /// The driver underneath.
    pub fn driver(&self) -> &LeaseDriver<L, PEERS, INFLIGHT> {
        &self.driver
    }

    /// What the lease did so far.
    pub fn counters(&self) -> &Counters {
        self.driver.counters()
    }

    /// The last membership the tracker could not hold (more than `PEERS`
    /// voters); the lease stays invalid until the node's configuration fits.
    pub fn membership_error(&self) -> Option<TrackerError> {
        self.membership_error
    }

    /// Brings the lease in line with the node: role, term, whether an entry
    /// of the term is applied, and the voter sets.
    pub fn observe<S: Storage>(&mut self, node: &RawNode<S>) {
        let r = &node.raft;
        let own_term_entry_applied = match self.driver.safeguards().own_term_entry {
            OwnTermEntry::Committed => r.commit_to_current_term(),
            OwnTermEntry::Applied | OwnTermEntry::NotRequired => r.apply_to_current_term(),
        };
        self.driver.observe(NodeState {
            term: r.term,
            leader: r.state == StateRole::Leader,
            own_term_entry_applied,
        });
        let cs = r.prs().conf().to_conf_state();
        if cs != self.conf {
            self.set_membership(&cs);
            self.conf = cs;
        }
    }

    fn set_membership(&mut self, cs: &ConfState) {
        let mut voters = cs.voters.clone();
        if !self.driver.safeguards().voters_only {
            voters.extend_from_slice(&cs.learners);
            voters.extend_from_slice(&cs.learners_next);
        }
        voters.sort_unstable();
        voters.dedup();
        let mut outgoing = cs.voters_outgoing.clone();
        outgoing.sort_unstable();
        self.membership_error = self.driver.set_membership(&voters, &outgoing).err();
    }

    /// Steps a message from a peer, with the tag that came beside it.
    ///
    /// Vote and pre-vote requests the guard refuses are dropped (`Ok`,
    /// counted in [`Counters::votes_dropped`]); transfer campaigns pass.
    /// After stepping: a heartbeat, append or snapshot the node accepted
    /// arms the guard and becomes the tag to echo; a response credits its
    /// sender with the stamp of the request its tag names.
    ///
    /// # Errors
    ///
    /// What `RawNode::step` returns.
    pub fn step<S: Storage>(
        &mut self,
        node: &mut RawNode<S>,
        msg: Message,
        tag: Option<Tag>,
    ) -> raft::Result<()> {
        let kind = msg.get_msg_type();
        if matches!(
            kind,
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote
        ) {
            let forced = msg.context.as_ref() == CAMPAIGN_TRANSFER;
            if self.driver.on_vote_request(forced) == VoteDecision::Drop {
                return Ok(());
            }
        }
        let (from, term) = (msg.from, msg.term);
        let result = node.step(msg);
        self.observe(node);
        match kind {
            MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot => {
                let r = &node.raft;
                let accepted = r.term == term && r.leader_id == from;
                self.driver.on_leader_message(from, tag, accepted);
            }
            MessageType::MsgAppendResponse | MessageType::MsgHeartbeatResponse => {
                // A rejected append response counts: raft-rs resets its
                // election timer and adopts the sender as leader before it
                // checks the log, so the follower's promise holds.
                let _: Option<Extension> = self.driver.on_response(from, tag);
            }
            _ => {}
        }
        result
    }

    /// The [`Ticker`] that paces this node loop's ticks through
    /// [`tick_if_due`](Self::tick_if_due), at the `Timing::tick` the lease
    /// was derived from (a loop ticking at any other rate breaks the
    /// lease's premise, so there is no other way to build one); its first
    /// tick falls due a tick after `clock` reads now. Build it with the
    /// `RaftLease`, again on every restart.
    ///
    /// # Errors
    ///
    /// The clock's, if it cannot be read.
    pub fn ticker<C: Clock + ?Sized>(&self, clock: &C) -> Result<Ticker, ClockError> {
        Ok(Ticker::new(self.tick, clock.now()?))
    }

    /// Ticks the node (as [`tick`](Self::tick)) if `ticker` says a tick is
    /// due, deciding on a reading of `clock` taken here, after everything
    /// the loop stepped before: the `k`-th tick after any stepped message
    /// then comes at least `k - 1` ticks after it, which the lease assumes
    /// (see [`Ticker`]). Returns whether it ticked. A failed reading ticks
    /// nothing: with no reading there is no telling how long ago the last
    /// tick was (the lease itself ends at the next read or request that
    /// meets the failure).
    pub fn tick_if_due<S: Storage, C: Clock + ?Sized>(
        &mut self,
        ticker: &mut Ticker,
        node: &mut RawNode<S>,
        clock: &C,
    ) -> bool {
        let Ok(now) = clock.now() else {
            return false;
        };
        if !ticker.poll(now) {
            return false;
        }
        let _: bool = self.tick(node, Ok(now));
        true
    }

    /// One tick of the node loop: ticks the node and the driver (with a
    /// clock reading taken now) and observes. Returns what `RawNode::tick`
    /// returned.
    pub fn tick<S: Storage>(
        &mut self,
        node: &mut RawNode<S>,
        now: Result<Instant, ClockError>,
    ) -> bool {
        let ready = node.tick();
        // Observe first: a tick can make raft-rs step down (check-quorum),
        // and the driver's own tick must not confirm a leader that is gone.
        self.observe(node);
        self.driver.on_tick(now);
        ready
    }

    /// The tag to send beside an outgoing message, with a clock reading
    /// taken before the message leaves (one reading per batch is fine).
    /// `MsgTimeoutNow` suspends the lease for the rest of the term here,
    /// before it can leave.
    pub fn tag(&mut self, msg: &Message, now: Result<Instant, ClockError>) -> Option<Tag> {
        match msg.get_msg_type() {
            MessageType::MsgAppend | MessageType::MsgHeartbeat | MessageType::MsgSnapshot => {
                self.driver.tag_request(msg.to, now)
            }
            MessageType::MsgTimeoutNow => {
                self.driver.on_timeout_now_sent();
                None
            }
            MessageType::MsgAppendResponse | MessageType::MsgHeartbeatResponse => {
                self.driver.tag_response(msg.to)
            }
            _ => None,
        }
    }

    /// A read: served from `read` (the local snapshot) if the lease covers
    /// it before and after the snapshot; otherwise the stamp to run a
    /// ReadIndex with.
    pub fn read<C: Clock + ?Sized, T>(
        &mut self,
        clock: &C,
        read: impl FnOnce() -> T,
    ) -> Result<T, QuorumNeeded> {
        self.driver.read_local(clock, read)
    }

    /// Whether a ReadIndex answer of this node was confirmed by a quorum it
    /// belongs to, so that serving the read is linearizable. `false` on a
    /// leader that applied its own removal: raft-rs 0.7 keeps it leading and,
    /// once a single voter is left, answers its ReadIndex at once
    /// (`ProgressTracker::is_singleton` counts the voters, not whether the
    /// leader is one), even after that voter has taken over. Do not serve
    /// such a read; step down or stop the node (TiKV destroys it).
    pub fn read_index_confirmed<S: Storage>(&self, node: &RawNode<S>) -> bool {
        node.raft.prs().conf().voters().contains(node.raft.id)
    }

    /// Ends a ReadIndex round begun after `stamp` (from the `Err` of
    /// [`read`](Self::read)): call when its read state is applied, or with
    /// the error that ended it.
    pub fn finish_read_index<E: LeadershipLoss>(
        &mut self,
        stamp: Option<Stamp>,
        result: &Result<(), E>,
    ) -> RoundOutcome {
        self.driver.finish_read_index(stamp, result)
    }
}

/// Why a ReadIndex round did not complete, for
/// [`RaftLease::finish_read_index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadIndexError {
    /// The node lost leadership (or changed term) before the round ended:
    /// invalidates.
    NotLeader,
    /// The round timed out or was dropped; leadership is unknown: the lease
    /// is left alone.
    Timeout,
}

impl LeadershipLoss for ReadIndexError {
    fn is_leadership_loss(&self) -> bool {
        matches!(self, ReadIndexError::NotLeader)
    }
}
