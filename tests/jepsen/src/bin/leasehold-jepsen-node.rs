//! One node process of the Jepsen-style test (see the crate docs); the
//! harness starts it, but it runs on its own too.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use leasehold_jepsen::node::{self, ClockKind, NodeConfig, ReadMode};
use leasehold_jepsen::storage::Sync;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    /// leasehold's lease, ReadIndex when it does not cover a read.
    Leasehold,
    /// raft-rs's own ReadOnlyOption::LeaseBased (the negative control).
    RaftLeaseBased,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LeaseClock {
    /// CLOCK_MONOTONIC_RAW plus the kernel's suspend time.
    SuspendAware,
    /// CLOCK_MONOTONIC_RAW.
    Raw,
    /// std::time::Instant (CLOCK_MONOTONIC).
    Monotonic,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SyncMode {
    /// fdatasync after every Ready.
    Always,
    /// write only (survives kill -9, not a power cut).
    Never,
}

fn peer(s: &str) -> Result<(u64, SocketAddr), String> {
    let (id, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("peer {s:?} is not ID=HOST:PORT"))?;
    let id: u64 = id.parse().map_err(|_| format!("bad peer id {id:?}"))?;
    if id == 0 {
        return Err("peer id 0 is reserved".into());
    }
    let addr: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address {addr:?}: {e}"))?;
    Ok((id, addr))
}

#[derive(Parser, Debug)]
#[command(
    name = "leasehold-jepsen-node",
    about = "A raft-rs node serving a register, with lease reads through leasehold-raft"
)]
struct Args {
    /// This node's id (1-based).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    id: u64,
    /// Peer listener address.
    #[arg(long)]
    listen: SocketAddr,
    /// Client port address.
    #[arg(long)]
    client: SocketAddr,
    /// A peer: ID=HOST:PORT (repeat for each).
    #[arg(long = "peer", value_parser = peer, required = true)]
    peers: Vec<(u64, SocketAddr)>,
    /// Directory of the durable raft log.
    #[arg(long)]
    data_dir: PathBuf,
    /// Tick length in milliseconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1000))]
    tick_ms: u64,
    /// raft-rs election_tick.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(3..=1000))]
    election_tick: u64,
    /// raft-rs heartbeat_tick.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1000))]
    heartbeat_tick: u64,
    /// Clock drift bound (ppm) the lease assumes for its clock and the tick timers.
    #[arg(long, default_value_t = 20_000)]
    drift_ppm: u32,
    /// Lease safety margin in milliseconds.
    #[arg(long, default_value_t = 10)]
    margin_ms: u64,
    /// Read mode.
    #[arg(long, value_enum, default_value_t = Mode::Leasehold)]
    read_mode: Mode,
    /// Clock the lease is timed with.
    #[arg(long, value_enum, default_value_t = LeaseClock::SuspendAware)]
    clock: LeaseClock,
    /// Promise that this machine is never suspended: required for a lease
    /// clock that stops in suspend (raw, monotonic).
    #[arg(long)]
    machine_never_suspends: bool,
    /// When the log is flushed to the device.
    #[arg(long, value_enum, default_value_t = SyncMode::Never)]
    sync: SyncMode,
    /// Ticks before a pending read or write is answered TIMEOUT.
    #[arg(long, default_value_t = 25)]
    op_timeout_ticks: u64,
    /// Exit by itself after this many seconds.
    #[arg(long, default_value_t = 900)]
    max_runtime_s: u64,
}

fn main() -> ExitCode {
    let a = Args::parse();
    if a.heartbeat_tick >= a.election_tick {
        eprintln!("error: --heartbeat-tick must be below --election-tick");
        return ExitCode::from(2);
    }
    let cfg = NodeConfig {
        id: a.id,
        listen: a.listen,
        client: a.client,
        peers: a.peers,
        data_dir: a.data_dir,
        tick: Duration::from_millis(a.tick_ms),
        election_tick: a.election_tick as usize,
        heartbeat_tick: a.heartbeat_tick as usize,
        drift_ppm: a.drift_ppm,
        margin: Duration::from_millis(a.margin_ms),
        read_mode: match a.read_mode {
            Mode::Leasehold => ReadMode::Leasehold,
            Mode::RaftLeaseBased => ReadMode::RaftLeaseBased,
        },
        clock: match a.clock {
            LeaseClock::SuspendAware => ClockKind::SuspendAware,
            LeaseClock::Raw => ClockKind::Raw,
            LeaseClock::Monotonic => ClockKind::Monotonic,
        },
        machine_never_suspends: a.machine_never_suspends,
        sync: match a.sync {
            SyncMode::Always => Sync::Always,
            SyncMode::Never => Sync::Never,
        },
        op_timeout_ticks: a.op_timeout_ticks,
        max_runtime: Duration::from_secs(a.max_runtime_s),
    };
    match node::run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
