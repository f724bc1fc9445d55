//! Hand-made fault sequences, one per hole whose negative control the
//! randomized table reaches only rarely (its race needs several faults to
//! line up within one lease). Each runs the same cluster twice, with the
//! guard and with exactly that guard switched off, and asserts that only
//! the second breaks the lease: a lease premise (a vote inside a lease the
//! voter confirmed), an overlap, or both. Deterministic: no random faults,
//! no message loss.

use super::*;
use crate::nemesis::Fault;
use crate::scenario::base;
use leasehold_core::Safeguards;
use raft::eraftpb::MessageType;

pub(super) fn quiet_cluster(safeguards: Safeguards) -> Sim {
    let mut cfg = base(3);
    cfg.nemesis.kinds.clear();
    cfg.pre_vote = Pick::Fixed(false);
    cfg.min_election_ticks = Pick::Fixed(0);
    cfg.heartbeat_ticks = Pick::Fixed(2);
    cfg.net.hold = 0.0;
    cfg.net.loss = 0.0;
    cfg.net.dup = 0.0;
    // As these tests were written: what a crashed node misses is lost.
    cfg.net.keep_for_down = 0.0;
    cfg.apply.lag_prob = 0.0;
    cfg.duration = Duration::from_secs(4);
    cfg.safeguards = safeguards;
    let mut sim = Sim::new(cfg, 1);
    // Nobody writes: a node cut off from the leader keeps an up-to-date log.
    sim.quiet = 1;
    sim
}

pub(super) fn run_until(sim: &mut Sim, t: u64) {
    while let Some(q) = sim.queue.peek() {
        if q.time > t {
            break;
        }
        let q = sim.queue.pop().expect("peeked");
        sim.overlap.account(q.time);
        sim.now.set(q.time);
        sim.handle(q.ev);
        sim.refresh_overlap();
    }
    sim.overlap.account(t);
    sim.now.set(t);
}

fn isolate(sim: &mut Sim, n: usize) -> Vec<(usize, usize)> {
    let mut cuts = Vec::new();
    for j in 0..sim.nodes.len() {
        if j != n {
            cuts.push((j, n));
            cuts.push((n, j));
        }
    }
    for &(a, b) in &cuts {
        sim.net.cut(a, b);
    }
    cuts
}

/// (overlap ns, broken premises) of a scenario with and without a guard.
fn both(off: fn(&mut Safeguards), scenario: fn(&mut Sim)) -> ((u64, u64), (u64, u64)) {
    let run = |s: Safeguards| {
        let mut sim = quiet_cluster(s);
        scenario(&mut sim);
        (sim.overlap.total_ns(), sim.premises.violations())
    };
    let mut weak = Safeguards::ALL;
    off(&mut weak);
    (run(Safeguards::ALL), run(weak))
}

fn assert_guard_matters(name: &str, (with, without): ((u64, u64), (u64, u64))) {
    assert_eq!(with, (0, 0), "{name}: the lease broke with the guard on");
    assert!(
        without.0 > 0 || without.1 > 0,
        "{name}: switching the guard off broke nothing"
    );
}

// A follower Y cut off long enough to campaign (pre-vote off: its term
// grows) rejoins; its reply to the leader's heartbeat carries the higher
// term, the leader steps down to a follower with no leader and grants Y's
// next vote at once. Its own ack counted in its lease.
#[test]
fn step_down_invalidation_a_higher_term_follower_rejoins() {
    let r = both(
        |s| s.step_down_invalidates = false,
        |sim| {
            // Several rounds: Y's next campaign must land inside the
            // leader's remaining lease, which depends on Y's timer.
            let mut t = 1_000;
            while t < 3_600 {
                run_until(sim, t * MS);
                let Some(l) = sim.leader() else {
                    t += 100;
                    continue;
                };
                let cuts = isolate(sim, (l + 1) % 3);
                run_until(sim, (t + 450) * MS);
                sim.fault(Fault::Heal(cuts));
                t += 650;
            }
            run_until(sim, 3_900 * MS);
        },
    );
    assert_guard_matters("step-down invalidation", r);
}

// Follower B cannot hear the leader and campaigns; follower A restarts
// again and again, each time cut from the leader for a moment, so that one
// of B's vote requests reaches A before the leader's next heartbeat. A
// acknowledged the leader just before it went down.
#[test]
fn restart_guard_a_restarted_follower_votes_at_once() {
    let r = both(
        |s| s.restart_guard = false,
        |sim| {
            run_until(sim, 1_000 * MS);
            let l = sim.leader().expect("a leader");
            let (a, b) = ((l + 1) % 3, (l + 2) % 3);
            sim.net.cut(l, b);
            let mut t = 1_150;
            while t < 2_500 {
                run_until(sim, t * MS);
                sim.crash(a);
                sim.net.cut(l, a);
                run_until(sim, (t + 1) * MS);
                sim.start_node(a);
                run_until(sim, (t + 30) * MS);
                sim.net.heal(l, a);
                t += 60;
            }
            run_until(sim, 3_000 * MS);
        },
    );
    assert_guard_matters("restart guard", r);
}

// Hole 2: a follower F inside the lease it confirmed adopts a higher term
// from a stray response (here: a late vote rejection from Y, whose term grew
// while it was cut off) and forgets its leader; raft-rs's in-lease rule
// needs a known leader, so F would grant Y's next vote at once.
#[test]
fn vote_guard_a_follower_forgets_its_leader() {
    let r = both(
        |s| s.vote_guard = false,
        |sim| {
            run_until(sim, 1_000 * MS);
            let l = sim.leader().expect("a leader");
            let (f, y) = ((l + 1) % 3, (l + 2) % 3);
            // Y is cut off from the leader and campaigns; F still follows.
            sim.net.cut(l, y);
            sim.net.cut(y, l);
            run_until(sim, 1_400 * MS);
            let ty = sim.nodes[y].raw.as_ref().expect("up").raft.term;
            let (fid, yid) = (sim.nodes[f].id, sim.nodes[y].id);
            // The stray response: Y's rejection of a vote F asked for long
            // ago, delivered now.
            let mut m = Message::default();
            m.set_msg_type(MessageType::MsgRequestVoteResponse);
            m.from = yid;
            m.to = fid;
            m.term = ty;
            m.reject = true;
            let env = Envelope {
                from: y,
                from_gen: sim.nodes[y].incarnation,
                msg: Box::new(m),
                tag: None,
                sent: sim.now(),
            };
            sim.push_in(1, Ev::Deliver { to: f, env });
            run_until(sim, 2_000 * MS);
        },
    );
    assert_guard_matters("vote guard", r);
}
