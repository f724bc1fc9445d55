//! Ticks to nanoseconds, exactly, over the whole `u64` tick range.

use core::num::{NonZeroU32, NonZeroU64};
use core::time::Duration;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// `floor(ticks * 10^9 / hz)`: the nanoseconds `ticks` ticks of a counter at
/// `hz` take, or `None` if that does not fit in a `u64`.
///
/// Exact for every `ticks` (no intermediate overflow, no rounding other than
/// the final floor): the ticks are split into whole seconds and a remainder
/// below `hz < 2^32`, whose product with `10^9` stays below `2^62`.
///
/// ```
/// use core::num::NonZeroU32;
/// use leasehold_hal_embedded::ticks_to_nanos;
///
/// let hz = NonZeroU32::new(32_768).unwrap();
/// assert_eq!(ticks_to_nanos(32_768, hz), Some(1_000_000_000));
/// assert_eq!(ticks_to_nanos(1, hz), Some(30_517)); // 30517.578125, rounded down
/// assert_eq!(ticks_to_nanos(u64::MAX, hz), None);  // ~17.8 million years
/// ```
pub const fn ticks_to_nanos(ticks: u64, hz: NonZeroU32) -> Option<u64> {
    let hz = hz.get() as u64;
    let secs = ticks / hz;
    // rem < hz <= u32::MAX, so rem * 10^9 < 2^32 * 2^30 and cannot overflow;
    // the quotient is below 10^9.
    let sub = (ticks % hz) * NANOS_PER_SEC / hz;
    match secs.checked_mul(NANOS_PER_SEC) {
        Some(ns) => ns.checked_add(sub),
        None => None,
    }
}

/// One tick of a counter at `hz`, rounded **up** to whole nanoseconds (a
/// lease must assume the coarser step). At least 1 ns.
///
/// ```
/// use core::num::NonZeroU32;
/// use core::time::Duration;
/// use leasehold_hal_embedded::resolution;
///
/// assert_eq!(resolution(NonZeroU32::new(48_000_000).unwrap()), Duration::from_nanos(21));
/// assert_eq!(resolution(NonZeroU32::new(1).unwrap()), Duration::from_secs(1));
/// ```
pub const fn resolution(hz: NonZeroU32) -> Duration {
    let hz = hz.get() as u64;
    Duration::from_nanos(NANOS_PER_SEC.div_ceil(hz))
}

/// [`ticks_to_nanos`] for a tick rate that may not fit in 32 bits (embassy's
/// `TICK_HZ` is a `u64`, up to 5.24 GHz): `floor(ticks * 10^9 / hz)`, or
/// `None` if that does not fit in a `u64`. Exact for every input: the
/// remainder below `hz` is multiplied in `u128`.
///
/// ```
/// use core::num::NonZeroU64;
/// use leasehold_hal_embedded::ticks_to_nanos_u64;
///
/// let hz = NonZeroU64::new(5_242_880_000).unwrap();
/// assert_eq!(ticks_to_nanos_u64(5_242_880_000, hz), Some(1_000_000_000));
/// assert_eq!(ticks_to_nanos_u64(1, hz), Some(0)); // 0.19 ns, rounded down
/// assert_eq!(ticks_to_nanos_u64(u64::MAX, NonZeroU64::new(1).unwrap()), None);
/// ```
pub const fn ticks_to_nanos_u64(ticks: u64, hz: NonZeroU64) -> Option<u64> {
    let hz = hz.get();
    if hz <= u32::MAX as u64 {
        // The cheaper all-u64 path (no u128 division on 32-bit cores).
        return match NonZeroU32::new(hz as u32) {
            Some(hz) => ticks_to_nanos(ticks, hz),
            None => None,
        };
    }
    let secs = ticks / hz;
    // rem < hz, so the quotient is below 10^9; u128 keeps rem * 10^9 exact.
    let sub = ((ticks % hz) as u128 * NANOS_PER_SEC as u128 / hz as u128) as u64;
    match secs.checked_mul(NANOS_PER_SEC) {
        Some(ns) => ns.checked_add(sub),
        None => None,
    }
}

/// [`resolution`] for a tick rate that may not fit in 32 bits: one tick
/// rounded **up** to whole nanoseconds, at least 1 ns (never zero, even
/// above 1 GHz).
///
/// ```
/// use core::num::NonZeroU64;
/// use core::time::Duration;
/// use leasehold_hal_embedded::resolution_u64;
///
/// assert_eq!(resolution_u64(NonZeroU64::new(32_768).unwrap()), Duration::from_nanos(30_518));
/// assert_eq!(resolution_u64(NonZeroU64::new(5_242_880_000).unwrap()), Duration::from_nanos(1));
/// ```
pub const fn resolution_u64(hz: NonZeroU64) -> Duration {
    Duration::from_nanos(NANOS_PER_SEC.div_ceil(hz.get()))
}
