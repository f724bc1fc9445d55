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
//! Two clocks need no extension: [`MtimeClock`] reads a RISC-V CLINT's
//! 64-bit `mtime` (on rv32 without a retry: a carry of the low half between
//! the loads reads as the value at the carry), and, with the `embassy`
//! feature, `EmbassyClock` reads embassy-time's time driver.
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
//! # Atomics and interrupts
//!
//! The extenders' counts are 64 bits, incremented by the timer interrupt and
//! read from any context. Where 64-bit atomics are native they are an
//! `AtomicU64`. Elsewhere (thumbv6m, thumbv7m, thumbv7em, riscv32) they are
//! two 32-bit halves: the increment runs inside `critical_section::with`,
//! and a read takes no lock and retries only when an increment completed
//! during its few loads, which the handler can do at most once per timer
//! event. No reader waits for a context that can be preempted, so nothing
//! here can spin or deadlock in an interrupt handler, whatever the final
//! binary enables. That binary links a `critical-section` provider
//! (`cortex-m`'s `critical-section-single-core`, `riscv`'s
//! `critical-section-single-hart`, or its HAL's or RTOS's); without one the
//! link fails with `_critical_section_1_0_acquire` undefined. The crate does
//! not use portable-atomic, whose 64-bit fallback on thumbv7m is a spinlock
//! that a handler preempting its holder spins on forever.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod clock;
mod convert;
mod count;
mod counter;
#[cfg(feature = "embassy")]
mod embassy;
mod half_period;
mod mtime;
#[cfg(feature = "cortex-m")]
mod systick;
mod wrap;

pub use clock::{ExtendedClock, Extender};
pub use convert::{resolution, resolution_u64, ticks_to_nanos, ticks_to_nanos_u64};
pub use counter::{Counter, WrapPending};
#[cfg(feature = "embassy")]
pub use embassy::EmbassyClock;
pub use half_period::HalfPeriodExtender;
pub use mtime::{MtimeClock, QEMU_VIRT_MTIME, QEMU_VIRT_MTIME_HZ};
#[cfg(feature = "cortex-m")]
pub use systick::{SysTick, SysTickClock};
pub use wrap::WrapExtender;
