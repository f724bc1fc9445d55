//! The reconnecting transport ([`crate::transport`]): what a crashed node
//! misses waits, in order, in its senders' queues and reaches it after it
//! restarts, once each sender has reconnected; a queue dies with its
//! sender.

use super::scripted::{quiet_cluster, run_until};
use super::*;
use crate::transport::{Transport, QUEUE_LIMIT};
use leasehold_core::Safeguards;

/// A quiet three-node cluster with a leader `l` and a follower `a`, at 1 s.
fn cluster(reconnecting: bool) -> (Sim, usize, usize) {
    let mut sim = quiet_cluster(Safeguards::ALL);
    sim.transport.enabled = reconnecting;
    run_until(&mut sim, 1_000 * MS);
    let l = sim.leader().expect("a leader");
    (sim, l, (l + 1) % 3)
}

fn knows_leader(sim: &Sim, a: usize, l: usize) -> bool {
    let raw = sim.nodes[a].raw.as_ref().expect("up");
    raw.raft.leader_id == sim.nodes[l].id
}

/// Sequence numbers of the leader's tags queued for `a`.
fn queued(sim: &Sim, l: usize, a: usize) -> Vec<u64> {
    sim.transport.links[&(l, a)]
        .queue
        .iter()
        .map(|e| e.tag.expect("a leader's message is tagged").seq())
        .collect()
}

/// Sequence numbers of the leader's (incarnation `gen`) messages `a` got
/// after `since`.
fn got(sim: &Sim, l: usize, gen: u64, a: usize, since: u64) -> Vec<u64> {
    sim.delivered
        .iter()
        .filter(|d| d.0 >= since && d.1 == a && d.2 == l && d.3 == gen)
        .map(|d| d.4.expect("tagged").seq())
        .collect()
}

/// When the pending connection attempt of `from` to `to` happens.
fn next_attempt(sim: &Sim, from: usize, to: usize) -> u64 {
    sim.queue
        .iter()
        .filter(|q| matches!(q.ev, Ev::Reconnect { from: f, to: t, .. } if f == from && t == to))
        .map(|q| q.time)
        .min()
        .expect("an attempt is scheduled")
}

/// `a` is down from 1,000 ms to 1,080 ms; returns the restart time and the
/// leader's next connection attempt.
fn down_80ms(sim: &mut Sim, l: usize, a: usize) -> (u64, u64) {
    sim.crash(a);
    run_until(sim, 1_080 * MS);
    sim.start_node(a);
    (sim.now(), next_attempt(sim, l, a))
}

fn increasing(v: &[u64]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

#[test]
fn a_restarted_node_hears_a_sender_in_order_once_it_reconnects() {
    let (mut sim, l, a) = cluster(true);
    let gen = sim.nodes[l].incarnation;
    sim.crash(a);
    run_until(&mut sim, 1_080 * MS);
    let kept = queued(&sim, l, a);
    assert!(
        kept.len() >= 3,
        "80 ms of heartbeats, 20 ms apart: {kept:?}"
    );
    assert!(increasing(&kept));
    sim.start_node(a);
    let restart = sim.now();
    let at = next_attempt(&sim, l, a);
    // Backoff doubling from the first failure (80 ms ago): this seed's next
    // attempt is far enough away for more heartbeats to queue behind.
    assert!(
        at >= restart + 25 * MS,
        "next attempt {} ms away",
        (at - restart) / MS
    );
    run_until(&mut sim, at - 1);
    assert!(
        got(&sim, l, gen, a, restart).is_empty(),
        "nothing before the reconnect"
    );
    assert!(!knows_leader(&sim, a, l));
    let waiting = queued(&sim, l, a);
    assert!(
        waiting.len() > kept.len(),
        "sent after the restart, queued behind"
    );
    assert_eq!(waiting[..kept.len()], kept[..]);
    run_until(&mut sim, at + 10 * MS);
    let after = got(&sim, l, gen, a, restart);
    assert_eq!(
        after[..waiting.len()],
        waiting[..],
        "the queue, in order, first"
    );
    assert!(increasing(&after), "one stream: {after:?}");
    assert!(knows_leader(&sim, a, l));
    assert!(
        !sim.transport.links.contains_key(&(l, a)),
        "caught up, direct again"
    );
}

#[test]
fn without_it_what_a_crashed_node_misses_is_lost() {
    let (mut sim, l, a) = cluster(false);
    sim.crash(a);
    run_until(&mut sim, 1_080 * MS);
    assert!(sim.transport.links.is_empty());
    sim.start_node(a);
    let restart = sim.now();
    // The leader's next heartbeat arrives within a heartbeat interval.
    run_until(&mut sim, restart + 25 * MS);
    assert!(knows_leader(&sim, a, l));
}

#[test]
fn a_full_queue_refuses_the_newest() {
    let (mut sim, l, a) = cluster(true);
    sim.crash(a);
    let full = 1_000 * MS + 20 * MS * (QUEUE_LIMIT as u64 + 5);
    run_until(&mut sim, full);
    let at_full = queued(&sim, l, a);
    assert_eq!(at_full.len(), QUEUE_LIMIT);
    run_until(&mut sim, full + 200 * MS);
    assert_eq!(queued(&sim, l, a), at_full, "ten newer heartbeats refused");
}

#[test]
fn a_queue_dies_with_its_sender() {
    let (mut sim, l, a) = cluster(true);
    let gen = sim.nodes[l].incarnation;
    let (restart, at) = down_80ms(&mut sim, l, a);
    run_until(&mut sim, at - 1);
    sim.crash(l);
    run_until(&mut sim, at + 50 * MS);
    assert!(
        got(&sim, l, gen, a, restart).is_empty(),
        "the crashed leader's queue is gone"
    );
    assert!(!sim.transport.links.contains_key(&(l, a)));
}

#[test]
fn a_crash_during_the_drain_breaks_the_new_connection_and_keeps_the_order() {
    let (mut sim, l, a) = cluster(true);
    let gen = sim.nodes[l].incarnation;
    let (_, at) = down_80ms(&mut sim, l, a);
    // Reconnected, handshake under way: the receiver crashes again.
    run_until(&mut sim, at);
    let before = queued(&sim, l, a);
    sim.crash(a);
    run_until(&mut sim, at + 30 * MS);
    let again = queued(&sim, l, a);
    assert_eq!(
        again[..before.len()],
        before[..],
        "nothing lost or reordered"
    );
    assert!(again.len() > before.len());
    sim.start_node(a);
    let restart = sim.now();
    // The backoff started over at the second failure: the attempt is soon.
    let at2 = next_attempt(&sim, l, a);
    assert!(at2 < restart + 40 * MS, "{} ms", (at2 - restart) / MS);
    run_until(&mut sim, at2 + 10 * MS);
    let after = got(&sim, l, gen, a, restart);
    assert_eq!(after[..again.len()], again[..]);
    assert!(increasing(&after));
}

#[test]
fn a_cut_link_keeps_the_sender_backing_off() {
    let (mut sim, l, a) = cluster(true);
    let gen = sim.nodes[l].incarnation;
    sim.crash(a);
    run_until(&mut sim, 1_080 * MS);
    sim.net.cut(l, a);
    sim.start_node(a);
    let restart = sim.now();
    run_until(&mut sim, restart + 300 * MS);
    assert!(got(&sim, l, gen, a, restart).is_empty());
    let waiting = queued(&sim, l, a);
    sim.net.heal(l, a);
    let at = next_attempt(&sim, l, a);
    run_until(&mut sim, at + 10 * MS);
    let after = got(&sim, l, gen, a, restart);
    assert_eq!(after[..waiting.len()], waiting[..]);
}

#[test]
fn each_seed_draws_its_transport_from_the_configuration() {
    let drawn = |p| (0..200).filter(|&s| Transport::new(s, p).enabled).count();
    assert_eq!(drawn(0.0), 0);
    assert_eq!(drawn(1.0), 200);
    let half = drawn(0.5);
    assert!((70..130).contains(&half), "{half}");
}

#[test]
fn a_queue_dies_with_its_sender_even_mid_drain() {
    let (mut sim, l, a) = cluster(true);
    let gen = sim.nodes[l].incarnation;
    let (restart, at) = down_80ms(&mut sim, l, a);
    // Reconnected, the handshake under way: the sender crashes.
    run_until(&mut sim, at);
    assert!(!queued(&sim, l, a).is_empty());
    sim.crash(l);
    run_until(&mut sim, at + 50 * MS);
    assert!(got(&sim, l, gen, a, restart).is_empty());
    assert!(!sim.transport.links.contains_key(&(l, a)));
}
