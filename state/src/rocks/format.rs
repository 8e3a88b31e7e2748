//! The on-disk format marker of a store directory: a small `EDDY-FORMAT` file written before
//! the database is created and checked on every open.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Name of the format marker file in every store directory.
pub const FORMAT_FILE: &str = "EDDY-FORMAT";

/// The on-disk format version this build reads and writes. Bump it when the key encodings,
/// column family layout or anything else a store relies on changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

const MAGIC: &str = "eddy-state-format";

/// What a store directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreKind {
    /// A key-value store: the default column family.
    KeyValue,
    /// Segment storage: one column family per segment.
    Segments,
}

impl StoreKind {
    fn as_str(self) -> &'static str {
        match self {
            StoreKind::KeyValue => "key-value",
            StoreKind::Segments => "segments",
        }
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` if needed and checks (or, for a new store, writes) its format marker.
///
/// A directory holding a RocksDB database but no marker is reported as format version 0.
pub(crate) fn prepare_dir(dir: &Path, kind: StoreKind) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let marker = dir.join(FORMAT_FILE);
    match fs::read_to_string(&marker) {
        Ok(text) => check(dir, &text, kind),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if dir.join("CURRENT").exists() {
                return Err(Error::IncompatibleFormat {
                    path: dir.to_path_buf(),
                    found: 0,
                    expected: FORMAT_VERSION,
                });
            }
            write_marker(dir, kind)
        }
        Err(e) => Err(io_error(&marker, e)),
    }
}

fn check(dir: &Path, text: &str, kind: StoreKind) -> Result<()> {
    let mut lines = text.lines();
    let version = lines
        .next()
        .and_then(|line| line.strip_prefix(MAGIC))
        .and_then(|rest| rest.trim().parse::<u32>().ok())
        .ok_or_else(|| Error::Decode {
            what: "state store format marker",
            reason: format!(
                "{} does not start with `{MAGIC} <version>`: {text:?}",
                dir.join(FORMAT_FILE).display()
            ),
        })?;
    if version != FORMAT_VERSION {
        return Err(Error::IncompatibleFormat {
            path: dir.to_path_buf(),
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let found_kind = lines
        .find_map(|line| line.strip_prefix("kind "))
        .map(str::trim);
    match found_kind {
        Some(found) if found == kind.as_str() => Ok(()),
        Some(found) => Err(Error::InvalidConfig(format!(
            "{} holds a {found} store, not a {} store",
            dir.display(),
            kind.as_str()
        ))),
        None => Err(Error::Decode {
            what: "state store format marker",
            reason: format!("{} has no `kind` line", dir.join(FORMAT_FILE).display()),
        }),
    }
}

/// Writes the marker atomically (temporary file, fsync, rename, fsync of the directory).
fn write_marker(dir: &Path, kind: StoreKind) -> Result<()> {
    let marker = dir.join(FORMAT_FILE);
    let temporary = dir.join(format!("{FORMAT_FILE}.tmp"));
    let text = format!("{MAGIC} {FORMAT_VERSION}\nkind {}\n", kind.as_str());
    let mut file = fs::File::create(&temporary).map_err(|e| io_error(&temporary, e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(&temporary, e))?;
    drop(file);
    fs::rename(&temporary, &marker).map_err(|e| io_error(&marker, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_directory_gets_a_marker_that_reopens() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = dir.path().join("s");
        prepare_dir(&store, StoreKind::KeyValue)?;
        let text = fs::read_to_string(store.join(FORMAT_FILE))?;
        assert_eq!(text, "eddy-state-format 1\nkind key-value\n");
        prepare_dir(&store, StoreKind::KeyValue)?;
        Ok(())
    }

    #[test]
    fn other_version_is_incompatible() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        fs::write(
            dir.path().join(FORMAT_FILE),
            "eddy-state-format 2\nkind key-value\n",
        )?;
        match prepare_dir(dir.path(), StoreKind::KeyValue) {
            Err(Error::IncompatibleFormat {
                path,
                found,
                expected,
            }) => {
                assert_eq!(path, dir.path());
                assert_eq!((found, expected), (2, FORMAT_VERSION));
            }
            other => panic!("expected IncompatibleFormat, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn database_without_marker_is_version_zero() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        fs::write(dir.path().join("CURRENT"), "MANIFEST-000001\n")?;
        assert!(matches!(
            prepare_dir(dir.path(), StoreKind::KeyValue),
            Err(Error::IncompatibleFormat { found: 0, .. })
        ));
        Ok(())
    }

    #[test]
    fn garbage_and_wrong_kind_are_errors() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        fs::write(dir.path().join(FORMAT_FILE), "hello\n")?;
        assert!(matches!(
            prepare_dir(dir.path(), StoreKind::KeyValue),
            Err(Error::Decode { .. })
        ));
        fs::write(
            dir.path().join(FORMAT_FILE),
            "eddy-state-format 1\nkind segments\n",
        )?;
        assert!(matches!(
            prepare_dir(dir.path(), StoreKind::KeyValue),
            Err(Error::InvalidConfig(_))
        ));
        Ok(())
    }
}
