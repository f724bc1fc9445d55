//! Linux clocks for leasehold leader leases.
//!
//! Two [`Clock`](leasehold_core::Clock) implementations over `clock_gettime`:
//!
//! | clock | NTP slew | counts suspend | cost |
//! |---|---|---|---|
//! | [`RawClock`]: `CLOCK_MONOTONIC_RAW` | no | **no** | one vDSO read |
//! | [`SuspendAwareClock`]: RAW + (BOOTTIME − MONOTONIC) | no | yes | three vDSO reads |
//!
//! `CLOCK_MONOTONIC` (what `std::time::Instant` uses) is slewed by NTP, and
//! both it and `CLOCK_MONOTONIC_RAW` stop while the machine is suspended, so a
//! leader resumed after a long suspend would think its lease still fresh.
//! [`SuspendAwareClock`] is neither slewed nor blind to suspend, and is the
//! one to use unless the machine never suspends.
//!
//! Every read that fails is an `Err` ([`ClockError::Os`] with the errno, or
//! [`ClockError::OutOfRange`] for a reading that is zero, negative or beyond
//! `u64::MAX` nanoseconds), never a made-up instant; nothing in the public
//! API panics. Instants are process-local: never persist one or send one to
//! another node.
//!
//! ```
//! use core::time::Duration;
//! use leasehold_core::Clock;
//! use leasehold_hal_linux::SuspendAwareClock;
//!
//! let clock = SuspendAwareClock::new()?;
//! let start = clock.now()?;
//! let expiry = start.checked_add(Duration::from_millis(500)).expect("no overflow this early");
//! assert!(clock.now()? < expiry);
//! println!("{:?}", clock.info());
//! # Ok::<(), leasehold_core::ClockError>(())
//! ```
//!
//! On other operating systems the crate compiles to just the
//! platform-independent [`combine`] arithmetic and [`MAX_DRIFT_PPM`].
//!
//! [`ClockError::Os`]: leasehold_core::ClockError::Os
//! [`ClockError::OutOfRange`]: leasehold_core::ClockError::OutOfRange
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod combine;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod raw;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod suspend_aware;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub use raw::RawClock;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use suspend_aware::SuspendAwareClock;

/// The rate error, in parts per million, assumed for `CLOCK_MONOTONIC_RAW`
/// and hence for both clocks of this crate: 500.
///
/// It is an assumption about healthy hardware, not a kernel guarantee. The
/// basis: NTP disciplines `CLOCK_MONOTONIC` by adjusting its frequency
/// relative to the raw clocksource, and the kernel clamps that frequency
/// correction to ±`MAXFREQ` = 500 ppm (500 µs/s, `include/uapi/linux/timex.h`;
/// `adjtime()`-style phase slewing is limited to the same rate). A raw
/// oscillator, as calibrated by the kernel, that is more than 500 ppm off
/// real time cannot be kept synchronised by that correction, and `ntpd`
/// gives up on it; typical crystals are within tens of ppm. A raw clock
/// further off is possible (a bad calibration, or a host that `chronyd` keeps
/// in sync by also changing the kernel tick length, which `ADJ_TICK` allows by
/// up to ±10 %), and then this figure is wrong. The `clock-report` example
/// measures RAW against NTP-disciplined `CLOCK_MONOTONIC`, which shows the
/// actual error on a synchronised host.
pub const MAX_DRIFT_PPM: u32 = 500;
