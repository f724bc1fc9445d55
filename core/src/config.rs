//! Deriving the lease duration from the Raft timing it relies on (invariant 10).

use core::fmt;
use core::time::Duration;

use crate::ClockInfo;

/// The inputs a safe lease duration is derived from.
///
/// A leader's lease rests on one promise: a follower that acknowledged the
/// leader will not vote for anybody else until `election_ticks` of its own
/// ticks have passed (raft-rs refuses such votes while `election_elapsed <
/// election_tick`, and leasehold's vote guard counts the same ticks). With
/// tick length `tick`, clocks whose rates may be off by at most `rho_lease`
/// (the leader's lease clock) and `rho_tick` (the followers' tick timers), a
/// safety `margin` and a clock `resolution`, the lease is
///
/// ```text
/// ((election_ticks - 1) * tick) * (1 - rho_lease) / (1 + rho_tick) - margin - resolution
/// ```
///
/// * `election_ticks - 1`: a follower's first tick may land right after the
///   acknowledged message, so only `election_ticks - 1` whole ticks are sure.
/// * `(1 - rho_lease) / (1 + rho_tick)`: the follower's tick timer may run
///   fast by `rho_tick` while the leader's lease clock runs slow by
///   `rho_lease` (invariant 18). The tick timer is usually whatever paces
///   the Raft loop (a sleep or an interval on `CLOCK_MONOTONIC`, which NTP
///   slews by up to 500 ppm on top of the crystal's error), not the clock
///   the lease is timed with, so its bound is given on its own:
///   [`tick_drift_ppm`](Self::tick_drift_ppm).
/// * The result is rounded down to the nanosecond.
///
/// `election_ticks` is the number of ticks a follower refuses votes for
/// after hearing from the leader: raft-rs's `election_tick`, **never**
/// `min_election_tick`. raft-rs randomises the timeout after which a node
/// *campaigns* in `[min_election_tick, max_election_tick)`, but it refuses
/// votes only for `election_tick` ticks, and requires `min_election_tick >=
/// election_tick`; a lease derived from `min_election_tick` outlives the
/// refusal. (`leasehold-raft` reads the field from the `raft::Config` itself.)
///
/// Without check-quorum a raft-rs follower grants votes to a candidate while
/// it still hears from the leader, so no lease is safe: the config refuses it.
///
/// ```
/// use core::time::Duration;
/// use leasehold_core::{ConfigError, LeaseConfig};
///
/// let cfg = LeaseConfig::new(Duration::from_millis(10), 10) // raft-rs tick, election_tick
///     .lease_clock_drift_ppm(100) // the clock the lease is timed with
///     .tick_drift_ppm(600) // the followers' tick timers (NTP-slewed)
///     .margin(Duration::from_millis(5))
///     .clock_resolution(Duration::from_nanos(1))
///     .check_quorum(true);
/// // 90 ms * 0.9999 / 1.0006 = 89.937037 ms (rounded down), minus 5 ms and 1 ns.
/// assert_eq!(cfg.lease_duration(), Ok(Duration::from_nanos(84_937_036)));
///
/// assert_eq!(cfg.check_quorum(false).lease_duration(), Err(ConfigError::CheckQuorumOff));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseConfig {
    tick: Duration,
    election_ticks: usize,
    lease_clock_drift_ppm: Option<u32>,
    tick_drift_ppm: Option<u32>,
    margin: Duration,
    clock_resolution: Option<Duration>,
    check_quorum: bool,
}

#[cfg(feature = "defmt")]
impl defmt::Format for LeaseConfig {
    fn format(&self, f: defmt::Formatter<'_>) {
        use crate::instant::defmt_nanos;
        defmt::write!(
            f,
            "LeaseConfig {{ tick: {=u64}ns, election_ticks: {=usize}, lease_clock_drift_ppm: {}, tick_drift_ppm: {}, margin: {=u64}ns, clock_resolution_ns: {}, check_quorum: {=bool} }}",
            defmt_nanos(self.tick),
            self.election_ticks,
            self.lease_clock_drift_ppm,
            self.tick_drift_ppm,
            defmt_nanos(self.margin),
            self.clock_resolution.map(defmt_nanos),
            self.check_quorum
        )
    }
}

/// Why a [`LeaseConfig`] yields no lease duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// The tick is zero.
    ZeroTick,
    /// Fewer than 2 election ticks leave no whole tick to lease.
    TooFewElectionTicks(usize),
    /// No drift bound was given for the clock the lease is timed with (set
    /// it, or take it from [`ClockInfo`]).
    MissingDrift,
    /// No drift bound was given for the followers' tick timers
    /// ([`LeaseConfig::tick_drift_ppm`]).
    MissingTickDrift,
    /// No clock resolution was given (set it, or take it from [`ClockInfo`]).
    MissingResolution,
    /// A drift of 10^6 ppm (100 %) or more makes every lease unsafe.
    DriftTooLarge(u32),
    /// Check-quorum is off: followers would vote during the lease.
    CheckQuorumOff,
    /// The margin and resolution eat the whole lease.
    NotPositive,
    /// The lease does not fit in a [`Duration`].
    TooLarge,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroTick => f.write_str("tick must be longer than zero"),
            ConfigError::TooFewElectionTicks(n) => {
                write!(f, "election timeout of {n} ticks; at least 2 are needed")
            }
            ConfigError::MissingDrift => {
                f.write_str("no maximum drift was given for the lease clock")
            }
            ConfigError::MissingTickDrift => {
                f.write_str("no maximum drift was given for the followers' tick timers")
            }
            ConfigError::MissingResolution => f.write_str("no clock resolution was given"),
            ConfigError::DriftTooLarge(ppm) => {
                write!(f, "clock drift of {ppm} ppm; it must be below 1000000")
            }
            ConfigError::CheckQuorumOff => {
                f.write_str("check-quorum is off, so followers may vote during a lease")
            }
            ConfigError::NotPositive => {
                f.write_str("margin and clock resolution leave no lease time")
            }
            ConfigError::TooLarge => f.write_str("lease duration does not fit in a Duration"),
        }
    }
}

impl core::error::Error for ConfigError {}

const PPM: u128 = 1_000_000;
const NANOS_PER_SEC: u128 = 1_000_000_000;

impl LeaseConfig {
    /// A config for Raft ticks of `tick` and a vote refusal of
    /// `election_ticks` ticks: raft-rs's `election_tick`, never its
    /// `min_election_tick` (see the type-level docs). Both drift bounds and
    /// the resolution must be set before [`lease_duration`](Self::lease_duration)
    /// succeeds; the margin starts at zero and check-quorum off.
    pub const fn new(tick: Duration, election_ticks: usize) -> LeaseConfig {
        LeaseConfig {
            tick,
            election_ticks,
            lease_clock_drift_ppm: None,
            tick_drift_ppm: None,
            margin: Duration::ZERO,
            clock_resolution: None,
            check_quorum: false,
        }
    }

    /// Takes the lease clock's drift bound and resolution from the clock the
    /// lease will be timed with. The followers' tick timers are another
    /// clock: set [`tick_drift_ppm`](Self::tick_drift_ppm) as well.
    pub const fn clock(self, info: &ClockInfo) -> LeaseConfig {
        self.lease_clock_drift_ppm(info.max_drift_ppm)
            .clock_resolution(info.resolution)
    }

    /// The maximum rate error of the clock the leader times its lease with,
    /// in parts per million.
    pub const fn lease_clock_drift_ppm(mut self, ppm: u32) -> LeaseConfig {
        self.lease_clock_drift_ppm = Some(ppm);
        self
    }

    /// The maximum rate error of the followers' tick timers, in parts per
    /// million: whatever paces their Raft ticks (invariant 18). A tick loop
    /// on `CLOCK_MONOTONIC` runs at the rate the time daemon steers it to:
    /// ntpd slews by at most 500 ppm, chrony by up to 83 333 ppm by default
    /// (`maxslewrate`), and the kernel allows 226 500 ppm in all
    /// (`leasehold-hal-fallback`'s clock table); add the crystal's error.
    /// Give the bound the deployment enforces (for example chrony with
    /// `maxslewrate 500`), not NTP's nominal one. A loop must not fire the
    /// ticks it missed during a stall in a burst after stepping messages
    /// that arrived meanwhile, and each tick must come at least a tick after
    /// the previous one (`leasehold_raft::RaftLease::tick_if_due` does both).
    pub const fn tick_drift_ppm(mut self, ppm: u32) -> LeaseConfig {
        self.tick_drift_ppm = Some(ppm);
        self
    }

    /// One bound for every clock involved: sets both
    /// [`lease_clock_drift_ppm`](Self::lease_clock_drift_ppm) and
    /// [`tick_drift_ppm`](Self::tick_drift_ppm).
    pub const fn max_drift_ppm(self, ppm: u32) -> LeaseConfig {
        self.lease_clock_drift_ppm(ppm).tick_drift_ppm(ppm)
    }

    /// Extra time subtracted for anything else the model does not cover.
    pub const fn margin(mut self, margin: Duration) -> LeaseConfig {
        self.margin = margin;
        self
    }

    /// The resolution of the clock the lease is timed with.
    pub const fn clock_resolution(mut self, resolution: Duration) -> LeaseConfig {
        self.clock_resolution = Some(resolution);
        self
    }

    /// Whether the Raft node runs with check-quorum (required).
    pub const fn check_quorum(mut self, on: bool) -> LeaseConfig {
        self.check_quorum = on;
        self
    }

    /// The Raft tick.
    pub const fn tick(&self) -> Duration {
        self.tick
    }

    /// The vote refusal in ticks (raft-rs's `election_tick`).
    pub const fn election_ticks(&self) -> usize {
        self.election_ticks
    }

    /// The lease duration of invariant 10, or why there is none.
    pub fn lease_duration(&self) -> Result<Duration, ConfigError> {
        if self.tick.is_zero() {
            return Err(ConfigError::ZeroTick);
        }
        if self.election_ticks < 2 {
            return Err(ConfigError::TooFewElectionTicks(self.election_ticks));
        }
        let lease_ppm = self
            .lease_clock_drift_ppm
            .ok_or(ConfigError::MissingDrift)?;
        let tick_ppm = self.tick_drift_ppm.ok_or(ConfigError::MissingTickDrift)?;
        let resolution = self
            .clock_resolution
            .ok_or(ConfigError::MissingResolution)?;
        for ppm in [lease_ppm, tick_ppm] {
            if u128::from(ppm) >= PPM {
                return Err(ConfigError::DriftTooLarge(ppm));
            }
        }
        if !self.check_quorum {
            return Err(ConfigError::CheckQuorumOff);
        }
        let sure_ticks = (self.election_ticks - 1) as u128;
        let scaled = sure_ticks
            .checked_mul(self.tick.as_nanos())
            .and_then(|base| base.checked_mul(PPM - u128::from(lease_ppm)))
            .ok_or(ConfigError::TooLarge)?
            // Integer division rounds down: the lease errs short.
            / (PPM + u128::from(tick_ppm));
        let deductions = self.margin.as_nanos() + resolution.as_nanos();
        let nanos = scaled
            .checked_sub(deductions)
            .filter(|n| *n > 0)
            .ok_or(ConfigError::NotPositive)?;
        let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| ConfigError::TooLarge)?;
        // The remainder is below 10^9, so it fits in u32.
        let subsec = (nanos % NANOS_PER_SEC) as u32;
        Ok(Duration::new(secs, subsec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn base() -> LeaseConfig {
        LeaseConfig::new(ms(10), 10)
            .max_drift_ppm(10_000)
            .margin(ms(5))
            .clock_resolution(Duration::ZERO)
            .check_quorum(true)
    }

    #[test]
    fn worked_example_tick_10ms_10_ticks_1pct_5ms() {
        // (10 - 1) * 10 ms = 90 ms; * 990000 / 1010000 = 88 217 821.78 ns,
        // rounded down; minus 5 ms.
        assert_eq!(
            base().lease_duration(),
            Ok(Duration::from_nanos(83_217_821))
        );
        // A 1 us clock resolution comes off too.
        assert_eq!(
            base()
                .clock_resolution(Duration::from_micros(1))
                .lease_duration(),
            Ok(Duration::from_nanos(83_216_821))
        );
    }

    #[test]
    fn worked_example_without_drift_or_margin() {
        let c = LeaseConfig::new(ms(100), 10)
            .max_drift_ppm(0)
            .clock_resolution(Duration::ZERO)
            .check_quorum(true);
        assert_eq!(c.lease_duration(), Ok(ms(900)));
        // The lease is strictly shorter than the election timeout.
        assert!(c.lease_duration().unwrap() < ms(100) * 10);
    }

    #[test]
    fn worked_example_from_clock_info() {
        let info = ClockInfo {
            name: "test",
            resolution: Duration::from_nanos(1),
            max_drift_ppm: 500,
            counts_suspend: Some(true),
            slewed: Some(false),
        };
        // raft-rs defaults: election_tick 10; a 100 ms tick.
        let c = LeaseConfig::new(ms(100), 10)
            .clock(&info)
            .check_quorum(true);
        // The clock describes the lease clock only; the followers' tick
        // timers are another clock, and their bound must be stated.
        assert_eq!(c.lease_duration(), Err(ConfigError::MissingTickDrift));
        let c = c.tick_drift_ppm(500);
        // 900 ms * 999500 / 1000500 = 899 100 449.77 ns -> 899 100 449, minus 1 ns.
        assert_eq!(c.lease_duration(), Ok(Duration::from_nanos(899_100_448)));
    }

    // Invariant 18: each bound shortens the lease on its own side of the
    // fraction: the lease clock's in the numerator, the tick timers' in the
    // denominator.
    #[test]
    fn lease_clock_and_tick_drift_are_separate_bounds() {
        let c = |lease_ppm, tick_ppm| {
            LeaseConfig::new(ms(100), 10)
                .lease_clock_drift_ppm(lease_ppm)
                .tick_drift_ppm(tick_ppm)
                .clock_resolution(Duration::ZERO)
                .check_quorum(true)
                .lease_duration()
        };
        assert_eq!(c(0, 0), Ok(ms(900)));
        // 900 ms * (1 - 0.001) = 899.1 ms
        assert_eq!(c(1_000, 0), Ok(Duration::from_micros(899_100)));
        // 900 ms / 1.001 = 899 100 899.1 ns, rounded down
        assert_eq!(c(0, 1_000), Ok(Duration::from_nanos(899_100_899)));
        // 900 ms * 0.9999 / 1.0005 = 899 460 269.86 ns
        assert_eq!(c(100, 500), Ok(Duration::from_nanos(899_460_269)));
        // max_drift_ppm sets both.
        assert_eq!(
            LeaseConfig::new(ms(100), 10)
                .max_drift_ppm(1_000)
                .clock_resolution(Duration::ZERO)
                .check_quorum(true)
                .lease_duration(),
            Ok(Duration::from_nanos(898_201_798))
        );
        assert_eq!(c(1_000_000, 0), Err(ConfigError::DriftTooLarge(1_000_000)));
        assert_eq!(c(0, 1_000_000), Err(ConfigError::DriftTooLarge(1_000_000)));
    }

    // Issue 9, item 5: the vote refusal is election_tick; a lease derived
    // from a larger min_election_tick is longer than the refusal.
    #[test]
    fn election_ticks_is_the_vote_refusal() {
        let c = base();
        assert_eq!(c.election_ticks(), 10);
        assert_eq!(c.tick(), ms(10));
        let refusal = ms(10) * 10;
        assert!(c.lease_duration().unwrap() < refusal);
    }

    #[test]
    fn drift_always_shortens() {
        let mut last = Duration::MAX;
        for ppm in [0, 1, 100, 10_000, 500_000, 999_999] {
            let d = base()
                .max_drift_ppm(ppm)
                .margin(Duration::ZERO)
                .lease_duration();
            let d = d.unwrap_or(Duration::ZERO);
            assert!(d < last, "{ppm} ppm gave {d:?}");
            last = d;
        }
    }

    #[test]
    fn every_error() {
        assert_eq!(
            base().check_quorum(false).lease_duration(),
            Err(ConfigError::CheckQuorumOff)
        );
        let mut c = base();
        c.tick = Duration::ZERO;
        assert_eq!(c.lease_duration(), Err(ConfigError::ZeroTick));
        for n in [0, 1] {
            let mut c = base();
            c.election_ticks = n;
            assert_eq!(c.lease_duration(), Err(ConfigError::TooFewElectionTicks(n)));
        }
        assert_eq!(
            base().max_drift_ppm(1_000_000).lease_duration(),
            Err(ConfigError::DriftTooLarge(1_000_000))
        );
        assert_eq!(
            base().max_drift_ppm(u32::MAX).lease_duration(),
            Err(ConfigError::DriftTooLarge(u32::MAX))
        );
        let no_drift = LeaseConfig::new(ms(10), 10)
            .clock_resolution(Duration::ZERO)
            .check_quorum(true);
        assert_eq!(no_drift.lease_duration(), Err(ConfigError::MissingDrift));
        assert_eq!(
            no_drift.lease_clock_drift_ppm(0).lease_duration(),
            Err(ConfigError::MissingTickDrift)
        );
        assert_eq!(
            no_drift.tick_drift_ppm(0).lease_duration(),
            Err(ConfigError::MissingDrift)
        );
        let no_res = LeaseConfig::new(ms(10), 10)
            .max_drift_ppm(0)
            .check_quorum(true);
        assert_eq!(no_res.lease_duration(), Err(ConfigError::MissingResolution));
        // Margin equal to the whole lease: zero is not positive.
        assert_eq!(
            base().max_drift_ppm(0).margin(ms(90)).lease_duration(),
            Err(ConfigError::NotPositive)
        );
        assert_eq!(
            base()
                .max_drift_ppm(0)
                .margin(ms(89))
                .clock_resolution(ms(1))
                .lease_duration(),
            Err(ConfigError::NotPositive)
        );
        assert_eq!(
            base().max_drift_ppm(0).margin(ms(89)).lease_duration(),
            Ok(ms(1))
        );
        assert_eq!(
            base().margin(Duration::MAX).lease_duration(),
            Err(ConfigError::NotPositive)
        );
        // Huge inputs are an error, not a panic or a wrapped value.
        assert_eq!(
            LeaseConfig::new(Duration::MAX, usize::MAX)
                .max_drift_ppm(0)
                .clock_resolution(Duration::ZERO)
                .check_quorum(true)
                .lease_duration(),
            Err(ConfigError::TooLarge)
        );
        // Two ticks: exactly one sure tick.
        let two = LeaseConfig::new(ms(10), 2)
            .max_drift_ppm(0)
            .clock_resolution(Duration::ZERO)
            .check_quorum(true);
        assert_eq!(two.lease_duration(), Ok(ms(10)));
    }

    #[test]
    fn every_error_says_what_is_wrong() {
        extern crate std;
        use std::string::String;
        let cases = [
            (ConfigError::ZeroTick, "tick"),
            (ConfigError::TooFewElectionTicks(1), "1 ticks"),
            (ConfigError::MissingDrift, "lease clock"),
            (ConfigError::MissingTickDrift, "tick timers"),
            (ConfigError::MissingResolution, "resolution"),
            (ConfigError::DriftTooLarge(7), "7 ppm"),
            (ConfigError::CheckQuorumOff, "check-quorum"),
            (ConfigError::NotPositive, "no lease time"),
            (ConfigError::TooLarge, "does not fit"),
        ];
        for (e, needle) in cases {
            let mut s = String::new();
            core::fmt::write(&mut s, format_args!("{e}")).unwrap();
            assert!(s.contains(needle), "{e:?} displays {s:?}");
        }
    }

    #[test]
    fn large_but_representable() {
        let c = LeaseConfig::new(Duration::from_secs(u64::MAX / 4), 3)
            .max_drift_ppm(0)
            .clock_resolution(Duration::ZERO)
            .check_quorum(true);
        assert_eq!(
            c.lease_duration(),
            Ok(Duration::from_secs(u64::MAX / 4 * 2))
        );
    }
}
