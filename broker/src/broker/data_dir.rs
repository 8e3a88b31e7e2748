//! Opening a data directory: its lock, whether the last shutdown was clean (recovery is
//! needed if not), and every topic's partitions, recovered as needed.

use super::*;

/// Locks the data directory, decides whether recovery is needed, and opens every topic.
pub(super) fn load(
    data_dir: &Path,
    policy: FlushPolicy,
) -> Result<(fs::File, HashMap<String, Arc<Topic>>, OpenReport)> {
    fs::create_dir_all(topics_dir(data_dir)).with_path(data_dir)?;
    let lock_path = data_dir.join(LOCK_FILE);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_path(&lock_path)?;
    lock.try_lock().map_err(|e| Error::Io {
        path: lock_path.clone(),
        source: std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!("another broker has this data directory open ({e})"),
        ),
    })?;
    let graveyard = data_dir.join("deleted");
    if graveyard.exists() {
        fs::remove_dir_all(&graveyard).with_path(&graveyard)?;
    }
    let marker = data_dir.join(CLEAN_SHUTDOWN_FILE);
    let clean = marker.exists();
    if clean {
        // From here on, a crash must trigger recovery again.
        fs::remove_file(&marker).with_path(&marker)?;
        crate::log::sync_dir(data_dir)?;
    }
    let mut report = OpenReport {
        clean_shutdown: clean,
        ..OpenReport::default()
    };
    let mut topics = HashMap::new();
    let dir = topics_dir(data_dir);
    for entry in fs::read_dir(&dir).with_path(&dir)? {
        let topic_dir = entry.with_path(&dir)?.path();
        if !topic_dir.is_dir() {
            tracing::warn!(path = %topic_dir.display(), "ignoring a file that is not a topic directory");
            continue;
        }
        let Some(name) = topic_dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let topic_file = topic_dir.join(TOPIC_FILE);
        let bytes = match fs::read(&topic_file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(dir = %topic_dir.display(), "removing a topic directory without topic.json (interrupted creation)");
                fs::remove_dir_all(&topic_dir).with_path(&topic_dir)?;
                continue;
            }
            Err(e) => return Err(e).with_path(&topic_file),
        };
        let file: TopicFile = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptLog {
            path: topic_file.clone(),
            reason: format!("unreadable topic file: {e}"),
        })?;
        let mut partitions = Vec::new();
        for p in 0..file.config.partitions {
            let (log, recovery) =
                Log::open(&topic_dir.join(p.to_string()), file.config.clone(), !clean)?;
            if recovery != LogRecovery::default() {
                tracing::warn!(topic = %name, partition = p, ?recovery, "recovered partition");
                report.repaired.insert((name.clone(), p), recovery);
            }
            partitions.push(Arc::new(Partition::new(&name, p, log, policy)));
        }
        topics.insert(
            name,
            Arc::new(Topic {
                id: file.id,
                config: RwLock::new(file.config),
                partitions: RwLock::new(partitions),
            }),
        );
    }
    Ok((lock, topics, report))
}
