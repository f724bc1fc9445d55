//! A [`Clock`] over embassy-time's time driver (feature `embassy`).

use core::num::NonZeroU64;
use core::sync::atomic::{AtomicBool, Ordering};

use embassy_time_driver::TICK_HZ;
use leasehold_core::{Clock, ClockError, ClockInfo, Instant};

use crate::convert::{resolution_u64, ticks_to_nanos_u64};

/// `TICK_HZ`, which embassy-time-driver's `tick-hz-*` features set (1 MHz by
/// default); every one of them is positive, which this checks at compile time.
const HZ: NonZeroU64 = match NonZeroU64::new(TICK_HZ) {
    Some(hz) => hz,
    None => panic!("embassy-time-driver's TICK_HZ is zero"),
};

/// The time of the embassy time driver linked into the binary
/// (`embassy_time_driver::now()`, the clock `embassy_time::Instant::now()`
/// reads), as leasehold [`Instant`]s: `1 ns + floor(ticks * 10^9 / TICK_HZ)`,
/// exact for every tick count and never zero.
///
/// # Started
///
/// Until [`start`](Self::start) is called, `now()` is
/// [`ClockError::NotStarted`]. Embassy HALs start their time driver in their
/// `init()`; before that the driver reads a timer that is not counting, whose
/// constant value would make every lease look fresh forever. Call `start()`
/// after the HAL's `init()` returns.
///
/// # Interrupts
///
/// The driver's `now()` is whatever the linked driver does (embassy's
/// drivers take no lock to read; the mock driver takes a critical section).
/// This type adds one atomic load.
///
/// ```
/// # extern crate embassy_time; // links its mock driver (a dev-dependency)
/// use leasehold_core::{Clock, ClockError};
/// use leasehold_hal_embedded::EmbassyClock;
///
/// // A 32.768 kHz RTC within 20 ppm.
/// static CLOCK: EmbassyClock = EmbassyClock::new(20);
/// assert_eq!(CLOCK.now(), Err(ClockError::NotStarted));
/// // ... embassy_nrf::init(..) ...
/// # fn _started() {
/// CLOCK.start();
/// let t = CLOCK.now();
/// # }
/// ```
#[derive(Debug)]
pub struct EmbassyClock {
    started: AtomicBool,
    max_drift_ppm: u32,
}

impl EmbassyClock {
    /// A clock over the time driver, whose oscillator is within
    /// `max_drift_ppm` parts per million of `TICK_HZ`; not started.
    pub const fn new(max_drift_ppm: u32) -> EmbassyClock {
        EmbassyClock {
            started: AtomicBool::new(false),
            max_drift_ppm,
        }
    }

    /// Declares the time driver running (call after the HAL's `init()`).
    pub fn start(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// Whether [`start`](Self::start) was called.
    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// The driver's tick rate, `embassy_time_driver::TICK_HZ`.
    pub const fn tick_hz() -> NonZeroU64 {
        HZ
    }
}

impl Clock for EmbassyClock {
    fn now(&self) -> Result<Instant, ClockError> {
        if !self.is_started() {
            return Err(ClockError::NotStarted);
        }
        let ticks = embassy_time_driver::now();
        ticks_to_nanos_u64(ticks, HZ)
            .and_then(|ns| ns.checked_add(1))
            .and_then(Instant::from_nanos)
            .ok_or(ClockError::OutOfRange)
    }

    fn info(&self) -> ClockInfo {
        ClockInfo {
            name: "embassy-time-driver",
            resolution: resolution_u64(HZ),
            max_drift_ppm: self.max_drift_ppm,
            counts_suspend: None,
            slewed: Some(false),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for EmbassyClock {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "EmbassyClock {{ tick_hz: {=u64}, started: {=bool}, max_drift_ppm: {=u32} }}",
            TICK_HZ,
            self.is_started(),
            self.max_drift_ppm
        )
    }
}
