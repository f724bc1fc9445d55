//! Durable raft storage: an append-only file of checksummed records,
//! replayed into a raft-rs `MemStorage` on start.
//!
//! The node writes each Ready's entries and hard state here **before** it
//! sends any message of that Ready, so a vote or an acknowledgement that
//! left the node is on disk. `kill -9` loses nothing that `write` returned
//! (the page cache belongs to the kernel); [`Sync::Always`] adds an
//! `fdatasync` per Ready for machine crashes, which the harness does not
//! inject. A record torn by a kill (a short write at the tail) fails its
//! checksum and is cut off at replay: nothing after it was acknowledged.
//!
//! No compaction: runs are short, and the log is the state machine's only
//! durable copy (the register is rebuilt by re-applying it).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use protobuf::Message as _;
use raft::eraftpb::{Entry, HardState};
use raft::storage::MemStorage;

const REC_ENTRIES: u8 = 1;
const REC_HARD_STATE: u8 = 2;
/// Records above this are treated as a torn tail (entries are batched per
/// Ready, far below it).
const RECORD_LIMIT: usize = 64 << 20;

/// When the log file is flushed to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// `fdatasync` after every Ready's records.
    Always,
    /// Only `write`: survives `kill -9`, not a power cut.
    Never,
}

/// The durable log of one node.
#[derive(Debug)]
pub struct DurableLog {
    file: File,
    sync: Sync,
    buf: Vec<u8>,
}

/// What a replay found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replay {
    /// Records replayed.
    pub records: u64,
    /// Bytes cut off a torn tail.
    pub torn_bytes: u64,
}

impl DurableLog {
    /// Opens (or creates) the log at `path` and replays it into `store`.
    ///
    /// # Errors
    ///
    /// File errors, and entries that raft-rs's `MemStorage` refuses.
    pub fn open(path: &Path, store: &MemStorage, sync: Sync) -> io::Result<(DurableLog, Replay)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let mut replay = Replay::default();
        let mut at = 0usize;
        while let Some((kind, body, next)) = record_at(&data, at) {
            apply_record(store, kind, body)?;
            replay.records += 1;
            at = next;
        }
        if at < data.len() {
            replay.torn_bytes = (data.len() - at) as u64;
            file.set_len(at as u64)?;
        }
        Ok((
            DurableLog {
                file,
                sync,
                buf: Vec::new(),
            },
            replay,
        ))
    }

    /// Appends entries (raft-rs semantics: they replace any entries from the
    /// first one's index on) and the hard state, in one write.
    ///
    /// # Errors
    ///
    /// Write or sync failures; the node must stop (it cannot promise
    /// anything it has not stored).
    pub fn persist(&mut self, entries: &[Entry], hs: Option<&HardState>) -> io::Result<()> {
        self.buf.clear();
        if !entries.is_empty() {
            let mut body = Vec::new();
            for e in entries {
                let bytes = e.write_to_bytes().map_err(io::Error::other)?;
                body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                body.extend_from_slice(&bytes);
            }
            push_record(&mut self.buf, REC_ENTRIES, &body);
        }
        if let Some(hs) = hs {
            let bytes = hs.write_to_bytes().map_err(io::Error::other)?;
            push_record(&mut self.buf, REC_HARD_STATE, &bytes);
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.buf)?;
        if self.sync == Sync::Always {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

fn push_record(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[kind]);
    crc.update(body);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.push(kind);
    out.extend_from_slice(body);
}

fn record_at(data: &[u8], at: usize) -> Option<(u8, &[u8], usize)> {
    let head = data.get(at..at + 9)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(head[4..8].try_into().ok()?);
    if len > RECORD_LIMIT {
        return None;
    }
    let body = data.get(at + 9..at + 9 + len)?;
    let mut h = crc32fast::Hasher::new();
    h.update(&head[8..9]);
    h.update(body);
    (h.finalize() == crc).then_some((head[8], body, at + 9 + len))
}

fn apply_record(store: &MemStorage, kind: u8, body: &[u8]) -> io::Result<()> {
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    match kind {
        REC_ENTRIES => {
            let mut entries = Vec::new();
            let mut at = 0;
            while at < body.len() {
                let len = body
                    .get(at..at + 4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes)
                    .ok_or_else(|| bad("entry length".into()))? as usize;
                let bytes = body
                    .get(at + 4..at + 4 + len)
                    .ok_or_else(|| bad("entry body".into()))?;
                entries.push(Entry::parse_from_bytes(bytes).map_err(|e| bad(e.to_string()))?);
                at += 4 + len;
            }
            store.wl().append(&entries).map_err(|e| bad(e.to_string()))
        }
        REC_HARD_STATE => {
            let hs = HardState::parse_from_bytes(body).map_err(|e| bad(e.to_string()))?;
            store.wl().set_hardstate(hs);
            Ok(())
        }
        other => Err(bad(format!("record kind {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::Storage;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    #[test]
    fn replay_restores_entries_overwrites_and_hard_state_and_cuts_a_torn_tail() {
        let dir = std::env::temp_dir().join(format!("lhj-storage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let _ = std::fs::remove_file(&path);
        let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        let (mut log, r) = DurableLog::open(&path, &store, Sync::Never).unwrap();
        assert_eq!(r, Replay::default());
        let hs = HardState {
            term: 2,
            vote: 3,
            commit: 1,
            ..Default::default()
        };
        log.persist(&[entry(1, 1), entry(2, 1), entry(3, 1)], Some(&hs))
            .unwrap();
        // A new leader overwrites index 3.
        log.persist(&[entry(3, 2)], None).unwrap();
        drop(log);
        let len = std::fs::metadata(&path).unwrap().len();
        // A torn record at the tail, as a kill in the middle of a write leaves.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&[200, 0, 0, 0, 1, 2])
            .unwrap();

        let store = MemStorage::new_with_conf_state((vec![1, 2, 3], vec![]));
        let (_, r) = DurableLog::open(&path, &store, Sync::Always).unwrap();
        assert_eq!(r.records, 3);
        assert_eq!(r.torn_bytes, 6);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        assert_eq!(store.last_index().unwrap(), 3);
        assert_eq!(store.term(3).unwrap(), 2);
        let state = store.initial_state().unwrap();
        assert_eq!((state.hard_state.term, state.hard_state.vote), (2, 3));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
