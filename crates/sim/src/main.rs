//! The simulator's command line: run a range of seeds (the CI budget or a
//! long soak) or replay one seed verbosely; exits nonzero on a violation.

use std::ops::Range;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use sim::{Options, PlantedBug, run};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Bug {
    AckBeforeFsync,
    CommitWithoutQuorum,
}

#[derive(Debug, Parser)]
#[command(about = "Deterministic simulation of a Herald ensemble under faults")]
struct Arguments {
    /// A range of seeds, `start..end`.
    #[arg(long, value_parser = parse_range, default_value = "0..100")]
    seeds: Range<u64>,
    /// One seed (overrides --seeds).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = 3, value_parser = parse_nodes)]
    nodes: usize,
    /// Switch on a deliberate protocol bug, to see the checkers catch it.
    #[arg(long, value_enum)]
    planted_bug: Option<Bug>,
    /// Frequent crashes and slow fsyncs (durability bugs become client-visible).
    #[arg(long)]
    crash_heavy: bool,
    /// Print the run's trace (faults, roles, messages, client requests, history) to stderr.
    #[arg(long)]
    verbose: bool,
    /// Run every seed and tally violations instead of stopping at the first.
    #[arg(long)]
    keep_going: bool,
    /// Per-mille chance that a message is lost (breaking its link).
    #[arg(long)]
    loss_per_mille: Option<u32>,
    /// How long a link stays broken after a loss, drop or healed partition.
    #[arg(long)]
    broken_link_ticks: Option<u64>,
    /// Leave out the online quorum-durability check (client-visible checks only).
    #[arg(long)]
    no_quorum_check: bool,
    /// The longest an fsync takes, in ticks.
    #[arg(long)]
    fsync_ticks_max: Option<u64>,
    /// Per-mille chance per tick that a server crashes.
    #[arg(long)]
    crash_per_mille: Option<u32>,
    /// Ticks of faults per history.
    #[arg(long)]
    fault_ticks: Option<u64>,
}

fn parse_range(text: &str) -> Result<Range<u64>, String> {
    let (start, end) = text.split_once("..").ok_or("expected start..end")?;
    let start = start.parse::<u64>().map_err(|e| e.to_string())?;
    let end = end.parse::<u64>().map_err(|e| e.to_string())?;
    if end <= start {
        return Err("the range is empty".into());
    }
    Ok(start..end)
}

fn parse_nodes(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(nodes @ (3 | 5)) => Ok(nodes),
        _ => Err("nodes must be 3 or 5".into()),
    }
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let mut options = if arguments.crash_heavy {
        Options::crash_heavy(arguments.nodes)
    } else {
        Options::standard(arguments.nodes)
    };
    options.verbose = arguments.verbose;
    options.planted_bug = arguments.planted_bug.map(|bug| match bug {
        Bug::AckBeforeFsync => PlantedBug::AckBeforeFsync,
        Bug::CommitWithoutQuorum => PlantedBug::CommitWithoutQuorum,
    });
    options.check_commit_quorum = !arguments.no_quorum_check;
    if let Some(loss) = arguments.loss_per_mille {
        options.network.loss_per_mille = loss;
    }
    if let Some(ticks) = arguments.broken_link_ticks {
        options.network.broken_link_ticks = ticks;
    }
    if let Some(ticks) = arguments.fsync_ticks_max {
        options.disk.fsync_ticks_max = ticks.max(options.disk.fsync_ticks_min);
    }
    if let Some(chance) = arguments.crash_per_mille {
        options.faults.crash_per_mille = chance;
    }
    if let Some(ticks) = arguments.fault_ticks {
        options.fault_ticks = ticks;
    }
    let seeds = arguments.seed.map_or(arguments.seeds, |seed| seed..seed + 1);
    let started = Instant::now();
    let (mut runs, mut operations, mut commits, mut inconclusive) = (0u64, 0usize, 0usize, 0usize);
    let mut violations: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for seed in seeds {
        match run(seed, &options) {
            Ok(summary) => {
                if options.verbose {
                    println!("{summary:?}");
                }
                runs += 1;
                operations += summary.operations;
                commits += summary.commits;
                inconclusive += summary.inconclusive_paths;
            }
            Err(violation) if arguments.keep_going => {
                println!("VIOLATION {violation}");
                let invariant = format!("{:?}", violation.broken.invariant);
                violations.entry(invariant).or_default().push(seed);
            }
            Err(violation) => {
                println!("VIOLATION after {runs} passing seeds\n{violation}");
                return ExitCode::FAILURE;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{runs} seeds passed ({} nodes): {operations} client operations, {commits} commits, {inconclusive} inconclusive paths, {seconds:.1}s ({:.1} seeds/s)",
        options.nodes,
        runs as f64 / seconds.max(1e-9)
    );
    for (invariant, seeds) in &violations {
        println!("{invariant}: {} seeds, first {:?}", seeds.len(), &seeds[..seeds.len().min(10)]);
    }
    if violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
