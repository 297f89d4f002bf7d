//! Compile-time checks: what the runtime needs to be `Send + Sync + 'static` is.

use eventrail::app::Invocation;
use eventrail::App;

fn send<T: Send>(_: &T) {}
fn send_sync_static<T: Send + Sync + 'static>() {}

#[test]
fn public_types_and_futures_are_send() {
    send_sync_static::<eventrail_lambda::InvokeError>();
    send_sync_static::<eventrail_lambda::Detected<'static>>();
    send_sync_static::<eventrail_lambda::MalformedRecord>();
    send_sync_static::<eventrail_lambda::Summary>();

    let app = App::builder(eventrail::Router::new(), eventrail::Bus::builder().build())
        .build()
        .unwrap();
    send(&eventrail_lambda::invoke(
        &app,
        b"{}",
        Invocation::default(),
    ));
    send(&eventrail_lambda::invoke_value(
        &app,
        serde_json::Value::Null,
        Invocation::default(),
    ));
    send(&eventrail_lambda::run(app));
}
