//! Shared scaffolding of the on-target tests: a panic handler that reports
//! over semihosting and exits non-zero, and `check!`, which panics (so fails
//! the run) when a condition does not hold.
#![no_std]

#[doc(hidden)]
pub use portable_atomic;
use portable_atomic::{AtomicU32, Ordering};

#[cfg(not(feature = "defmt"))]
use cortex_m_semihosting::{debug, hprintln};

/// Checks passed so far, so a test can show it really ran.
pub static CHECKS: AtomicU32 = AtomicU32::new(0);

/// Fails the test (panics, which exits QEMU with status 1) if `$cond` is false.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {{
        if $cond {
            $crate::CHECKS.fetch_add(1, $crate::portable_atomic::Ordering::Relaxed);
        } else {
            panic!("check failed: {}", stringify!($cond));
        }
    }};
    ($cond:expr, $($arg:tt)+) => {{
        if $cond {
            $crate::CHECKS.fetch_add(1, $crate::portable_atomic::Ordering::Relaxed);
        } else {
            panic!("check failed: {}: {}", stringify!($cond), format_args!($($arg)+));
        }
    }};
}

/// Reports success and exits QEMU with status 0.
pub fn pass(name: &str) -> ! {
    #[cfg(not(feature = "defmt"))]
    hprintln!("{}: ok ({} checks)", name, CHECKS.load(Ordering::Relaxed));
    #[cfg(feature = "defmt")]
    defmt::println!(
        "{=str}: ok ({=u32} checks)",
        name,
        CHECKS.load(Ordering::Relaxed)
    );
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_SUCCESS);
    #[allow(clippy::empty_loop)]
    loop {}
}

#[cfg(not(feature = "defmt"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("FAILED: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// With defmt, the panic message goes through defmt (plain semihosting prints
/// must not be mixed into the defmt stream).
#[cfg(feature = "defmt")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("FAILED: {}", defmt::Display2Format(info));
    cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Number of checks passed so far.
pub fn checks() -> u32 {
    CHECKS.load(Ordering::Relaxed)
}
