//! What the interrupt-safe lease costs on this core, measured under
//! `-icount` (the timer counts instructions: one instruction is 16 ns of
//! virtual time; SysTick ticks at 12 MHz, mtime at 10 MHz), each as a ratio
//! to a baseline measured in the same run:
//!
//! * the read path, `Lease::is_valid`, against a plain 64-bit load (two
//!   32-bit loads) and compare;
//! * `Lease::extend` and `Lease::invalidate` against a plain 64-bit store;
//! * the latency a critical section adds to an interrupt: the handler's
//!   entry latency (ticks since its timer fired), worst case over 2,000
//!   interrupts, while the main loop runs lease writers back to back,
//!   against the same while it runs plain loads and stores; and with lease
//!   readers, which must add none (they take no critical section).
//!
//! `docs/benchmarks.md` quotes the output.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use leasehold_core::{Extension, Instant, Lease};
use leasehold_on_target::{check, entry, pass, println, ticker};

static LEASE: Lease = Lease::new();
/// The baseline's 64-bit word, as the two halves a 32-bit core loads.
static PLAIN: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];

const N: u32 = 4_096;
const INTERRUPTS: u32 = 2_000;
#[cfg(target_arch = "arm")]
const PERIOD: u32 = 331;
#[cfg(target_arch = "riscv32")]
const PERIOD: u32 = 277;
/// Instructions per timer tick at -icount shift=4 (16 ns per instruction).
#[cfg(target_arch = "arm")]
const INSNS_PER_TICK_X100: u32 = 521; // 83.3 ns / 16 ns
#[cfg(target_arch = "riscv32")]
const INSNS_PER_TICK_X100: u32 = 625; // 100 ns / 16 ns

// Written by the handler only.
static RUNS: AtomicU32 = AtomicU32::new(0);
static WORST: AtomicU32 = AtomicU32::new(0);

fn on_tick() {
    let latency = ticker::since_fired();
    if latency > WORST.load(Ordering::Relaxed) {
        WORST.store(latency, Ordering::Relaxed);
    }
    RUNS.store(RUNS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::exception]
fn SysTick() {
    on_tick();
}

#[cfg(target_arch = "riscv32")]
#[riscv_rt::core_interrupt(riscv::interrupt::Interrupt::MachineTimer)]
fn machine_timer() {
    on_tick();
    ticker::rearm();
}

fn i(ns: u64) -> Instant {
    match Instant::from_nanos(ns) {
        Some(t) => t,
        None => panic!("zero instant"),
    }
}

fn plain_load() -> u64 {
    u64::from(PLAIN[1].load(Ordering::Relaxed)) << 32 | u64::from(PLAIN[0].load(Ordering::Relaxed))
}

fn plain_store(v: u64) {
    PLAIN[0].store(v as u32, Ordering::Relaxed);
    PLAIN[1].store((v >> 32) as u32, Ordering::Relaxed);
}

/// Ticks `f` takes for `N` calls.
fn time(mut f: impl FnMut(u32)) -> u32 {
    let start = ticker::stopwatch();
    for k in 0..N {
        f(black_box(k));
    }
    ticker::ticks_between(start, ticker::stopwatch())
}

/// Worst handler entry latency (ticks) while `f` runs in a loop.
fn worst_latency(mut f: impl FnMut(u32)) -> u32 {
    WORST.store(0, Ordering::Relaxed);
    RUNS.store(0, Ordering::Relaxed);
    ticker::start(PERIOD);
    let mut k = 0u32;
    let mut rng: u32 = 0x2545_F491;
    while RUNS.load(Ordering::Relaxed) < INTERRUPTS {
        f(black_box(k));
        k = k.wrapping_add(1);
        // Under -icount the loop would keep a fixed phase to the timer; a
        // pseudo-random delay lets interrupts land everywhere in `f`.
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        for j in 0..rng % 16 {
            black_box(j);
        }
    }
    ticker::stop();
    WORST.load(Ordering::Relaxed)
}

/// `a / b` with two decimals, as text-free integer hundredths.
fn ratio_x100(a: u32, b: u32) -> u32 {
    (u64::from(a) * 100 / u64::from(b.max(1))) as u32
}

fn insns_x100(ticks: u32, calls: u32) -> u32 {
    (u64::from(ticks) * u64::from(INSNS_PER_TICK_X100) / u64::from(calls)) as u32
}

fn show(what: &str, ticks: u32, base: u32) {
    let r = ratio_x100(ticks, base);
    let ins = insns_x100(ticks, N);
    println!(
        "{}: {}.{:02}x the baseline ({} ticks for {} calls, ~{}.{:02} instructions each)",
        what,
        r / 100,
        r % 100,
        ticks,
        N,
        ins / 100,
        ins % 100
    );
}

#[entry]
fn main() -> ! {
    let now = i(1_000);
    check!(LEASE.extend(LEASE.stamp(now), Duration::from_secs(1)) == Extension::Extended);
    plain_store(1_000_000_000);

    ticker::start_stopwatch();
    // Each loop is measured once more after a first run so that both are
    // timed in the same state; only the second counts.
    let mut base_read = 0;
    let mut read = 0;
    for _ in 0..2 {
        base_read = time(|_| {
            black_box(black_box(now.as_nanos()) < plain_load());
        });
        read = time(|_| {
            black_box(LEASE.is_valid(black_box(now)));
        });
    }
    let base_write = time(|k| plain_store(u64::from(k) + 2));
    let mut g = LEASE.generation();
    let mut t = 2_000u64;
    let extend = time(|_| {
        t += 1;
        let _ =
            black_box(LEASE.extend(leasehold_core::Stamp::new(i(t), g), Duration::from_secs(1)));
    });
    let invalidate = time(|_| {
        g = black_box(LEASE.invalidate());
    });
    check!(LEASE.generation() == g);
    show(
        "read path (is_valid) vs plain 64-bit load and compare",
        read,
        base_read,
    );
    show("extend vs plain 64-bit store", extend, base_write);
    show("invalidate vs plain 64-bit store", invalidate, base_write);

    // Interrupt latency. Baseline: plain loads and stores (no critical
    // section anywhere).
    let base_lat = worst_latency(|k| {
        plain_store(u64::from(k));
        black_box(plain_load());
    });
    let readers_lat = worst_latency(|k| {
        black_box(LEASE.is_valid(i(u64::from(k) + 1)));
        black_box(LEASE.expiry());
    });
    let mut t = 1u64 << 40;
    let writers_lat = worst_latency(|_| {
        t += 1;
        let _ = LEASE.extend(LEASE.stamp(i(t)), Duration::from_secs(1));
        LEASE.invalidate();
    });
    let added = writers_lat.saturating_sub(base_lat);
    let r = ratio_x100(writers_lat.max(1), base_lat.max(1));
    // One is_valid call takes read / N ticks.
    let per_read = ratio_x100(added * N, read);
    println!(
        "worst interrupt entry latency (ticks): baseline {}, lease readers {}, lease writers {} ({}.{:02}x the baseline; the critical section adds {} ticks, ~{} instructions, {}.{:02}x one is_valid call)",
        base_lat,
        readers_lat,
        writers_lat,
        r / 100,
        r % 100,
        added,
        insns_x100(added, 1) / 100,
        per_read / 100,
        per_read % 100
    );

    // Readers take no critical section: they delay no interrupt.
    check!(
        readers_lat <= base_lat + 1,
        "readers added latency: {} vs {}",
        readers_lat,
        base_lat
    );
    // Writers' critical sections are short (a few dozen instructions).
    check!(added <= 20, "critical sections add {} ticks", added);
    check!(read > 0 && base_read > 0 && extend > 0);
    pass("cost")
}
