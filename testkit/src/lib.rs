//! Test support for eventrail applications: in-memory fakes of the ports,
//! builders for AWS event shapes, a harness and property-test strategies.
//!
//! Not written yet: this crate is an empty skeleton so the workspace layout is
//! fixed.
