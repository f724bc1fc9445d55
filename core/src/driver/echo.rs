//! What a follower echoes to its leader: the newest tag it accepted from it.

use super::Tag;

/// The newest tag this node accepted from the leader it follows.
///
/// Echoing a tag on a response proves exactly one thing to the leader: this
/// node accepted that request (adopted the sender as leader of the tag's
/// term) *before* sending the response, so its vote guard was armed no
/// earlier than the request was sent. That holds for any response sent
/// after the acceptance, whichever request the response answers, so the
/// newest accepted tag is the most useful one and still sound. Requests the
/// node did not accept (a lower term) never enter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Echo {
    last: Option<(u64, Tag)>,
}

impl Echo {
    pub(crate) const fn new() -> Echo {
        Echo { last: None }
    }

    pub(crate) fn record(&mut self, leader: u64, tag: Tag) {
        self.last = match self.last {
            Some((l, t)) if l == leader => Some((l, t.max(tag))),
            _ => Some((leader, tag)),
        };
    }

    /// The last stepped tag, newest or not: only the negative control that
    /// restores the old tag numbering uses it (it echoed whatever it
    /// stepped last).
    pub(crate) fn record_latest(&mut self, leader: u64, tag: Tag) {
        self.last = Some((leader, tag));
    }

    pub(crate) fn tag_for(&self, to: u64) -> Option<Tag> {
        self.last.filter(|(l, _)| *l == to).map(|(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_tag_per_leader() {
        let mut e = Echo::new();
        assert_eq!(e.tag_for(1), None);
        e.record(1, Tag::new(3, 9));
        e.record(1, Tag::new(3, 7)); // a late duplicate does not go back
        assert_eq!(e.tag_for(1), Some(Tag::new(3, 9)));
        assert_eq!(e.tag_for(2), None);
        e.record(2, Tag::new(4, 1)); // a new leader replaces the old one
        assert_eq!(e.tag_for(1), None);
        assert_eq!(e.tag_for(2), Some(Tag::new(4, 1)));
    }
}
