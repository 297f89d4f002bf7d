//! The Lambda side of an invocation: request id, function ARN and deadline.
//!
//! A Lambda function is told its deadline with every invocation; eventrail
//! stops starting records when it comes close. [`context`] describes an
//! invocation with a chosen time left, measured on tokio's clock so a paused
//! test clock drives it.
//!
//! ```
//! use std::time::Duration;
//! use eventrail_testkit::events::lambda;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let ctx = lambda::context().time_left(Duration::from_secs(3));
//! let inv = ctx.invocation();
//! assert_eq!(inv.deadline, Some(tokio::time::Instant::now() + Duration::from_secs(3)));
//! assert_eq!(inv.request_id.as_deref(), Some(ctx.request_id()));
//! # }
//! ```

use std::time::Duration;

use eventrail::app::Invocation;
use tokio::time::Instant;

use super::{uuid, ACCOUNT, REGION};

/// The function name invocations carry unless told otherwise.
pub const FUNCTION: &str = "eventrail-test";

/// An invocation's context being built. See [`context`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    request_id: String,
    function_name: String,
    memory_mb: u32,
    time_left: Option<Duration>,
}

/// A context with a deterministic request id and no deadline.
pub fn context() -> Context {
    Context {
        request_id: uuid(0x1a, 1),
        function_name: FUNCTION.into(),
        memory_mb: 1024,
        time_left: None,
    }
}

impl Context {
    /// Sets the request id.
    pub fn request_id_is(mut self, id: impl Into<String>) -> Self {
        self.request_id = id.into();
        self
    }

    /// Sets the function name.
    pub fn function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    /// Sets the memory size, in MB.
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }

    /// The invocation ends `d` after [`invocation`](Self::invocation) is called.
    pub fn time_left(mut self, d: Duration) -> Self {
        self.time_left = Some(d);
        self
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The function ARN.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
            self.function_name
        )
    }

    /// The memory size, in MB.
    pub fn memory(&self) -> u32 {
        self.memory_mb
    }

    /// The time the invocation is given, if limited.
    pub fn time_left_at_start(&self) -> Option<Duration> {
        self.time_left
    }

    /// The eventrail [`Invocation`], its deadline counted from tokio's `now`.
    pub fn invocation(&self) -> Invocation {
        let inv = Invocation::new(self.request_id.as_str());
        match self.time_left {
            Some(d) => inv.with_deadline(Instant::now() + d),
            None => inv,
        }
    }
}

impl Default for Context {
    fn default() -> Self {
        context()
    }
}
