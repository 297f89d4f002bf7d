//! Compile-time checks: the bus, the app, envelopes and the futures they
//! return can cross threads and live in spawned tasks.

use eventrail::app::{Invocation, SourceEvent};
use eventrail::bus::Dispatch;
use eventrail::{AnyEnvelope, App, Bus, Envelope, Metadata, Router};

fn send_sync_static<T: Send + Sync + 'static>() {}
fn send_static<T: Send + 'static>(_: &T) {}

#[test]
fn core_types_are_send_sync_static() {
    send_sync_static::<Bus>();
    send_sync_static::<App>();
    send_sync_static::<Router>();
    send_sync_static::<Envelope<String>>();
    send_sync_static::<AnyEnvelope>();
    send_sync_static::<Metadata>();
    send_sync_static::<eventrail::BoxError>();
}

#[test]
fn futures_are_send() {
    fn dispatch_is_send(d: Dispatch) {
        send_static(&d);
    }
    let _ = dispatch_is_send;
    fn process_is_send(app: &'static App) {
        let fut = app.process(SourceEvent::Sqs(Default::default()), &INV);
        fn send<T: Send>(_: &T) {}
        send(&fut);
    }
    static INV: std::sync::LazyLock<Invocation> = std::sync::LazyLock::new(Invocation::default);
    let _ = process_is_send;
}
