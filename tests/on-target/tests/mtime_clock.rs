//! `MtimeClock` on QEMU's RISC-V virt machine (CLINT mtime, 10 MHz): exact
//! conversion of the register's value, monotonic readings, a lease timed by
//! it, and a carry of the low half (mtime set to just below 2^32) read
//! through without a jump of 2^32 ticks either way.
//!
//! Run: `cargo test --target riscv32imac-unknown-none-elf --features clint --test mtime_clock`.
#![no_std]
#![no_main]

use core::time::Duration;

use leasehold_core::{Clock, Extension, Instant, Lease};
use leasehold_hal_embedded::{MtimeClock, QEMU_VIRT_MTIME, QEMU_VIRT_MTIME_HZ};
use leasehold_on_target::{check, entry, pass, println};

// SAFETY: QEMU's virt machine has the CLINT's mtime at this address.
static CLOCK: MtimeClock = unsafe { MtimeClock::new(QEMU_VIRT_MTIME, QEMU_VIRT_MTIME_HZ, 50) };

fn now() -> Instant {
    match CLOCK.now() {
        Ok(t) => t,
        Err(e) => panic!("clock read failed: {:?}", e),
    }
}

/// Sets mtime (the test only ever moves it forward).
fn set_mtime(ticks: u64) {
    let lo = QEMU_VIRT_MTIME as *mut u32;
    let hi = (QEMU_VIRT_MTIME + 4) as *mut u32;
    // SAFETY: QEMU virt's mtime, writable in M-mode. Low half to 0 first so
    // that no intermediate value carries.
    unsafe {
        lo.write_volatile(0);
        hi.write_volatile((ticks >> 32) as u32);
        lo.write_volatile(ticks as u32);
    }
}

#[entry]
fn main() -> ! {
    let info = CLOCK.info();
    check!(info.resolution.as_nanos() == 100 && info.name == "mtime");

    // Exact: 1 ns + 100 ns per tick, bracketed by raw reads.
    for _ in 0..100 {
        let before = CLOCK.ticks();
        let t = now().as_nanos();
        let after = CLOCK.ticks();
        check!(
            before * 100 < t && t <= after * 100 + 1,
            "{} not in [{}, {}] ticks",
            t,
            before,
            after
        );
    }

    // Monotonic over many reads, and a lease that expires on time.
    let lease = Lease::new();
    let start = now();
    check!(lease.extend(lease.stamp(start), Duration::from_millis(1)) == Extension::Extended);
    let mut prev = start;
    let mut valid_reads = 0u32;
    loop {
        let t = now();
        check!(t >= prev, "backwards");
        check!(t.as_nanos() - prev.as_nanos() < 1_000_000, "jumped");
        prev = t;
        let elapsed = t.as_nanos() - start.as_nanos();
        if elapsed < 1_000_000 {
            check!(lease.is_valid(t));
            valid_reads += 1;
        } else {
            check!(
                !lease.is_valid(t),
                "valid {} ns after a 1 ms extension",
                elapsed
            );
            break;
        }
    }
    check!(valid_reads > 100);

    // Across a carry of the low half: no 2^32-tick jump back (the high half
    // read before the carry with a low half from after it) or forward.
    let carry: u64 = 1 << 32;
    set_mtime(carry - 20_000);
    let mut prev = CLOCK.ticks();
    check!(prev < carry);
    let mut reads = 0u32;
    while prev < carry + 20_000 {
        let t = CLOCK.ticks();
        check!(
            t >= prev,
            "backwards across the carry: {:#x} after {:#x}",
            t,
            prev
        );
        check!(
            t - prev < 1_000,
            "jumped across the carry: {:#x} after {:#x}",
            t,
            prev
        );
        prev = t;
        reads += 1;
    }
    check!(reads > 1_000);
    let t = now().as_nanos();
    check!(
        t > (carry + 20_000) * 100,
        "Instant follows the 64-bit count"
    );
    println!("{} reads across the carry", reads);

    pass("mtime_clock")
}
