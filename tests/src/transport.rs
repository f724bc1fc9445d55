//! The reconnecting transport (`NetConfig::keep_for_down`): a per-peer
//! message queue in front of every connection, in the style of TiKV's raft
//! client, with a fast backoff. When a message meets a crashed receiver,
//! the sender's connection to it has failed: from then on everything that
//! sender sends to it waits in one in-order queue (up to [`QUEUE_LIMIT`];
//! when full, the newest is refused). The sender retries at exponential
//! backoff (1 ms doubling to 1 s, each wait jittered to 80-120%); the first
//! attempt that finds the receiver running and the link not cut reconnects,
//! and after a handshake the queue drains in order, with whatever the
//! sender queued meanwhile behind it. A restarted node thus meets, in the
//! first milliseconds of its new life, what its peers sent while it was
//! down, in an order set by who reconnects first: a candidate that began
//! asking just before it came back reconnects before a leader that has been
//! failing to reach it since it went down.
//!
//! A queue dies with its sender (a crash of the sender drops it, checked at
//! every attempt and every delivery) and a second crash of the receiver
//! breaks the connection again, with the backoff starting over. Snapshots
//! travel on their own connection and are not queued. A sender that sent
//! nothing while the receiver was down has no broken connection to notice:
//! its next message goes out directly.

use std::collections::{BTreeMap, VecDeque};

use raft::eraftpb::MessageType;

use crate::node::Down;
use crate::rng::Rng;
use crate::sim::{Envelope, Ev, Sim, MS};

/// Messages one link's queue holds; more are refused.
pub const QUEUE_LIMIT: usize = 64;

/// Longest backoff between two connection attempts.
const MAX_BACKOFF: u64 = 1_000 * MS;

/// Gap between two messages of a draining queue.
const DRAIN_GAP: u64 = 5_000;

/// One sender's broken connection to one receiver.
#[derive(Debug)]
pub(crate) struct Link {
    /// The sender's incarnation whose queue this is.
    pub(crate) gen: u64,
    /// Current backoff.
    step: u64,
    /// Reconnected; the queue is draining.
    connected: bool,
    /// Oldest first.
    pub(crate) queue: VecDeque<Envelope>,
}

/// The transport's state in a run.
#[derive(Debug)]
pub(crate) struct Transport {
    /// Whether this seed's transport keeps messages for nodes that are down.
    pub(crate) enabled: bool,
    /// Its own stream, so that the transport's choices leave every other
    /// draw of the seed where it was.
    rng: Rng,
    /// Broken connections, by (sender, receiver).
    pub(crate) links: BTreeMap<(usize, usize), Link>,
}

impl Transport {
    /// The transport of a seed: reconnecting with probability `p`.
    pub(crate) fn new(seed: u64, p: f64) -> Transport {
        let mut rng = Rng::new(seed ^ 0x7472_616e_7370_6f72);
        Transport {
            enabled: rng.chance(p),
            rng,
            links: BTreeMap::new(),
        }
    }
}

impl Sim {
    /// A message reaches node `to`: returned if it is to be handled now,
    /// kept if its sender's connection is broken or just broke.
    pub(crate) fn through_transport(&mut self, to: usize, env: Envelope) -> Option<Envelope> {
        if !self.transport.enabled || env.msg.get_msg_type() == MessageType::MsgSnapshot {
            return Some(env);
        }
        let (from, from_gen) = (env.from, env.from_gen);
        if let Some(link) = self.transport.links.get_mut(&(from, to)) {
            if link.gen == from_gen {
                if link.queue.len() < QUEUE_LIMIT {
                    link.queue.push_back(env);
                }
                return None;
            }
            // The queue of an earlier incarnation of the sender died with it.
            self.transport.links.remove(&(from, to));
        }
        let node = &self.nodes[to];
        if node.down != Down::Crashed || !node.started || node.removed {
            return Some(env);
        }
        let mut queue = VecDeque::new();
        queue.push_back(env);
        self.transport.links.insert(
            (from, to),
            Link {
                gen: from_gen,
                step: MS,
                connected: false,
                queue,
            },
        );
        self.schedule_attempt(from, to, from_gen, MS);
        None
    }

    fn schedule_attempt(&mut self, from: usize, to: usize, gen: u64, step: u64) {
        let wait = step * self.transport.rng.range(80, 121) / 100;
        self.push_in(wait.max(1), Ev::Reconnect { from, to, gen });
    }

    /// The sender's link's queue is gone if the sender is not the
    /// incarnation that filled it.
    fn sender_alive(&mut self, from: usize, to: usize, gen: u64) -> bool {
        if self.nodes[from].incarnation == gen {
            return true;
        }
        self.transport.links.remove(&(from, to));
        false
    }

    /// A connection attempt of `from` to `to`.
    pub(crate) fn on_reconnect(&mut self, from: usize, to: usize, gen: u64) {
        match self.transport.links.get(&(from, to)) {
            Some(l) if l.gen == gen && !l.connected => {}
            _ => return,
        }
        if !self.sender_alive(from, to, gen) {
            return;
        }
        if self.nodes[to].removed {
            self.transport.links.remove(&(from, to));
            return;
        }
        let Some(link) = self.transport.links.get_mut(&(from, to)) else {
            return;
        };
        if self.nodes[to].down == Down::Crashed || self.net.is_cut(from, to) {
            link.step = (link.step * 2).min(MAX_BACKOFF);
            let step = link.step;
            self.schedule_attempt(from, to, gen, step);
            return;
        }
        link.connected = true;
        let (lo, hi) = self.cfg.net.latency;
        let handshake = self.transport.rng.range(lo, hi);
        self.push_in(handshake, Ev::Drain { from, to, gen });
    }

    /// The next queued message of a reconnected link goes out.
    pub(crate) fn on_drain(&mut self, from: usize, to: usize, gen: u64) {
        match self.transport.links.get(&(from, to)) {
            Some(l) if l.gen == gen && l.connected => {}
            _ => return,
        }
        if !self.sender_alive(from, to, gen) {
            return;
        }
        let crashed = self.nodes[to].down == Down::Crashed;
        let Some(link) = self.transport.links.get_mut(&(from, to)) else {
            return;
        };
        if crashed {
            // The new connection broke too: reconnect from scratch.
            link.connected = false;
            link.step = MS;
            self.schedule_attempt(from, to, gen, MS);
            return;
        }
        let Some(env) = link.queue.pop_front() else {
            self.transport.links.remove(&(from, to));
            return;
        };
        if link.queue.is_empty() {
            // Caught up: what the sender sends next goes out directly.
            self.transport.links.remove(&(from, to));
        } else {
            self.push_in(DRAIN_GAP, Ev::Drain { from, to, gen });
        }
        if !self.net.is_cut(from, to) {
            self.deliver_now(to, env);
        }
    }

    /// Node `i` is gone for good: nobody reconnects to it.
    pub(crate) fn forget_links_to(&mut self, i: usize) {
        self.transport.links.retain(|&(_, to), _| to != i);
    }
}
