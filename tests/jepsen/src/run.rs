//! One run of one row: start the cluster, wait for a leader, run the
//! benchmark phase (no faults: lease reads and ReadIndex reads in
//! alternating windows), then the fault phase under the nemesis, stop,
//! collect every node's counters and check the whole history.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::checker::{check, perf, Perf, Verdict};
use crate::client::{poll_once, poll_status, run_client, ClientSpec, Shared};
use crate::cluster::{Cluster, ClusterSpec};
use crate::nemesis::{self, NemesisLog, NemesisSpec};
use crate::node::ReadMode;
use crate::scenario::Scenario;

/// The nodes' timing (the node binary's defaults, passed explicitly).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Tick, ms.
    pub tick_ms: u64,
    /// raft-rs election_tick.
    pub election_tick: u64,
    /// raft-rs heartbeat_tick.
    pub heartbeat_tick: u64,
    /// Drift bound, ppm.
    pub drift_ppm: u32,
    /// Lease margin, ms.
    pub margin_ms: u64,
}

impl Timing {
    /// The election timeout.
    pub fn election_timeout(&self) -> Duration {
        Duration::from_millis(self.tick_ms * self.election_tick)
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The node binary.
    pub node_bin: PathBuf,
    /// Where the run's data, logs and history go.
    pub dir: PathBuf,
    /// Node timing.
    pub timing: Timing,
    /// Fault phase length.
    pub secs: u64,
    /// Benchmark phase length.
    pub bench: Duration,
    /// Benchmark window.
    pub window: Duration,
    /// Seed.
    pub seed: u64,
    /// Clients.
    pub clients: usize,
}

/// Counters summed over every node incarnation.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeTotals {
    /// Lease reads the drivers served.
    pub reads_local: u64,
    /// Votes the vote guard dropped.
    pub votes_dropped: u64,
    /// Connections dropped for invalid frames.
    pub bad_frames: u64,
    /// Of those, hellos from unknown peers.
    pub unknown_peers: u64,
    /// Lease invalidations (role, term, transfer, clock).
    pub invalidations: u64,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The checkers' verdict.
    pub verdict: Verdict,
    /// The benchmark.
    pub perf: Perf,
    /// The faults.
    pub nemesis: NemesisLog,
    /// Node counters.
    pub totals: NodeTotals,
    /// The history file.
    pub history: PathBuf,
    /// Wall time.
    pub elapsed: Duration,
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn node_args(mode: ReadMode, t: &Timing) -> Vec<String> {
    let mode = match mode {
        ReadMode::Leasehold => "leasehold",
        ReadMode::RaftLeaseBased => "raft-lease-based",
    };
    [
        "--read-mode",
        mode,
        "--tick-ms",
        &t.tick_ms.to_string(),
        "--election-tick",
        &t.election_tick.to_string(),
        "--heartbeat-tick",
        &t.heartbeat_tick.to_string(),
        "--drift-ppm",
        &t.drift_ppm.to_string(),
        "--margin-ms",
        &t.margin_ms.to_string(),
        "--clock",
        "suspend-aware",
        "--max-runtime-s",
        "600",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn totals(shared: &Shared) -> NodeTotals {
    let mut t = NodeTotals::default();
    let g = |v: &serde_json::Value, a: &str, b: &str| v[a][b].as_u64().unwrap_or(0);
    if let Ok(s) = shared.status.lock() {
        for v in s.values() {
            t.reads_local += g(v, "lease", "reads_local");
            t.votes_dropped += g(v, "lease", "votes_dropped");
            t.bad_frames += g(v, "net", "bad_frames");
            t.unknown_peers += g(v, "net", "unknown_peers");
            for k in ["inval_role", "inval_term", "inval_transfer", "inval_clock"] {
                t.invalidations += g(v, "lease", k);
            }
        }
    }
    t
}

/// Waits until some node leads and accepts a write.
fn warm_up(cluster: &Cluster, shared: &Shared, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    let mut id = 1u64 << 61;
    while start.elapsed() < timeout {
        poll_once(shared, &mut id);
        if let Some(l) = shared.leader() {
            id += 1;
            let r = crate::client::one_shot(
                cluster.client_addr(l),
                &crate::protocol::Request::Read {
                    id,
                    kind: crate::protocol::ReadKind::Index,
                },
                Duration::from_millis(500),
            );
            if matches!(r, Some(crate::protocol::Reply::Ok { .. })) {
                return Ok(());
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(format!("no leader within {timeout:?}"))
}

/// Runs one row.
///
/// # Errors
///
/// The cluster could not start or never elected a leader; the history
/// could not be written.
pub fn run(s: &Scenario, spec: &RunSpec) -> Result<RunResult, String> {
    let started = Instant::now();
    let dir = spec
        .dir
        .join(format!("{}-seed-{}", slug(s.name), spec.seed));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cluster = Cluster::start(ClusterSpec {
        nodes: s.nodes,
        node_bin: spec.node_bin.clone(),
        dir: dir.join("data"),
        args: node_args(s.mode, &spec.timing),
        log_dir: Some(dir.join("logs")),
    })
    .map_err(|e| format!("starting the cluster: {e}"))?;
    let addrs: Vec<_> = (0..s.nodes).map(|i| cluster.client_addr(i)).collect();
    {
        let probe = Shared::new(
            addrs.clone(),
            cluster.incarnations.clone(),
            Duration::ZERO,
            spec.window,
        );
        warm_up(&cluster, &probe, Duration::from_secs(20))?;
    }
    let shared = Shared::new(addrs, cluster.incarnations.clone(), spec.bench, spec.window);
    let poller = {
        let sh = shared.clone();
        thread::spawn(move || poll_status(&sh, Duration::from_millis(100)))
    };
    poll_once(&shared, &mut 0);
    let clients: Vec<_> = (0..spec.clients)
        .map(|c| {
            let sh: Arc<Shared> = shared.clone();
            let cs = ClientSpec {
                id: c,
                bound: (c % 2 == 1).then_some((c / 2) % s.nodes),
                write_share: 0.25,
                think: Duration::from_millis(4),
                // Bound clients give up soon and ask again, as a client of
                // a stopped node does: their reads are recent when it resumes.
                timeout: if c % 2 == 1 {
                    spec.timing.election_timeout() / 2
                } else {
                    Duration::from_millis(400)
                },
                seed: spec.seed.wrapping_mul(1000).wrapping_add(c as u64),
            };
            thread::spawn(move || run_client(cs, &sh))
        })
        .collect();
    thread::sleep(spec.bench);
    let until = Instant::now() + Duration::from_secs(spec.secs);
    let nspec = NemesisSpec {
        faults: s.faults.clone(),
        election_timeout: spec.timing.election_timeout(),
        drift_ppm: spec.timing.drift_ppm,
        gap: (
            spec.timing.election_timeout(),
            spec.timing.election_timeout() * 5,
        ),
        seed: spec.seed,
    };
    let nem = nemesis::run(&nspec, &mut cluster, &shared, until);
    // Quiet tail: the cluster heals and clients see it recover.
    thread::sleep(spec.timing.election_timeout() * 5);
    shared.stop.store(true, Ordering::SeqCst);
    let mut recs = Vec::new();
    for c in clients {
        recs.extend(c.join().map_err(|_| "a client panicked".to_string())?);
    }
    let _ = poller.join();
    poll_once(&shared, &mut (1u64 << 60));
    let mut nem = nem;
    for (i, st) in cluster.exited() {
        nem.crashes.push(format!("node {} exited: {st}", i + 1));
    }
    drop(cluster);
    recs.sort_by_key(|r| r.invoke);
    let history = dir.join("history.json");
    let verdict = check(&recs, &history).map_err(|e| format!("history: {e}"))?;
    Ok(RunResult {
        verdict,
        perf: perf(&recs, shared.bench_until, shared.window),
        nemesis: nem,
        totals: totals(&shared),
        history,
        elapsed: started.elapsed(),
    })
}
