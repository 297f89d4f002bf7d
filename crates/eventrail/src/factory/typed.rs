//! The default [`EventFactory::transform_raw`]: each record decoded on its
//! own into its `aws_lambda_events` type, the malformed ones failing alone.

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;

use super::contract::{one_per_record, InputRecords};
use super::{EventFactory, Record, StepFunctionInput, Transformed};
use crate::envelope::Source;
use crate::source::firehose::{self, FirehoseRecord};
use crate::source::kafka::{self, KafkaRecord};
use crate::source::s3_batch::{self, S3BatchTaskRecord};
use crate::source::{
    dynamodb, eventbridge, kinesis, s3, sns, sqs, step_functions, MalformedRecord, RawEvent,
};

/// Decodes each record of `event` into its `aws_lambda_events` type and
/// hands the well-formed ones to `factory`'s transform for the source; the
/// malformed ones fail alone, in their place. What
/// [`EventFactory::transform_raw`] does by default.
pub fn transform_typed<F: EventFactory + ?Sized>(factory: &F, event: &RawEvent<'_>) -> Transformed {
    let records = event.records();
    let source = event.source();
    match source {
        Source::Sqs => split(
            source,
            records,
            |m, ins| ins.push(sqs::record_id(m), sqs::order_key(m)),
            |v| {
                let mut e = SqsEvent::default();
                e.records = v;
                factory.transform_sqs(e)
            },
        ),
        Source::Sns => split(
            source,
            records,
            |r, ins| ins.push(sns::record_id(r), None),
            |v| {
                let mut e = SnsEvent::default();
                e.records = v;
                factory.transform_sns(e)
            },
        ),
        Source::S3 => split(
            source,
            records,
            |r, ins| ins.push_with(|t| s3::write_record_id(r, t), None),
            |v| {
                let mut e = S3Event::default();
                e.records = v;
                factory.transform_s3(e)
            },
        ),
        Source::DynamoDb => split(
            source,
            records,
            |r, ins| ins.push(dynamodb::record_id(r), Some(dynamodb::order_key(r))),
            |v| {
                let mut e = DynamoDbEvent::default();
                e.records = v;
                factory.transform_dynamodb_stream(e)
            },
        ),
        Source::Kinesis => split(
            source,
            records,
            |r, ins| ins.push(kinesis::record_id(r), Some(kinesis::order_key(r))),
            |v| {
                let mut e = KinesisEvent::default();
                e.records = v;
                factory.transform_kinesis(e)
            },
        ),
        Source::Kafka => split(
            source,
            records,
            |r: &KafkaRecord, ins| {
                ins.push_with(|t| kafka::write_record_id(r, t), Some(&kafka::order_key(r)))
            },
            |v| {
                // The batch's own fields, without its records (already split).
                let mut batch = kafka::envelope(event.payload());
                batch.records = v;
                factory.transform_kafka(batch)
            },
        ),
        Source::S3Batch => split(
            source,
            records,
            |t: &S3BatchTaskRecord, ins| ins.push(s3_batch::record_id(t), None),
            |v| {
                let mut event = s3_batch::envelope(event.payload());
                event.tasks = v;
                factory.transform_s3_batch(event)
            },
        ),
        Source::Firehose => split(
            source,
            records,
            |r: &FirehoseRecord, ins| ins.push(firehose::record_id(r), None),
            |v| {
                let mut event = firehose::envelope(event.payload());
                event.records = v;
                factory.transform_firehose(event)
            },
        ),
        Source::EventBridge => split(
            source,
            records,
            |e, ins| ins.push(eventbridge::record_id(e), None),
            |v: Vec<EventBridgeEvent>| {
                v.into_iter()
                    .flat_map(|e| factory.transform_eventbridge(e))
                    .collect()
            },
        ),
        Source::StepFunctions => split(
            source,
            records,
            |_, ins| ins.push(step_functions::RECORD_ID, None),
            |v: Vec<serde_json::Value>| {
                v.into_iter()
                    .flat_map(|input| {
                        factory.transform_step_function(StepFunctionInput::from_json(input))
                    })
                    .collect()
            },
        ),
        _ => records
            .iter()
            .map(|_| Record::new("", source).unmatched())
            .collect(),
    }
}

/// Decodes every record on its own, transforms the good ones together
/// (holding the factory to one output per record, see [`one_per_record`]) and
/// puts the malformed ones back in their places.
fn split<T: serde::de::DeserializeOwned>(
    source: Source,
    records: &[&str],
    input: impl Fn(&T, &mut InputRecords),
    transform: impl FnOnce(Vec<T>) -> Transformed,
) -> Transformed {
    let mut good = Vec::with_capacity(records.len());
    let mut bad = Vec::new();
    for (i, raw) in records.iter().enumerate() {
        match serde_json::from_str::<T>(raw) {
            Ok(r) => good.push(r),
            Err(e) => bad.push(MalformedRecord::new(source, i, raw, e.to_string())),
        }
    }
    let mut inputs = InputRecords::with_capacity(good.len());
    for g in &good {
        input(g, &mut inputs);
    }
    let good = if good.is_empty() {
        Vec::new()
    } else {
        one_per_record(source, &inputs, transform(good).into_vec())
    };
    if bad.is_empty() {
        return good.into_iter().collect();
    }
    // `good` has one output per well-formed record: interleave.
    let mut good = good.into_iter();
    let mut bad = bad.into_iter().peekable();
    let mut out = Transformed::with_capacity(records.len());
    for i in 0..records.len() {
        match bad.next_if(|m| m.index() == i) {
            Some(m) => out.push(Record::malformed(m)),
            None => out.extend(good.next()),
        }
    }
    out
}
