//! The premise checker: a lease rests on the promise of every voter whose
//! ack extended it not to vote for anybody else (itself included) until the
//! lease ends. This checker records, for every extension made from the
//! quorum tracker, which voters' acks made it and until when (true time),
//! and flags every vote granted, or campaign started, inside such a window.
//! It sees a broken promise even when the election it helps does not
//! complete, which the overlap and stale-read checkers need to happen.
//!
//! It also checks what a promise is made of (invariants 4 and 8): every
//! extension must rest on acks of a majority of each voter set, each
//! credited with the stamp of a request no later than the newest leader
//! message of that term the voter had accepted (raft-rs reset its election
//! timer then; an ack credited with a later request's stamp claims a timer
//! reset that never happened), and no such voter may have voted for
//! somebody else in a higher term since that request was sent.

/// What one voter's ack behind an extension rests on, in true time (what
/// only the simulation knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The voter.
    pub voter: usize,
    /// When the request its ack was credited with was sent; `None` if no
    /// send of the leader was stamped with the ack's reading.
    pub sent: Option<u64>,
    /// When the newest message of that leader and term the voter had
    /// accepted was sent (raft-rs reset its election timer on it).
    pub accepted: Option<u64>,
}

/// One voter's promise to one leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    voter: usize,
    leader: usize,
    term: u64,
    until: u64,
}

/// The promises in force.
#[derive(Debug, Clone, Default)]
pub struct Premises {
    windows: Vec<Window>,
    /// Votes of the event being processed, judged once its invalidations
    /// are known: a leader that grants a vote and steps down in one step
    /// ends its lease at the same instant, before any candidate can win.
    pending: Vec<(usize, usize, u64)>,
    /// Votes of the last few seconds: (voter, candidate, term, when, judged
    /// broken already), for extensions that rest on an ack whose voter had
    /// voted for somebody else before the extension was made.
    votes: Vec<(usize, usize, u64, u64, bool)>,
    violations: u64,
    opportunities: u64,
}

impl Premises {
    /// `leader` extended its lease of `term` to true time `until` from the
    /// acks of `voters` (the leader among them if its own ack counted).
    pub fn extended(&mut self, leader: usize, term: u64, voters: &[usize], until: u64) {
        for &v in voters {
            match self
                .windows
                .iter_mut()
                .find(|w| w.voter == v && w.leader == leader && w.term == term)
            {
                Some(w) => w.until = w.until.max(until),
                None => self.windows.push(Window {
                    voter: v,
                    leader,
                    term,
                    until,
                }),
            }
        }
    }

    /// `leader` extended its lease of `term` to true time `until` from
    /// `acks` (the other voters'; its own ack is its own promise). Returns
    /// how many of two premises broke (each counted once per extension):
    ///
    /// * an ack credited with a request its voter had not accepted: the
    ///   voter accepted no message of that leader and term sent as late as
    ///   the request (or no send was stamped with the ack's reading at all),
    ///   so its election timer runs from earlier than the lease assumes
    ///   (invariant 4);
    /// * an ack whose voter has voted for somebody else in a higher term
    ///   since its request was sent (it accepted the request first, as its
    ///   term could not have gone back afterwards): a vote made before the
    ///   extension existed, which [`settle`](Self::settle) could not judge
    ///   against a window yet.
    pub fn check_acks(&mut self, leader: usize, term: u64, acks: &[Ack], until: u64) -> u64 {
        let unaccepted = acks.iter().any(|a| match (a.sent, a.accepted) {
            (Some(sent), Some(accepted)) => accepted < sent,
            _ => true,
        });
        let mut voted_since = false;
        for a in acks {
            let Some(sent) = a.sent else { continue };
            for vote in self.votes.iter_mut().filter(|x| {
                x.0 == a.voter && x.1 != leader && x.2 > term && x.3 >= sent && x.3 < until && !x.4
            }) {
                vote.4 = true;
                voted_since = true;
            }
        }
        let broken = u64::from(unaccepted) + u64::from(voted_since);
        self.violations += broken;
        broken
    }

    /// `leader`'s lease ended at `now` (invalidated, or the node is gone):
    /// nobody needs to keep a promise to it any more.
    pub fn ended(&mut self, leader: usize, now: u64) {
        for w in self.windows.iter_mut().filter(|w| w.leader == leader) {
            w.until = w.until.min(now);
        }
    }

    /// `voter` voted for `candidate` in `term` (a campaign is a vote for
    /// itself), in the event being processed; judged by
    /// [`settle`](Self::settle).
    pub fn vote(&mut self, voter: usize, candidate: usize, term: u64) {
        self.pending.push((voter, candidate, term));
    }

    /// Judges the votes of the event that ended at `now`, after its lease
    /// ends were recorded. Returns how many broke a promise.
    pub fn settle(&mut self, now: u64) -> u64 {
        self.windows.retain(|w| w.until > now);
        // Longer than any lease: older votes cannot fall inside a window.
        self.votes.retain(|v| v.3 + 5_000_000_000 > now);
        let mut broken = 0;
        for (voter, candidate, term) in std::mem::take(&mut self.pending) {
            let bad = self
                .windows
                .iter()
                .any(|w| w.voter == voter && w.leader != candidate && w.term < term);
            broken += u64::from(bad);
            self.votes.push((voter, candidate, term, now, bad));
        }
        self.violations += broken;
        broken
    }

    /// `leader` extended its lease from the acks of `voters`, while its
    /// Raft configuration's voter sets are `config` (both sets in joint
    /// consensus): a violation unless `voters` holds a majority of each
    /// (invariant 8; learners and removed nodes promise nothing).
    pub fn check_quorum(&mut self, voters: &[u64], config: &[&[u64]]) -> bool {
        let ok = config.iter().all(|set| {
            let have = set.iter().filter(|id| voters.contains(id)).count();
            set.is_empty() || have > set.len() / 2
        });
        if !ok {
            self.violations += 1;
        }
        ok
    }

    /// A vote request from `candidate` for `term` reached `voter` at `now`:
    /// counts it if a promise is in force (a chance to break one).
    pub fn request(&mut self, voter: usize, candidate: usize, term: u64, now: u64) {
        if self
            .windows
            .iter()
            .any(|w| w.voter == voter && w.leader != candidate && w.term < term && w.until > now)
        {
            self.opportunities += 1;
        }
    }

    /// Vote requests that reached a voter bound by a promise.
    pub fn opportunities(&self) -> u64 {
        self.opportunities
    }

    /// Broken promises so far.
    pub fn violations(&self) -> u64 {
        self.violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vote_inside_a_window_breaks_the_promise() {
        let mut p = Premises::default();
        p.extended(0, 3, &[0, 1], 100);
        let one = |p: &mut Premises, v, c, t, now| {
            p.vote(v, c, t);
            p.settle(now) == 1
        };
        assert!(!one(&mut p, 1, 0, 4, 50), "a vote for the same leader");
        assert!(!one(&mut p, 1, 2, 3, 50), "same term: not a newer leader");
        assert!(!one(&mut p, 2, 2, 4, 50), "2 promised nothing");
        assert!(one(&mut p, 1, 2, 4, 50));
        assert!(!one(&mut p, 1, 2, 4, 100), "the window is over");
        p.extended(0, 3, &[1], 200);
        p.ended(0, 120);
        assert!(!one(&mut p, 1, 2, 5, 130), "the lease was invalidated");
        // A vote in the same event as the invalidation of that lease.
        p.extended(0, 4, &[0], 300);
        p.vote(0, 2, 5);
        p.ended(0, 150);
        assert_eq!(p.settle(150), 0);
        assert_eq!(p.violations(), 1);
        assert!(p.check_quorum(&[1, 2], &[&[1, 2, 3]]));
        assert!(!p.check_quorum(&[1, 4, 5], &[&[1, 2, 3]]), "learners 4, 5");
        assert!(!p.check_quorum(&[1, 2], &[&[1, 2, 3], &[3, 4, 5]]), "joint");
        assert_eq!(p.violations(), 3);
    }

    fn ack(voter: usize, sent: Option<u64>, accepted: Option<u64>) -> Ack {
        Ack {
            voter,
            sent,
            accepted,
        }
    }

    #[test]
    fn an_ack_credited_with_a_request_its_voter_never_accepted_breaks_it() {
        let mut p = Premises::default();
        let fine = [ack(1, Some(40), Some(40)), ack(2, Some(30), Some(90))];
        assert_eq!(p.check_acks(0, 3, &fine, 100), 0);
        let late = [ack(1, Some(40), Some(40)), ack(2, Some(30), Some(29))];
        assert_eq!(p.check_acks(0, 3, &late, 100), 1);
        let none = [ack(2, Some(30), None)];
        assert_eq!(
            p.check_acks(0, 3, &none, 100),
            1,
            "accepted nothing in that term"
        );
        let unknown = [ack(2, None, Some(90))];
        assert_eq!(
            p.check_acks(0, 3, &unknown, 100),
            1,
            "no send had that stamp"
        );
        assert_eq!(p.check_acks(0, 3, &[], 100), 0);
        assert_eq!(p.violations(), 3);
    }

    /// A voter that voted for another candidate after the leader sent the
    /// request it acknowledged, before the extension from that ack was made:
    /// no window existed yet when the vote was judged.
    #[test]
    fn an_extension_resting_on_an_ack_whose_voter_had_already_voted_breaks_it() {
        let mut p = Premises::default();
        // Voter 1's ack of a request sent at `sent`, which it accepted.
        let voted = |p: &mut Premises, leader, term, sent, until| {
            p.check_acks(leader, term, &[ack(1, Some(sent), Some(sent))], until) == 1
        };
        p.vote(1, 2, 4);
        assert_eq!(p.settle(50), 0, "no window yet");
        assert!(!voted(&mut p, 0, 3, 60, 150), "voted before the request");
        assert!(!voted(&mut p, 0, 4, 40, 150), "not a newer term");
        assert!(!voted(&mut p, 2, 3, 40, 150), "voted for this leader");
        assert!(!voted(&mut p, 0, 3, 40, 50), "the lease ends first");
        assert!(voted(&mut p, 0, 3, 40, 150));
        assert!(!voted(&mut p, 0, 3, 40, 160), "counted once");
        // A vote the forward check already judged broken is not counted again.
        p.extended(0, 3, &[1], 300);
        p.vote(1, 2, 5);
        assert_eq!(p.settle(200), 1);
        assert!(!voted(&mut p, 0, 3, 100, 300));
        assert_eq!(p.violations(), 2);
    }
}
