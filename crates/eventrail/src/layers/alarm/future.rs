crate::layers::util::boxed_response_future! {
    /// The future of [`AlarmOnFailure`](super::AlarmOnFailure): the inner
    /// call, then the alarm if it failed. A boxed `async` block (the alarm is a
    /// port call, which allocates anyway).
}
