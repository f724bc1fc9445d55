//! The atomics the lease protocol is written against: portable-atomic in
//! normal builds (64-bit atomics on every target, including thumbv6m and
//! thumbv7m), loom's model-checked atomics under `--cfg loom`.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use portable_atomic::{AtomicU64, Ordering};
