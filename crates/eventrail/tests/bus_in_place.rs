//! The bus calls a handler's kept instance in place when it is ready at
//! once; a handler that is not (a bounded buffer whose queue is full) is
//! waited for by a clone, and nothing is left holding a place for nobody.

use std::time::Duration;

use eventrail::{handler_fn, Bus, Envelope, HandlerError, Metadata, Source};

fn env(n: u8) -> Envelope<u8> {
    Envelope::new(n, Metadata::new(format!("r-{n}"), Source::Direct))
}

#[tokio::test]
async fn a_full_bounded_buffer_is_waited_for_and_every_call_answers() {
    // One call at a time behind a one-slot queue: while a call runs, the
    // worker waits for the limit and the queue fills, so the next
    // dispatches find the handler not ready.
    let slow = handler_fn(|e: Envelope<u8>| async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok::<_, HandlerError>(u32::from(*e.event()) * 10)
    });
    let bus = Bus::builder()
        .on(tower::buffer::Buffer::new(
            tower::limit::ConcurrencyLimit::new(slow, 1),
            1,
        ))
        .build();
    let all = async {
        let calls: Vec<_> = (1..=6).map(|n| bus.send(env(n))).collect();
        futures_util::future::join_all(calls).await
    };
    let results = tokio::time::timeout(Duration::from_secs(10), all)
        .await
        .expect("every call answers: no slot is held for a dispatch that is gone");
    let outputs: Vec<u64> = results
        .into_iter()
        .map(|r| r.unwrap().as_u64().unwrap())
        .collect();
    assert_eq!(outputs, [10, 20, 30, 40, 50, 60]);
}
