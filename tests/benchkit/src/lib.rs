//! Shared set-up for leasehold's criterion benchmarks.
//!
//! These machines are noisy, so no benchmark quotes a lone absolute time: each
//! subject is measured next to a baseline in the same run, and the result is
//! the ratio of their criterion median estimates. A bench's `main` looks like:
//!
//! ```no_run
//! use benchkit::Ratio;
//!
//! // In a bench target, pass env!("CARGO_TARGET_TMPDIR").
//! let tmp = "target/tmp";
//! let mut c = benchkit::criterion(tmp);
//! let mut g = c.benchmark_group("now");
//! g.bench_function("baseline", |b| b.iter(std::time::Instant::now));
//! g.bench_function("subject", |b| b.iter(std::time::Instant::now));
//! g.finish();
//! c.final_summary();
//! benchkit::report(
//!     tmp,
//!     &[Ratio { group: "now", subject: "subject", baseline: "baseline", target: 1.1, higher_is_better: false }],
//! );
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use criterion::Criterion;

/// One line of the ratio report: `subject / baseline` within `group`.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    /// The criterion benchmark group both functions belong to.
    pub group: &'static str,
    /// The function under test.
    pub subject: &'static str,
    /// The function measured as the same-run baseline.
    pub baseline: &'static str,
    /// The ratio the issue asks for.
    pub target: f64,
    /// `false`: ratio of times, lower is better and the target is a maximum.
    /// `true`: ratio of throughputs (baseline time / subject time), the target is a minimum.
    pub higher_is_better: bool,
}

/// A `Criterion` configured from the command line that writes its estimates
/// under `tmpdir` (pass `env!("CARGO_TARGET_TMPDIR")`), where [`report`] reads them.
pub fn criterion(tmpdir: &str) -> Criterion {
    run_start();
    Criterion::default()
        .output_directory(&out_dir(tmpdir))
        .configure_from_args()
}

/// When this run started; estimates older than this belong to another run.
fn run_start() -> SystemTime {
    static START: OnceLock<SystemTime> = OnceLock::new();
    *START.get_or_init(SystemTime::now)
}

fn out_dir(tmpdir: &str) -> PathBuf {
    Path::new(tmpdir).join("criterion")
}

/// The median estimate, in nanoseconds, criterion stored for `group/function`
/// during this run (an older file, from a run that filtered this function
/// out, is not mixed in).
pub fn median_ns(tmpdir: &str, group: &str, function: &str) -> Option<f64> {
    let path = out_dir(tmpdir)
        .join(filename_safe(group))
        .join(filename_safe(function))
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < run_start() {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("median")?.get("point_estimate")?.as_f64()
}

/// The directory name criterion uses for a benchmark id (the same character
/// replacement as criterion's own `make_filename_safe`; our ids stay short,
/// so its truncation never applies).
fn filename_safe(id: &str) -> String {
    id.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_")
}

/// Prints each ratio with its target. Missing estimates (for example in
/// `--test` mode, where criterion runs each function once) are reported as
/// such, not invented.
pub fn report(tmpdir: &str, ratios: &[Ratio]) {
    println!("\n== same-run ratios (criterion medians) ==");
    for r in ratios {
        let (Some(s), Some(b)) = (
            median_ns(tmpdir, r.group, r.subject),
            median_ns(tmpdir, r.group, r.baseline),
        ) else {
            println!("{}/{}: not measured in this run", r.group, r.subject);
            continue;
        };
        let (ratio, cmp, ok) = if r.higher_is_better {
            let x = b / s;
            (x, ">=", x >= r.target)
        } else {
            let x = s / b;
            (x, "<=", x <= r.target)
        };
        println!(
            "{}/{} vs {}: {:.3}x (target {} {:.2}) {}   [{:.2} ns vs {:.2} ns]",
            r.group,
            r.subject,
            r.baseline,
            ratio,
            cmp,
            r.target,
            if ok { "MEETS" } else { "MISSES" },
            s,
            b
        );
    }
}
