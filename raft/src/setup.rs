//! From the `raft::Config` a node runs with to a validated lease timing.

use core::fmt;
use core::time::Duration;

use leasehold_core::{ClockInfo, ConfigError, LeaseConfig};
use raft::{Config, ReadOnlyOption};

/// What the lease needs besides the `raft::Config`: how long a tick is, and
/// what the clocks involved promise.
///
/// Every field is stated on purpose (there is no `Default`): each one is an
/// assumption the lease's safety rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How often the node loop ticks (raft-rs counts everything in
    /// ticks; the loop decides what a tick is).
    pub tick: Duration,
    /// The clock the leader times its lease with (`Clock::info()` of the
    /// clock you pass to the node loop): its drift bound and resolution.
    pub lease_clock: ClockInfo,
    /// The maximum rate error of the followers' tick timers, in ppm: what
    /// paces their ticks, usually a sleep or interval on the slewed
    /// `CLOCK_MONOTONIC`: ntpd slews it by at most 500 ppm, chrony by up to
    /// 83 333 ppm unless `maxslewrate` is lowered, plus the crystal's error
    /// (invariant 18; `LeaseConfig::tick_drift_ppm`): the `tick_clock` of
    /// [`RaftLease::tick_if_due`](crate::RaftLease::tick_if_due), on every
    /// node.
    pub tick_drift_ppm: u32,
    /// Extra time taken off the lease for anything the model does not cover
    /// (scheduling delays between reading the clock and acting, say).
    pub margin: Duration,
    /// Set only on a machine that is never suspended (a server with
    /// suspend disabled). A lease clock that stops while the machine sleeps
    /// (`ClockInfo::counts_suspend` not `Some(true)`: Linux's
    /// `CLOCK_MONOTONIC` and `CLOCK_MONOTONIC_RAW`, macOS's
    /// `mach_absolute_time`) would keep a resumed leader's lease valid for
    /// as long as it slept; without this promise such a clock is refused.
    pub machine_never_suspends: bool,
}

/// Why no lease can be run with a configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SetupError {
    /// raft-rs itself rejects the `raft::Config` (`Config::validate`).
    Raft(String),
    /// `read_only_option` is `LeaseBased`: raft-rs would answer ReadIndex
    /// from its own clockless lease. Use `ReadOnlyOption::Safe`; leasehold
    /// serves the lease reads.
    LeaseBasedReadIndex,
    /// The lease timing is unsafe or incomplete (check-quorum off, drift
    /// bounds, margin).
    Lease(ConfigError),
    /// The lease clock (named) may stop while the machine is suspended, and
    /// `Timing::machine_never_suspends` is not set: use a clock that counts
    /// suspend (`leasehold-hal-linux`'s `SuspendAwareClock`,
    /// `leasehold-hal-darwin`'s `RawClock`).
    ClockMissesSuspend(&'static str),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Raft(e) => write!(f, "invalid raft config: {e}"),
            SetupError::LeaseBasedReadIndex => f.write_str(
                "read_only_option is LeaseBased (raft-rs's clockless lease); use ReadOnlyOption::Safe",
            ),
            SetupError::Lease(e) => write!(f, "no safe lease: {e}"),
            SetupError::ClockMissesSuspend(name) => write!(
                f,
                "the lease clock {name} may stop while the machine is suspended; use a clock that counts suspend, or set Timing::machine_never_suspends"
            ),
        }
    }
}

impl std::error::Error for SetupError {}

impl From<ConfigError> for SetupError {
    fn from(e: ConfigError) -> Self {
        SetupError::Lease(e)
    }
}

/// The [`LeaseConfig`] for a node running `raft` with `timing`.
///
/// The vote refusal is `raft.election_tick` (raft-rs refuses votes only
/// while `election_elapsed < election_tick`, whatever `min_election_tick`
/// says), check-quorum comes from the config, and so the usual mistakes are
/// errors here, at start-up, instead of a lease that is silently too long.
///
/// ```
/// use core::time::Duration;
/// use leasehold_core::{ClockInfo, ConfigError};
/// use leasehold_raft::{lease_config, SetupError, Timing};
///
/// let raft = raft::Config { id: 1, election_tick: 10, heartbeat_tick: 2, check_quorum: true, ..Default::default() };
/// let timing = Timing {
///     tick: Duration::from_millis(10),
///     lease_clock: ClockInfo {
///         name: "example",
///         resolution: Duration::from_nanos(1),
///         max_drift_ppm: 100,
///         counts_suspend: Some(true),
///         slewed: Some(false),
///     },
///     tick_drift_ppm: 600,
///     margin: Duration::from_millis(5),
///     machine_never_suspends: false,
/// };
/// let lease = lease_config(&raft, &timing)?.lease_duration()?;
/// assert_eq!(lease, Duration::from_nanos(84_937_036));
///
/// let no_cq = raft::Config { check_quorum: false, ..raft.clone() };
/// assert_eq!(lease_config(&no_cq, &timing), Err(SetupError::Lease(ConfigError::CheckQuorumOff)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`SetupError`]: the raft config is invalid, uses `LeaseBased` reads,
/// the lease clock may stop in suspend, or the lease timing is not positive
/// / lacks check-quorum.
pub fn lease_config(raft: &Config, timing: &Timing) -> Result<LeaseConfig, SetupError> {
    raft.validate()
        .map_err(|e| SetupError::Raft(e.to_string()))?;
    if raft.read_only_option == ReadOnlyOption::LeaseBased {
        return Err(SetupError::LeaseBasedReadIndex);
    }
    if timing.lease_clock.counts_suspend != Some(true) && !timing.machine_never_suspends {
        return Err(SetupError::ClockMissesSuspend(timing.lease_clock.name));
    }
    let config = LeaseConfig::new(timing.tick, raft.election_tick)
        .clock(&timing.lease_clock)
        .tick_drift_ppm(timing.tick_drift_ppm)
        .margin(timing.margin)
        .check_quorum(raft.check_quorum);
    config.lease_duration()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            tick: Duration::from_millis(10),
            lease_clock: ClockInfo {
                name: "t",
                resolution: Duration::from_nanos(1),
                max_drift_ppm: 0,
                counts_suspend: Some(true),
                slewed: Some(false),
            },
            tick_drift_ppm: 0,
            margin: Duration::ZERO,
            machine_never_suspends: false,
        }
    }

    fn raft() -> Config {
        Config {
            id: 1,
            election_tick: 10,
            heartbeat_tick: 2,
            check_quorum: true,
            ..Default::default()
        }
    }

    #[test]
    fn the_vote_refusal_is_election_tick_not_min_election_tick() {
        let longer = Config {
            min_election_tick: 20,
            max_election_tick: 40,
            ..raft()
        };
        let a = lease_config(&raft(), &timing()).unwrap();
        let b = lease_config(&longer, &timing()).unwrap();
        assert_eq!(a.election_ticks(), 10);
        assert_eq!(b.election_ticks(), 10);
        // 9 sure ticks of 10 ms, minus the 1 ns resolution.
        assert_eq!(b.lease_duration(), Ok(Duration::from_nanos(89_999_999)));
    }

    #[test]
    fn misconfigurations_are_errors_at_start_up() {
        let t = timing();
        let bad = Config {
            min_election_tick: 5,
            ..raft()
        };
        assert!(matches!(lease_config(&bad, &t), Err(SetupError::Raft(_))));
        let lb = Config {
            read_only_option: ReadOnlyOption::LeaseBased,
            ..raft()
        };
        assert_eq!(lease_config(&lb, &t), Err(SetupError::LeaseBasedReadIndex));
        let no_cq = Config {
            check_quorum: false,
            ..raft()
        };
        assert_eq!(
            lease_config(&no_cq, &t),
            Err(SetupError::Lease(ConfigError::CheckQuorumOff))
        );
        let eaten = Timing {
            margin: Duration::from_millis(90),
            ..t
        };
        assert_eq!(
            lease_config(&raft(), &eaten),
            Err(SetupError::Lease(ConfigError::NotPositive))
        );
        assert!(SetupError::LeaseBasedReadIndex.to_string().contains("Safe"));
    }

    // The lease rests on time that passes while a leader sleeps: a clock
    // that stops in suspend (or cannot say) is refused unless the machine
    // is promised never to suspend.
    #[test]
    fn a_lease_clock_that_misses_suspend_needs_a_promise() {
        for counts in [Some(false), None] {
            let mut t = timing();
            t.lease_clock.counts_suspend = counts;
            assert_eq!(
                lease_config(&raft(), &t),
                Err(SetupError::ClockMissesSuspend("t"))
            );
            t.machine_never_suspends = true;
            assert!(lease_config(&raft(), &t).is_ok());
        }
        assert!(SetupError::ClockMissesSuspend("x")
            .to_string()
            .contains("suspend"));
    }
}
