//! The identity of a leader's request on the wire.

/// The tag a leader sends beside each heartbeat, append or snapshot, and a
/// follower echoes on its responses: the leader's term and a sequence number.
///
/// A tag names one request of one leader incarnation: a node leads a term at
/// most once (becoming leader again means campaigning in a later term, and
/// the vote for itself is durable), so `(term, seq)` never repeats across
/// restarts even though `seq` starts again at 1 in every
/// [`LeaseDriver`](crate::LeaseDriver) (invariant 17). The leader keeps the
/// [`Stamp`](crate::Stamp) of each tag in its own table; only the tag travels,
/// never an instant (invariant 13).
///
/// ```
/// use leasehold_core::Tag;
///
/// let tag = Tag::new(7, 42);
/// assert_eq!(Tag::from_bytes(tag.to_bytes()), tag);
/// assert!(Tag::new(7, 43) > tag && Tag::new(8, 1) > tag);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Tag {
    term: u64,
    seq: u64,
}

impl Tag {
    /// Size of [`to_bytes`](Self::to_bytes).
    pub const WIRE_SIZE: usize = 16;

    /// A tag from its parts (drivers create tags; transports decode them).
    pub const fn new(term: u64, seq: u64) -> Tag {
        Tag { term, seq }
    }

    /// The term of the leader that sent the request.
    pub const fn term(self) -> u64 {
        self.term
    }

    /// The request's sequence number within that leader's incarnation.
    pub const fn seq(self) -> u64 {
        self.seq
    }

    /// The wire form: term then seq, little-endian.
    pub const fn to_bytes(self) -> [u8; 16] {
        let t = self.term.to_le_bytes();
        let s = self.seq.to_le_bytes();
        [
            t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], s[0], s[1], s[2], s[3], s[4], s[5],
            s[6], s[7],
        ]
    }

    /// Decodes [`to_bytes`](Self::to_bytes). Every 16 bytes decode to some
    /// tag; a forged or corrupted one matches no request in the leader's
    /// table (or one sent to another peer) and is ignored.
    pub const fn from_bytes(b: [u8; 16]) -> Tag {
        Tag {
            term: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            seq: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
        }
    }
}
