//! The Jepsen-style harness: node processes on loopback under random
//! faults, every history checked; prints the table (see the crate docs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use leasehold_jepsen::cluster::{faketime_lib, install_signal_guard};
use leasehold_jepsen::nemesis::Fault;
use leasehold_jepsen::probe::{self, CLOCKS};
use leasehold_jepsen::run::{self, RunSpec, Timing};
use leasehold_jepsen::scenario;
use leasehold_jepsen::table;

#[derive(Parser, Debug)]
#[command(
    name = "leasehold-jepsen",
    about = "leasehold-raft nodes as processes on loopback TCP under SIGSTOP, kill -9, partitions, transfers, clock-rate faults and garbage; every history checked"
)]
struct Args {
    /// The short version (CI): fewer seconds per row.
    #[arg(long)]
    quick: bool,
    /// Only the rows whose name contains this text.
    #[arg(long)]
    only: Option<String>,
    /// Seed of the fault schedules and workloads.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fault-phase seconds per row (overrides the row's own).
    #[arg(long)]
    secs: Option<u64>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=64))]
    clients: u64,
    /// Where data, node logs and the JSON histories go.
    #[arg(long, default_value = "target/jepsen")]
    dir: PathBuf,
    /// The node binary (default: leasehold-jepsen-node next to this one).
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// Internal: print clock readings (run under libfaketime by the harness).
    #[arg(long, hide = true)]
    probe_clocks: bool,
}

/// Runs a negative-control row gets before it counts as not caught.
const CONTROL_ATTEMPTS: u64 = 3;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.probe_clocks {
        probe::print_readings();
        return ExitCode::SUCCESS;
    }
    install_signal_guard();
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find this executable: {e}");
            return ExitCode::from(2);
        }
    };
    let node_bin = args
        .node_bin
        .clone()
        .unwrap_or_else(|| exe.with_file_name("leasehold-jepsen-node"));
    if !node_bin.exists() {
        eprintln!(
            "error: node binary {} not found (cargo build --release -p leasehold-jepsen builds both)",
            node_bin.display()
        );
        return ExitCode::from(2);
    }
    let rows: Vec<_> = scenario::all()
        .into_iter()
        .filter(|s| args.only.as_deref().is_none_or(|o| s.name.contains(o)))
        .collect();
    if rows.is_empty() {
        eprintln!("error: no row matches --only {:?}", args.only);
        return ExitCode::from(2);
    }
    let timing = Timing {
        tick_ms: 20,
        election_tick: 10,
        heartbeat_tick: 2,
        drift_ppm: 20_000,
        margin_ms: 10,
    };
    let total = Instant::now();
    println!(
        "leasehold-jepsen: raft-rs 0.7 node processes on loopback TCP; tick {}ms, election timeout {} ticks, heartbeat {} ticks, drift bound {} ppm, margin {}ms, lease clock SuspendAwareClock; {} clients; seed {}",
        timing.tick_ms, timing.election_tick, timing.heartbeat_tick, timing.drift_ppm, timing.margin_ms, args.clients, args.seed
    );
    // What libfaketime does to each clock, measured, not assumed.
    let lib = faketime_lib();
    let mut lease_clock_faked = false;
    match &lib {
        None => println!(
            "libfaketime: not installed (apt-get install faketime); clock-rate faults are skipped"
        ),
        Some(lib) => {
            for rate in [0.2, 3.0] {
                match probe::measure(&exe, lib, rate) {
                    Ok(p) => {
                        let cells: Vec<String> = CLOCKS
                            .iter()
                            .zip(&p.rates)
                            .map(|(n, r)| format!("{n} x{r:.2}"))
                            .collect();
                        println!(
                            "libfaketime x{}: {}; a 200ms sleep took {:.2}x real",
                            p.rate,
                            cells.join(", "),
                            p.sleep_scale
                        );
                        // SuspendAwareClock is the node's lease clock.
                        lease_clock_faked |= (p.rates[4] / rate - 1.0).abs() < 0.1;
                    }
                    Err(e) => println!("libfaketime x{rate}: probe failed: {e}"),
                }
            }
        }
    }
    println!();
    print!("{}", table::header());
    let mut all_ok = true;
    let mut perf_lines = Vec::new();
    for s in &rows {
        let uses_clock = s
            .faults
            .iter()
            .any(|f| f.0 == Fault::SlowLeaderClock || f.0 == Fault::ClockWithinBound);
        let needs_clock = s.faults.iter().all(|f| f.0 == Fault::SlowLeaderClock);
        if needs_clock && !lease_clock_faked {
            println!(
                "| {:<39} | skipped: libfaketime does not change the lease clock here |",
                s.name
            );
            all_ok = false;
            continue;
        }
        // A negative control's catch is a race (a deposed leader must answer
        // a client before it hears of its successor), so a control row that
        // misses gets up to CONTROL_ATTEMPTS runs, each with its own seed. A
        // row that must be clean gets exactly one: a single stale read fails
        // it.
        let attempts = match s.expect {
            scenario::Expect::Caught => CONTROL_ATTEMPTS,
            scenario::Expect::Clean => 1,
        };
        let mut outcome = None;
        for attempt in 0..attempts {
            let spec = RunSpec {
                node_bin: node_bin.clone(),
                dir: args.dir.clone(),
                timing,
                secs: args
                    .secs
                    .unwrap_or(if args.quick { s.secs.1 } else { s.secs.0 }),
                bench: Duration::from_secs(2),
                window: Duration::from_millis(250),
                seed: args.seed + attempt,
                clients: args.clients as usize,
            };
            eprintln!(
                "running {} ({}s of faults, seed {})...",
                s.name, spec.secs, spec.seed
            );
            let r = run::run(s, &spec);
            let done = r.as_ref().is_ok_and(|r| table::as_expected(s, r));
            if !done && attempt + 1 < attempts {
                eprintln!("    not caught with seed {}: another run", spec.seed);
            }
            outcome = Some(r);
            if done {
                break;
            }
        }
        let Some(outcome) = outcome else { continue };
        match outcome {
            Ok(r) => {
                println!("{}", table::row(s, &r));
                all_ok &= table::as_expected(s, &r);
                eprintln!(
                    "    faults: {}{}",
                    table::fault_mix(&r),
                    if uses_clock && !lease_clock_faked {
                        " (clock faults had no effect)"
                    } else {
                        ""
                    }
                );
                for c in &r.nemesis.crashes {
                    eprintln!("    {c}");
                }
                eprintln!("    history: {}", r.history.display());
                if let Some(p) = table::perf_line(&r) {
                    if s.mode == leasehold_jepsen::node::ReadMode::Leasehold {
                        perf_lines.push(format!("{}: {p}", s.name));
                    }
                }
            }
            Err(e) => {
                println!("| {:<39} | FAIL: {e} |", s.name);
                all_ok = false;
            }
        }
    }
    println!();
    println!("{}", table::LEGEND);
    println!();
    println!("benchmark phase of each leasehold row (no faults, loopback TCP, same run; latency seen by the client):");
    for l in &perf_lines {
        println!("  {l}");
    }
    println!(
        "total {:.0}s: {}",
        total.elapsed().as_secs_f64(),
        if all_ok {
            "leasehold clean in every row, every negative control caught"
        } else {
            "FAILED"
        }
    );
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
