//! What the Linux clocks on this machine cost and measure.
//!
//! `cargo run --release -p leasehold-hal-linux --example clock-report`
//!
//! For RawClock, SuspendAwareClock and, for comparison, CLOCK_MONOTONIC,
//! CLOCK_BOOTTIME and std::time::Instant: the cost of one reading as a ratio
//! to std::time::Instant::now measured in the same run, the resolution and
//! what the clock counts; then the drift of CLOCK_MONOTONIC_RAW against
//! NTP-disciplined CLOCK_MONOTONIC over about three seconds, and the suspend
//! time the kernel has accumulated since boot. Takes about five seconds.

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn main() {
    println!("clock-report describes Linux clocks; run it on Linux or Android.");
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn main() {
    if let Err(e) = report::run() {
        eprintln!("clock-report: {e}");
        std::process::exit(1);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod report {
    use std::hint::black_box;
    use std::mem::MaybeUninit;
    use std::time::{Duration, Instant as StdInstant};

    use leasehold_core::{Clock, ClockError, ClockInfo};
    use leasehold_hal_linux::{RawClock, SuspendAwareClock};

    /// Interleaved rounds per clock; the reported figure is their median.
    const ROUNDS: usize = 41;
    /// Aim for batches this long: long enough to dwarf the two timing reads,
    /// short enough that the two halves of a round see the same machine (on
    /// a shared VM the cost of a vDSO read changes in phases of milliseconds).
    const BATCH: Duration = Duration::from_micros(500);
    /// Interval over which RAW is compared with MONOTONIC.
    const DRIFT_INTERVAL: Duration = Duration::from_secs(3);

    pub fn run() -> Result<(), ClockError> {
        let raw = RawClock::new()?;
        let suspend_aware = SuspendAwareClock::new()?;

        println!("leasehold clock report");
        println!(
            "kernel {}, clocksource {}",
            read_trimmed("/proc/sys/kernel/osrelease"),
            read_trimmed("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        );

        let reads = reads_per_batch();
        println!();
        println!(
            "Cost of one reading: {ROUNDS} interleaved rounds of {reads} reads of the clock and of \
             std::time::Instant::now;"
        );
        println!(
            "ratio = median over rounds of (clock time / Instant::now time) in the same round."
        );
        println!();
        println!(
            "{:<26} {:>9} {:>15} {:>11}  {:<7} {:<14} {:>9}",
            "clock",
            "ns/read",
            "x Instant::now",
            "resolution",
            "slewed",
            "counts suspend",
            "max drift"
        );
        println!("{}", "-".repeat(98));

        let rows: [(&str, Cost, Described); 5] = [
            (
                "std::time::Instant",
                cost(reads, StdInstant::now),
                Described::Known {
                    resolution: resolution(libc::CLOCK_MONOTONIC)?,
                    slewed: true,
                    counts_suspend: false,
                },
            ),
            (
                "RawClock",
                cost(reads, || raw.now()),
                Described::Info(raw.info()),
            ),
            (
                "SuspendAwareClock",
                cost(reads, || suspend_aware.now()),
                Described::Info(suspend_aware.info()),
            ),
            (
                "CLOCK_MONOTONIC (libc)",
                cost(reads, || gettime(libc::CLOCK_MONOTONIC)),
                Described::Known {
                    resolution: resolution(libc::CLOCK_MONOTONIC)?,
                    slewed: true,
                    counts_suspend: false,
                },
            ),
            (
                "CLOCK_BOOTTIME (libc)",
                cost(reads, || gettime(libc::CLOCK_BOOTTIME)),
                Described::Known {
                    resolution: resolution(libc::CLOCK_BOOTTIME)?,
                    slewed: true,
                    counts_suspend: true,
                },
            ),
        ];
        for (name, cost, described) in &rows {
            let (res, slewed, suspend, drift) = described.columns();
            println!(
                "{:<26} {:>9.1} {:>14.2}x {:>11}  {:<7} {:<14} {:>9}",
                name,
                cost.subject_ns,
                cost.ratio,
                fmt_duration(res),
                slewed,
                suspend,
                drift
            );
        }
        println!();
        println!("ClockInfo as reported by the leasehold clocks:");
        println!("  {:?}", raw.info());
        println!("  {:?}", suspend_aware.info());
        println!(
            "std::time::Instant reads CLOCK_MONOTONIC on Linux. Rows without a max drift are \
             described from the kernel's documentation, not by a ClockInfo."
        );

        println!();
        let drift = measure_drift()?;
        println!(
            "Drift of CLOCK_MONOTONIC_RAW against CLOCK_MONOTONIC over {:.3} s of CLOCK_MONOTONIC: \
             {:+.3} ppm (+/- {:.3} ppm from read gaps)",
            drift.interval.as_secs_f64(),
            drift.ppm,
            drift.uncertainty_ppm
        );
        println!(
            "  positive: RAW runs faster than the NTP-disciplined clock. \
             leasehold assumes |drift| <= {} ppm.",
            leasehold_hal_linux::MAX_DRIFT_PPM
        );
        match ntp_state() {
            Some(s) => {
                println!(
                    "  kernel NTP state (adjtimex): {}, frequency correction {:+.3} ppm, tick {} us",
                    if s.synchronized { "synchronised" } else { "not synchronised" },
                    s.freq_ppm,
                    s.tick_us
                );
                if !s.synchronized {
                    println!(
                        "  Without NTP, MONOTONIC runs at RAW's rate plus the correction above, so \
                         this drift says nothing about the oscillator's real error."
                    );
                }
            }
            None => println!("  kernel NTP state: unavailable"),
        }

        println!();
        let mono = gettime(libc::CLOCK_MONOTONIC)?;
        let boot = gettime(libc::CLOCK_BOOTTIME)?;
        println!(
            "Suspend time accumulated since boot (CLOCK_BOOTTIME - CLOCK_MONOTONIC): {}",
            fmt_duration(Duration::from_nanos(boot.saturating_sub(mono)))
        );
        println!(
            "SuspendAwareClock currently adds {} (the suspend time plus the largest gap between its \
             MONOTONIC and BOOTTIME reads that a re-read of the pair did not remove).",
            fmt_duration(suspend_aware.suspend_offset())
        );
        Ok(())
    }

    /// How a row's right-hand columns are filled.
    enum Described {
        /// From the clock's own `ClockInfo`.
        Info(ClockInfo),
        /// From the kernel's documentation of a plain clock.
        Known {
            resolution: Duration,
            slewed: bool,
            counts_suspend: bool,
        },
    }

    impl Described {
        fn columns(&self) -> (Duration, String, String, String) {
            let opt = |b: Option<bool>| match b {
                Some(true) => "yes".to_string(),
                Some(false) => "no".to_string(),
                None => "unknown".to_string(),
            };
            match self {
                Described::Info(i) => (
                    i.resolution,
                    opt(i.slewed),
                    opt(i.counts_suspend),
                    format!("{} ppm", i.max_drift_ppm),
                ),
                Described::Known {
                    resolution,
                    slewed,
                    counts_suspend,
                } => (
                    *resolution,
                    opt(Some(*slewed)),
                    opt(Some(*counts_suspend)),
                    "-".to_string(),
                ),
            }
        }
    }

    struct Cost {
        subject_ns: f64,
        ratio: f64,
    }

    /// Sizes batches so that one of `Instant::now` takes about `BATCH`.
    fn reads_per_batch() -> u64 {
        let mut n = 1_000u64;
        loop {
            let elapsed = time_batch(n, StdInstant::now);
            if elapsed >= BATCH / 4 || n >= 1 << 26 {
                let per_read = elapsed.as_nanos().max(1) as f64 / n as f64;
                return ((BATCH.as_nanos() as f64 / per_read) as u64).max(1_000);
            }
            n *= 4;
        }
    }

    fn time_batch<R>(n: u64, mut f: impl FnMut() -> R) -> Duration {
        let start = StdInstant::now();
        for _ in 0..n {
            black_box(f());
        }
        start.elapsed()
    }

    /// Rounds of `Instant::now` and of `f`, alternating which goes first so
    /// that neither always gets the warmer cache; per-round ratios cancel load
    /// changes that hit both halves of a round.
    fn cost<R>(n: u64, mut f: impl FnMut() -> R) -> Cost {
        // One untimed batch of each to fault in code and vDSO pages.
        time_batch(n / 10 + 1, StdInstant::now);
        time_batch(n / 10 + 1, &mut f);
        let mut ratios = Vec::with_capacity(ROUNDS);
        let mut subject = Vec::with_capacity(ROUNDS);
        for round in 0..ROUNDS {
            let (b, s) = if round % 2 == 0 {
                let b = time_batch(n, StdInstant::now);
                (b, time_batch(n, &mut f))
            } else {
                let s = time_batch(n, &mut f);
                (time_batch(n, StdInstant::now), s)
            };
            let (b, s) = (b.as_nanos().max(1) as f64, s.as_nanos() as f64);
            ratios.push(s / b);
            subject.push(s / n as f64);
        }
        Cost {
            subject_ns: median(&mut subject),
            ratio: median(&mut ratios),
        }
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    struct Drift {
        interval: Duration,
        ppm: f64,
        uncertainty_ppm: f64,
    }

    /// A RAW reading bracketed by two MONOTONIC readings; the narrowest of a
    /// few attempts, so that a preemption does not widen the bracket.
    fn bracketed_raw() -> Result<(u64, u64, u64), ClockError> {
        let mut best: Option<(u64, u64, u64)> = None;
        for _ in 0..200 {
            let m1 = gettime(libc::CLOCK_MONOTONIC)?;
            let r = gettime(libc::CLOCK_MONOTONIC_RAW)?;
            let m2 = gettime(libc::CLOCK_MONOTONIC)?;
            if best.is_none_or(|(a, _, b)| m2 - m1 < b - a) {
                best = Some((m1, r, m2));
            }
        }
        best.ok_or(ClockError::OutOfRange)
    }

    fn measure_drift() -> Result<Drift, ClockError> {
        let (m1a, r1, m1b) = bracketed_raw()?;
        std::thread::sleep(DRIFT_INTERVAL);
        let (m2a, r2, m2b) = bracketed_raw()?;
        // MONOTONIC at the RAW read is taken as the bracket's midpoint; the
        // half-widths bound the error.
        let mono = ((m2a + m2b) as f64 - (m1a + m1b) as f64) / 2.0;
        let raw = (r2 - r1) as f64;
        let half_widths = ((m1b - m1a) + (m2b - m2a)) as f64 / 2.0;
        Ok(Drift {
            interval: Duration::from_nanos(mono as u64),
            ppm: (raw - mono) / mono * 1e6,
            uncertainty_ppm: half_widths / mono * 1e6,
        })
    }

    struct NtpState {
        synchronized: bool,
        freq_ppm: f64,
        tick_us: i64,
    }

    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    fn ntp_state() -> Option<NtpState> {
        // SAFETY: `timex` is a plain C struct of integers, for which all-zero
        // bytes are a valid value (and `modes == 0`, a read-only query).
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        // SAFETY: `tx` is a valid, writable `timex` for the whole call; with
        // `modes == 0` adjtimex only reads the kernel's state into it.
        let state = unsafe { libc::adjtimex(&mut tx) };
        if state < 0 {
            return None;
        }
        Some(NtpState {
            synchronized: state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0,
            // `freq` is in ppm with a 16-bit binary fraction.
            freq_ppm: tx.freq as f64 / 65_536.0,
            tick_us: tx.tick as i64,
        })
    }

    #[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
    fn ntp_state() -> Option<NtpState> {
        None
    }

    /// A plain `clock_gettime` in nanoseconds, for the comparison clocks.
    fn gettime(id: libc::clockid_t) -> Result<u64, ClockError> {
        let mut ts = MaybeUninit::<libc::timespec>::uninit();
        // SAFETY: `ts` is valid for a write of one `timespec` during the call.
        if unsafe { libc::clock_gettime(id, ts.as_mut_ptr()) } != 0 {
            return Err(os_error());
        }
        // SAFETY: clock_gettime returned 0, so it filled in `ts`.
        let ts = unsafe { ts.assume_init() };
        nanos(ts)
    }

    fn resolution(id: libc::clockid_t) -> Result<Duration, ClockError> {
        let mut ts = MaybeUninit::<libc::timespec>::uninit();
        // SAFETY: `ts` is valid for a write of one `timespec` during the call.
        if unsafe { libc::clock_getres(id, ts.as_mut_ptr()) } != 0 {
            return Err(os_error());
        }
        // SAFETY: clock_getres returned 0, so it filled in `ts`.
        let ts = unsafe { ts.assume_init() };
        nanos(ts).map(Duration::from_nanos)
    }

    #[allow(clippy::useless_conversion)] // time_t and c_long are i32 on some targets
    fn nanos(ts: libc::timespec) -> Result<u64, ClockError> {
        let sec = u64::try_from(i64::from(ts.tv_sec)).map_err(|_| ClockError::OutOfRange)?;
        let nsec = u64::try_from(i64::from(ts.tv_nsec)).map_err(|_| ClockError::OutOfRange)?;
        sec.checked_mul(1_000_000_000)
            .and_then(|s| s.checked_add(nsec))
            .ok_or(ClockError::OutOfRange)
    }

    fn os_error() -> ClockError {
        ClockError::Os(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }

    fn read_trimmed(path: &str) -> String {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".to_string())
    }

    fn fmt_duration(d: Duration) -> String {
        let ns = d.as_nanos();
        if ns < 1_000 {
            format!("{ns} ns")
        } else if ns < 1_000_000 {
            format!("{:.3} us", ns as f64 / 1e3)
        } else if ns < 1_000_000_000 {
            format!("{:.3} ms", ns as f64 / 1e6)
        } else {
            format!("{:.3} s", d.as_secs_f64())
        }
    }
}
