//! The glue between a raft-rs [`RawNode`] and leasehold: everything a node
//! must do so that its leader serves lease reads that are never stale.
//!
//! Lift this module into your own node. It is written against raft-rs 0.7
//! and leasehold-core only; the simulation in this crate is just one user.
//!
//! # What the node loop calls, and when
//!
//! | when | call |
//! |---|---|
//! | after every `step`, `tick`, `campaign`, `propose`, `read_index`, before acting on anything lease-related | [`LeaseGlue::observe`] (role, term, transfer and membership changes invalidate) |
//! | every raft tick | [`LeaseGlue::on_tick`] (counts down the restart guard) |
//! | a message arrives from a peer, **before** `RawNode::step` | [`LeaseGlue::accept_incoming`]; drop the message if it returns `false` |
//! | messages leave (`Ready::messages`, `persisted_messages`, `LightReady::messages`) | [`LeaseGlue::tag_outgoing`] once per batch; send each message with the tag it returns |
//! | before `RawNode::transfer_leader` | [`LeaseGlue::on_transfer_requested`] |
//! | a client read on the leader | [`LeaseGlue::read_local`]; on `Err`, a raft-rs ReadIndex (`ReadOnlyOption::Safe`) and then [`LeaseGlue::finish_read_index`] with the stamp from the `Err` |
//!
//! # Tags: stamps echoed by the transport
//!
//! Every heartbeat and append the leader sends gets a sequence number (a
//! *tag*) that travels next to the raft message (in your envelope, e.g. a
//! field beside the serialized `eraftpb::Message`). The leader remembers the
//! [`Stamp`] it took when it sent that tag. A follower copies the smallest tag
//! of the requests it stepped from a leader onto the responses it sends that
//! leader next (the node loop steps, then handles the `Ready`, so those
//! responses answer those requests; echoing the smallest is conservative if
//! several were batched). When a response of the leader's current term from a
//! current voter comes back with a tag, the leader records an ack with the
//! stamp of that tag in its [`QuorumTracker`], and extends the lease from the
//! quorum stamp. A response is therefore never credited with a time later than
//! the request it answers (invariant 4).
//!
//! # What invalidates
//!
//! Leaving the leader role, any term change, a membership change that the
//! tracker cannot absorb, and a leadership transfer: raft-rs sends
//! `MsgTimeoutNow` and the target campaigns at once, with votes that bypass
//! the followers' check-quorum lease, so the old leader's lease must end when
//! the transfer is requested, and no extension is accepted while it is pending
//! (invariant 9).
//!
//! # The restart guard
//!
//! raft-rs forgets on restart that it recently heard from a leader
//! (`leader_id` and `election_elapsed` are volatile), so a restarted follower
//! would grant a vote at once, inside a lease it helped to confirm. A glue
//! built with [`LeaseGlue::restarted`] drops vote and pre-vote requests for one
//! election timeout (counted in raft ticks, as raft-rs counts its own lease).
//!
//! # Reads
//!
//! A lease read is served only by a leader that has committed an entry of its
//! own term (otherwise its state may miss writes acknowledged by the previous
//! leader) and with no transfer pending, and it is validated again *after*
//! the local snapshot ([`leasehold_core::read_local`], invariant 12). Anything
//! else goes through ReadIndex, whose stamp was taken before the ReadIndex was
//! issued.

use std::collections::BTreeMap;
use std::time::Duration;

use leasehold_core::{
    finish_round, read_local, Clock, ClockError, Extension, Instant, LeadershipLoss, Lease,
    QuorumNeeded, QuorumTracker, RoundOutcome, Stamp,
};
use raft::eraftpb::{Message, MessageType};
use raft::{RawNode, StateRole, Storage};

/// Capacity of the quorum tracker: peers of the incoming and outgoing voter sets together.
pub const MAX_PEERS: usize = 16;

/// How many sent tags a leader remembers; responses to older ones are ignored.
const MAX_SENT: usize = 4096;

/// Switches that exist only so the simulation can show what goes wrong
/// without them. Production code uses [`GlueOptions::default`] (everything on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlueOptions {
    /// Invalidate when a leadership transfer is requested or pending.
    pub invalidate_on_transfer: bool,
    /// Drop vote requests for one election timeout after a restart.
    pub restart_guard: bool,
}

impl Default for GlueOptions {
    fn default() -> Self {
        GlueOptions {
            invalidate_on_transfer: true,
            restart_guard: true,
        }
    }
}

/// Why a ReadIndex round did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadIndexError {
    /// The node is no longer leader (or changed term) before the round finished.
    NotLeader,
    /// The round timed out or was dropped; leadership is unknown.
    Timeout,
}

impl LeadershipLoss for ReadIndexError {
    fn is_leadership_loss(&self) -> bool {
        matches!(self, ReadIndexError::NotLeader)
    }
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    to: u64,
    stamp: Stamp,
    term: u64,
}

/// Lease state of one raft node: the [`Lease`], its [`QuorumTracker`], the
/// tags in flight and the restart guard. See the module docs for the calls.
#[derive(Debug)]
pub struct LeaseGlue {
    id: u64,
    lease: Lease,
    tracker: QuorumTracker<MAX_PEERS>,
    lease_duration: Duration,
    opts: GlueOptions,
    leader: bool,
    term: u64,
    transfer_pending: bool,
    voters: Vec<u64>,
    outgoing: Vec<u64>,
    next_tag: u64,
    sent: BTreeMap<u64, Sent>,
    echo: BTreeMap<u64, u64>,
    guard_ticks: usize,
}

impl LeaseGlue {
    /// Glue for node `id` on its first start, with the lease duration from
    /// [`leasehold_core::LeaseConfig::lease_duration`].
    pub fn new(id: u64, lease_duration: Duration, opts: GlueOptions) -> LeaseGlue {
        LeaseGlue {
            id,
            lease: Lease::new(),
            tracker: QuorumTracker::new(id),
            lease_duration,
            opts,
            leader: false,
            term: 0,
            transfer_pending: false,
            voters: Vec::new(),
            outgoing: Vec::new(),
            next_tag: 1,
            sent: BTreeMap::new(),
            echo: BTreeMap::new(),
            guard_ticks: 0,
        }
    }

    /// Glue for node `id` after a restart: as [`new`](Self::new), plus the
    /// restart guard for `election_ticks` raft ticks.
    pub fn restarted(
        id: u64,
        lease_duration: Duration,
        election_ticks: usize,
        opts: GlueOptions,
    ) -> LeaseGlue {
        let mut g = LeaseGlue::new(id, lease_duration, opts);
        if opts.restart_guard {
            g.guard_ticks = election_ticks;
        }
        g
    }

    /// The lease (for its expiry and generation; reads go through [`read_local`](Self::read_local)).
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The raft term the lease belongs to (the term last observed).
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Whether the restart guard still drops vote requests.
    pub fn guarding(&self) -> bool {
        self.guard_ticks > 0
    }

    fn invalidate(&mut self) {
        self.tracker.reset(self.lease.invalidate());
        self.sent.clear();
    }

    /// Brings the lease in line with raft's state: call after every
    /// interaction with the `RawNode`. Role change, term change and a pending
    /// transfer invalidate; membership changes go to the tracker.
    pub fn observe<S: Storage>(&mut self, node: &RawNode<S>) {
        let r = &node.raft;
        let leader = r.state == StateRole::Leader;
        if leader != self.leader || r.term != self.term {
            self.leader = leader;
            self.term = r.term;
            self.transfer_pending = false;
            self.invalidate();
        }
        let transfer = self.opts.invalidate_on_transfer && r.lead_transferee.is_some();
        if transfer && !self.transfer_pending {
            self.invalidate();
        }
        self.transfer_pending = transfer;
        let cs = r.prs().conf().to_conf_state();
        if cs.voters != self.voters || cs.voters_outgoing != self.outgoing {
            self.voters = cs.voters.clone();
            self.outgoing = cs.voters_outgoing.clone();
            let mut v = self.voters.clone();
            v.sort_unstable();
            let mut o = self.outgoing.clone();
            o.sort_unstable();
            if v.is_empty() || self.tracker.set_membership(&v, &o).is_err() {
                self.invalidate();
            }
        }
    }

    /// Call on every raft tick.
    pub fn on_tick(&mut self) {
        self.guard_ticks = self.guard_ticks.saturating_sub(1);
    }

    /// Call when the application asks for a leadership transfer, before
    /// `RawNode::transfer_leader`: the target may win at once.
    pub fn on_transfer_requested(&mut self) {
        if self.opts.invalidate_on_transfer {
            self.invalidate();
            self.transfer_pending = true;
        }
    }

    /// Inspects a message from a peer before it is stepped; `false` means
    /// drop it (restart guard). Responses with a tag record acks.
    pub fn accept_incoming(&mut self, msg: &Message, tag: Option<u64>) -> bool {
        match msg.get_msg_type() {
            MessageType::MsgRequestVote | MessageType::MsgRequestPreVote if self.guarding() => {
                return false;
            }
            MessageType::MsgHeartbeat | MessageType::MsgAppend => {
                if let Some(tag) = tag {
                    let e = self.echo.entry(msg.from).or_insert(tag);
                    *e = (*e).min(tag);
                }
            }
            MessageType::MsgHeartbeatResponse | MessageType::MsgAppendResponse => {
                if let Some(tag) = tag {
                    self.record_response(msg, tag);
                }
            }
            _ => {}
        }
        true
    }

    fn record_response(&mut self, msg: &Message, tag: u64) {
        if !self.leader || msg.term != self.term || msg.reject || self.transfer_pending {
            return;
        }
        let Some(sent) = self.sent.get(&tag).copied() else {
            return;
        };
        if sent.to != msg.from || sent.term != self.term {
            return;
        }
        // Unknown peers (learners, removed voters) are refused by the tracker.
        if let Ok(Some(q)) = self.tracker.record_ack(msg.from, sent.stamp) {
            let _: Extension = self.lease.extend(q, self.lease_duration);
        }
    }

    /// Tags a batch of outgoing messages: heartbeats and appends of a leader
    /// get fresh tags stamped with `now`, responses to a leader carry back the
    /// tag of the request they answer. Returns one tag per message.
    /// `MsgTimeoutNow` (a transfer about to happen) invalidates first.
    pub fn tag_outgoing(
        &mut self,
        msgs: &[Message],
        now: Result<Instant, ClockError>,
    ) -> Vec<Option<u64>> {
        let mut own_stamp = None;
        let mut tags = Vec::with_capacity(msgs.len());
        for m in msgs {
            let tag = match m.get_msg_type() {
                MessageType::MsgTimeoutNow => {
                    if self.opts.invalidate_on_transfer {
                        self.invalidate();
                        self.transfer_pending = true;
                    }
                    None
                }
                MessageType::MsgHeartbeat | MessageType::MsgAppend
                    if self.leader && !self.transfer_pending =>
                {
                    match now {
                        Ok(now) => {
                            let stamp = *own_stamp.get_or_insert_with(|| self.lease.stamp(now));
                            let tag = self.next_tag;
                            self.next_tag += 1;
                            self.sent.insert(
                                tag,
                                Sent {
                                    to: m.to,
                                    stamp,
                                    term: self.term,
                                },
                            );
                            Some(tag)
                        }
                        // No time, no stamp: this round cannot extend.
                        Err(_) => None,
                    }
                }
                MessageType::MsgHeartbeatResponse | MessageType::MsgAppendResponse => {
                    self.echo.get(&m.to).copied()
                }
                _ => None,
            };
            tags.push(tag);
        }
        self.echo.clear();
        while self.sent.len() > MAX_SENT {
            self.sent.pop_first();
        }
        if let Some(stamp) = own_stamp {
            // The leader confirms itself when it sends.
            if let Ok(Some(q)) = self.tracker.record_ack(self.id, stamp) {
                let _: Extension = self.lease.extend(q, self.lease_duration);
            }
        }
        tags
    }

    /// Whether this node may serve a lease read now, apart from the lease
    /// itself: leader, a committed entry of its own term, no transfer pending.
    pub fn may_read_locally<S: Storage>(&self, node: &RawNode<S>) -> bool {
        self.leader
            && node.raft.state == StateRole::Leader
            && node.raft.commit_to_current_term()
            && !self.transfer_pending
    }

    /// A lease read: `read` runs on the local state and the lease is checked
    /// before and after it. `Err` carries the stamp for the ReadIndex round
    /// that must serve this read instead (take it before calling
    /// `RawNode::read_index`).
    pub fn read_local<S: Storage, C: Clock + ?Sized, T>(
        &self,
        node: &RawNode<S>,
        clock: &C,
        read: impl FnOnce() -> T,
    ) -> Result<T, QuorumNeeded> {
        if !self.may_read_locally(node) {
            let stamp = clock.now().ok().map(|now| self.lease.stamp(now));
            return Err(QuorumNeeded { stamp });
        }
        read_local(&self.lease, clock, read)
    }

    /// Ends a ReadIndex round: `Ok` extends the lease from the stamp taken
    /// before the round (unless a transfer is pending), a leadership loss
    /// invalidates, a timeout leaves the lease alone.
    pub fn finish_read_index(
        &mut self,
        stamp: Option<Stamp>,
        result: &Result<(), ReadIndexError>,
    ) -> RoundOutcome {
        if result.is_ok() && (self.transfer_pending || !self.leader) {
            return RoundOutcome::Unchanged;
        }
        let outcome = finish_round(&self.lease, stamp, result, self.lease_duration);
        if let RoundOutcome::Invalidated { generation } = outcome {
            self.tracker.reset(generation);
            self.sent.clear();
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leasehold_core::{Instant, ManualClock};
    use raft::storage::MemStorage;
    use raft::Config;

    const LEASE: Duration = Duration::from_millis(80);

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000).unwrap()
    }

    fn msg(t: MessageType, from: u64, to: u64, term: u64) -> Message {
        let mut m = Message::default();
        m.set_msg_type(t);
        m.from = from;
        m.to = to;
        m.term = term;
        m
    }

    /// Node 1 of {1, 2, 3}, elected leader with node 2's vote.
    fn leader() -> (RawNode<MemStorage>, LeaseGlue) {
        let cfg = Config {
            id: 1,
            election_tick: 10,
            heartbeat_tick: 2,
            check_quorum: true,
            ..Default::default()
        };
        let storage = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let mut node = RawNode::new(&cfg, storage, &logger).unwrap();
        let mut glue = LeaseGlue::new(1, LEASE, GlueOptions::default());
        node.campaign().unwrap();
        let term = node.raft.term;
        node.step(msg(MessageType::MsgRequestVoteResponse, 2, 1, term))
            .unwrap();
        assert_eq!(node.raft.state, StateRole::Leader);
        glue.observe(&node);
        (node, glue)
    }

    fn heartbeats(node: &mut RawNode<MemStorage>) -> Vec<Message> {
        node.raft.msgs.clear(); // the election's messages
        node.ping();
        node.raft.msgs.drain(..).collect()
    }

    #[test]
    fn an_ack_of_the_current_term_extends_from_the_send_stamp() {
        let (mut node, mut glue) = leader();
        let term = node.raft.term;
        let hb = heartbeats(&mut node);
        let tags = glue.tag_outgoing(&hb, Ok(at(100)));
        assert!(tags.iter().all(Option::is_some), "heartbeats are tagged");
        let to2 = hb.iter().position(|m| m.to == 2).unwrap();
        // A response of an older term, or one from another peer, does nothing.
        let stale = msg(MessageType::MsgHeartbeatResponse, 2, 1, term - 1);
        assert!(glue.accept_incoming(&stale, tags[to2]));
        let wrong_peer = msg(MessageType::MsgHeartbeatResponse, 3, 1, term);
        assert!(glue.accept_incoming(&wrong_peer, tags[to2]));
        assert_eq!(glue.lease().expiry(), None);
        // The right one extends from the time the heartbeat was sent.
        let ok = msg(MessageType::MsgHeartbeatResponse, 2, 1, term);
        assert!(glue.accept_incoming(&ok, tags[to2]));
        assert_eq!(glue.lease().expiry(), Some(at(180)));
    }

    #[test]
    fn a_transfer_invalidates_and_blocks_extension() {
        let (mut node, mut glue) = leader();
        let term = node.raft.term;
        let hb = heartbeats(&mut node);
        let tags = glue.tag_outgoing(&hb, Ok(at(100)));
        let to2 = hb.iter().position(|m| m.to == 2).unwrap();
        let ok = msg(MessageType::MsgHeartbeatResponse, 2, 1, term);
        assert!(glue.accept_incoming(&ok, tags[to2]));
        let clock = ManualClock::new(at(120));
        assert_eq!(
            glue.read_local(&node, &clock, || 7).ok(),
            None,
            "no entry of its term committed yet"
        );
        glue.on_transfer_requested();
        node.transfer_leader(2);
        glue.observe(&node);
        assert!(!glue.lease().is_valid(at(120)));
        // the late response of the same round cannot bring the lease back
        assert!(glue.accept_incoming(&ok, tags[to2]));
        assert!(!glue.lease().is_valid(at(120)));
    }

    #[test]
    fn the_restart_guard_drops_votes_for_one_election_timeout() {
        let mut glue = LeaseGlue::restarted(2, LEASE, 3, GlueOptions::default());
        let vote = msg(MessageType::MsgRequestVote, 3, 2, 9);
        let pre = msg(MessageType::MsgRequestPreVote, 3, 2, 9);
        for _ in 0..3 {
            assert!(!glue.accept_incoming(&vote, None));
            assert!(!glue.accept_incoming(&pre, None));
            glue.on_tick();
        }
        assert!(glue.accept_incoming(&vote, None));
        let off = GlueOptions {
            restart_guard: false,
            ..GlueOptions::default()
        };
        let mut unguarded = LeaseGlue::restarted(2, LEASE, 3, off);
        assert!(unguarded.accept_incoming(&vote, None));
    }

    #[test]
    fn a_follower_echoes_the_smallest_tag_to_its_leader() {
        let mut glue = LeaseGlue::new(2, LEASE, GlueOptions::default());
        assert!(glue.accept_incoming(&msg(MessageType::MsgAppend, 1, 2, 3), Some(9)));
        assert!(glue.accept_incoming(&msg(MessageType::MsgHeartbeat, 1, 2, 3), Some(7)));
        let out = [
            msg(MessageType::MsgAppendResponse, 2, 1, 3),
            msg(MessageType::MsgHeartbeatResponse, 2, 1, 3),
            msg(MessageType::MsgAppendResponse, 2, 3, 3),
        ];
        assert_eq!(
            glue.tag_outgoing(&out, Ok(at(5))),
            vec![Some(7), Some(7), None]
        );
        // echoes are per batch
        assert_eq!(glue.tag_outgoing(&out[..1], Ok(at(6))), vec![None]);
    }
}
