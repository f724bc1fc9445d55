//! The nemesis: a random schedule of faults drawn from a seed, executed
//! against the live cluster while the clients run.
//!
//! Faults, each bounded in time and undone before the next one starts:
//! SIGSTOP of the leader or of a follower for longer than the election
//! timeout; kill -9 and restart; partitions (the leader isolated, one-way
//! from or to the leader, a random split); leadership transfers; clock-rate
//! faults through libfaketime within the configured drift bound; garbage on
//! a live peer connection (random bytes, an oversized header, a hello from
//! an unknown peer). [`Fault::SlowLeaderClock`] is the clock far beyond
//! the bound, a negative control of the drift assumption.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use leasehold_sim::rng::Rng;
use raft::eraftpb::{Message, MessageType};

use crate::client::{one_shot, Shared};
use crate::cluster::Cluster;
use crate::frame::{encode_hello, encode_raft};
use crate::protocol::Request;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// SIGSTOP the leader past the election timeout, then SIGCONT.
    PauseLeader,
    /// SIGSTOP a follower past the election timeout, then SIGCONT.
    PauseFollower,
    /// kill -9 a node (the leader half the time), restart it from its log.
    KillRestart,
    /// Cut the leader off from every peer, both ways.
    IsolateLeader,
    /// Drop the leader's messages to its peers, not theirs to it.
    OneWayFromLeader,
    /// Drop the peers' messages to the leader, not its to them.
    OneWayToLeader,
    /// A random split of the nodes into two sides.
    Split,
    /// Ask the leader to hand over to a random follower.
    Transfer,
    /// Restart a node under libfaketime at a rate within the drift bound.
    ClockWithinBound,
    /// Random bytes, an oversized header or an unknown peer's hello on a
    /// live connection.
    Garbage,
    /// The leader restarted with its clocks at a fifth of real speed, far
    /// past the bound, made leader again and isolated: its lease outlives
    /// the followers' promise.
    SlowLeaderClock,
}

impl Fault {
    /// Short name for the log.
    pub fn name(self) -> &'static str {
        match self {
            Fault::PauseLeader => "pause-leader",
            Fault::PauseFollower => "pause-follower",
            Fault::KillRestart => "kill-restart",
            Fault::IsolateLeader => "isolate-leader",
            Fault::OneWayFromLeader => "one-way-from-leader",
            Fault::OneWayToLeader => "one-way-to-leader",
            Fault::Split => "split",
            Fault::Transfer => "transfer",
            Fault::ClockWithinBound => "clock-within-bound",
            Fault::Garbage => "garbage",
            Fault::SlowLeaderClock => "slow-leader-clock",
        }
    }
}

/// The schedule's parameters.
#[derive(Debug, Clone)]
pub struct NemesisSpec {
    /// Faults to draw from, with weights.
    pub faults: Vec<(Fault, u32)>,
    /// Election timeout of the nodes (pauses and cuts last longer).
    pub election_timeout: Duration,
    /// Drift bound in ppm (clock faults within it use at most half of it).
    pub drift_ppm: u32,
    /// Quiet time between faults.
    pub gap: (Duration, Duration),
    /// Seed.
    pub seed: u64,
}

/// What the nemesis did.
#[derive(Debug, Clone, Default)]
pub struct NemesisLog {
    /// Faults injected, in order, with their start (ns since the epoch).
    pub events: Vec<(u64, Fault, String)>,
    /// Node processes that exited on their own (should be none).
    pub crashes: Vec<String>,
}

fn ms(rng: &mut Rng, lo: Duration, hi: Duration) -> Duration {
    let lo = lo.as_millis() as u64;
    let hi = (hi.as_millis() as u64).max(lo + 1);
    Duration::from_millis(rng.range(lo, hi))
}

fn sleep_until(deadline: Instant, d: Duration) {
    let left = deadline.saturating_duration_since(Instant::now());
    thread::sleep(d.min(left));
}

/// Runs faults until `until`, then heals everything and leaves every node
/// up on its real clock.
pub fn run(
    spec: &NemesisSpec,
    cluster: &mut Cluster,
    shared: &Arc<Shared>,
    until: Instant,
) -> NemesisLog {
    let mut rng = Rng::new(spec.seed);
    let mut log = NemesisLog::default();
    let total: u32 = spec.faults.iter().map(|f| f.1).sum();
    let et = spec.election_timeout;
    while Instant::now() + et < until && total > 0 {
        sleep_until(until, ms(&mut rng, spec.gap.0, spec.gap.1));
        if Instant::now() + et >= until {
            break;
        }
        let mut x = rng.range(0, u64::from(total)) as u32;
        let fault = spec
            .faults
            .iter()
            .find(|f| {
                if x < f.1 {
                    true
                } else {
                    x -= f.1;
                    false
                }
            })
            .map_or(Fault::PauseLeader, |f| f.0);
        let t = shared.now();
        let what = inject(fault, spec, cluster, shared, &mut rng, until);
        for (i, status) in cluster.exited() {
            log.crashes.push(format!("node {} exited: {status}", i + 1));
            let _ = cluster.restart(i, None);
        }
        if let Some(what) = what {
            log.events.push((t, fault, what));
        }
    }
    cluster.links.heal();
    for i in 0..cluster.len() {
        if !cluster.is_up(i) || cluster.rate(i).is_some() {
            cluster.resume(i);
            if cluster.rate(i).is_some() {
                let _ = cluster.restart(i, None);
            }
        }
    }
    log
}

fn leader_or_any(shared: &Shared, rng: &mut Rng, n: usize) -> usize {
    shared.leader().unwrap_or_else(|| rng.pick(n))
}

fn follower(shared: &Shared, rng: &mut Rng, n: usize) -> usize {
    let l = shared.leader();
    loop {
        let f = rng.pick(n);
        if Some(f) != l {
            return f;
        }
    }
}

fn isolate(cluster: &Cluster, node: usize, out: bool, inn: bool) {
    for j in 0..cluster.len() {
        if j != node {
            if out {
                cluster.links.set_blocked(node, j, true);
            }
            if inn {
                cluster.links.set_blocked(j, node, true);
            }
        }
    }
}

/// Executes one fault (blocking until it is undone); a description, or
/// `None` if it could not be injected (no faketime, say).
fn inject(
    fault: Fault,
    spec: &NemesisSpec,
    cluster: &mut Cluster,
    shared: &Arc<Shared>,
    rng: &mut Rng,
    until: Instant,
) -> Option<String> {
    let n = cluster.len();
    let et = spec.election_timeout;
    let long = ms(rng, et * 3 / 2, et * 6);
    match fault {
        Fault::PauseLeader | Fault::PauseFollower => {
            let node = if fault == Fault::PauseLeader {
                leader_or_any(shared, rng, n)
            } else {
                follower(shared, rng, n)
            };
            // A deposed leader must stay stopped until its successor has
            // committed writes, or there is nothing to read stale.
            let d = if fault == Fault::PauseLeader {
                ms(rng, et * 3, et * 8)
            } else {
                long
            };
            cluster.pause(node);
            sleep_until(until, d);
            cluster.resume(node);
            Some(format!("node {} stopped {d:?}", node + 1))
        }
        Fault::KillRestart => {
            let node = if rng.chance(0.5) {
                leader_or_any(shared, rng, n)
            } else {
                rng.pick(n)
            };
            cluster.kill(node);
            let down = ms(rng, Duration::ZERO, et * 4);
            sleep_until(until, down);
            cluster.restart(node, None).ok()?;
            sleep_until(until, et);
            Some(format!("node {} killed, down {down:?}", node + 1))
        }
        Fault::IsolateLeader | Fault::OneWayFromLeader | Fault::OneWayToLeader => {
            let node = leader_or_any(shared, rng, n);
            let (out, inn) = match fault {
                Fault::IsolateLeader => (true, true),
                Fault::OneWayFromLeader => (true, false),
                _ => (false, true),
            };
            isolate(cluster, node, out, inn);
            sleep_until(until, long);
            cluster.links.heal();
            Some(format!("node {} cut off {long:?}", node + 1))
        }
        Fault::Split => {
            let mut side: Vec<bool> = (0..n).map(|_| rng.chance(0.5)).collect();
            side[rng.pick(n)] = !side[0];
            for i in 0..n {
                for j in 0..n {
                    if side[i] != side[j] {
                        cluster.links.set_blocked(i, j, true);
                    }
                }
            }
            sleep_until(until, long);
            cluster.links.heal();
            Some(format!("split {side:?} for {long:?}"))
        }
        Fault::Transfer => {
            let l = shared.leader()?;
            let to = follower(shared, rng, n);
            let id = rng.next_u64() >> 2;
            one_shot(
                cluster.client_addr(l),
                &Request::Transfer {
                    id,
                    to: to as u64 + 1,
                },
                Duration::from_millis(200),
            )?;
            sleep_until(until, et);
            Some(format!("transfer {} -> {}", l + 1, to + 1))
        }
        Fault::ClockWithinBound => {
            if !cluster.has_faketime() {
                return None;
            }
            let node = rng.pick(n);
            // Up to half the bound, either way.
            let half = f64::from(spec.drift_ppm) / 2e6;
            let rate = 1.0 + half * (rng.range(0, 2001) as f64 / 1000.0 - 1.0);
            cluster.restart(node, Some(rate)).ok()?;
            sleep_until(until, ms(rng, et * 10, et * 25));
            cluster.restart(node, None).ok()?;
            Some(format!("node {} clock x{rate:.4}", node + 1))
        }
        Fault::Garbage => garbage(cluster, rng),
        Fault::SlowLeaderClock => slow_leader_clock(cluster, shared, rng, until, et),
    }
}

fn garbage(cluster: &mut Cluster, rng: &mut Rng) -> Option<String> {
    let n = cluster.len();
    let to = rng.pick(n);
    let from = (to + 1 + rng.pick(n - 1)) % n;
    match rng.range(0, 3) {
        0 => {
            let len = rng.range(1, 256) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            cluster.links.inject(from, to, bytes);
            Some(format!("{len} random bytes on {} -> {}", from + 1, to + 1))
        }
        1 => {
            let mut bytes = b"LHJ1".to_vec();
            bytes.extend_from_slice(&u32::MAX.to_le_bytes());
            bytes.extend_from_slice(&[0; 4]);
            cluster.links.inject(from, to, bytes);
            Some(format!("oversized header on {} -> {}", from + 1, to + 1))
        }
        _ => {
            // A well-formed hello and heartbeat from a node id that is not
            // in the cluster, straight to the node's peer port.
            let stranger = 99;
            let mut bytes = Vec::new();
            encode_hello(stranger, to as u64 + 1, &mut bytes);
            let mut m = Message::default();
            m.set_msg_type(MessageType::MsgHeartbeat);
            m.from = stranger;
            m.to = to as u64 + 1;
            m.term = u64::MAX / 2;
            encode_raft(&m, None, &mut bytes).ok()?;
            let mut s = TcpStream::connect(cluster.peer_addr(to)).ok()?;
            let _ = s.write_all(&bytes);
            Some(format!("hello from unknown peer {stranger} to {}", to + 1))
        }
    }
}

/// The clock far past its bound: restart a node at a fifth of real speed,
/// make it leader, and once it holds a lease cut it off while its clients
/// keep reading. Its lease, 5x longer in real time, outlives the
/// followers' vote refusal, so they elect a leader that commits writes the
/// old one never sees.
fn slow_leader_clock(
    cluster: &mut Cluster,
    shared: &Arc<Shared>,
    rng: &mut Rng,
    until: Instant,
    et: Duration,
) -> Option<String> {
    if !cluster.has_faketime() {
        return None;
    }
    let n = cluster.len();
    let node = rng.pick(n);
    cluster.restart(node, Some(0.2)).ok()?;
    // Catch up, then become leader.
    sleep_until(until, et * 3);
    let deadline = Instant::now() + et * 15;
    while shared.leader() != Some(node) && Instant::now() < deadline.min(until) {
        if let Some(l) = shared.leader() {
            let _ = one_shot(
                cluster.client_addr(l),
                &Request::Transfer {
                    id: rng.next_u64() >> 2,
                    to: node as u64 + 1,
                },
                Duration::from_millis(200),
            );
        }
        sleep_until(until, et * 2);
    }
    let led = shared.leader() == Some(node);
    if led {
        // Let it extend its lease on the slow clock, then cut it off.
        sleep_until(until, et * 2);
        isolate(cluster, node, true, true);
        sleep_until(until, et * 8);
        cluster.links.heal();
    }
    cluster.restart(node, None).ok()?;
    sleep_until(until, et);
    Some(format!(
        "node {} clock x0.2{}",
        node + 1,
        if led {
            ", led, isolated"
        } else {
            ", never led"
        }
    ))
}
