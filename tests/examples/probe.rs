use leasehold_sim::nemesis::{FaultKind, NemesisConfig};
use leasehold_sim::scenario::{all, run_scenario};
use std::time::Duration;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = &args[1];
    let seeds: u64 = args[2].parse().unwrap();
    let kinds: Vec<(FaultKind, u32)> = args[3..]
        .iter()
        .map(|k| {
            let k = FaultKind::ALL
                .iter()
                .copied()
                .find(|x| format!("{x:?}") == *k)
                .expect("kind");
            (k, 1)
        })
        .collect();
    let mut s = all()
        .into_iter()
        .find(|s| s.name.contains(name.as_str()))
        .unwrap();
    if !kinds.is_empty() {
        s.cfg.nemesis = NemesisConfig {
            mean_gap: Duration::from_millis(250),
            kinds,
            swarm: false,
            burst: 0.4,
            react: 0.3,
            episodes: std::env::var_os("EPI").is_some(),
        };
    }
    if std::env::var_os("PV_OFF").is_some() {
        s.cfg.pre_vote = leasehold_sim::sim::Pick::Fixed(false);
    }
    if std::env::var_os("CLEAN_NET").is_some() {
        s.cfg.net.hold = 0.0;
        s.cfg.net.loss = 0.0;
        s.cfg.net.dup = 0.0;
    }
    if std::env::var_os("NO_LAG").is_some() {
        s.cfg.apply.lag_prob = 0.0;
    }
    if std::env::var_os("FIXED_MIN").is_some() {
        s.cfg.min_election_ticks = leasehold_sim::sim::Pick::Fixed(0);
    }
    if std::env::var_os("EPI").is_some() {
        s.cfg.nemesis.episodes = true;
        s.cfg.nemesis.swarm = false;
    }
    let mut tests = 0;
    for seed in 0..20 {
        tests += leasehold_sim::scenario::run_raw(&s.cfg, seed).promise_tests;
    }
    println!("promise tests in 20 seeds: {tests}");
    let sum = run_scenario(&s, 0..seeds, 2, &|_| {});
    println!("{}: caught {} of {} seeds (stale {}, overlap {:.1} ms), broken promises {} in {} seeds, local {:.2}%", s.name, sum.bad_seeds, sum.seeds, sum.stale, sum.overlap_ns as f64/1e6, sum.broken_promises, sum.broken_seeds, 100.0*sum.availability());
}
