//! Following the command topic while the server runs: servers sharing a service id (on one
//! Kafka cluster) each apply the commands the others record, as ksqlDB's command runner
//! does, so a stream created or a query started through any of them runs on all; the
//! persistent queries' consumer groups then share their partitions between the servers,
//! and when one server stops, the others take its partitions over.
//!
//! A command this server recorded itself carries its `origin` and is skipped. Requests
//! wait until the follower has applied every command in the topic at their start
//! ([`KsqlService`]'s catch-up), so a client that created a stream on one server can use
//! it on another straight away.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::command_log::decode;
use crate::error::Result;
use crate::service::KsqlService;

/// How long one poll of the command topic waits.
const POLL: Duration = Duration::from_millis(200);

/// Starts following `service`'s command topic on a thread; it ends at
/// [`KsqlService::shutdown`].
pub fn spawn(service: Arc<KsqlService>) -> Result<JoinHandle<()>> {
    service.set_following(true);
    let thread = std::thread::Builder::new()
        .name("command-follower".into())
        .spawn(move || {
            let topic = service.command_topic().to_string();
            // Opened here, not by the caller: the embedded broker's reader blocks on the
            // runtime, which an async caller's thread cannot do.
            let mut reader = loop {
                match service.cluster().reader(&topic) {
                    Ok(reader) => break reader,
                    Err(e) if !service.is_stopping() => {
                        tracing::warn!(error = %e, "cannot read the command topic; retrying");
                        std::thread::sleep(POLL);
                    }
                    Err(_) => return service.set_following(false),
                }
            };
            while !service.is_stopping() {
                let polled = match reader.poll(POLL) {
                    Ok(polled) => polled,
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the command topic failed; retrying");
                        std::thread::sleep(POLL);
                        continue;
                    }
                };
                if polled.iter().all(|batch| batch.records.is_empty()) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                for record in polled.into_iter().flat_map(|batch| batch.records) {
                    let id = record
                        .key
                        .as_deref()
                        .map(String::from_utf8_lossy)
                        .unwrap_or_default()
                        .into_owned();
                    match decode(&topic, record.offset, record.value.as_deref()) {
                        Ok(command) => service.follow(record.offset, &id, &command),
                        Err(e) => {
                            tracing::warn!(error = %e, "skipping a command that cannot be read");
                            service.skip(record.offset);
                        }
                    }
                }
            }
            service.set_following(false);
        })
        .map_err(|e| crate::Error::Thread("command follower", e))?;
    Ok(thread)
}
