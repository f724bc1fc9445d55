//! `leasehold-hal-embedded`: a free-running hardware counter (SysTick, or any
//! 2..=32-bit timer) extended to 64 bits and exposed as a leasehold
//! [`Clock`](leasehold_core::Clock).
//!
//! A 16-, 24- or 32-bit counter wraps every few milliseconds to minutes. The
//! overflow interrupt extends it, and a read that races that interrupt is where
//! embedded time drivers keep going wrong: read the counter just before the
//! wrap and the overflow count just after, and time jumps a whole period forward
//! (or, the other way round, back). This crate offers two extensions that are
//! correct when the interrupt lands between any two steps of a read:
//!
//! * [`HalfPeriodExtender`]: for timers with an overflow event and a compare
//!   event at half the range (the scheme of embassy-time's drivers). Both
//!   events bump a period count; a read takes the count **first** and the
//!   counter **second**, and the count's parity repairs a stale count.
//! * [`WrapExtender`]: for counters that only interrupt on wrap but expose
//!   the interrupt's pending flag, such as SysTick. A read takes the wrap count,
//!   the counter, the pending flag and the wrap count again.
//!
//! [`ExtendedClock`] joins a [`Counter`] and an [`Extender`] into a `Clock`.
//! With the `cortex-m` feature, `SysTickClock` is that clock on SysTick.
//!
//! # Instants
//!
//! `now()` converts the 64-bit tick count to nanoseconds with exact integer
//! arithmetic ([`ticks_to_nanos`], rounding down) and adds **1 ns**, so that
//! the first reading is `Instant::from_nanos(1)`, never zero. Differences
//! between instants are unaffected by the offset. A tick count whose
//! nanoseconds do not fit in a `u64` (about 584 years) is
//! [`ClockError::OutOfRange`](leasehold_core::ClockError::OutOfRange).
//! Before the counter runs, `now()` is
//! [`ClockError::NotStarted`](leasehold_core::ClockError::NotStarted), never a
//! made-up instant.
//!
//! # Example
//!
//! A counter backed by a plain variable stands in for a timer here; a real
//! one reads a register.
//!
//! ```
//! use core::num::NonZeroU32;
//! use core::sync::atomic::{AtomicU32, Ordering};
//! use leasehold_core::{Clock, ClockError};
//! use leasehold_hal_embedded::{Counter, ExtendedClock, HalfPeriodExtender};
//!
//! struct Timer16(AtomicU32); // CNT of a 16-bit timer at 32.768 kHz
//!
//! impl Counter for Timer16 {
//!     const BITS: u32 = 16;
//!     fn frequency_hz(&self) -> NonZeroU32 { NonZeroU32::new(32_768).unwrap() }
//!     fn is_running(&self) -> bool { self.0.load(Ordering::Relaxed) != u32::MAX }
//!     fn read(&self) -> u32 { self.0.load(Ordering::Relaxed) }
//! }
//!
//! static CLOCK: ExtendedClock<Timer16, HalfPeriodExtender> =
//!     ExtendedClock::new(Timer16(AtomicU32::new(u32::MAX)), HalfPeriodExtender::new(), 20);
//!
//! // Timer interrupt: on the compare at 0x8000 and on overflow.
//! fn timer_isr(compare_half: bool, overflow: bool) {
//!     if compare_half { CLOCK.extender().on_half_period(); }
//!     if overflow { CLOCK.extender().on_overflow(); }
//! }
//!
//! assert_eq!(CLOCK.now(), Err(ClockError::NotStarted)); // not 0
//! CLOCK.counter().0.store(0, Ordering::Relaxed);       // timer started
//! let t0 = CLOCK.now()?;
//! assert_eq!(t0.as_nanos(), 1);
//!
//! // One and a half periods later (ISR ran at the half, the wrap, the half):
//! timer_isr(true, false);
//! timer_isr(false, true);
//! timer_isr(true, false);
//! CLOCK.counter().0.store(0x8000 + 1, Ordering::Relaxed);
//! let ticks = 0x1_8001u64;
//! assert_eq!(CLOCK.now()?.as_nanos() - 1, ticks * 1_000_000_000 / 32_768);
//! assert_eq!(CLOCK.info().resolution.as_nanos(), 30_518); // one tick, rounded up
//! # Ok::<(), ClockError>(())
//! ```
//!
//! # Atomics
//!
//! The period counts are `portable_atomic::AtomicU64`, written by an interrupt
//! handler, so the final binary must make 64-bit atomics interrupt-safe. On a
//! single core that is `portable-atomic`'s `unsafe-assume-single-core`
//! feature (or `--cfg portable_atomic_unsafe_assume_single_core`): on
//! thumbv6m and riscv32imc, which lack compare-and-swap, something must be
//! chosen anyway (`critical-section` plus a provider also works there); on
//! thumbv7m/thumbv7em the default 64-bit fallback is a global spinlock that a
//! handler preempting its holder would spin on forever, and the
//! `critical-section` feature does not change that on targets with
//! compare-and-swap. The repository README ("Embedded") has the table.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod clock;
mod convert;
mod counter;
mod half_period;
#[cfg(feature = "cortex-m")]
mod systick;
mod wrap;

pub use clock::{ExtendedClock, Extender};
pub use convert::{resolution, ticks_to_nanos};
pub use counter::{Counter, WrapPending};
pub use half_period::HalfPeriodExtender;
#[cfg(feature = "cortex-m")]
pub use systick::{SysTick, SysTickClock};
pub use wrap::WrapExtender;
