//! A counter plus an extender is a `Clock`.

use leasehold_core::{Clock, ClockError, ClockInfo, Instant};

use crate::convert::{resolution, ticks_to_nanos};
use crate::counter::Counter;

/// Turns readings of a counter `C` into a 64-bit tick count since the
/// counter started.
///
/// Implemented by [`HalfPeriodExtender`](crate::HalfPeriodExtender) and
/// [`WrapExtender`](crate::WrapExtender); each documents the interrupt it
/// needs and its read order.
pub trait Extender<C: Counter + ?Sized> {
    /// Ticks since the counter started; [`ClockError::NotStarted`] before it
    /// runs, [`ClockError::OutOfRange`] past `u64::MAX` ticks.
    fn ticks(&self, counter: &C) -> Result<u64, ClockError>;
}

/// A [`Clock`] from a hardware [`Counter`] and an [`Extender`].
///
/// `now()` is `1 ns + ticks_to_nanos(ticks)`, so never zero (see the crate
/// docs). [`ClockInfo`] reports one tick, rounded up to whole nanoseconds, as
/// the resolution, the crystal's `max_drift_ppm` given here, `slewed:
/// Some(false)` and `counts_suspend: None`: whether the counter runs in sleep
/// modes depends on the chip and its clock tree, so check it and size leases
/// accordingly.
///
/// See the crate docs for an example.
#[derive(Debug)]
pub struct ExtendedClock<C, E> {
    counter: C,
    extender: E,
    max_drift_ppm: u32,
}

impl<C, E> ExtendedClock<C, E> {
    /// A clock reading `counter` through `extender`, whose oscillator is
    /// within `max_drift_ppm` parts per million of its nominal frequency.
    pub const fn new(counter: C, extender: E, max_drift_ppm: u32) -> ExtendedClock<C, E> {
        ExtendedClock {
            counter,
            extender,
            max_drift_ppm,
        }
    }

    /// The counter.
    pub const fn counter(&self) -> &C {
        &self.counter
    }

    /// The extender; the timer interrupt handler calls its event methods.
    pub const fn extender(&self) -> &E {
        &self.extender
    }
}

#[cfg(feature = "defmt")]
impl<C: Counter, E: defmt::Format> defmt::Format for ExtendedClock<C, E> {
    /// The counter's name, width, frequency and state, the extender and the
    /// drift bound.
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "ExtendedClock {{ counter: {=str} ({=u32} bits, {=u32} Hz, running: {=bool}), extender: {}, max_drift_ppm: {=u32} }}",
            C::NAME,
            C::BITS,
            self.counter.frequency_hz().get(),
            self.counter.is_running(),
            self.extender,
            self.max_drift_ppm
        )
    }
}

impl<C: Counter, E: Extender<C>> Clock for ExtendedClock<C, E> {
    fn now(&self) -> Result<Instant, ClockError> {
        let ticks = self.extender.ticks(&self.counter)?;
        let ns =
            ticks_to_nanos(ticks, self.counter.frequency_hz()).ok_or(ClockError::OutOfRange)?;
        ns.checked_add(1)
            .and_then(Instant::from_nanos)
            .ok_or(ClockError::OutOfRange)
    }

    fn info(&self) -> ClockInfo {
        ClockInfo {
            name: C::NAME,
            resolution: resolution(self.counter.frequency_hz()),
            max_drift_ppm: self.max_drift_ppm,
            counts_suspend: None,
            slewed: Some(false),
        }
    }
}
