//! [`FileTxnLog`]: the txn log as a directory of append-only segment files.
//!
//! Why plain files rather than redb: every write the service acknowledges
//! costs one log append plus one fsync, and a sequential append followed by
//! `fdatasync` is the least work a disk can do for that. Segments (rather
//! than one file) let old records be dropped by deleting whole files once a
//! snapshot covers them.
//!
//! Crash model: only the tail of the last segment can be torn, because a
//! segment is fsynced before the next one is created. So a damaged record in
//! the last segment is cut off at open, and damage anywhere else is reported
//! as corruption.

mod segment;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Result, StorageError, TxnLog};

pub use segment::RECORD_BYTES_MAX;

/// Default size at which the log starts a new segment.
pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;

/// Buffered bytes above which an append hands them to the OS without
/// waiting for `sync`, so a long unsynced run cannot grow memory unboundedly.
const WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// Tuning for [`FileTxnLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// A new segment starts when a record would take the current one past
    /// this size. A single larger record still gets a segment of its own.
    pub segment_bytes_max: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions { segment_bytes_max: SEGMENT_BYTES_MAX_DEFAULT }
    }
}

/// A segment file and the zxid its name promises as its first record.
#[derive(Debug)]
struct SegmentFile {
    first_zxid: i64,
    path: PathBuf,
}

/// The open last segment, with appends not yet handed to the OS.
#[derive(Debug)]
struct Active {
    file: File,
    buf: Vec<u8>,
    /// Size of the segment counting `buf`.
    len: u64,
    /// Whether anything was written since the last fsync.
    unsynced: bool,
}

impl Active {
    fn open(path: &Path) -> Result<Active> {
        let file = OpenOptions::new().append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Active { file, buf: Vec::new(), len, unsynced: false })
    }

    fn write_out(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.write_out()?;
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }
}

impl Drop for Active {
    /// Hands buffered appends to the OS so a clean shutdown loses nothing
    /// that is still in memory. Not an fsync: durability is `sync`'s job.
    fn drop(&mut self) {
        if let Err(error) = self.write_out() {
            tracing::warn!(%error, "could not write buffered log records on close");
        }
    }
}

/// The txn log kept as segment files `log.{first_zxid:016x}` in one directory.
#[derive(Debug)]
pub struct FileTxnLog {
    dir: PathBuf,
    options: LogOptions,
    /// Every segment, ascending by first zxid.
    segments: Vec<SegmentFile>,
    /// The last segment, open for appends; `None` when there are no segments.
    active: Option<Active>,
    last_zxid: Option<i64>,
}

impl FileTxnLog {
    /// Opens (creating if needed) the log in `dir`, validating every record.
    /// A torn tail on the last segment is cut off; damage anywhere else is
    /// [`StorageError::Corrupt`], since no crash explains it.
    pub fn open(dir: &Path, options: LogOptions) -> Result<FileTxnLog> {
        fs::create_dir_all(dir)?;
        let mut segments = list_segments(dir)?;
        let mut last_zxid = None;
        let mut drop_last = false;
        let count = segments.len();
        for (index, seg) in segments.iter().enumerate() {
            let is_last = index + 1 == count;
            let bytes = fs::read(&seg.path)?;
            let parsed = segment::parse(&bytes).map_err(|what| corrupt_at(&seg.path, what))?;
            if let Some(problem) = &parsed.problem
                && !is_last
            {
                return Err(corrupt_at(
                    &seg.path,
                    format!("{problem} at byte {}", parsed.valid_len),
                ));
            }
            match parsed.records.first() {
                None if !is_last => return Err(corrupt_at(&seg.path, "segment holds no records")),
                Some(first) if first.zxid != seg.first_zxid => {
                    return Err(corrupt_at(
                        &seg.path,
                        format!("first record has zxid {:#x}", first.zxid),
                    ));
                }
                _ => {}
            }
            for record in &parsed.records {
                if let Some(last) = last_zxid
                    && record.zxid <= last
                {
                    return Err(corrupt_at(
                        &seg.path,
                        format!("zxid {:#x} follows {last:#x}", record.zxid),
                    ));
                }
                last_zxid = Some(record.zxid);
            }
            if is_last {
                if parsed.records.is_empty() {
                    // Created but never given a durable record: a crash between
                    // creating the segment and the first sync. Nothing to keep.
                    tracing::warn!(path = %seg.path.display(), bytes = bytes.len(),
                        "removing log segment without records");
                    fs::remove_file(&seg.path)?;
                    sync_dir(dir)?;
                    drop_last = true;
                } else if let Some(problem) = &parsed.problem {
                    let discarded = bytes.len() - parsed.valid_len;
                    tracing::warn!(path = %seg.path.display(), discarded, %problem,
                        "discarding torn tail of the txn log");
                    let file = OpenOptions::new().write(true).open(&seg.path)?;
                    file.set_len(parsed.valid_len as u64)?;
                    file.sync_all()?;
                }
            }
        }
        if drop_last {
            segments.pop();
        }
        let active = segments.last().map(|seg| Active::open(&seg.path)).transpose()?;
        Ok(FileTxnLog { dir: dir.to_path_buf(), options, segments, active, last_zxid })
    }

    /// Closes the current segment for good and starts one named `first_zxid`.
    /// The old segment is fsynced first so that only the last segment can
    /// ever have a torn tail, and the directory is fsynced so the new file
    /// survives a crash.
    fn roll(&mut self, first_zxid: i64) -> Result<()> {
        if let Some(mut old) = self.active.take() {
            old.sync()?;
        }
        let path = self.dir.join(segment::file_name(first_zxid));
        let mut file = OpenOptions::new().create_new(true).append(true).open(&path)?;
        file.write_all(segment::MAGIC)?;
        sync_dir(&self.dir)?;
        self.segments.push(SegmentFile { first_zxid, path });
        let len = segment::MAGIC.len() as u64;
        self.active = Some(Active { file, buf: Vec::new(), len, unsynced: true });
        Ok(())
    }
}

impl TxnLog for FileTxnLog {
    fn append(&mut self, zxid: i64, payload: &[u8]) -> Result<()> {
        if payload.len() > RECORD_BYTES_MAX {
            return Err(StorageError::RecordTooLarge { len: payload.len(), max: RECORD_BYTES_MAX });
        }
        if let Some(last) = self.last_zxid
            && zxid <= last
        {
            return Err(StorageError::OutOfOrder { last, zxid });
        }
        let record_len = segment::record_bytes(payload.len());
        let header_len = segment::MAGIC.len() as u64;
        let max = self.options.segment_bytes_max;
        let fits = self
            .active
            .as_ref()
            .is_some_and(|active| active.len <= header_len || active.len + record_len <= max);
        if !fits {
            self.roll(zxid)?;
        }
        let Some(active) = self.active.as_mut() else {
            return Err(StorageError::corrupt("txn log has no active segment after a roll"));
        };
        segment::encode_record(&mut active.buf, zxid, payload);
        active.len += record_len;
        active.unsynced = true;
        if active.buf.len() >= WRITE_BUFFER_BYTES {
            active.write_out()?;
        }
        self.last_zxid = Some(zxid);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        match self.active.as_mut() {
            Some(active) => active.sync(),
            None => Ok(()),
        }
    }

    fn read_from(&self, after: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let mut out = Vec::new();
        for (index, seg) in self.segments.iter().enumerate() {
            let next = self.segments.get(index + 1);
            if next.is_some_and(|next| all_at_or_below(next.first_zxid, after)) {
                continue;
            }
            let mut bytes = fs::read(&seg.path)?;
            if next.is_none()
                && let Some(active) = &self.active
            {
                bytes.extend_from_slice(&active.buf);
            }
            let parsed = segment::parse(&bytes).map_err(|what| corrupt_at(&seg.path, what))?;
            if let Some(problem) = parsed.problem {
                return Err(corrupt_at(&seg.path, problem));
            }
            out.extend(
                parsed
                    .records
                    .into_iter()
                    .filter(|r| r.zxid > after)
                    .map(|r| (r.zxid, bytes[r.payload].to_vec())),
            );
        }
        Ok(out)
    }

    fn truncate_after(&mut self, zxid: i64) -> Result<()> {
        // Put every buffered record in its file (and on disk) so the files
        // alone are the whole log while we cut them.
        self.sync()?;
        self.active = None;
        let mut removed = false;
        self.last_zxid = None;
        while let Some(seg) = self.segments.last() {
            if seg.first_zxid <= zxid {
                let bytes = fs::read(&seg.path)?;
                let parsed = segment::parse(&bytes).map_err(|what| corrupt_at(&seg.path, what))?;
                if let Some(kept) = parsed.records.iter().take_while(|r| r.zxid <= zxid).last() {
                    if kept.end < bytes.len() {
                        let file = OpenOptions::new().write(true).open(&seg.path)?;
                        file.set_len(kept.end as u64)?;
                        file.sync_all()?;
                    }
                    self.last_zxid = Some(kept.zxid);
                    break;
                }
            }
            fs::remove_file(&seg.path)?;
            self.segments.pop();
            removed = true;
        }
        if removed {
            sync_dir(&self.dir)?;
        }
        self.active = self.segments.last().map(|seg| Active::open(&seg.path)).transpose()?;
        Ok(())
    }

    fn purge_before(&mut self, zxid: i64) -> Result<()> {
        // Segment i holds only zxids below segment i+1's first, so it may go
        // once that bound is <= zxid + 1. The last segment always stays: it is
        // the active one and it carries last_zxid across restarts.
        let deletable = self
            .segments
            .windows(2)
            .take_while(|pair| all_at_or_below(pair[1].first_zxid, zxid))
            .count();
        for seg in self.segments.drain(..deletable) {
            fs::remove_file(&seg.path)?;
        }
        if deletable > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn last_zxid(&self) -> Option<i64> {
        self.last_zxid
    }
}

/// Whether every zxid below `next_first` is <= `bound`, without overflow.
fn all_at_or_below(next_first: i64, bound: i64) -> bool {
    i128::from(next_first) - 1 <= i128::from(bound)
}

/// The segment files in `dir`, ascending by first zxid. Other files are ignored.
fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(first_zxid) = entry.file_name().to_str().and_then(segment::parse_file_name) else {
            continue;
        };
        segments.push(SegmentFile { first_zxid, path: entry.path() });
    }
    segments.sort_by_key(|seg| seg.first_zxid);
    Ok(segments)
}

/// Makes creations and deletions of files in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Windows cannot open a directory as a file; NTFS journals the metadata.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

fn corrupt_at(path: &Path, what: impl std::fmt::Display) -> StorageError {
    StorageError::corrupt(format!("{}: {what}", path.display()))
}
