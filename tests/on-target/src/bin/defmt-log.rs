//! Logs leasehold values through defmt over semihosting; `.ci/run` decodes
//! the frames with `defmt-print -e <this ELF>` and looks for each line.
#![no_std]
#![no_main]

use core::num::NonZeroU32;
use core::time::Duration;

use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::debug;
use defmt_semihosting as _;
use leasehold_core::{Clock, Instant, Lease, LeaseConfig, QuorumTracker, TrackerError};
use leasehold_hal_embedded::SysTickClock;
use leasehold_on_target as _;

static CLOCK: SysTickClock<16> = SysTickClock::systick(NonZeroU32::new(12_000_000).unwrap(), 50);

#[exception]
fn SysTick() {
    CLOCK.on_wrap();
}

#[entry]
fn main() -> ! {
    let Some(p) = cortex_m::Peripherals::take() else {
        panic!("peripherals taken twice");
    };
    defmt::info!("before start: {}", CLOCK.now());
    CLOCK.start(p.SYST);
    let Ok(t) = CLOCK.now() else {
        panic!("clock did not start");
    };
    defmt::info!("now: {}", t);
    defmt::info!("info: {}", CLOCK.info());
    defmt::info!("clock: {}", CLOCK);

    static LEASE: Lease = Lease::new();
    let stamp = LEASE.stamp(t);
    defmt::info!("stamp: {}", stamp);
    defmt::info!("extend: {}", LEASE.extend(stamp, Duration::from_millis(80)));
    defmt::info!("lease: {}", LEASE);

    let mut tracker: QuorumTracker<3> = QuorumTracker::new(1);
    let joined = tracker.set_membership(&[1, 2, 3], &[]);
    defmt::info!("membership: {}", joined);
    let unknown: Result<_, TrackerError> = tracker.record_ack(9, stamp);
    defmt::info!("ack from 9: {}", unknown);
    defmt::info!("ack from 2: {}", tracker.record_ack(2, stamp));
    defmt::info!("tracker: {}", tracker);
    defmt::info!(
        "config: {}",
        LeaseConfig::new(Duration::from_millis(10), 10).max_drift_ppm(50)
    );
    defmt::info!("far instant: {}", Instant::from_nanos(u64::MAX));
    defmt::info!("defmt-log done");
    debug::exit(debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}
