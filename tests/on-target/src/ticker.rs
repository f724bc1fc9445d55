//! A periodic interrupt for the interrupt tests, on each architecture's own
//! timer: SysTick on Cortex-M (its handler is `#[exception] fn SysTick()`),
//! the CLINT's `mtimecmp` on RISC-V (`#[core_interrupt(MachineTimer)]`, which
//! calls [`rearm`] first). Under `-icount` both count instructions, so a
//! period is a fixed number of instructions and runs are deterministic.
//!
//! [`until_next`] is how many timer ticks remain before the next interrupt:
//! the tests read it just before an operation to know at which offset into
//! that operation the handler landed. [`stopwatch`] is a free-running tick
//! count for timing loops (on Cortex-M it needs SysTick to itself, so it is
//! not used while the periodic interrupt runs).

#[cfg(target_arch = "arm")]
mod imp {
    use cortex_m::peripheral::syst::SystClkSource;
    use cortex_m::peripheral::SYST;

    /// Fires every `period` SysTick ticks (12 MHz on QEMU's boards).
    pub fn start(period: u32) {
        // SAFETY: the tests own SysTick; only this module configures it.
        let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(period - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
    }

    pub fn stop() {
        // SAFETY: as in `start`.
        let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
        syst.disable_interrupt();
        syst.disable_counter();
    }

    /// SysTick reloads by itself.
    pub fn rearm() {}

    pub fn until_next() -> u32 {
        SYST::get_current()
    }

    /// SysTick ticks since it pended the interrupt (what the handler reads
    /// first to measure its entry latency): it pends on reaching 0, and
    /// reloads one tick later.
    pub fn since_fired() -> u32 {
        match SYST::get_current() {
            0 => 0,
            c => SYST::get_reload() - c + 1,
        }
    }

    /// Runs SysTick free (24 bits, no interrupt) for [`stopwatch`].
    pub fn start_stopwatch() {
        // SAFETY: as in `start`.
        let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.disable_interrupt();
        syst.enable_counter();
    }

    /// A tick count that increases (modulo 2^24) while the stopwatch runs.
    pub fn stopwatch() -> u32 {
        0x00FF_FFFF - SYST::get_current()
    }

    /// Ticks from stopwatch reading `a` to `b` (spans under 2^24 ticks).
    pub fn ticks_between(a: u32, b: u32) -> u32 {
        b.wrapping_sub(a) & 0x00FF_FFFF
    }
}

#[cfg(target_arch = "riscv32")]
mod imp {
    use core::sync::atomic::{AtomicU32, Ordering};

    const MTIME_LO: *const u32 = 0x0200_BFF8 as *const u32;
    const MTIMECMP_LO: *mut u32 = 0x0200_4000 as *mut u32;
    const MTIMECMP_HI: *mut u32 = 0x0200_4004 as *mut u32;

    static PERIOD: AtomicU32 = AtomicU32::new(0);
    /// The low half of the current deadline (the test runs far from a carry
    /// of the high half: mtime starts at 0 and the test takes well under
    /// 2^32 ticks).
    static DEADLINE: AtomicU32 = AtomicU32::new(0);

    fn mtime_lo() -> u32 {
        // SAFETY: QEMU virt's CLINT mtime; reads have no side effect.
        unsafe { MTIME_LO.read_volatile() }
    }

    fn set_deadline(lo: u32) {
        DEADLINE.store(lo, Ordering::Relaxed);
        // SAFETY: QEMU virt's CLINT mtimecmp of hart 0, which only this
        // module writes. High half first to all ones so that no value
        // between the two stores is in the past.
        unsafe {
            MTIMECMP_HI.write_volatile(u32::MAX);
            MTIMECMP_LO.write_volatile(lo);
            MTIMECMP_HI.write_volatile(0);
        }
    }

    /// Fires every `period` mtime ticks (10 MHz on QEMU's virt machine).
    pub fn start(period: u32) {
        PERIOD.store(period, Ordering::Relaxed);
        set_deadline(mtime_lo().wrapping_add(period));
        // SAFETY: the tests are written for interrupts from here on.
        unsafe {
            riscv::register::mie::set_mtimer();
            riscv::interrupt::enable();
        }
    }

    pub fn stop() {
        // SAFETY: masking the timer interrupt cannot break any invariant.
        unsafe { riscv::register::mie::clear_mtimer() };
    }

    /// Moves the deadline one period on (which also clears the pending
    /// interrupt); call first thing in the handler.
    pub fn rearm() {
        let next = DEADLINE
            .load(Ordering::Relaxed)
            .wrapping_add(PERIOD.load(Ordering::Relaxed));
        set_deadline(next);
    }

    pub fn until_next() -> u32 {
        DEADLINE.load(Ordering::Relaxed).wrapping_sub(mtime_lo())
    }

    /// mtime ticks since the deadline that fired (call before `rearm`).
    pub fn since_fired() -> u32 {
        mtime_lo().wrapping_sub(DEADLINE.load(Ordering::Relaxed))
    }

    /// mtime always runs.
    pub fn start_stopwatch() {}

    /// mtime's low half.
    pub fn stopwatch() -> u32 {
        mtime_lo()
    }

    /// Ticks from stopwatch reading `a` to `b`.
    pub fn ticks_between(a: u32, b: u32) -> u32 {
        b.wrapping_sub(a)
    }
}

pub use imp::{
    rearm, since_fired, start, start_stopwatch, stop, stopwatch, ticks_between, until_next,
};
