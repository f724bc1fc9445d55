//! Lease costs, each against a baseline measured in the same run.
//!
//! `cargo bench -p leasehold-core --bench lease`

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use benchkit::Ratio;
use leasehold_core::{Instant, Lease};

const TMP: &str = env!("CARGO_TARGET_TMPDIR");
const D: Duration = Duration::from_secs(1);

fn t(n: u64) -> Instant {
    Instant::from_nanos(n).expect("non-zero")
}

fn main() {
    let mut c = benchkit::criterion(TMP);

    // Reading the lease: the hot path of every local read.
    {
        let lease = Lease::new();
        let _ = lease.extend(lease.stamp(t(1)), D);
        let plain = AtomicU64::new(t(1).checked_add(D).expect("fits").as_nanos());
        let now = t(1_000);
        let mut g = c.benchmark_group("is_valid");
        g.bench_function("atomic_load_compare", |b| {
            b.iter(|| black_box(now).as_nanos() < black_box(&plain).load(Ordering::Acquire))
        });
        g.bench_function("lease", |b| {
            b.iter(|| black_box(&lease).is_valid(black_box(now)))
        });
        g.finish();
    }

    // One uncontended extension against the obvious locked alternative.
    {
        let lease = Lease::new();
        let locked = Mutex::new(0u64);
        let mut n = 1u64;
        let mut m = 1u64;
        let mut g = c.benchmark_group("extend");
        g.bench_function("mutex_u64", |b| {
            b.iter(|| {
                m += 1;
                let mut e = black_box(&locked).lock().unwrap_or_else(|p| p.into_inner());
                *e = (*e).max(black_box(m) + 1_000_000_000);
            })
        });
        g.bench_function("lease", |b| {
            b.iter(|| {
                n += 1;
                let lease = black_box(&lease);
                lease.extend(lease.stamp(t(n)), D)
            })
        });
        g.finish();
    }

    // Read throughput while another thread extends as fast as it can.
    {
        let lease = Lease::new();
        let _ = lease.extend(lease.stamp(t(1)), D);
        let now = t(1_000);
        let mut g = c.benchmark_group("is_valid_under_extension");
        g.bench_function("alone", |b| {
            b.iter(|| black_box(&lease).is_valid(black_box(now)))
        });
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut n = 2u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let _ = lease.extend(lease.stamp(t(n)), D);
                }
            });
            g.bench_function("with_extender", |b| {
                b.iter(|| black_box(&lease).is_valid(black_box(now)))
            });
            stop.store(true, Ordering::Relaxed);
        });
        // For scale: a leader extends once per heartbeat or ack, not in a
        // hot loop. The same extender, sleeping between extensions (the
        // kernel's sleep granularity makes that tens of microseconds).
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut n = 2u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let _ = lease.extend(lease.stamp(t(n)), D);
                    std::thread::sleep(Duration::from_micros(10));
                }
            });
            g.bench_function("with_paced_extender", |b| {
                b.iter(|| black_box(&lease).is_valid(black_box(now)))
            });
            stop.store(true, Ordering::Relaxed);
        });
        g.finish();
    }

    c.final_summary();
    benchkit::report(
        TMP,
        &[
            Ratio {
                group: "is_valid",
                subject: "lease",
                baseline: "atomic_load_compare",
                target: 1.5,
                higher_is_better: false,
            },
            Ratio {
                group: "extend",
                subject: "lease",
                baseline: "mutex_u64",
                target: 1.0,
                higher_is_better: false,
            },
            Ratio {
                group: "is_valid_under_extension",
                subject: "with_paced_extender",
                baseline: "alone",
                target: 0.8,
                higher_is_better: true,
            },
            Ratio {
                group: "is_valid_under_extension",
                subject: "with_extender",
                baseline: "alone",
                target: 0.8,
                higher_is_better: true,
            },
        ],
    );
}
