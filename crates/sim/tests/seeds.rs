//! The CI budget in debug builds: a fixed range of seeded histories for 3
//! and 5 servers under the standard fault mix, each of which must pass every
//! check. (The release CLI runs the larger budget and the soak.)

use sim::{Options, run};

fn run_budget(nodes: usize, seeds: std::ops::Range<u64>) {
    let options = Options::standard(nodes);
    let mut failures = Vec::new();
    let mut acknowledged = 0;
    for seed in seeds {
        match run(seed, &options) {
            Ok(summary) => acknowledged += summary.acknowledged_writes,
            Err(violation) => failures.push(violation.to_string()),
        }
    }
    assert!(failures.is_empty(), "{} seeds failed:\n{}", failures.len(), failures.join("\n"));
    assert!(acknowledged > 0, "the workload acknowledged no write at all");
}

#[test]
fn three_servers_pass_the_seed_budget() {
    run_budget(3, 0..1000);
}

#[test]
fn five_servers_pass_the_seed_budget() {
    run_budget(5, 0..400);
}
