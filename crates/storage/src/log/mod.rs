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
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::{Result, StorageError, TxnLog};

pub use segment::RECORD_BYTES_MAX;

/// Default size at which the log starts a new segment.
pub const SEGMENT_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;

/// Default step in which a segment file is grown ahead of its records.
/// An fdatasync after an append that grows the file must also write the
/// file's size (one more synchronous write, or a journal commit); into space
/// already allocated and zeroed it writes the data alone. ZooKeeper pads its
/// log files for the same reason (`preAllocSize`). One MiB of zeros plus an
/// fdatasync costs about as much as one ordinary sync, paid once per MiB of
/// log.
pub const PREALLOCATE_BYTES_DEFAULT: u64 = 1024 * 1024;

/// Buffered bytes above which an append hands them to the OS without
/// waiting for `sync`, so a long unsynced run cannot grow memory unboundedly.
const WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// Zeros written per call when preallocating.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// Tuning for [`FileTxnLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// A new segment starts when a record would take the current one past
    /// this size. A single larger record still gets a segment of its own.
    pub segment_bytes_max: u64,
    /// The active segment is grown with zeros in steps of this many bytes
    /// ahead of its records; 0 lets appends grow it.
    pub preallocate_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes_max: SEGMENT_BYTES_MAX_DEFAULT,
            preallocate_bytes: PREALLOCATE_BYTES_DEFAULT,
        }
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
    /// Bytes of the file that hold the header and records; the file
    /// position is kept here.
    written: u64,
    /// Size of the file: `written` plus any zeroed space after it.
    allocated: u64,
    /// The growth step, and the size where growth stops (the segment
    /// rolls there).
    options: LogOptions,
    /// Whether anything was written since the last fsync.
    unsynced: bool,
}

impl Active {
    /// Opens a segment whose records end at `written`; anything after that
    /// is free space (zeros) that appends overwrite.
    fn open(path: &Path, written: u64, options: LogOptions) -> Result<Active> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let allocated = file.metadata()?.len().max(written);
        file.seek(SeekFrom::Start(written))?;
        Ok(Active::new(file, written, allocated, options))
    }

    fn new(file: File, written: u64, allocated: u64, options: LogOptions) -> Active {
        Active { file, buf: Vec::new(), written, allocated, options, unsynced: false }
    }

    /// Size of the segment counting `buf`.
    fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    fn write_out(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        if self.written > self.allocated {
            self.allocated = self.written;
        }
        let step = self.options.preallocate_bytes;
        if step > 0 && self.written + step / 2 > self.allocated {
            self.preallocate()?;
        }
        Ok(())
    }

    /// Zeroes the file from its end up to the first multiple of the step at
    /// least one step past `written`, so the appends of the next step land
    /// in space that already exists. The next `sync` makes the zeros
    /// durable with the records.
    fn preallocate(&mut self) -> Result<()> {
        let step = self.options.preallocate_bytes;
        let target =
            ((self.written + step).div_ceil(step) * step).min(self.options.segment_bytes_max);
        if target <= self.allocated {
            return Ok(());
        }
        self.file.seek(SeekFrom::Start(self.allocated))?;
        while self.allocated < target {
            let chunk = (target - self.allocated).min(ZEROS.len() as u64) as usize;
            self.file.write_all(&ZEROS[..chunk])?;
            self.allocated += chunk as u64;
        }
        self.file.seek(SeekFrom::Start(self.written))?;
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
        // Where each segment's records end: appends to the last one go there.
        let mut valid_lens = Vec::with_capacity(segments.len());
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
            valid_lens.push(parsed.valid_len as u64);
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
            valid_lens.pop();
        }
        let active = match (segments.last(), valid_lens.last()) {
            (Some(seg), Some(&written)) => Some(Active::open(&seg.path, written, options)?),
            _ => None,
        };
        Ok(FileTxnLog { dir: dir.to_path_buf(), options, segments, active, last_zxid })
    }

    /// Closes the current segment for good and starts one named `first_zxid`.
    /// The old segment is fsynced first so that only the last segment can
    /// ever have a torn tail, and the directory is fsynced so the new file
    /// survives a crash.
    fn roll(&mut self, first_zxid: i64) -> Result<()> {
        if let Some(mut old) = self.active.take() {
            old.sync()?;
            // Give back the old segment's unused preallocated space. Not
            // synced: the records are durable, and zeros left after a crash
            // read as free space.
            old.file.set_len(old.written)?;
        }
        let path = self.dir.join(segment::file_name(first_zxid));
        let file = OpenOptions::new().create_new(true).read(true).write(true).open(&path)?;
        sync_dir(&self.dir)?;
        self.segments.push(SegmentFile { first_zxid, path });
        let mut active = Active::new(file, 0, 0, self.options);
        active.buf.extend_from_slice(segment::MAGIC);
        active.unsynced = true;
        active.write_out()?;
        self.active = Some(active);
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
            .is_some_and(|active| active.len() <= header_len || active.len() + record_len <= max);
        if !fits {
            self.roll(zxid)?;
        }
        let Some(active) = self.active.as_mut() else {
            return Err(StorageError::corrupt("txn log has no active segment after a roll"));
        };
        segment::encode_record(&mut active.buf, zxid, payload);
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
                // The file's records end at `written` (zeros may follow);
                // the buffered appends come after them.
                bytes.truncate(active.written as usize);
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
        let mut kept_len = None;
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
                    kept_len = Some(kept.end as u64);
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
        self.active = match (self.segments.last(), kept_len) {
            (Some(seg), Some(written)) => Some(Active::open(&seg.path, written, self.options)?),
            _ => None,
        };
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
