//! The client workload: closed-loop clients reading and writing one
//! register (each written value unique), each following the leader hints it
//! gets, timing out after 150 ms. Operations are recorded in true time for
//! the checkers.

use crate::check::{Kind, Op, Via};
use crate::node::Down;
use crate::sim::{Ev, ReadMode, Sim, MS};

/// One client's state.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The operation in flight.
    busy: Option<usize>,
    /// The node it will ask next.
    hint: usize,
}

/// A node's answer to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Done: the value read or written, its log index, and how a read was served.
    Ok {
        /// Value.
        value: u64,
        /// Log index of the write the value came from (0: initial).
        version: u64,
        /// How a read was served.
        via: Via,
    },
    /// Refused (not leader); carries the node's idea of the leader (0: none).
    Refused {
        /// Leader id hint.
        hint: u64,
    },
}

impl Sim {
    pub(crate) fn random_member(&mut self) -> usize {
        let m = self.members();
        if m.is_empty() {
            return 0;
        }
        m[self.rng.pick(m.len())]
    }

    pub(crate) fn client_issue(&mut self, c: usize) {
        if self.clients[c].busy.is_some() {
            return;
        }
        let write = self.rng.chance(0.35) && self.quiet == 0;
        let node = if self.rng.chance(0.7) {
            self.clients[c].hint
        } else {
            self.random_member()
        };
        let value = if write {
            self.next_value += 1;
            self.next_value
        } else {
            0
        };
        let op = self.ops.len();
        self.ops.push(Op {
            client: c,
            kind: if write { Kind::Write } else { Kind::Read },
            invoke: self.now(),
            complete: None,
            value,
            version: 0,
            via: Via::None,
            refused: false,
        });
        self.clients[c].busy = Some(op);
        self.clients[c].hint = node;
        let dt = self.rng.range(MS / 10, MS / 2);
        self.push_in(dt, Ev::ClientArrive { node, op });
        self.push_in(150 * MS, Ev::ClientTimeout(op));
    }

    pub(crate) fn reply(&mut self, op: usize, reply: Reply) {
        let dt = self.rng.range(MS / 10, MS / 2);
        self.push_in(dt, Ev::ClientReply { op, reply });
    }

    pub(crate) fn client_reply(&mut self, op: usize, reply: Reply) {
        let c = self.ops[op].client;
        if self.clients[c].busy != Some(op) {
            return; // late: the client gave up already
        }
        self.clients[c].busy = None;
        let t = self.now();
        match reply {
            Reply::Ok {
                value,
                version,
                via,
            } => {
                let o = &mut self.ops[op];
                o.complete = Some(t);
                o.value = value;
                o.version = version;
                o.via = via;
            }
            Reply::Refused { hint } => {
                self.ops[op].refused = true;
                self.clients[c].hint = match hint as usize {
                    id if id >= 1 && id <= self.nodes.len() => id - 1,
                    _ => self.random_member(),
                };
            }
        }
        let think = self.rng.range(MS, 5 * MS);
        self.push_in(think, Ev::ClientNext(c));
    }

    pub(crate) fn client_timeout(&mut self, op: usize) {
        let c = self.ops[op].client;
        if self.clients[c].busy == Some(op) {
            self.clients[c].busy = None;
            self.clients[c].hint = self.random_member();
            let dt = self.rng.range(MS, 5 * MS);
            self.push_in(dt, Ev::ClientNext(c));
        }
    }

    /// A client's request arrived at node `i`, which is up.
    pub(crate) fn client_request(&mut self, i: usize, op: usize) {
        let Some(raw) = self.nodes[i].raw.as_ref() else {
            return;
        };
        let is_leader = raw.raft.state == raft::StateRole::Leader;
        let hint = raw.raft.leader_id;
        match self.ops[op].kind {
            Kind::Write => {
                if !is_leader {
                    self.reply(op, Reply::Refused { hint });
                    return;
                }
                let mut data = Vec::with_capacity(16);
                data.extend_from_slice(&(op as u64).to_le_bytes());
                data.extend_from_slice(&self.ops[op].value.to_le_bytes());
                let node = &mut self.nodes[i];
                let raw = node.raw.as_mut().expect("up");
                if raw.propose(vec![], data).is_ok() {
                    node.pending_writes.insert(op as u64);
                    self.after(i);
                } else {
                    self.reply(op, Reply::Refused { hint });
                }
            }
            Kind::Read => {
                let stamp = match self.cfg.read_mode {
                    ReadMode::RaftLeaseBased => None,
                    ReadMode::Leasehold => {
                        // Any node tries its lease: the lease alone decides
                        // whether a read may be local.
                        let node = &mut self.nodes[i];
                        let (value, version) = (node.value, node.version);
                        let Some(lease) = node.lease.as_mut() else {
                            return;
                        };
                        match lease.read(&node.clock, || (value, version)) {
                            Ok((value, version)) => {
                                self.reply(
                                    op,
                                    Reply::Ok {
                                        value,
                                        version,
                                        via: Via::Lease,
                                    },
                                );
                                return;
                            }
                            Err(need) => need.stamp,
                        }
                    }
                };
                if is_leader && self.nodes[i].down == Down::Up {
                    self.read_index(i, op, stamp);
                } else {
                    self.reply(op, Reply::Refused { hint });
                }
            }
        }
    }
}
