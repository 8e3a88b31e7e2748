//! Prometheus metrics of the persistent queries, served at `GET /metrics` on the REST API's
//! port, followed by the built-in broker's own when the server runs one. Per query: records
//! in and out (totals, and per second between the last two scrapes), lag, processing-log
//! errors, skipped and late records, and its state. `prometheus-client` writes the text
//! format; the numbers are read from the queries' applications at scrape time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::service::KsqlService;

/// More text to append to the scrape (the broker's metrics).
pub type ExtraMetrics = Arc<dyn Fn() -> String + Send + Sync>;

/// One persistent query's numbers at a scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryMetrics {
    /// Its id.
    pub id: String,
    /// `RUNNING`, `ERROR`, ... (as `SHOW QUERIES` says).
    pub state: String,
    /// Records read from its sources.
    pub records_in: u64,
    /// Records written to its sink topic.
    pub records_out: u64,
    /// Records in its input partitions not processed yet.
    pub lag: i64,
    /// Entries in its processing log (rows that failed to read, compute or write).
    pub errors: u64,
    /// Records skipped as undecodable or with invalid timestamps.
    pub skipped: u64,
    /// Records dropped because their window had closed.
    pub late: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueryLabels {
    query_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    query_id: String,
    state: String,
}

/// Gauges of `f64`.
type RateGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// Rates are computed between scrapes: each query's counts at the previous one.
#[derive(Default)]
pub struct Scraper {
    previous: Mutex<HashMap<String, (Instant, u64, u64)>>,
}

impl std::fmt::Debug for Scraper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraper").finish_non_exhaustive()
    }
}

impl Scraper {
    /// The text of one scrape of `service`'s queries, then `extra`'s.
    pub fn scrape(&self, service: &KsqlService, extra: Option<&ExtraMetrics>) -> String {
        let queries = service.query_metrics();
        let mut registry = Registry::with_prefix("eddy_query");
        let records_in = Family::<QueryLabels, Counter>::default();
        let records_out = Family::<QueryLabels, Counter>::default();
        let in_rate = Family::<QueryLabels, RateGauge>::default();
        let out_rate = Family::<QueryLabels, RateGauge>::default();
        let lag = Family::<QueryLabels, Gauge>::default();
        let errors = Family::<QueryLabels, Counter>::default();
        let skipped = Family::<QueryLabels, Counter>::default();
        let late = Family::<QueryLabels, Counter>::default();
        let state = Family::<StateLabels, Gauge>::default();
        let now = Instant::now();
        let mut previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        previous.retain(|id, _| queries.iter().any(|q| &q.id == id));
        for q in &queries {
            let labels = QueryLabels {
                query_id: q.id.clone(),
            };
            records_in.get_or_create(&labels).inc_by(q.records_in);
            records_out.get_or_create(&labels).inc_by(q.records_out);
            lag.get_or_create(&labels).set(q.lag);
            errors.get_or_create(&labels).inc_by(q.errors);
            skipped.get_or_create(&labels).inc_by(q.skipped);
            late.get_or_create(&labels).inc_by(q.late);
            state
                .get_or_create(&StateLabels {
                    query_id: q.id.clone(),
                    state: q.state.clone(),
                })
                .set(1);
            // Since the previous scrape: the first scrape of a query has no rate yet.
            if let Some(&(then, was_in, was_out)) = previous.get(&q.id) {
                let seconds = now.duration_since(then).as_secs_f64().max(1e-3);
                let per_second = |now: u64, was: u64| now.saturating_sub(was) as f64 / seconds;
                in_rate
                    .get_or_create(&labels)
                    .set(per_second(q.records_in, was_in));
                out_rate
                    .get_or_create(&labels)
                    .set(per_second(q.records_out, was_out));
            }
            previous.insert(q.id.clone(), (now, q.records_in, q.records_out));
        }
        drop(previous);
        registry.register(
            "records_in",
            "Records the query read from its sources",
            records_in,
        );
        registry.register(
            "records_out",
            "Records the query wrote to its sink topic",
            records_out,
        );
        registry.register(
            "records_in_per_second",
            "Records read per second since the previous scrape",
            in_rate,
        );
        registry.register(
            "records_out_per_second",
            "Records written per second since the previous scrape",
            out_rate,
        );
        registry.register(
            "lag_records",
            "Records in the query's input partitions not processed yet",
            lag,
        );
        registry.register(
            "processing_errors",
            "Entries in the query's processing log",
            errors,
        );
        registry.register(
            "records_skipped",
            "Records skipped as undecodable or with invalid timestamps",
            skipped,
        );
        registry.register(
            "records_late",
            "Records dropped because their window had closed",
            late,
        );
        registry.register("state", "1 for the query's state", state);
        let push = Gauge::<i64>::default();
        push.set(service.push_queries().len() as i64);
        registry.register("push_queries_open", "Push queries and PRINTs open", push);
        let mut text = String::new();
        encode(&mut text, &registry).expect("writing to a String cannot fail");
        // `encode` ends with `# EOF`, which must be the last line: the broker's text goes
        // before it.
        if let Some(extra) = extra {
            let body = text
                .trim_end()
                .strip_suffix("# EOF")
                .unwrap_or(&text)
                .to_string();
            let broker = extra();
            let broker = broker.trim_end().strip_suffix("# EOF").unwrap_or(&broker);
            text = format!("{body}{}\n# EOF\n", broker.trim_end());
        }
        text
    }
}
