//! Glue to the project's checkers (`leasehold_sim::check`) and history
//! format (`leasehold_sim::history`), and the benchmark's statistics.
//!
//! Every recorded operation goes in: completed ones with their value and
//! index, refused ones as `fail` (certainly no effect), the rest as
//! `unknown` (a write that may have taken effect at any later time).

use std::path::Path;

use leasehold_sim::check::{linearizable, stale_reads, Kind, Lin, Op, Via};
use leasehold_sim::history::History;

use crate::client::{OpKind, Outcome, Rec};
use crate::protocol::{ReadKind, Served};

/// Search budget of the linearizability checker per operation (a
/// linearization takes one step per operation; the rest is backtracking).
pub const LIN_BUDGET_PER_OP: usize = 20;
/// Smallest budget (the simulation's).
pub const LIN_BUDGET: usize = 200_000;

/// The checkers' verdict on one history.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Completed reads, by how they were served (lease, ReadIndex).
    pub reads: (u64, u64),
    /// Completed writes.
    pub writes: u64,
    /// Operations that ended unknown.
    pub unknown: u64,
    /// Operations refused.
    pub failed: u64,
    /// Stale reads (reads older than a write completed before they began).
    pub stale: usize,
    /// Linearizability.
    pub lin: Lin,
}

impl Verdict {
    /// Share of completed reads served under the lease.
    pub fn lease_share(&self) -> f64 {
        let total = self.reads.0 + self.reads.1;
        if total == 0 {
            0.0
        } else {
            self.reads.0 as f64 / total as f64
        }
    }

    /// A checker fired.
    pub fn caught(&self) -> bool {
        self.stale > 0 || self.lin == Lin::Violation
    }
}

/// The operations in the checkers' form.
pub fn to_ops(recs: &[Rec]) -> Vec<Op> {
    recs.iter()
        .map(|r| {
            let (complete, value, version, via) = match r.outcome {
                Outcome::Ok(v, index, served) => (
                    Some(r.end),
                    match r.kind {
                        OpKind::Write => r.value,
                        OpKind::Read(_) => v,
                    },
                    index,
                    match served {
                        Served::Lease => Via::Lease,
                        Served::Index => Via::Quorum,
                        Served::Write | Served::Transfer => Via::None,
                    },
                ),
                _ => (None, r.value, 0, Via::None),
            };
            Op {
                client: r.client,
                kind: match r.kind {
                    OpKind::Write => Kind::Write,
                    OpKind::Read(_) => Kind::Read,
                },
                invoke: r.invoke,
                complete,
                value,
                version,
                via,
                refused: r.outcome == Outcome::Fail,
            }
        })
        .collect()
}

/// Checks a history and writes it to `path` as `leasehold-history/1` JSON.
///
/// # Errors
///
/// If the history file cannot be written.
pub fn check(recs: &[Rec], path: &Path) -> std::io::Result<Verdict> {
    let ops = to_ops(recs);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, History::from_ops(&ops).to_json())?;
    let mut v = Verdict {
        reads: (0, 0),
        writes: 0,
        unknown: 0,
        failed: 0,
        stale: stale_reads(&ops).len(),
        lin: linearizable(&ops, LIN_BUDGET.max(ops.len() * LIN_BUDGET_PER_OP)),
    };
    for r in recs {
        match r.outcome {
            Outcome::Ok(_, _, Served::Lease) => v.reads.0 += 1,
            Outcome::Ok(_, _, Served::Index) => v.reads.1 += 1,
            Outcome::Ok(_, _, _) => v.writes += 1,
            Outcome::Fail => v.failed += 1,
            Outcome::Unknown => v.unknown += 1,
        }
    }
    Ok(v)
}

/// Latency and throughput of one kind of read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadStats {
    /// Completed reads.
    pub n: usize,
    /// Median latency, ns.
    pub p50: u64,
    /// 99th percentile latency, ns.
    pub p99: u64,
    /// Reads per second over the windows of this kind.
    pub per_sec: f64,
}

/// The benchmark: lease reads against ReadIndex reads, same run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Perf {
    /// Reads asked for under the lease and served under it.
    pub lease: ReadStats,
    /// Reads asked for as ReadIndex.
    pub index: ReadStats,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Statistics of the benchmark phase, `[0, bench)` ns split in windows of
/// `window` ns (even windows lease, odd ReadIndex).
pub fn perf(recs: &[Rec], bench: u64, window: u64) -> Perf {
    let windows = bench.div_ceil(window.max(1));
    let mut time = [0u64; 2];
    for w in 0..windows {
        let len = (bench - w * window).min(window);
        time[(w % 2) as usize] += len;
    }
    let mut lat: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
    for r in recs.iter().filter(|r| r.bench) {
        let slot = match (r.kind, r.outcome) {
            (OpKind::Read(ReadKind::Lease), Outcome::Ok(_, _, Served::Lease)) => 0,
            (OpKind::Read(ReadKind::Index), Outcome::Ok(_, _, Served::Index)) => 1,
            _ => continue,
        };
        lat[slot].push(r.end - r.invoke);
    }
    let mut stats = |i: usize| {
        lat[i].sort_unstable();
        ReadStats {
            n: lat[i].len(),
            p50: percentile(&lat[i], 0.50),
            p99: percentile(&lat[i], 0.99),
            per_sec: if time[i] == 0 {
                0.0
            } else {
                lat[i].len() as f64 / (time[i] as f64 / 1e9)
            },
        }
    };
    Perf {
        lease: stats(0),
        index: stats(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(kind: OpKind, invoke: u64, end: u64, outcome: Outcome) -> Rec {
        Rec {
            client: 0,
            node: 0,
            kind,
            value: if kind == OpKind::Write { 5 } else { 0 },
            invoke,
            end,
            outcome,
            bench: false,
        }
    }

    #[test]
    fn a_stale_lease_read_is_caught_and_written_in_the_project_format() {
        let ok = vec![
            rec(OpKind::Write, 0, 10, Outcome::Ok(5, 3, Served::Write)),
            rec(
                OpKind::Read(ReadKind::Lease),
                11,
                12,
                Outcome::Ok(5, 3, Served::Lease),
            ),
        ];
        let stale = vec![
            ok[0],
            rec(
                OpKind::Read(ReadKind::Lease),
                11,
                12,
                Outcome::Ok(0, 0, Served::Lease),
            ),
        ];
        let dir = std::env::temp_dir().join(format!("lhj-check-{}", std::process::id()));
        let v = check(&ok, &dir.join("ok.json")).unwrap();
        assert!(!v.caught());
        assert_eq!((v.reads, v.writes, v.lin), ((1, 0), 1, Lin::Ok));
        let v = check(&stale, &dir.join("stale.json")).unwrap();
        assert!(v.caught());
        assert_eq!((v.stale, v.lin), (1, Lin::Violation));
        let back = std::fs::read_to_string(dir.join("stale.json")).unwrap();
        let h = History::from_json(&back).unwrap();
        assert_eq!(linearizable(&h.to_ops(), LIN_BUDGET), Lin::Violation);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn perf_splits_windows_and_ranks_latencies() {
        let mut recs = Vec::new();
        for i in 0..100u64 {
            let mut r = rec(
                OpKind::Read(ReadKind::Lease),
                i,
                i + 10 + i,
                Outcome::Ok(0, 0, Served::Lease),
            );
            r.bench = true;
            recs.push(r);
        }
        let mut r = rec(
            OpKind::Read(ReadKind::Index),
            1_000_000_001,
            1_000_000_101,
            Outcome::Ok(0, 0, Served::Index),
        );
        r.bench = true;
        recs.push(r);
        let p = perf(&recs, 2_000_000_000, 1_000_000_000);
        assert_eq!(p.lease.n, 100);
        assert_eq!(p.lease.p50, 10 + 50);
        assert_eq!(p.lease.p99, 10 + 98);
        assert!((p.lease.per_sec - 100.0).abs() < 1e-9);
        assert_eq!((p.index.n, p.index.p50), (1, 100));
    }
}
