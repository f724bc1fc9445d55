//! Exploration: random configurations and fault mixes, one per seed, with
//! every safety check on, until a checker fires. Each exploration seed
//! determines its whole configuration, so a violation replays from the seed
//! alone.

use std::time::Duration;

use crate::nemesis::{FaultKind, NemesisConfig};
use crate::rng::Rng;
use crate::scenario::base;
use crate::sim::{Pick, SimConfig};

/// The configuration exploration seed `seed` runs (its run seed is `seed`).
pub fn config(seed: u64) -> SimConfig {
    let mut r = Rng::new(seed ^ 0xe8b1_05e0);
    let mut c = base(if r.chance(0.3) { 5 } else { 3 });
    c.spares = r.range(0, 4) as usize;
    c.pre_vote = Pick::Fixed(r.chance(0.5));
    c.min_election_ticks = Pick::Fixed([0, 11, 13, 20][r.pick(4)]);
    let mut kinds: Vec<(FaultKind, u32)> = Vec::new();
    for &k in &FaultKind::ALL {
        if r.chance(0.6) {
            kinds.push((k, r.range(1, 6) as u32));
        }
    }
    if kinds.is_empty() {
        kinds.push((FaultKind::ALL[r.pick(FaultKind::ALL.len())], 1));
    }
    c.nemesis = NemesisConfig {
        mean_gap: Duration::from_millis(r.range(80, 600)),
        kinds,
        swarm: false,
        burst: r.range(0, 60) as f64 / 100.0,
        react: r.range(0, 40) as f64 / 100.0,
        episodes: r.chance(0.5),
    };
    c.apply.lag_prob = r.range(0, 90) as f64 / 100.0;
    c.apply.max_lag = Duration::from_millis(r.log_range(1, 300));
    let every = r.log_range(3, 400);
    c.snapshot_every = (every, every * 2);
    c.net.hold = r.range(0, 60) as f64 / 1000.0;
    c.net.hold_for = (20_000_000, r.log_range(100, 4000) * 1_000_000);
    c.net.loss = r.range(0, 50) as f64 / 1000.0;
    c.net.dup = r.range(0, 50) as f64 / 1000.0;
    c.actual_drift_ppm = r.range(0, u64::from(c.configured_drift_ppm) + 1) as u32;
    c.clients = r.range(2, 7) as usize;
    c.duration = Duration::from_secs(r.range(4, 12));
    c.net.keep_for_down = [0.0, 0.5, 1.0][r.pick(3)];
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_determines_its_configuration() {
        assert_eq!(format!("{:?}", config(3)), format!("{:?}", config(3)));
        assert_ne!(format!("{:?}", config(3)), format!("{:?}", config(4)));
    }
}
