//! The peer frame decoder against arbitrary bytes: no panic, an error for
//! every invalid input, and no allocation above `FRAME_LIMIT` while it
//! decodes (measured by a counting global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use leasehold_core::Tag;
use leasehold_jepsen::frame::{encode_hello, encode_raft, FrameError, PeerReader, FRAME_LIMIT};
use proptest::prelude::*;
use raft::eraftpb::{Entry, Message, MessageType};

/// Largest single allocation (or reallocation) made while `TRACK` is set
/// on the allocating thread.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static TRACK: Cell<bool> = const { Cell::new(false) };
}

struct Counting;

fn note(size: usize) {
    if TRACK.with(Cell::get) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const ME: u64 = 1;
const PEERS: [u64; 3] = [1, 2, 3];

/// Decodes `bytes` as one connection until the first error; returns the
/// messages and the error.
fn decode_all(bytes: &[u8]) -> (Vec<Message>, FrameError) {
    let mut r = PeerReader::new(ME, &PEERS);
    let mut cur = Cursor::new(bytes);
    let mut msgs = Vec::new();
    TRACK.with(|t| t.set(true));
    let err = loop {
        match r.next(&mut cur) {
            Ok((m, _)) => msgs.push(m),
            Err(e) => break e,
        }
    };
    TRACK.with(|t| t.set(false));
    assert!(r.buffer_capacity() <= FRAME_LIMIT);
    (msgs, err)
}

fn message(from: u64, to: u64, kind: u8, entries: usize) -> Message {
    let mut m = Message::default();
    m.set_msg_type(match kind % 4 {
        0 => MessageType::MsgHeartbeat,
        1 => MessageType::MsgAppend,
        2 => MessageType::MsgAppendResponse,
        _ => MessageType::MsgRequestVote,
    });
    m.from = from;
    m.to = to;
    m.term = 7;
    for i in 0..entries {
        m.entries.push(Entry {
            index: i as u64 + 1,
            data: vec![i as u8; 8].into(),
            ..Default::default()
        });
    }
    m
}

/// A valid connection from peer 2: hello, then `n` messages.
fn valid_stream(n: usize, kind: u8) -> Vec<u8> {
    let mut out = Vec::new();
    encode_hello(2, ME, &mut out);
    for i in 0..n {
        encode_raft(
            &message(2, ME, kind, i % 3),
            (i % 2 == 0).then(|| Tag::new(7, i as u64)),
            &mut out,
        )
        .expect("small messages encode");
    }
    out
}

/// What the test may see the decoder allocate at most: one body buffer and
/// what protobuf makes of a body, both bounded by the frame.
const ALLOC_BOUND: usize = FRAME_LIMIT;

fn largest_so_far() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random bytes, random bytes after a valid hello, and valid streams
    /// with a byte changed, cut short or with garbage spliced in: never a
    /// panic, always an error at the end, never an allocation past the limit.
    #[test]
    fn arbitrary_bytes_never_panic_or_overallocate(
        noise in proptest::collection::vec(any::<u8>(), 0..512),
        shape in 0u8..5,
        n in 0usize..4,
        kind in any::<u8>(),
        at in any::<usize>(),
        flip in 1u8..=255,
    ) {
        let bytes = match shape {
            0 => noise.clone(),
            1 => { let mut s = valid_stream(0, kind); s.extend_from_slice(&noise); s }
            2 => { let mut s = valid_stream(n + 1, kind); let i = at % s.len(); s[i] ^= flip; s }
            3 => { let s = valid_stream(n + 1, kind); s[..at % s.len()].to_vec() }
            _ => {
                let mut s = valid_stream(n + 1, kind);
                let i = at % (s.len() + 1);
                s.splice(i..i, noise.iter().copied());
                s
            }
        };
        let (msgs, err) = decode_all(&bytes);
        // Whatever decoded came from peer 2 to this node.
        for m in &msgs {
            prop_assert_eq!((m.from, m.to), (2, ME));
        }
        // Non-empty garbage never passes for a cleanly closed connection.
        if shape == 0 && !noise.is_empty() {
            prop_assert_ne!(err, FrameError::Closed);
        }
        prop_assert!(largest_so_far() <= ALLOC_BOUND, "allocated {} bytes", largest_so_far());
    }
}

#[test]
fn valid_frames_decode_and_every_bad_one_is_refused() {
    let good = valid_stream(5, 1);
    let (msgs, err) = decode_all(&good);
    assert_eq!(msgs.len(), 5);
    assert_eq!(err, FrameError::Closed);

    // A valid frame from a peer id the node does not know.
    let mut unknown = Vec::new();
    encode_hello(42, ME, &mut unknown);
    encode_raft(&message(42, ME, 0, 0), None, &mut unknown).unwrap();
    assert_eq!(decode_all(&unknown), (vec![], FrameError::UnknownPeer(42)));

    // A header announcing 4 GiB, and one announcing the limit plus one.
    for len in [u32::MAX, FRAME_LIMIT as u32 + 1] {
        let mut big = b"LHJ1".to_vec();
        big.extend_from_slice(&len.to_le_bytes());
        big.extend_from_slice(&[0; 4]);
        big.extend_from_slice(&[0; 64]);
        assert_eq!(decode_all(&big).1, FrameError::Oversized(len));
    }
    assert!(largest_so_far() <= ALLOC_BOUND);
}
