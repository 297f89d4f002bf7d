//! Benchmarks for eventrail (criterion benches under `benches/`).
//!
//! Not written yet: this crate is an empty skeleton so the workspace layout is
//! fixed.
