//! Virtual per-node clocks: drift in ppm (which may change while running),
//! suspends that stop the clock or not, failing reads (optionally a clock
//! that does not count while it fails, like a stopped timer reporting "not
//! started"), and (for one negative control) a broken wrapper that turns a
//! failed read into the last good value.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leasehold_core::{Clock, ClockError, ClockInfo, Instant};

const PPM: i128 = 1_000_000;

#[derive(Debug, Clone, Copy)]
struct State {
    anchor_true: u64,
    anchor_local: u64,
    ppm: i64,
    frozen: bool,
    failing: bool,
    /// While failing, the clock stops counting from the first failed read.
    freeze_on_failure: bool,
    failure_frozen: bool,
    last_good: u64,
}

/// A node's clock in virtual time.
///
/// The simulation owns true time (`now_true`, nanoseconds); the clock reads
/// `anchor_local + (true - anchor_true) * (1 + ppm / 10^6)`, stands still while
/// frozen (a suspend on a clock that does not count it), and fails while
/// `failing`. [`Clock::now`] is what the node sees.
#[derive(Debug)]
pub struct SimClock {
    now_true: Rc<Cell<u64>>,
    st: RefCell<State>,
    /// Negative control: on a failed read, return the last good reading
    /// instead of an error (a broken wrapper a user might write).
    reuse_last_good: bool,
    configured_ppm: u32,
    counts_suspend: bool,
}

impl SimClock {
    /// A clock starting at local `start` (nanoseconds, > 0) at the current true time.
    pub fn new(
        now_true: Rc<Cell<u64>>,
        start: u64,
        ppm: i64,
        configured_ppm: u32,
        counts_suspend: bool,
        reuse_last_good: bool,
    ) -> SimClock {
        let t = now_true.get();
        SimClock {
            now_true,
            st: RefCell::new(State {
                anchor_true: t,
                anchor_local: start,
                ppm,
                frozen: false,
                failing: false,
                freeze_on_failure: false,
                failure_frozen: false,
                last_good: start,
            }),
            reuse_last_good,
            configured_ppm,
            counts_suspend,
        }
    }

    fn local_at(st: &State, t: u64) -> u64 {
        if st.frozen || st.failure_frozen {
            return st.anchor_local;
        }
        let dt = i128::from(t.saturating_sub(st.anchor_true));
        let d = dt * (PPM + i128::from(st.ppm)) / PPM;
        st.anchor_local + d as u64
    }

    /// The reading the node would get now, without side effects (for the checkers).
    pub fn peek(&self) -> Result<u64, ClockError> {
        let st = self.st.borrow();
        if st.failing {
            if self.reuse_last_good {
                return Ok(st.last_good);
            }
            return Err(ClockError::Injected);
        }
        Ok(Self::local_at(&st, self.now_true.get()))
    }

    /// The earliest true time at which the node's reading reaches `local`, or
    /// `None` if it never does while the clock stays in its current mode.
    pub fn true_time_of(&self, local: u64) -> Option<u64> {
        let st = self.st.borrow();
        if st.frozen || st.failure_frozen || (st.failing && self.reuse_last_good) {
            return None;
        }
        let now = self.now_true.get();
        let cur = Self::local_at(&st, now);
        if local <= cur {
            return Some(now);
        }
        let dl = i128::from(local - st.anchor_local);
        let rate = PPM + i128::from(st.ppm);
        let dt = (dl * PPM + rate - 1) / rate;
        Some(st.anchor_true + dt as u64)
    }

    /// A suspend begins: a clock that does not count suspend stops.
    pub fn suspend(&self) {
        if !self.counts_suspend {
            let t = self.now_true.get();
            let mut st = self.st.borrow_mut();
            st.anchor_local = Self::local_at(&st, t);
            st.anchor_true = t;
            st.frozen = true;
        }
    }

    /// The suspend ends.
    pub fn resume(&self) {
        let t = self.now_true.get();
        let mut st = self.st.borrow_mut();
        if st.frozen {
            st.anchor_true = t;
            st.frozen = false;
        }
    }

    /// Reads fail from now on, until [`recover`](Self::recover). With
    /// `freeze`, the clock also stops counting from the first failed read
    /// until it recovers (it then runs on from where it stopped, behind).
    pub fn fail(&self, freeze: bool) {
        let mut st = self.st.borrow_mut();
        st.failing = true;
        st.freeze_on_failure = freeze;
    }

    /// Reads succeed again.
    pub fn recover(&self) {
        let t = self.now_true.get();
        let mut st = self.st.borrow_mut();
        st.failing = false;
        if st.failure_frozen {
            st.failure_frozen = false;
            st.anchor_true = t;
        }
    }

    /// The true drift of this clock in ppm.
    pub fn ppm(&self) -> i64 {
        self.st.borrow().ppm
    }

    /// Changes the drift from now on (the reading stays continuous).
    pub fn set_ppm(&self, ppm: i64) {
        let t = self.now_true.get();
        let mut st = self.st.borrow_mut();
        if !(st.frozen || st.failure_frozen) {
            st.anchor_local = Self::local_at(&st, t);
            st.anchor_true = t;
        }
        st.ppm = ppm;
    }
}

impl Clock for SimClock {
    fn now(&self) -> Result<Instant, ClockError> {
        {
            let t = self.now_true.get();
            let mut st = self.st.borrow_mut();
            if st.failing && st.freeze_on_failure && !st.failure_frozen && !st.frozen {
                st.anchor_local = Self::local_at(&st, t);
                st.anchor_true = t;
                st.failure_frozen = true;
            }
        }
        let v = self.peek()?;
        let mut st = self.st.borrow_mut();
        if !st.failing {
            st.last_good = v;
        }
        Instant::from_nanos(v).ok_or(ClockError::OutOfRange)
    }

    fn info(&self) -> ClockInfo {
        ClockInfo {
            name: "sim",
            resolution: Duration::from_nanos(1),
            max_drift_ppm: self.configured_ppm,
            counts_suspend: Some(self.counts_suspend),
            slewed: Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_freeze_fail() {
        let t = Rc::new(Cell::new(1_000));
        let c = SimClock::new(t.clone(), 5_000, 10_000, 10_000, false, false);
        t.set(1_000 + 1_000_000);
        assert_eq!(c.peek(), Ok(5_000 + 1_010_000));
        assert_eq!(c.true_time_of(5_000 + 1_010_000), Some(t.get()));
        assert_eq!(c.true_time_of(5_000 + 2_020_000), Some(1_000 + 2_000_000));
        c.suspend();
        t.set(t.get() + 500);
        assert_eq!(c.peek(), Ok(5_000 + 1_010_000));
        assert_eq!(c.true_time_of(u64::MAX / 2), None);
        c.resume();
        c.fail(false);
        assert!(c.now().is_err());
        let broken = SimClock::new(t.clone(), 5_000, 0, 0, true, true);
        let good = broken.now().unwrap();
        broken.fail(false);
        t.set(t.get() + 1_000_000);
        assert_eq!(
            broken.now(),
            Ok(good),
            "the broken wrapper reuses the last value"
        );
    }

    #[test]
    fn a_clock_that_freezes_while_failing_falls_behind() {
        let t = Rc::new(Cell::new(0));
        let c = SimClock::new(t.clone(), 1_000, 0, 0, true, false);
        c.fail(true);
        t.set(100);
        assert!(c.now().is_err(), "the first failed read freezes it");
        t.set(600);
        c.recover();
        t.set(700);
        assert_eq!(c.peek(), Ok(1_000 + 100 + 100));
        c.set_ppm(1_000_000); // twice as fast from now on
        t.set(800);
        assert_eq!(c.peek(), Ok(1_000 + 200 + 200));
    }
}
