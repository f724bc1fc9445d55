//! The simulated network: directed cuts that overlap, loss, duplication,
//! reordering, and a heavy-tailed delay under which a message can be held
//! for several election timeouts and arrive after terms have changed, and
//! after its sender crashed and restarted.

use crate::rng::Rng;

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetConfig {
    /// One-way latency of an ordinary message, ns, uniform in the range.
    pub latency: (u64, u64),
    /// Probability that a message is held in some queue instead.
    pub hold: f64,
    /// How long a held message is held, ns, log-uniform in the range.
    pub hold_for: (u64, u64),
    /// Background loss probability.
    pub loss: f64,
    /// Probability of a second copy (with its own delay).
    pub dup: f64,
    /// Probability, per seed, that the transport is a reconnecting one
    /// that queues what a crashed node misses and delivers it after the
    /// node restarts ([`crate::transport`]).
    pub keep_for_down: f64,
}

/// Cuts, loss and delay; deliveries are computed when a message is sent.
#[derive(Debug, Clone)]
pub struct Network {
    cfg: NetConfig,
    /// `cuts[from][to]`: how many active faults cut this direction.
    cuts: Vec<Vec<u32>>,
    /// Extra loss from an active burst (the largest one wins).
    burst_loss: Vec<f64>,
    /// Extra hold probability from an active delay storm.
    storms: Vec<f64>,
    /// `slow[from][to]`: extra delays of active slow-link faults, ns.
    slow: Vec<Vec<Vec<u64>>>,
}

impl Network {
    /// A network of `n` endpoints, nothing cut.
    pub fn new(cfg: NetConfig, n: usize) -> Network {
        Network {
            cfg,
            cuts: vec![vec![0; n]; n],
            burst_loss: Vec::new(),
            storms: Vec::new(),
            slow: vec![vec![Vec::new(); n]; n],
        }
    }

    /// Starts a slow link: every message `from -> to` takes `extra` longer
    /// (with jitter of the same order, so they also reorder).
    pub fn add_slow(&mut self, from: usize, to: usize, extra: u64) {
        self.slow[from][to].push(extra);
    }

    /// Ends a slow link.
    pub fn remove_slow(&mut self, from: usize, to: usize, extra: u64) {
        let v = &mut self.slow[from][to];
        if let Some(i) = v.iter().position(|&e| e == extra) {
            v.swap_remove(i);
        }
    }

    /// Cuts `from -> to` once more (faults that overlap add up).
    pub fn cut(&mut self, from: usize, to: usize) {
        self.cuts[from][to] += 1;
    }

    /// Ends one cut of `from -> to`.
    pub fn heal(&mut self, from: usize, to: usize) {
        let c = &mut self.cuts[from][to];
        *c = c.saturating_sub(1);
    }

    /// Whether `from -> to` is cut now.
    pub fn is_cut(&self, from: usize, to: usize) -> bool {
        self.cuts[from][to] > 0
    }

    /// Starts a loss burst.
    pub fn add_loss(&mut self, p: f64) {
        self.burst_loss.push(p);
    }

    /// Ends a loss burst.
    pub fn remove_loss(&mut self, p: f64) {
        if let Some(i) = self.burst_loss.iter().position(|&q| q == p) {
            self.burst_loss.swap_remove(i);
        }
    }

    /// Starts a delay storm (more messages held).
    pub fn add_storm(&mut self, p: f64) {
        self.storms.push(p);
    }

    /// Ends a delay storm.
    pub fn remove_storm(&mut self, p: f64) {
        if let Some(i) = self.storms.iter().position(|&q| q == p) {
            self.storms.swap_remove(i);
        }
    }

    /// Delivery times (absolute, ns) of a message sent now; empty if it is
    /// lost or the direction is cut.
    pub fn deliveries(&self, rng: &mut Rng, from: usize, to: usize, now: u64) -> Vec<u64> {
        if self.is_cut(from, to) {
            return Vec::new();
        }
        let loss = self
            .burst_loss
            .iter()
            .copied()
            .fold(self.cfg.loss, f64::max);
        if rng.chance(loss) {
            return Vec::new();
        }
        let copies = if rng.chance(self.cfg.dup) { 2 } else { 1 };
        let hold = self.storms.iter().copied().fold(self.cfg.hold, f64::max);
        let slow = self.slow[from][to].iter().copied().max().unwrap_or(0);
        (0..copies)
            .map(|_| {
                let mut delay = if rng.chance(hold) {
                    rng.log_range(self.cfg.hold_for.0, self.cfg.hold_for.1)
                } else {
                    rng.range(self.cfg.latency.0, self.cfg.latency.1)
                };
                if slow > 0 {
                    delay += rng.range(slow / 2, slow * 3 / 2);
                }
                now + delay
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NetConfig {
        NetConfig {
            latency: (100, 200),
            hold: 0.1,
            hold_for: (10_000, 1_000_000),
            loss: 0.0,
            dup: 0.0,
            keep_for_down: 0.0,
        }
    }

    #[test]
    fn cuts_overlap_and_heal_one_at_a_time() {
        let mut n = Network::new(cfg(), 3);
        let mut rng = Rng::new(1);
        n.cut(0, 1);
        n.cut(0, 1);
        assert!(n.deliveries(&mut rng, 0, 1, 0).is_empty());
        assert!(!n.deliveries(&mut rng, 1, 0, 0).is_empty(), "one-way");
        n.heal(0, 1);
        assert!(n.is_cut(0, 1));
        n.heal(0, 1);
        assert!(!n.is_cut(0, 1));
    }

    #[test]
    fn a_tail_of_held_messages() {
        let n = Network::new(cfg(), 2);
        let mut rng = Rng::new(2);
        let delays: Vec<u64> = (0..10_000)
            .flat_map(|_| n.deliveries(&mut rng, 0, 1, 0))
            .collect();
        let held = delays.iter().filter(|&&d| d >= 10_000).count();
        assert!((800..1200).contains(&held), "{held} held");
        assert!(delays.iter().any(|&d| d > 500_000), "some are held long");
        let mut storm = n.clone();
        storm.add_storm(0.5);
        let held = (0..1000)
            .flat_map(|_| storm.deliveries(&mut rng, 0, 1, 0))
            .filter(|&d| d >= 10_000)
            .count();
        assert!(held > 400);
    }
}
