//! The reference guide's order scenario, end to end. Not written yet.
fn main() {}
