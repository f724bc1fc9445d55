//! Tick-to-nanosecond conversion is exact over the whole `u64` tick range:
//! checked against `u128` arithmetic at the edges and across the range.

use core::num::{NonZeroU32, NonZeroU64};

use leasehold_hal_embedded::{resolution, resolution_u64, ticks_to_nanos, ticks_to_nanos_u64};

const FREQS: [u32; 8] = [
    1,
    3,
    32_768,
    12_000_000,
    48_000_000,
    1_000_000_000,
    3_000_000_007,
    u32::MAX,
];

/// The reference: `floor(ticks * 10^9 / hz)` in `u128`, `None` past `u64::MAX`.
fn reference(ticks: u64, hz: u32) -> Option<u64> {
    u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(hz)).ok()
}

/// The largest tick count whose nanoseconds still fit in a `u64`.
fn last_fitting_tick(hz: u32) -> u64 {
    // ticks * 1e9 / hz < u64::MAX + 1  <=>  ticks < (u64::MAX + 1) * hz / 1e9
    let bound = ((u128::from(u64::MAX) + 1) * u128::from(hz)).div_ceil(1_000_000_000);
    u64::try_from(bound - 1).unwrap_or(u64::MAX)
}

fn hz(f: u32) -> NonZeroU32 {
    NonZeroU32::new(f).unwrap()
}

#[test]
fn exact_at_the_edges() {
    for f in FREQS {
        for ticks in [
            0,
            1,
            u64::from(f) - 1,
            u64::from(f),
            u64::from(f) + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(
                ticks_to_nanos(ticks, hz(f)),
                reference(ticks, f),
                "{ticks} ticks at {f} Hz"
            );
        }
        let last = last_fitting_tick(f);
        assert!(
            ticks_to_nanos(last, hz(f)).is_some(),
            "{f} Hz: last tick fits"
        );
        assert_eq!(ticks_to_nanos(last, hz(f)), reference(last, f));
        if let Some(next) = last.checked_add(1) {
            assert_eq!(
                ticks_to_nanos(next, hz(f)),
                None,
                "{f} Hz: one past the last tick"
            );
        }
    }
    // The spot values: u64::MAX ticks only fit at more than 1 GHz.
    assert_eq!(ticks_to_nanos(u64::MAX, hz(32_768)), None);
    assert_eq!(ticks_to_nanos(u64::MAX, hz(48_000_000)), None);
    assert_eq!(ticks_to_nanos(u64::MAX, hz(1)), None);
    assert_eq!(ticks_to_nanos(u64::MAX, hz(1_000_000_000)), Some(u64::MAX));
    assert_eq!(
        ticks_to_nanos(u64::MAX, hz(u32::MAX)),
        Some(4_294_967_297_000_000_000)
    );
    // Independently computed (Python integers).
    assert_eq!(last_fitting_tick(1), 18_446_744_073);
    assert_eq!(
        ticks_to_nanos(18_446_744_073, hz(1)),
        Some(18_446_744_073_000_000_000)
    );
    assert_eq!(last_fitting_tick(32_768), 604_462_909_807_314);
    assert_eq!(last_fitting_tick(48_000_000), 885_443_715_538_058_477);
}

#[test]
fn exact_across_the_range() {
    // A fixed xorshift sequence, spread over all magnitudes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let ticks = x >> (x % 64);
        for f in FREQS {
            assert_eq!(
                ticks_to_nanos(ticks, hz(f)),
                reference(ticks, f),
                "{ticks} ticks at {f} Hz"
            );
        }
    }
}

#[test]
fn resolution_is_one_tick_rounded_up() {
    for f in FREQS {
        let r = resolution(hz(f)).as_nanos();
        assert!(r >= 1);
        assert!(
            r * u128::from(f) >= 1_000_000_000,
            "{f} Hz: not below one tick"
        );
        assert!(
            (r - 1) * u128::from(f) < 1_000_000_000,
            "{f} Hz: less than 1 ns above"
        );
    }
    assert_eq!(resolution(hz(32_768)).as_nanos(), 30_518);
    assert_eq!(resolution(hz(48_000_000)).as_nanos(), 21);
    assert_eq!(resolution(hz(u32::MAX)).as_nanos(), 1);
}

/// Tick rates for the `u64` variants: the 32-bit ones (their fast path) and
/// rates beyond `u32::MAX`, up to embassy's largest `TICK_HZ` and `u64::MAX`.
const FREQS_U64: [u64; 7] = [
    1,
    32_768,
    1_000_000,
    u32::MAX as u64,
    u32::MAX as u64 + 1,
    5_242_880_000,
    u64::MAX,
];

fn reference_u64(ticks: u64, hz: u64) -> Option<u64> {
    u64::try_from(u128::from(ticks) * 1_000_000_000 / u128::from(hz)).ok()
}

#[test]
fn u64_rates_are_exact_at_the_edges_and_across_the_range() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for f in FREQS_U64 {
        let hz = NonZeroU64::new(f).unwrap();
        for ticks in [0, 1, f - 1, f, f.saturating_add(1), u64::MAX - 1, u64::MAX] {
            assert_eq!(
                ticks_to_nanos_u64(ticks, hz),
                reference_u64(ticks, f),
                "{ticks} ticks at {f} Hz"
            );
        }
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ticks = x >> (x % 64);
            assert_eq!(
                ticks_to_nanos_u64(ticks, hz),
                reference_u64(ticks, f),
                "{ticks} ticks at {f} Hz"
            );
        }
        let r = resolution_u64(hz).as_nanos();
        assert!(r >= 1, "{f} Hz: resolution is never zero");
        assert!(r * u128::from(f) >= 1_000_000_000, "{f} Hz: below one tick");
        assert!(
            (r - 1) * u128::from(f) < 1_000_000_000,
            "{f} Hz: too coarse"
        );
    }
    // Agrees with the u32 variant where both apply.
    for f in FREQS {
        let (a, b) = (hz(f), NonZeroU64::new(u64::from(f)).unwrap());
        assert_eq!(resolution(a), resolution_u64(b));
        assert_eq!(
            ticks_to_nanos(123_456_789_012, a),
            ticks_to_nanos_u64(123_456_789_012, b)
        );
    }
}
