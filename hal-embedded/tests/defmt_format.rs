//! With the `defmt` feature (`cargo test -p leasehold-hal-embedded --features
//! defmt`, also with `embassy`): the crate's `defmt::Format` impls run on the
//! host through a test-only global logger that keeps each thread's bytes;
//! each type's output follows its state.
#![cfg(feature = "defmt")]

use core::cell::RefCell;
use core::num::NonZeroU32;
use core::sync::atomic::{AtomicBool, Ordering};

use leasehold_hal_embedded::{
    Counter, ExtendedClock, HalfPeriodExtender, MtimeClock, WrapExtender, QEMU_VIRT_MTIME_HZ,
};

std::thread_local! {
    static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// defmt's global logger for this test binary: each thread writes to its
/// own buffer, so no locking and no interleaving.
#[defmt::global_logger]
struct Capture;

// SAFETY: `write` only touches the calling thread's buffer; the rest is empty.
unsafe impl defmt::Logger for Capture {
    fn acquire() {}
    unsafe fn flush() {}
    unsafe fn release() {}
    unsafe fn write(bytes: &[u8]) {
        OUT.with(|o| o.borrow_mut().extend_from_slice(bytes));
    }
}

// On the target, defmt.x provides a default; on the host there is none.
defmt::timestamp!("");

fn logged<T: defmt::Format>(value: &T) -> Vec<u8> {
    OUT.with(|o| o.borrow_mut().clear());
    defmt::println!("{}", value);
    OUT.with(|o| o.borrow().clone())
}

struct Fake(AtomicBool);

impl Counter for Fake {
    const BITS: u32 = 16;
    fn frequency_hz(&self) -> NonZeroU32 {
        NonZeroU32::new(32_768).unwrap()
    }
    fn is_running(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    fn read(&self) -> u32 {
        7
    }
}

#[test]
fn formats_follow_the_state() {
    let half = HalfPeriodExtender::new();
    let before = logged(&half);
    assert!(!before.is_empty());
    half.on_half_period();
    assert_ne!(logged(&half), before, "count not shown");

    let wrap = WrapExtender::new();
    let before = logged(&wrap);
    wrap.on_wrap();
    assert_ne!(logged(&wrap), before, "count not shown");

    let clock = ExtendedClock::new(Fake(AtomicBool::new(false)), HalfPeriodExtender::new(), 20);
    let stopped = logged(&clock);
    clock.counter().0.store(true, Ordering::Relaxed);
    assert_ne!(logged(&clock), stopped, "running not shown");

    #[repr(C, align(8))]
    struct Regs([u32; 2]);
    static REGS: Regs = Regs([0, 0]);
    let addr = REGS.0.as_ptr() as usize;
    // SAFETY: an aligned, immutable u32 pair that lives forever.
    let (a, b) = unsafe {
        (
            MtimeClock::new(addr, QEMU_VIRT_MTIME_HZ, 50),
            MtimeClock::new(addr, QEMU_VIRT_MTIME_HZ, 60),
        )
    };
    assert_ne!(logged(&a), logged(&b), "drift bound not shown");

    #[cfg(feature = "embassy")]
    {
        extern crate embassy_time; // links its mock time driver
        let c = leasehold_hal_embedded::EmbassyClock::new(20);
        let before = logged(&c);
        c.start();
        assert_ne!(logged(&c), before, "started not shown");
    }
}
