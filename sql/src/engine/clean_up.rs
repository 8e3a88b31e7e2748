//! Removing what stopped applications leave: a terminated query's local state, internal
//! topics and consumer group (as ksqlDB's query clean-up does), and what push queries of a
//! killed process left ([`super::push_file`]).

use super::{Engine, PersistentQuery};

impl Engine {
    /// Removes what the push queries listed in [`super::push_file`] at open left: their topics
    /// (every topic named `<application id>-...`), local state and consumer group.
    pub(super) fn clean_up_left_push_queries(&mut self) {
        let Some(file) = self.push_file.clone() else {
            return;
        };
        let left = file.listed();
        if left.is_empty() {
            return;
        }
        let topics = match self.cluster.topics() {
            Ok(topics) => topics,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list topics to clean up after earlier push queries");
                return;
            }
        };
        for application_id in left {
            let prefix = format!("{application_id}-");
            let mut cleaned = true;
            for topic in topics.iter().filter(|t| t.starts_with(&prefix)) {
                if let Err(e) = self.cluster.delete_topic(topic) {
                    tracing::warn!(%topic, error = %e, "deleting a topic an earlier push query left failed");
                    cleaned = false;
                }
            }
            if let Err(e) = self.runner.clean_up(&application_id) {
                tracing::warn!(application = %application_id, error = %e,
                    "deleting the local state an earlier push query left failed");
                cleaned = false;
            }
            if let Err(e) = self.cluster.delete_group(&application_id) {
                tracing::warn!(application = %application_id, error = %e,
                    "deleting the consumer group an earlier push query left failed");
            }
            if cleaned {
                tracing::info!(application = %application_id,
                    "cleaned up after a push query an earlier process left running");
                file.remove(&application_id);
            }
        }
    }

    /// Deletes what was a terminated query's alone: its local state, internal topics and
    /// consumer group. A failure is logged; the query is terminated all the same.
    pub(super) fn clean_up(&mut self, query: &PersistentQuery) {
        if let Err(e) = self.runner.clean_up(&query.application_id) {
            tracing::warn!(query = %query.id, error = %e, "deleting a terminated query's local state failed");
        }
        for topic in &query.internal_topics {
            if matches!(self.cluster.partitions(topic), Ok(Some(_)))
                && let Err(e) = self.cluster.delete_topic(topic)
            {
                tracing::warn!(query = %query.id, %topic, error = %e, "deleting a terminated query's topic failed");
            }
        }
        if let Err(e) = self.cluster.delete_group(&query.application_id) {
            tracing::warn!(query = %query.id, error = %e, "deleting a terminated query's consumer group failed");
        }
    }
}
