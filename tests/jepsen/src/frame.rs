//! The peer wire format and its decoder, which takes arbitrary bytes.
//!
//! A frame is a 12-byte header, then `len` bytes of body:
//!
//! ```text
//! magic "LHJ1" (4) | len: u32 LE (4) | crc32(body): u32 LE (4) | body (len bytes)
//! body = kind: u8, then
//!   kind 0 (hello): from: u64 LE, to: u64 LE                       (first frame of a connection)
//!   kind 1 (raft):  has_tag: u8 (0 or 1), tag: 16 bytes, eraftpb::Message (protobuf)
//! ```
//!
//! The lease [`Tag`] travels beside the raft-rs message, in the frame, so the
//! message stays raft-rs's own. A connection carries one peer's messages to
//! one node: it opens with a hello naming both, and every later message must
//! come from that peer and be addressed to that node.
//!
//! The decoder never trusts a length: a header whose `len` is above
//! [`FRAME_LIMIT`] is an error before anything is allocated, and the body
//! buffer grows only as bytes arrive, so a connection costs at most
//! `FRAME_LIMIT` bytes of buffer whatever it sends. The checksum makes
//! garbage injected into a live stream (or a stream that lost sync) an error
//! instead of a random-but-parseable raft message: raft-rs trusts its peers
//! and panics on some impossible messages.

use std::fmt;
use std::io::{self, Read};

use leasehold_core::Tag;
use protobuf::Message as _;
use raft::eraftpb::Message;

/// Largest body a frame may have (1 MiB). Senders never build a larger one
/// (raft-rs's `max_size_per_msg` is set well below it); receivers reject a
/// header announcing one.
pub const FRAME_LIMIT: usize = 1 << 20;

/// Bytes before the body.
pub const HEADER_LEN: usize = 12;

const MAGIC: [u8; 4] = *b"LHJ1";
const KIND_HELLO: u8 = 0;
const KIND_RAFT: u8 = 1;
/// Body buffers grow by at most this much per read, so a truncated frame
/// costs what arrived, not what its header claimed.
const READ_CHUNK: usize = 64 * 1024;

/// Why a connection's bytes were refused. Every variant but [`Io`](Self::Io)
/// and [`Closed`](Self::Closed) means the peer sent something invalid; the
/// receiver disconnects and counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The peer closed the connection between frames.
    Closed,
    /// Reading failed (including end of stream inside a frame).
    Io(io::ErrorKind),
    /// The header does not start with the magic.
    BadMagic,
    /// The header announces a body above [`FRAME_LIMIT`].
    Oversized(u32),
    /// The body does not match its checksum.
    Checksum,
    /// An empty body, an unknown kind, or a body of the wrong size.
    Malformed,
    /// The protobuf message does not parse.
    BadMessage,
    /// The first frame was not a hello.
    NoHello,
    /// A hello from an id that is not a peer of this node, or a second hello.
    UnknownPeer(u64),
    /// A hello or message addressed to another node, or a message whose
    /// sender is not the connection's peer.
    Misaddressed {
        /// The message's `from`.
        from: u64,
        /// The message's `to`.
        to: u64,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Closed => f.write_str("connection closed"),
            FrameError::Io(k) => write!(f, "read failed: {k:?}"),
            FrameError::BadMagic => f.write_str("bad frame magic"),
            FrameError::Oversized(n) => write!(f, "frame of {n} bytes exceeds {FRAME_LIMIT}"),
            FrameError::Checksum => f.write_str("frame checksum mismatch"),
            FrameError::Malformed => f.write_str("malformed frame body"),
            FrameError::BadMessage => f.write_str("raft message does not parse"),
            FrameError::NoHello => f.write_str("first frame is not a hello"),
            FrameError::UnknownPeer(id) => write!(f, "hello from unknown peer {id}"),
            FrameError::Misaddressed { from, to } => {
                write!(f, "message {from} -> {to} on this connection")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// A decoded frame body.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Opens a connection: who sends, to whom.
    Hello {
        /// The sending node.
        from: u64,
        /// The receiving node.
        to: u64,
    },
    /// A raft-rs message and the lease tag sent beside it.
    Raft {
        /// The message.
        msg: Message,
        /// Its tag, if the lease gave it one.
        tag: Option<Tag>,
    },
}

/// Reads one frame's body into `buf` (cleared first). `buf` never grows past
/// [`FRAME_LIMIT`].
///
/// # Errors
///
/// [`FrameError::Closed`] at a clean end of stream, otherwise what was wrong.
pub fn read_frame<R: Read>(r: &mut R, buf: &mut Vec<u8>) -> Result<(), FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Err(FrameError::Closed),
            Ok(0) => return Err(FrameError::Io(io::ErrorKind::UnexpectedEof)),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e.kind())),
        }
    }
    if header[..4] != MAGIC {
        return Err(FrameError::BadMagic);
    }
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    let len_usize = len as usize;
    if len_usize > FRAME_LIMIT {
        return Err(FrameError::Oversized(len));
    }
    buf.clear();
    while buf.len() < len_usize {
        let want = (len_usize - buf.len()).min(READ_CHUNK);
        let start = buf.len();
        if buf.capacity() - start < want {
            buf.reserve_exact(want);
        }
        buf.resize(start + want, 0);
        match r.read(&mut buf[start..]) {
            Ok(0) => {
                buf.truncate(start);
                return Err(FrameError::Io(io::ErrorKind::UnexpectedEof));
            }
            Ok(n) => buf.truncate(start + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                return Err(FrameError::Io(e.kind()));
            }
        }
    }
    if crc32fast::hash(buf) != crc {
        return Err(FrameError::Checksum);
    }
    Ok(())
}

/// Decodes a body that [`read_frame`] accepted.
///
/// # Errors
///
/// [`FrameError::Malformed`] or [`FrameError::BadMessage`].
pub fn decode_body(body: &[u8]) -> Result<Frame, FrameError> {
    let (&kind, rest) = body.split_first().ok_or(FrameError::Malformed)?;
    match kind {
        KIND_HELLO => {
            if rest.len() != 16 {
                return Err(FrameError::Malformed);
            }
            let (a, b) = rest.split_at(8);
            Ok(Frame::Hello {
                from: u64::from_le_bytes(a.try_into().map_err(|_| FrameError::Malformed)?),
                to: u64::from_le_bytes(b.try_into().map_err(|_| FrameError::Malformed)?),
            })
        }
        KIND_RAFT => {
            if rest.len() < 1 + Tag::WIRE_SIZE {
                return Err(FrameError::Malformed);
            }
            let (head, pb) = rest.split_at(1 + Tag::WIRE_SIZE);
            let tag_bytes: [u8; 16] = head[1..].try_into().map_err(|_| FrameError::Malformed)?;
            let tag = match head[0] {
                0 => None,
                1 => Some(Tag::from_bytes(tag_bytes)),
                _ => return Err(FrameError::Malformed),
            };
            let msg = Message::parse_from_bytes(pb).map_err(|_| FrameError::BadMessage)?;
            Ok(Frame::Raft { msg, tag })
        }
        _ => Err(FrameError::Malformed),
    }
}

fn push_frame(out: &mut Vec<u8>, body_start: usize) -> Result<(), FrameError> {
    let len = out.len() - body_start;
    if len > FRAME_LIMIT {
        out.truncate(body_start - HEADER_LEN);
        return Err(FrameError::Oversized(
            u32::try_from(len).unwrap_or(u32::MAX),
        ));
    }
    let crc = crc32fast::hash(&out[body_start..]);
    let h = body_start - HEADER_LEN;
    // `len <= FRAME_LIMIT` fits a u32.
    out[h + 4..h + 8].copy_from_slice(&(len as u32).to_le_bytes());
    out[h + 8..h + 12].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn start_frame(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0; 8]);
    out.len()
}

/// Appends a hello frame to `out`.
pub fn encode_hello(from: u64, to: u64, out: &mut Vec<u8>) {
    let start = start_frame(out);
    out.push(KIND_HELLO);
    out.extend_from_slice(&from.to_le_bytes());
    out.extend_from_slice(&to.to_le_bytes());
    // 17 bytes never exceed the limit.
    let _ = push_frame(out, start);
}

/// Appends a raft frame to `out`.
///
/// # Errors
///
/// [`FrameError::Oversized`] if the message would exceed [`FRAME_LIMIT`]
/// (nothing is appended), [`FrameError::BadMessage`] if protobuf cannot
/// encode it.
pub fn encode_raft(msg: &Message, tag: Option<Tag>, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = start_frame(out);
    out.push(KIND_RAFT);
    out.push(u8::from(tag.is_some()));
    out.extend_from_slice(&tag.map_or([0; 16], Tag::to_bytes));
    if msg.write_to_vec(out).is_err() {
        out.truncate(start - HEADER_LEN);
        return Err(FrameError::BadMessage);
    }
    push_frame(out, start)
}

/// The receiving end of one peer connection: checks the hello, then that
/// every message comes from that peer and is addressed to this node.
#[derive(Debug)]
pub struct PeerReader {
    me: u64,
    peers: Vec<u64>,
    from: Option<u64>,
    buf: Vec<u8>,
}

impl PeerReader {
    /// A reader for node `me`, accepting hellos from `peers` only.
    pub fn new(me: u64, peers: &[u64]) -> PeerReader {
        PeerReader {
            me,
            peers: peers.to_vec(),
            from: None,
            buf: Vec::new(),
        }
    }

    /// The peer the hello named, once it arrived.
    pub fn peer(&self) -> Option<u64> {
        self.from
    }

    /// Capacity of the body buffer (never above [`FRAME_LIMIT`]).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Reads up to the next raft message (the hello is consumed on the way).
    ///
    /// # Errors
    ///
    /// Any [`FrameError`]; after an error the connection must be dropped
    /// (the stream has lost sync or the peer is not who it claims).
    pub fn next<R: Read>(&mut self, r: &mut R) -> Result<(Message, Option<Tag>), FrameError> {
        loop {
            read_frame(r, &mut self.buf)?;
            match (decode_body(&self.buf)?, self.from) {
                (Frame::Hello { from, to }, None) => {
                    if to != self.me {
                        return Err(FrameError::Misaddressed { from, to });
                    }
                    if from == self.me || !self.peers.contains(&from) {
                        return Err(FrameError::UnknownPeer(from));
                    }
                    self.from = Some(from);
                }
                (Frame::Hello { from, .. }, Some(_)) => return Err(FrameError::UnknownPeer(from)),
                (Frame::Raft { .. }, None) => return Err(FrameError::NoHello),
                (Frame::Raft { msg, tag }, Some(peer)) => {
                    if msg.from != peer || msg.to != self.me {
                        return Err(FrameError::Misaddressed {
                            from: msg.from,
                            to: msg.to,
                        });
                    }
                    return Ok((msg, tag));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft::eraftpb::MessageType;

    fn msg(from: u64, to: u64) -> Message {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgHeartbeat);
        m.from = from;
        m.to = to;
        m.term = 3;
        m
    }

    #[test]
    fn a_valid_stream_round_trips() {
        let mut out = Vec::new();
        encode_hello(2, 1, &mut out);
        encode_raft(&msg(2, 1), Some(Tag::new(3, 9)), &mut out).unwrap();
        encode_raft(&msg(2, 1), None, &mut out).unwrap();
        let mut r = PeerReader::new(1, &[1, 2, 3]);
        let mut cur = io::Cursor::new(out);
        assert_eq!(r.next(&mut cur).unwrap(), (msg(2, 1), Some(Tag::new(3, 9))));
        assert_eq!(r.peer(), Some(2));
        assert_eq!(r.next(&mut cur).unwrap(), (msg(2, 1), None));
        assert_eq!(r.next(&mut cur), Err(FrameError::Closed));
    }

    #[test]
    fn every_kind_of_bad_input_is_its_own_error() {
        let check = |bytes: Vec<u8>, want: FrameError| {
            let mut r = PeerReader::new(1, &[1, 2, 3]);
            assert_eq!(r.next(&mut io::Cursor::new(bytes)), Err(want));
        };
        let mut hello9 = Vec::new();
        encode_hello(9, 1, &mut hello9);
        check(hello9, FrameError::UnknownPeer(9));
        let mut to_other = Vec::new();
        encode_hello(2, 3, &mut to_other);
        check(to_other, FrameError::Misaddressed { from: 2, to: 3 });
        let mut no_hello = Vec::new();
        encode_raft(&msg(2, 1), None, &mut no_hello).unwrap();
        check(no_hello, FrameError::NoHello);
        let mut forged = Vec::new();
        encode_hello(2, 1, &mut forged);
        encode_raft(&msg(3, 1), None, &mut forged).unwrap();
        check(forged, FrameError::Misaddressed { from: 3, to: 1 });
        let mut flipped = Vec::new();
        encode_hello(2, 1, &mut flipped);
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        check(flipped, FrameError::Checksum);
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&(FRAME_LIMIT as u32 + 1).to_le_bytes());
        huge.extend_from_slice(&[0; 4]);
        check(huge, FrameError::Oversized(FRAME_LIMIT as u32 + 1));
        check(b"GET / HTTP/1.1\r\n".to_vec(), FrameError::BadMagic);
        check(MAGIC.to_vec(), FrameError::Io(io::ErrorKind::UnexpectedEof));
        // A header that claims the whole limit but is cut short allocates
        // what arrived plus at most one read chunk.
        let mut cut = MAGIC.to_vec();
        cut.extend_from_slice(&(FRAME_LIMIT as u32).to_le_bytes());
        cut.extend_from_slice(&[0; 4]);
        cut.extend_from_slice(&[7; 100]);
        let mut r = PeerReader::new(1, &[1, 2]);
        assert_eq!(
            r.next(&mut io::Cursor::new(cut)),
            Err(FrameError::Io(io::ErrorKind::UnexpectedEof))
        );
        assert!(r.buffer_capacity() <= 100 + READ_CHUNK);
    }

    #[test]
    fn a_message_above_the_limit_is_not_encoded() {
        let mut m = msg(1, 2);
        m.set_msg_type(MessageType::MsgAppend);
        let e = raft::eraftpb::Entry {
            data: vec![0u8; FRAME_LIMIT].into(),
            ..Default::default()
        };
        m.entries.push(e);
        let mut out = vec![1, 2, 3];
        assert!(matches!(
            encode_raft(&m, None, &mut out),
            Err(FrameError::Oversized(_))
        ));
        assert_eq!(out, vec![1, 2, 3]);
    }
}
