//! Stateless operators (filter, map, flat_map, peek, branch, merge, ...): one node type
//! that applies a batch function, so each operator is a closure over a whole batch.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{
    AnyBatch, Context, Forwarder, InitContext, Node, Processor, PunctuationType, downcast,
};
use crate::record::Record;

/// A function from an input batch to output records.
pub type BatchFn<K, V, KO, VO> =
    Arc<dyn Fn(Vec<Record<K, V>>, &mut Vec<Record<KO, VO>>) + Send + Sync>;

pub(crate) struct StatelessNode<K, V, KO, VO> {
    name: String,
    f: BatchFn<K, V, KO, VO>,
}

impl<K, V, KO, VO> StatelessNode<K, V, KO, VO> {
    pub fn new(name: &str, f: BatchFn<K, V, KO, VO>) -> Self {
        Self {
            name: name.to_string(),
            f,
        }
    }
}

impl<K, V, KO, VO> Node for StatelessNode<K, V, KO, VO>
where
    K: Send + 'static,
    V: Send + 'static,
    KO: Clone + Send + 'static,
    VO: Clone + Send + 'static,
{
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let mut out = Vec::with_capacity(input.len());
        (self.f)(input, &mut out);
        ctx.forward_records(out);
        Ok(())
    }
}

/// Routes each record to the first branch whose predicate holds (children in order; a
/// default branch, if any, is the last child and has an always-true predicate).
pub(crate) struct BranchNode<K, V> {
    name: String,
    predicates: Arc<Vec<super::super::dsl::Predicate<K, V>>>,
}

impl<K, V> BranchNode<K, V> {
    pub fn new(name: &str, predicates: Arc<Vec<super::super::dsl::Predicate<K, V>>>) -> Self {
        Self {
            name: name.to_string(),
            predicates,
        }
    }
}

impl<K, V> Node for BranchNode<K, V>
where
    K: Send + 'static,
    V: Send + 'static,
{
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let mut outs: Vec<Vec<Record<K, V>>> =
            (0..self.predicates.len()).map(|_| Vec::new()).collect();
        for record in input {
            if let Some(i) = self
                .predicates
                .iter()
                .position(|p| p(&record.key, &record.value))
            {
                outs[i].push(record);
            }
        }
        for (i, out) in outs.into_iter().enumerate() {
            if !out.is_empty() {
                ctx.forward_to(i, out);
            }
        }
        Ok(())
    }
}

/// Runs a user [`Processor`] record by record.
pub(crate) struct UserProcessorNode<K, V, KO, VO> {
    name: String,
    processor: Box<dyn Processor<K, V, KO, VO>>,
}

impl<K, V, KO, VO> UserProcessorNode<K, V, KO, VO> {
    pub fn new(name: &str, processor: Box<dyn Processor<K, V, KO, VO>>) -> Self {
        Self {
            name: name.to_string(),
            processor,
        }
    }
}

impl<K, V, KO, VO> Node for UserProcessorNode<K, V, KO, VO>
where
    K: Send + 'static,
    V: Send + 'static,
    KO: Clone + Send + 'static,
    VO: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.processor.init(ctx)
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let mut out = Forwarder {
            records: Vec::new(),
            stream_time: ctx.stream_time(),
            wall_clock_ms: ctx.wall_clock_ms(),
        };
        for record in input {
            self.processor.process(record, &mut out)?;
        }
        ctx.forward_records(out.records);
        Ok(())
    }

    fn punctuate(&mut self, kind: PunctuationType, time: i64, ctx: &mut Context<'_>) -> Result<()> {
        let mut out = Forwarder {
            records: Vec::new(),
            stream_time: ctx.stream_time(),
            wall_clock_ms: ctx.wall_clock_ms(),
        };
        self.processor.punctuate(kind, time, &mut out)?;
        ctx.forward_records(out.records);
        Ok(())
    }
}
