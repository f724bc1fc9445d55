//! Lease against an interrupt handler: a timer interrupt (SysTick on
//! Cortex-M, the machine timer on RISC-V) fires every few hundred
//! instructions and invalidates the lease, reads it (and every other time
//! extends it with a fresh stamp) while the main loop stamps, extends and
//! reads in a tight loop. Built with leasehold's default features and no
//! portable-atomic mode: on thumbv7m/thumbv7em the lease used to hang here
//! unless the binary enabled `unsafe-assume-single-core` (issue 11).
//!
//! No resurrection: once a handler has invalidated, a stamp taken before it
//! never extends. Main-loop expiries are even nanoseconds, handler expiries
//! odd, so after any window in which a handler ran, the lease may be empty or
//! hold a handler's expiry, never one of the main loop's.
//!
//! Phases: just before each `extend` the main loop reads how many timer ticks
//! remain until the next interrupt. When the handler lands inside that
//! `extend`, that is its offset into the call; the test requires the handler
//! to have landed at every offset from the call's start to its end (the
//! call's length in ticks being the largest offset seen; a tick is about five
//! instructions), and at least once while the main loop held the lease's
//! write slot.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use leasehold_core::{Extension, Instant, Lease};
use leasehold_on_target::{check, entry, pass, println, ticker};

static LEASE: Lease = Lease::new();
/// The main loop's current time (ns, even), for the handler's stamps. 32
/// bits suffice here; core's AtomicU32 has load/store on every target.
static NOW: AtomicU32 = AtomicU32::new(2);
// Counters written by the handler only (load + store, no read-modify-write).
static ISR_RUNS: AtomicU32 = AtomicU32::new(0);
static ISR_ERRORS: AtomicU32 = AtomicU32::new(0);
static ISR_EXTENDED: AtomicU32 = AtomicU32::new(0);
/// The handler's invalidation was left pending: it had interrupted the main
/// loop while that held the lease's write slot.
static ISR_SAW_HOLDER: AtomicU32 = AtomicU32::new(0);

const MAIN_D: Duration = Duration::from_nanos(1_000_000); // even
const ISR_D: Duration = Duration::from_nanos(2_000_001); // odd
const ITERATIONS: u32 = 60_000;

/// Timer ticks between interrupts: prime, so the handler lands all over the
/// loop body. About 1,700 instructions on either architecture (SysTick
/// ticks at 12 MHz, mtime at 10 MHz; one instruction is 16 ns).
#[cfg(target_arch = "arm")]
const PERIOD: u32 = 331;
#[cfg(target_arch = "riscv32")]
const PERIOD: u32 = 277;

fn i(ns: u64) -> Instant {
    match Instant::from_nanos(ns) {
        Some(t) => t,
        None => panic!("zero instant"),
    }
}

fn bump(c: &AtomicU32) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

fn on_tick() {
    bump(&ISR_RUNS);
    let promised = LEASE.invalidate();
    if LEASE.generation() != promised {
        // Left to the extender that holds the slot (it applies it on release).
        bump(&ISR_SAW_HOLDER);
    }
    let now = i(u64::from(NOW.load(Ordering::Relaxed)));
    if LEASE.is_valid(now) || LEASE.expiry().is_some() {
        bump(&ISR_ERRORS);
    }
    if ISR_RUNS.load(Ordering::Relaxed).is_multiple_of(2) {
        match LEASE.extend(LEASE.stamp(now), ISR_D) {
            Extension::Extended => bump(&ISR_EXTENDED),
            // The invalidation is still pending (slot holder interrupted).
            Extension::StaleGeneration => {}
            _ => bump(&ISR_ERRORS),
        }
    }
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::exception]
fn SysTick() {
    on_tick();
}

#[cfg(target_arch = "riscv32")]
#[riscv_rt::core_interrupt(riscv::interrupt::Interrupt::MachineTimer)]
fn machine_timer() {
    ticker::rearm();
    on_tick();
}

#[entry]
fn main() -> ! {
    ticker::start(PERIOD);

    let mut t: u64 = 2;
    let (mut windows, mut stale, mut extended, mut not_longer) = (0u32, 0u32, 0u32, 0u32);
    // Bit k: the handler landed k ticks into an extend (up to 255 ticks;
    // extend takes about 50 on the M3, 100 on the M0).
    let mut offsets = [0u32; 8];
    let mut longest = 0u32;
    let mut rng: u32 = 0x2545_F491;
    for _ in 0..ITERATIONS {
        t += 2;
        NOW.store(t as u32, Ordering::Relaxed);
        // Under -icount the loop and the timer would keep a fixed phase; a
        // pseudo-random delay scatters the handler across the loop body.
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        spin(rng % 128);
        let stamp = LEASE.stamp(i(t));
        // In this order: a handler that runs between the two loads is not
        // mistaken for one inside `extend`.
        let ahead = ticker::until_next();
        let runs = ISR_RUNS.load(Ordering::Relaxed);
        let r = LEASE.extend(stamp, MAIN_D);
        if ISR_RUNS.load(Ordering::Relaxed) != runs && ahead < 256 {
            offsets[ahead as usize / 32] |= 1 << (ahead % 32);
            longest = longest.max(ahead);
        }
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
    ticker::stop();

    let runs = ISR_RUNS.load(Ordering::Relaxed);
    let phases: u32 = offsets.iter().map(|w| w.count_ones()).sum();
    let first = offsets[0].trailing_zeros();
    println!(
        "handler runs {}, raced windows {}, stale rejected {}, main extended {}, not longer {}, handler extended {}, handler saw holder {}, landed at {} distinct tick offsets into extend ({}..={})",
        runs,
        windows,
        stale,
        extended,
        not_longer,
        ISR_EXTENDED.load(Ordering::Relaxed),
        ISR_SAW_HOLDER.load(Ordering::Relaxed),
        phases,
        first,
        longest
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
    // At every offset into extend, from its start to its end. The first
    // ticks after the timer read are not inside extend yet (the handler
    // counter is loaded after the timer, and a timer that reloads on
    // reaching 0 may never read 0), so the start is offset 3 at the latest.
    check!(longest >= 4, "extend spans {} ticks", longest + 1);
    check!(longest < 255, "extend longer than the bitmap");
    check!(first <= 3, "offsets hit: {:x?}", offsets);
    check!(phases == longest + 1 - first, "offsets hit: {:x?}", offsets);
    pass("lease_isr")
}

/// Burns about `n` loop iterations (cortex_m::asm::delay is Arm only).
fn spin(n: u32) {
    for k in 0..n {
        core::hint::black_box(k);
    }
}
