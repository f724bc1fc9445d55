//! The 64-bit words the lease protocol is written against, chosen per target
//! (invariant 19: no configuration of a final binary may make a lease
//! operation spin or deadlock in an interrupt handler):
//!
//! * targets with native 64-bit atomics: `core::sync::atomic::AtomicU64`;
//! * targets without them (thumbv6m, thumbv7m, thumbv7em, riscv32):
//!   [`split::SplitU64`], two 32-bit halves written inside a critical
//!   section and read without one; a read that meets a write returns the
//!   word's `TORN` value, which the lease defines as "no lease" (fails
//!   closed). The final binary links a `critical-section` provider; without
//!   one it does not link;
//! * `--cfg loom`: loom's model-checked `AtomicU64`, or with
//!   `--cfg leasehold_split` the split word over loom's primitives, so that
//!   loom checks the protocol over the very words 32-bit targets use
//!   (`--cfg leasehold_split` alone runs the unit tests over them on the
//!   host);
//! * unit tests: each word wrapped so that it counts every write (and the
//!   split word every critical section), so a test can prove the read path
//!   performs none (invariant 7).
//!
//! [`Cell64`] is the `ManualClock`'s time: a plain `AtomicU64` where there is
//! one, else a value behind a critical section (its readers may take one:
//! it is a test clock, not the lease).

pub(crate) use core::sync::atomic::Ordering;

#[cfg(all(test, not(loom)))]
pub(crate) mod counting;
#[cfg(any(not(target_has_atomic = "64"), all(test, not(loom))))]
mod locked;
#[cfg(any(leasehold_split, not(target_has_atomic = "64"), all(test, not(loom))))]
mod split;

cfg_if::cfg_if! {
    if #[cfg(any(leasehold_split, not(target_has_atomic = "64")))] {
        type Inner<const TORN: u64> = split::SplitU64<TORN>;
    } else if #[cfg(loom)] {
        type Inner<const TORN: u64> = loom::sync::atomic::AtomicU64;
    } else {
        type Inner<const TORN: u64> = core::sync::atomic::AtomicU64;
    }
}

/// A lease word. Where 64-bit atomics are native, `TORN` is unused; where
/// they are not, a load that meets a write returns `TORN` (see [`split`]).
#[cfg(not(all(test, not(loom))))]
pub(crate) type Word<const TORN: u64> = Inner<TORN>;
#[cfg(all(test, not(loom)))]
pub(crate) type Word<const TORN: u64> = counting::Counting<TORN>;

cfg_if::cfg_if! {
    if #[cfg(target_has_atomic = "64")] {
        /// The `ManualClock`'s 64-bit cells.
        pub(crate) type Cell64 = core::sync::atomic::AtomicU64;
    } else {
        /// The `ManualClock`'s 64-bit cells.
        pub(crate) type Cell64 = locked::LockedU64;
    }
}
