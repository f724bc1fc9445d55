//! Uses leasehold-core and leasehold-hal-embedded from a `#![no_std]`,
//! `#![no_main]` binary; it only has to build and link (and, without the
//! `provider` feature, fail to link).
#![no_std]
#![no_main]

use core::hint::black_box;
use core::num::NonZeroU32;
use core::time::Duration;

#[cfg(all(feature = "provider", target_arch = "arm"))]
use cortex_m as _; // the critical-section provider
use leasehold_core::{plan_read, Clock, Instant, Lease, QuorumTracker};
use leasehold_hal_embedded::{Counter, ExtendedClock, HalfPeriodExtender};
#[cfg(all(feature = "provider", target_arch = "riscv32"))]
use riscv as _; // the critical-section provider

struct Fake;

impl Counter for Fake {
    const BITS: u32 = 16;
    fn frequency_hz(&self) -> NonZeroU32 {
        NonZeroU32::MIN
    }
    fn is_running(&self) -> bool {
        black_box(true)
    }
    fn read(&self) -> u32 {
        black_box(7)
    }
}

static LEASE: Lease = Lease::new();
static CLOCK: ExtendedClock<Fake, HalfPeriodExtender> =
    ExtendedClock::new(Fake, HalfPeriodExtender::new(), 20);

#[cfg(target_arch = "arm")]
static SYSTICK: leasehold_hal_embedded::SysTickClock =
    leasehold_hal_embedded::SysTickClock::systick(NonZeroU32::MIN, 20);

/// The entry point the linker looks for; nothing runs it.
#[no_mangle]
pub extern "C" fn _start() -> ! {
    CLOCK.extender().on_half_period();
    if let Ok(now) = CLOCK.now() {
        let stamp = LEASE.stamp(now);
        let _ = black_box(LEASE.extend(stamp, Duration::from_millis(1)));
        let _ = black_box(plan_read(&LEASE, Ok(now)));
        let mut tracker: QuorumTracker<5> = QuorumTracker::new(1);
        black_box(tracker.set_membership(&[1, 2, 3], &[]).ok());
        black_box(tracker.record_ack(2, stamp).ok());
    }
    #[cfg(target_arch = "arm")]
    black_box(SYSTICK.now().ok());
    black_box(Instant::from_nanos(black_box(1)));
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
