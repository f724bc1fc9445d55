//! The pure arithmetic behind `SuspendAwareClock`: a `CLOCK_MONOTONIC_RAW`
//! reading plus the kernel's accumulated suspend time, combined so that the
//! result never runs backwards and never runs slower than RAW.
//!
//! It is platform independent and does no I/O, so it is tested with
//! fabricated readings on every host, and a simulation can drive it with
//! virtual clocks.
//!
//! # Why RAW plus an offset
//!
//! On Linux, `CLOCK_MONOTONIC_RAW` is not slewed by NTP but stops while the
//! system is suspended, so a leader resumed after a long suspend would believe
//! its lease still fresh. `CLOCK_BOOTTIME` counts suspend but is slewed.
//! `CLOCK_BOOTTIME − CLOCK_MONOTONIC` is the kernel's accumulated suspend
//! time (`offs_boot`); both clocks are read from the same timekeeper, so the
//! difference changes only when the system resumes. RAW plus that offset
//! keeps RAW's rate between suspends and still jumps forward by every
//! suspend.
//!
//! # Read order: RAW, then MONOTONIC, then BOOTTIME
//!
//! The three clocks cannot be read atomically, so the order decides which
//! way the error goes. Take the reads at real times `t_r ≤ t_m ≤ t_b`:
//!
//! * BOOTTIME is MONOTONIC plus `offs_boot`, so the estimate
//!   `b − m = offs_boot(t_b) + (mono(t_b) − mono(t_m))`. Reading MONOTONIC
//!   first makes it an **over**-estimate of the offset at `t_b` by the gap
//!   between those two reads (the safe direction: the clock runs ahead, a
//!   lease expires early). Reading BOOTTIME first would make it an
//!   under-estimate by that gap, and a suspend landing between the two reads
//!   would be missed altogether by that reading.
//! * Reading RAW before both means that a suspend landing between the RAW
//!   and the BOOTTIME read is already in the offset: the result is then the
//!   pre-suspend RAW value plus the post-suspend offset, which is never less
//!   than the ideal suspend-adjusted time at `t_r`. A suspend after the
//!   BOOTTIME read belongs to the next reading; the call that returned before
//!   it cannot have observed it.
//!
//! # The running maximum
//!
//! The caller keeps the largest offset estimate seen so far and passes it in;
//! [`combine`] returns `raw + max(previous maximum, b − m)`. RAW is monotonic
//! and the maximum never decreases, so successive results never run backwards
//! and never advance by less than RAW did. The price is that the clock may run
//! ahead of the true suspend-adjusted time by at most the longest gap ever seen
//! between a MONOTONIC and the following BOOTTIME read (a preemption there),
//! which again only makes leases expire early (`SuspendAwareClock` narrows
//! this by re-reading the pair whenever an estimate would raise the maximum).
//! If BOOTTIME reads below
//! MONOTONIC (impossible in this order on a sane kernel) the estimate is
//! taken as 0, so the previous maximum stands and nothing underflows.
//!
//! ```
//! use leasehold_hal_linux::combine::combine;
//!
//! let s = 1_000_000_000; // one second in ns
//! // First reading: 2 s of suspend so far, nothing seen before.
//! let a = combine(100 * s, 100 * s, 102 * s, 0)?;
//! assert_eq!((a.instant.as_nanos(), a.max_offset_ns), (102 * s, 2 * s));
//! // A 10 s suspend lands between the RAW and the MONOTONIC read: it is counted.
//! let b = combine(101 * s, 101 * s, 113 * s, a.max_offset_ns)?;
//! assert_eq!(b.instant.as_nanos(), 113 * s);
//! # Ok::<(), leasehold_core::ClockError>(())
//! ```

use leasehold_core::{ClockError, Instant};

/// The outcome of one [`combine`]: the instant to return and the running
/// maximum to keep for the next reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Combined {
    /// `raw_ns + max_offset_ns`.
    pub instant: Instant,
    /// The new running maximum of the suspend offset estimates, in ns; never
    /// less than the `prev_max_offset_ns` passed in.
    pub max_offset_ns: u64,
}

/// Combines one RAW, MONOTONIC and BOOTTIME reading (in nanoseconds, read in
/// that order) with the running maximum offset into a suspend-aware instant.
///
/// See the [module documentation](self) for why the order and the maximum
/// make the result safe. Errors, never panics:
///
/// * `raw_ns == 0`: [`ClockError::OutOfRange`] (zero is not an instant);
/// * `raw_ns + max_offset` beyond `u64::MAX`: [`ClockError::OutOfRange`].
///
/// On an error the caller must keep its previous maximum.
///
/// ```
/// use leasehold_core::ClockError;
/// use leasehold_hal_linux::combine::combine;
///
/// // BOOTTIME below MONOTONIC: no underflow, the previous maximum stands.
/// let c = combine(50, 1_000, 900, 7)?;
/// assert_eq!((c.instant.as_nanos(), c.max_offset_ns), (57, 7));
/// assert_eq!(combine(u64::MAX, 10, 11, 0), Err(ClockError::OutOfRange));
/// # Ok::<(), ClockError>(())
/// ```
#[inline]
pub fn combine(
    raw_ns: u64,
    mono_ns: u64,
    boot_ns: u64,
    prev_max_offset_ns: u64,
) -> Result<Combined, ClockError> {
    let estimate = boot_ns.saturating_sub(mono_ns);
    let max_offset_ns = prev_max_offset_ns.max(estimate);
    let instant = raw_ns
        .checked_add(max_offset_ns)
        .and_then(Instant::from_nanos)
        .ok_or(ClockError::OutOfRange)?;
    Ok(Combined {
        instant,
        max_offset_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const SUSPEND: u64 = 10 * S;

    fn ns(c: Result<Combined, ClockError>) -> (u64, u64) {
        let c = c.unwrap();
        (c.instant.as_nanos(), c.max_offset_ns)
    }

    /// A deterministic xorshift-multiply generator: enough randomness for
    /// fabricated jitter without a dependency.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 17
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Where a suspend lands relative to the three reads of one `now()`.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Gap {
        BeforeFirst,
        FirstSecond,
        SecondThird,
        AfterThird,
    }

    /// Which clock is read second and third.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Order {
        /// RAW, MONOTONIC, BOOTTIME: the order the clock uses.
        MonoThenBoot,
        /// RAW, BOOTTIME, MONOTONIC: the order shown to be unsafe.
        BootThenMono,
    }

    /// A fabricated machine: RAW and MONOTONIC advance while awake (MONOTONIC
    /// at a slewed rate), only the suspend offset advances while suspended.
    struct Machine {
        raw: u64,
        mono: u64,
        offs: u64,
        slew_ppm: i64,
    }

    impl Machine {
        fn new() -> Machine {
            Machine {
                raw: 50 * S,
                mono: 49 * S,
                offs: 3 * S,
                slew_ppm: 0,
            }
        }
        fn awake(&mut self, d: u64) {
            self.raw += d;
            let slew = (d as i128 * self.slew_ppm as i128 / 1_000_000) as i64;
            self.mono = self.mono.checked_add_signed(d as i64 + slew).unwrap();
        }
        fn suspend(&mut self, d: u64) {
            self.offs += d;
        }
        fn boot(&self) -> u64 {
            self.mono + self.offs
        }
        /// The ideal suspend-aware RAW clock right now.
        fn ideal(&self) -> u64 {
            self.raw + self.offs
        }
    }

    /// What one fabricated `now()` saw.
    struct Reading {
        raw: u64,
        mono: u64,
        boot: u64,
        /// The ideal suspend-aware time when RAW was read.
        ideal_at_raw: u64,
        /// The ideal time and suspend offset after the last read.
        ideal_at_end: u64,
        offs_at_end: u64,
        /// MONOTONIC's advance from the MONOTONIC to the BOOTTIME read.
        mono_gap: u64,
    }

    /// Performs the three reads in `order`, with `gaps[i]` of awake time and,
    /// if `suspend_at` says so, a suspend before read `i + 1`.
    fn read(m: &mut Machine, order: Order, gaps: [u64; 3], suspend_at: Option<Gap>) -> Reading {
        let maybe_suspend = |m: &mut Machine, here: Gap| {
            if suspend_at == Some(here) {
                m.suspend(SUSPEND);
            }
        };
        maybe_suspend(m, Gap::BeforeFirst);
        m.awake(gaps[0]);
        let raw = m.raw;
        let ideal_at_raw = m.ideal();
        maybe_suspend(m, Gap::FirstSecond);
        m.awake(gaps[1]);
        let (mono, boot, mono_gap);
        match order {
            Order::MonoThenBoot => {
                mono = m.mono;
                maybe_suspend(m, Gap::SecondThird);
                m.awake(gaps[2]);
                boot = m.boot();
                mono_gap = m.mono - mono;
            }
            Order::BootThenMono => {
                boot = m.boot();
                let mono_at_boot = m.mono;
                maybe_suspend(m, Gap::SecondThird);
                m.awake(gaps[2]);
                mono = m.mono;
                mono_gap = m.mono - mono_at_boot;
            }
        }
        let r = Reading {
            raw,
            mono,
            boot,
            ideal_at_raw,
            ideal_at_end: m.ideal(),
            offs_at_end: m.offs,
            mono_gap,
        };
        maybe_suspend(m, Gap::AfterThird);
        r
    }

    #[test]
    fn first_reading_takes_the_offset() {
        assert_eq!(ns(combine(100, 1_000, 1_500, 0)), (600, 500));
        assert_eq!(ns(combine(1, 7, 7, 0)), (1, 0));
    }

    #[test]
    fn ten_second_suspend_between_each_pair_of_reads() {
        for gap in [
            Gap::BeforeFirst,
            Gap::FirstSecond,
            Gap::SecondThird,
            Gap::AfterThird,
        ] {
            let mut m = Machine::new();
            let first = read(&mut m, Order::MonoThenBoot, [1_000; 3], None);
            let c1 = combine(first.raw, first.mono, first.boot, 0).unwrap();
            let offs_before = m.offs;

            let r = read(&mut m, Order::MonoThenBoot, [1_000; 3], Some(gap));
            let c2 = combine(r.raw, r.mono, r.boot, c1.max_offset_ns).unwrap();
            let counted_now = c2.max_offset_ns >= offs_before + SUSPEND;
            // A suspend anywhere before the BOOTTIME read is counted by this
            // very reading; one after it can only be counted by the next.
            assert_eq!(counted_now, gap != Gap::AfterThird, "{gap:?}");
            assert!(c2.instant.as_nanos() >= r.ideal_at_raw, "{gap:?}");
            assert!(
                c2.instant.as_nanos() <= r.ideal_at_end + r.mono_gap,
                "{gap:?}"
            );

            let next = read(&mut m, Order::MonoThenBoot, [1_000; 3], None);
            let c3 = combine(next.raw, next.mono, next.boot, c2.max_offset_ns).unwrap();
            assert!(c3.max_offset_ns >= offs_before + SUSPEND, "{gap:?}");
            assert!(c3.instant.as_nanos() >= next.ideal_at_raw, "{gap:?}");
            assert!(
                c3.instant > c2.instant && c2.instant > c1.instant,
                "{gap:?}"
            );
        }
    }

    #[test]
    fn jitter_between_reads_overestimates_and_the_max_keeps_it() {
        let mut m = Machine::new();
        // A 5 ms preemption between the MONOTONIC and BOOTTIME reads.
        let r = read(&mut m, Order::MonoThenBoot, [100, 100, 5_000_000], None);
        let c = combine(r.raw, r.mono, r.boot, 0).unwrap();
        assert_eq!(c.max_offset_ns, r.offs_at_end + 5_000_000);
        // Later readings with tiny gaps estimate less; the maximum stands, so
        // the clock stays ahead (leases expire early) but never steps back.
        let (mut last, mut last_raw) = (c, r.raw);
        for _ in 0..100 {
            let r = read(&mut m, Order::MonoThenBoot, [100, 100, 100], None);
            let c = combine(r.raw, r.mono, r.boot, last.max_offset_ns).unwrap();
            assert!(r.boot - r.mono < last.max_offset_ns);
            assert_eq!(c.max_offset_ns, last.max_offset_ns);
            // Between suspends the clock advances exactly as RAW does.
            assert_eq!(
                c.instant.as_nanos() - last.instant.as_nanos(),
                r.raw - last_raw
            );
            (last, last_raw) = (c, r.raw);
        }
    }

    #[test]
    fn boot_before_mono_underestimates_but_the_max_stays_monotonic() {
        let mut m = Machine::new();
        let r = read(&mut m, Order::MonoThenBoot, [100, 100, 100], None);
        let good = combine(r.raw, r.mono, r.boot, 0).unwrap();

        // Reversed order with a 2 ms gap: the estimate is 2 ms short of the
        // true offset, so on its own the reading would run slow.
        let r = read(&mut m, Order::BootThenMono, [100, 100, 2_000_000], None);
        assert_eq!(r.boot.saturating_sub(r.mono), r.offs_at_end - 2_000_000);
        let alone = combine(r.raw, r.mono, r.boot, 0).unwrap();
        assert!(alone.instant.as_nanos() < r.ideal_at_raw);
        // With the running maximum it does not step back or run slow.
        let kept = combine(r.raw, r.mono, r.boot, good.max_offset_ns).unwrap();
        assert_eq!(kept.max_offset_ns, good.max_offset_ns);
        assert!(kept.instant.as_nanos() >= r.ideal_at_raw);

        // Worse: a 10 s suspend between the BOOTTIME and MONOTONIC reads is
        // missed entirely by that reading (the order the clock does not use).
        let offs_before = m.offs;
        let r = read(
            &mut m,
            Order::BootThenMono,
            [100; 3],
            Some(Gap::SecondThird),
        );
        let missed = combine(r.raw, r.mono, r.boot, kept.max_offset_ns).unwrap();
        assert!(missed.max_offset_ns < offs_before + SUSPEND);
        assert!(missed.instant.as_nanos() + SUSPEND / 2 < r.ideal_at_end);
        assert!(missed.instant > kept.instant);

        // A gap longer than the whole offset makes BOOTTIME read below
        // MONOTONIC; that must not underflow.
        let mut m = Machine::new();
        m.offs = 1_000;
        let r = read(&mut m, Order::BootThenMono, [100, 100, 50_000], None);
        assert!(r.boot < r.mono);
        assert_eq!(ns(combine(r.raw, r.mono, r.boot, 0)), (r.raw, 0));
    }

    #[test]
    fn boot_below_mono_keeps_previous_max() {
        assert_eq!(ns(combine(10, 1_000, 999, 0)), (10, 0));
        assert_eq!(ns(combine(10, 1_000, 0, 42)), (52, 42));
        assert_eq!(ns(combine(10, u64::MAX, 0, 42)), (52, 42));
    }

    #[test]
    fn overflow_and_zero_are_out_of_range() {
        assert_eq!(combine(0, 5, 5, 0), Err(ClockError::OutOfRange));
        assert_eq!(combine(u64::MAX, 5, 5, 1), Err(ClockError::OutOfRange));
        assert_eq!(
            combine(u64::MAX - 9, 0, 9, 0).map(|c| c.instant.as_nanos()),
            Ok(u64::MAX)
        );
        assert_eq!(combine(u64::MAX - 9, 0, 10, 0), Err(ClockError::OutOfRange));
        assert_eq!(combine(2, 0, u64::MAX, 0), Err(ClockError::OutOfRange));
        assert_eq!(combine(1, 5, 5, u64::MAX), Err(ClockError::OutOfRange));
        assert_eq!(ns(combine(1, 5, 5, u64::MAX - 1)), (u64::MAX, u64::MAX - 1));
    }

    /// Long random sequences in both orders: jitter, occasional preemptions,
    /// 10 s suspends at random points, MONOTONIC slewed by up to ±500 ppm.
    fn run_sequence(order: Order, seed: u64) -> usize {
        let mut rng = Lcg(seed);
        let mut m = Machine::new();
        let mut max = 0;
        let mut last: Option<(u64, u64)> = None; // (instant, raw)
        let mut max_gap = 0;
        let mut slow_readings = 0;
        for step in 0..100_000 {
            if step % 1_000 == 0 {
                m.slew_ppm = rng.below(1_001) as i64 - 500;
            }
            let mut gap = || match rng.below(1_000) {
                0 => 1_000_000 + rng.below(20_000_000), // preempted
                _ => rng.below(2_000),
            };
            let gaps = [gap(), gap(), gap()];
            let suspend_at = match rng.below(400) {
                0 => Some(Gap::BeforeFirst),
                1 => Some(Gap::FirstSecond),
                2 => Some(Gap::SecondThird),
                3 => Some(Gap::AfterThird),
                _ => None,
            };
            let r = read(&mut m, order, gaps, suspend_at);
            let c = combine(r.raw, r.mono, r.boot, max).unwrap();
            assert!(c.max_offset_ns >= max);
            max = c.max_offset_ns;
            let t = c.instant.as_nanos();
            if let Some((t0, raw0)) = last {
                assert!(t >= t0, "backwards at step {step}");
                assert!(t - t0 >= r.raw - raw0, "slower than RAW at step {step}");
            }
            last = Some((t, r.raw));
            if t < r.ideal_at_raw {
                slow_readings += 1;
            }
            if order == Order::MonoThenBoot {
                max_gap = max_gap.max(r.mono_gap);
                assert!(
                    t >= r.ideal_at_raw,
                    "behind suspend-aware time at step {step}"
                );
                assert!(
                    t <= r.raw + r.offs_at_end + max_gap,
                    "ahead by more than the longest MONOTONIC→BOOTTIME gap at step {step}"
                );
                assert!(t <= r.ideal_at_end + max_gap);
            }
        }
        slow_readings
    }

    #[test]
    fn long_sequences_never_run_backwards_or_slow() {
        for seed in [1, 2, 0xdead_beef, 0x0123_4567_89ab_cdef] {
            assert_eq!(run_sequence(Order::MonoThenBoot, seed), 0);
            // The reversed order is still monotonic thanks to the maximum,
            // but falls behind true suspend-aware time: the reason for the order.
            assert!(run_sequence(Order::BootThenMono, seed) > 0);
        }
    }
}
