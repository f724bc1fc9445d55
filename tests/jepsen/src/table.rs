//! The table, in the simulation's style: one row per scenario.

use std::collections::BTreeMap;

use leasehold_sim::check::Lin;

use crate::run::RunResult;
use crate::scenario::{Expect, Scenario};

/// The header lines.
pub fn header() -> String {
    let mut s = String::new();
    s.push_str("| scenario                                | nodes |  secs | faults | lease rd | index rd | writes | unknown | stale | lin | local | bad frames | votes dropped | verdict |\n");
    s.push_str("|-----------------------------------------|-------|-------|--------|----------|----------|--------|---------|-------|-----|-------|------------|---------------|---------|\n");
    s
}

/// Whether a row came out as it must.
pub fn as_expected(s: &Scenario, r: &RunResult) -> bool {
    match s.expect {
        Expect::Clean => {
            !r.verdict.caught() && r.verdict.lin == Lin::Ok && r.nemesis.crashes.is_empty()
        }
        Expect::Caught => r.verdict.caught(),
    }
}

/// The verdict cell.
pub fn verdict(s: &Scenario, r: &RunResult) -> &'static str {
    match (s.expect, as_expected(s, r)) {
        (Expect::Clean, true) => "ok: clean",
        (Expect::Clean, false) => "FAIL: not clean",
        (Expect::Caught, true) => "ok: caught",
        (Expect::Caught, false) => "FAIL: not caught",
    }
}

/// One row.
pub fn row(s: &Scenario, r: &RunResult) -> String {
    let v = &r.verdict;
    let lin = match v.lin {
        Lin::Ok => "ok",
        Lin::Violation => "x",
        Lin::Unknown => "?",
    };
    format!(
        "| {:<39} | {:>5} | {:>5.0} | {:>6} | {:>8} | {:>8} | {:>6} | {:>7} | {:>5} | {:>3} | {:>4.1}% | {:>10} | {:>13} | {} |",
        s.name,
        s.nodes,
        r.elapsed.as_secs_f64(),
        r.nemesis.events.len(),
        v.reads.0,
        v.reads.1,
        v.writes,
        v.unknown,
        v.stale,
        lin,
        100.0 * v.lease_share(),
        r.totals.bad_frames,
        r.totals.votes_dropped,
        verdict(s, r)
    )
}

/// Faults injected in a run, by kind.
pub fn fault_mix(r: &RunResult) -> String {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, f, _) in &r.nemesis.events {
        *m.entry(f.name()).or_default() += 1;
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The benchmark line of a leasehold row: ratios lease / ReadIndex.
pub fn perf_line(r: &RunResult) -> Option<String> {
    let (l, i) = (r.perf.lease, r.perf.index);
    if l.n == 0 || i.n == 0 || i.p50 == 0 || i.p99 == 0 || i.per_sec == 0.0 {
        return None;
    }
    Some(format!(
        "lease/ReadIndex: p50 {:.3}, p99 {:.3}, throughput {:.2}x ({} lease reads, {} ReadIndex reads)",
        l.p50 as f64 / i.p50 as f64,
        l.p99 as f64 / i.p99 as f64,
        l.per_sec / i.per_sec,
        l.n,
        i.n
    ))
}

/// The legend under the table.
pub const LEGEND: &str = "faults = faults injected; lease rd / index rd = completed reads served under the lease / through ReadIndex (for raft-rs LeaseBased: raft-rs's own clockless lease, answered as ReadIndex); writes = completed writes; unknown = operations without an answer in time; stale = reads older than a write completed before they began; lin = the whole history linearizable (ok) / not (x) / over the search budget (?); local = share of completed reads served under the lease; bad frames = peer connections the nodes dropped for invalid bytes; votes dropped = vote requests the vote guard refused";
