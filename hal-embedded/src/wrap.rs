//! Wrap counting with the interrupt's pending flag (for SysTick).

use leasehold_core::ClockError;

use crate::clock::Extender;
use crate::count::Count64;
use crate::counter::{mask, WrapPending};

/// Extends a [`WrapPending`] counter to 64 bits by counting wraps, for
/// counters that interrupt only on wrap, such as SysTick.
///
/// # Interrupts
///
/// The wrap interrupt's handler calls [`on_wrap`](Self::on_wrap) once per
/// wrap, **before** it reads the clock itself. The hardware clears the pending
/// flag no earlier than the handler's entry.
///
/// # Read order
///
/// [`Extender::ticks`] loads the wrap count `w1` (`Acquire`), reads the
/// counter `c`, reads the pending flag, and loads the count again as `w2`. If
/// `w1 != w2` the handler ran during the read and the read is retried (this
/// needs the handler to run inside the read window, at most once per period,
/// so a retry is rare and the loop ends). Otherwise at most one wrap is
/// unaccounted, and only if the flag was set; the half the counter was in
/// tells whether that wrap came before `c` was read (`c` in the lower half:
/// add a period) or after (`c` in the upper half: `c` is from before the
/// wrap). This also covers SysTick setting its flag when the down-counter
/// reaches 0, one tick before it reloads.
///
/// # Requirements
///
/// * The wrap handler runs less than half a period after the wrap, minus the
///   time a read takes (SysTick, 24 bits at 48 MHz: about 170 ms).
/// * **No reader preempts the wrap handler** between its entry (which clears
///   the pending flag) and `on_wrap`: give the wrap interrupt a priority at
///   least as high (numerically at most) as any context that calls `now()`,
///   and call `on_wrap` first in the handler. Readers inside critical sections
///   are fine: the flag stays pending. ([`HalfPeriodExtender`](crate::HalfPeriodExtender)
///   has no such rule.)
///
/// ```
/// use leasehold_hal_embedded::WrapExtender;
///
/// static EXT: WrapExtender = WrapExtender::new();
/// EXT.on_wrap();
/// assert_eq!(EXT.wraps(), 1);
/// ```
#[derive(Debug)]
pub struct WrapExtender {
    wraps: Count64,
}

impl WrapExtender {
    /// An extender for a counter that starts at 0 now.
    pub const fn new() -> WrapExtender {
        WrapExtender {
            wraps: Count64::new(),
        }
    }

    /// Call first thing from the wrap interrupt handler.
    #[inline]
    pub fn on_wrap(&self) {
        self.wraps.increment();
    }

    /// Wraps counted so far.
    pub fn wraps(&self) -> u64 {
        self.wraps.load()
    }
}

impl Default for WrapExtender {
    fn default() -> Self {
        WrapExtender::new()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for WrapExtender {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "WrapExtender {{ wraps: {=u64} }}", self.wraps())
    }
}

impl<C: WrapPending + ?Sized> Extender<C> for WrapExtender {
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
        loop {
            let w1 = self.wraps.load();
            let c = counter.read();
            let pending = counter.wrap_pending();
            let w2 = self.wraps.load();
            if w1 == w2 {
                return combine(w1, c, pending, C::BITS).ok_or(ClockError::OutOfRange);
            }
        }
    }
}

/// `(w + unaccounted) * 2^bits + c`, or `None` past `u64::MAX`.
pub(crate) fn combine(w: u64, c: u32, pending: bool, bits: u32) -> Option<u64> {
    let c = u64::from(c) & mask(bits);
    let lower_half = c < 1u64 << (bits - 1);
    let w = if pending && lower_half {
        w.checked_add(1)?
    } else {
        w
    };
    w.checked_mul(1u64 << bits)?.checked_add(c)
}

#[cfg(test)]
mod tests {
    use super::combine;

    #[test]
    fn combine_counts_a_pending_wrap_only_after_it() {
        assert_eq!(combine(0, 5, false, 16), Some(5));
        assert_eq!(combine(0, 5, true, 16), Some(0x1_0005));
        assert_eq!(combine(0, 0xFFFF, true, 16), Some(0xFFFF));
        assert_eq!(combine(u64::MAX, 0, false, 16), None);
    }
}
