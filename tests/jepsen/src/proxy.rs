//! The harness's user-space network: one proxy per ordered pair of nodes.
//!
//! Node `i` reaches node `j` only through the proxy of link `(i, j)`, which
//! forwards whole frames, so a partition drops whole messages (as a lossy
//! network does) instead of cutting a stream mid-frame. Each link is one
//! direction of one pair, so one-way partitions are one link blocked.
//! [`Links::inject`] writes bytes of the harness's choosing into a live
//! connection, past the proxy's own frame parsing: the receiving node must
//! drop that connection and count it, and the cluster must stay correct.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::frame::{read_frame, FrameError, FRAME_LIMIT, HEADER_LEN};

/// One direction of one pair of nodes.
#[derive(Debug)]
struct Link {
    /// Drop every frame after the hello.
    blocked: AtomicBool,
    /// Bytes to write into the stream before the next frame.
    inject: Mutex<Option<Vec<u8>>>,
    /// Frames forwarded and dropped.
    forwarded: AtomicU64,
    dropped: AtomicU64,
}

/// The proxies between `n` nodes.
#[derive(Debug)]
pub struct Links {
    n: usize,
    links: Vec<Arc<Link>>,
    addrs: Vec<SocketAddr>,
}

impl Links {
    /// Starts a proxy for every ordered pair; `targets[j]` is node `j`'s
    /// peer listener.
    ///
    /// # Errors
    ///
    /// If a loopback port cannot be bound.
    pub fn start(targets: &[SocketAddr]) -> std::io::Result<Links> {
        let n = targets.len();
        let mut links = Vec::new();
        let mut addrs = Vec::new();
        for i in 0..n {
            for (j, &target) in targets.iter().enumerate() {
                let link = Arc::new(Link {
                    blocked: AtomicBool::new(false),
                    inject: Mutex::new(None),
                    forwarded: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                });
                let listener = TcpListener::bind("127.0.0.1:0")?;
                addrs.push(listener.local_addr()?);
                if i != j {
                    let l = link.clone();
                    thread::spawn(move || accept_loop(&listener, target, &l));
                }
                links.push(link);
            }
        }
        Ok(Links { n, links, addrs })
    }

    fn link(&self, from: usize, to: usize) -> &Link {
        &self.links[from * self.n + to]
    }

    /// The address node `from` must use to reach node `to`.
    pub fn addr(&self, from: usize, to: usize) -> SocketAddr {
        self.addrs[from * self.n + to]
    }

    /// Blocks (or unblocks) messages from `from` to `to`.
    pub fn set_blocked(&self, from: usize, to: usize, blocked: bool) {
        self.link(from, to).blocked.store(blocked, Ordering::SeqCst);
    }

    /// Unblocks every link.
    pub fn heal(&self) {
        for l in &self.links {
            l.blocked.store(false, Ordering::SeqCst);
        }
    }

    /// Writes `bytes` into the live connection from `from` to `to` before
    /// its next frame.
    pub fn inject(&self, from: usize, to: usize, bytes: Vec<u8>) {
        if let Ok(mut g) = self.link(from, to).inject.lock() {
            *g = Some(bytes);
        }
    }

    /// Frames dropped by blocked links so far.
    pub fn dropped(&self) -> u64 {
        self.links
            .iter()
            .map(|l| l.dropped.load(Ordering::Relaxed))
            .sum()
    }
}

fn accept_loop(listener: &TcpListener, target: SocketAddr, link: &Arc<Link>) {
    for conn in listener.incoming() {
        let Ok(up) = conn else { continue };
        let link = link.clone();
        thread::spawn(move || {
            if let Ok(down) = TcpStream::connect(target) {
                forward(up, down, &link);
            }
        });
    }
}

fn forward(mut up: TcpStream, mut down: TcpStream, link: &Link) {
    let _ = up.set_nodelay(true);
    let _ = down.set_nodelay(true);
    let mut body = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(4096 + HEADER_LEN);
    let mut first = true;
    loop {
        match read_frame(&mut up, &mut body) {
            Ok(()) => {}
            Err(FrameError::Closed | FrameError::Io(_)) => break,
            // The sender is a node of ours: a frame it cannot produce
            // means the stream is lost; end it like a network would.
            Err(_) => break,
        }
        let injected = link.inject.lock().ok().and_then(|mut g| g.take());
        if let Some(bytes) = injected {
            if down.write_all(&bytes).is_err() {
                break;
            }
        }
        if !first && link.blocked.load(Ordering::SeqCst) {
            link.dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        first = false;
        out.clear();
        out.extend_from_slice(b"LHJ1");
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        debug_assert!(body.len() <= FRAME_LIMIT);
        if down.write_all(&out).is_err() {
            break;
        }
        link.forwarded.fetch_add(1, Ordering::Relaxed);
    }
    let _ = up.shutdown(Shutdown::Both);
    let _ = down.shutdown(Shutdown::Both);
}
