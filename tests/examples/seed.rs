//! Details of one seed of one scenario: what happened to every client
//! operation, the overlap, and the first stale reads.
//!
//! `cargo run --release -p leasehold-sim --example seed -- SCENARIO_INDEX SEED`
//! (set `SIM_TRACE=1` to print the fault scripts as they fire).

use std::collections::BTreeMap;

use leasehold_sim::check::stale_reads;
use leasehold_sim::scenario;
use leasehold_sim::sim::Sim;

fn main() {
    let mut args = std::env::args().skip(1);
    let which: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let all = scenario::all();
    let Some(s) = all.get(which) else {
        eprintln!("scenario index out of range (0..{})", all.len());
        return;
    };
    let r = Sim::new(s.cfg.clone(), seed).run();
    println!(
        "{} seed {seed}: {} events, overlap {:.3} ms, hash {:016x}",
        s.name,
        r.events,
        r.overlap_ns as f64 / 1e6,
        r.hash
    );
    let mut counts = BTreeMap::new();
    for o in &r.ops {
        let key = format!(
            "{:?} via {:?}, completed {}, refused {}",
            o.kind,
            o.via,
            o.complete.is_some(),
            o.refused
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    for (k, v) in counts {
        println!("  {k}: {v}");
    }
    for i in stale_reads(&r.ops).iter().take(5) {
        println!("  stale: {:?}", r.ops[*i]);
    }
}
