//! Links the binaries as position-dependent executables on Linux.
//!
//! A position-independent executable (PIE, the toolchain's default) is
//! loaded at a random address, so before `main` the dynamic loader patches
//! every absolute pointer in the binary's data (vtables, string tables,
//! static slices): about 34 000 "relative relocations" for this binary,
//! each page it touches copied on write. That was half of a one-record
//! run's page faults and 2.0 M of the loader's 2.6 M cycles (measured with
//! `LD_DEBUG=statistics`; 1.1 M cycles without PIE). A position-dependent
//! executable has its addresses fixed at link time: no relocations, pages
//! read only when used.
//! The trade is address-space layout randomisation of the executable
//! image (libraries, heap and stacks stay randomised); Go's default Linux
//! build makes the same one. Set `EVENTRAIL_PIE=1` to keep a PIE.
//!
//! Only the binaries are affected (`rustc-link-arg-bins`): tests, benches
//! and the library link as usual. The flag is the C compiler driver's, so
//! it works with the system `cc` and with `cargo lambda build`'s zig.

fn main() {
    println!("cargo:rerun-if-env-changed=EVENTRAIL_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let keep_pie = std::env::var_os("EVENTRAIL_PIE").is_some_and(|v| v == "1");
    if linux && !keep_pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
