//! A node's durable state: hard state, log and the latest snapshot (with the
//! state machine's data), as raft-rs's `Storage`. It survives a crash; the
//! node's volatile state does not.
//!
//! raft-rs's own `MemStorage` cannot carry state-machine data in its
//! snapshots, so log compaction (and followers or new leaders catching up by
//! snapshot) needs this one.

use std::cell::RefCell;
use std::rc::Rc;

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{Error, GetEntriesContext, RaftState, Result, Storage, StorageError};

#[derive(Debug, Default)]
struct Core {
    hard_state: HardState,
    /// The snapshot the log starts after: its index, term, configuration
    /// and the state machine's data at that index.
    snapshot: Snapshot,
    /// Entries `snapshot.index + 1 ..`.
    entries: Vec<Entry>,
}

impl Core {
    fn snap_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }
    fn first_index(&self) -> u64 {
        self.snap_index() + 1
    }
    fn last_index(&self) -> u64 {
        self.entries.last().map_or(self.snap_index(), |e| e.index)
    }
}

/// Shared handle to one node's durable state (the node loop and raft-rs
/// both hold it).
#[derive(Debug, Clone, Default)]
pub struct SimStorage {
    core: Rc<RefCell<Core>>,
}

impl SimStorage {
    /// Durable state of a node of the initial cluster: an empty log after a
    /// snapshot at index 0 holding the initial voters and `data`.
    pub fn new(voters: &[u64], data: Vec<u8>) -> SimStorage {
        let mut meta = SnapshotMetadata::default();
        meta.set_conf_state(ConfState::from((voters.to_vec(), vec![])));
        let mut snapshot = Snapshot::default();
        snapshot.set_metadata(meta);
        snapshot.set_data(data.into());
        SimStorage {
            core: Rc::new(RefCell::new(Core {
                snapshot,
                ..Default::default()
            })),
        }
    }

    /// Appends entries, replacing any conflicting suffix.
    pub fn append(&self, ents: &[Entry]) {
        let Some(first) = ents.first() else { return };
        let mut c = self.core.borrow_mut();
        assert!(first.index >= c.first_index(), "append below the snapshot");
        assert!(first.index <= c.last_index() + 1, "gap in the log");
        let keep = (first.index - c.first_index()) as usize;
        c.entries.truncate(keep);
        c.entries.extend_from_slice(ents);
    }

    /// Persists the hard state.
    pub fn set_hard_state(&self, hs: &HardState) {
        self.core.borrow_mut().hard_state = hs.clone();
    }

    /// Persists a new commit index.
    pub fn set_commit(&self, commit: u64) {
        self.core.borrow_mut().hard_state.commit = commit;
    }

    /// Installs a snapshot received from the leader: the log restarts after it.
    pub fn apply_snapshot(&self, snap: &Snapshot) {
        let mut c = self.core.borrow_mut();
        let meta = snap.get_metadata();
        c.hard_state.term = c.hard_state.term.max(meta.term);
        c.hard_state.commit = c.hard_state.commit.max(meta.index);
        // raft-rs restarts its log after the snapshot (as MemStorage does).
        c.entries.clear();
        c.snapshot = snap.clone();
    }

    /// Log compaction: a snapshot of the state machine at `index` (applied
    /// on this node, so in the log), with the configuration at that index.
    /// Entries up to `index` are dropped.
    pub fn compact(&self, index: u64, conf: ConfState, data: Vec<u8>) {
        let mut c = self.core.borrow_mut();
        if index <= c.snap_index() || index > c.last_index() {
            return;
        }
        let pos = (index - c.first_index()) as usize;
        let term = c.entries[pos].term;
        c.entries.drain(..=pos);
        let mut meta = SnapshotMetadata {
            index,
            term,
            ..Default::default()
        };
        meta.set_conf_state(conf);
        let mut snapshot = Snapshot::default();
        snapshot.set_metadata(meta);
        snapshot.set_data(data.into());
        c.snapshot = snapshot;
    }

    /// The latest snapshot (a restart restores the state machine from it).
    pub fn snapshot_now(&self) -> Snapshot {
        self.core.borrow().snapshot.clone()
    }

    /// Index of the latest snapshot.
    pub fn snapshot_index(&self) -> u64 {
        self.core.borrow().snap_index()
    }

    /// The persisted hard state.
    pub fn hard_state(&self) -> HardState {
        self.core.borrow().hard_state.clone()
    }
}

impl Storage for SimStorage {
    fn initial_state(&self) -> Result<RaftState> {
        let c = self.core.borrow();
        // The configuration as of the snapshot: a restarted node applies
        // again from there (raft::Config::applied = the snapshot index), so
        // later configuration changes are re-applied in order.
        Ok(RaftState::new(
            c.hard_state.clone(),
            c.snapshot.get_metadata().get_conf_state().clone(),
        ))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> Result<Vec<Entry>> {
        let c = self.core.borrow();
        if low < c.first_index() {
            return Err(Error::Store(StorageError::Compacted));
        }
        assert!(high <= c.last_index() + 1, "entries beyond the log");
        let lo = (low - c.first_index()) as usize;
        let hi = (high - c.first_index()) as usize;
        let mut ents = c.entries[lo..hi].to_vec();
        if let Some(max) = max_size.into() {
            let mut size = 0u64;
            let mut n = 0;
            for e in &ents {
                size += protobuf::Message::compute_size(e) as u64;
                if n > 0 && size > max {
                    break;
                }
                n += 1;
            }
            ents.truncate(n);
        }
        Ok(ents)
    }

    fn term(&self, idx: u64) -> Result<u64> {
        let c = self.core.borrow();
        if idx == c.snap_index() {
            return Ok(c.snapshot.get_metadata().term);
        }
        if idx < c.first_index() {
            return Err(Error::Store(StorageError::Compacted));
        }
        if idx > c.last_index() {
            return Err(Error::Store(StorageError::Unavailable));
        }
        Ok(c.entries[(idx - c.first_index()) as usize].term)
    }

    fn first_index(&self) -> Result<u64> {
        Ok(self.core.borrow().first_index())
    }

    fn last_index(&self) -> Result<u64> {
        Ok(self.core.borrow().last_index())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> Result<Snapshot> {
        let c = self.core.borrow();
        if c.snap_index() < request_index {
            return Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        Ok(c.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    #[test]
    fn append_compact_and_snapshot() {
        let s = SimStorage::new(&[1, 2, 3], vec![7]);
        assert_eq!(s.first_index(), Ok(1));
        assert_eq!(s.last_index(), Ok(0));
        assert_eq!(s.term(0), Ok(0));
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 2)]);
        s.append(&[entry(3, 3), entry(4, 3)]); // conflict replaces the suffix
        assert_eq!(s.term(3), Ok(3));
        assert_eq!(s.last_index(), Ok(4));
        s.compact(2, ConfState::from((vec![1, 2], vec![])), vec![9]);
        assert_eq!(s.first_index(), Ok(3));
        assert_eq!(s.term(2), Ok(1));
        assert_eq!(
            s.entries(1, 3, None, GetEntriesContext::empty(false)),
            Err(Error::Store(StorageError::Compacted))
        );
        assert_eq!(
            s.entries(3, 5, None, GetEntriesContext::empty(false))
                .unwrap()
                .len(),
            2
        );
        let snap = s.snapshot(2, 9).unwrap();
        assert_eq!(snap.get_metadata().index, 2);
        assert_eq!(snap.get_data(), &[9]);
        assert!(s.snapshot(3, 9).is_err());
        assert_eq!(
            s.initial_state().unwrap().conf_state.voters,
            vec![1, 2],
            "a restart starts from the snapshot's configuration"
        );
        let other = SimStorage::new(&[1, 2, 3], vec![]);
        other.append(&[entry(1, 1)]);
        other.apply_snapshot(&snap);
        assert_eq!(other.first_index(), Ok(3));
        assert_eq!(other.last_index(), Ok(2));
        assert_eq!(other.hard_state().commit, 2);
    }
}
