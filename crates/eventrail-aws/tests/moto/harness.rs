//! Finds or starts moto's server, and gives every test an AWS account of its
//! own in it.
//!
//! The server comes from `EVENTRAIL_MOTO_ENDPOINT` (set by `scripts/test`,
//! which installs and starts moto); without it, the tests start
//! `python3 -m moto.server` themselves on a free port of 127.0.0.1 and stop
//! it when the test process exits. Either way a missing or dead server fails
//! the tests with a message that says what to do, within seconds.
//!
//! Tests run in parallel against one server, so nothing is reset between
//! them: each test sends the `x-moto-account-id` header with an account id
//! of its own (moto keeps every account apart), and S3 bucket names, which
//! are global, carry that id too.

#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sns::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The moto release `scripts/services.d/moto.sh` installs.
pub(crate) const MOTO_VERSION: &str = "5.2.1";

static ENDPOINT: OnceLock<Result<String, String>> = OnceLock::new();
/// The pipe whose closing (when the test process exits) stops a moto we started.
static WATCHDOG: Mutex<Option<ChildStdin>> = Mutex::new(None);

/// moto's base URL, such as `http://127.0.0.1:5000`. Panics with advice when
/// there is no usable server.
pub(crate) fn endpoint() -> String {
    match ENDPOINT.get_or_init(find_or_start) {
        Ok(url) => url.clone(),
        Err(msg) => panic!("{msg}"),
    }
}

fn find_or_start() -> Result<String, String> {
    match std::env::var("EVENTRAIL_MOTO_ENDPOINT") {
        Ok(url) if !url.is_empty() => {
            let addr = loopback_addr(&url)?;
            wait_for_listener(addr, Duration::from_secs(10)).map_err(|()| {
                format!(
                    "EVENTRAIL_MOTO_ENDPOINT={url}, but nothing answers there: start moto's server \
                     (scripts/test does) or unset the variable to let the tests start one"
                )
            })?;
            Ok(url)
        }
        _ => start_moto(),
    }
}

/// The socket address of a loopback URL; any other host is refused, since
/// the tests may only talk to this machine.
fn loopback_addr(url: &str) -> Result<SocketAddr, String> {
    let hostport = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("EVENTRAIL_MOTO_ENDPOINT={url}: expected http://127.0.0.1:PORT"))?
        .trim_end_matches('/');
    let addr = hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("EVENTRAIL_MOTO_ENDPOINT={url}: not a host:port"))?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "EVENTRAIL_MOTO_ENDPOINT={url}: the tests only talk to a server on 127.0.0.1"
        ));
    }
    Ok(addr)
}

fn start_moto() -> Result<String, String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let advice = format!(
        "run the tests with scripts/test (it installs and starts moto), or \
         `pip install 'moto[server]=={MOTO_VERSION}'`, or set EVENTRAIL_MOTO_ENDPOINT to a running \
         moto server on 127.0.0.1"
    );
    let probe = Command::new(&python)
        .args(["-c", "import moto.server, flask"])
        .output()
        .map_err(|e| {
            format!("moto's server is not available: cannot run {python}: {e}; {advice}")
        })?;
    if !probe.status.success() {
        return Err(format!(
            "moto's server is not available: `{python} -c 'import moto.server'` failed: {}; {advice}",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
        .port();
    let log = std::env::temp_dir().join(format!("eventrail-aws-moto-{port}.log"));
    // `sh` starts moto and waits on its stdin, a pipe from this process:
    // when the test process exits the pipe closes and `sh` stops moto.
    let mut child = Command::new("sh")
        .args([
            "-c",
            r#""$0" -m moto.server -H 127.0.0.1 -p "$1" >"$2" 2>&1 & pid=$!; read _ignored; kill $pid"#,
        ])
        .arg(&python)
        .arg(port.to_string())
        .arg(&log)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start moto's server: {e}; {advice}"))?;
    *WATCHDOG.lock().unwrap() = child.stdin.take();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if wait_for_listener(addr, Duration::from_secs(60)).is_err() {
        let mut text = String::new();
        let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
        return Err(format!(
            "moto's server did not start on {addr} within 60 s; its log ({}):\n{text}\n{advice}",
            log.display()
        ));
    }
    Ok(format!("http://{addr}"))
}

fn wait_for_listener(addr: SocketAddr, within: Duration) -> Result<(), ()> {
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(())
}

/// Sends `x-moto-account-id` with every request of a client.
#[derive(Debug)]
struct MotoAccount(String);

impl Intercept for MotoAccount {
    fn name(&self) -> &'static str {
        "MotoAccount"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

/// A fresh 12-digit account id, unique to this test.
fn fresh_account_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    format!("{:012}", 100_000_000_000 + h.finish() % 800_000_000_000)
}

/// One test's view of moto: its own account, and SDK clients bound to it.
#[derive(Clone, Debug)]
pub(crate) struct Aws {
    /// The account id every client of this test sends.
    pub(crate) account: String,
    /// Region, test credentials, moto's endpoint; no SDK retries, so each
    /// error the tests see is the first one.
    pub(crate) sdk: SdkConfig,
}

impl Aws {
    /// A new account in `us-east-1`.
    pub(crate) fn new() -> Self {
        Self::in_region("us-east-1")
    }

    /// A new account in `region`.
    pub(crate) fn in_region(region: &'static str) -> Self {
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "moto",
            )))
            .endpoint_url(endpoint())
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(60))
                    .build(),
            )
            .build();
        Self {
            account: fresh_account_id(),
            sdk,
        }
    }

    /// A name unique to this test: `prefix-ACCOUNT-N`.
    pub(crate) fn name(&self, prefix: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        format!(
            "{prefix}-{}-{}",
            self.account,
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    pub(crate) fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&self.sdk)
                .interceptor(MotoAccount(self.account.clone()))
                .build(),
        )
    }

    pub(crate) fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&self.sdk)
                .interceptor(MotoAccount(self.account.clone()))
                .build(),
        )
    }

    /// An SQS client in moto's default account (no account header).
    pub(crate) fn sqs_in_default_account(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    pub(crate) fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::config::Builder::from(&self.sdk)
                .interceptor(MotoAccount(self.account.clone()))
                .build(),
        )
    }

    pub(crate) fn ses(&self) -> aws_sdk_sesv2::Client {
        aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&self.sdk)
                .interceptor(MotoAccount(self.account.clone()))
                .build(),
        )
    }

    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk)
                .force_path_style(true)
                .interceptor(MotoAccount(self.account.clone()))
                .build(),
        )
    }

    pub(crate) fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&self.sdk)
                .interceptor(MotoAccount(self.account.clone()))
                .build(),
        )
    }
}

/// Calls moto's own API (`/moto-api/...`): returns the status and the body.
pub(crate) async fn moto_api(method: &str, path: &str, body: &str) -> (u16, String) {
    let url = endpoint();
    let addr = loopback_addr(&url).unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("moto at {url}: {e}"));
    // HTTP/1.0: the server closes the connection after one plain response.
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut response))
        .await
        .expect("moto's API answers within 60 s")
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("an HTTP status");
    (status, body.to_owned())
}

/// Turns on moto's Step Functions execution mode, in which state machines
/// really run and task tokens are checked. The setting is server-wide; every
/// test that needs it sets it, none turns it off.
pub(crate) async fn enable_sfn_execution() {
    let (status, body) = moto_api(
        "POST",
        "/moto-api/config",
        r#"{"stepfunctions":{"execute_state_machine":true}}"#,
    )
    .await;
    assert!(status < 300, "moto config: {status} {body}");
}

/// Polls `check` every 100 ms for up to 10 s until it returns `Some`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
