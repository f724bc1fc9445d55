//! Lease against an interrupt handler: SysTick fires every few hundred
//! cycles and invalidates the lease (and every other time extends it with a
//! fresh stamp) while the main loop stamps and extends in a tight loop.
//!
//! No resurrection: once a handler has invalidated, a stamp taken before it
//! never extends. Main-loop expiries are even nanoseconds, handler expiries
//! odd, so after any window in which a handler ran, the lease may be empty or
//! hold a handler's expiry, never one of the main loop's.
#![no_std]
#![no_main]

use core::time::Duration;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use leasehold_core::{Extension, Instant, Lease};
use leasehold_on_target::{check, pass};
use portable_atomic::{AtomicU32, AtomicU64, Ordering};

static LEASE: Lease = Lease::new();
/// The main loop's current time (ns, even), for the handler's stamps.
static NOW: AtomicU64 = AtomicU64::new(2);
static ISR_RUNS: AtomicU32 = AtomicU32::new(0);
static ISR_ERRORS: AtomicU32 = AtomicU32::new(0);
static ISR_EXTENDED: AtomicU32 = AtomicU32::new(0);
/// The handler's own extension found the invalidation still pending: it had
/// interrupted the main loop while that held the lease's write slot.
static ISR_SAW_HOLDER: AtomicU32 = AtomicU32::new(0);

const MAIN_D: Duration = Duration::from_nanos(1_000_000); // even
const ISR_D: Duration = Duration::from_nanos(2_000_001); // odd
const ITERATIONS: u32 = 60_000;

fn i(ns: u64) -> Instant {
    match Instant::from_nanos(ns) {
        Some(t) => t,
        None => panic!("zero instant"),
    }
}

#[exception]
fn SysTick() {
    let n = ISR_RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    LEASE.invalidate();
    let now = i(NOW.load(Ordering::Relaxed));
    if LEASE.is_valid(now) || LEASE.expiry().is_some() {
        ISR_ERRORS.fetch_add(1, Ordering::Relaxed);
    }
    if n.is_multiple_of(2) {
        match LEASE.extend(LEASE.stamp(now), ISR_D) {
            Extension::Extended => {
                ISR_EXTENDED.fetch_add(1, Ordering::Relaxed);
            }
            Extension::StaleGeneration => {
                ISR_SAW_HOLDER.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                ISR_ERRORS.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[entry]
fn main() -> ! {
    let Some(p) = cortex_m::Peripherals::take() else {
        panic!("peripherals taken twice");
    };
    let mut syst = p.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(331); // prime, so the handler lands all over the loop body
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();

    let mut t: u64 = 2;
    let (mut windows, mut stale, mut extended, mut not_longer) = (0u32, 0u32, 0u32, 0u32);
    for _ in 0..ITERATIONS {
        t += 2;
        NOW.store(t, Ordering::Relaxed);
        // Under -icount the loop and SysTick keep a fixed phase; a varying
        // delay walks the handler across the extension's held window on
        // every core (without it, the M4 build never lands there).
        cortex_m::asm::delay((t / 2 % 97) as u32);
        let stamp = LEASE.stamp(i(t));
        let r = LEASE.extend(stamp, MAIN_D);
        let valid = LEASE.is_valid(i(t));
        // Every handler run invalidates, and from the main loop's view each
        // invalidation is applied once the handler (or the extend it
        // interrupted) returns: a newer generation means a handler ran
        // after the stamp was taken.
        if LEASE.generation() != stamp.generation() {
            // The main loop's (even) expiry from this stale stamp must not be
            // in force, now or ever (read after the generation, so after that
            // handler).
            windows += 1;
            if let Some(e) = LEASE.expiry() {
                check!(
                    e.as_nanos() % 2 == 1,
                    "resurrected: expiry {} from a stale stamp",
                    e.as_nanos()
                );
            }
            if r == Extension::StaleGeneration {
                stale += 1;
            }
        } else {
            // No handler since the stamp: the extension worked (or a
            // handler's earlier, longer extension stands) and the lease was
            // valid when checked.
            check!(
                r == Extension::Extended || r == Extension::NotLonger,
                "{:?}",
                r
            );
            check!(valid);
            if r == Extension::Extended {
                extended += 1;
            } else {
                not_longer += 1;
            }
        }
    }
    syst.disable_interrupt();
    syst.disable_counter();

    let runs = ISR_RUNS.load(Ordering::Relaxed);
    cortex_m_semihosting::hprintln!(
        "handler runs {}, raced windows {}, stale rejected {}, main extended {}, not longer {}, handler extended {}, handler saw holder {}",
        runs,
        windows,
        stale,
        extended,
        not_longer,
        ISR_EXTENDED.load(Ordering::Relaxed),
        ISR_SAW_HOLDER.load(Ordering::Relaxed)
    );
    check!(
        ISR_ERRORS.load(Ordering::Relaxed) == 0,
        "handler saw a valid lease after invalidating"
    );
    // The race was really exercised, in every direction.
    check!(runs > 1_000);
    check!(windows > 500);
    check!(stale > 100);
    check!(extended > 1_000);
    check!(ISR_EXTENDED.load(Ordering::Relaxed) > 100);
    check!(ISR_SAW_HOLDER.load(Ordering::Relaxed) > 0);
    pass("lease_isr")
}
