//! Ticks to nanoseconds, exactly, over the whole `u64` tick range.

use core::num::NonZeroU32;
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
