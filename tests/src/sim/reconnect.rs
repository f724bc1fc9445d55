//! The reconnecting transport (`NetConfig::keep_for_down`): what a node that
//! is down misses waits in its senders' queues and reaches it after it
//! restarts, behind each sender's reconnect; a sender that crashed lost its
//! queue.

use super::scripted::{quiet_cluster, run_until};
use super::*;
use crate::network::KEPT_PER_LINK;
use leasehold_core::Safeguards;

fn cluster(keep: bool) -> (Sim, usize, usize) {
    let mut sim = quiet_cluster(Safeguards::ALL);
    sim.keep_for_down = keep;
    run_until(&mut sim, 1_000 * MS);
    let l = sim.leader().expect("a leader");
    (sim, l, (l + 1) % 3)
}

fn knows_leader(sim: &Sim, a: usize, l: usize) -> bool {
    let raw = sim.nodes[a].raw.as_ref().expect("up");
    raw.raft.leader_id == sim.nodes[l].id
}

#[test]
fn a_restarted_node_hears_its_senders_only_once_they_reconnect() {
    let (mut sim, l, a) = cluster(true);
    sim.crash(a);
    run_until(&mut sim, 1_080 * MS);
    let kept = sim.nodes[a].kept.len();
    assert!(kept > 0, "the leader's heartbeats were kept");
    assert!(sim.nodes[a].kept.iter().all(|k| k.from == l));
    sim.start_node(a);
    assert!(sim.nodes[a].kept.is_empty());
    let (_, at, queued) = *sim.waits.get(&(l, a)).expect("the leader reconnects");
    assert_eq!(queued as usize, kept);
    let now = sim.now();
    // Backoff from the first failure (1, 2, 4, ... ms): after 80 ms of
    // failures the next attempt of this seed is 53 ms away, long enough for
    // two more heartbeats (every 20 ms) that must wait for it too.
    assert!(
        at >= now + 40 * MS,
        "next attempt {} ms away",
        (at - now) / MS
    );
    assert!(
        at < now + 100 * MS,
        "the backoff is about as long as the failure"
    );
    // Before the leader's reconnect, nothing of it reached the node, even
    // heartbeats sent after the restart.
    run_until(&mut sim, at - 1);
    assert!(!knows_leader(&sim, a, l));
    run_until(&mut sim, at + 10 * MS);
    assert!(knows_leader(&sim, a, l));
}

#[test]
fn without_it_messages_for_a_node_that_is_down_are_lost() {
    let (mut sim, l, a) = cluster(false);
    sim.crash(a);
    run_until(&mut sim, 1_040 * MS);
    assert!(sim.nodes[a].kept.is_empty());
    sim.start_node(a);
    assert!(sim.waits.is_empty());
    // The leader's next heartbeat arrives within a heartbeat interval.
    run_until(&mut sim, 1_040 * MS + 25 * MS);
    assert!(knows_leader(&sim, a, l));
}

#[test]
fn a_queue_holds_a_bounded_number_per_link_and_dies_with_its_sender() {
    let (mut sim, l, a) = cluster(true);
    sim.crash(a);
    // Long enough for more than KEPT_PER_LINK heartbeats (20 ms apart).
    run_until(&mut sim, 1_000 * MS + 20 * MS * (KEPT_PER_LINK as u64 + 10));
    let from_leader = sim.nodes[a].kept.iter().filter(|k| k.from == l).count();
    assert_eq!(from_leader, KEPT_PER_LINK);
    // The leader crashes: its queue is gone, nothing of it is delivered.
    sim.crash(l);
    sim.start_node(a);
    assert!(!sim.waits.contains_key(&(l, a)));
}
