//! Half-period counting: the scheme of embassy-time's drivers.

use leasehold_core::ClockError;

use crate::clock::Extender;
use crate::count::Count64;
use crate::counter::{mask, Counter};

/// Extends a [`Counter`] to 64 bits by counting **half periods**.
///
/// # Interrupts
///
/// Configure the timer to interrupt on overflow (count wraps to 0) and on a
/// compare match at `2^(BITS-1)`, half its range. The handler calls
/// [`on_overflow`](Self::on_overflow) for the overflow event and
/// [`on_half_period`](Self::on_half_period) for the compare event, once per
/// event, in the order the events happened (if both are pending, the compare
/// first: it happened half a period earlier). Then the count `p` is even while
/// the counter is in its lower half and odd in its upper half, except that it
/// may lag the hardware by one event while the interrupt is pending or running.
///
/// # Read order
///
/// [`Extender::ticks`] loads `p` (`Acquire`) **first** and reads the counter
/// `c` **second**, then returns `p * 2^(BITS-1) + (c XOR (p & 1) << (BITS-1))`.
/// If an event happened between the two steps (or is still pending), `p` is
/// one behind and `c` is in the other half than `p`'s parity says; the XOR
/// adds exactly the missing half period. Nothing has to be retried, and a
/// reader may run at any priority, inside or outside critical sections,
/// including above the timer interrupt.
///
/// Reading in the other order (counter, then count) is the classic bug: a
/// count bumped between the two steps adds a half period that `c` already
/// contains. The host tests keep such a naive extender as a negative control.
///
/// # Requirements
///
/// * The compare event fires when the counter reaches `2^(BITS-1)`, never
///   before (a late event is fine).
/// * Each event is handled (the count bumped) less than half a period after it
///   happened, minus the time a read takes. At 32.768 kHz that is one second
///   for a 16-bit counter; at 48 MHz about 44 s for 32 bits.
/// * `p` only ever increases: the handler is the only writer.
///
/// ```
/// use leasehold_hal_embedded::HalfPeriodExtender;
///
/// static EXT: HalfPeriodExtender = HalfPeriodExtender::new();
/// EXT.on_half_period();
/// EXT.on_overflow();
/// assert_eq!(EXT.half_periods(), 2);
/// ```
#[derive(Debug)]
pub struct HalfPeriodExtender {
    periods: Count64,
}

impl HalfPeriodExtender {
    /// An extender for a counter that starts at 0 now.
    pub const fn new() -> HalfPeriodExtender {
        HalfPeriodExtender {
            periods: Count64::new(),
        }
    }

    /// Call from the timer interrupt for the compare event at half the range.
    #[inline]
    pub fn on_half_period(&self) {
        self.periods.increment();
    }

    /// Call from the timer interrupt for the overflow (wrap to 0) event.
    #[inline]
    pub fn on_overflow(&self) {
        self.periods.increment();
    }

    /// Half periods counted so far.
    pub fn half_periods(&self) -> u64 {
        self.periods.load()
    }
}

impl Default for HalfPeriodExtender {
    fn default() -> Self {
        HalfPeriodExtender::new()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for HalfPeriodExtender {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "HalfPeriodExtender {{ half_periods: {=u64} }}",
            self.half_periods()
        )
    }
}

impl<C: Counter + ?Sized> Extender<C> for HalfPeriodExtender {
    fn ticks(&self, counter: &C) -> Result<u64, ClockError> {
        const {
            assert!(
                C::BITS >= 2 && C::BITS <= 32,
                "Counter::BITS must be 2..=32"
            )
        };
        if !counter.is_running() {
            return Err(ClockError::NotStarted);
        }
        // Order matters: the count first, then the counter (see above).
        let p = self.periods.load();
        let c = counter.read();
        combine(p, c, C::BITS).ok_or(ClockError::OutOfRange)
    }
}

/// `p * 2^(bits-1) + (c ^ (p & 1) << (bits-1))`, or `None` past `u64::MAX`.
pub(crate) fn combine(p: u64, c: u32, bits: u32) -> Option<u64> {
    let c = u64::from(c) & mask(bits);
    let low = c ^ ((p & 1) << (bits - 1));
    p.checked_mul(1u64 << (bits - 1))?.checked_add(low)
}

#[cfg(test)]
mod tests {
    use super::combine;

    #[test]
    fn combine_repairs_a_count_one_behind() {
        // 16 bits: half = 0x8000.
        assert_eq!(combine(0, 5, 16), Some(5));
        assert_eq!(combine(1, 0x8005, 16), Some(0x8005));
        // count still odd (overflow not handled yet), counter already wrapped
        assert_eq!(combine(1, 3, 16), Some(0x1_0003));
        // count still even (compare not handled yet), counter in upper half
        assert_eq!(combine(2, 0x8003, 16), Some(0x1_8003));
        assert_eq!(combine(u64::MAX, 0, 16), None);
        assert_eq!(combine(1, 0xFFFF_FFFF, 32), Some(0xFFFF_FFFF));
    }
}
