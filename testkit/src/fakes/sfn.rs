//! The Step Functions fake.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use eventrail::local::{is_well_formed_token, Call, CallLog, Fault, FaultPlan};
use eventrail::ports::{PortError, TaskCallbacks};
use serde_json::Value;
use tokio::time::Instant;

pub use eventrail::local::{SfnCall, TaskState};

use super::lock;
use crate::events::step_functions::{self, Task as StepFunctionTask};

/// Every token the fake issues starts with this.
const TOKEN_PREFIX: &str = "AQCEAAAAKgAAAA";

/// The timeouts of a simulated task state, measured on tokio's clock (so a
/// paused test clock drives them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskOptions {
    timeout: Option<Duration>,
    heartbeat: Option<Duration>,
}

impl TaskOptions {
    /// No timeout and no heartbeat (the task waits forever, as Step Functions'
    /// default of one year).
    pub fn new() -> Self {
        Self::default()
    }

    /// `TimeoutSeconds`: the task times out this long after it starts.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// `HeartbeatSeconds`: the task times out when no heartbeat (or result)
    /// arrives for this long.
    pub fn heartbeat(mut self, d: Duration) -> Self {
        self.heartbeat = Some(d);
        self
    }
}

#[derive(Debug)]
struct Task {
    state: TaskState,
    started: Instant,
    last_beat: Instant,
    options: TaskOptions,
    heartbeats: u32,
}

impl Task {
    fn running(now: Instant, options: TaskOptions) -> Self {
        Self {
            state: TaskState::Running,
            started: now,
            last_beat: now,
            options,
            heartbeats: 0,
        }
    }

    /// Applies the timeouts at `now`.
    fn tick(&mut self, now: Instant) {
        if self.state != TaskState::Running {
            return;
        }
        let timed_out = self
            .options
            .timeout
            .is_some_and(|t| now >= self.started + t)
            || self
                .options
                .heartbeat
                .is_some_and(|h| now >= self.last_beat + h);
        if timed_out {
            self.state = TaskState::TimedOut;
        }
    }
}

/// An in-memory Step Functions: issues task tokens for simulated
/// `.waitForTaskToken` states and accepts their callbacks.
///
/// Callbacks fail as Step Functions fails them, all permanent: a token the
/// fake never issued is `TaskDoesNotExist` (`InvalidToken` if it is not even
/// shaped like a token), a token already completed or past its timeout or
/// heartbeat is `TaskTimedOut`, output that is not JSON is `InvalidOutput`,
/// and output over 256 KiB (or an over-long error or cause) is
/// `ValidationException`. Timeouts follow tokio's clock.
///
/// ```
/// use std::time::Duration;
/// use eventrail::ports::TaskCallbacks;
/// use eventrail_testkit::fakes::{FakeSfn, TaskOptions, TaskState};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let sfn = FakeSfn::new();
/// let done = sfn.issue_token();
/// let slow = sfn.issue_token_with(TaskOptions::new().heartbeat(Duration::from_secs(60)));
///
/// sfn.send_task_success(&done, r#"{"ok":true}"#).await.unwrap();
/// let again = sfn.send_task_success(&done, "{}").await.unwrap_err();
/// assert_eq!(again.code(), Some("TaskTimedOut"));
///
/// tokio::time::advance(Duration::from_secs(61)).await;
/// let late = sfn.send_task_success(&slow, "{}").await.unwrap_err();
/// assert_eq!(late.code(), Some("TaskTimedOut"));
///
/// assert_eq!(sfn.succeeded(&done), Some(serde_json::json!({"ok": true})));
/// assert_eq!(sfn.state(&slow), Some(TaskState::TimedOut));
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeSfn {
    inner: Arc<Mutex<State>>,
    faults: FaultPlan<SfnCall>,
    calls: CallLog<SfnCall>,
}

#[derive(Debug, Default)]
struct State {
    tasks: HashMap<String, Task>,
    issued: Vec<String>,
    adopt_unknown: bool,
}

fn err(code: &str, message: impl Into<String>) -> PortError {
    PortError::permanent(message).with_code(code)
}

impl FakeSfn {
    /// A fake with no tasks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails the next `n` calls with `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) -> &Self {
        self.faults.fail_next(n, fault);
        self
    }

    /// Fails every call that matches `pred` with `fault`.
    pub fn fail_when(
        &self,
        pred: impl Fn(&SfnCall) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) -> &Self {
        self.faults.fail_when(pred, fault);
        self
    }

    /// Removes every queued fault and predicate.
    pub fn clear_faults(&self) -> &Self {
        self.faults.clear();
        self
    }

    /// The fault plan (shared with this fake).
    pub fn faults(&self) -> &FaultPlan<SfnCall> {
        &self.faults
    }

    /// Every call received so far, failed ones included, in order.
    pub fn calls(&self) -> Vec<Call<SfnCall>> {
        self.calls.calls()
    }

    /// Starts a simulated task state with no timeouts; returns its token.
    pub fn issue_token(&self) -> String {
        self.issue_token_with(TaskOptions::new())
    }

    /// Starts a simulated task state with `options`; returns its token.
    pub fn issue_token_with(&self, options: TaskOptions) -> String {
        let mut state = lock(&self.inner);
        let n = state.issued.len() + 1;
        let token = format!(
            "{TOKEN_PREFIX}{n:08}x{:016x}",
            (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        state
            .tasks
            .insert(token.clone(), Task::running(Instant::now(), options));
        state.issued.push(token.clone());
        token
    }

    /// From now on, a well-formed token the fake did not issue is taken as a
    /// running task when its first callback arrives (and listed in
    /// [`tokens`](Self::tokens)), instead of failing with
    /// `TaskDoesNotExist`: for events recorded from a real state machine,
    /// such as a local `invoke` of a saved task input.
    pub fn adopt_unknown_tokens(&self) -> &Self {
        lock(&self.inner).adopt_unknown = true;
        self
    }

    /// Issues a token and returns the Step Functions task event that carries
    /// it (`{"type": ..., "payload": ..., "taskToken": ...}`), ready to send.
    pub fn task(&self, input: Value) -> (String, StepFunctionTask) {
        self.task_with(input, TaskOptions::new())
    }

    /// Like [`task`](Self::task), for a task state with timeouts.
    pub fn task_with(&self, input: Value, options: TaskOptions) -> (String, StepFunctionTask) {
        let token = self.issue_token_with(options);
        let event = step_functions::task(input, &token);
        (token, event)
    }

    /// The state of `token` now, or `None` if the fake never issued it.
    pub fn state(&self, token: &str) -> Option<TaskState> {
        let mut state = lock(&self.inner);
        let task = state.tasks.get_mut(token)?;
        task.tick(Instant::now());
        Some(task.state.clone())
    }

    /// The output, if `token` succeeded.
    pub fn succeeded(&self, token: &str) -> Option<Value> {
        match self.state(token)? {
            TaskState::Succeeded(v) => Some(v),
            _ => None,
        }
    }

    /// The error name and cause, if `token` failed.
    pub fn failed(&self, token: &str) -> Option<(String, String)> {
        match self.state(token)? {
            TaskState::Failed { error, cause } => Some((error, cause)),
            _ => None,
        }
    }

    /// Whether `token` is still waiting for a result.
    pub fn is_running(&self, token: &str) -> bool {
        self.state(token) == Some(TaskState::Running)
    }

    /// Whether `token` timed out.
    pub fn timed_out(&self, token: &str) -> bool {
        self.state(token) == Some(TaskState::TimedOut)
    }

    /// How many heartbeats `token` accepted.
    pub fn heartbeats(&self, token: &str) -> u32 {
        lock(&self.inner)
            .tasks
            .get(token)
            .map_or(0, |t| t.heartbeats)
    }

    /// Every token issued, in order.
    pub fn tokens(&self) -> Vec<String> {
        lock(&self.inner).issued.clone()
    }
}

impl State {
    /// Checks a token; returns the running task.
    fn running(&mut self, token: &str) -> Result<&mut Task, PortError> {
        if !is_well_formed_token(token) {
            return Err(err("InvalidToken", "Invalid Token"));
        }
        if self.adopt_unknown && !self.tasks.contains_key(token) {
            let now = Instant::now();
            self.tasks
                .insert(token.to_owned(), Task::running(now, TaskOptions::new()));
            self.issued.push(token.to_owned());
        }
        let task = self
            .tasks
            .get_mut(token)
            .ok_or_else(|| err("TaskDoesNotExist", "Task does not exist"))?;
        task.tick(Instant::now());
        match task.state {
            TaskState::Running => Ok(task),
            _ => Err(err(
                "TaskTimedOut",
                "Task Timed Out: 'Provided task does not exist anymore'",
            )),
        }
    }

    fn apply(&mut self, call: &SfnCall) -> Result<(), PortError> {
        call.validate()?;
        match call {
            SfnCall::Success { token, output } => {
                let value: Result<Value, _> = serde_json::from_str(output);
                let task = self.running(token)?;
                let value =
                    value.map_err(|e| err("InvalidOutput", format!("Invalid Output: {e}")))?;
                task.state = TaskState::Succeeded(value);
            }
            SfnCall::Failure {
                token,
                error,
                cause,
            } => {
                let task = self.running(token)?;
                task.state = TaskState::Failed {
                    error: error.clone(),
                    cause: cause.clone(),
                };
            }
            SfnCall::Heartbeat { token } => {
                let task = self.running(token)?;
                task.heartbeats += 1;
                task.last_beat = Instant::now();
            }
            _ => return Err(err("InvalidAction", "unsupported Step Functions call")),
        }
        Ok(())
    }
}

impl FakeSfn {
    fn call(&self, call: SfnCall) -> Result<(), PortError> {
        let mut state = lock(&self.inner);
        self.faults.run(&self.calls, call, |c| state.apply(c))
    }
}

#[async_trait]
impl TaskCallbacks for FakeSfn {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError> {
        self.call(SfnCall::Success {
            token: token.to_owned(),
            output: output.to_owned(),
        })
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError> {
        self.call(SfnCall::Failure {
            token: token.to_owned(),
            error: error.to_owned(),
            cause: cause.to_owned(),
        })
    }

    async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError> {
        self.call(SfnCall::Heartbeat {
            token: token.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventrail::ports::SFN_MAX_OUTPUT_BYTES;

    #[tokio::test(start_paused = true)]
    async fn adopted_tokens_complete_once() {
        let sfn = FakeSfn::new();
        let recorded = "AQCEAAAAKgAAAAMrecordedToken";
        let unknown = sfn.send_task_success(recorded, "{}").await.unwrap_err();
        assert_eq!(unknown.code(), Some("TaskDoesNotExist"));

        sfn.adopt_unknown_tokens();
        sfn.send_task_success(recorded, r#"{"n":1}"#).await.unwrap();
        assert_eq!(sfn.succeeded(recorded), Some(serde_json::json!({"n": 1})));
        assert_eq!(sfn.tokens(), [recorded]);
        let again = sfn.send_task_success(recorded, "{}").await.unwrap_err();
        assert_eq!(again.code(), Some("TaskTimedOut"));
        let bad = sfn
            .send_task_success("not a token!", "{}")
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Some("InvalidToken"));
    }

    #[tokio::test(start_paused = true)]
    async fn error_kinds() {
        let sfn = FakeSfn::new();
        let code = |r: Result<(), PortError>| r.unwrap_err().code().map(str::to_owned);
        assert_eq!(
            code(sfn.send_task_success("not a token!", "{}").await).as_deref(),
            Some("InvalidToken")
        );
        assert_eq!(
            code(sfn.send_task_success("AQCEAAAAKgAAAAunknown", "{}").await).as_deref(),
            Some("TaskDoesNotExist")
        );
        let t = sfn.issue_token();
        assert_eq!(
            code(sfn.send_task_success(&t, "{not json").await).as_deref(),
            Some("InvalidOutput")
        );
        let big = format!("\"{}\"", "x".repeat(SFN_MAX_OUTPUT_BYTES));
        assert_eq!(
            code(sfn.send_task_success(&t, &big).await).as_deref(),
            Some("ValidationException")
        );
        assert!(sfn.is_running(&t), "rejected calls leave the task running");
        sfn.send_task_failure(&t, "OrderError", "no stock")
            .await
            .unwrap();
        assert_eq!(
            sfn.failed(&t),
            Some(("OrderError".into(), "no stock".into()))
        );
        assert_eq!(
            code(sfn.send_task_heartbeat(&t).await).as_deref(),
            Some("TaskTimedOut")
        );
        assert_eq!(sfn.calls().len(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_keep_a_task_alive_until_its_timeout() {
        let sfn = FakeSfn::new();
        let t = sfn.issue_token_with(
            TaskOptions::new()
                .heartbeat(Duration::from_secs(10))
                .timeout(Duration::from_secs(25)),
        );
        for _ in 0..2 {
            tokio::time::advance(Duration::from_secs(9)).await;
            sfn.send_task_heartbeat(&t).await.unwrap();
        }
        assert_eq!(sfn.heartbeats(&t), 2);
        tokio::time::advance(Duration::from_secs(7)).await;
        assert!(sfn.timed_out(&t), "25 s timeout passed despite heartbeats");
    }
}
