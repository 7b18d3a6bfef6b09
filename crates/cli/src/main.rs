//! The `portal-triage` command line: one module per subcommand.

#![forbid(unsafe_code)]

mod check;
mod context;
mod diff;
mod eval;
mod explain;
mod output;
mod rules;
mod score;
mod serve;

use clap::{Parser, Subcommand};
use portal_triage::{RuleSet, Triage};
use std::fmt::Write as _;
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

    /// [`RuleArgs::engine`], reporting a failure on stderr (the caller then
    /// exits with [`EXIT_ERROR`]).
    pub fn engine_or_report(&self) -> Option<Triage> {
        self.engine()
            .map_err(|e| eprintln!("portal-triage: {e}"))
            .ok()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Score message archives (JSON Lines, CSV, text, FHIR; gzip) and write
    /// one record per input record, in order.
    Score(score::Args),
    /// Assess the context of one mention per record (JSON Lines {"id",
    /// "text", "target"}): negated, recent/historical/hypothetical,
    /// patient/other, and the cues that decided it.
    Context(context::Args),
    /// Run every inline test of a rule set and report failures (exit 0 all
    /// pass, 1 some fail, 2 the rules do not load).
    Test(TestArgs),
    /// Evaluate a rule set on labeled JSON Lines: call-911 sensitivity,
    /// confusion matrix, under-/over-triage, per-tag recall, misses; gates
    /// for CI.
    Eval(eval::Args),
    /// Compare two rule sets on the same messages: which change route, why,
    /// and (with labels) whether each change is a fix or a regression.
    Diff(diff::Args),
    /// Explain the decision on one message: route, highlighted findings,
    /// context, suppressed mentions and their cues, readings, advice.
    Explain(explain::Args),
    /// Check a rule directory: load errors, inline tests and lints (exit 0
    /// clean, 1 errors, 2 warnings only).
    Check(check::Args),
    /// List the rules of a rule set, or export every literal phrase.
    Rules(rules::Args),
    /// Run the HTTP service (POST /v1/triage, /v1/triage/batch, /healthz,
    /// /metrics, /openapi.json) and the demo compose page at /.
    Serve(serve::Args),
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

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
        }
    };
    match cli.command {
        Command::Score(args) => score::run(args),
        Command::Context(args) => context::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Check(args) => check::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Test(args) => {
            let Some(engine) = args.rules.engine_or_report() else {
                return EXIT_ERROR;
            };
            let failures = engine.run_rule_tests();
            // The report, failures and the count alike, is the command's
            // output: stdout (stderr is for errors).
            let mut out = String::new();
            for f in &failures {
                let _ = writeln!(out, "{f}");
            }
            let total: usize = engine.rules().rules().map(|r| r.tests).sum();
            let _ = writeln!(
                out,
                "{} rule tests failed ({} finding-rule tests in the set)",
                failures.len(),
                total
            );
            match output::emit(&out) {
                Ok(()) if failures.is_empty() => EXIT_OK,
                Ok(()) => EXIT_PROBLEMS,
                Err(code) => code,
            }
        }
    }
}
