//! SysTick as a [`WrapPending`] counter (feature `cortex-m`).

use core::num::NonZeroU32;

use core::sync::atomic::{AtomicBool, Ordering};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};

use crate::clock::ExtendedClock;
use crate::counter::{mask, Counter, WrapPending};
use crate::wrap::WrapExtender;

/// The Cortex-M SysTick timer, free-running over `BITS` bits (24 by default,
/// its full width; fewer makes it wrap sooner, which tests use).
///
/// SysTick counts **down** from its reload value `2^BITS - 1` to 0 at the core
/// clock, reloads, and on reaching 0 sets COUNTFLAG and pends the SysTick
/// exception. [`read`](Counter::read) turns it into an up-counter,
/// `2^BITS - 1 - CVR`, which wraps from `2^BITS - 1` to 0 when CVR reloads.
/// The exception is pended when CVR reaches 0, one tick before that wrap;
/// [`WrapExtender`] tells the two apart by the half the counter is in, so the
/// early flag is not counted twice. The handler must not run `on_wrap` while
/// CVR still reads 0 (the count would then be a period ahead for that tick):
/// [`start`](SysTick::start) selects the core clock, and exception entry alone
/// takes more than one core cycle (12 on Cortex-M3/M4, 16 on M0), so the
/// counter has always reloaded by then; a slow external reference clock would
/// break that. COUNTFLAG is not used (reading it clears
/// it, so it cannot be shared); the pending bit is `ICSR.PENDSTSET`, which the
/// hardware clears on exception entry and reads leave alone.
///
/// Use it through [`SysTickClock`]. The SysTick exception handler must call
/// [`WrapExtender::on_wrap`] first:
///
/// ```ignore
/// use core::num::NonZeroU32;
/// use cortex_m_rt::exception;
/// use leasehold_core::Clock;
/// use leasehold_hal_embedded::SysTickClock;
///
/// // 12 MHz core clock, crystal within 50 ppm.
/// static CLOCK: SysTickClock = SysTickClock::systick(NonZeroU32::new(12_000_000).unwrap(), 50);
///
/// #[exception]
/// fn SysTick() {
///     CLOCK.on_wrap();
/// }
///
/// fn main_loop(syst: cortex_m::peripheral::SYST) {
///     assert!(CLOCK.now().is_err()); // NotStarted
///     CLOCK.start(syst);
///     let t = CLOCK.now().unwrap();
/// }
/// ```
///
/// Keep the SysTick exception's priority at least as high as that of every
/// context calling `now()` (the reset priority 0 is the highest), see
/// [`WrapExtender`]. The counter does not run in sleep modes that stop the
/// core clock, so [`ClockInfo::counts_suspend`](leasehold_core::ClockInfo::counts_suspend)
/// is `None`.
#[derive(Debug)]
pub struct SysTick<const BITS: u32 = 24> {
    hz: NonZeroU32,
    started: AtomicBool,
}

impl<const BITS: u32> SysTick<BITS> {
    /// SysTick clocked by the core clock at `core_hz`; not started yet.
    pub const fn new(core_hz: NonZeroU32) -> SysTick<BITS> {
        SysTick {
            hz: core_hz,
            started: AtomicBool::new(false),
        }
    }

    /// Takes SysTick over (owning `SYST`, so no safe code can reconfigure it
    /// later): reload `2^BITS - 1`, core clock, exception enabled, counting.
    /// Until the counter has reloaded once after the start (one core clock
    /// cycle), [`is_running`](Counter::is_running) stays false.
    pub fn start(&self, mut syst: SYST) {
        const { assert!(BITS >= 2 && BITS <= 24, "SysTick is at most 24 bits wide") };
        syst.disable_counter();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(mask(BITS) as u32);
        // Clears CVR to 0 (without pending the exception); the next tick
        // reloads it. Until then the up-count would read 2^BITS - 1 and then
        // jump back to 0, so `started` is set only after the reload.
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        for _ in 0..1_000 {
            if SYST::get_current() != 0 {
                self.started.store(true, Ordering::Release);
                return;
            }
        }
    }
}

impl<const BITS: u32> Counter for SysTick<BITS> {
    const BITS: u32 = BITS;
    const NAME: &'static str = "SysTick";

    fn frequency_hz(&self) -> NonZeroU32 {
        self.hz
    }

    fn is_running(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    fn read(&self) -> u32 {
        let max = mask(BITS) as u32;
        max - (SYST::get_current() & max)
    }
}

impl<const BITS: u32> WrapPending for SysTick<BITS> {
    fn wrap_pending(&self) -> bool {
        SCB::is_pendst_pending()
    }
}

#[cfg(feature = "defmt")]
impl<const BITS: u32> defmt::Format for SysTick<BITS> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "SysTick {{ bits: {=u32}, hz: {=u32}, running: {=bool} }}",
            BITS,
            self.hz.get(),
            self.is_running()
        )
    }
}

/// A [`Clock`](leasehold_core::Clock) on SysTick: [`SysTick`] extended by a
/// [`WrapExtender`].
pub type SysTickClock<const BITS: u32 = 24> = ExtendedClock<SysTick<BITS>, WrapExtender>;

impl<const BITS: u32> ExtendedClock<SysTick<BITS>, WrapExtender> {
    /// A SysTick clock at `core_hz` with a crystal within `max_drift_ppm`;
    /// call [`start`](Self::start) to run it.
    pub const fn systick(core_hz: NonZeroU32, max_drift_ppm: u32) -> Self {
        ExtendedClock::new(SysTick::new(core_hz), WrapExtender::new(), max_drift_ppm)
    }

    /// Starts SysTick; see [`SysTick::start`].
    pub fn start(&self, syst: SYST) {
        self.counter().start(syst)
    }

    /// Call first thing from `#[exception] fn SysTick()`.
    #[inline]
    pub fn on_wrap(&self) {
        self.extender().on_wrap()
    }
}
