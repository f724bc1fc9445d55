//! What libfaketime does to each clock: the harness runs itself under
//! libfaketime in probe mode ([`print_readings`]), reads every clock the
//! node could time its lease with before and after a 200 ms `sleep`, and
//! compares the elapsed readings with its own (unfaked) elapsed time
//! ([`measure`]). The clock-fault rows are meaningful only if the node's
//! lease clock is among those faked, so the harness checks it before it
//! runs them.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use leasehold_core::Clock;

use crate::cluster::with_faketime;

/// The clocks probed, in output order.
pub const CLOCKS: [&str; 7] = [
    "CLOCK_REALTIME",
    "CLOCK_MONOTONIC",
    "CLOCK_MONOTONIC_RAW",
    "CLOCK_BOOTTIME",
    "SuspendAwareClock",
    "RawClock",
    "FallbackClock (Instant)",
];

fn raw(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

fn readings() -> Vec<u64> {
    let sa = leasehold_hal_linux::SuspendAwareClock::new().ok();
    let rc = leasehold_hal_linux::RawClock::new().ok();
    let fb = leasehold_hal_fallback::FallbackClock::new();
    let ns = |r: Option<Result<leasehold_core::Instant, leasehold_core::ClockError>>| {
        r.and_then(Result::ok).map_or(0, |i| i.as_nanos())
    };
    vec![
        raw(libc::CLOCK_REALTIME),
        raw(libc::CLOCK_MONOTONIC),
        raw(libc::CLOCK_MONOTONIC_RAW),
        raw(libc::CLOCK_BOOTTIME),
        ns(sa.as_ref().map(|c| c.now())),
        ns(rc.as_ref().map(|c| c.now())),
        ns(Some(fb.now())),
    ]
}

/// Probe mode: prints every clock, sleeps 200 ms, prints again.
pub fn print_readings() {
    let line = |v: Vec<u64>| v.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
    println!("{}", line(readings()));
    std::thread::sleep(Duration::from_millis(200));
    println!("{}", line(readings()));
}

/// What one probe under libfaketime found.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// The rate asked of libfaketime.
    pub rate: f64,
    /// Elapsed reading / real elapsed, per clock of [`CLOCKS`].
    pub rates: Vec<f64>,
    /// Real duration of the probe's 200 ms sleep / 200 ms.
    pub sleep_scale: f64,
}

/// Runs `exe --probe-clocks` under libfaketime at `rate`.
///
/// # Errors
///
/// A description if the probe could not run or printed nonsense.
pub fn measure(exe: &Path, lib: &Path, rate: f64) -> Result<ProbeResult, String> {
    let mut cmd = Command::new(exe);
    cmd.arg("--probe-clocks")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    with_faketime(&mut cmd, lib, rate);
    let mut child = cmd.spawn().map_err(|e| format!("probe: {e}"))?;
    let out = child.stdout.take().ok_or("probe: no stdout")?;
    let mut lines = BufReader::new(out).lines();
    let parse = |l: Option<std::io::Result<String>>| -> Result<Vec<u64>, String> {
        l.ok_or("probe ended early")?
            .map_err(|e| e.to_string())?
            .split(' ')
            .map(|w| w.parse::<u64>().map_err(|e| e.to_string()))
            .collect()
    };
    let a = parse(lines.next())?;
    let t0 = Instant::now();
    let b = parse(lines.next())?;
    let real = t0.elapsed().as_nanos() as f64;
    let _ = child.wait();
    if a.len() != CLOCKS.len() || b.len() != CLOCKS.len() {
        return Err("probe printed the wrong number of clocks".into());
    }
    let rates = a
        .iter()
        .zip(&b)
        .map(|(x, y)| y.saturating_sub(*x) as f64 / real)
        .collect();
    Ok(ProbeResult {
        rate,
        rates,
        sleep_scale: real / 200e6,
    })
}
