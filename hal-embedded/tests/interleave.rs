//! The extenders against a simulated counter whose interrupt handler is
//! injected between every two steps of a read, for counter values around
//! every wrap and half-period point, at 16, 24 and 32 bits.
//!
//! A read is a sequence of calls into the counter (`is_running`, `read`,
//! `wrap_pending`) with the extender's atomic loads in between. The simulated
//! counter hooks the entry and exit of every call: at each hook, simulated
//! time may advance (the read takes time) and, at one chosen hook, the
//! interrupt handler runs and handles every event that has happened. The
//! extended value must equal the true tick count at the moment the counter
//! register was sampled. A naive extender (read the counter, then the
//! overflow count) runs through the same sweep and must fail it.

use core::cell::Cell;
use core::num::NonZeroU32;

use leasehold_core::{Clock, ClockError};
use leasehold_hal_embedded::{
    Counter, ExtendedClock, Extender, HalfPeriodExtender, WrapExtender, WrapPending,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// How an extender is driven by hardware events.
trait Scheme: Sized {
    /// Events per counter period (2: overflow and half compare; 1: wrap).
    const EVENTS_PER_PERIOD: u64;
    fn new() -> Self;
    /// The handler's reaction to event `k` (1-based; with 2 events per period
    /// odd `k` is the half compare and even `k` the overflow).
    fn on_event(&self, k: u64);
    fn ticks<const BITS: u32>(&self, sim: &Sim<'_, BITS, Self>) -> Result<u64, ClockError>;
}

impl Scheme for HalfPeriodExtender {
    const EVENTS_PER_PERIOD: u64 = 2;
    fn new() -> Self {
        HalfPeriodExtender::new()
    }
    fn on_event(&self, k: u64) {
        if k % 2 == 1 {
            self.on_half_period()
        } else {
            self.on_overflow()
        }
    }
    fn ticks<const BITS: u32>(&self, sim: &Sim<'_, BITS, Self>) -> Result<u64, ClockError> {
        Extender::ticks(self, sim)
    }
}

impl Scheme for WrapExtender {
    const EVENTS_PER_PERIOD: u64 = 1;
    fn new() -> Self {
        WrapExtender::new()
    }
    fn on_event(&self, _k: u64) {
        self.on_wrap()
    }
    fn ticks<const BITS: u32>(&self, sim: &Sim<'_, BITS, Self>) -> Result<u64, ClockError> {
        Extender::ticks(self, sim)
    }
}

/// The negative control: counts overflows, reads the counter first and the
/// count second. This is the bug the crate exists to avoid.
struct Naive {
    overflows: AtomicU64,
}

impl<C: Counter> Extender<C> for Naive {
    fn ticks(&self, counter: &C) -> Result<u64, ClockError> {
        if !counter.is_running() {
            return Err(ClockError::NotStarted);
        }
        let c = u64::from(counter.read());
        let w = self.overflows.load(Ordering::Acquire);
        Ok((w << C::BITS) + c)
    }
}

impl Scheme for Naive {
    const EVENTS_PER_PERIOD: u64 = 1;
    fn new() -> Self {
        Naive {
            overflows: AtomicU64::new(0),
        }
    }
    fn on_event(&self, _k: u64) {
        self.overflows.fetch_add(1, Ordering::Release);
    }
    fn ticks<const BITS: u32>(&self, sim: &Sim<'_, BITS, Self>) -> Result<u64, ClockError> {
        Extender::ticks(self, sim)
    }
}

/// A `BITS`-wide up-counter in simulated time, with an interrupt handler
/// that runs at a chosen hook.
struct Sim<'a, const BITS: u32, S> {
    ext: &'a S,
    /// True ticks since the counter started.
    t: Cell<u64>,
    /// Events the handler has handled.
    handled: Cell<u64>,
    /// Hooks passed so far in this read.
    hook: Cell<u32>,
    /// The hook at which the handler runs.
    isr_at: u32,
    /// Ticks that pass at every hook.
    advance: u64,
    /// The wrap flag rises one tick before the wrap (SysTick's CVR reaching 0).
    early_flag: bool,
    /// `t` when the counter register was sampled.
    sampled: Cell<Option<u64>>,
}

impl<const BITS: u32, S: Scheme> Sim<'_, BITS, S> {
    const PERIOD: u64 = 1 << BITS;

    fn event_len() -> u64 {
        Self::PERIOD / S::EVENTS_PER_PERIOD
    }

    /// Events that have happened by time `t`.
    fn happened(t: u64) -> u64 {
        t / Self::event_len()
    }

    fn isr(&self) {
        let due = Self::happened(self.t.get());
        while self.handled.get() < due {
            let k = self.handled.get() + 1;
            self.handled.set(k);
            self.ext.on_event(k);
        }
    }

    fn at_hook(&self) {
        self.t.set(self.t.get() + self.advance);
        if self.hook.get() == self.isr_at {
            self.isr();
        }
        self.hook.set(self.hook.get() + 1);
    }
}

impl<const BITS: u32, S: Scheme> Counter for Sim<'_, BITS, S> {
    const BITS: u32 = BITS;

    fn frequency_hz(&self) -> NonZeroU32 {
        NonZeroU32::MIN
    }

    fn is_running(&self) -> bool {
        self.at_hook();
        self.at_hook();
        true
    }

    fn read(&self) -> u32 {
        self.at_hook();
        let t = self.t.get();
        self.sampled.set(Some(t));
        let c = (t % Self::PERIOD) as u32;
        self.at_hook();
        c
    }
}

impl<const BITS: u32, S: Scheme> WrapPending for Sim<'_, BITS, S> {
    fn wrap_pending(&self) -> bool {
        self.at_hook();
        let flagged = if self.early_flag {
            Self::happened(self.t.get() + 1)
        } else {
            Self::happened(self.t.get())
        };
        let pending = flagged > self.handled.get();
        self.at_hook();
        pending
    }
}

/// One read starting at true time `t0`, with the handler `lag` ticks behind
/// (events in the last `lag` ticks still pending), time advancing `advance`
/// ticks per hook and the handler running at hook `isr_at`. Returns
/// (extended ticks, true ticks when sampled).
fn one_read<const BITS: u32, S: Scheme>(
    t0: u64,
    lag: u64,
    advance: u64,
    isr_at: u32,
    early_flag: bool,
) -> (u64, u64) {
    let ext = S::new();
    let sim: Sim<'_, BITS, S> = Sim {
        ext: &ext,
        t: Cell::new(t0.saturating_sub(lag)),
        handled: Cell::new(0),
        hook: Cell::new(0),
        isr_at,
        advance,
        early_flag,
        sampled: Cell::new(None),
    };
    sim.isr(); // caught up to t0 - lag
    sim.t.set(t0);
    let got = ext.ticks(&sim).expect("a running counter reads");
    (got, sim.sampled.get().expect("the counter was sampled"))
}

/// A wrong read: (t0, lag, isr_at, got, want).
type Mismatch = (u64, u64, u32, u64, u64);

/// Every start around every event point (wraps and half periods) of the
/// first few periods, every handler lag and read speed within the schemes'
/// requirements, the handler at every hook (and at none). Returns the
/// mismatches found and the number of reads.
fn sweep<const BITS: u32, S: Scheme>(early_flag: bool) -> (Vec<Mismatch>, u64) {
    let half = 1u64 << (BITS - 1);
    let mut bad = Vec::new();
    let mut reads = 0;
    for k in 0..=8u64 {
        for d in -6i64..=6 {
            let Some(t0) = (k * half).checked_add_signed(d) else {
                continue;
            };
            for lag in [0, 1, 2, 5] {
                for advance in [0, 1, 2] {
                    for isr_at in 0..=16 {
                        let (got, want) = one_read::<BITS, S>(t0, lag, advance, isr_at, early_flag);
                        reads += 1;
                        if got != want {
                            bad.push((t0, lag, isr_at, got, want));
                        }
                    }
                }
            }
        }
    }
    (bad, reads)
}

fn assert_correct<const BITS: u32, S: Scheme>(early_flag: bool) {
    let (bad, reads) = sweep::<BITS, S>(early_flag);
    assert!(reads > 10_000, "the sweep ran ({reads} reads)");
    assert!(
        bad.is_empty(),
        "{BITS}-bit: {} of {reads} reads wrong, first (t0, lag, isr_at, got, want): {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
}

#[test]
fn half_period_extender_is_exact_around_every_event() {
    assert_correct::<16, HalfPeriodExtender>(false);
    assert_correct::<24, HalfPeriodExtender>(false);
    assert_correct::<32, HalfPeriodExtender>(false);
}

#[test]
fn wrap_extender_is_exact_around_every_wrap() {
    for early_flag in [false, true] {
        assert_correct::<16, WrapExtender>(early_flag);
        assert_correct::<24, WrapExtender>(early_flag);
        assert_correct::<32, WrapExtender>(early_flag);
    }
}

/// The negative control: the same sweep catches the naive read order, and
/// the error it finds is the classic one, a whole period.
fn assert_naive_fails<const BITS: u32>() {
    let (bad, _) = sweep::<BITS, Naive>(false);
    assert!(
        !bad.is_empty(),
        "{BITS}-bit: the sweep must catch the naive extender"
    );
    for &(_, _, _, got, want) in &bad {
        assert_eq!(got.abs_diff(want), 1 << BITS, "off by exactly one period");
    }
}

#[test]
fn naive_extender_fails_the_same_sweep() {
    assert_naive_fails::<16>();
    assert_naive_fails::<24>();
    assert_naive_fails::<32>();
}

/// The interleaving is what breaks the naive order: with the handler caught
/// up and not running during the read, even the naive one is right, so the
/// failures above come from the race, not from the simulation.
#[test]
fn naive_extender_is_right_only_without_a_race() {
    for t0 in [0xFFFE, 0xFFFF, 0x1_0000, 0x1_0001] {
        let (got, want) = one_read::<16, Naive>(t0, 0, 0, u32::MAX, false);
        assert_eq!(got, want, "t0={t0:#x}");
    }
    // Sampled at 0xFFFF, wrap handled before the count is loaded: a period ahead.
    let (got, want) = one_read::<16, Naive>(0xFFFC, 0, 1, 3, false);
    assert_eq!((want, got), (0xFFFF, 0x1_FFFF));
    // Sampled just after the wrap, handler not run yet: a period behind.
    let (got, want) = one_read::<16, Naive>(0x1_0000, 1, 0, u32::MAX, false);
    assert_eq!((want, got), (0x1_0000, 0));
}

/// A counter that is not running yet: `now()` is `NotStarted`, never 0.
struct Stopped;

impl Counter for Stopped {
    const BITS: u32 = 16;
    fn frequency_hz(&self) -> NonZeroU32 {
        NonZeroU32::new(32_768).unwrap()
    }
    fn is_running(&self) -> bool {
        false
    }
    fn read(&self) -> u32 {
        0
    }
}

impl WrapPending for Stopped {
    fn wrap_pending(&self) -> bool {
        false
    }
}

#[test]
fn a_stopped_counter_is_not_started() {
    let half = ExtendedClock::new(Stopped, HalfPeriodExtender::new(), 20);
    assert_eq!(half.now(), Err(ClockError::NotStarted));
    let wrap = ExtendedClock::new(Stopped, WrapExtender::new(), 20);
    assert_eq!(wrap.now(), Err(ClockError::NotStarted));
    let info = half.info();
    assert_eq!(info.resolution.as_nanos(), 30_518);
    assert_eq!(info.max_drift_ppm, 20);
    assert_eq!(info.slewed, Some(false));
    assert_eq!(info.counts_suspend, None);
}
