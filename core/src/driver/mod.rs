//! The lease driver: Raft events in, lease decisions out (see [`LeaseDriver`]).

mod counters;
mod echo;
mod inflight;
mod safeguards;
mod tag;
mod vote_guard;

use core::ops::Deref;
use core::time::Duration;

pub use counters::{Cause, Counters, Extensions, Invalidations};
pub use safeguards::{OwnTermEntry, Safeguards};
pub use tag::Tag;

use counters::bump;
use echo::Echo;
use inflight::{InFlight, Sent};
use vote_guard::VoteGuard;

use crate::read::read_local_checked;
use crate::{
    Clock, ClockError, ConfigError, Extension, Instant, LeadershipLoss, Lease, LeaseConfig,
    QuorumNeeded, QuorumTracker, RoundOutcome, Stamp, TrackerError,
};

/// What the node's Raft reports to [`LeaseDriver::observe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NodeState {
    /// The node's current term.
    pub term: u64,
    /// Whether the node is the leader of that term.
    pub leader: bool,
    /// Whether the node has applied an entry of its current term to the
    /// state lease reads are served from (raft-rs:
    /// `apply_to_current_term()`, with `advance_apply` called only after
    /// the entries were applied). Until then a new leader's state may miss
    /// writes the previous leader acknowledged (invariant 16).
    pub own_term_entry_applied: bool,
}

/// What to do with a vote or pre-vote request ([`LeaseDriver::on_vote_request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum VoteDecision {
    /// Step it: the Raft may grant or refuse it by its own rules.
    Step,
    /// Drop it unseen: this node acknowledged a leader (or started) less
    /// than an election timeout ago.
    Drop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Suspension {
    None,
    /// A `MsgTimeoutNow` left this leader in the current term.
    UntilTermEnds,
    /// Negative control only: lifts at this tick count.
    UntilTick(u64),
}

/// The sans-IO lease driver of one Raft node: Raft events in, lease decisions out.
///
/// [`LeaseDriver`] owns everything a node needs so that its leader serves
/// lease reads that are never stale, whatever Raft implementation it runs:
/// the [`Lease`] (shared with readers), the [`QuorumTracker`], the table of
/// requests in flight (tag to stamp and peer), what a follower echoes, and
/// the vote guard. It is sans-IO and allocation-free: the caller reports
/// what its Raft did and sends what the driver returns; capacities are in the
/// type. An adapter maps one Raft's types onto it (`leasehold-raft` does it
/// for raft-rs 0.7).
///
/// # What to call, and when
///
/// | event | call |
/// |---|---|
/// | after every interaction with the Raft (step, tick, propose, campaign, apply) | [`observe`](LeaseDriver::observe) with its term, role and whether an entry of its term is applied |
/// | the voter sets changed (joint consensus: both) | [`set_membership`](LeaseDriver::set_membership) |
/// | every Raft tick | [`on_tick`](LeaseDriver::on_tick), with a clock reading |
/// | the leader sends a heartbeat, append or snapshot | [`tag_request`](LeaseDriver::tag_request); send the [`Tag`] beside the message |
/// | the leader sends `MsgTimeoutNow` (a transfer) | [`on_timeout_now_sent`](LeaseDriver::on_timeout_now_sent), **before** it leaves |
/// | a node sends a response to a leader's request | [`tag_response`](LeaseDriver::tag_response); send the tag beside it |
/// | a vote or pre-vote request arrives, **before** stepping it | [`on_vote_request`](LeaseDriver::on_vote_request); drop it on [`VoteDecision::Drop`] |
/// | a heartbeat, append or snapshot was stepped | [`on_leader_message`](LeaseDriver::on_leader_message), saying whether the Raft accepted the sender as leader of the message's term |
/// | a response to a leader's request was stepped and observed | [`on_response`](LeaseDriver::on_response) |
/// | a client read | [`read_local`](LeaseDriver::read_local); on `Err`, a quorum read (ReadIndex), then [`finish_read_index`](LeaseDriver::finish_read_index) |
///
/// # Why each decision is safe
///
/// * **A tag is a proof of acceptance.** A follower echoes the newest tag it
///   *accepted* (adopted the sender as leader of the tag's term). Its vote
///   guard was armed at that moment, after the leader stamped the request,
///   so crediting the ack with that request's stamp is never later than the
///   follower's promise (invariant 4), whichever response carries the tag
///   and however late it arrives. Tags carry the leader's term, and a leader
///   credits only tags of its current term, sent to that very peer: a node
///   leads a term at most once, so a response to an earlier incarnation's
///   request never matches (invariant 17).
/// * **The vote guard.** A node that accepted a leader's message drops vote
///   and pre-vote requests for `election_ticks` of its own ticks, and so does
///   a node that just started (it may have acknowledged a leader before it
///   crashed). Term changes do not disarm it, so the promise survives a
///   follower adopting a higher term from a stray response, which makes
///   raft-rs forget its leader and vote at once (invariant 15). Forced
///   (transfer) votes pass: see the next point.
/// * **Transfers.** The target of `MsgTimeoutNow` campaigns past every
///   voter's guard, and the message may arrive at any later time in the term,
///   so sending it suspends the lease until the term ends (invariant 14).
/// * **What extends.** Only a leader with a valid membership, an applied
///   entry of its own term (invariant 16) and no suspension extends; every
///   extension is from a stamp (instant and generation) taken before the
///   confirming event.
/// * **What invalidates.** Leaving the leader role, a term change, a
///   transfer, a failed clock read, a membership the tracker cannot hold, a
///   round that reports a leadership loss, and starting (the lease handed to
///   [`LeaseDriver::new`] is invalidated: a restart invalidates).
/// * **Reads** are validated again after the local snapshot (invariant 12).
///   The lease is the only thing a reader consults: every condition above is
///   folded into it, so readers on other threads can use
///   [`Lease`] and [`read_local`](crate::read_local) directly.
///
/// # Example: one heartbeat round and a read
///
/// ```
/// use core::time::Duration;
/// use leasehold_core::{
///     Clock, Instant, Lease, LeaseConfig, LeaseDriver, ManualClock, NodeState, VoteDecision,
/// };
///
/// let config = LeaseConfig::new(Duration::from_millis(10), 10)
///     .max_drift_ppm(1_000)
///     .clock_resolution(Duration::from_nanos(1))
///     .margin(Duration::from_millis(2))
///     .check_quorum(true);
/// let clock = ManualClock::new(Instant::from_nanos(1_000_000_000).unwrap());
/// let (l1, l2) = (Lease::new(), Lease::new());
/// let mut leader = LeaseDriver::<&Lease>::new(1, &l1, &config)?;
/// let mut follower = LeaseDriver::<&Lease>::new(2, &l2, &config)?;
/// for d in [&mut leader, &mut follower] {
///     d.set_membership(&[1, 2, 3], &[]).unwrap();
/// }
///
/// // Node 1 won term 5 and applied its first entry of the term.
/// leader.observe(NodeState { term: 5, leader: true, own_term_entry_applied: true });
/// follower.observe(NodeState { term: 5, leader: false, own_term_entry_applied: false });
///
/// // The leader sends a heartbeat to 2 and tags it; 2 accepts it and echoes the tag.
/// let tag = leader.tag_request(2, clock.now());
/// clock.advance(Duration::from_millis(1));
/// follower.on_leader_message(1, tag, true);
/// let echoed = follower.tag_response(1);
/// assert_eq!(echoed, tag);
/// clock.advance(Duration::from_millis(1));
/// leader.on_response(2, echoed);
///
/// // {1, 2} is a majority of {1, 2, 3}: reads are local now.
/// assert_eq!(leader.read_local(&clock, || "state"), Ok("state"));
/// // The follower refuses votes inside the lease it confirmed.
/// assert_eq!(follower.on_vote_request(false), VoteDecision::Drop);
/// assert_eq!(leader.counters().reads_local, 1);
///
/// // A transfer: the lease is gone until the term ends.
/// leader.on_timeout_now_sent();
/// assert!(leader.read_local(&clock, || "state").is_err());
/// # Ok::<(), leasehold_core::ConfigError>(())
/// ```
///
/// `L` is how the driver holds its [`Lease`]: `&'static Lease` on a
/// microcontroller, `Arc<Lease>` (or `&Lease`) elsewhere, so that readers on
/// other threads share it. `PEERS` is the tracker's capacity (both voter sets
/// of a joint configuration together), `INFLIGHT` the number of sent
/// requests remembered (a response to a forgotten one credits nothing; it
/// must be above zero, which heapless checks at compile time).
#[derive(Debug)]
pub struct LeaseDriver<L, const PEERS: usize = 16, const INFLIGHT: usize = 256> {
    id: u64,
    lease: L,
    lease_duration: Duration,
    election_ticks: usize,
    safeguards: Safeguards,
    leader: bool,
    term: u64,
    lease_term: u64,
    own_term_applied: bool,
    membership_ok: bool,
    suspension: Suspension,
    ticks: u64,
    tracker: QuorumTracker<PEERS>,
    inflight: InFlight<INFLIGHT>,
    next_seq: u64,
    echo: Echo,
    guard: VoteGuard,
    counters: Counters,
}

impl<L, const PEERS: usize, const INFLIGHT: usize> LeaseDriver<L, PEERS, INFLIGHT>
where
    L: Deref<Target = Lease>,
{
    /// The driver of node `id`, timed by `config` (its lease duration, and
    /// its `election_ticks` for the vote guard).
    ///
    /// The lease is invalidated first: a driver starts without a lease,
    /// whatever the `Lease` held before (a restart invalidates), and with
    /// the vote guard armed for one election timeout, because a node cannot
    /// know that it did not acknowledge a leader just before it went down.
    /// Call [`set_membership`](Self::set_membership) before anything can
    /// extend.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] of [`LeaseConfig::lease_duration`]; nothing is
    /// touched then.
    pub fn new(id: u64, lease: L, config: &LeaseConfig) -> Result<Self, ConfigError> {
        let lease_duration = config.lease_duration()?;
        let election_ticks = config.election_ticks();
        let mut tracker = QuorumTracker::new(id);
        tracker.reset(lease.invalidate());
        let mut guard = VoteGuard::new();
        guard.arm(election_ticks);
        Ok(LeaseDriver {
            id,
            lease,
            lease_duration,
            election_ticks,
            safeguards: Safeguards::ALL,
            leader: false,
            term: 0,
            lease_term: 0,
            own_term_applied: false,
            membership_ok: false,
            suspension: Suspension::None,
            ticks: 0,
            tracker,
            inflight: InFlight::new(),
            next_seq: 1,
            echo: Echo::new(),
            guard,
            counters: Counters::default(),
        })
    }

    /// Replaces the safety checks (negative controls only; see [`Safeguards`]).
    #[cfg(feature = "negative-controls")]
    pub fn with_safeguards(mut self, safeguards: Safeguards) -> Self {
        self.safeguards = safeguards;
        if !safeguards.restart_guard {
            self.guard.disarm();
        }
        self
    }

    /// The safety checks in force ([`Safeguards::ALL`] unless a negative
    /// control replaced them). Adapters read the ones their mapping applies.
    pub fn safeguards(&self) -> &Safeguards {
        &self.safeguards
    }

    /// The lease readers consult.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The term last observed.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Whether the node was leader at the last observation.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// The term the lease was last extended in (0 before the first
    /// extension): the term whose leadership a valid lease vouches for.
    pub fn lease_term(&self) -> u64 {
        self.lease_term
    }

    /// The lease duration extensions use.
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    /// The vote guard's length in ticks (the config's `election_ticks`).
    pub fn election_ticks(&self) -> usize {
        self.election_ticks
    }

    /// Whether a transfer suspended the lease in this term.
    pub fn is_suspended(&self) -> bool {
        self.suspension != Suspension::None
    }

    /// Whether vote requests are being dropped now.
    pub fn guarding_votes(&self) -> bool {
        self.guard.armed()
    }

    /// The quorum tracker (for inspection).
    pub fn tracker(&self) -> &QuorumTracker<PEERS> {
        &self.tracker
    }

    /// Requests in flight remembered now.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// What the driver did so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Brings the driver in line with the Raft: call after every interaction.
    ///
    /// A change of role or term invalidates the lease, forgets the requests
    /// in flight and lifts a transfer suspension (the term it covered is
    /// over). When a leader's first entry of its term becomes applied, the
    /// quorum already confirmed extends the lease at once.
    pub fn observe(&mut self, state: NodeState) {
        if state.leader != self.leader || state.term != self.term {
            let cause = match (self.leader, state.leader) {
                (true, false) => Some(Cause::Role),
                (true, true) => Some(Cause::Term),
                _ => None,
            };
            self.leader = state.leader;
            self.term = state.term;
            self.own_term_applied = false;
            self.suspension = Suspension::None;
            self.inflight.clear();
            if self.safeguards.step_down_invalidates {
                self.invalidate(cause);
            } else {
                self.tracker.reset(self.lease.generation());
            }
        }
        let newly_applied = state.own_term_entry_applied && !self.own_term_applied;
        self.own_term_applied = state.own_term_entry_applied;
        if newly_applied {
            if let Some(q) = self.tracker.quorum_stamp() {
                let _ = self.try_extend(q);
            }
        }
    }

    /// Installs the voter sets (joint consensus: `outgoing` non-empty). Pass
    /// voters only, never learners.
    ///
    /// # Errors
    ///
    /// The tracker's [`TrackerError`] (empty set, duplicate, more than
    /// `PEERS` peers). The tracker then keeps its old membership, but acks
    /// counted against it prove nothing about the configuration the Raft now
    /// runs, so the lease is invalidated and nothing extends until a
    /// membership is installed.
    pub fn set_membership(&mut self, voters: &[u64], outgoing: &[u64]) -> Result<(), TrackerError> {
        match self.tracker.set_membership(voters, outgoing) {
            Ok(()) => {
                self.membership_ok = true;
                // The quorum may have moved (a slow voter left).
                if let Some(q) = self.tracker.quorum_stamp() {
                    let _ = self.try_extend(q);
                }
                Ok(())
            }
            Err(e) => {
                self.membership_ok = false;
                let cause = self.leader.then_some(Cause::Membership);
                self.invalidate(cause);
                Err(e)
            }
        }
    }

    /// One Raft tick, with a clock reading taken now. Counts the vote guard
    /// down; a leader confirms itself, so a lone voter keeps its lease
    /// without sending anything. A failed reading on a leader invalidates.
    pub fn on_tick(&mut self, now: Result<Instant, ClockError>) {
        self.guard.tick();
        self.ticks = self.ticks.saturating_add(1);
        if let Suspension::UntilTick(t) = self.suspension {
            if self.ticks >= t {
                self.suspension = Suspension::None;
            }
        }
        if self.leader {
            match now {
                Ok(now) => self.self_ack(self.lease.stamp(now)),
                Err(_) => self.clock_failed(),
            }
        }
    }

    /// The leader sends a heartbeat, append or snapshot to `to`: returns the
    /// tag to send beside it, stamped with `now` (taken before sending). The
    /// leader's own ack is recorded with the same stamp. `None` on a
    /// non-leader, and on a failed reading, which also invalidates: a
    /// request without a stamp cannot extend.
    pub fn tag_request(&mut self, to: u64, now: Result<Instant, ClockError>) -> Option<Tag> {
        if !self.leader {
            return None;
        }
        let now = match now {
            Ok(now) => now,
            Err(_) => {
                self.clock_failed();
                return None;
            }
        };
        let seq = self.next_seq;
        // 2^64 requests never happen; if they did, stop tagging rather than wrap.
        self.next_seq = seq.checked_add(1)?;
        let stamp = self.lease.stamp(now);
        self.inflight.push(Sent { seq, to, stamp });
        self.self_ack(stamp);
        let term = if self.safeguards.unique_tags {
            self.term
        } else {
            0
        };
        Some(Tag::new(term, seq))
    }

    /// The leader is about to send `MsgTimeoutNow`: the target will campaign
    /// past every voter's guard whenever the message arrives, so the lease
    /// is invalidated and suspended until the term ends (invariant 14).
    pub fn on_timeout_now_sent(&mut self) {
        if !self.safeguards.transfer_suspends {
            return;
        }
        self.suspension = if self.safeguards.suspension_lasts_the_term {
            Suspension::UntilTermEnds
        } else {
            let ticks = u64::try_from(self.election_ticks).unwrap_or(u64::MAX);
            Suspension::UntilTick(self.ticks.saturating_add(ticks))
        };
        self.invalidate(Some(Cause::Transfer));
    }

    /// The tag to send beside a response to `to`: the newest tag this node
    /// accepted from `to`, if `to` is the leader it accepted last.
    pub fn tag_response(&self, to: u64) -> Option<Tag> {
        self.echo.tag_for(to)
    }

    /// A vote or pre-vote request arrived; call **before** stepping it.
    /// `forced` is a transfer campaign (raft-rs: context
    /// `CAMPAIGN_TRANSFER`), which passes: the leader that sent
    /// `MsgTimeoutNow` suspended its lease for the whole term.
    pub fn on_vote_request(&mut self, forced: bool) -> VoteDecision {
        if self.guard.armed() && !forced {
            bump(&mut self.counters.votes_dropped);
            VoteDecision::Drop
        } else {
            VoteDecision::Step
        }
    }

    /// The node stepped a heartbeat, append or snapshot from `from` that
    /// carried `tag`. `accepted`: the Raft now follows `from` as leader of
    /// the message's term (raft-rs: its term is the message's and its
    /// `leader_id` is `from`), which arms the vote guard and makes the tag
    /// echoable. A request from an older term is not accepted.
    pub fn on_leader_message(&mut self, from: u64, tag: Option<Tag>, accepted: bool) {
        if accepted {
            if self.safeguards.vote_guard {
                self.guard.arm(self.election_ticks);
            }
            if let Some(tag) = tag {
                if self.safeguards.unique_tags {
                    self.echo.record(from, tag);
                } else {
                    self.echo.record_latest(from, tag);
                }
            }
        } else if let (Some(tag), false) = (tag, self.safeguards.unique_tags) {
            self.echo.record_latest(from, tag);
        }
    }

    /// The node stepped a response from `from` carrying `tag` and observed
    /// the result; returns what the extension did, if one was attempted.
    ///
    /// Credits `from` with the stamp of the request the tag names if the
    /// node still leads, the tag is of its current term and was sent to
    /// `from`, and `from` is a voter. Call it after stepping: a response of
    /// a higher term has then made the node step down, and a concurrent
    /// reader never sees an extension the response's own term disowns.
    pub fn on_response(&mut self, from: u64, tag: Option<Tag>) -> Option<Extension> {
        let tag = tag?;
        if !self.leader || (self.safeguards.unique_tags && tag.term() != self.term) {
            bump(&mut self.counters.acks_ignored);
            return None;
        }
        let stamp = if self.safeguards.credit_echoed_request {
            self.inflight.stamp_of(tag.seq(), from)
        } else {
            self.inflight.newest_to(from)
        };
        let Some(stamp) = stamp else {
            bump(&mut self.counters.acks_ignored);
            return None;
        };
        match self.tracker.record_ack(from, stamp) {
            Ok(Some(q)) => self.try_extend(q),
            Ok(None) => None,
            Err(_) => {
                bump(&mut self.counters.acks_ignored);
                None
            }
        }
    }

    /// Serves a read locally if the lease covers it, validating again after
    /// `read` took the snapshot (invariant 12); otherwise returns the stamp
    /// for the quorum read. A failed clock reading invalidates.
    pub fn read_local<C, T>(
        &mut self,
        clock: &C,
        read: impl FnOnce() -> T,
    ) -> Result<T, QuorumNeeded>
    where
        C: Clock + ?Sized,
    {
        let result = read_local_checked(&self.lease, clock, read, &self.safeguards);
        match &result {
            Ok(_) => bump(&mut self.counters.reads_local),
            Err(need) => {
                bump(&mut self.counters.lease_misses);
                if need.stamp.is_none() {
                    self.clock_failed();
                }
            }
        }
        result
    }

    /// Settles a quorum read (ReadIndex) started after `stamp` was taken
    /// (the stamp of [`QuorumNeeded`]): success extends the lease from it
    /// when the driver may extend and this node is a voter of its own
    /// membership ([`RoundOutcome::Withheld`] otherwise), a leadership loss
    /// invalidates, any other error leaves the lease alone (invariant 11).
    pub fn finish_read_index<T, E: LeadershipLoss>(
        &mut self,
        stamp: Option<Stamp>,
        result: &Result<T, E>,
    ) -> RoundOutcome {
        match result {
            Ok(_) => {
                bump(&mut self.counters.reads_quorum);
                match stamp {
                    None => RoundOutcome::NoStamp,
                    // A leader outside its own voter sets (it applied its
                    // removal) has no quorum that includes it: raft-rs 0.7
                    // even answers its ReadIndex at once when one voter is
                    // left, without asking that voter. Such a round
                    // confirms nothing.
                    Some(_) if !self.tracker.is_voter(self.id) => {
                        bump(&mut self.counters.extensions_withheld);
                        RoundOutcome::Withheld
                    }
                    Some(stamp) => match self.try_extend(stamp) {
                        Some(e) => RoundOutcome::Extension(e),
                        None => RoundOutcome::Withheld,
                    },
                }
            }
            Err(e) if e.is_leadership_loss() => {
                let generation = self.lease.invalidate();
                self.tracker.reset(generation);
                if self.leader {
                    self.counters.invalidation(Cause::Role);
                }
                RoundOutcome::Invalidated { generation }
            }
            Err(_) => RoundOutcome::Unchanged,
        }
    }

    fn self_ack(&mut self, stamp: Stamp) {
        // The leader is a voter like any other; outside the membership (it
        // removed itself) its ack is refused and only the others count.
        if let Ok(Some(q)) = self.tracker.record_ack(self.id, stamp) {
            let _ = self.try_extend(q);
        }
    }

    fn may_extend(&self) -> bool {
        let own_term = match self.safeguards.own_term_entry {
            OwnTermEntry::NotRequired => true,
            // The adapter feeds the committed condition for `Committed`.
            OwnTermEntry::Applied | OwnTermEntry::Committed => self.own_term_applied,
        };
        self.leader && self.membership_ok && own_term && self.suspension == Suspension::None
    }

    fn try_extend(&mut self, stamp: Stamp) -> Option<Extension> {
        if !self.may_extend() {
            bump(&mut self.counters.extensions_withheld);
            return None;
        }
        let e = self.lease.extend(stamp, self.lease_duration);
        if e == Extension::Extended {
            self.lease_term = self.term;
        }
        self.counters.extension(e);
        Some(e)
    }

    fn clock_failed(&mut self) {
        if self.safeguards.clock_error_invalidates {
            let cause = self.leader.then_some(Cause::Clock);
            self.invalidate(cause);
        }
    }

    fn invalidate(&mut self, cause: Option<Cause>) {
        self.tracker.reset(self.lease.invalidate());
        if let Some(c) = cause {
            self.counters.invalidation(c);
        }
    }
}

#[cfg(test)]
mod tests;
