//! The subcommands of the `eddy` binary, and what they share: opening a data directory with
//! clear errors, shutting the broker down cleanly whatever happened, and number formatting.

pub mod demo;
pub mod partitioner;
pub mod topics;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use eddy::broker::{Broker, BrokerConfig, Error as BrokerError, OpenReport};

/// A broker opened on a data directory by a command.
pub struct Opened {
    pub broker: Broker,
    pub report: OpenReport,
    /// The data directory did not exist (or was empty) before.
    pub new_dir: bool,
    /// How long opening took (locking, recovery if needed, loading offsets).
    pub elapsed: Duration,
    /// The data directory as an absolute path, for messages.
    pub shown_dir: PathBuf,
}

/// Whether a command may create a data directory or needs an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    CreateIfMissing,
    MustExist,
}

/// Opens the broker in `data_dir`. Refuses a directory that holds other things (so a typo in
/// `--data-dir` does not scatter Eddy's files into, say, a source tree) and turns a held lock
/// into a message that says what to do.
pub async fn open(data_dir: &Path, mode: Mode) -> Result<Opened> {
    let is_eddy_dir = data_dir.join("topics").is_dir();
    let exists = data_dir.exists();
    let empty = exists
        && data_dir.is_dir()
        && std::fs::read_dir(data_dir)
            .with_context(|| format!("cannot read {}", data_dir.display()))?
            .next()
            .is_none();
    if mode == Mode::MustExist && !is_eddy_dir {
        if exists {
            bail!(
                "{} is not an Eddy data directory (it has no topics/ inside); \
                 point --data-dir at one, or create one with `eddy demo` or `eddy topics create`",
                data_dir.display()
            );
        }
        bail!(
            "no data directory at {}; point --data-dir at one, or create one with \
             `eddy demo` or `eddy topics create`",
            data_dir.display()
        );
    }
    if exists && !data_dir.is_dir() {
        bail!("{} exists and is not a directory", data_dir.display());
    }
    if exists && !empty && !is_eddy_dir {
        bail!(
            "{} exists, is not empty and is not an Eddy data directory (it has no topics/ \
             inside); choose an empty or new directory with --data-dir",
            data_dir.display()
        );
    }
    let started = Instant::now();
    let (broker, report) = match Broker::open_with_report(BrokerConfig::new(data_dir)).await {
        Ok(opened) => opened,
        Err(BrokerError::Io { path, source })
            if source.kind() == ErrorKind::WouldBlock
                && path.file_name().is_some_and(|n| n == ".lock") =>
        {
            bail!(
                "data directory {} is in use by another Eddy process (it holds the lock on {}); \
                 stop that process first, or use another --data-dir",
                data_dir.display(),
                path.display()
            );
        }
        Err(e) => {
            return Err(anyhow::Error::new(e))
                .with_context(|| format!("cannot open data directory {}", data_dir.display()));
        }
    };
    let elapsed = started.elapsed();
    let shown_dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    Ok(Opened {
        broker,
        report,
        new_dir: !is_eddy_dir,
        elapsed,
        shown_dir,
    })
}

/// Shuts the broker down cleanly (flush, clean-shutdown marker) after a command ran, whether
/// or not it succeeded, and reports the command's error first.
pub async fn finish<T>(broker: &Broker, result: Result<T>) -> Result<(T, Duration)> {
    let started = Instant::now();
    let shutdown = broker
        .shutdown()
        .await
        .context("clean shutdown of the broker failed");
    let value = result?;
    shutdown?;
    Ok((value, started.elapsed()))
}

/// `12.3 ms`, or `1.23 s` from a second up.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else {
        format!("{:.1} ms", secs * 1000.0)
    }
}

/// `512 B`, `12.3 KiB`, `4.0 MiB`, `1.5 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Records per second, rounded.
pub fn rate(count: u64, d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs <= 0.0 {
        return "n/a".into();
    }
    format!("{:.0}", count as f64 / secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_for_people() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 << 20), "5.0 MiB");
        assert_eq!(duration(Duration::from_micros(1500)), "1.5 ms");
        assert_eq!(duration(Duration::from_millis(2500)), "2.50 s");
        assert_eq!(rate(1000, Duration::from_millis(500)), "2000");
        assert_eq!(rate(1, Duration::ZERO), "n/a");
    }
}
