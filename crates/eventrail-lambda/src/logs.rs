//! Log lines written in blocks, not one system call per line (the crate
//! docs' "Logs" section is the user's view of it).
//!
//! A batch with many failures logs one WARN line per failed record. Written
//! one at a time, each line is a `write` to the pipe that Lambda's log
//! capture (or a terminal, or a test harness) reads, and on a large batch
//! those calls cost more than formatting the lines. The subscribers this
//! crate installs therefore write through [`Blocks`]: lines wait in memory
//! and go out together when
//!
//! - [`FLUSH_BYTES`] are waiting,
//! - a line comes while the oldest waiting one is older than [`FLUSH_AGE`],
//! - the invocation ends: the adapter calls [`flush`] before it hands the
//!   response over, and after the start-up line,
//! - a panic is reported: the hook [`flush_on_panic`] installs writes the
//!   waiting lines first, so the lines stay in order (unless the buffer is
//!   in use at that moment: the hook does not wait for it).
//!
//! The price: lines still waiting when the process is killed from outside
//! (a Lambda timeout while a handler blocks its thread) are lost.
//! `EVENTRAIL_LOG_BUFFER=off` (or `0`, `false`) writes every line at once.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Waiting lines are written once they reach this size.
const FLUSH_BYTES: usize = 16 * 1024;

/// A line that comes when the oldest waiting one is older than this writes
/// them all.
const FLUSH_AGE: Duration = Duration::from_millis(100);

/// The variable that turns blocks off.
const ENV: &str = "EVENTRAIL_LOG_BUFFER";

/// Lines on their way to stdout or stderr.
pub(crate) struct Blocks {
    stream: Stream,
    /// Whether lines wait at all (else each one is written as it comes).
    buffered: AtomicBool,
    pending: Mutex<Pending>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

/// Where the JSON logs of the Lambda runtime go.
pub(crate) static STDOUT: Blocks = Blocks::new(Stream::Stdout);
/// Where the logs of the local `invoke` command go.
pub(crate) static STDERR: Blocks = Blocks::new(Stream::Stderr);

impl Blocks {
    const fn new(stream: Stream) -> Self {
        Self {
            stream,
            buffered: AtomicBool::new(true),
            pending: Mutex::new(Pending::new()),
        }
    }

    /// Makes lines wait or not, from [`ENV`] (waiting unless it says
    /// `off`, `0` or `false`).
    pub(crate) fn configure_from_env(&'static self) -> &'static Self {
        let value = std::env::var(ENV).ok();
        self.buffered
            .store(wants_blocks(value.as_deref()), Ordering::Relaxed);
        self
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while the lock was held leaves whole lines behind at worst.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_out(&self, bytes: &[u8]) -> io::Result<()> {
        match self.stream {
            Stream::Stdout => io::stdout().lock().write_all(bytes),
            Stream::Stderr => io::stderr().lock().write_all(bytes),
        }
    }

    /// Writes `pending` out and empties it (a failed write loses the lines,
    /// as it would have lost each one).
    fn drain(&self, pending: &mut Pending) -> io::Result<()> {
        let result = self.write_out(&pending.bytes);
        pending.clear();
        result
    }

    /// Writes the waiting lines.
    pub(crate) fn flush(&self) -> io::Result<()> {
        self.drain(&mut self.lock())
    }

    /// Writes the waiting lines unless the buffer is in use: a panic hook
    /// must not wait for a lock its own thread may hold. Whether it wrote.
    fn flush_if_free(&self) -> bool {
        let mut pending = match self.pending.try_lock() {
            Ok(p) => p,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        let _ = self.drain(&mut pending);
        true
    }
}

impl<'a> MakeWriter<'a> for &'static Blocks {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }
}

/// What one log line is written with (the formatter writes a whole line at
/// a time).
pub(crate) struct LineWriter(&'static Blocks);

impl Write for LineWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let blocks = self.0;
        if !blocks.buffered.load(Ordering::Relaxed) {
            blocks.write_out(line)?;
            return Ok(line.len());
        }
        let mut pending = blocks.lock();
        if pending.push(line, Instant::now()) {
            blocks.drain(&mut pending)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Lines wait on purpose; `Blocks::flush` writes them.
        Ok(())
    }
}

/// The waiting lines and when the oldest came.
struct Pending {
    bytes: Vec<u8>,
    since: Option<Instant>,
}

impl Pending {
    const fn new() -> Self {
        Self {
            bytes: Vec::new(),
            since: None,
        }
    }

    /// Adds `line`, come at `now`: whether the lines are due to be written.
    fn push(&mut self, line: &[u8], now: Instant) -> bool {
        let since = *self.since.get_or_insert(now);
        self.bytes.extend_from_slice(line);
        self.bytes.len() >= FLUSH_BYTES || now.saturating_duration_since(since) >= FLUSH_AGE
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.since = None;
    }
}

/// Whether [`ENV`] set to `value` lets lines wait.
fn wants_blocks(value: Option<&str>) -> bool {
    !value.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "off" | "0" | "false"
        )
    })
}

/// Writes the lines waiting for stdout and stderr.
pub(crate) fn flush() {
    let _ = STDOUT.flush();
    let _ = STDERR.flush();
}

/// Wraps the process's panic hook so that the waiting lines are written
/// before the panic is reported.
pub(crate) fn flush_on_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        STDOUT.flush_if_free();
        STDERR.flush_if_free();
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wait_until_enough_bytes_are_waiting() {
        let mut p = Pending::new();
        let t = Instant::now();
        let line = [b'x'; 100];
        let mut pushes = 0;
        while !p.push(&line, t) {
            pushes += 1;
        }
        // The line that reached the size made them due, and none is lost.
        assert_eq!(pushes + 1, FLUSH_BYTES.div_ceil(100));
        assert_eq!(p.bytes.len(), (pushes + 1) * 100);
        p.clear();
        assert!(p.bytes.is_empty());
        assert!(!p.push(b"next\n", t), "a cleared buffer starts again");
    }

    #[test]
    fn an_old_waiting_line_makes_the_next_one_write_both() {
        let mut p = Pending::new();
        let t = Instant::now();
        assert!(!p.push(b"first\n", t));
        assert!(!p.push(b"soon\n", t + FLUSH_AGE / 2));
        assert!(p.push(b"late\n", t + FLUSH_AGE));
        assert_eq!(p.bytes, b"first\nsoon\nlate\n");
        p.clear();
        // The age counts from the oldest line waiting now.
        assert!(!p.push(b"again\n", t + FLUSH_AGE * 2));
    }

    #[test]
    fn the_panic_flush_does_not_wait_for_a_held_buffer() {
        static B: Blocks = Blocks::new(Stream::Stderr);
        let held = B.lock();
        assert!(!B.flush_if_free(), "held: skipped, not waited for");
        drop(held);
        assert!(B.flush_if_free());
    }

    #[test]
    fn the_variable_turns_blocks_off() {
        for v in ["off", "0", "false", " OFF "] {
            assert!(!wants_blocks(Some(v)), "{v:?}");
        }
        for v in [None, Some("on"), Some("1"), Some("")] {
            assert!(wants_blocks(v), "{v:?}");
        }
    }
}
