//! The node processes of one run: start, SIGSTOP/SIGCONT, kill -9,
//! restart (optionally under libfaketime), and cleanup.
//!
//! Nothing outlives the harness: every child gets `PR_SET_PDEATHSIG`
//! (SIGKILL when the harness's main thread dies, whatever killed it), its
//! own `--max-runtime-s`, and [`Cluster`]'s `Drop` kills it (on a normal end
//! and on a panic). [`install_signal_guard`] turns SIGINT/SIGTERM into a
//! kill of every registered child before the harness exits.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::proxy::Links;

/// Pids of every live child, for the signal guard.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn register(pid: u32) {
    if let Ok(mut c) = CHILDREN.lock() {
        c.push(pid);
    }
}

fn unregister(pid: u32) {
    if let Ok(mut c) = CHILDREN.lock() {
        c.retain(|&p| p != pid);
    }
}

fn kill_registered() {
    if let Ok(c) = CHILDREN.lock() {
        for &pid in c.iter() {
            signal(pid, libc::SIGKILL);
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) has no memory effects; the pid is one of our children.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// Blocks SIGINT and SIGTERM in this thread (call before any other thread
/// starts, so every thread inherits the mask) and starts a thread that
/// waits for them, kills every child and exits with status 130.
pub fn install_signal_guard() {
    // SAFETY: plain sigset manipulation on a local, then pthread_sigmask and
    // sigwait, which are async-signal-safe and have no other effects.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        std::thread::spawn(move || {
            let mut sig = 0;
            libc::sigwait(&set, &mut sig);
            eprintln!("\nleasehold-jepsen: signal {sig}, killing every node");
            kill_registered();
            std::process::exit(130);
        });
    }
}

/// Where libfaketime lives, if installed (Debian: package `faketime`).
pub fn faketime_lib() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LEASEHOLD_FAKETIME_LIB") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
        "/usr/local/lib/faketime/libfaketimeMT.so.1",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Runs `cmd` under libfaketime with every clock at `rate` times real speed.
pub fn with_faketime(cmd: &mut Command, lib: &Path, rate: f64) {
    cmd.env("LD_PRELOAD", lib)
        .env("FAKETIME", format!("+0 x{rate}"))
        // Monotonic clocks are faked too (the default, stated on purpose).
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "0");
}

/// How to start the nodes.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Number of nodes.
    pub nodes: usize,
    /// The node binary.
    pub node_bin: PathBuf,
    /// Data directory of the run (each node gets a subdirectory).
    pub dir: PathBuf,
    /// Extra arguments for every node (`--read-mode`, timing, clock).
    pub args: Vec<String>,
    /// Where node stderr goes (`None`: discarded).
    pub log_dir: Option<PathBuf>,
}

struct NodeProc {
    listen: SocketAddr,
    client: SocketAddr,
    child: Option<Child>,
    paused: bool,
    rate: Option<f64>,
}

/// A running cluster behind its proxies.
pub struct Cluster {
    spec: ClusterSpec,
    nodes: Vec<NodeProc>,
    /// The proxies between the nodes.
    pub links: Links,
    faketime: Option<PathBuf>,
    /// Process starts per node (the harness keys counters by it).
    pub incarnations: Arc<Vec<AtomicU64>>,
}

/// The ports the kernel hands out for outgoing connections, inclusive.
fn ephemeral_range() -> (u16, u16) {
    let read = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok();
    let mut it = read.iter().flat_map(|s| s.split_whitespace());
    let lo = it.next().and_then(|v| v.parse().ok());
    let hi = it.next().and_then(|v| v.parse().ok());
    (lo.unwrap_or(32768), hi.unwrap_or(60999))
}

/// Where the next node port search starts (one sequence per harness
/// process, so a row never reuses a port of an earlier row).
static NEXT_PORT: AtomicU64 = AtomicU64::new(0);

/// Node ports come from 10,000 up to the ephemeral range and from above it.
const FIRST_PORT: u16 = 10_000;

/// A loopback port for a node's listener, outside the ephemeral range.
///
/// A node's ports are unbound while it is down. A port inside the
/// ephemeral range can then be taken by any outgoing connection, and by the
/// most likely one: a proxy or client reconnecting to that very port, which
/// Linux completes now and then (about once in 20,000 refused attempts,
/// measured) as a TCP self-connect, source = destination. The restarted node
/// then fails to bind (CI saw a node exit eight times in a row this way).
/// Outside the range no outgoing connection gets the port.
///
/// # Errors
///
/// If fewer than 1,000 ports lie outside the range, or none of them is
/// free.
fn free_port() -> std::io::Result<SocketAddr> {
    let (lo, hi) = ephemeral_range();
    let below = u64::from(lo.saturating_sub(FIRST_PORT));
    let above = u64::from(u16::MAX.saturating_sub(hi));
    let span = below + above;
    if span < 1_000 {
        return Err(std::io::Error::other(format!(
            "ip_local_port_range is {lo}-{hi}: fewer than 1000 ports outside it for the nodes"
        )));
    }
    if NEXT_PORT.load(Ordering::Relaxed) == 0 {
        // Spread concurrent harnesses apart.
        let start = u64::from(std::process::id()).wrapping_mul(7919) % span + 1;
        let _ = NEXT_PORT.compare_exchange(0, start, Ordering::Relaxed, Ordering::Relaxed);
    }
    for _ in 0..span {
        let k = NEXT_PORT.fetch_add(1, Ordering::Relaxed) % span;
        let port = if k < below {
            u64::from(FIRST_PORT) + k
        } else {
            u64::from(hi) + 1 + (k - below)
        };
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if reserve(port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
        }
    }
    Err(std::io::Error::other(
        "no free node port outside the ephemeral range",
    ))
}

/// An exclusive, non-blocking `flock(2)` on `file` (std's `File::try_lock`
/// needs Rust 1.89; the workspace supports 1.88).
fn try_lock(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this `File` owns and keeps open; no
    // memory is passed. Failure (held elsewhere, or any error) is `false`.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Lock files of the ports this process took, held until it exits.
static RESERVED: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());

/// Reserves `port` against other harness processes on this machine: a
/// probe bind cannot see the port of another harness's node that is down
/// at that moment, so each port also gets an exclusive lock on a file,
/// which the kernel releases when the process exits, however it exits.
fn reserve(port: u16) -> bool {
    let dir = std::env::temp_dir().join("leasehold-jepsen-ports");
    if std::fs::create_dir_all(&dir).is_err() {
        // No lock directory: fall back to the bind probe alone.
        return true;
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{port}.lock")))
    else {
        return true;
    };
    if !try_lock(&file) {
        return false;
    }
    if let Ok(mut held) = RESERVED.lock() {
        held.push(file);
    }
    true
}

impl Cluster {
    /// Picks ports, starts the proxies and every node.
    ///
    /// # Errors
    ///
    /// Ports, directories or a node that cannot be spawned.
    pub fn start(spec: ClusterSpec) -> std::io::Result<Cluster> {
        let mut nodes = Vec::new();
        for _ in 0..spec.nodes {
            nodes.push(NodeProc {
                listen: free_port()?,
                client: free_port()?,
                child: None,
                paused: false,
                rate: None,
            });
        }
        let targets: Vec<SocketAddr> = nodes.iter().map(|n| n.listen).collect();
        let links = Links::start(&targets)?;
        let incarnations = Arc::new((0..spec.nodes).map(|_| AtomicU64::new(0)).collect());
        let mut c = Cluster {
            spec,
            nodes,
            links,
            faketime: faketime_lib(),
            incarnations,
        };
        for i in 0..c.nodes.len() {
            c.spawn(i, None)?;
        }
        Ok(c)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Client port of node `i`.
    pub fn client_addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].client
    }

    /// Peer listener of node `i` (for direct, unproxied garbage).
    pub fn peer_addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].listen
    }

    /// Whether node `i` is running and not stopped.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].child.is_some() && !self.nodes[i].paused
    }

    /// The libfaketime rate node `i` runs at, if any.
    pub fn rate(&self, i: usize) -> Option<f64> {
        self.nodes[i].rate
    }

    /// Whether libfaketime is available.
    pub fn has_faketime(&self) -> bool {
        self.faketime.is_some()
    }

    fn spawn(&mut self, i: usize, rate: Option<f64>) -> std::io::Result<()> {
        let id = i + 1;
        let mut cmd = Command::new(&self.spec.node_bin);
        cmd.arg("--id")
            .arg(id.to_string())
            .arg("--listen")
            .arg(self.nodes[i].listen.to_string())
            .arg("--client")
            .arg(self.nodes[i].client.to_string())
            .arg("--data-dir")
            .arg(self.spec.dir.join(format!("n{id}")));
        for j in 0..self.nodes.len() {
            if j != i {
                cmd.arg("--peer")
                    .arg(format!("{}={}", j + 1, self.links.addr(i, j)));
            }
        }
        cmd.args(&self.spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match &self.spec.log_dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(d.join(format!("n{id}.log")))?;
                cmd.stderr(f);
            }
            None => {
                cmd.stderr(Stdio::null());
            }
        }
        if let (Some(r), Some(lib)) = (rate, self.faketime.as_ref()) {
            with_faketime(&mut cmd, lib, r);
        }
        set_death_signal(&mut cmd);
        let child = cmd.spawn()?;
        register(child.id());
        self.nodes[i].child = Some(child);
        self.nodes[i].paused = false;
        self.nodes[i].rate = rate.filter(|_| self.faketime.is_some());
        self.incarnations[i].fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// kill -9 node `i` (also when stopped) and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
            unregister(c.id());
        }
        self.nodes[i].paused = false;
        self.nodes[i].rate = None;
    }

    /// Starts node `i` again from its durable log (after [`kill`](Self::kill)),
    /// at `rate` times real speed under libfaketime, or on the real clock.
    ///
    /// # Errors
    ///
    /// If the process cannot be spawned.
    pub fn restart(&mut self, i: usize, rate: Option<f64>) -> std::io::Result<()> {
        self.kill(i);
        self.spawn(i, rate)
    }

    /// SIGSTOP node `i`.
    pub fn pause(&mut self, i: usize) {
        if let Some(c) = &self.nodes[i].child {
            if signal(c.id(), libc::SIGSTOP) {
                self.nodes[i].paused = true;
            }
        }
    }

    /// SIGCONT node `i`.
    pub fn resume(&mut self, i: usize) {
        if let Some(c) = &self.nodes[i].child {
            signal(c.id(), libc::SIGCONT);
        }
        self.nodes[i].paused = false;
    }

    /// Nodes that exited on their own (a crash would show here).
    pub fn exited(&mut self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if let Some(c) = n.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let why = self
                        .spec
                        .log_dir
                        .as_ref()
                        .and_then(|d| last_line(&d.join(format!("n{}.log", i + 1))));
                    out.push((
                        i,
                        match why {
                            Some(line) => format!("{status} (its log ends: {line})"),
                            None => status.to_string(),
                        },
                    ));
                    unregister(c.id());
                    n.child = None;
                }
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

fn set_death_signal(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of ours; it
    // runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// The last non-empty line of a node's log (from its last 4 KiB), to say
/// why it exited.
fn last_line(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    let text = String::from_utf8_lossy(&tail);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ports_lie_outside_the_ephemeral_range() {
        let (lo, hi) = ephemeral_range();
        for _ in 0..20 {
            let a = free_port().unwrap();
            assert!(a.ip().is_loopback());
            let p = a.port();
            assert!(p >= FIRST_PORT, "{a}");
            assert!(
                !(lo..=hi).contains(&p),
                "{a} inside the ephemeral range {lo}-{hi}"
            );
        }
    }

    #[test]
    fn a_port_reserved_by_another_process_is_skipped() {
        let a = free_port().unwrap();
        // This process holds the lock; a second open file description is a
        // second owner, as another harness process would be.
        let path = std::env::temp_dir()
            .join("leasehold-jepsen-ports")
            .join(format!("{}.lock", a.port()));
        let other = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        assert!(!try_lock(&other), "held while this process lives");
        assert!(!reserve(a.port()), "a held port is not handed out twice");
    }
}
