//! The leader's table of requests in flight: tag sequence number to the
//! stamp taken when the request was sent, and the peer it went to.

use heapless::Deque;

use crate::Stamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) seq: u64,
    pub(crate) to: u64,
    pub(crate) stamp: Stamp,
}

/// The last `N` requests sent, oldest first, with strictly increasing
/// sequence numbers. When full, the oldest is forgotten: a response to it
/// then credits nothing, which costs at most an extension, never a wrong
/// stamp.
#[derive(Debug, Clone)]
pub(crate) struct InFlight<const N: usize> {
    sent: Deque<Sent, N>,
}

impl<const N: usize> InFlight<N> {
    pub(crate) const fn new() -> Self {
        InFlight { sent: Deque::new() }
    }

    pub(crate) fn clear(&mut self) {
        self.sent.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.sent.len()
    }

    /// Records a request; `seq` must be above every recorded one.
    pub(crate) fn push(&mut self, entry: Sent) {
        if self.sent.is_full() {
            self.sent.pop_front();
        }
        // Cannot fail: there is room now (heapless rejects a zero capacity
        // at compile time).
        let _ = self.sent.push_back(entry);
    }

    /// The stamp of request `seq` if it went to `peer`.
    pub(crate) fn stamp_of(&self, seq: u64, peer: u64) -> Option<Stamp> {
        // Sequence numbers are consecutive in the common case, so the offset
        // from the oldest finds the entry in O(1); gaps (a clock failure
        // skipped no number, but a cleared table restarts the run) are found
        // by the fallback search.
        let first = self.sent.front()?.seq;
        let direct = usize::try_from(seq.checked_sub(first)?)
            .ok()
            .and_then(|i| self.sent.get(i))
            .filter(|e| e.seq == seq);
        let entry = match direct {
            Some(e) => Some(e),
            None => self.sent.iter().find(|e| e.seq == seq),
        }?;
        (entry.to == peer).then_some(entry.stamp)
    }

    /// The stamp of the newest request sent to `peer` (only the negative
    /// control that credits the wrong request uses it).
    pub(crate) fn newest_to(&self, peer: u64) -> Option<Stamp> {
        self.sent
            .iter()
            .rev()
            .find(|e| e.to == peer)
            .map(|e| e.stamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Instant;

    fn st(n: u64) -> Stamp {
        Stamp::new(Instant::from_nanos(n).unwrap(), 0)
    }

    #[test]
    fn finds_by_seq_and_peer_and_forgets_the_oldest() {
        let mut t = InFlight::<3>::new();
        assert_eq!(t.stamp_of(1, 2), None);
        for seq in 1..=4 {
            t.push(Sent {
                seq,
                to: 2 + seq % 2,
                stamp: st(seq * 10),
            });
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.stamp_of(1, 3), None, "evicted");
        assert_eq!(t.stamp_of(2, 2), Some(st(20)));
        assert_eq!(t.stamp_of(2, 3), None, "sent to another peer");
        assert_eq!(t.stamp_of(4, 2), Some(st(40)));
        assert_eq!(t.stamp_of(5, 2), None);
        assert_eq!(t.stamp_of(0, 2), None);
        assert_eq!(t.stamp_of(u64::MAX, 2), None);
        assert_eq!(t.newest_to(3), Some(st(30)));
        t.clear();
        assert_eq!(t.stamp_of(4, 2), None);
    }

    #[test]
    fn gaps_in_sequence_numbers_are_found() {
        let mut t = InFlight::<4>::new();
        for seq in [3, 4, 9, 10] {
            t.push(Sent {
                seq,
                to: 1,
                stamp: st(seq),
            });
        }
        assert_eq!(t.stamp_of(9, 1), Some(st(9)));
        assert_eq!(t.stamp_of(10, 1), Some(st(10)));
        assert_eq!(t.stamp_of(5, 1), None);
    }
}
