crate::layers::util::boxed_response_future! {
    /// The future of [`TaskToken`](super::TaskToken): the inner call, then the
    /// callback. A boxed `async` block (the callbacks are port calls, which
    /// allocate anyway, and may be retried).
}
