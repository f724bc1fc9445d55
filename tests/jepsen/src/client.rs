//! The workload: sequential clients issuing reads and writes of unique
//! values over the client port, each operation recorded with harness
//! (real, not faked) times; and the status poller that tells the harness
//! who leads and collects every node's counters.
//!
//! Half the clients follow the leader; the other half are bound to one node
//! each, as Jepsen binds its clients: a client bound to a leader that was
//! stopped keeps asking it, which is what exposes a leader that serves
//! reads after it was deposed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::protocol::{ReadKind, Reply, Request, Served};

/// What the client wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// A read, served as asked.
    Read(ReadKind),
    /// A write of a unique value.
    Write,
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Completed: value, index, how it was served.
    Ok(u64, u64, Served),
    /// Refused before it had any effect (not leader, not connected).
    Fail,
    /// No answer in time, or the node gave up: a write may take effect.
    Unknown,
}

/// One recorded operation.
#[derive(Debug, Clone, Copy)]
pub struct Rec {
    /// Client number.
    pub client: usize,
    /// Node asked (0-based).
    pub node: usize,
    /// What.
    pub kind: OpKind,
    /// Value written (writes).
    pub value: u64,
    /// Invocation, ns since the run's epoch.
    pub invoke: u64,
    /// Completion (or give-up), ns since the epoch.
    pub end: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Invoked during the benchmark phase.
    pub bench: bool,
}

/// Shared between the harness, the clients and the poller.
#[derive(Debug)]
pub struct Shared {
    /// Time zero of the run.
    pub epoch: Instant,
    /// Client ports.
    pub addrs: Vec<SocketAddr>,
    /// Believed leader (0-based), `usize::MAX` if unknown.
    pub leader: AtomicUsize,
    /// Clients stop invoking once set.
    pub stop: AtomicBool,
    /// Benchmark phase ends at this many ns since the epoch.
    pub bench_until: u64,
    /// Length of one benchmark window (lease reads and ReadIndex reads alternate).
    pub window: u64,
    /// Latest status of each (node, incarnation).
    pub status: Mutex<HashMap<(usize, u64), serde_json::Value>>,
    /// Current incarnation per node (set by the cluster).
    pub incarnations: Arc<Vec<AtomicU64>>,
    next_value: AtomicU64,
}

impl Shared {
    /// State for a run against `addrs`.
    pub fn new(
        addrs: Vec<SocketAddr>,
        incarnations: Arc<Vec<AtomicU64>>,
        bench: Duration,
        window: Duration,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            epoch: Instant::now(),
            addrs,
            leader: AtomicUsize::new(usize::MAX),
            stop: AtomicBool::new(false),
            bench_until: bench.as_nanos() as u64,
            window: window.as_nanos().max(1) as u64,
            status: Mutex::new(HashMap::new()),
            incarnations,
            next_value: AtomicU64::new(1),
        })
    }

    /// ns since the epoch.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// The node believed to lead, if any.
    pub fn leader(&self) -> Option<usize> {
        let l = self.leader.load(Ordering::Relaxed);
        (l < self.addrs.len()).then_some(l)
    }
}

/// Why a call got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallError {
    /// The request was certainly not sent.
    NotSent,
    /// No reply in time; the connection is still usable.
    TimedOut,
    /// The connection failed after the request may have been sent.
    Broken,
}

/// A connection to one node's client port.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr, timeout: Duration) -> Option<Conn> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()?;
        let _ = s.set_nodelay(true);
        s.set_read_timeout(Some(timeout)).ok()?;
        let writer = s.try_clone().ok()?;
        Some(Conn {
            reader: BufReader::new(s),
            writer,
        })
    }

    /// Sends `req` and waits for its reply. A request whose reply did not
    /// come in time stays on the connection (a client of a stopped node
    /// keeps its connection; its requests queue up in the socket), and its
    /// late reply is skipped by id.
    fn call(&mut self, req: &Request) -> Result<Reply, CallError> {
        let line = format!("{req}\n");
        self.writer
            .write_all(line.as_bytes())
            .map_err(|_| CallError::NotSent)?;
        let mut buf = String::new();
        loop {
            buf.clear();
            match self.reader.read_line(&mut buf) {
                Ok(0) => return Err(CallError::Broken),
                Ok(_) => {}
                Err(e)
                    if buf.is_empty()
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                {
                    return Err(CallError::TimedOut)
                }
                Err(_) => return Err(CallError::Broken),
            }
            match Reply::parse(buf.trim_end()) {
                Ok(r) if r.id() == req.id() => return Ok(r),
                // A late reply to an earlier request on this connection.
                Ok(_) => continue,
                Err(_) => return Err(CallError::Broken),
            }
        }
    }
}

/// One request to one node over a fresh connection (harness commands).
pub fn one_shot(addr: SocketAddr, req: &Request, timeout: Duration) -> Option<Reply> {
    Conn::open(addr, timeout)?.call(req).ok()
}

/// What a client does.
#[derive(Debug, Clone, Copy)]
pub struct ClientSpec {
    /// Client number.
    pub id: usize,
    /// Bound to this node, or following the leader.
    pub bound: Option<usize>,
    /// Share of writes outside the benchmark.
    pub write_share: f64,
    /// Pause between operations outside the benchmark.
    pub think: Duration,
    /// How long to wait for a reply.
    pub timeout: Duration,
    /// Seed of its choices.
    pub seed: u64,
}

/// Runs one client until `shared.stop`; returns its operations.
pub fn run_client(spec: ClientSpec, shared: &Shared) -> Vec<Rec> {
    let mut rng = leasehold_sim::rng::Rng::new(spec.seed);
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut ops = Vec::new();
    let mut req_id = (spec.id as u64) << 40;
    let n = shared.addrs.len();
    while !shared.stop.load(Ordering::Relaxed) {
        let t = shared.now();
        let bench = t < shared.bench_until;
        let node = match (bench, spec.bound) {
            (false, Some(b)) => b,
            _ => shared.leader().unwrap_or_else(|| rng.pick(n)),
        };
        let kind = if bench {
            if (t / shared.window).is_multiple_of(2) {
                OpKind::Read(ReadKind::Lease)
            } else {
                OpKind::Read(ReadKind::Index)
            }
        } else if rng.chance(spec.write_share) {
            OpKind::Write
        } else {
            OpKind::Read(ReadKind::Lease)
        };
        req_id += 1;
        let value = match kind {
            OpKind::Write => shared.next_value.fetch_add(1, Ordering::Relaxed),
            OpKind::Read(_) => 0,
        };
        let req = match kind {
            OpKind::Write => Request::Write { id: req_id, value },
            OpKind::Read(k) => Request::Read {
                id: req_id,
                kind: k,
            },
        };
        let invoke = shared.now();
        let result = match conns.entry(node) {
            std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().call(&req),
            std::collections::hash_map::Entry::Vacant(v) => {
                match Conn::open(shared.addrs[node], spec.timeout) {
                    Some(c) => v.insert(c).call(&req),
                    None => Err(CallError::NotSent),
                }
            }
        };
        let end = shared.now();
        let outcome = match result {
            Ok(Reply::Ok {
                value: v,
                index,
                served,
                ..
            }) => Outcome::Ok(v, index, served),
            Ok(Reply::NotLeader { leader, .. }) => {
                if spec.bound.is_none() && leader >= 1 && (leader as usize) <= n {
                    shared.leader.store(leader as usize - 1, Ordering::Relaxed);
                }
                Outcome::Fail
            }
            Ok(Reply::Err { .. }) => Outcome::Fail,
            Ok(Reply::Timeout { .. } | Reply::Status { .. }) => Outcome::Unknown,
            Err(CallError::TimedOut) => Outcome::Unknown,
            Err(CallError::Broken) => {
                conns.remove(&node);
                Outcome::Unknown
            }
            Err(CallError::NotSent) => {
                conns.remove(&node);
                thread::sleep(Duration::from_millis(5));
                Outcome::Fail
            }
        };
        ops.push(Rec {
            client: spec.id,
            node,
            kind,
            value,
            invoke,
            end,
            outcome,
            bench,
        });
        if !bench && !spec.think.is_zero() {
            thread::sleep(spec.think);
        }
    }
    ops
}

/// Polls every node's status every `every` until `shared.stop`, keeping the
/// newest status of each incarnation and the believed leader.
pub fn poll_status(shared: &Shared, every: Duration) {
    let mut id = 1u64 << 62;
    while !shared.stop.load(Ordering::Relaxed) {
        poll_once(shared, &mut id);
        thread::sleep(every);
    }
}

/// One round of status requests.
pub fn poll_once(shared: &Shared, id: &mut u64) {
    let mut best: Option<(u64, usize)> = None;
    for (i, &addr) in shared.addrs.iter().enumerate() {
        *id += 1;
        let inc = shared.incarnations[i].load(Ordering::SeqCst);
        let Some(Reply::Status { json, .. }) = one_shot(
            addr,
            &Request::Status { id: *id },
            Duration::from_millis(100),
        ) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&json) else {
            continue;
        };
        if v["role"] == "leader" {
            let term = v["term"].as_u64().unwrap_or(0);
            if best.is_none_or(|(t, _)| term > t) {
                best = Some((term, i));
            }
        }
        if let Ok(mut s) = shared.status.lock() {
            s.insert((i, inc), v);
        }
    }
    if let Some((_, i)) = best {
        shared.leader.store(i, Ordering::Relaxed);
    }
}
