use leasehold_sim::nemesis::{FaultKind, NemesisConfig};
use leasehold_sim::scenario::{base, run_scenario, Expect, Scenario};
use std::time::Duration;
fn main() {
    let kinds = NemesisConfig::all(Duration::from_millis(250)).kinds;
    let mut rows = vec![("all".to_string(), kinds.clone())];
    for k in FaultKind::ALL {
        rows.push((
            format!("-{k:?}"),
            kinds.iter().copied().filter(|x| x.0 != k).collect(),
        ));
    }
    for k in FaultKind::ALL {
        rows.push((format!("only {k:?}"), vec![(k, 1)]));
    }
    for (name, ks) in rows {
        let mut cfg = base(3);
        cfg.nemesis.kinds = ks;
        let s = Scenario {
            name: "x",
            expect: Expect::Clean,
            what: "",
            cfg,
        };
        let sum = run_scenario(&s, 0..20, 2, &|_| {});
        println!(
            "{name:<14} local {:>6.2}%  lease {} index {} faults {}",
            100.0 * sum.availability(),
            sum.lease_reads,
            sum.quorum_reads,
            sum.faults
        );
    }
}
