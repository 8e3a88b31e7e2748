//! The log's side of transactions: noting transactional batches and markers as they are
//! appended, writing the markers a coordinator asks for, the last stable offset, and
//! rebuilding that state at open.
//!
//! A partition that has held a transactional batch gets a `transactional` file in its
//! directory; opening such a partition replays the header of every batch (and decodes every
//! control batch) to rebuild its open and aborted transactions. Partitions without the file,
//! which are most of them, skip that. The replay reads headers only, about one read per batch;
//! Kafka keeps a `.txnindex` per segment instead, which Eddy could add if that cost shows.

use bytes::BytesMut;

use super::Log;
use crate::batch::{BatchHeader, ProducedBatch, validate_produce};
use crate::error::{Error, IoContext, Result};
use crate::log::AppendInfo;
use crate::txn::log_state::AbortedTxn;
use crate::txn::markers::{Outcome, decode_marker, encode_marker};

/// The file that says a partition has held transactional batches.
const TRANSACTIONAL_FILE: &str = "transactional";

impl Log {
    /// Creates the marker file (fsynced, with its directory entry) before the first
    /// transactional batch is written, so that a restart knows to rebuild transactions.
    pub(super) fn mark_transactional(&mut self) -> Result<()> {
        super::write_atomically(&self.dir.join(TRANSACTIONAL_FILE), b"")?;
        self.transactional = true;
        Ok(())
    }

    /// Updates producer and transaction state for a batch just appended (`bytes` is the
    /// whole stamped batch).
    pub(super) fn note_batch(
        &mut self,
        header: &BatchHeader,
        bytes: &[u8],
        now: i64,
    ) -> Result<()> {
        if header.is_control() {
            self.producers
                .fence(header.producer_id, header.producer_epoch, now);
            if let Some(outcome) = decode_marker(bytes)? {
                self.txns
                    .on_marker(header.producer_id, header.base_offset, outcome);
            }
        } else {
            self.producers.record(header, now);
            self.txns.on_batch(header);
        }
        Ok(())
    }

    /// Appends a commit or abort marker for a producer's transaction. Refused if the
    /// partition knows a newer epoch of the producer (the marker would come from a coordinator
    /// that lost track of a fenced one).
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        outcome: Outcome,
        coordinator_epoch: i32,
    ) -> Result<AppendInfo> {
        if let Some(current) = self.producers.epoch(producer_id)
            && current > producer_epoch
        {
            return Err(Error::InvalidProducerEpoch {
                producer_id,
                current,
                got: producer_epoch,
            });
        }
        let marker = encode_marker(
            producer_id,
            producer_epoch,
            outcome,
            coordinator_epoch,
            crate::broker::now_ms(),
        )?;
        let mut bytes = BytesMut::from(&marker[..]);
        let validated: Vec<ProducedBatch> = validate_produce(&bytes, usize::MAX)?;
        self.append_validated(&mut bytes, &validated)
    }

    /// The last stable offset: `read_committed` readers see only offsets below it.
    pub fn last_stable_offset(&self) -> i64 {
        self.txns.last_stable_offset(self.log_end_offset())
    }

    /// Aborted transactions overlapping `[from, upto)`, for a `read_committed` fetch.
    pub fn aborted_between(&self, from: i64, upto: i64) -> Vec<AbortedTxn> {
        self.txns.aborted_between(from, upto)
    }

    /// Rebuilds open and aborted transactions at open, if the partition has ever held a
    /// transactional batch, by replaying every batch from the first segment.
    pub(super) fn rebuild_transactions(&mut self) -> Result<()> {
        let marker = self.dir.join(TRANSACTIONAL_FILE);
        match std::fs::metadata(&marker) {
            Ok(_) => self.transactional = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_path(&marker),
        }
        let readers: Vec<_> = self.segments.values().map(|s| s.reader()).collect();
        let txns = &mut self.txns;
        for reader in &readers {
            reader.scan_headers(|header, position| {
                if header.is_control() {
                    if let Some(outcome) = decode_marker(&reader.read_one(position)?)? {
                        txns.on_marker(header.producer_id, header.base_offset, outcome);
                    }
                } else {
                    txns.on_batch(header);
                }
                Ok(())
            })?;
        }
        self.txns.forget_before(self.log_start_offset);
        Ok(())
    }
}
