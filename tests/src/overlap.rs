//! The lease-overlap checker: true time during which some node held a valid
//! lease while another node was leader of a higher term. Unlike the
//! stale-read checker it does not need a write to land in the window, so it
//! also catches leases that are too long by a few milliseconds.

/// What one node holds at an instant of true time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaseView {
    /// A lease valid by the node's own clock now.
    pub holds: bool,
    /// The term the lease was granted in.
    pub term: u64,
    /// True time at which the lease ends (if the clock keeps its rate).
    pub until: u64,
    /// `Some(term)` if the node is leader of `term`.
    pub leader_term: Option<u64>,
}

/// Accumulates overlap between events.
#[derive(Debug, Clone)]
pub struct Overlap {
    views: Vec<LeaseView>,
    last_t: u64,
    total: u64,
}

impl Overlap {
    /// No node holds anything yet.
    pub fn new(nodes: usize) -> Overlap {
        Overlap {
            views: vec![LeaseView::default(); nodes],
            last_t: 0,
            total: 0,
        }
    }

    /// Node `i`'s view from now on (until the next call).
    pub fn set(&mut self, i: usize, v: LeaseView) {
        self.views[i] = v;
    }

    /// Accounts the interval from the last call to `t` with the current views.
    pub fn account(&mut self, t: u64) {
        let from = self.last_t;
        if t <= from {
            return;
        }
        let mut best = from;
        for (i, v) in self.views.iter().enumerate() {
            if !v.holds {
                continue;
            }
            let higher = self
                .views
                .iter()
                .enumerate()
                .any(|(j, w)| j != i && w.leader_term.is_some_and(|lt| lt > v.term));
            if higher {
                best = best.max(v.until.min(t));
            }
        }
        self.total += best - from;
        self.last_t = t;
    }

    /// Total overlap so far, ns.
    pub fn total_ns(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_while_a_higher_term_leads() {
        let mut o = Overlap::new(2);
        o.set(
            0,
            LeaseView {
                holds: true,
                term: 3,
                until: 150,
                leader_term: None,
            },
        );
        o.account(100);
        assert_eq!(o.total_ns(), 0);
        o.set(
            1,
            LeaseView {
                leader_term: Some(4),
                ..Default::default()
            },
        );
        o.account(200);
        assert_eq!(o.total_ns(), 50, "until the lease ends at 150");
        o.set(
            1,
            LeaseView {
                leader_term: Some(3),
                ..Default::default()
            },
        );
        o.set(
            0,
            LeaseView {
                holds: true,
                term: 3,
                until: 1_000,
                leader_term: None,
            },
        );
        o.account(300);
        assert_eq!(o.total_ns(), 50, "same term: no overlap");
    }
}
