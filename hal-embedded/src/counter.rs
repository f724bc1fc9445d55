//! What the extenders need from a hardware counter.

use core::num::NonZeroU32;

/// A free-running hardware counter that counts **up** from 0 to
/// `2^BITS - 1` and wraps to 0, at a fixed frequency.
///
/// A down-counter implements this by returning `2^BITS - 1 - value` (see
/// `SysTick` with the `cortex-m` feature).
///
/// The extender reads the counter from whatever context calls `now()`,
/// including interrupt handlers, so [`read`](Counter::read) must be a single
/// side-effect-free load of the counter register.
pub trait Counter {
    /// Width of the counter in bits, 2..=32. Other widths fail to compile when
    /// an extender is used with the counter.
    const BITS: u32;

    /// Name reported in [`ClockInfo::name`](leasehold_core::ClockInfo::name).
    const NAME: &'static str = "hardware counter";

    /// Counting frequency in Hz (the crystal's nominal frequency after
    /// prescaling). Its error bound is the `max_drift_ppm` given to
    /// [`ExtendedClock::new`](crate::ExtendedClock::new).
    fn frequency_hz(&self) -> NonZeroU32;

    /// Whether the counter is counting. Until it is, `now()` returns
    /// [`ClockError::NotStarted`](leasehold_core::ClockError::NotStarted).
    fn is_running(&self) -> bool;

    /// The current count. Bits above `BITS` are ignored.
    fn read(&self) -> u32;
}

/// A [`Counter`] whose wrap raises an interrupt whose pending flag can be
/// read (for [`WrapExtender`](crate::WrapExtender)).
pub trait WrapPending: Counter {
    /// Whether the wrap interrupt is pending: the counter wrapped and the
    /// handler that calls [`WrapExtender::on_wrap`](crate::WrapExtender::on_wrap)
    /// has not been entered yet. The flag must be cleared no earlier than the
    /// handler's entry (SysTick's PENDSTSET is cleared by the hardware on
    /// exception entry) and never by a read.
    fn wrap_pending(&self) -> bool;
}

impl<C: Counter + ?Sized> Counter for &C {
    const BITS: u32 = C::BITS;
    const NAME: &'static str = C::NAME;

    fn frequency_hz(&self) -> NonZeroU32 {
        (**self).frequency_hz()
    }

    fn is_running(&self) -> bool {
        (**self).is_running()
    }

    fn read(&self) -> u32 {
        (**self).read()
    }
}

impl<C: WrapPending + ?Sized> WrapPending for &C {
    fn wrap_pending(&self) -> bool {
        (**self).wrap_pending()
    }
}

/// `2^bits - 1`, for 2..=32 bits.
pub(crate) const fn mask(bits: u32) -> u64 {
    (1u64 << bits) - 1
}
