//! `leasehold-hal-darwin`: a leasehold clock for macOS, iOS and the other
//! Apple operating systems.
//!
//! `RawClock` reads `CLOCK_MONOTONIC_RAW`. Apple's `clock_gettime(3)`
//! describes it as a clock that "increments monotonically ... like
//! `CLOCK_MONOTONIC`", which "will continue to increment while the system is
//! asleep", and that "is unaffected by frequency or time adjustments". That is
//! the clock a lease wants: a machine that sleeps for an hour sees an hour go
//! by, and NTP cannot make it run slow. (std's `Instant` reads
//! `CLOCK_UPTIME_RAW` on Apple targets, which stops during sleep; see
//! `leasehold-hal-fallback`.)
//!
//! `RawClock` exists only on Apple targets (`cfg(target_vendor = "apple")`).
//! On every other target this crate compiles to nothing, so a workspace that
//! contains it still builds, tests and lints anywhere; read this
//! documentation built for an Apple target (`cargo doc --target
//! aarch64-apple-darwin`) to see the type.
//!
//! ```
//! # #[cfg(target_vendor = "apple")]
//! # fn main() -> Result<(), leasehold_core::ClockError> {
//! use leasehold_core::Clock;
//! use leasehold_hal_darwin::RawClock;
//!
//! let clock = RawClock::new()?; // fails at start-up if the clock does not work
//! let start = clock.now()?;
//! let later = clock.now()?;
//! assert!(later >= start);
//! println!("{:?}", clock.info());
//! # Ok(())
//! # }
//! # #[cfg(not(target_vendor = "apple"))]
//! # fn main() {}
//! ```
//!
//! # How the clock is read
//!
//! Through `libc::clock_gettime(libc::CLOCK_MONOTONIC_RAW, ..)`. In Apple's
//! Libc (`gen/clock_gettime.c`) that calls
//! `clock_gettime_nsec_np(CLOCK_MONOTONIC_RAW)`, which is
//! `mach_continuous_time() * numer / denom` with the `mach_timebase_info`
//! ratio, and splits the nanoseconds into a `timespec`, which this crate joins
//! again with checked arithmetic. Calling `clock_gettime_nsec_np` or
//! `mach_continuous_time` directly would save that split, but the `libc` crate
//! (0.2.191) declares neither, and marks `mach_timebase_info` deprecated; the
//! crate would need hand-written `extern` declarations and its own timebase
//! conversion. `clock_gettime`, `clock_getres`, `CLOCK_MONOTONIC_RAW` and
//! `__error` are all declared by `libc` for every Apple target, and failure is
//! reported out of band (-1) rather than as an in-band 0.
//!
//! Failures are errors, never instants (invariant 1): -1 becomes
//! [`ClockError::Os`] with `errno`. Apple's implementation also returns -1
//! without setting `errno` when the computed value is 0 or the timebase cannot
//! be read, so `errno` is cleared before each call and a failure that leaves
//! it at 0 becomes [`ClockError::OutOfRange`]. A zero, negative or malformed
//! `timespec` is `OutOfRange` as well. Nothing panics.
//!
//! # `ClockInfo`
//!
//! * `resolution`: what `clock_getres(CLOCK_MONOTONIC_RAW)` reports, read once
//!   by `RawClock::new`. Apple's Libc computes it as the timebase ratio
//!   rounded up: 1 ns on Intel Macs, 42 ns on Apple silicon's 24 MHz counter.
//! * `max_drift_ppm`: 500. The clock is not slewed, so only the oscillator's
//!   error counts. 500 ppm is the bound the other leasehold HALs assume: it is
//!   `MAXFREQ`, the largest frequency error NTP's kernel discipline will
//!   correct, so a machine whose oscillator is worse does not stay
//!   synchronised and is treated as broken. We found no Apple figure for its
//!   oscillators' tolerance. The frequency adjustments macOS does make (up to
//!   5 000 ppm according to chrony's documentation) apply to the adjustable
//!   clocks, not to this one.
//! * `counts_suspend`: `Some(true)`; `slewed`: `Some(false)` (Apple's man page,
//!   quoted above).
//!
//! Instants are process-local: never persist one or send it to another node
//! as a wall time (invariant 13).
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(doc)]
use leasehold_core::ClockError;

#[cfg(any(target_vendor = "apple", test))]
mod convert;

#[cfg(target_vendor = "apple")]
mod raw;

#[cfg(target_vendor = "apple")]
pub use raw::RawClock;
