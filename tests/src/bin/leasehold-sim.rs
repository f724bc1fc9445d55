//! The main demonstration: runs every scenario over many seeds under the
//! random nemesis and prints a table. Correct configurations must show no
//! stale read, no overlap and only linearizable histories; every negative
//! control must be caught. `--explore N` runs N random configurations with
//! every check on and stops at the first violation, printing the command
//! that replays it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use leasehold_sim::explore;
use leasehold_sim::history::History;
use leasehold_sim::scenario::{self, check, run_raw, run_scenario, Expect, Scenario, Summary};

#[derive(Parser, Debug)]
#[command(
    name = "leasehold-sim",
    about = "raft-rs clusters in virtual time under random faults, serving lease reads through leasehold-raft"
)]
struct Args {
    /// Seeds per scenario (0..N).
    #[arg(long, default_value_t = 600)]
    seeds: u64,
    /// Worker threads (default: available parallelism).
    #[arg(long)]
    threads: Option<usize>,
    /// Only the scenarios whose name contains this text.
    #[arg(long)]
    only: Option<String>,
    /// Run this one seed of each selected scenario and print its result.
    #[arg(long)]
    seed: Option<u64>,
    /// Write the JSON history of every seed in which a checker fired (and
    /// of `--seed`) into this directory.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Explore: run N random configurations (every check on), stop at the
    /// first violation.
    #[arg(long, value_name = "N")]
    explore: Option<u64>,
    /// First exploration seed.
    #[arg(long, default_value_t = 0)]
    explore_from: u64,
    /// Replay one exploration seed.
    #[arg(long, value_name = "S")]
    explore_seed: Option<u64>,
}

fn write_history(dir: &PathBuf, name: &str, seed: u64, r: &leasehold_sim::sim::RunResult) {
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return;
    }
    let path = dir.join(format!("{slug}-seed-{seed}.json"));
    match std::fs::write(&path, History::from_ops(&r.ops).to_json()) {
        Ok(()) => eprintln!("    history written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

fn verdict(s: &Scenario, sum: &Summary) -> String {
    match (s.expect, sum.as_expected(s.expect)) {
        (Expect::Clean, true) => "ok: clean".into(),
        (Expect::Clean, false) => "FAIL: not clean".into(),
        (Expect::Caught, true) => "ok: caught".into(),
        (Expect::Caught, false) => "FAIL: not caught".into(),
        (Expect::Scripted(t), _) if sum.caught() => format!("ok: caught (also {t})"),
        (Expect::Scripted(t), _) => format!("not reached at random; {t}"),
    }
}

fn row(s: &Scenario, sum: &Summary, secs: f64) -> String {
    format!(
        "| {:<31} | {:>2} | {:>5} | {:>6} | {:>4} | {:>5} | {:>8} | {:>8} | {:>11} | {:>15} | {:>12} | {:>6.2}% | {:>11} | {:>5.0}s | {} |",
        s.name,
        s.cfg.nodes,
        sum.seeds,
        sum.faults,
        sum.conf_changes,
        sum.snapshots,
        sum.lease_reads,
        sum.quorum_reads,
        format!("{} ({})", sum.stale, sum.stale_seeds),
        format!("{:.1} ({})", sum.overlap_ns as f64 / 1e6, sum.overlap_seeds),
        format!("{} ({})", sum.broken_promises, sum.broken_seeds),
        100.0 * sum.availability(),
        format!("{}/{}/{}", sum.lin_ok, sum.lin_violation, sum.lin_unknown),
        secs,
        verdict(s, sum),
    )
}

/// Progress lines only on a terminal: in a CI log they are noise.
fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}

fn explore_main(args: &Args, threads: usize) -> ExitCode {
    let tty = progress_wanted();
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let n = args.explore.unwrap_or(0);
    let from = args.explore_from;
    let next = AtomicU64::new(from);
    let stop = AtomicBool::new(false);
    let found = std::sync::Mutex::new(None::<u64>);
    let done = AtomicU64::new(0);
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= from + n {
                    break;
                }
                let r = check(&run_raw(&explore::config(seed), seed));
                if r.bad() {
                    stop.store(true, Ordering::Relaxed);
                    let mut f = found.lock().expect("no panics");
                    if f.is_none_or(|s| seed < s) {
                        *f = Some(seed);
                    }
                }
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if tty && d.is_multiple_of(10) {
                    eprint!("\rexplored {d}/{n}");
                    let _ = std::io::stderr().flush();
                }
            });
        }
    });
    if tty {
        eprint!("\r{:<40}\r", "");
    }
    let explored = done.load(Ordering::Relaxed);
    match found.into_inner().expect("no panics") {
        Some(seed) => {
            let r = run_raw(&explore::config(seed), seed);
            let c = check(&r);
            println!("exploration seed {seed}: VIOLATION {c:?}");
            println!("config: {:?}", explore::config(seed));
            if let Some(dir) = &args.history {
                write_history(dir, "explore", seed, &r);
            }
            println!(
                "replay: cargo run --release -p leasehold-sim --bin leasehold-sim -- --explore-seed {seed}"
            );
            ExitCode::FAILURE
        }
        None => {
            println!(
                "explored {explored} random configurations (seeds {from}..{}) in {:.1}s: no stale read, no overlap, no broken lease premise, every history linearizable or over budget",
                from + explored,
                t0.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    if let Some(seed) = args.explore_seed {
        let cfg = explore::config(seed);
        let r = run_raw(&cfg, seed);
        let c = check(&r);
        println!("exploration seed {seed}: {c:?}\nconfig: {cfg:?}");
        if let Some(dir) = &args.history {
            write_history(dir, "explore", seed, &r);
        }
        return if c.bad() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    if args.explore.is_some() {
        return explore_main(&args, threads);
    }
    let scenarios: Vec<Scenario> = scenario::all()
        .into_iter()
        .filter(|s| {
            args.only
                .as_ref()
                .is_none_or(|o| s.name.contains(o.as_str()))
        })
        .collect();
    if scenarios.is_empty() {
        eprintln!("no scenario matches --only {:?}", args.only);
        return ExitCode::from(2);
    }
    if let Some(seed) = args.seed {
        for s in &scenarios {
            let r = run_raw(&s.cfg, seed);
            let c = check(&r);
            println!(
                "{}: seed {seed}: {c:?}; (pre-vote, min_election_tick) = {:?}",
                s.name, r.raft_variant
            );
            for i in leasehold_sim::check::stale_reads(&r.ops).iter().take(5) {
                println!("  stale read: {:?}", r.ops[*i]);
            }
            if let Some(dir) = &args.history {
                write_history(dir, s.name, seed, &r);
            }
        }
        return ExitCode::SUCCESS;
    }
    println!(
        "leasehold-sim: raft-rs 0.7 clusters in virtual time through leasehold-raft; tick {:?}, election_tick {}, \
         drift bound {} ppm, lease {:?}; random overlapping faults; per seed: pre-vote on/off, min_election_tick {:?}, \
         heartbeat_tick {:?}, write share {:?}%, read-only time {:?}%",
        scenario::TICK,
        scenario::ELECTION_TICKS,
        scenario::DRIFT_PPM,
        scenario::correct_lease(),
        scenario::MIN_ELECTION_TICKS,
        scenario::HEARTBEAT_TICKS,
        scenario::WRITE_PCT,
        scenario::READ_ONLY_PCT,
    );
    println!(
        "seeds 0..{} per scenario, {} virtual seconds each; {threads} threads",
        args.seeds,
        scenario::base(3).duration.as_secs()
    );
    println!();
    println!(
        "| {:<31} | {:>2} | {:>5} | {:>6} | {:>4} | {:>5} | {:>8} | {:>8} | {:>11} | {:>15} | {:>12} | {:>7} | {:>11} | {:>6} | verdict |",
        "scenario", "n", "seeds", "faults", "conf", "snaps", "lease rd", "index rd", "stale (sd)", "overlap ms (sd)", "broken (sd)", "local", "lin ok/x/?", "time"
    );
    println!(
        "|{:-<33}|{:-<4}|{:-<7}|{:-<8}|{:-<6}|{:-<7}|{:-<10}|{:-<10}|{:-<13}|{:-<17}|{:-<14}|{:-<9}|{:-<13}|{:-<8}|{:-<9}|",
        "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""
    );
    let tty = progress_wanted();
    let start = Instant::now();
    let mut all_ok = true;
    let total = scenarios.len();
    for (k, s) in scenarios.iter().enumerate() {
        let t0 = Instant::now();
        let n = args.seeds;
        let name = s.name;
        let progress = move |done: usize| {
            if tty && (done.is_multiple_of(10) || done as u64 == n) {
                eprint!(
                    "\r[{}/{}] {:<32} {:>4}/{} seeds",
                    k + 1,
                    total,
                    name,
                    done,
                    n
                );
                let _ = std::io::stderr().flush();
            }
        };
        let sum = run_scenario(s, 0..n, threads, &progress);
        if tty {
            eprint!("\r{:<72}\r", "");
        }
        all_ok &= sum.as_expected(s.expect);
        println!("{}", row(s, &sum, t0.elapsed().as_secs_f64()));
        if let Some(seed) = sum.first_bad_seed {
            eprintln!(
                "    {}: {} of {} seeds caught, first {seed} (--only {:?} --seed {seed})",
                s.name, sum.bad_seeds, sum.seeds, s.name
            );
            if let Some(dir) = &args.history {
                write_history(dir, s.name, seed, &run_raw(&s.cfg, seed));
            }
        }
        if s.expect == Expect::Clean && sum.lin_unknown > 0 {
            eprintln!(
                "    {}: {} histories over the search budget",
                s.name, sum.lin_unknown
            );
        }
    }
    println!();
    println!(
        "faults = faults injected; conf = membership changes committed; snaps = snapshots installed by lagging nodes; \
         stale (sd) = stale reads (seeds with one); overlap = true time a node held a valid lease while another led a \
         higher term (seeds; for raft-rs LeaseBased, being leader counts as holding the lease); broken = lease premises \
         broken: a vote granted or campaign started inside a lease the voter's ack extended, an extension without a \
         majority of the configuration's voters, or one crediting an ack with a request its voter had not accepted \
         (seeds); local = share of reads served under the lease; lin = \
         histories linearizable / not / over the search budget"
    );
    println!(
        "total {:.1}s: {}",
        start.elapsed().as_secs_f64(),
        if all_ok {
            "every correct configuration clean, every negative control caught"
        } else {
            "UNEXPECTED RESULT"
        }
    );
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
