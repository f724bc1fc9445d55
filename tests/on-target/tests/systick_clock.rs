//! The SysTick clock under QEMU (`-icount` makes its time deterministic):
//! `NotStarted` before the start, then monotonic across many wraps with no
//! whole-period jumps, also when wraps stay pending inside critical sections,
//! and elapsed nanoseconds that match the tick count.
#![no_std]
#![no_main]

use core::num::NonZeroU32;

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::interrupt;
use cortex_m_rt::{entry, exception};
use leasehold_core::{Clock, ClockError, Instant};
use leasehold_hal_embedded::{ticks_to_nanos, Counter, Extender, SysTickClock, WrapPending};
use leasehold_on_target::{check, pass};

/// 16 bits so that it wraps often; the core clock rate is nominal.
const HZ: u32 = 12_000_000;
const PERIOD: u64 = 1 << 16;
static CLOCK: SysTickClock<16> = SysTickClock::systick(NonZeroU32::new(HZ).unwrap(), 50);
/// Exceptions taken, counted apart from the extender.
static HANDLED: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    CLOCK.on_wrap();
    // Only this handler writes it (thumbv6m has no atomic read-modify-write).
    HANDLED.store(HANDLED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn now() -> Instant {
    match CLOCK.now() {
        Ok(t) => t,
        Err(e) => panic!("clock read failed: {:?}", e),
    }
}

fn ns_to_ticks(ns: u64) -> u64 {
    (u128::from(ns) * u128::from(HZ) / 1_000_000_000) as u64
}

#[entry]
fn main() -> ! {
    let Some(p) = cortex_m::Peripherals::take() else {
        panic!("peripherals taken twice");
    };
    check!(CLOCK.now() == Err(ClockError::NotStarted));
    let info = CLOCK.info();
    check!(
        info.resolution.as_nanos() == 84,
        "one 12 MHz tick is 83.3 ns, rounded up"
    );
    check!(info.max_drift_ppm == 50 && info.name == "SysTick");

    CLOCK.start(p.SYST);
    let t0 = now();
    check!(
        t0.as_nanos() >= 1 && ns_to_ticks(t0.as_nanos()) < PERIOD,
        "starts near 1 ns"
    );

    // Tight loop across many wraps: never backwards, never a period forward.
    let max_step = ticks_to_nanos(PERIOD / 4, NonZeroU32::new(HZ).unwrap()).unwrap_or(u64::MAX);
    let mut prev = t0;
    let mut reads = 0u32;
    while HANDLED.load(Ordering::Relaxed) < 60 {
        let t = now();
        check!(
            t >= prev,
            "backwards: {} after {}",
            t.as_nanos(),
            prev.as_nanos()
        );
        check!(
            t.as_nanos() - prev.as_nanos() < max_step,
            "jumped {} ns",
            t.as_nanos() - prev.as_nanos()
        );
        prev = t;
        reads += 1;
    }
    check!(reads > 1_000);

    // Elapsed time agrees with the exceptions the hardware delivered.
    let handled = u64::from(HANDLED.load(Ordering::Relaxed));
    let elapsed_ticks = ns_to_ticks(prev.as_nanos() - t0.as_nanos());
    check!(
        elapsed_ticks + PERIOD >= handled * PERIOD,
        "{} ticks for {} wraps",
        elapsed_ticks,
        handled
    );
    check!(
        elapsed_ticks <= (handled + 1) * PERIOD,
        "{} ticks for {} wraps",
        elapsed_ticks,
        handled
    );

    // Exact conversion: a reading lies between the raw tick counts around it.
    interrupt::free(|_| {
        let before = CLOCK.extender().ticks(CLOCK.counter());
        let t = CLOCK.now();
        let after = CLOCK.extender().ticks(CLOCK.counter());
        let hz = NonZeroU32::new(HZ).unwrap();
        match (before, t, after) {
            (Ok(b), Ok(t), Ok(a)) => {
                let lo = ticks_to_nanos(b, hz).unwrap_or(u64::MAX);
                let hi = ticks_to_nanos(a, hz).unwrap_or(u64::MAX);
                check!(lo < t.as_nanos() && t.as_nanos() <= hi + 1);
                check!(a - b < 1_000, "three reads take a few hundred ticks");
            }
            _ => panic!("reads failed"),
        }
    });

    // Across wraps that stay pending: interrupts off, read through the wrap.
    let mut pending_reads = 0u32;
    // Precomputed: u128 arithmetic in the loop is slow on the M0.
    let window_ns =
        ticks_to_nanos(PERIOD + PERIOD / 2, NonZeroU32::new(HZ).unwrap()).unwrap_or(u64::MAX);
    for _ in 0..5 {
        interrupt::free(|_| {
            let start = now();
            let mut prev = start;
            // Stay under half a period past the wrap (the handler deadline).
            loop {
                let c = CLOCK.counter().read();
                let t = now();
                check!(t >= prev, "backwards inside a critical section");
                check!(t.as_nanos() - prev.as_nanos() < max_step);
                prev = t;
                if CLOCK.counter().wrap_pending() {
                    pending_reads += 1;
                    if u64::from(c) > PERIOD / 4 && u64::from(c) < PERIOD / 2 {
                        break;
                    }
                }
                check!(t.as_nanos() - start.as_nanos() < window_ns, "no wrap seen");
            }
        });
    }
    check!(
        pending_reads > 100,
        "{} reads with the wrap pending",
        pending_reads
    );
    // The pended exceptions were taken once interrupts came back on; the
    // clock still agrees with itself.
    let t = now();
    check!(t >= prev);

    pass("systick_clock")
}
