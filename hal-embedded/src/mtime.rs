//! The RISC-V machine timer `mtime` (CLINT / ACLINT MTIMER) as a [`Clock`].

use core::num::NonZeroU32;

use leasehold_core::{Clock, ClockError, ClockInfo, Instant};

use crate::convert::{resolution, ticks_to_nanos};

/// Address of `mtime` on QEMU's `virt` machine (CLINT at `0x0200_0000`,
/// `mtime` at `+0xBFF8`), which counts at [`QEMU_VIRT_MTIME_HZ`].
pub const QEMU_VIRT_MTIME: usize = 0x0200_BFF8;

/// `mtime`'s rate on QEMU's `virt` machine: 10 MHz.
pub const QEMU_VIRT_MTIME_HZ: NonZeroU32 = match NonZeroU32::new(10_000_000) {
    Some(hz) => hz,
    None => unreachable!(),
};

/// A [`Clock`] over the 64-bit memory-mapped machine timer `mtime` of a
/// RISC-V CLINT (or ACLINT MTIMER): no extension needed, it does not wrap
/// for thousands of years.
///
/// `now()` is `1 ns + floor(ticks * 10^9 / hz)`, never zero. `mtime` runs
/// from reset, so there is no `NotStarted`; nanoseconds past `u64::MAX` are
/// [`ClockError::OutOfRange`].
///
/// # Reading on rv32
///
/// There, `mtime` is two 32-bit registers that the hardware increments as
/// one 64-bit value. A read loads the high half, the low half and the high
/// half again. If both high halves agree, the low half was loaded while the
/// high half held that value, so the pair is a value `mtime` really had. If
/// they differ, the low half carried in between; `mtime` was then exactly
/// `high2 << 32` at the moment of the carry, inside the read, so that is
/// returned. No retry, no lock, no wait: every reading is a value `mtime`
/// held during the call, so readings are monotonic across all contexts. On
/// rv64 it is one 64-bit load.
///
/// (`riscv::register::time::read64()` reads the `time` CSR instead, with a
/// retry loop; not every M-mode core implements that CSR.)
///
/// ```no_run
/// use leasehold_core::Clock;
/// use leasehold_hal_embedded::{MtimeClock, QEMU_VIRT_MTIME, QEMU_VIRT_MTIME_HZ};
///
/// // SAFETY: QEMU's virt machine has mtime at this address.
/// static CLOCK: MtimeClock = unsafe { MtimeClock::new(QEMU_VIRT_MTIME, QEMU_VIRT_MTIME_HZ, 50) };
/// let t = CLOCK.now();
/// ```
#[derive(Debug)]
pub struct MtimeClock {
    mtime: usize,
    hz: NonZeroU32,
    max_drift_ppm: u32,
}

impl MtimeClock {
    /// A clock over `mtime` at address `mtime_addr`, counting at `hz`, whose
    /// oscillator is within `max_drift_ppm` parts per million of it.
    ///
    /// # Safety
    ///
    /// `mtime_addr` must be the address of the machine's 64-bit `mtime`
    /// register (8-byte aligned; low half first), readable from every
    /// context that calls `now()` for the whole program, with reads that
    /// have no side effects.
    #[allow(unsafe_code)] // the caller vouches for the address
    pub const unsafe fn new(mtime_addr: usize, hz: NonZeroU32, max_drift_ppm: u32) -> MtimeClock {
        MtimeClock {
            mtime: mtime_addr,
            hz,
            max_drift_ppm,
        }
    }

    /// `mtime` in ticks.
    #[inline]
    pub fn ticks(&self) -> u64 {
        #[cfg(target_pointer_width = "64")]
        {
            // SAFETY: `new`'s contract: an aligned, readable, side-effect
            // free 64-bit register.
            #[allow(unsafe_code)]
            unsafe {
                core::ptr::read_volatile(self.mtime as *const u64)
            }
        }
        #[cfg(not(target_pointer_width = "64"))]
        {
            let lo = self.mtime as *const u32;
            let hi = (self.mtime + 4) as *const u32;
            // SAFETY: `new`'s contract: both halves are aligned, readable
            // and side-effect free.
            #[allow(unsafe_code)]
            let (h1, l, h2) = unsafe {
                (
                    core::ptr::read_volatile(hi),
                    core::ptr::read_volatile(lo),
                    core::ptr::read_volatile(hi),
                )
            };
            join_split_read(h1, l, h2)
        }
    }
}

/// The value of a 64-bit counter read as high half `h1`, low half `l`, high
/// half `h2` (see [`MtimeClock`]): `h1:l` if the high half did not change,
/// else `h2:0`, the value at the carry.
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
pub(crate) const fn join_split_read(h1: u32, l: u32, h2: u32) -> u64 {
    if h1 == h2 {
        (h1 as u64) << 32 | l as u64
    } else {
        (h2 as u64) << 32
    }
}

impl Clock for MtimeClock {
    fn now(&self) -> Result<Instant, ClockError> {
        ticks_to_nanos(self.ticks(), self.hz)
            .and_then(|ns| ns.checked_add(1))
            .and_then(Instant::from_nanos)
            .ok_or(ClockError::OutOfRange)
    }

    fn info(&self) -> ClockInfo {
        ClockInfo {
            name: "mtime",
            resolution: resolution(self.hz),
            max_drift_ppm: self.max_drift_ppm,
            counts_suspend: None,
            slewed: Some(false),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for MtimeClock {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "MtimeClock {{ at: {=usize:#x}, hz: {=u32}, max_drift_ppm: {=u32} }}",
            self.mtime,
            self.hz.get(),
            self.max_drift_ppm
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carry_between_the_halves_reads_as_the_carry() {
        assert_eq!(join_split_read(0, 5, 0), 5);
        assert_eq!(join_split_read(7, 0xFFFF_FFFF, 7), 0x7_FFFF_FFFF);
        // The low half was loaded before the carry (0xFFFF_FFFF) or after
        // it (0): either way the reading is the carry, 0x8_0000_0000, not
        // 7:0 (a period back) or 8:0xFFFF_FFFF (a period ahead).
        assert_eq!(join_split_read(7, 0xFFFF_FFFF, 8), 0x8_0000_0000);
        assert_eq!(join_split_read(7, 0, 8), 0x8_0000_0000);
        // Preempted across several carries: still a value mtime held.
        assert_eq!(join_split_read(7, 123, 10), 0xA_0000_0000);
    }

    #[test]
    fn reads_a_register_pair_in_memory() {
        // A stand-in for the register: 0x1_0000_0002 ticks at 10 MHz.
        #[repr(C, align(8))]
        struct Regs([u32; 2]);
        static REGS: Regs = Regs([2, 1]);
        // SAFETY: REGS is an aligned, immutable pair of u32 that lives forever.
        #[allow(unsafe_code)]
        let clock = unsafe { MtimeClock::new(REGS.0.as_ptr() as usize, QEMU_VIRT_MTIME_HZ, 50) };
        assert_eq!(clock.ticks(), 0x1_0000_0002);
        assert_eq!(
            clock.now().map(Instant::as_nanos),
            Ok(1 + 0x1_0000_0002 * 100)
        );
        assert_eq!(clock.info().resolution.as_nanos(), 100);
        assert_eq!(clock.info().name, "mtime");
    }
}
