//! Metrics of an invocation as one CloudWatch Embedded Metric Format line.
//!
//! [`Emf`] renders what a batch did ([`Report::counts`], the handlers' own
//! metrics and the invocation's duration) as one JSON object in
//! CloudWatch's embedded metric format: written to a Lambda function's
//! stdout, CloudWatch Logs extracts the metrics from it, with no API call and
//! no second metrics library. The Lambda adapter writes the line when metrics
//! are enabled (in code, or with `EVENTRAIL_METRICS=emf`: see
//! [`Emf::from_env`]); nothing is counted or written otherwise, and the
//! counts come from what the app already keeps per record.
//!
//! | metric | unit | what it counts |
//! |---|---|---|
//! | `Records` | Count | input records |
//! | `Done` | Count | records done (acknowledged unmatched ones included) |
//! | `Acknowledged` | Count | unmatched records acknowledged as configured |
//! | `Failed` | Count | records failed |
//! | `FailedRetryable`, `FailedPermanent` | Count | failed records by whether a retry can help |
//! | `Retried` | Count | records a retry layer attempted more than once |
//! | `DuplicatesSkipped` | Count | records an idempotency layer answered from a stored result |
//! | `NotStarted` | Count | records not started because the deadline was too close |
//! | `AlarmsSent`, `AlarmFailures` | Count | alarms the alarm layers published, or failed to |
//! | `DeadLettered`, `DeadLetterFailures` | Count | failed events the dead-letter layers stored, or failed to |
//! | `Duration` | Milliseconds | processing time of the batch |
//!
//! Handlers add their own metrics to the same line with
//! [`Metadata::add_metric`](crate::Metadata::add_metric). The dimensions are
//! `FunctionName` and `Source` unless configured otherwise; the request id
//! is a plain property (`RequestId`), not a dimension.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use eventrail::app::Report;
//! use eventrail::metrics::{Emf, InvocationMetrics, Unit};
//! use eventrail::Source;
//!
//! let emf = Emf::new("Orders").unwrap().function_name("orders-prod");
//! let report = Report::new(Source::Sqs, Vec::new());
//! let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_583_200_000);
//! let line = emf.line(
//!     &InvocationMetrics::new(&report, Duration::from_millis(12), at)
//!         .request_id("r-1")
//!         .metric("InvocationFailed", 0.0, Unit::Count),
//! );
//! let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
//! assert_eq!(doc["_aws"]["Timestamp"], 1_764_583_200_000u64);
//! assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["FunctionName", "Source"]]));
//! assert_eq!((doc["FunctionName"].as_str(), doc["Source"].as_str()), (Some("orders-prod"), Some("sqs")));
//! assert_eq!((doc["Records"].as_u64(), doc["Duration"].as_f64()), (Some(0), Some(12.0)));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::app::{Counts, Report};
use crate::Source;

pub use crate::envelope::HandlerMetric;
pub use crate::unit::Unit;

/// The environment variable that turns metrics on (`emf`) or off (`off`).
pub const METRICS_ENV: &str = "EVENTRAIL_METRICS";
/// The environment variable that names the namespace (default
/// [`DEFAULT_NAMESPACE`]).
pub const NAMESPACE_ENV: &str = "EVENTRAIL_METRICS_NAMESPACE";
/// The namespace when none is configured.
pub const DEFAULT_NAMESPACE: &str = "eventrail";

/// At most this many metric definitions go in one metric directive (the
/// format's limit); more are split over several directives.
const MAX_METRICS_PER_DIRECTIVE: usize = 100;
/// At most this many dimensions in one dimension set.
pub const MAX_DIMENSIONS: usize = 9;
/// Names (namespace, metric, dimension key) are 1 to 255 characters.
const MAX_NAME_CHARS: usize = 255;
/// A dimension value is 1 to 1024 characters.
const MAX_DIMENSION_VALUE_CHARS: usize = 1024;

/// The metrics the line always carries, in the order written.
const BUILT_IN: [&str; 14] = [
    "Records",
    "Done",
    "Acknowledged",
    "Failed",
    "FailedRetryable",
    "FailedPermanent",
    "Retried",
    "DuplicatesSkipped",
    "NotStarted",
    "AlarmsSent",
    "AlarmFailures",
    "DeadLettered",
    "DeadLetterFailures",
    "Duration",
];

/// Why a metrics configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfError {
    message: String,
}

impl fmt::Display for EmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EmfError {}

fn err(message: String) -> EmfError {
    EmfError { message }
}

fn check_name(what: &str, name: &str) -> Result<(), EmfError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(err(format!(
            "{what} `{name}` must be 1 to {MAX_NAME_CHARS} characters (it has {n})"
        )));
    }
    if name == "_aws" {
        return Err(err(format!("{what} `_aws` is the format's own member")));
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum DimensionValue {
    FunctionName,
    Source,
    Fixed(Arc<str>),
}

/// The embedded metric format configuration: namespace, function name and
/// dimensions. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Emf {
    namespace: Arc<str>,
    function_name: Option<Arc<str>>,
    dimensions: Vec<(Arc<str>, DimensionValue)>,
}

impl Emf {
    /// Metrics in `namespace` (1 to 255 characters), with the dimensions
    /// `FunctionName` and `Source`.
    pub fn new(namespace: impl Into<Arc<str>>) -> Result<Self, EmfError> {
        let namespace = namespace.into();
        check_name("the namespace", &namespace)?;
        if namespace.starts_with("AWS/") {
            return Err(err(format!(
                "the namespace `{namespace}` is reserved: AWS/ namespaces are AWS's own"
            )));
        }
        Ok(Self {
            namespace,
            function_name: None,
            dimensions: vec![
                ("FunctionName".into(), DimensionValue::FunctionName),
                ("Source".into(), DimensionValue::Source),
            ],
        })
    }

    /// What the environment asks for: `None` when [`METRICS_ENV`] is unset,
    /// empty or `off`; metrics in the namespace [`NAMESPACE_ENV`] (default
    /// [`DEFAULT_NAMESPACE`]) when it is `emf`.
    ///
    /// # Errors
    ///
    /// Any other value of [`METRICS_ENV`], or an unusable namespace.
    pub fn from_env() -> Result<Option<Self>, EmfError> {
        Self::from_vars(
            std::env::var(METRICS_ENV).ok().as_deref(),
            std::env::var(NAMESPACE_ENV).ok().as_deref(),
        )
    }

    /// [`from_env`](Self::from_env) on given values (tests, or a
    /// configuration read elsewhere).
    pub fn from_vars(
        metrics: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Option<Self>, EmfError> {
        match metrics
            .map(str::trim)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("off") => Ok(None),
            Some("emf") => {
                let ns = namespace.map(str::trim).filter(|n| !n.is_empty());
                Self::new(ns.unwrap_or(DEFAULT_NAMESPACE)).map(Some)
            }
            Some(other) => Err(err(format!(
                "{METRICS_ENV}=`{other}` is not one of `emf`, `off`"
            ))),
        }
    }

    /// The value of the `FunctionName` dimension. The Lambda adapter sets it
    /// from `AWS_LAMBDA_FUNCTION_NAME` when it is not set here.
    pub fn function_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.function_name = Some(name.into());
        self
    }

    /// Whether a function name is set.
    pub fn has_function_name(&self) -> bool {
        self.function_name.is_some()
    }

    /// Adds the dimension `key` with a fixed `value` (e.g. `Stage` = `prod`).
    ///
    /// # Errors
    ///
    /// A key that is not 1 to 255 characters, clashes with a metric or
    /// another dimension, a value that is not 1 to 1024 characters, or more
    /// than [`MAX_DIMENSIONS`] dimensions.
    pub fn dimension(
        mut self,
        key: impl Into<Arc<str>>,
        value: impl Into<Arc<str>>,
    ) -> Result<Self, EmfError> {
        let (key, value) = (key.into(), value.into());
        check_name("the dimension", &key)?;
        if BUILT_IN.contains(&&*key) || RESERVED_PROPERTIES.contains(&&*key) {
            return Err(err(format!(
                "the dimension `{key}` clashes with a member of the line"
            )));
        }
        if self.dimensions.iter().any(|(k, _)| *k == key) {
            return Err(err(format!("the dimension `{key}` is given twice")));
        }
        if self.dimensions.len() >= MAX_DIMENSIONS {
            return Err(err(format!("more than {MAX_DIMENSIONS} dimensions")));
        }
        let n = value.chars().count();
        if n == 0 || n > MAX_DIMENSION_VALUE_CHARS {
            return Err(err(format!(
                "the value of dimension `{key}` must be 1 to {MAX_DIMENSION_VALUE_CHARS} characters"
            )));
        }
        self.dimensions.push((key, DimensionValue::Fixed(value)));
        Ok(self)
    }

    /// Drops the default dimensions (`FunctionName`, `Source`); the metrics
    /// then have only those added with [`dimension`](Self::dimension) (or
    /// none: one series for the whole namespace).
    pub fn without_default_dimensions(mut self) -> Self {
        self.dimensions
            .retain(|(_, v)| matches!(v, DimensionValue::Fixed(_)));
        self
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The dimension keys, in order.
    pub fn dimension_keys(&self) -> impl Iterator<Item = &str> {
        self.dimensions.iter().map(|(k, _)| &**k)
    }

    /// The metrics line of one invocation: one JSON object, no line break.
    ///
    /// Handler metrics and extra metrics whose name is unusable (empty,
    /// longer than 255 characters, taken by a built-in metric, a dimension or
    /// a property) or whose value is not finite are left out and logged at
    /// WARN.
    pub fn line(&self, m: &InvocationMetrics<'_>) -> String {
        let mut root = Map::new();
        let mut names: Vec<(Arc<str>, Unit)> = Vec::with_capacity(BUILT_IN.len() + 4);

        let c = &m.counts;
        let counts = [
            c.records,
            c.done,
            c.acknowledged,
            c.failed,
            c.failed_retryable,
            c.failed_permanent,
            c.retried,
            c.duplicates,
            c.not_started,
            c.alarms_sent,
            c.alarm_failures,
            c.dead_lettered,
            c.dead_letter_failures,
        ];
        for (name, n) in BUILT_IN.iter().zip(counts) {
            root.insert((*name).into(), json!(n));
            names.push(((*name).into(), Unit::Count));
        }
        let ms = m.duration.as_secs_f64() * 1000.0;
        root.insert("Duration".into(), json!((ms * 1000.0).round() / 1000.0));
        names.push(("Duration".into(), Unit::Milliseconds));

        let mut keys: Vec<Value> = Vec::with_capacity(self.dimensions.len());
        for (key, value) in &self.dimensions {
            let v: &str = match value {
                DimensionValue::FunctionName => self.function_name.as_deref().unwrap_or("unknown"),
                DimensionValue::Source => m.source.as_str(),
                DimensionValue::Fixed(v) => v,
            };
            root.insert(key.to_string(), json!(v));
            keys.push(json!(key.as_ref()));
        }
        if let Some(id) = m.request_id {
            root.insert("RequestId".into(), json!(id));
        }
        for (k, v) in &m.properties {
            if root.contains_key(*k) || *k == "_aws" {
                tracing::warn!(
                    property = *k,
                    "metrics property clashes with a member of the line; left out"
                );
                continue;
            }
            root.insert((*k).into(), json!(v));
        }
        let extra = m
            .extra
            .iter()
            .map(|(n, v, u)| (Arc::<str>::from(*n), *v, *u))
            .chain(
                m.handler
                    .iter()
                    .map(|h| (Arc::clone(&h.name), h.value, h.unit)),
            );
        for (name, value, unit) in extra {
            let usable = check_name("metric", &name).is_ok() && !root.contains_key(&*name);
            if !usable || !value.is_finite() {
                tracing::warn!(
                    metric = &*name,
                    value,
                    "metric left out of the metrics line: its name is unusable or taken, or its value is not finite"
                );
                continue;
            }
            root.insert(name.to_string(), json!(value));
            names.push((name, unit));
        }

        let directives: Vec<Value> = names
            .chunks(MAX_METRICS_PER_DIRECTIVE)
            .map(|chunk| {
                let metrics: Vec<Value> = chunk
                    .iter()
                    .map(|(n, u)| json!({ "Name": &**n, "Unit": u.as_str() }))
                    .collect();
                json!({
                    "Namespace": &*self.namespace,
                    "Dimensions": [keys.clone()],
                    "Metrics": metrics,
                })
            })
            .collect();
        let millis = m
            .timestamp
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        root.insert(
            "_aws".into(),
            json!({ "Timestamp": millis, "CloudWatchMetrics": directives }),
        );
        Value::Object(root).to_string()
    }
}

/// Members the line writes besides metrics and dimensions.
const RESERVED_PROPERTIES: [&str; 2] = ["RequestId", "_aws"];

/// What one invocation's metrics line says. See [`Emf::line`].
#[derive(Clone, Debug)]
pub struct InvocationMetrics<'a> {
    source: Source,
    counts: Counts,
    handler: Vec<HandlerMetric>,
    duration: Duration,
    timestamp: SystemTime,
    request_id: Option<&'a str>,
    extra: Vec<(&'a str, f64, Unit)>,
    properties: Vec<(&'a str, &'a str)>,
}

impl<'a> InvocationMetrics<'a> {
    /// The metrics of `report`, processed in `duration`, stamped `timestamp`.
    pub fn new(report: &Report, duration: Duration, timestamp: SystemTime) -> Self {
        Self::from_counts(report.source, report.counts(), duration, timestamp)
            .handler_metrics(report.handler_metrics())
    }

    /// The metrics of a batch whose counts are already taken.
    pub fn from_counts(
        source: Source,
        counts: Counts,
        duration: Duration,
        timestamp: SystemTime,
    ) -> Self {
        Self {
            source,
            counts,
            handler: Vec::new(),
            duration,
            timestamp,
            request_id: None,
            extra: Vec::new(),
            properties: Vec::new(),
        }
    }

    /// The metrics handlers added ([`Report::handler_metrics`]).
    pub fn handler_metrics(mut self, metrics: Vec<HandlerMetric>) -> Self {
        self.handler = metrics;
        self
    }

    /// The request id, written as the property `RequestId`.
    pub fn request_id(mut self, id: &'a str) -> Self {
        self.request_id = Some(id);
        self
    }

    /// Adds a metric (the adapter's own, e.g. `InvocationFailed`).
    pub fn metric(mut self, name: &'a str, value: f64, unit: Unit) -> Self {
        self.extra.push((name, value, unit));
        self
    }

    /// Adds a property: a member of the line that is not a metric (e.g. the
    /// batch failure policy).
    pub fn property(mut self, key: &'a str, value: &'a str) -> Self {
        self.properties.push((key, value));
        self
    }
}
