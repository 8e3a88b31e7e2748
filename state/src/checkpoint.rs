//! Checkpoint files: the changelog offset a store's local data reflects.
//!
//! A checkpoint says "the local store equals the changelog's records below `offset`, applied
//! in order". It is written atomically (temporary file, fsync, rename, fsync of the
//! directory) and parsed strictly; anything unexpected makes it invalid, never a guess.
//!
//! Format (text, version 1), every line ending in `\n`:
//!
//! ```text
//! eddy-state-checkpoint 1
//! store <store name>
//! changelog <changelog name>
//! offset <decimal, >= 0>
//! crc32c <8 lowercase hex digits: CRC-32C of the four lines above, newlines included>
//! ```

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The checkpoint's file name in a store's state directory.
pub const CHECKPOINT_FILE: &str = "checkpoint";
const TEMP_FILE: &str = "checkpoint.tmp";
const MAGIC: &str = "eddy-state-checkpoint";
const VERSION: u32 = 1;
/// Larger files are not checkpoints.
const MAX_LEN: u64 = 16 << 10;

/// The contents of a checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The store's name.
    pub store: String,
    /// The changelog's name.
    pub changelog: String,
    /// The local store reflects the changelog's records below this offset.
    pub offset: i64,
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['\n', '\r'])
}

impl Checkpoint {
    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        if !valid_name(&self.store) || !valid_name(&self.changelog) || self.offset < 0 {
            return Err(Error::InvalidConfig(format!(
                "cannot checkpoint store {:?} of changelog {:?} at offset {}: names must be \
                 non-empty single lines and offsets non-negative",
                self.store, self.changelog, self.offset
            )));
        }
        let body = format!(
            "{MAGIC} {VERSION}\nstore {}\nchangelog {}\noffset {}\n",
            self.store, self.changelog, self.offset
        );
        let crc = crc32c::crc32c(body.as_bytes());
        Ok(format!("{body}crc32c {crc:08x}\n").into_bytes())
    }

    /// Parses a checkpoint file's bytes strictly; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
        let body_and_crc = text
            .strip_suffix('\n')
            .ok_or_else(|| "does not end with a newline (torn write?)".to_string())?;
        let lines: Vec<&str> = body_and_crc.split('\n').collect();
        let [header, store, changelog, offset, crc] = lines.as_slice() else {
            return Err(format!("has {} lines, expected 5", lines.len()));
        };
        let version = header
            .strip_prefix(MAGIC)
            .and_then(|v| v.strip_prefix(' '))
            .ok_or_else(|| "is not an eddy-state checkpoint".to_string())?;
        if version != VERSION.to_string() {
            return Err(format!(
                "has version {version:?}, this build reads {VERSION}"
            ));
        }
        let crc = crc
            .strip_prefix("crc32c ")
            .filter(|c| c.len() == 8 && c.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|c| u32::from_str_radix(c, 16).ok())
            .ok_or_else(|| "has a malformed checksum line".to_string())?;
        let body_len = body_and_crc.len() - "crc32c 00000000".len();
        let actual = crc32c::crc32c(&bytes[..body_len]);
        if actual != crc {
            return Err(format!(
                "fails its checksum (stored {crc:08x}, computed {actual:08x})"
            ));
        }
        let field = |line: &str, name: &str| -> Result<String, String> {
            line.strip_prefix(name)
                .and_then(|v| v.strip_prefix(' '))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| format!("has no {name} line"))
        };
        let offset_text = field(offset, "offset")?;
        if !offset_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("has a malformed offset {offset_text:?}"));
        }
        let offset = offset_text
            .parse::<i64>()
            .map_err(|_| format!("has an out-of-range offset {offset_text:?}"))?;
        Ok(Self {
            store: field(store, "store")?,
            changelog: field(changelog, "changelog")?,
            offset,
        })
    }
}

/// What a store directory holds in place of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadCheckpoint {
    /// No checkpoint file.
    Absent,
    /// A valid checkpoint.
    Valid(Checkpoint),
    /// A file that is not a valid checkpoint, and why.
    Corrupt(String),
}

/// The checkpoint file of one store's state directory.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    dir: PathBuf,
}

impl CheckpointFile {
    /// The checkpoint file in directory `dir` (which must exist before writing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    /// Reads the checkpoint. I/O errors other than a missing file are errors; bad contents
    /// are [`ReadCheckpoint::Corrupt`].
    pub fn read(&self) -> Result<ReadCheckpoint> {
        let path = self.path();
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(ReadCheckpoint::Absent),
            Err(e) => return Err(io_error(&path, e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(&path, e))?;
        if bytes.len() as u64 > MAX_LEN {
            return Ok(ReadCheckpoint::Corrupt(format!("is over {MAX_LEN} bytes")));
        }
        Ok(match Checkpoint::decode(&bytes) {
            Ok(checkpoint) => ReadCheckpoint::Valid(checkpoint),
            Err(reason) => ReadCheckpoint::Corrupt(reason),
        })
    }

    /// Replaces the checkpoint atomically and durably: once this returns, a crash leaves
    /// either this checkpoint or (if it fails part way) the previous state of the file.
    pub fn write(&self, checkpoint: &Checkpoint) -> Result<()> {
        let bytes = checkpoint.encode()?;
        let temp = self.dir.join(TEMP_FILE);
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(|e| io_error(&temp, e))?;
        file.write_all(&bytes).map_err(|e| io_error(&temp, e))?;
        file.sync_all().map_err(|e| io_error(&temp, e))?;
        drop(file);
        let path = self.path();
        std::fs::rename(&temp, &path).map_err(|e| io_error(&path, e))?;
        sync_dir(&self.dir)
    }

    /// Deletes the checkpoint durably (a missing file is fine).
    pub fn delete(&self) -> Result<()> {
        let path = self.path();
        match std::fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, e)),
        }
    }
}

/// Makes a directory's entries (creations, renames, deletions) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            store: "counts store".into(),
            changelog: "app-counts-changelog-3".into(),
            offset: 12345,
        }
    }

    #[test]
    fn round_trips_and_rejects_every_corruption() {
        let bytes = sample().encode().unwrap();
        assert_eq!(Checkpoint::decode(&bytes).unwrap(), sample());
        // Every truncation and every single-byte change is rejected, never misread.
        for len in 0..bytes.len() {
            assert!(Checkpoint::decode(&bytes[..len]).is_err(), "length {len}");
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut bad = bytes.clone();
                bad[i] ^= flip;
                if let Ok(cp) = Checkpoint::decode(&bad) {
                    panic!("byte {i} ^ {flip:#x} accepted as {cp:?}");
                }
            }
        }
        let mut extra = bytes.clone();
        extra.extend_from_slice(b"x\n");
        assert!(Checkpoint::decode(&extra).is_err());
        let v2 = String::from_utf8(bytes)
            .unwrap()
            .replace("eddy-state-checkpoint 1", "eddy-state-checkpoint 2");
        assert!(
            Checkpoint::decode(v2.as_bytes())
                .unwrap_err()
                .contains("version")
        );
        assert!(
            Checkpoint {
                offset: -1,
                ..sample()
            }
            .encode()
            .is_err()
        );
        assert!(
            Checkpoint {
                store: "a\nb".into(),
                ..sample()
            }
            .encode()
            .is_err()
        );
    }

    #[test]
    fn file_write_read_delete() {
        let dir = tempfile::tempdir().unwrap();
        let file = CheckpointFile::new(dir.path());
        assert_eq!(file.read().unwrap(), ReadCheckpoint::Absent);
        file.write(&sample()).unwrap();
        assert_eq!(file.read().unwrap(), ReadCheckpoint::Valid(sample()));
        std::fs::write(file.path(), b"garbage").unwrap();
        assert!(matches!(file.read().unwrap(), ReadCheckpoint::Corrupt(_)));
        std::fs::write(file.path(), vec![b'x'; 20 << 10]).unwrap();
        assert!(matches!(file.read().unwrap(), ReadCheckpoint::Corrupt(_)));
        file.delete().unwrap();
        file.delete().unwrap();
        assert_eq!(file.read().unwrap(), ReadCheckpoint::Absent);
    }
}
