//! `now()` of each Linux clock against `std::time::Instant::now` measured in
//! the same run; benchkit prints the ratios of the criterion medians.
//!
//! `cargo bench -p leasehold-hal-linux --bench now -- --warm-up-time 1 --measurement-time 3`
//!
//! The `read_path` group is a leader's whole local-read check: one RawClock
//! reading plus `Lease::is_valid`, against `std::time::Instant::now` alone.

#[cfg(any(target_os = "linux", target_os = "android"))]
fn main() {
    use benchkit::Ratio;
    use leasehold_core::{Clock, Lease};
    use leasehold_hal_linux::{RawClock, SuspendAwareClock};
    use std::hint::black_box;
    use std::time::Duration;

    let raw = RawClock::new().expect("CLOCK_MONOTONIC_RAW is available");
    let suspend_aware = SuspendAwareClock::new().expect("CLOCK_BOOTTIME is available");

    let mut c = benchkit::criterion(env!("CARGO_TARGET_TMPDIR"));
    let mut g = c.benchmark_group("now");
    g.bench_function("std_Instant_now", |b| b.iter(std::time::Instant::now));
    g.bench_function("RawClock_now", |b| b.iter(|| raw.now()));
    g.bench_function("SuspendAwareClock_now", |b| b.iter(|| suspend_aware.now()));
    g.finish();

    let lease = Lease::new();
    let now = raw.now().expect("RawClock reads");
    let _ = lease.extend(lease.stamp(now), Duration::from_secs(3600));
    let mut g = c.benchmark_group("read_path");
    g.bench_function("std_Instant_now", |b| b.iter(std::time::Instant::now));
    g.bench_function("RawClock_now_and_is_valid", |b| {
        b.iter(|| raw.now().is_ok_and(|t| black_box(&lease).is_valid(t)))
    });
    g.finish();
    c.final_summary();
    benchkit::report(
        env!("CARGO_TARGET_TMPDIR"),
        &[
            Ratio {
                group: "now",
                subject: "RawClock_now",
                baseline: "std_Instant_now",
                target: 1.2,
                higher_is_better: false,
            },
            Ratio {
                group: "now",
                subject: "SuspendAwareClock_now",
                baseline: "std_Instant_now",
                target: 3.5,
                higher_is_better: false,
            },
            Ratio {
                group: "read_path",
                subject: "RawClock_now_and_is_valid",
                baseline: "std_Instant_now",
                target: 1.2,
                higher_is_better: false,
            },
        ],
    );
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn main() {
    println!("leasehold-hal-linux benchmarks run on Linux and Android only");
}
