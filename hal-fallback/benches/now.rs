//! Cost of `FallbackClock::now` against `std::time::Instant::now` measured in
//! the same run (issue 2 asks for a ratio of at most 1.1).

use benchkit::Ratio;
use leasehold_core::Clock;
use leasehold_hal_fallback::FallbackClock;

fn main() {
    let clock = FallbackClock::new();
    // Set the shared base outside the measurement, as any long-running
    // process will have done long before its hot path.
    let _ = clock.now();

    let mut c = benchkit::criterion(env!("CARGO_TARGET_TMPDIR"));
    let mut g = c.benchmark_group("now");
    g.bench_function("baseline", |b| b.iter(std::time::Instant::now));
    g.bench_function("subject", |b| b.iter(|| clock.now()));
    g.finish();
    c.final_summary();
    benchkit::report(
        env!("CARGO_TARGET_TMPDIR"),
        &[Ratio {
            group: "now",
            subject: "subject",
            baseline: "baseline",
            target: 1.1,
            higher_is_better: false,
        }],
    );
}
