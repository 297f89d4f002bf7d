//! The factory contract, held: one output per input record, in input order,
//! whatever the factory returned.

use super::{Record, Routed};
use crate::envelope::Source;
use crate::error::RecordError;

/// The input records as the app knows them before the factory runs: their
/// ids and order keys, in input order, kept in one buffer (a few allocations
/// per batch, none per record).
#[derive(Debug, Default)]
pub(crate) struct InputRecords {
    text: String,
    /// Per record: the byte range of its id in `text`, and of its order key.
    spans: Vec<(Span, Option<Span>)>,
}

type Span = (usize, usize);

impl InputRecords {
    pub(crate) fn with_capacity(records: usize) -> Self {
        Self {
            text: String::new(),
            spans: Vec::with_capacity(records),
        }
    }

    /// Appends a record whose id `write_id` writes.
    pub(crate) fn push_with(&mut self, write_id: impl FnOnce(&mut String), key: Option<&str>) {
        let start = self.text.len();
        write_id(&mut self.text);
        let id = (start, self.text.len());
        let key = key.map(|k| match self.spans.last() {
            // Consecutive records of one group or stream share their key.
            Some((_, Some(last))) if self.slice(*last) == k => *last,
            _ => {
                let start = self.text.len();
                self.text.push_str(k);
                (start, self.text.len())
            }
        });
        self.spans.push((id, key));
    }

    /// Appends a record.
    pub(crate) fn push(&mut self, id: &str, key: Option<&str>) {
        self.push_with(|t| t.push_str(id), key);
    }

    fn slice(&self, (start, end): Span) -> &str {
        &self.text[start..end]
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The id of record `i`.
    pub(crate) fn id(&self, i: usize) -> &str {
        self.slice(self.spans[i].0)
    }

    /// The order key of record `i`.
    pub(crate) fn order_key(&self, i: usize) -> Option<&str> {
        self.spans[i].1.map(|k| self.slice(k))
    }
}

/// One [`Routed`] per input record, in input order: each input takes the
/// factory output with its id when exactly one output has it (as many outputs
/// as inputs for an id repeated in the batch, matched in order). Every other
/// input fails retryably with [`RecordError::no_output`]; outputs that match
/// no input one-to-one are dropped and logged at ERROR.
///
/// The common case, outputs in input order with the same ids, is one linear
/// pass without hashing.
pub(crate) fn one_per_record(
    source: Source,
    inputs: &InputRecords,
    outputs: Vec<Routed>,
) -> Vec<Routed> {
    if inputs.len() == outputs.len()
        && outputs
            .iter()
            .enumerate()
            .all(|(i, o)| inputs.id(i) == o.record_id())
    {
        return outputs;
    }
    reconcile(source, inputs, outputs)
}

#[cold]
fn reconcile(source: Source, inputs: &InputRecords, outputs: Vec<Routed>) -> Vec<Routed> {
    use std::collections::{HashMap, VecDeque};

    // Per id: how many inputs have it, and its outputs in order.
    let mut by_id: HashMap<&str, (usize, VecDeque<Routed>)> = HashMap::new();
    for i in 0..inputs.len() {
        by_id.entry(inputs.id(i)).or_default().0 += 1;
    }
    let mut strays = 0usize;
    for o in outputs {
        match by_id.get_mut(o.record_id()) {
            Some((_, outs)) => outs.push_back(o),
            None => {
                strays += 1;
                tracing::error!(
                    record_id = o.record_id(),
                    %source,
                    "the factory returned an output for a record that is not in the batch; dropped"
                );
            }
        }
    }
    let mut out = Vec::with_capacity(inputs.len());
    let mut failed = 0usize;
    for i in 0..inputs.len() {
        let id = inputs.id(i);
        let (expected, outs) = by_id.get_mut(id).expect("every input id was counted");
        if *expected == outs.len() {
            if let Some(o) = outs.pop_front() {
                *expected -= 1;
                out.push(o);
                continue;
            }
        }
        let message = match outs.len() {
            0 => "the factory returned no output for this record".to_owned(),
            n => format!(
                "the factory returned {n} outputs for {expected} record(s) with this id; none was run"
            ),
        };
        tracing::error!(
            record_id = id,
            %source,
            outputs = outs.len(),
            "{message}; the record fails and is delivered again"
        );
        failed += 1;
        let mut record = Record::new(id, source);
        if let Some(key) = inputs.order_key(i) {
            record = record.with_order_key(key);
        }
        out.push(record.fail(RecordError::no_output(message)));
    }
    if failed == 0 && strays == 0 {
        tracing::warn!(
            %source,
            records = out.len(),
            "the factory returned its outputs out of input order; matched by record id"
        );
    } else {
        tracing::error!(
            %source,
            records = out.len(),
            failed,
            dropped_outputs = strays,
            "the factory broke its contract of one output per input record"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_records_keep_ids_and_keys_in_one_buffer() {
        let mut inputs = InputRecords::with_capacity(3);
        inputs.push("a", Some("shard-1"));
        inputs.push("b", Some("shard-1"));
        inputs.push_with(|t| t.push_str("c-1"), None);
        let ids: Vec<_> = (0..inputs.len()).map(|i| inputs.id(i)).collect();
        let keys: Vec<_> = (0..inputs.len()).map(|i| inputs.order_key(i)).collect();
        assert_eq!(ids, ["a", "b", "c-1"]);
        assert_eq!(keys, [Some("shard-1"), Some("shard-1"), None]);
        assert_eq!(inputs.text, "ashard-1bc-1", "a shared key is kept once");
    }
}
