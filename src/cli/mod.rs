//! Subcommands of the `portal-triage` binary.

mod score;

use clap::{Parser, Subcommand};
use portal_triage::{RuleSet, Triage};
use std::path::PathBuf;

/// Triage patient-portal messages: non-urgent, needs-call or call-911.
#[derive(Parser)]
#[command(name = "portal-triage", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the rules come from.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RuleArgs {
    /// Use the rule files in DIR instead of the built-in rules.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Layer the rule files in DIR on top of the rules (same id replaces;
    /// `enabled = false` removes).
    #[arg(long = "extra-rules", value_name = "DIR")]
    pub extra_rules: Option<PathBuf>,
}

impl RuleArgs {
    /// Build the engine from the built-in rules, a rule directory, and/or an
    /// extra layer.
    pub fn engine(&self) -> Result<Triage, portal_triage::Error> {
        let base = match &self.rules {
            Some(dir) => RuleSet::from_dir(dir)?,
            None => RuleSet::builtin()?,
        };
        let set = match &self.extra_rules {
            Some(dir) => base.layered(RuleSet::from_dir(dir)?),
            None => base,
        };
        Triage::new(set)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Score message archives (JSON Lines, CSV, text, FHIR; gzip) and write
    /// one record per input record, in order.
    Score(score::Args),
    /// Run every inline test of a rule set and report failures (exit 0 all
    /// pass, 1 some fail, 2 the rules do not load).
    Test(TestArgs),
}

#[derive(clap::Args)]
struct TestArgs {
    #[command(flatten)]
    rules: RuleArgs,
}

/// Exit codes shared by the subcommands.
pub const EXIT_OK: i32 = 0;
/// Some records were malformed or some checks failed.
pub const EXIT_PROBLEMS: i32 = 1;
/// Usage, rule-loading or I/O error.
pub const EXIT_ERROR: i32 = 2;

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
        }
    };
    match cli.command {
        Command::Score(args) => score::run(args),
        Command::Test(args) => {
            let engine = match args.rules.engine() {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("portal-triage: {e}");
                    return EXIT_ERROR;
                }
            };
            let failures = engine.run_rule_tests();
            for f in &failures {
                println!("{f}");
            }
            let total: usize = engine.rules().rules().map(|r| r.tests).sum();
            eprintln!(
                "{} rule tests failed ({} finding-rule tests in the set)",
                failures.len(),
                total
            );
            if failures.is_empty() {
                EXIT_OK
            } else {
                EXIT_PROBLEMS
            }
        }
    }
}
