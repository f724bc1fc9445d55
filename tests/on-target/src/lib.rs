//! Shared scaffolding of the on-target tests: a panic handler that reports
//! over semihosting and exits non-zero, `check!` (panics, so fails the run,
//! when a condition does not hold), `println!`, the entry attribute of the
//! architecture's runtime, and the periodic interrupt the interrupt tests
//! use ([`ticker`]).
//!
//! Everything here runs with leasehold's default features and no
//! portable-atomic: the only choice the binaries make is their
//! critical-section provider (`cortex-m`'s `critical-section-single-core`,
//! `riscv`'s `critical-section-single-hart`, see Cargo.toml).
#![no_std]

use core::cell::Cell;

use critical_section::Mutex;

#[cfg(target_arch = "arm")]
use cortex_m as _; // the critical-section provider
#[cfg(target_arch = "arm")]
pub use cortex_m_rt::entry;
#[cfg(target_arch = "riscv32")]
pub use riscv_rt::entry;

pub mod ticker;

/// Checks passed so far (from any context: counted in a critical section,
/// since thumbv6m has no atomic read-modify-write).
static CHECKS: Mutex<Cell<u32>> = Mutex::new(Cell::new(0));

#[doc(hidden)]
pub fn note_check() {
    critical_section::with(|cs| {
        let c = CHECKS.borrow(cs);
        c.set(c.get() + 1)
    })
}

/// Number of checks passed so far.
pub fn checks() -> u32 {
    critical_section::with(|cs| CHECKS.borrow(cs).get())
}

/// Fails the test (panics, which exits QEMU with status 1) if `$cond` is false.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {{
        if $cond {
            $crate::note_check();
        } else {
            panic!("check failed: {}", stringify!($cond));
        }
    }};
    ($cond:expr, $($arg:tt)+) => {{
        if $cond {
            $crate::note_check();
        } else {
            panic!("check failed: {}: {}", stringify!($cond), format_args!($($arg)+));
        }
    }};
}

/// Prints a line through semihosting (not in defmt builds, whose stream
/// must not be mixed with plain prints).
#[cfg(not(feature = "defmt"))]
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

#[doc(hidden)]
#[cfg(not(feature = "defmt"))]
pub fn print_line(args: core::fmt::Arguments<'_>) {
    #[cfg(target_arch = "arm")]
    cortex_m_semihosting::hprintln!("{}", args);
    #[cfg(target_arch = "riscv32")]
    semihosting::println!("{}", args);
}

/// Ends the QEMU run with status 0 (`true`) or 1.
pub fn exit(success: bool) -> ! {
    #[cfg(target_arch = "arm")]
    {
        use cortex_m_semihosting::debug;
        debug::exit(if success {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }
    #[cfg(target_arch = "riscv32")]
    semihosting::process::exit(if success { 0 } else { 1 });
    #[allow(unreachable_code, clippy::empty_loop)]
    loop {}
}

/// Reports success and exits QEMU with status 0.
pub fn pass(name: &str) -> ! {
    #[cfg(not(feature = "defmt"))]
    println!("{}: ok ({} checks)", name, checks());
    #[cfg(feature = "defmt")]
    defmt::println!("{=str}: ok ({=u32} checks)", name, checks());
    exit(true)
}

#[cfg(not(feature = "defmt"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("FAILED: {}", info);
    exit(false)
}

/// With defmt, the panic message goes through defmt (plain semihosting prints
/// must not be mixed into the defmt stream).
#[cfg(feature = "defmt")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("FAILED: {}", defmt::Display2Format(info));
    exit(false)
}
