//! TCP transport between nodes: one outgoing connection per peer (opened by
//! the sender, through the harness's proxy), frames from [`crate::frame`].
//!
//! Receiving: every accepted connection gets a reader thread that runs a
//! [`PeerReader`] and hands messages to the node loop; an invalid frame
//! drops the connection and is counted ([`NetCounters`]). Sending: a thread
//! per peer with a bounded queue; when the queue is full or the peer is
//! unreachable the message is dropped, as Raft expects of a network (it
//! retransmits), and the node loop never blocks on a slow peer.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use leasehold_core::Tag;
use raft::eraftpb::Message;

use crate::frame::{encode_hello, encode_raft, FrameError, PeerReader};

/// Outgoing messages a peer's queue holds before new ones are dropped.
const QUEUE: usize = 4096;

/// What the transport saw, for the node's status.
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Connections accepted from peers.
    pub accepted: AtomicU64,
    /// Connections dropped because of an invalid frame (garbage, oversized,
    /// checksum, unknown peer, misaddressed).
    pub bad_frames: AtomicU64,
    /// Of those, hellos from an id that is not a peer.
    pub unknown_peers: AtomicU64,
    /// Messages received and handed to the node.
    pub received: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Messages dropped on the sending side (queue full, no connection,
    /// too large to frame).
    pub send_dropped: AtomicU64,
    /// Outgoing connections (re)established.
    pub connects: AtomicU64,
}

impl NetCounters {
    /// The counters as a JSON object.
    pub fn to_json(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "{{\"accepted\":{},\"bad_frames\":{},\"unknown_peers\":{},\"received\":{},\"sent\":{},\"send_dropped\":{},\"connects\":{}}}",
            g(&self.accepted),
            g(&self.bad_frames),
            g(&self.unknown_peers),
            g(&self.received),
            g(&self.sent),
            g(&self.send_dropped),
            g(&self.connects)
        )
    }
}

/// Starts accepting peer connections on `listener`; every valid message is
/// sent to `deliver` as `(message, tag)`.
pub fn serve_peers<E: Send + 'static>(
    listener: TcpListener,
    me: u64,
    peers: Vec<u64>,
    counters: Arc<NetCounters>,
    deliver: Sender<E>,
    wrap: fn(Message, Option<Tag>) -> E,
) {
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut stream) = conn else { continue };
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            let (peers, counters, deliver) = (peers.clone(), counters.clone(), deliver.clone());
            thread::spawn(move || {
                let _ = stream.set_nodelay(true);
                let mut reader = PeerReader::new(me, &peers);
                loop {
                    match reader.next(&mut stream) {
                        Ok((msg, tag)) => {
                            counters.received.fetch_add(1, Ordering::Relaxed);
                            if deliver.send(wrap(msg, tag)).is_err() {
                                return;
                            }
                        }
                        Err(FrameError::Closed | FrameError::Io(_)) => return,
                        Err(e) => {
                            counters.bad_frames.fetch_add(1, Ordering::Relaxed);
                            if matches!(e, FrameError::UnknownPeer(_)) {
                                counters.unknown_peers.fetch_add(1, Ordering::Relaxed);
                            }
                            eprintln!("node {me}: dropping connection: {e}");
                            let _ = stream.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                    }
                }
            });
        }
    });
}

/// The sending side of one peer: a bounded queue drained by its own thread.
#[derive(Debug, Clone)]
pub struct PeerSender {
    queue: SyncSender<(Message, Option<Tag>)>,
    counters: Arc<NetCounters>,
}

impl PeerSender {
    /// Starts the sender thread for messages from `me` to `peer` at `addr`.
    pub fn start(me: u64, peer: u64, addr: SocketAddr, counters: Arc<NetCounters>) -> PeerSender {
        let (queue, rx) = mpsc::sync_channel(QUEUE);
        let c = counters.clone();
        thread::spawn(move || send_loop(me, peer, addr, &rx, &c));
        PeerSender { queue, counters }
    }

    /// Queues a message; drops it if the queue is full.
    pub fn send(&self, msg: Message, tag: Option<Tag>) {
        match self.queue.try_send((msg, tag)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.send_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn connect(me: u64, peer: u64, addr: SocketAddr) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    let _ = stream.set_nodelay(true);
    // A peer that stops reading (SIGSTOP) must not block this thread forever:
    // the write times out, the connection is dropped and rebuilt.
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    let mut hello = Vec::new();
    encode_hello(me, peer, &mut hello);
    let mut s = stream;
    s.write_all(&hello).ok()?;
    Some(s)
}

fn send_loop(
    me: u64,
    peer: u64,
    addr: SocketAddr,
    rx: &Receiver<(Message, Option<Tag>)>,
    counters: &NetCounters,
) {
    let mut conn: Option<TcpStream> = None;
    let mut buf = Vec::new();
    while let Ok(first) = rx.recv() {
        // Batch what is queued into one write.
        buf.clear();
        let mut n = 0u64;
        for (msg, tag) in std::iter::once(first).chain(rx.try_iter().take(256)) {
            match encode_raft(&msg, tag, &mut buf) {
                Ok(()) => n += 1,
                Err(_) => {
                    counters.send_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if conn.is_none() {
            conn = connect(me, peer, addr);
            if conn.is_some() {
                counters.connects.fetch_add(1, Ordering::Relaxed);
            }
        }
        let Some(stream) = conn.as_mut() else {
            counters.send_dropped.fetch_add(n, Ordering::Relaxed);
            // Unreachable: do not spin on a dead peer.
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        if stream.write_all(&buf).is_ok() {
            counters.sent.fetch_add(n, Ordering::Relaxed);
        } else {
            counters.send_dropped.fetch_add(n, Ordering::Relaxed);
            conn = None;
        }
    }
}
