//! The routes, and the one rule the declarative router cannot say: an SQS
//! record carrying the `DeadLetterQueueSourceArn` attribute is a
//! [`DeadLetter`], whatever its body.
//!
//! [`OrdersFactory`] is an [`EventFactory`] wrapping the [`Router`]: it
//! takes the dead letters out of an SQS batch and hands everything else to
//! the router, keeping one output per record, in input order. It also names
//! the task type in the error when a Step Functions input has an unknown
//! `type` (the invocation fails, and with it the task).
//!
//! ```
//! use example_orders::factory::OrdersFactory;
//! use eventrail::EventFactory;
//!
//! let routes = OrdersFactory::new().routes();
//! assert!(routes.iter().any(|r| r.matcher.contains("DeadLetterQueueSourceArn")));
//! ```

use std::any::TypeId;

use eventrail::aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use eventrail::aws_lambda_events::event::eventbridge::EventBridgeEvent;
use eventrail::aws_lambda_events::event::kinesis::KinesisEvent;
use eventrail::aws_lambda_events::event::s3::S3Event;
use eventrail::aws_lambda_events::event::sns::SnsEvent;
use eventrail::aws_lambda_events::event::sqs::SqsEvent;
use eventrail::error::RecordError;
use eventrail::factory::{transform_typed, Record, RoutedIter, StepFunctionInput, Transformed};
use eventrail::router::RouteConflict;
use eventrail::routes::RouteInfo;
use eventrail::source::RawEvent;
use eventrail::{EventFactory, Router, Source};

use crate::events::{
    CsvImport, DeadLetter, FileUpload, Notification, Order, ProcessOrder, Product, SyncRequest,
    User, DEAD_LETTER_SOURCE_ATTRIBUTE,
};

/// The declarative routes (everything but dead letters).
pub fn router() -> Router {
    Router::new()
        .sqs("type", "NOTIFICATION")
        .to::<Notification>()
        .sqs("type", "SYNC_REQUEST")
        .to::<SyncRequest>()
        .s3()
        .prefix("imports/csv/")
        .to::<CsvImport>()
        .s3()
        .prefix("uploads/")
        .to::<FileUpload>()
        .dynamodb("ORDER#")
        .to::<Order>()
        .dynamodb("PRODUCT#")
        .to::<Product>()
        .dynamodb("USER#")
        .to::<User>()
        .step_function("CSV_IMPORT")
        .to::<CsvImport>()
        .step_function("ORDER_PROCESS")
        .to::<ProcessOrder>()
}

/// The Step Functions task types the app knows.
pub const TASK_TYPES: [&str; 2] = ["CSV_IMPORT", "ORDER_PROCESS"];

/// The app's factory. See the [module docs](self).
#[derive(Debug)]
pub struct OrdersFactory {
    router: Router,
}

impl Default for OrdersFactory {
    fn default() -> Self {
        Self::new()
    }
}

impl OrdersFactory {
    /// The order routes, and dead letters.
    pub fn new() -> Self {
        Self { router: router() }
    }

    /// Whether `event` takes the typed path: Step Functions tasks, and SQS
    /// batches that may carry dead letters (the router's raw path is for
    /// the rest).
    fn typed_path(&self, event: &RawEvent<'_>) -> bool {
        match event.source() {
            Source::Sqs => may_carry_dead_letters(event.payload()),
            Source::StepFunctions => true,
            _ => false,
        }
    }
}

/// Whether an SQS payload may carry the dead-letter attribute: its name as
/// a JSON key anywhere in it, found in one pass over the whole payload. A
/// body mentioning the name is JSON-escaped (`\"`), so it never matches; a
/// false positive would only cost the typed path, which checks for real.
fn may_carry_dead_letters(payload: &str) -> bool {
    let name = DEAD_LETTER_SOURCE_ATTRIBUTE;
    memchr::memmem::find_iter(payload.as_bytes(), name.as_bytes())
        .any(|at| payload[..at].ends_with('"') && payload[at + name.len()..].starts_with('"'))
}

impl EventFactory for OrdersFactory {
    fn transform_raw(&self, event: &RawEvent<'_>) -> Transformed {
        self.transform_raw_iter(event).collect()
    }

    fn transform_raw_iter<'e>(&'e self, event: &'e RawEvent<'_>) -> RoutedIter<'e> {
        if self.typed_path(event) {
            Box::new(transform_typed(self, event).into_vec().into_iter())
        } else {
            self.router.transform_raw_iter(event)
        }
    }

    fn transform_sqs(&self, event: SqsEvent) -> Transformed {
        event
            .records
            .into_iter()
            .flat_map(|m| match DeadLetter::from_message(&m) {
                Some(dead) => Transformed::from_iter([Record::sqs(&m).event(dead)]),
                None => {
                    let mut one = SqsEvent::default();
                    one.records.push(m);
                    self.router.transform_sqs(one)
                }
            })
            .collect()
    }

    fn transform_s3(&self, event: S3Event) -> Transformed {
        self.router.transform_s3(event)
    }

    fn transform_sns(&self, event: SnsEvent) -> Transformed {
        self.router.transform_sns(event)
    }

    fn transform_step_function(&self, input: StepFunctionInput) -> Transformed {
        let kind = input.input.get("type").and_then(|t| t.as_str());
        if kind.is_some_and(|k| TASK_TYPES.contains(&k)) {
            return self.router.transform_step_function(input);
        }
        let reason = match kind {
            Some(k) => format!("unknown Step Functions task type {k:?}"),
            None => "the Step Functions input has no string `type`".into(),
        };
        let err = RecordError::no_route(format!("{reason}; expected one of {TASK_TYPES:?}"));
        Transformed::from_iter([Record::step_function(&input).fail(err)])
    }

    fn transform_dynamodb_stream(&self, event: DynamoDbEvent) -> Transformed {
        self.router.transform_dynamodb_stream(event)
    }

    fn transform_eventbridge(&self, event: EventBridgeEvent) -> Transformed {
        self.router.transform_eventbridge(event)
    }

    fn transform_kinesis(&self, event: KinesisEvent) -> Transformed {
        self.router.transform_kinesis(event)
    }

    fn routes(&self) -> Vec<RouteInfo> {
        let mut routes = vec![RouteInfo {
            source: Source::Sqs,
            matcher: format!("attribute {DEAD_LETTER_SOURCE_ATTRIBUTE} present (any body)"),
            event_type: std::any::type_name::<DeadLetter>(),
            event_type_id: TypeId::of::<DeadLetter>(),
        }];
        routes.extend(self.router.routes());
        routes
    }

    fn check_routes(&self) -> Result<(), RouteConflict> {
        self.router.check_routes()
    }
}
