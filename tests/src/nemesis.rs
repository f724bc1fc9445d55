//! The nemesis: a random schedule of faults that overlap. Each fault starts
//! at a random time (a Poisson-like process, mean gap configurable), picks
//! its own targets (the leader more often than not) and lasts its own
//! random time, so partitions, pauses, suspends, crashes, transfers,
//! membership changes and clock faults pile up on one another. Nothing is
//! scripted for a particular hole.

use std::time::Duration;

use raft::eraftpb::{ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2};

use crate::node::Down;
use crate::sim::{Ev, Sim, MS};

/// The kinds of fault the nemesis draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The live members split into two random sides, cut both ways.
    Partition,
    /// One node (usually the leader) cut off: both ways, deaf, or mute.
    Isolate,
    /// One random direction between two nodes cut.
    OneWay,
    /// A process stopped (SIGSTOP, GC): its clock keeps counting.
    Pause,
    /// A machine suspended: its clock stops unless it counts suspend.
    Suspend,
    /// A crash, and a restart from durable state later.
    Crash,
    /// The leader transfers leadership to a random member, reachable or not.
    Transfer,
    /// Add a learner, promote one, remove a voter (maybe the leader), or a
    /// joint change that does two of these.
    Membership,
    /// A clock's reads fail for a while (sometimes it also stops counting).
    ClockFail,
    /// A clock's drift changes (within the node's drift bound).
    ClockRate,
    /// Heavy message loss for a while.
    LossBurst,
    /// Many more messages held for long for a while.
    DelayStorm,
    /// A node's state machine falls behind commit for a while.
    SlowApply,
    /// Clients only read for a while: logs stop moving, so a node cut off
    /// from the leader stays as up to date as the rest and can win votes.
    QuietWrites,
    /// One link (one way or both) becomes slow: every message on it takes
    /// tens of milliseconds to seconds longer, so messages arrive after
    /// terms changed, after restarts, and out of order.
    SlowLink,
    /// A node in a crash loop: it crashes and restarts every few tens of
    /// milliseconds for a while, as a process does that a supervisor keeps
    /// restarting.
    CrashLoop,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 16] = [
        FaultKind::Partition,
        FaultKind::Isolate,
        FaultKind::OneWay,
        FaultKind::Pause,
        FaultKind::Suspend,
        FaultKind::Crash,
        FaultKind::Transfer,
        FaultKind::Membership,
        FaultKind::ClockFail,
        FaultKind::ClockRate,
        FaultKind::LossBurst,
        FaultKind::DelayStorm,
        FaultKind::SlowApply,
        FaultKind::QuietWrites,
        FaultKind::SlowLink,
        FaultKind::CrashLoop,
    ];
}

/// How often faults start, and which.
#[derive(Debug, Clone, PartialEq)]
pub struct NemesisConfig {
    /// Mean time between the starts of two faults.
    pub mean_gap: Duration,
    /// Kinds with relative weights.
    pub kinds: Vec<(FaultKind, u32)>,
    /// Swarm testing (Groce et al., ISSTA 2012): every seed keeps a random
    /// third of the kinds, reweighted, at a random rate around `mean_gap`,
    /// so that some seeds concentrate on a few kinds of fault and their
    /// interactions instead of diluting every one of them.
    pub swarm: bool,
    /// Probability that a fault starts a burst: two to five more faults
    /// within a few lease periods, aimed at the same two nodes (usually the
    /// leader and one other), so that faults compound instead of passing
    /// each other by.
    pub burst: f64,
    /// Probability that a protocol event (a node becomes candidate, leader
    /// or follower, changes term, receives a vote request, or a leader sends
    /// `MsgTimeoutNow`) draws a fault right after it, aimed at the nodes the
    /// event involves: faults at the moments protocols are fragile, without
    /// saying which fault or which hole. At most one reaction per 200 ms.
    pub react: f64,
    /// Episodes instead of a steady stream: the run alternates calm gaps
    /// with episodes of a few hundred milliseconds to two seconds, each of
    /// which picks one to three kinds of fault, a pair of nodes to aim at
    /// and an intensity, and injects only those, densely. Compound faults
    /// on the same nodes then happen within one run instead of once in
    /// thousands.
    pub episodes: bool,
}

/// The fault episode under way.
#[derive(Debug, Clone)]
pub(crate) struct Episode {
    kinds: Vec<(FaultKind, u32)>,
    focus: (usize, usize),
    until: u64,
    gap: u64,
}

impl NemesisConfig {
    /// The mix one seed runs: this one, or a swarm draw from it.
    pub(crate) fn for_seed(&self, rng: &mut crate::rng::Rng) -> NemesisConfig {
        if !self.swarm {
            return self.clone();
        }
        let mut kinds: Vec<(FaultKind, u32)> = Vec::new();
        for &(k, w) in &self.kinds {
            if rng.chance(0.35) {
                kinds.push((k, w * rng.range(1, 5) as u32));
            }
        }
        if kinds.is_empty() && !self.kinds.is_empty() {
            kinds.push(self.kinds[rng.pick(self.kinds.len())]);
        }
        let mean = self.mean_gap.as_nanos() as u64;
        NemesisConfig {
            mean_gap: Duration::from_nanos(rng.range(mean / 2, mean * 2)),
            kinds,
            swarm: false,
            burst: self.burst * rng.range(0, 3) as f64,
            react: [0.0, 0.2, 0.5][rng.pick(3)],
            episodes: self.episodes,
        }
    }

    /// Every kind, with the default weights.
    pub fn all(mean_gap: Duration) -> NemesisConfig {
        use FaultKind::*;
        NemesisConfig {
            mean_gap,
            swarm: false,
            burst: 0.1,
            react: 0.0,
            episodes: false,
            kinds: vec![
                (Partition, 3),
                (Isolate, 4),
                (OneWay, 2),
                (Pause, 3),
                (Suspend, 2),
                (Crash, 3),
                (Transfer, 1),
                (Membership, 3),
                (ClockFail, 1),
                (ClockRate, 1),
                (LossBurst, 1),
                (DelayStorm, 2),
                (SlowApply, 2),
                (QuietWrites, 3),
                (SlowLink, 3),
                (CrashLoop, 1),
            ],
        }
    }
}

/// A timed step of a fault already under way.
#[derive(Debug, Clone)]
pub enum Fault {
    /// End cuts.
    Heal(Vec<(usize, usize)>),
    /// End a pause or suspend (by its id).
    Resume(usize, u64),
    /// Restart a crashed node.
    Restart(usize),
    /// A failing clock reads again.
    ClockRecover(usize),
    /// End a loss burst.
    EndLoss(f64),
    /// End a delay storm.
    EndStorm(f64),
    /// A node's apply catches up.
    EndSlowApply(usize),
    /// Clients write again (one quiet period ends).
    EndQuiet,
    /// A slow link is fast again.
    EndSlow(Vec<(usize, usize)>, u64),
    /// Propose leaving a joint configuration (tries left).
    LeaveJoint(u32),
    /// One more crash of a crash loop (node, crashes left, period ns).
    Loop(usize, u32, u64),
}

impl Sim {
    pub(crate) fn schedule_nemesis(&mut self, at_least: u64) {
        if self.nemesis.kinds.is_empty() {
            return;
        }
        let mean = self.nemesis.mean_gap.as_nanos() as u64;
        let gap = at_least + self.rng.range(mean / 5, mean * 9 / 5);
        self.push_in(gap, Ev::Nemesis);
    }

    fn draw_from(&mut self, kinds: &[(FaultKind, u32)]) -> FaultKind {
        let total: u32 = kinds.iter().map(|k| k.1).sum();
        let mut x = self.rng.range(0, u64::from(total)) as u32;
        for &(k, w) in kinds {
            if x < w {
                return k;
            }
            x -= w;
        }
        kinds[0].0
    }

    fn draw_kind(&mut self) -> FaultKind {
        let kinds = match &self.episode {
            Some(e) => e.kinds.clone(),
            None => self.nemesis.kinds.clone(),
        };
        self.draw_from(&kinds)
    }

    fn start_episode(&mut self) {
        let mut kinds: Vec<(FaultKind, u32)> = Vec::new();
        let all = self.nemesis.kinds.clone();
        for _ in 0..self.rng.range(1, 4) {
            let k = self.draw_from(&all);
            if !kinds.iter().any(|x| x.0 == k) {
                kinds.push((k, 1));
            }
        }
        let (Some(a), Some(b)) = (self.target(0.7), self.target(0.0)) else {
            self.push_in(100 * MS, Ev::Nemesis);
            return;
        };
        let until = self.now() + self.rng.log_range(200 * MS, 2000 * MS);
        let gap = self.rng.log_range(15 * MS, 200 * MS);
        self.trace(format_args!("episode {kinds:?} on {} and {}", a + 1, b + 1));
        self.episode = Some(Episode {
            kinds,
            focus: (a, b),
            until,
            gap,
        });
        self.episode_step();
    }

    pub(crate) fn episode_step(&mut self) {
        let Some(e) = self.episode.clone() else {
            return;
        };
        if self.now() >= e.until {
            self.episode = None;
            let calm = self.rng.log_range(10 * MS, 500 * MS);
            self.push_in(calm, Ev::Nemesis);
            return;
        }
        self.faults += 1;
        self.focus = Some(e.focus);
        self.inject();
        self.focus = None;
        let dt = self.rng.range(e.gap / 5, e.gap * 9 / 5).max(1);
        self.push_in(dt, Ev::EpisodeStep);
    }

    /// A target: the leader with probability `p_leader`, else any live member.
    fn target(&mut self, p_leader: f64) -> Option<usize> {
        if let Some((a, b)) = self.focus {
            let pick = if self.rng.chance(0.5) { a } else { b };
            if self.nodes[pick].raw.is_some() || self.rng.chance(0.5) {
                return Some(pick);
            }
        }
        if self.rng.chance(p_leader) {
            if let Some(l) = self.leader() {
                return Some(l);
            }
        }
        let live: Vec<usize> = self
            .members()
            .into_iter()
            .filter(|&i| self.nodes[i].raw.is_some())
            .collect();
        (!live.is_empty()).then(|| live[self.rng.pick(live.len())])
    }

    fn cut_for(&mut self, cuts: Vec<(usize, usize)>, lo: u64, hi: u64) {
        if cuts.is_empty() {
            return;
        }
        for &(a, b) in &cuts {
            self.net.cut(a, b);
        }
        let d = self.rng.log_range(lo, hi);
        self.push_in(d, Ev::Fault(Fault::Heal(cuts)));
    }

    pub(crate) fn nemesis_step(&mut self) {
        if self.nemesis.episodes {
            self.start_episode();
            return;
        }
        self.schedule_nemesis(0);
        if self.rng.chance(self.nemesis.burst) {
            if let (Some(a), Some(b)) = (self.target(0.7), self.target(0.0)) {
                let n = self.rng.range(2, 6) as u32;
                let mut t = 0;
                for _ in 0..n {
                    t += self.rng.log_range(2 * MS, 100 * MS);
                    self.push_in(t, Ev::NemesisBurst { focus: (a, b) });
                }
            }
        }
        self.inject();
    }

    /// A protocol event at node `a` (involving `b`, if any) may draw a
    /// fault aimed at both, a moment later.
    pub(crate) fn react(&mut self, a: usize, b: Option<usize>) {
        if self.nemesis.kinds.is_empty() || !self.take_reaction() {
            return;
        }
        let b = match b {
            Some(b) => b,
            None => match self.target(0.5) {
                Some(b) => b,
                None => return,
            },
        };
        let dt = self.rng.log_range(MS / 2, 60 * MS);
        self.push_in(dt, Ev::NemesisBurst { focus: (a, b) });
    }

    /// Whether a protocol event draws a reaction now (with the seed's
    /// reaction probability), starting the cooldown if it does: reactions
    /// to reactions must not keep the cluster from ever electing a leader.
    fn take_reaction(&mut self) -> bool {
        let now = self.now();
        if now < self.react_after || !self.rng.chance(self.nemesis.react) {
            return false;
        }
        self.react_after = now + 200 * MS;
        true
    }

    /// A vote request is on its way to `to`, landing at `arrival`: with the
    /// reaction probability (and only in seeds that crash nodes at all),
    /// `to` crashes now and restarts before the request lands, which then
    /// meets a node that has just started and knows no leader. Restarts
    /// matter most at this moment, and the coincidence is too narrow for
    /// independent faults to hit.
    pub(crate) fn crash_in_flight(&mut self, to: usize, arrival: u64) {
        let crashes = self
            .nemesis
            .kinds
            .iter()
            .any(|k| matches!(k.0, FaultKind::Crash | FaultKind::CrashLoop));
        let now = self.now();
        let up = self.nodes[to].raw.is_some() && self.nodes[to].down == Down::Up;
        // Reactions off draw nothing, so such rows keep their streams.
        if self.nemesis.react <= 0.0 || !crashes || arrival <= now + 2 || !up {
            return;
        }
        if !self.take_reaction() {
            return;
        }
        self.faults += 1;
        self.trace(format_args!(
            "nemesis crash of node {} with a vote request in flight to it",
            to + 1
        ));
        self.crash(to);
        let up = self.rng.range(now + 1, arrival);
        self.push(up, Ev::Fault(Fault::Restart(to)));
    }

    /// One fault of a burst aimed at `focus`.
    pub(crate) fn burst_step(&mut self, focus: (usize, usize)) {
        self.focus = Some(focus);
        self.inject();
        self.focus = None;
    }

    fn inject(&mut self) {
        let kind = self.draw_kind();
        self.faults += 1;
        self.trace(format_args!(
            "nemesis {kind:?} (leader {:?})",
            self.leader().map(|l| l + 1)
        ));
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        match kind {
            FaultKind::Partition => {
                let members = self.members();
                if members.len() < 2 {
                    return;
                }
                let mut side: Vec<bool> = members.iter().map(|_| self.rng.chance(0.5)).collect();
                if side.iter().all(|&s| s) || side.iter().all(|&s| !s) {
                    side[0] = !side[0];
                }
                let mut cuts = Vec::new();
                for (x, &a) in members.iter().enumerate() {
                    for (y, &b) in members.iter().enumerate() {
                        if side[x] != side[y] {
                            cuts.push((a, b));
                        }
                    }
                }
                self.cut_for(cuts, 50 * MS, 1000 * MS);
            }
            FaultKind::Isolate => {
                let Some(n) = self.target(0.5) else { return };
                let mode = self.rng.range(0, 3);
                let mut cuts = Vec::new();
                for &j in &all {
                    if j != n {
                        if mode != 1 {
                            cuts.push((j, n)); // deaf
                        }
                        if mode != 0 {
                            cuts.push((n, j)); // mute
                        }
                    }
                }
                self.cut_for(cuts, 50 * MS, 800 * MS);
            }
            FaultKind::OneWay => {
                let (Some(a), Some(b)) = (self.target(0.4), self.target(0.0)) else {
                    return;
                };
                if a != b {
                    let cuts = if self.rng.chance(0.5) {
                        vec![(a, b)]
                    } else {
                        vec![(b, a)]
                    };
                    self.cut_for(cuts, 50 * MS, 3000 * MS);
                }
            }
            FaultKind::Pause | FaultKind::Suspend => {
                let Some(n) = self.target(0.5) else { return };
                if self.nodes[n].down != Down::Up {
                    return;
                }
                let d = self.rng.log_range(20 * MS, 800 * MS);
                let node = &mut self.nodes[n];
                node.pause_id += 1;
                node.gen += 1;
                if kind == FaultKind::Suspend {
                    node.down = Down::Suspended;
                    node.clock.suspend();
                } else {
                    node.down = Down::Paused;
                }
                let id = node.pause_id;
                self.push_in(d, Ev::Fault(Fault::Resume(n, id)));
            }
            FaultKind::Crash => {
                let Some(n) = self.target(0.4) else { return };
                self.crash(n);
                let d = self.rng.log_range(MS, 800 * MS);
                self.push_in(d, Ev::Fault(Fault::Restart(n)));
            }
            FaultKind::Transfer => {
                let Some(l) = self.leader() else { return };
                let others: Vec<usize> = self.members().into_iter().filter(|&j| j != l).collect();
                if others.is_empty() {
                    return;
                }
                let to = self.nodes[others[self.rng.pick(others.len())]].id;
                let node = &mut self.nodes[l];
                let Some(raw) = node.raw.as_mut() else { return };
                raw.transfer_leader(to);
                self.after(l);
            }
            FaultKind::Membership => self.membership_change(),
            FaultKind::ClockFail => {
                let Some(n) = self.target(0.5) else { return };
                let freeze = self.rng.chance(0.5);
                self.nodes[n].clock.fail(freeze);
                let d = self.rng.log_range(2 * MS, 100 * MS);
                self.push_in(d, Ev::Fault(Fault::ClockRecover(n)));
            }
            FaultKind::ClockRate => {
                let Some(n) = self.target(0.5) else { return };
                let max = u64::from(self.cfg.actual_drift_ppm);
                let ppm = self.rng.range(0, 2 * max + 1) as i64 - max as i64;
                self.nodes[n].clock.set_ppm(ppm);
            }
            FaultKind::LossBurst => {
                let p = self.rng.range(10, 50) as f64 / 100.0;
                self.net.add_loss(p);
                let d = self.rng.log_range(100 * MS, 500 * MS);
                self.push_in(d, Ev::Fault(Fault::EndLoss(p)));
            }
            FaultKind::DelayStorm => {
                let p = self.rng.range(10, 40) as f64 / 100.0;
                self.net.add_storm(p);
                let d = self.rng.log_range(100 * MS, 500 * MS);
                self.push_in(d, Ev::Fault(Fault::EndStorm(p)));
            }
            FaultKind::SlowLink => {
                let (Some(a), Some(b)) = (self.target(0.5), self.target(0.0)) else {
                    return;
                };
                if a == b {
                    return;
                }
                let links = match self.rng.range(0, 3) {
                    0 => vec![(a, b)],
                    1 => vec![(b, a)],
                    _ => vec![(a, b), (b, a)],
                };
                let extra = self.rng.log_range(20 * MS, 1500 * MS);
                for &(x, y) in &links {
                    self.net.add_slow(x, y, extra);
                }
                let d = self.rng.log_range(100 * MS, 2000 * MS);
                self.push_in(d, Ev::Fault(Fault::EndSlow(links, extra)));
            }
            FaultKind::CrashLoop => {
                let Some(n) = self.target(0.3) else { return };
                let period = self.rng.log_range(10 * MS, 200 * MS);
                let times = self.rng.range(3, 30) as u32;
                self.fault(Fault::Loop(n, times, period));
            }
            FaultKind::QuietWrites => {
                self.quiet += 1;
                let d = self.rng.log_range(100 * MS, 1000 * MS);
                self.push_in(d, Ev::Fault(Fault::EndQuiet));
            }
            FaultKind::SlowApply => {
                let Some(n) = self.target(0.5) else { return };
                self.nodes[n].slow_apply = self.rng.range(50, 300) as u32;
                let d = self.rng.log_range(200 * MS, 800 * MS);
                self.push_in(d, Ev::Fault(Fault::EndSlowApply(n)));
            }
        }
    }

    fn membership_change(&mut self) {
        let Some(l) = self.leader() else { return };
        let Some(raw) = self.nodes[l].raw.as_ref() else {
            return;
        };
        if raw.raft.has_pending_conf() {
            return;
        }
        let cs = raw.raft.prs().conf().to_conf_state();
        if !cs.voters_outgoing.is_empty() {
            self.push_in(10 * MS, Ev::Fault(Fault::LeaveJoint(5)));
            return;
        }
        let spare = (0..self.nodes.len()).find(|&i| !self.nodes[i].started);
        let learners: Vec<u64> = cs.learners.clone();
        let voters = cs.voters.clone();
        let single = |t: ConfChangeType, id: u64| {
            let mut c = ConfChangeSingle::default();
            c.set_change_type(t);
            c.node_id = id;
            c
        };
        let mut changes = Vec::new();
        let mut joint = false;
        // Favour adding learners while there are fewer than two: two
        // learners beside three voters are what a quorum counting learners
        // needs to go wrong.
        let action = if spare.is_some() && learners.len() < 2 && self.rng.chance(0.5) {
            0
        } else {
            self.rng.range(0, 4)
        };
        match action {
            0 => {
                // Add a learner (a spare node starts and catches up).
                let Some(s) = spare else { return };
                if learners.len() >= 2 {
                    return;
                }
                self.start_node(s);
                changes.push(single(ConfChangeType::AddLearnerNode, self.nodes[s].id));
            }
            1 => {
                // Promote a learner.
                let Some(&id) = learners.first() else { return };
                changes.push(single(ConfChangeType::AddNode, id));
            }
            2 => {
                // Remove a voter, sometimes the leader.
                if voters.len() <= self.cfg.nodes {
                    return;
                }
                let victim = if self.rng.chance(0.4) {
                    self.nodes[l].id
                } else {
                    voters[self.rng.pick(voters.len())]
                };
                changes.push(single(ConfChangeType::RemoveNode, victim));
            }
            _ => {
                // Joint: promote a learner and remove a voter (maybe the leader).
                let Some(&id) = learners.first() else { return };
                let victim = if self.rng.chance(0.4) {
                    self.nodes[l].id
                } else {
                    voters[self.rng.pick(voters.len())]
                };
                changes.push(single(ConfChangeType::AddNode, id));
                changes.push(single(ConfChangeType::RemoveNode, victim));
                joint = true;
            }
        }
        let mut cc = ConfChangeV2::default();
        if joint {
            let auto = self.rng.chance(0.5);
            cc.set_transition(if auto {
                ConfChangeTransition::Implicit
            } else {
                ConfChangeTransition::Explicit
            });
            if !auto {
                let d = self.rng.range(30 * MS, 150 * MS);
                self.push_in(d, Ev::Fault(Fault::LeaveJoint(10)));
            }
        }
        cc.set_changes(changes.into());
        self.trace(format_args!("conf change {cc:?} at leader {}", l + 1));
        let node = &mut self.nodes[l];
        let Some(raw) = node.raw.as_mut() else { return };
        let _ = raw.propose_conf_change(vec![], cc);
        self.after(l);
    }

    pub(crate) fn fault(&mut self, f: Fault) {
        match f {
            Fault::Heal(cuts) => {
                for (a, b) in cuts {
                    self.net.heal(a, b);
                }
            }
            Fault::Resume(i, id) => {
                let n = &mut self.nodes[i];
                if n.pause_id != id || !matches!(n.down, Down::Paused | Down::Suspended) {
                    return;
                }
                n.clock.resume();
                n.down = Down::Up;
                n.gen += 1;
                let deferred = std::mem::take(&mut n.deferred);
                // A resumed process finds its queues in an arbitrary order.
                let mut evs: Vec<(u64, Ev)> = deferred
                    .into_iter()
                    .map(|e| (self.rng.next_u64(), e))
                    .collect();
                evs.sort_by_key(|e| e.0);
                for (k, (_, e)) in evs.into_iter().enumerate() {
                    self.push_in(1 + k as u64 * 1_000, e);
                }
                self.schedule_tick(i);
            }
            Fault::Restart(i) => {
                let n = &self.nodes[i];
                if n.down == Down::Crashed && n.started && !n.removed {
                    self.start_node(i);
                }
            }
            Fault::ClockRecover(i) => self.nodes[i].clock.recover(),
            Fault::EndLoss(p) => self.net.remove_loss(p),
            Fault::EndStorm(p) => self.net.remove_storm(p),
            Fault::EndSlowApply(i) => self.nodes[i].slow_apply = 0,
            Fault::EndQuiet => self.quiet = self.quiet.saturating_sub(1),
            Fault::EndSlow(links, extra) => {
                for (x, y) in links {
                    self.net.remove_slow(x, y, extra);
                }
            }
            Fault::Loop(n, left, period) => {
                let node = &self.nodes[n];
                if node.removed || !node.started {
                    return;
                }
                if node.raw.is_some() {
                    self.crash(n);
                }
                let up = self.rng.range(MS, period.max(2 * MS));
                self.push_in(up, Ev::Fault(Fault::Restart(n)));
                if left > 0 {
                    let next = self.rng.range(period / 2, period * 3 / 2).max(up + MS);
                    self.push_in(next, Ev::Fault(Fault::Loop(n, left - 1, period)));
                }
            }
            Fault::LeaveJoint(tries) => {
                let done = match self.leader() {
                    Some(l) => {
                        let raw = self.nodes[l].raw.as_mut().expect("leader is up");
                        let joint = !raw
                            .raft
                            .prs()
                            .conf()
                            .to_conf_state()
                            .voters_outgoing
                            .is_empty();
                        if !joint {
                            true
                        } else if !raw.raft.has_pending_conf() {
                            let ok = raw
                                .propose_conf_change(vec![], ConfChangeV2::default())
                                .is_ok();
                            self.after(l);
                            ok
                        } else {
                            false
                        }
                    }
                    None => false,
                };
                if !done && tries > 0 {
                    self.push_in(50 * MS, Ev::Fault(Fault::LeaveJoint(tries - 1)));
                }
            }
        }
    }
}
