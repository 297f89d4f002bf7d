crate::layers::util::boxed_response_future! {
    /// The future of [`DeadLettering`](super::DeadLettering): the inner call,
    /// then the sink if it failed. A boxed `async` block (the sink is an
    /// `async_trait` method, which allocates anyway).
}
