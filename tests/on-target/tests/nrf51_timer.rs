//! `HalfPeriodExtender` on a real (emulated) timer: the nRF51's TIMER0 on
//! QEMU's microbit, 16 bits at 16 MHz (PRESCALER 0). The TIMER has no
//! overflow event, so two compares stand in for it: CC[0] = 0 (the wrap)
//! and CC[1] = 0x8000 (half the range), both interrupting; the handler calls
//! `on_overflow` / `on_half_period`. The count is read with a CAPTURE task
//! into CC[3].
//!
//! Checks: `NotStarted` before the start; monotonic across 60 wraps with no
//! whole-period (or half-period) jumps; also inside critical sections that
//! leave a compare event pending across the half-range point; elapsed time
//! consistent with the events taken; the extender's count equals them.
//!
//! Run: `cargo test --target thumbv6m-none-eabi --features nrf51 --test nrf51_timer`.
#![no_std]
#![no_main]

use core::num::NonZeroU32;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cortex_m::peripheral::NVIC;
use cortex_m_rt::exception;
use leasehold_core::{Clock, ClockError, Instant};
use leasehold_hal_embedded::{ticks_to_nanos, Counter, ExtendedClock, HalfPeriodExtender};
use leasehold_on_target::{check, entry, pass, println};

const TIMER0: usize = 0x4000_8000;
const TASKS_START: usize = 0x000;
const TASKS_CLEAR: usize = 0x00C;
const TASKS_CAPTURE3: usize = 0x04C;
const EVENTS_COMPARE0: usize = 0x140;
const EVENTS_COMPARE1: usize = 0x144;
const INTENSET: usize = 0x304;
const MODE: usize = 0x504;
const BITMODE: usize = 0x508;
const PRESCALER: usize = 0x510;
const CC0: usize = 0x540;
const CC1: usize = 0x544;
const CC3: usize = 0x54C;
/// TIMER0's interrupt number on the nRF51.
const TIMER0_IRQ: u16 = 8;

const HZ: u32 = 16_000_000;
const BITS: u32 = 16;
const PERIOD: u64 = 1 << BITS;
const HALF: u64 = PERIOD / 2;

fn write(offset: usize, value: u32) {
    // SAFETY: TIMER0's registers on the nRF51 (QEMU microbit); only this
    // test touches the peripheral.
    unsafe { ((TIMER0 + offset) as *mut u32).write_volatile(value) }
}

fn read(offset: usize) -> u32 {
    // SAFETY: as in `write`; reads of these registers have no side effect.
    unsafe { ((TIMER0 + offset) as *const u32).read_volatile() }
}

/// TIMER0 as a 16-bit up-counter.
struct Timer0 {
    running: AtomicBool,
}

impl Counter for Timer0 {
    const BITS: u32 = BITS;
    const NAME: &'static str = "nRF51 TIMER0";

    fn frequency_hz(&self) -> NonZeroU32 {
        NonZeroU32::new(HZ).unwrap()
    }

    fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// CAPTURE copies the count into CC[3]. A context that preempts between
    /// the two steps captures too, which only makes the value later: still
    /// sampled after the extender loaded its count, and within half a
    /// period of it, which is all `HalfPeriodExtender` needs.
    fn read(&self) -> u32 {
        write(TASKS_CAPTURE3, 1);
        read(CC3)
    }
}

static CLOCK: ExtendedClock<Timer0, HalfPeriodExtender> = ExtendedClock::new(
    Timer0 {
        running: AtomicBool::new(false),
    },
    HalfPeriodExtender::new(),
    50,
);
/// Events the handler took, counted apart from the extender (only the
/// handler writes it).
static EVENTS: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy)]
struct Timer0Irq;

// SAFETY: 8 is TIMER0's interrupt number on the nRF51.
unsafe impl cortex_m::interrupt::InterruptNumber for Timer0Irq {
    fn number(self) -> u16 {
        TIMER0_IRQ
    }
}

// Without a device crate every interrupt lands in DefaultHandler; `irqn` says
// which one.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn != TIMER0_IRQ as i16 {
        panic!("unexpected interrupt {}", irqn);
    }
    // The half-range compare first: if both are pending it came first.
    if read(EVENTS_COMPARE1) != 0 {
        write(EVENTS_COMPARE1, 0);
        CLOCK.extender().on_half_period();
        EVENTS.store(EVENTS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
    if read(EVENTS_COMPARE0) != 0 {
        write(EVENTS_COMPARE0, 0);
        CLOCK.extender().on_overflow();
        EVENTS.store(EVENTS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
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
    check!(CLOCK.now() == Err(ClockError::NotStarted));
    check!(
        CLOCK.info().resolution.as_nanos() == 63,
        "62.5 ns, rounded up"
    );

    write(MODE, 0); // timer
    write(BITMODE, 0); // 16 bits
    write(PRESCALER, 0); // 16 MHz
    write(CC0, 0);
    write(CC1, HALF as u32);
    write(INTENSET, (1 << 16) | (1 << 17)); // COMPARE[0], COMPARE[1]
                                            // SAFETY: the handler above is ready for TIMER0's interrupt.
    unsafe { NVIC::unmask(Timer0Irq) };
    write(TASKS_CLEAR, 1);
    write(TASKS_START, 1);
    CLOCK.counter().running.store(true, Ordering::Release);

    let t0 = now();
    check!(ns_to_ticks(t0.as_nanos()) < HALF, "starts near 1 ns");

    // Across 60 wraps (120 events): never backwards, never a jump.
    let hz = NonZeroU32::new(HZ).unwrap();
    let max_step = ticks_to_nanos(PERIOD / 4, hz).unwrap_or(u64::MAX);
    let mut prev = t0;
    let mut reads = 0u32;
    while EVENTS.load(Ordering::Relaxed) < 120 {
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
    check!(reads > 1_000, "{} reads", reads);

    // Elapsed time agrees with the events the timer delivered.
    let events = u64::from(EVENTS.load(Ordering::Relaxed));
    check!(CLOCK.extender().half_periods() == events);
    let elapsed = ns_to_ticks(prev.as_nanos() - t0.as_nanos());
    check!(
        elapsed + HALF >= events * HALF,
        "{} ticks for {} events",
        elapsed,
        events
    );
    check!(
        elapsed <= (events + 1) * HALF,
        "{} ticks for {} events",
        elapsed,
        events
    );

    // With the interrupt masked, read through the next event (left pending)
    // and on for a quarter period: the count's parity repairs the lag.
    let mut pending_reads = 0u32;
    let window_ns = ticks_to_nanos(HALF + HALF / 2, hz).unwrap_or(u64::MAX);
    for _ in 0..6 {
        critical_section::with(|_| {
            let start = now();
            let mut prev = start;
            let before = CLOCK.extender().half_periods();
            loop {
                let t = now();
                check!(t >= prev, "backwards inside a critical section");
                check!(t.as_nanos() - prev.as_nanos() < max_step);
                prev = t;
                let c = u64::from(CLOCK.counter().read());
                let pending = read(EVENTS_COMPARE0) != 0 || read(EVENTS_COMPARE1) != 0;
                if pending {
                    pending_reads += 1;
                    check!(CLOCK.extender().half_periods() == before);
                    // A quarter period into the half after the event.
                    if c % HALF > HALF / 4 && c % HALF < HALF / 2 {
                        break;
                    }
                }
                check!(t.as_nanos() - start.as_nanos() < window_ns, "no event seen");
            }
        });
    }
    check!(
        pending_reads > 100,
        "{} reads with an event pending",
        pending_reads
    );
    let t = now();
    check!(t >= prev);
    check!(u64::from(EVENTS.load(Ordering::Relaxed)) == CLOCK.extender().half_periods());
    println!(
        "{} reads over {} events, {} with an event pending",
        reads, events, pending_reads
    );

    pass("nrf51_timer")
}
