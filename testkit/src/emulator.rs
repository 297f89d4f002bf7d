//! Run a Lambda binary under a real Lambda Runtime API emulator, in a test.
//!
//! In-process tests ([`TestApp`](crate::TestApp)) drive the app the way the
//! adapter does; this module drives the *built binary* the way Lambda does:
//! [`RuntimeEmulator::start`] starts cargo-lambda's Runtime API emulator
//! (`cargo lambda watch --only-lambda-apis`) on a free 127.0.0.1 port,
//! [`RuntimeEmulator::serve`] starts your function against it, and
//! [`RuntimeEmulator::invoke`] posts a payload to the emulator's Invoke API
//! and returns the status and body Lambda would answer. One function process
//! serves every invocation, as a warm Lambda environment does.
//!
//! Every process is bounded: start-up and each request have a time limit,
//! and the emulator and the function are killed and reaped when the
//! [`RuntimeEmulator`] is dropped, however the test ends.
//!
//! cargo-lambda is found through the `EVENTRAIL_CARGO_LAMBDA` environment
//! variable, else on `PATH` (`pip install cargo-lambda` installs it).
//!
//! ```no_run
//! use eventrail_testkit::emulator::RuntimeEmulator;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut lambda = RuntimeEmulator::start()?;
//! // In an integration test of a binary crate: env!("CARGO_BIN_EXE_my-function").
//! lambda.serve("target/debug/my-function", [("RUST_LOG", "warn")])?;
//! let answer = lambda.invoke(br#"{"Records": []}"#)?;
//! assert_eq!(answer.status, 200);
//! assert_eq!(answer.json()?, serde_json::json!({"batchItemFailures": []}));
//! # Ok(()) }
//! ```

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long the emulator may take to listen, by default.
pub const DEFAULT_STARTUP: Duration = Duration::from_secs(60);
/// How long one invocation may take to answer, by default.
pub const DEFAULT_REQUEST: Duration = Duration::from_secs(60);

/// Why the emulator or the function could not be run or did not answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmulatorError {
    /// cargo-lambda is neither at `EVENTRAIL_CARGO_LAMBDA` nor on `PATH`.
    CargoLambdaMissing,
    /// A process could not be started, or a scratch file written.
    Io {
        /// What was being done.
        doing: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The emulator did not listen within the start-up limit.
    NotListening {
        /// The address it was asked to listen on.
        addr: SocketAddr,
        /// The end of its log.
        log: String,
    },
    /// A process exited while it should have been running.
    Exited {
        /// `emulator` or `function`.
        process: &'static str,
        /// How it exited.
        status: std::process::ExitStatus,
        /// The end of its log.
        log: String,
    },
    /// An invocation got no complete HTTP answer within the request limit.
    NoAnswer {
        /// What went wrong.
        reason: String,
        /// The end of the function's log.
        log: String,
    },
}

impl fmt::Display for EmulatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CargoLambdaMissing => f.write_str(
                "cargo-lambda is not installed: set EVENTRAIL_CARGO_LAMBDA to its path or \
                 `pip install cargo-lambda`",
            ),
            Self::Io { doing, source } => write!(f, "cannot {doing}: {source}"),
            Self::NotListening { addr, log } => write!(
                f,
                "the Runtime API emulator does not listen on {addr}; its log:\n{log}"
            ),
            Self::Exited {
                process,
                status,
                log,
            } => write!(f, "the {process} exited ({status}); its log:\n{log}"),
            Self::NoAnswer { reason, log } => write!(
                f,
                "the invocation got no answer: {reason}; the function's log:\n{log}"
            ),
        }
    }
}

impl std::error::Error for EmulatorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What the Invoke API answered: the HTTP status and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answer {
    /// 200 for a function result, 500 (or another error status) for a
    /// function error reported to the runtime.
    pub status: u16,
    /// The body: the function's JSON response, or Lambda's
    /// `{"errorType", "errorMessage"}` for an error.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body parsed as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// cargo-lambda's Runtime API emulator and, once [`serve`](Self::serve)d, one
/// function process attached to it. See the [module docs](self).
#[derive(Debug)]
pub struct RuntimeEmulator {
    dir: PathBuf,
    addr: SocketAddr,
    request_limit: Duration,
    emulator: Child,
    function: Option<Child>,
}

impl RuntimeEmulator {
    /// Starts the emulator on a free 127.0.0.1 port and waits (at most
    /// [`DEFAULT_STARTUP`]) until it listens.
    pub fn start() -> Result<Self, EmulatorError> {
        Self::start_within(DEFAULT_STARTUP)
    }

    /// [`start`](Self::start) with another start-up limit.
    pub fn start_within(startup: Duration) -> Result<Self, EmulatorError> {
        let cargo_lambda = cargo_lambda().ok_or(EmulatorError::CargoLambdaMissing)?;
        let dir = scratch_dir()?;
        let port = free_port()?;
        let log = log_file(&dir, "emulator")?;
        let emulator = Command::new(&cargo_lambda)
            .args(["lambda", "watch", "--only-lambda-apis"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log.0)
            .stderr(log.1)
            .spawn()
            .map_err(|source| EmulatorError::Io {
                doing: format!("start {}", cargo_lambda.display()),
                source,
            })?;
        let mut this = Self {
            dir,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            request_limit: DEFAULT_REQUEST,
            emulator,
            function: None,
        };
        let deadline = Instant::now() + startup;
        while TcpStream::connect_timeout(&this.addr, Duration::from_millis(200)).is_err() {
            this.check_alive()?;
            if Instant::now() >= deadline {
                return Err(EmulatorError::NotListening {
                    addr: this.addr,
                    log: this.log("emulator"),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(this)
    }

    /// Sets how long one invocation may take (default [`DEFAULT_REQUEST`]).
    pub fn request_limit(&mut self, limit: Duration) -> &mut Self {
        self.request_limit = limit;
        self
    }

    /// The emulator's address (its Invoke API and, under `/.rt`, its Runtime API).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts `binary` as the function, with the environment Lambda gives
    /// (`AWS_LAMBDA_RUNTIME_API` pointing at the emulator, a function name
    /// `_`, 128 MB, version 1) plus `env`. Its stdout and stderr go to one
    /// log, read with [`function_log`](Self::function_log). A function
    /// already served is stopped first.
    pub fn serve<I, K, V>(&mut self, binary: impl AsRef<Path>, env: I) -> Result<(), EmulatorError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        if let Some(mut old) = self.function.take() {
            reap(&mut old);
        }
        let binary = binary.as_ref();
        let log = log_file(&self.dir, "function")?;
        let child = Command::new(binary)
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://{}/.rt", self.addr),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .envs(env)
            .stdin(Stdio::null())
            .stdout(log.0)
            .stderr(log.1)
            .spawn()
            .map_err(|source| EmulatorError::Io {
                doing: format!("start {}", binary.display()),
                source,
            })?;
        self.function = Some(child);
        Ok(())
    }

    /// Posts `payload`, as it is (raw bytes: empty, not UTF-8 or not JSON
    /// reach the emulator unchanged), to the Invoke API and waits for the
    /// answer, at most the request limit. Fails if the emulator or the
    /// function has exited by then.
    pub fn invoke(&mut self, payload: &[u8]) -> Result<Answer, EmulatorError> {
        let answer = post(self.addr, payload, self.request_limit).map_err(|reason| {
            EmulatorError::NoAnswer {
                reason,
                log: self.function_log_tail(),
            }
        });
        self.check_alive()?;
        answer
    }

    /// Fails if the emulator, or the function once served, has exited.
    pub fn check_alive(&mut self) -> Result<(), EmulatorError> {
        if let Ok(Some(status)) = self.emulator.try_wait() {
            return Err(EmulatorError::Exited {
                process: "emulator",
                status,
                log: self.log("emulator"),
            });
        }
        if let Some(function) = &mut self.function {
            if let Ok(Some(status)) = function.try_wait() {
                return Err(EmulatorError::Exited {
                    process: "function",
                    status,
                    log: self.function_log_tail(),
                });
            }
        }
        Ok(())
    }

    /// Stops the function (if served) and returns everything it logged.
    pub fn stop_function(&mut self) -> String {
        if let Some(mut child) = self.function.take() {
            reap(&mut child);
        }
        self.function_log()
    }

    /// Everything the function has logged so far (stdout and stderr).
    pub fn function_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("function.log")).unwrap_or_default()
    }

    fn function_log_tail(&self) -> String {
        self.log("function")
    }

    /// The last 30 lines of a process's log.
    fn log(&self, name: &str) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for RuntimeEmulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.function.take() {
            reap(&mut child);
        }
        reap(&mut self.emulator);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn cargo_lambda() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EVENTRAIL_CARGO_LAMBDA") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("cargo-lambda"))
            .find(|p| p.is_file())
    })
}

/// A fresh directory holding a tiny Cargo package: `cargo lambda watch`
/// reads a manifest from its working directory, and an empty package keeps
/// that fast and offline.
fn scratch_dir() -> Result<PathBuf, EmulatorError> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "eventrail-emulator-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let io = |doing: &str| {
        let doing = format!("{doing} in {}", dir.display());
        move |source| EmulatorError::Io { doing, source }
    };
    std::fs::create_dir_all(dir.join("src")).map_err(io("create a scratch directory"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"emulator-scratch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .map_err(io("write Cargo.toml"))?;
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").map_err(io("write src/main.rs"))?;
    Ok(dir)
}

fn free_port() -> Result<u16, EmulatorError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| EmulatorError::Io {
            doing: "find a free port on 127.0.0.1".into(),
            source,
        })
}

/// One log file for a process's stdout and stderr: one open file, shared,
/// so the two streams append to it instead of overwriting each other.
fn log_file(dir: &Path, name: &str) -> Result<(Stdio, Stdio), EmulatorError> {
    let path = dir.join(format!("{name}.log"));
    let io = |source| EmulatorError::Io {
        doing: format!("create {}", path.display()),
        source,
    };
    let out = File::create(&path).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    Ok((out.into(), err.into()))
}

/// A plain HTTP/1.1 POST to the Invoke API of function `_`.
fn post(addr: SocketAddr, payload: &[u8], limit: Duration) -> Result<Answer, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    s.set_read_timeout(Some(limit)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST /2015-03-31/functions/_/invocations HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    s.write_all(head.as_bytes())
        .and_then(|()| s.write_all(payload))
        .map_err(|e| format!("cannot send the payload: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("no complete answer within {limit:?}: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP response: {:?}", String::from_utf8_lossy(&raw)))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status code in {head:?}"))?;
    let body = raw.split_off(split + 4);
    let body = if head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"))
    {
        dechunk(&body).ok_or("a malformed chunked body")?
    } else {
        body
    };
    Ok(Answer { status, body })
}

/// The body of a `Transfer-Encoding: chunked` response.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(raw.get(..size)?);
        raw = raw.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n").as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(dechunk(b"zz\r\n"), None);
        assert_eq!(dechunk(b"9\r\nshort\r\n"), None);
    }
}
