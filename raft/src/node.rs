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
///   through [`tick_if_due`](Self::tick_if_due), and call [`observe`](Self::observe) after
///   anything else that touches the node (`propose`, `read_index`,
///   `campaign`, `transfer_leader`, `advance*`, `apply_conf_change`).
///   `tick_if_due` paces the ticks: a loop that fires the ticks it missed
///   during a stall in a burst after messages that waited meanwhile, or
///   decides on a clock reading taken before it stepped them, lets the vote
///   guard open early.
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
    /// Paces `tick_if_due` at the tick the lease was derived from.
    ticker: Ticker,
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
            ticker: Ticker::new(timing.tick),
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

    /// Ticks the node (as [`tick`](Self::tick)) if a tick is due, deciding
    /// on a reading of `tick_clock` taken here, after everything the loop
    /// stepped before. A late tick fires once and the next falls due a
    /// whole tick after it, so the `k`-th tick after any stepped message
    /// comes at least `k - 1` ticks after it, which the lease assumes;
    /// missed ticks are dropped, never fired in a burst. The schedule lives
    /// in this `RaftLease` at the `Timing::tick` its lease was derived from,
    /// starts at the first call, and goes with it: a restart's new
    /// `RaftLease` starts afresh. Returns whether it ticked.
    ///
    /// `tick_clock` paces the ticks: pass the same clock at every call, one
    /// that never steps forward (std's `Instant`, as `leasehold-hal-fallback`'s
    /// `FallbackClock` reads it, which the time daemon slews but never
    /// steps; not a lease clock that may jump ahead, such as
    /// `SuspendAwareClock`), with a rate error within
    /// `Timing::tick_drift_ppm`. `lease_clock` gives the driver its
    /// reading for the tick. A failed `tick_clock` reading ticks nothing:
    /// with no reading there is no telling how long ago the last tick was.
    /// Do not also call [`tick`](Self::tick) on the same node.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use leasehold_core::{Clock, Instant, Lease, ManualClock};
    /// use leasehold_raft::{RaftLease, Timing};
    /// use raft::{storage::MemStorage, Config, RawNode};
    ///
    /// let tick = Duration::from_millis(10);
    /// let clock = ManualClock::new(Instant::from_nanos(1_000_000).unwrap());
    /// let timing = Timing {
    ///     tick,
    ///     lease_clock: clock.info(),
    ///     tick_drift_ppm: 1_000,
    ///     margin: Duration::from_millis(1),
    ///     machine_never_suspends: true,
    /// };
    /// let cfg = Config { id: 1, check_quorum: true, ..Default::default() };
    /// let storage = MemStorage::new_with_conf_state((vec![1], vec![]));
    /// let logger = slog::Logger::root(slog::Discard, slog::o!());
    /// let mut node = RawNode::new(&cfg, storage, &logger)?;
    /// let mut lease = RaftLease::new(&cfg, &timing, Arc::new(Lease::new()))?;
    /// // The first call starts the schedule.
    /// assert!(!lease.tick_if_due(&mut node, &clock, &clock));
    /// clock.advance(tick);
    /// assert!(lease.tick_if_due(&mut node, &clock, &clock));
    /// // Late by 4 ms: the next tick is a whole tick after this one.
    /// clock.advance(tick + Duration::from_millis(4));
    /// assert!(lease.tick_if_due(&mut node, &clock, &clock));
    /// assert_eq!(lease.next_tick_in(clock.now()), tick);
    /// // A stall of 20 ticks: one tick, not twenty.
    /// clock.advance(20 * tick);
    /// assert!(lease.tick_if_due(&mut node, &clock, &clock));
    /// assert!(!lease.tick_if_due(&mut node, &clock, &clock));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tick_if_due<S, T, C>(
        &mut self,
        node: &mut RawNode<S>,
        tick_clock: &T,
        lease_clock: &C,
    ) -> bool
    where
        S: Storage,
        T: Clock + ?Sized,
        C: Clock + ?Sized,
    {
        let Ok(now) = tick_clock.now() else {
            return false;
        };
        if !self.ticker.poll(now) {
            return false;
        }
        let _: bool = self.tick(node, lease_clock.now());
        true
    }

    /// How long the node loop may wait for messages before the next
    /// [`tick_if_due`](Self::tick_if_due), from a `tick_clock` reading taken
    /// now: zero once a tick is due (and before the first call); a whole
    /// tick if the reading failed, so that the loop retries instead of
    /// spinning.
    pub fn next_tick_in(&self, tick_clock_now: Result<Instant, ClockError>) -> Duration {
        self.ticker.wait(tick_clock_now)
    }

    /// One tick, unpaced: ticks the node and the driver (with a lease
    /// clock reading taken now) and observes. Returns what `RawNode::tick`
    /// returned. For a loop whose ticks are paced by something other than
    /// [`tick_if_due`](Self::tick_if_due) (a simulation's exact timer, say),
    /// which must then keep every tick at least a tick after the previous
    /// one and never fire missed ticks in a burst; a node loop on real time
    /// uses `tick_if_due`.
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
