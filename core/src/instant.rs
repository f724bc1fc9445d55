//! Process-local monotonic instants with checked arithmetic.
//!
//! All time arithmetic of leasehold lives here, so that overflow handling is
//! written (and tested) once. Nothing in this module panics.

use core::fmt;
use core::num::NonZeroU64;
use core::time::Duration;

/// A point on one process-local monotonic clock, in nanoseconds from that
/// clock's (arbitrary) origin.
///
/// * An `Instant` is never zero: zero is how a failed clock read used to be
///   smuggled into a lease as "a valid time", so it cannot be represented
///   (invariant 1). A clock that fails returns a
///   [`ClockError`](crate::ClockError), never an `Instant`.
/// * Arithmetic never panics and never wraps: every operation that could
///   overflow returns `None` (invariant 2).
/// * Instants are process-local (invariant 13): they only compare meaningfully
///   with instants from the same clock in the same process. Never persist one
///   or send one to another node as a wall time.
///
/// ```
/// use core::time::Duration;
/// use leasehold_core::Instant;
///
/// let t = Instant::from_nanos(10).unwrap();
/// assert_eq!(Instant::from_nanos(0), None); // zero is not an instant
/// assert_eq!(t.checked_add(Duration::from_nanos(5)).unwrap().as_nanos(), 15);
/// assert_eq!(t.checked_sub(Duration::from_nanos(10)), None); // would be zero
/// assert_eq!(Instant::from_nanos(u64::MAX).unwrap().checked_add(Duration::from_nanos(1)), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(NonZeroU64);

impl Instant {
    /// The instant `nanos` nanoseconds after the clock's origin, or `None` for 0.
    #[inline]
    pub const fn from_nanos(nanos: u64) -> Option<Instant> {
        match NonZeroU64::new(nanos) {
            Some(n) => Some(Instant(n)),
            None => None,
        }
    }

    /// Nanoseconds since the clock's origin; never 0.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0.get()
    }

    /// `self + d`, or `None` if the result does not fit in `u64` nanoseconds.
    #[inline]
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        let d = duration_to_nanos(d)?;
        // Adding to a non-zero value cannot produce zero without overflowing.
        Instant::from_nanos(self.as_nanos().checked_add(d)?)
    }

    /// `self - d`, or `None` if the result would be zero or negative.
    #[inline]
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        let d = duration_to_nanos(d)?;
        Instant::from_nanos(self.as_nanos().checked_sub(d)?)
    }

    /// The time elapsed from `earlier` to `self`, or `None` if `earlier` is
    /// later than `self`. Equal instants give `Some(Duration::ZERO)`.
    #[inline]
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.as_nanos()
            .checked_sub(earlier.as_nanos())
            .map(Duration::from_nanos)
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    ///
    /// Only use this where "no time passed" is the conservative answer.
    #[inline]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.as_nanos().saturating_sub(earlier.as_nanos()))
    }
}

/// A `Duration` as whole nanoseconds, or `None` beyond `u64::MAX` ns (~584 years).
#[inline]
fn duration_to_nanos(d: Duration) -> Option<u64> {
    // A Duration holds up to ~2^64 seconds, far beyond u64 ns. Staying in u64
    // (rather than as_nanos' u128) keeps this off the lease's hot path.
    d.as_secs()
        .checked_mul(1_000_000_000)?
        .checked_add(u64::from(d.subsec_nanos()))
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({}ns)", self.as_nanos())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Instant {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Instant({=u64}ns)", self.as_nanos())
    }
}

/// A `Duration` as whole nanoseconds for defmt, saturating at `u64::MAX`
/// (a `Duration` can hold far more than a `u64` of nanoseconds).
#[cfg(feature = "defmt")]
pub(crate) fn defmt_nanos(d: Duration) -> u64 {
    duration_to_nanos(d).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(n: u64) -> Instant {
        Instant::from_nanos(n).unwrap()
    }

    #[test]
    fn zero_is_not_an_instant() {
        assert_eq!(Instant::from_nanos(0), None);
        assert_eq!(i(1).as_nanos(), 1);
        assert_eq!(i(u64::MAX).as_nanos(), u64::MAX);
        // Option<Instant> costs nothing over u64: the niche is the zero.
        assert_eq!(core::mem::size_of::<Option<Instant>>(), 8);
    }

    #[test]
    fn ordering_is_strict_and_total() {
        assert!(i(1) < i(2));
        assert!(i(u64::MAX - 1) < i(u64::MAX));
        assert!(i(5) >= i(5) && i(5) <= i(5));
        assert_eq!(i(5).partial_cmp(&i(5)), Some(core::cmp::Ordering::Equal));
        assert_eq!(i(7).cmp(&i(7)), core::cmp::Ordering::Equal);
        assert_eq!(i(3).max(i(9)), i(9));
    }

    #[test]
    fn checked_add_edges() {
        assert_eq!(i(1).checked_add(Duration::ZERO), Some(i(1)));
        assert_eq!(i(1).checked_add(Duration::from_nanos(1)), Some(i(2)));
        assert_eq!(
            i(u64::MAX - 1).checked_add(Duration::from_nanos(1)),
            Some(i(u64::MAX))
        );
        assert_eq!(i(u64::MAX).checked_add(Duration::from_nanos(1)), None);
        assert_eq!(i(u64::MAX).checked_add(Duration::ZERO), Some(i(u64::MAX)));
        assert_eq!(i(2).checked_add(Duration::from_nanos(u64::MAX)), None);
        // A Duration larger than u64 nanoseconds must not be truncated.
        assert_eq!(i(1).checked_add(Duration::from_secs(u64::MAX)), None);
        assert_eq!(i(1).checked_add(Duration::MAX), None);
        // Sub-second parts are carried.
        assert_eq!(
            i(1).checked_add(Duration::new(2, 3)),
            Some(i(2_000_000_004))
        );
    }

    #[test]
    fn checked_sub_edges() {
        assert_eq!(i(5).checked_sub(Duration::ZERO), Some(i(5)));
        assert_eq!(i(5).checked_sub(Duration::from_nanos(4)), Some(i(1)));
        // Result zero is not an instant.
        assert_eq!(i(5).checked_sub(Duration::from_nanos(5)), None);
        assert_eq!(i(5).checked_sub(Duration::from_nanos(6)), None);
        assert_eq!(i(1).checked_sub(Duration::from_nanos(1)), None);
        assert_eq!(
            i(u64::MAX).checked_sub(Duration::from_nanos(u64::MAX - 1)),
            Some(i(1))
        );
        assert_eq!(
            i(u64::MAX).checked_sub(Duration::from_nanos(u64::MAX)),
            None
        );
        assert_eq!(i(u64::MAX).checked_sub(Duration::MAX), None);
    }

    #[test]
    fn checked_duration_since_edges() {
        assert_eq!(i(5).checked_duration_since(i(5)), Some(Duration::ZERO));
        assert_eq!(
            i(6).checked_duration_since(i(5)),
            Some(Duration::from_nanos(1))
        );
        assert_eq!(i(5).checked_duration_since(i(6)), None);
        assert_eq!(
            i(u64::MAX).checked_duration_since(i(1)),
            Some(Duration::from_nanos(u64::MAX - 1))
        );
        assert_eq!(i(1).checked_duration_since(i(u64::MAX)), None);
    }

    #[test]
    fn saturating_duration_since_edges() {
        assert_eq!(i(5).saturating_duration_since(i(5)), Duration::ZERO);
        assert_eq!(
            i(6).saturating_duration_since(i(5)),
            Duration::from_nanos(1)
        );
        assert_eq!(i(5).saturating_duration_since(i(6)), Duration::ZERO);
        assert_eq!(i(1).saturating_duration_since(i(u64::MAX)), Duration::ZERO);
        assert_eq!(
            i(u64::MAX).saturating_duration_since(i(1)),
            Duration::from_nanos(u64::MAX - 1)
        );
    }

    #[test]
    fn add_then_sub_round_trips() {
        let d = Duration::from_millis(1234);
        for base in [
            1,
            2,
            1_000_000_007,
            u64::MAX / 2,
            u64::MAX - d.as_nanos() as u64,
        ] {
            let t = i(base);
            let later = t.checked_add(d).unwrap();
            assert_eq!(later.checked_duration_since(t), Some(d));
            assert_eq!(later.checked_sub(d), Some(t));
        }
    }

    #[test]
    fn debug_shows_nanos() {
        extern crate std;
        assert_eq!(std::format!("{:?}", i(42)), "Instant(42ns)");
    }
}
