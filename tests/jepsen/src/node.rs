//! The node program: a raft-rs `RawNode` serving a register, with its lease
//! reads through `leasehold-raft`, a TCP transport, a durable log and a
//! client port.
//!
//! One thread (the node loop) owns the `RawNode` and the [`RaftLease`];
//! everything else (peer readers, peer senders, client connections, the
//! ticker) talks to it through one channel. The ticker sleeps one tick
//! between tick events, so ticks are paced by the kernel's `nanosleep` on
//! `CLOCK_MONOTONIC` (the followers' "tick timer" of invariant 18: NTP may
//! slew it, libfaketime scales it), and a stopped process simply stops
//! ticking. The lease is timed with the clock given by `--clock`.
//!
//! The loop follows `leasehold-raft`'s rules: every peer message through
//! `RaftLease::step` with its tag, every outgoing message tagged with a
//! clock reading taken before it is sent, `observe` after every other
//! interaction, `advance_apply` only after the register holds the entries,
//! a new `RaftLease` per process start. Each Ready is made durable before
//! any of its messages is sent.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read as _, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use leasehold_core::{Clock, ClockError, ClockInfo, Instant, Lease, RoundOutcome, Stamp, Tag};
use leasehold_raft::{RaftLease, ReadIndexError, Timing};
use raft::eraftpb::{Entry, EntryType, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode, ReadOnlyOption, StateRole};

use crate::protocol::{ReadKind, Reply, Request, Served, LINE_LIMIT};
use crate::storage::{DurableLog, Sync};
use crate::transport::{serve_peers, NetCounters, PeerSender};

/// Which lease reads the node serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// leasehold's lease, ReadIndex (`Safe`) when it does not cover a read.
    Leasehold,
    /// raft-rs's own `ReadOnlyOption::LeaseBased` (the negative control:
    /// a lease counted in ticks, which stop while the process is stopped).
    RaftLeaseBased,
}

/// The clock the lease is timed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// `leasehold-hal-linux::SuspendAwareClock` (RAW plus suspend time).
    SuspendAware,
    /// `leasehold-hal-linux::RawClock` (`CLOCK_MONOTONIC_RAW`).
    Raw,
    /// `leasehold-hal-fallback::FallbackClock` (`std::time::Instant`).
    Monotonic,
}

/// Everything a node is started with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's id (1-based).
    pub id: u64,
    /// Address of the peer listener.
    pub listen: SocketAddr,
    /// Address of the client port.
    pub client: SocketAddr,
    /// Where to reach each peer (`id`, address; the harness's proxy).
    pub peers: Vec<(u64, SocketAddr)>,
    /// Directory of the durable log.
    pub data_dir: PathBuf,
    /// Tick length.
    pub tick: Duration,
    /// raft-rs `election_tick`.
    pub election_tick: usize,
    /// raft-rs `heartbeat_tick`.
    pub heartbeat_tick: usize,
    /// Drift bound (ppm) assumed for the lease clock and the tick timers.
    pub drift_ppm: u32,
    /// Lease safety margin.
    pub margin: Duration,
    /// Read mode.
    pub read_mode: ReadMode,
    /// Lease clock.
    pub clock: ClockKind,
    /// The machine is promised never to suspend (lets a lease clock that
    /// stops in suspend be used).
    pub machine_never_suspends: bool,
    /// Log flushing.
    pub sync: Sync,
    /// Ticks after which a pending read or write is answered `TIMEOUT`.
    pub op_timeout_ticks: u64,
    /// The process exits by itself after this long (a harness that died
    /// leaves nothing running).
    pub max_runtime: Duration,
}

enum Event {
    Tick,
    Peer(Message, Option<Tag>),
    Client(Request, Sender<Reply>),
}

fn peer_event(m: Message, t: Option<Tag>) -> Event {
    Event::Peer(m, t)
}

/// A lease clock chosen at run time.
struct NodeClock(Box<dyn Clock + Send>, u32);

impl Clock for NodeClock {
    fn now(&self) -> Result<Instant, ClockError> {
        self.0.now()
    }
    fn info(&self) -> ClockInfo {
        let mut i = self.0.info();
        // The harness states the bound its clock faults stay within; the
        // lease must assume at least that much.
        i.max_drift_ppm = i.max_drift_ppm.max(self.1);
        i
    }
}

fn make_clock(kind: ClockKind, drift: u32) -> Result<NodeClock, String> {
    let c: Box<dyn Clock + Send> = match kind {
        ClockKind::SuspendAware => Box::new(
            leasehold_hal_linux::SuspendAwareClock::new().map_err(|e| format!("clock: {e:?}"))?,
        ),
        ClockKind::Raw => {
            Box::new(leasehold_hal_linux::RawClock::new().map_err(|e| format!("clock: {e:?}"))?)
        }
        ClockKind::Monotonic => Box::new(leasehold_hal_fallback::FallbackClock::new()),
    };
    Ok(NodeClock(c, drift))
}

struct PendingRead {
    reply: Sender<Reply>,
    id: u64,
    stamp: Option<Stamp>,
    deadline: u64,
    /// The read state's index, once raft-rs produced it.
    index: Option<u64>,
}

struct PendingWrite {
    reply: Sender<Reply>,
    id: u64,
    deadline: u64,
}

struct Node {
    cfg: NodeConfig,
    raw: RawNode<MemStorage>,
    lease: Option<RaftLease>,
    clock: NodeClock,
    log: DurableLog,
    senders: HashMap<u64, PeerSender>,
    net: Arc<NetCounters>,
    ticks: u64,
    value: u64,
    version: u64,
    was_leader: bool,
    next_ctx: u64,
    reads: HashMap<u64, PendingRead>,
    /// Proposed writes by the unique value they write.
    writes: HashMap<u64, PendingWrite>,
    leader_lease_reads: u64,
    index_reads: u64,
    writes_done: u64,
}

fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// Runs a node until its maximum runtime (or until it is killed).
///
/// # Errors
///
/// Start-up failures (ports, log file, configuration) as a message.
pub fn run(cfg: NodeConfig) -> Result<(), String> {
    let voters: Vec<u64> = std::iter::once(cfg.id)
        .chain(cfg.peers.iter().map(|p| p.0))
        .collect();
    let mut sorted = voters.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != voters.len() {
        return Err("peer ids must be distinct and differ from --id".into());
    }
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| format!("data dir {}: {e}", cfg.data_dir.display()))?;
    let store = MemStorage::new_with_conf_state((sorted.clone(), vec![]));
    let (log, replay) = DurableLog::open(&cfg.data_dir.join("raft.log"), &store, cfg.sync)
        .map_err(|e| format!("raft log: {e}"))?;
    let raft_cfg = Config {
        id: cfg.id,
        election_tick: cfg.election_tick,
        heartbeat_tick: cfg.heartbeat_tick,
        min_election_tick: cfg.election_tick,
        max_election_tick: 2 * cfg.election_tick,
        check_quorum: true,
        pre_vote: false,
        max_size_per_msg: 256 * 1024,
        max_inflight_msgs: 256,
        applied: 0,
        read_only_option: match cfg.read_mode {
            ReadMode::Leasehold => ReadOnlyOption::Safe,
            ReadMode::RaftLeaseBased => ReadOnlyOption::LeaseBased,
        },
        ..Default::default()
    };
    let clock = make_clock(cfg.clock, cfg.drift_ppm)?;
    let lease = match cfg.read_mode {
        ReadMode::Leasehold => {
            let timing = Timing {
                tick: cfg.tick,
                lease_clock: clock.info(),
                tick_drift_ppm: cfg.drift_ppm,
                margin: cfg.margin,
                machine_never_suspends: cfg.machine_never_suspends,
            };
            Some(
                RaftLease::new(&raft_cfg, &timing, Arc::new(Lease::new()))
                    .map_err(|e| e.to_string())?,
            )
        }
        ReadMode::RaftLeaseBased => None,
    };
    let raw = RawNode::new(&raft_cfg, store, &logger()).map_err(|e| e.to_string())?;

    let peer_listener =
        TcpListener::bind(cfg.listen).map_err(|e| format!("listen {}: {e}", cfg.listen))?;
    let client_listener =
        TcpListener::bind(cfg.client).map_err(|e| format!("client port {}: {e}", cfg.client))?;
    let (tx, rx) = mpsc::channel::<Event>();
    let net = Arc::new(NetCounters::default());
    serve_peers(
        peer_listener,
        cfg.id,
        sorted,
        net.clone(),
        tx.clone(),
        peer_event,
    );
    serve_clients(client_listener, tx.clone());
    let tick = cfg.tick;
    let ticker = tx.clone();
    thread::spawn(move || loop {
        thread::sleep(tick);
        if ticker.send(Event::Tick).is_err() {
            return;
        }
    });
    let max = cfg.max_runtime;
    thread::spawn(move || {
        thread::sleep(max);
        eprintln!("node: maximum runtime reached, exiting");
        std::process::exit(3);
    });
    let senders = cfg
        .peers
        .iter()
        .map(|&(id, addr)| (id, PeerSender::start(cfg.id, id, addr, net.clone())))
        .collect();
    eprintln!(
        "node {} up: {} log records replayed ({} torn bytes cut), lease {:?}",
        cfg.id,
        replay.records,
        replay.torn_bytes,
        lease.as_ref().map(|_| leasehold_raft::lease_config(
            &raft_cfg,
            &Timing {
                tick: cfg.tick,
                lease_clock: clock.info(),
                tick_drift_ppm: cfg.drift_ppm,
                margin: cfg.margin,
                machine_never_suspends: cfg.machine_never_suspends,
            }
        )
        .ok()
        .and_then(|c| c.lease_duration().ok()))
    );
    let mut node = Node {
        cfg,
        raw,
        lease,
        clock,
        log,
        senders,
        net,
        ticks: 0,
        value: 0,
        version: 0,
        was_leader: false,
        next_ctx: 1,
        reads: HashMap::new(),
        writes: HashMap::new(),
        leader_lease_reads: 0,
        index_reads: 0,
        writes_done: 0,
    };
    node.main_loop(&rx)
}

fn serve_clients(listener: TcpListener, tx: Sender<Event>) {
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(stream) = conn else { continue };
            let tx = tx.clone();
            thread::spawn(move || client_conn(stream, &tx));
        }
    });
}

fn client_conn(stream: TcpStream, tx: &Sender<Event>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let (reply_tx, reply_rx) = mpsc::channel::<Reply>();
    thread::spawn(move || {
        let mut line = String::new();
        for r in reply_rx {
            line.clear();
            let _ = writeln!(line, "{r}");
            if out.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
    });
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(LINE_LIMIT as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.last() != Some(&b'\n') {
            let _ = reply_tx.send(Reply::Err {
                id: 0,
                reason: "line too long".into(),
            });
            return;
        }
        let text = String::from_utf8_lossy(&line);
        match Request::parse(text.trim_end()) {
            Ok(req) => {
                if tx.send(Event::Client(req, reply_tx.clone())).is_err() {
                    return;
                }
            }
            Err(reason) => {
                let _ = reply_tx.send(Reply::Err { id: 0, reason });
            }
        }
    }
}

impl Node {
    fn main_loop(&mut self, rx: &Receiver<Event>) -> Result<(), String> {
        self.observe();
        while let Ok(ev) = rx.recv() {
            self.handle(ev);
            // Drain what else is queued before the Ready, so one Ready
            // carries a batch (fewer writes and sends).
            for ev in rx.try_iter().take(512) {
                self.handle(ev);
            }
            self.ready()?;
        }
        Ok(())
    }

    fn observe(&mut self) {
        if let Some(l) = self.lease.as_mut() {
            l.observe(&self.raw);
        }
    }

    fn leader(&self) -> bool {
        self.raw.raft.state == StateRole::Leader
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Tick => {
                self.ticks += 1;
                match self.lease.as_mut() {
                    Some(l) => {
                        let now = self.clock.now();
                        l.tick(&mut self.raw, now);
                    }
                    None => {
                        self.raw.tick();
                    }
                }
                self.expire();
            }
            Event::Peer(msg, tag) => {
                let _ = match self.lease.as_mut() {
                    Some(l) => l.step(&mut self.raw, msg, tag),
                    None => self.raw.step(msg),
                };
            }
            Event::Client(req, reply) => self.client(req, reply),
        }
        self.role_change();
    }

    fn not_leader(&self, id: u64) -> Reply {
        Reply::NotLeader {
            id,
            leader: self.raw.raft.leader_id,
        }
    }

    fn client(&mut self, req: Request, reply: Sender<Reply>) {
        let deadline = self.ticks + self.cfg.op_timeout_ticks;
        match req {
            Request::Status { id } => {
                let _ = reply.send(Reply::Status {
                    id,
                    json: self.status(),
                });
            }
            Request::Read { id, .. } | Request::Write { id, .. } | Request::Transfer { id, .. }
                if !self.leader() =>
            {
                let _ = reply.send(self.not_leader(id));
            }
            Request::Read { id, kind } => {
                let mut stamp = None;
                if kind == ReadKind::Lease {
                    if let Some(l) = self.lease.as_mut() {
                        let (value, version) = (self.value, self.version);
                        match l.read(&self.clock, || (value, version)) {
                            Ok((value, index)) => {
                                self.leader_lease_reads += 1;
                                let _ = reply.send(Reply::Ok {
                                    id,
                                    value,
                                    index,
                                    served: Served::Lease,
                                });
                                return;
                            }
                            Err(need) => stamp = need.stamp,
                        }
                    }
                }
                let ctx = self.next_ctx;
                self.next_ctx += 1;
                self.reads.insert(
                    ctx,
                    PendingRead {
                        reply,
                        id,
                        stamp,
                        deadline,
                        index: None,
                    },
                );
                self.raw.read_index(ctx.to_le_bytes().to_vec());
                self.observe();
            }
            Request::Write { id, value } => {
                if self.writes.contains_key(&value) || value == 0 {
                    let _ = reply.send(Reply::Err {
                        id,
                        reason: "value not unique".into(),
                    });
                    return;
                }
                match self.raw.propose(vec![], value.to_le_bytes().to_vec()) {
                    Ok(()) => {
                        self.writes.insert(
                            value,
                            PendingWrite {
                                reply,
                                id,
                                deadline,
                            },
                        );
                    }
                    Err(e) => {
                        let _ = reply.send(Reply::Err {
                            id,
                            reason: e.to_string().replace('\n', " "),
                        });
                    }
                }
                self.observe();
            }
            Request::Transfer { id, to } => {
                self.raw.transfer_leader(to);
                self.observe();
                let _ = reply.send(Reply::Ok {
                    id,
                    value: 0,
                    index: 0,
                    served: Served::Transfer,
                });
            }
        }
    }

    /// Answers reads and writes whose deadline passed.
    fn expire(&mut self) {
        let now = self.ticks;
        let late: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(&c, _)| c)
            .collect();
        for ctx in late {
            if let Some(r) = self.reads.remove(&ctx) {
                if let Some(l) = self.lease.as_mut() {
                    let _: RoundOutcome =
                        l.finish_read_index(r.stamp, &Err(ReadIndexError::Timeout));
                }
                let _ = r.reply.send(Reply::Timeout { id: r.id });
            }
        }
        let late: Vec<u64> = self
            .writes
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(&v, _)| v)
            .collect();
        for v in late {
            if let Some(w) = self.writes.remove(&v) {
                let _ = w.reply.send(Reply::Timeout { id: w.id });
            }
        }
    }

    /// A leader that stepped down loses the ReadIndex rounds raft-rs has
    /// not answered yet (it drops them): they end as leadership losses.
    /// Rounds it already answered with a read state are served once that
    /// index is applied, as any raft-rs node does (in `Safe` mode a read
    /// state means a quorum confirmed the leader after the read began; in
    /// `LeaseBased` mode it is raft-rs's clockless promise, which is what
    /// the control tests).
    fn role_change(&mut self) {
        let leader = self.leader();
        if self.was_leader && !leader {
            for rs in &self.raw.raft.read_states {
                let mut b = [0u8; 8];
                if rs.request_ctx.len() == 8 {
                    b.copy_from_slice(&rs.request_ctx);
                }
                if let Some(r) = self.reads.get_mut(&u64::from_le_bytes(b)) {
                    r.index = Some(rs.index);
                }
            }
            let dropped: Vec<u64> = self
                .reads
                .iter()
                .filter(|(_, r)| r.index.is_none())
                .map(|(&c, _)| c)
                .collect();
            for r in dropped.into_iter().filter_map(|c| self.reads.remove(&c)) {
                if let Some(l) = self.lease.as_mut() {
                    let _: RoundOutcome =
                        l.finish_read_index(r.stamp, &Err(ReadIndexError::NotLeader));
                }
                let _ = r.reply.send(Reply::Err {
                    id: r.id,
                    reason: "lost leadership".into(),
                });
            }
        }
        self.was_leader = leader;
    }

    fn send(&mut self, msgs: Vec<Message>) {
        if msgs.is_empty() {
            return;
        }
        let now = self.clock.now();
        for m in msgs {
            let tag = self.lease.as_mut().and_then(|l| l.tag(&m, now));
            if let Some(s) = self.senders.get(&m.to) {
                s.send(m, tag);
            }
        }
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        for e in entries {
            if e.get_entry_type() != EntryType::EntryNormal || e.data.len() != 8 {
                continue; // a new leader's empty entry
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&e.data);
            let value = u64::from_le_bytes(b);
            self.value = value;
            self.version = e.index;
            if let Some(w) = self.writes.remove(&value) {
                self.writes_done += 1;
                let _ = w.reply.send(Reply::Ok {
                    id: w.id,
                    value,
                    index: e.index,
                    served: Served::Write,
                });
            }
        }
    }

    fn ready(&mut self) -> Result<(), String> {
        loop {
            self.observe();
            self.role_change();
            if !self.raw.has_ready() {
                return Ok(());
            }
            let mut rd = self.raw.ready();
            if !rd.snapshot().is_empty() {
                // Logs are never compacted, so no snapshot is ever sent.
                return Err("unexpected snapshot".into());
            }
            self.log
                .persist(rd.entries(), rd.hs())
                .map_err(|e| format!("persist: {e}"))?;
            {
                let store = self.raw.store().clone();
                let mut w = store.wl();
                w.append(rd.entries()).map_err(|e| e.to_string())?;
                if let Some(hs) = rd.hs() {
                    w.set_hardstate(hs.clone());
                }
            }
            let mut out = rd.take_messages();
            out.extend(rd.take_persisted_messages());
            let committed = rd.take_committed_entries();
            let read_states = rd.take_read_states();
            self.send(out);
            self.apply(committed);
            for rs in read_states {
                let mut b = [0u8; 8];
                if rs.request_ctx.len() == 8 {
                    b.copy_from_slice(&rs.request_ctx);
                }
                if let Some(r) = self.reads.get_mut(&u64::from_le_bytes(b)) {
                    r.index = Some(rs.index);
                }
            }
            let mut light = self.raw.advance(rd);
            if let Some(c) = light.commit_index() {
                self.raw.store().wl().mut_hard_state().set_commit(c);
            }
            let msgs = light.take_messages();
            self.send(msgs);
            let committed = light.take_committed_entries();
            self.apply(committed);
            self.raw.advance_apply();
            self.observe();
            self.finish_reads();
        }
    }

    /// Answers ReadIndex reads whose index is applied.
    fn finish_reads(&mut self) {
        let applied = self.raw.raft.raft_log.applied;
        let done: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, r)| r.index.is_some_and(|i| i <= applied))
            .map(|(&c, _)| c)
            .collect();
        for ctx in done {
            let Some(r) = self.reads.remove(&ctx) else {
                continue;
            };
            if let Some(l) = self.lease.as_mut() {
                let _: RoundOutcome = l.finish_read_index(r.stamp, &Ok::<(), ReadIndexError>(()));
            }
            self.index_reads += 1;
            let _ = r.reply.send(Reply::Ok {
                id: r.id,
                value: self.value,
                index: self.version,
                served: Served::Index,
            });
        }
    }

    fn status(&self) -> String {
        let r = &self.raw.raft;
        let role = match r.state {
            StateRole::Leader => "leader",
            StateRole::Follower => "follower",
            StateRole::Candidate => "candidate",
            StateRole::PreCandidate => "precandidate",
        };
        let lease = match self.lease.as_ref() {
            None => "null".to_string(),
            Some(l) => {
                let c = l.counters();
                let i = c.invalidations;
                format!(
                    "{{\"reads_local\":{},\"lease_misses\":{},\"reads_quorum\":{},\"extended\":{},\"withheld\":{},\"votes_dropped\":{},\"acks_ignored\":{},\"inval_role\":{},\"inval_term\":{},\"inval_transfer\":{},\"inval_clock\":{}}}",
                    c.reads_local,
                    c.lease_misses,
                    c.reads_quorum,
                    c.extensions.extended,
                    c.extensions_withheld,
                    c.votes_dropped,
                    c.acks_ignored,
                    i.role,
                    i.term,
                    i.transfer,
                    i.clock
                )
            }
        };
        let clock = self.clock.now().map_or(0, |i: Instant| i.as_nanos());
        format!(
            "{{\"id\":{},\"role\":\"{role}\",\"term\":{},\"leader\":{},\"commit\":{},\"applied\":{},\"ticks\":{},\"clock_ns\":{clock},\"lease_reads\":{},\"index_reads\":{},\"writes\":{},\"lease\":{lease},\"net\":{}}}",
            self.cfg.id,
            r.term,
            r.leader_id,
            r.raft_log.committed,
            r.raft_log.applied,
            self.ticks,
            self.leader_lease_reads,
            self.index_reads,
            self.writes_done,
            self.net.to_json()
        )
    }
}
