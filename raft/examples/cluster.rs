//! Three raft-rs nodes on real threads, one `RawNode` each, serving reads
//! under a leasehold lease: channels as the transport with a configurable
//! one-way latency, the Linux `SuspendAwareClock` (std's clock elsewhere),
//! in-memory storage, and concurrent clients reading and writing.
//!
//! The run alternates phases in which every read goes through the lease
//! (falling back to ReadIndex when the lease does not cover it) with phases
//! in which every read is a ReadIndex round, so both are measured in the
//! same run under the same load; it prints their latency percentiles,
//! throughput and ratios, and every node's lease counters.
//!
//! ```text
//! cargo run --release -p leasehold-raft --example cluster [-- --latency-us 500 --phase-ms 1000 --phases 3 --clients 4 --write-pct 10]
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use leasehold_core::{Clock, Counters, Lease, RoundOutcome, Stamp, Tag};
use leasehold_hal_fallback::FallbackClock;
use leasehold_raft::{RaftLease, ReadIndexError, Timing};
use raft::eraftpb::{Entry, EntryType, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode, StateRole};

#[cfg(target_os = "linux")]
type NodeClock = leasehold_hal_linux::SuspendAwareClock;
#[cfg(not(target_os = "linux"))]
type NodeClock = FallbackClock;

#[cfg(target_os = "linux")]
fn clock() -> Result<NodeClock, String> {
    NodeClock::new().map_err(|e| format!("SuspendAwareClock: {e}"))
}
#[cfg(not(target_os = "linux"))]
fn clock() -> Result<NodeClock, String> {
    Ok(NodeClock::new())
}

#[derive(Parser, Debug)]
#[command(
    about = "Three raft-rs nodes on threads: lease reads versus ReadIndex reads, measured in one run"
)]
struct Args {
    /// One-way latency of the channel transport, microseconds.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    latency_us: u64,
    /// Length of each measured phase, milliseconds.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(50..=600_000))]
    phase_ms: u64,
    /// Number of phase pairs (lease, then ReadIndex).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=100))]
    phases: u64,
    /// Concurrent closed-loop clients.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    clients: u64,
    /// Share of client operations that are writes, percent.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=100))]
    write_pct: u64,
}

const TICK: Duration = Duration::from_millis(10);
const NODES: u64 = 3;

/// How reads are served in the current phase.
const MODE_LEASE: u8 = 0;
const MODE_INDEX: u8 = 1;

enum Inbound {
    Raft(Box<Message>, Option<Tag>),
    Client(Request),
}

struct Request {
    op: Op,
    reply: Sender<Reply>,
}

#[derive(Clone, Copy)]
enum Op {
    Read,
    Write(u64),
}

#[derive(Debug, Clone, Copy)]
enum Reply {
    /// The register's value; whether the read was served under the lease.
    Done {
        lease: bool,
    },
    NotLeader(u64),
}

/// A message in flight: delivered at `at`.
struct Flight {
    at: Instant,
    seq: u64,
    to: usize,
    msg: Inbound,
}

impl PartialEq for Flight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Flight {}
impl PartialOrd for Flight {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Flight {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// The network: one thread holding messages for the configured latency.
fn network(
    rx: Receiver<(usize, Inbound)>,
    peers: Vec<Sender<Inbound>>,
    latency: Duration,
    stop: Arc<AtomicBool>,
) {
    let mut heap: BinaryHeap<Reverse<Flight>> = BinaryHeap::new();
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while heap.peek().is_some_and(|f| f.0.at <= now) {
            let Reverse(f) = heap.pop().expect("peeked");
            let _ = peers[f.to].send(f.msg);
        }
        let wait = heap.peek().map_or(Duration::from_millis(5), |f| {
            f.0.at.saturating_duration_since(now)
        });
        match rx.recv_timeout(wait) {
            Ok((to, msg)) => {
                seq += 1;
                heap.push(Reverse(Flight {
                    at: Instant::now() + latency,
                    seq,
                    to,
                    msg,
                }));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

struct Node {
    raw: RawNode<MemStorage>,
    lease: RaftLease<Arc<Lease>>,
    clock: NodeClock,
    net: Sender<(usize, Inbound)>,
    value: u64,
    next_ctx: u64,
    pending_writes: HashMap<u64, Sender<Reply>>,
    pending_reads: HashMap<u64, (Sender<Reply>, Option<Stamp>)>,
    waiting_reads: Vec<(u64, Sender<Reply>, Option<Stamp>)>,
    mode: Arc<AtomicU8>,
}

impl Node {
    fn handle_client(&mut self, req: Request) {
        let leader = self.raw.raft.state == StateRole::Leader;
        if !leader {
            let _ = req.reply.send(Reply::NotLeader(self.raw.raft.leader_id));
            return;
        }
        match req.op {
            Op::Write(v) => {
                self.next_ctx += 1;
                let id = self.next_ctx;
                let mut data = id.to_le_bytes().to_vec();
                data.extend_from_slice(&v.to_le_bytes());
                if self.raw.propose(vec![], data).is_ok() {
                    self.pending_writes.insert(id, req.reply);
                } else {
                    let _ = req.reply.send(Reply::NotLeader(self.raw.raft.leader_id));
                }
            }
            Op::Read => {
                let stamp = if self.mode.load(Ordering::Relaxed) == MODE_LEASE {
                    let value = self.value;
                    match self.lease.read(&self.clock, || value) {
                        Ok(_) => {
                            let _ = req.reply.send(Reply::Done { lease: true });
                            return;
                        }
                        Err(need) => need.stamp,
                    }
                } else {
                    None
                };
                self.next_ctx += 1;
                let ctx = self.next_ctx;
                self.pending_reads.insert(ctx, (req.reply, stamp));
                self.raw.read_index(ctx.to_le_bytes().to_vec());
            }
        }
        self.lease.observe(&self.raw);
    }

    fn apply(&mut self, entries: Vec<Entry>) {
        for e in entries {
            if e.get_entry_type() == EntryType::EntryNormal && e.data.len() == 16 {
                let id = u64::from_le_bytes(e.data[..8].try_into().expect("8 bytes"));
                self.value = u64::from_le_bytes(e.data[8..].try_into().expect("8 bytes"));
                if let Some(reply) = self.pending_writes.remove(&id) {
                    let _ = reply.send(Reply::Done { lease: false });
                }
            }
        }
    }

    fn send(&mut self, msgs: Vec<Message>) {
        let now = self.clock.now();
        for m in msgs {
            let tag = self.lease.tag(&m, now);
            let to = (m.to - 1) as usize;
            let _ = self.net.send((to, Inbound::Raft(Box::new(m), tag)));
        }
    }

    fn on_ready(&mut self) {
        if !self.raw.has_ready() {
            return;
        }
        let mut rd = self.raw.ready();
        let store = self.raw.store().clone();
        self.send(rd.take_messages());
        if !rd.snapshot().is_empty() {
            let _ = store.wl().apply_snapshot(rd.snapshot().clone());
        }
        let _ = store.wl().append(rd.entries());
        if let Some(hs) = rd.hs() {
            store.wl().set_hardstate(hs.clone());
        }
        let persisted = rd.take_persisted_messages();
        self.send(persisted);
        let committed = rd.take_committed_entries();
        self.apply(committed);
        for rs in rd.take_read_states() {
            let mut b = [0u8; 8];
            if rs.request_ctx.len() == 8 {
                b.copy_from_slice(&rs.request_ctx);
            }
            if let Some((reply, stamp)) = self.pending_reads.remove(&u64::from_le_bytes(b)) {
                self.waiting_reads.push((rs.index, reply, stamp));
            }
        }
        let mut light = self.raw.advance_append(rd);
        if let Some(c) = light.commit_index() {
            store.wl().mut_hard_state().set_commit(c);
        }
        self.send(light.take_messages());
        let committed = light.take_committed_entries();
        self.apply(committed);
        // Applied to the state reads see, so tell raft-rs (and the lease).
        self.raw.advance_apply();
        self.lease.observe(&self.raw);
        let applied = self.raw.raft.raft_log.applied;
        let leader = self.raw.raft.state == StateRole::Leader;
        let (done, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting_reads)
            .into_iter()
            .partition(|(idx, _, _)| *idx <= applied);
        self.waiting_reads = wait;
        for (_, reply, stamp) in done {
            if leader {
                let _: RoundOutcome = self
                    .lease
                    .finish_read_index(stamp, &Ok::<(), ReadIndexError>(()));
                let _ = reply.send(Reply::Done { lease: false });
            } else {
                let _ = reply.send(Reply::NotLeader(self.raw.raft.leader_id));
            }
        }
    }

    fn run(mut self, inbox: Receiver<Inbound>, stop: Arc<AtomicBool>) -> Counters {
        // Ticks on std's clock (slewed, never stepped), decided on a
        // reading taken as they fire: after a stall one tick, not every
        // tick missed, which would count time from before the messages
        // stepped meanwhile against the vote guard.
        let tick_clock = FallbackClock::new();
        let mut last_role = StateRole::Follower;
        while !stop.load(Ordering::Relaxed) {
            let _: bool = self
                .lease
                .tick_if_due(&mut self.raw, &tick_clock, &self.clock);
            match inbox.recv_timeout(self.lease.next_tick_in(tick_clock.now())) {
                Ok(Inbound::Raft(m, tag)) => {
                    let _ = self.lease.step(&mut self.raw, *m, tag);
                }
                Ok(Inbound::Client(req)) => self.handle_client(req),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.raw.raft.state != last_role {
                if last_role == StateRole::Leader {
                    // raft-rs drops pending ReadIndex rounds on a role change.
                    for (_, (reply, stamp)) in self.pending_reads.drain() {
                        let _ = self
                            .lease
                            .finish_read_index(stamp, &Err(ReadIndexError::NotLeader));
                        let _ = reply.send(Reply::NotLeader(0));
                    }
                }
                last_role = self.raw.raft.state;
            }
            self.on_ready();
        }
        *self.lease.counters()
    }
}

/// Latencies (ns) of one kind of read, and how many completed.
#[derive(Default)]
struct Samples {
    lat: Vec<u64>,
    lease_hits: u64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn client(
    nodes: Vec<Sender<Inbound>>,
    mode: Arc<AtomicU8>,
    write_pct: u64,
    stop: Arc<AtomicBool>,
    seed: u64,
) -> [Samples; 2] {
    let mut out = [Samples::default(), Samples::default()];
    let mut leader = 0usize;
    let mut x = seed | 1;
    let mut next_value = seed << 40;
    while !stop.load(Ordering::Relaxed) {
        // xorshift: which operation next
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let write = x % 100 < write_pct;
        let op = if write {
            next_value += 1;
            Op::Write(next_value)
        } else {
            Op::Read
        };
        let m = mode.load(Ordering::Relaxed) as usize;
        let (tx, rx) = channel();
        let t0 = Instant::now();
        if nodes[leader]
            .send(Inbound::Client(Request { op, reply: tx }))
            .is_err()
        {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(Reply::Done { lease }) => {
                if !write && m == mode.load(Ordering::Relaxed) as usize {
                    out[m].lat.push(t0.elapsed().as_nanos() as u64);
                    out[m].lease_hits += u64::from(lease);
                }
            }
            Ok(Reply::NotLeader(hint)) => {
                leader = match hint {
                    1..=NODES => (hint - 1) as usize,
                    _ => (leader + 1) % nodes.len(),
                };
            }
            Err(_) => leader = (leader + 1) % nodes.len(),
        }
    }
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let latency = Duration::from_micros(args.latency_us);
    let stop = Arc::new(AtomicBool::new(false));
    let mode = Arc::new(AtomicU8::new(MODE_LEASE));
    let (net_tx, net_rx) = channel();
    let mut inboxes = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..NODES {
        let (tx, rx) = channel();
        senders.push(tx);
        inboxes.push(rx);
    }
    let probe = clock()?;
    let info = probe.info();
    let timing = Timing {
        tick: TICK,
        lease_clock: info,
        // The ticks run on std's clock (slewed CLOCK_MONOTONIC):
        // assumes a time daemon limited to 500 ppm of slew (ntpd, or chrony
        // with `maxslewrate 500`; chrony's default is 83 333) plus the
        // crystal's error.
        tick_drift_ppm: 1_000,
        // Scheduling: the tick thread may run late by a few milliseconds.
        margin: Duration::from_millis(5),
        // SuspendAwareClock counts suspend; elsewhere std's clock may not,
        // and a demonstration on a laptop that sleeps would be wrong.
        machine_never_suspends: cfg!(not(target_os = "linux")),
    };
    let mut handles = Vec::new();
    for (i, inbox) in inboxes.into_iter().enumerate() {
        let id = i as u64 + 1;
        let cfg = Config {
            id,
            election_tick: 10,
            heartbeat_tick: 2,
            check_quorum: true,
            pre_vote: true,
            ..Default::default()
        };
        let storage = MemStorage::new_with_conf_state(((1..=NODES).collect::<Vec<_>>(), vec![]));
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let raw = RawNode::new(&cfg, storage, &logger).map_err(|e| e.to_string())?;
        let lease =
            RaftLease::new(&cfg, &timing, Arc::new(Lease::new())).map_err(|e| e.to_string())?;
        let node = Node {
            raw,
            lease,
            clock: clock()?,
            net: net_tx.clone(),
            value: 0,
            next_ctx: 0,
            pending_writes: HashMap::new(),
            pending_reads: HashMap::new(),
            waiting_reads: Vec::new(),
            mode: mode.clone(),
        };
        let stop = stop.clone();
        handles.push(thread::spawn(move || node.run(inbox, stop)));
    }
    let net = {
        let stop = stop.clone();
        let peers = senders.clone();
        thread::spawn(move || network(net_rx, peers, latency, stop))
    };
    drop(net_tx);

    // Wait for a leader serving lease reads.
    let warm = Instant::now();
    loop {
        if warm.elapsed() > Duration::from_secs(10) {
            stop.store(true, Ordering::Relaxed);
            return Err("no leader served a lease read within 10 s".into());
        }
        let mut served = false;
        for s in &senders {
            let (tx, rx) = channel();
            let _ = s.send(Inbound::Client(Request {
                op: Op::Read,
                reply: tx,
            }));
            if let Ok(Reply::Done { lease: true }) = rx.recv_timeout(Duration::from_millis(100)) {
                served = true;
            }
        }
        if served {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }

    let client_stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..args.clients)
        .map(|c| {
            let (n, m, s) = (senders.clone(), mode.clone(), client_stop.clone());
            let w = args.write_pct;
            thread::spawn(move || client(n, m, w, s, 0x9e37_79b9 ^ (c + 1)))
        })
        .collect();
    let phase = Duration::from_millis(args.phase_ms);
    let mut elapsed = [Duration::ZERO; 2];
    for _ in 0..args.phases {
        for m in [MODE_LEASE, MODE_INDEX] {
            mode.store(m, Ordering::Relaxed);
            let t0 = Instant::now();
            thread::sleep(phase);
            elapsed[m as usize] += t0.elapsed();
        }
    }
    client_stop.store(true, Ordering::Relaxed);
    let mut all = [Samples::default(), Samples::default()];
    for c in clients {
        let r = c.join().map_err(|_| "a client panicked")?;
        for (a, b) in all.iter_mut().zip(r) {
            a.lat.extend(b.lat);
            a.lease_hits += b.lease_hits;
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(senders);
    let counters: Vec<Counters> = handles
        .into_iter()
        .map(|h| h.join().map_err(|_| "a node panicked".to_string()))
        .collect::<Result<_, _>>()?;
    let _ = net.join();

    println!(
        "3 raft-rs nodes on threads, one-way latency {} us, {} clients, {}% writes, clock {} (resolution {:?}, drift bound {} ppm)",
        args.latency_us, args.clients, args.write_pct, info.name, info.resolution, info.max_drift_ppm
    );
    println!(
        "{} phase pairs of {} ms: lease reads (ReadIndex when the lease does not cover them), then ReadIndex only",
        args.phases, args.phase_ms
    );
    println!();
    println!("| reads | count | served locally | p50 us | p99 us | p99.9 us | reads/s |");
    println!("|---|---|---|---|---|---|---|");
    let mut stats = Vec::new();
    for (m, name) in [(MODE_LEASE, "lease"), (MODE_INDEX, "ReadIndex")] {
        let s = &mut all[m as usize];
        s.lat.sort_unstable();
        let secs = elapsed[m as usize].as_secs_f64();
        let tput = s.lat.len() as f64 / secs;
        let p = [0.5, 0.99, 0.999].map(|q| percentile(&s.lat, q) as f64 / 1e3);
        println!(
            "| {name} | {} | {:.1}% | {:.1} | {:.1} | {:.1} | {:.0} |",
            s.lat.len(),
            100.0 * s.lease_hits as f64 / s.lat.len().max(1) as f64,
            p[0],
            p[1],
            p[2],
            tput
        );
        stats.push((p, tput));
    }
    let (lp, lt) = stats[0];
    let (ip, it) = stats[1];
    println!();
    println!(
        "lease / ReadIndex: latency p50 {:.3}x, p99 {:.3}x, p99.9 {:.3}x; throughput {:.2}x",
        lp[0] / ip[0].max(f64::MIN_POSITIVE),
        lp[1] / ip[1].max(f64::MIN_POSITIVE),
        lp[2] / ip[2].max(f64::MIN_POSITIVE),
        lt / it.max(f64::MIN_POSITIVE)
    );
    println!();
    println!("| node | local reads | lease misses | ReadIndex done | extended | not longer | stale gen | busy | withheld | inval role/term/transfer/clock/membership | votes dropped | acks ignored |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, c) in counters.iter().enumerate() {
        let x = &c.extensions;
        let v = &c.invalidations;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{}/{}/{}/{} | {} | {} |",
            i + 1,
            c.reads_local,
            c.lease_misses,
            c.reads_quorum,
            x.extended,
            x.not_longer,
            x.stale_generation,
            x.busy,
            c.extensions_withheld,
            v.role,
            v.term,
            v.transfer,
            v.clock,
            v.membership,
            c.votes_dropped,
            c.acks_ignored
        );
    }
    Ok(())
}
