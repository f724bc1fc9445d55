//! Instant arithmetic, LeaseConfig and the read helpers on the target: the
//! 64-bit checked arithmetic and `Option` niche behave as on the host.
#![no_std]
#![no_main]

use core::time::Duration;

use leasehold_core::{
    plan_read, ClockError, ConfigError, Extension, Instant, Lease, LeaseConfig, ReadPlan,
};
use leasehold_on_target::{check, entry, pass};

fn i(ns: u64) -> Instant {
    match Instant::from_nanos(ns) {
        Some(t) => t,
        None => panic!("zero instant"),
    }
}

#[entry]
fn main() -> ! {
    // Never zero, and the niche makes Option<Instant> a plain u64.
    check!(Instant::from_nanos(0).is_none());
    check!(core::mem::size_of::<Option<Instant>>() == 8);
    check!(i(u64::MAX).as_nanos() == u64::MAX);

    // Checked arithmetic: overflow and reaching zero are None.
    check!(i(10).checked_add(Duration::from_nanos(5)) == Some(i(15)));
    check!(i(u64::MAX).checked_add(Duration::from_nanos(1)).is_none());
    check!(i(1).checked_add(Duration::MAX).is_none());
    check!(i(u64::MAX - 1).checked_add(Duration::from_nanos(1)) == Some(i(u64::MAX)));
    check!(i(10).checked_sub(Duration::from_nanos(10)).is_none());
    check!(i(10).checked_sub(Duration::from_nanos(9)) == Some(i(1)));
    check!(i(10).checked_sub(Duration::MAX).is_none());
    // 2^32 + carry across the 32-bit halves the Cortex-M works in.
    check!(
        i(0xFFFF_FFFF).checked_add(Duration::from_nanos(1)) == Some(i(0x1_0000_0000)),
        "carry into the high word"
    );
    check!(
        i(0x1_0000_0000).checked_duration_since(i(0xFFFF_FFFF)) == Some(Duration::from_nanos(1))
    );
    check!(i(5).checked_duration_since(i(6)).is_none());
    check!(i(5).saturating_duration_since(i(6)) == Duration::ZERO);
    check!(i(u64::MAX).checked_duration_since(i(1)) == Some(Duration::from_nanos(u64::MAX - 1)));
    check!(i(1) < i(2) && i(0x1_0000_0000) > i(0xFFFF_FFFF));

    // LeaseConfig: derived duration and typed errors.
    let cfg = LeaseConfig::new(Duration::from_millis(10), 10)
        .max_drift_ppm(100)
        .clock_resolution(Duration::from_micros(1))
        .margin(Duration::from_millis(1))
        .check_quorum(true);
    let d = cfg.lease_duration();
    check!(matches!(d, Ok(d) if d < Duration::from_millis(89) && d > Duration::from_millis(87)));
    check!(cfg.check_quorum(false).lease_duration() == Err(ConfigError::CheckQuorumOff));
    check!(
        LeaseConfig::new(Duration::from_millis(10), 1)
            .max_drift_ppm(0)
            .clock_resolution(Duration::from_nanos(1))
            .check_quorum(true)
            .lease_duration()
            == Err(ConfigError::TooFewElectionTicks(1))
    );

    // The read helper: a failed clock read never serves locally.
    let lease = Lease::new();
    let s = lease.stamp(i(1_000));
    check!(lease.extend(s, Duration::from_millis(1)) == Extension::Extended);
    check!(plan_read(&lease, Ok(i(1_000))) == ReadPlan::Local);
    check!(matches!(
        plan_read(&lease, Err(ClockError::NotStarted)),
        ReadPlan::Quorum(None)
    ));
    check!(matches!(
        plan_read(&lease, Ok(i(1_001_000))),
        ReadPlan::Quorum(Some(_))
    ));

    pass("instant")
}
