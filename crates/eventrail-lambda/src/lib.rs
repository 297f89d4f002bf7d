//! Binds an eventrail [`App`](eventrail::App) to the AWS Lambda runtime:
//! source detection, partial batch responses, local invoke.
//!
//! Not written yet: this crate is an empty skeleton so the workspace layout is
//! fixed. Until it lands, drive an app with `eventrail::App::process`.
