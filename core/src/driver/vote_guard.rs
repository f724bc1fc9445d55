//! The vote guard: a node that has acknowledged a leader refuses to vote
//! for anybody else for one election timeout, counted in its own ticks.

/// Counts down the ticks during which vote requests are dropped.
///
/// raft-rs refuses votes inside its check-quorum lease only while it knows a
/// leader (`leader_id != INVALID_ID`), and it forgets the leader when it
/// adopts a higher term from any response (`become_follower(term,
/// INVALID_ID)`) or restarts. A leader's lease rests on the promise of every
/// follower that acknowledged it, so the promise must not depend on that
/// state (invariant 15): the guard is armed whenever the node accepts a
/// message from a leader and when the node starts, and only its own ticks
/// disarm it; a term change does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct VoteGuard {
    ticks_left: usize,
}

impl VoteGuard {
    pub(crate) const fn new() -> VoteGuard {
        VoteGuard { ticks_left: 0 }
    }

    /// Refuse votes for the next `ticks` ticks (raft-rs: `election_elapsed
    /// = 0`, refusing while `election_elapsed < election_tick`).
    pub(crate) fn arm(&mut self, ticks: usize) {
        self.ticks_left = self.ticks_left.max(ticks);
    }

    #[cfg(any(test, feature = "negative-controls"))]
    pub(crate) fn disarm(&mut self) {
        self.ticks_left = 0;
    }

    pub(crate) fn tick(&mut self) {
        self.ticks_left = self.ticks_left.saturating_sub(1);
    }

    pub(crate) const fn armed(&self) -> bool {
        self.ticks_left > 0
    }

    #[cfg(test)]
    pub(crate) const fn ticks_left(&self) -> usize {
        self.ticks_left
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_for_exactly_the_armed_ticks() {
        let mut g = VoteGuard::new();
        assert!(!g.armed());
        g.arm(3);
        for _ in 0..3 {
            assert!(g.armed());
            g.tick();
        }
        assert!(!g.armed());
        g.tick();
        assert_eq!(g.ticks_left(), 0);
        // Re-arming never shortens a running guard.
        g.arm(5);
        g.tick();
        g.arm(2);
        assert_eq!(g.ticks_left(), 4);
        g.disarm();
        assert!(!g.armed());
    }
}
