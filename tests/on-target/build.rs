//! Picks the memory layout for the QEMU machine of the target and passes the
//! linker scripts (the runtime's link.x, and defmt.x with the defmt feature).
use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // lm3s6965evb (Cortex-M3/M4): 256K flash, 64K RAM. microbit (nRF51,
    // Cortex-M0): 256K flash, 16K RAM. RISC-V virt with -bios none: the ELF
    // is loaded into RAM at 0x8000_0000 and runs from there.
    let memory = if target.starts_with("thumbv6m") {
        "MEMORY { FLASH : ORIGIN = 0x00000000, LENGTH = 256K\n RAM : ORIGIN = 0x20000000, LENGTH = 16K }\n"
    } else if target.starts_with("thumb") {
        "MEMORY { FLASH : ORIGIN = 0x00000000, LENGTH = 256K\n RAM : ORIGIN = 0x20000000, LENGTH = 64K }\n"
    } else {
        "MEMORY { RAM : ORIGIN = 0x80000000, LENGTH = 16M }\n\
         REGION_ALIAS(\"REGION_TEXT\", RAM);\n\
         REGION_ALIAS(\"REGION_RODATA\", RAM);\n\
         REGION_ALIAS(\"REGION_DATA\", RAM);\n\
         REGION_ALIAS(\"REGION_BSS\", RAM);\n\
         REGION_ALIAS(\"REGION_HEAP\", RAM);\n\
         REGION_ALIAS(\"REGION_STACK\", RAM);\n"
    };
    fs::write(out.join("memory.x"), memory).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=build.rs");
    if target.starts_with("riscv") {
        // riscv-rt's link.x includes memory.x only with its `memory` feature.
        println!("cargo:rustc-link-arg=-Tmemory.x");
    }
    if target.starts_with("thumb") || target.starts_with("riscv") {
        println!("cargo:rustc-link-arg=-Tlink.x");
    }
    if target.starts_with("thumb") && env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }
}
