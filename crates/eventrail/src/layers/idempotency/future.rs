crate::layers::util::boxed_response_future! {
    /// The future of [`Idempotent`](super::Idempotent): the store's lock, the
    /// call (unless replayed), then the store's update. A boxed `async` block:
    /// three dependent store calls, each an allocating `async_trait` method,
    /// would make a hand-written state machine long for no gain.
}
