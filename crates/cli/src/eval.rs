//! `portal-triage eval`: how a rule set does on labeled messages, safety
//! first.
//!
//! Output names messages by id only, never by their text, so a report can
//! be kept in a CI log.

use super::{EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, RuleArgs};
use portal_triage::{Decision, Route};
use portal_triage_archive::labeled::{self, Problem, Record};
use portal_triage_archive::metrics::{Metrics, ROUTES, TagStats};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "\
Input: JSON Lines, one labeled message per line:
  {\"id\": \"m1\", \"text\": \"...\", \"route\": \"call-911\", \"tags\": [\"negation\"]}
(`tags` is optional; `-` reads standard input; several files are evaluated as
one set). A line that cannot be used (bad JSON, no id, no text, no valid
route) is reported on standard error by file, line and id, and left out.

Output: call-911 sensitivity first, then accuracy, under-triage (share of all
messages routed less urgently than their label), over-triage (more urgently),
the confusion matrix (rows truth, columns predicted, most severe first),
precision and recall per route, route accuracy per tag, and every
under-triaged and over-triaged message by id with the rules that fired and
the mentions that were not counted (and the cue that suppressed each).
`--json` prints the same as one JSON document. Message text is never printed.

Gates (for a site's CI): --min-recall ROUTE=X (repeatable), --min-accuracy X,
--max-under-triage X, --max-over-triage X, --max-non-urgent-to-911 X.

Exit codes: 0 evaluated and every gate passed; 1 a gate failed or some lines
could not be used; 2 usage, rule or I/O error.")]
pub struct Args {
    /// Labeled JSON Lines files (`-` for standard input).
    #[arg(required = true, value_name = "LABELED")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Print one JSON document instead of the report.
    #[arg(long)]
    json: bool,
    /// Gate: recall of ROUTE at least X, e.g. `call-911=0.97` (repeatable).
    #[arg(long, value_name = "ROUTE=X", value_parser = parse_min_recall)]
    min_recall: Vec<(Route, f64)>,
    /// Gate: accuracy at least X.
    #[arg(long, value_name = "X", value_parser = parse_rate)]
    min_accuracy: Option<f64>,
    /// Gate: under-triage rate at most X.
    #[arg(long, value_name = "X", value_parser = parse_rate)]
    max_under_triage: Option<f64>,
    /// Gate: over-triage rate at most X.
    #[arg(long, value_name = "X", value_parser = parse_rate)]
    max_over_triage: Option<f64>,
    /// Gate: share of non-urgent messages routed call-911 at most X.
    #[arg(long = "max-non-urgent-to-911", value_name = "X", value_parser = parse_rate)]
    max_non_urgent_to_911: Option<f64>,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("`{s}` is not a rate between 0 and 1")),
    }
}

fn parse_min_recall(s: &str) -> Result<(Route, f64), String> {
    let (route, x) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: write ROUTE=X, e.g. call-911=0.97"))?;
    let route = route
        .trim()
        .parse::<Route>()
        .map_err(|_| format!("`{route}` is not one of call-911, needs-call, non-urgent"))?;
    Ok((route, parse_rate(x)?))
}

/// A rule that fired, for the miss lists.
#[derive(Serialize)]
pub struct Fired {
    /// Rule id.
    pub rule: String,
    /// Route it earned.
    pub route: Route,
}

/// A mention that did not count, for the miss lists.
#[derive(Serialize)]
pub struct NotCounted {
    /// Rule id.
    pub rule: String,
    /// Route it would have earned.
    pub would_route: Route,
    /// Why (negated, historical, hypothetical, family, idiom).
    pub by: portal_triage::SuppressedBy,
    /// The cue or pseudo rule that suppressed it.
    pub cue: String,
}

/// A misrouted message, by id.
#[derive(Serialize)]
pub struct Miss {
    /// Its id.
    pub id: String,
    /// Its label.
    pub truth: Route,
    /// The route given.
    pub predicted: Route,
    /// Rules that fired.
    pub findings: Vec<Fired>,
    /// Mentions not counted (they often explain a miss).
    pub suppressed: Vec<NotCounted>,
}

impl Miss {
    pub fn new(id: &str, truth: Route, d: &Decision) -> Miss {
        let mut findings: Vec<Fired> = Vec::new();
        for f in &d.findings {
            if !findings.iter().any(|x| x.rule == f.rule) {
                findings.push(Fired {
                    rule: f.rule.clone(),
                    route: f.route,
                });
            }
        }
        let mut suppressed: Vec<NotCounted> = Vec::new();
        for s in &d.suppressed {
            if !suppressed
                .iter()
                .any(|x| x.rule == s.rule && x.cue == s.cause.id)
            {
                suppressed.push(NotCounted {
                    rule: s.rule.clone(),
                    would_route: s.would_route,
                    by: s.by,
                    cue: s.cause.id.clone(),
                });
            }
        }
        Miss {
            id: id.to_string(),
            truth,
            predicted: d.route,
            findings,
            suppressed,
        }
    }

    /// One line: rules fired and mentions not counted.
    pub fn evidence(&self) -> String {
        let fired = if self.findings.is_empty() {
            "none".to_string()
        } else {
            (self.findings.iter())
                .map(|f| format!("{} ({})", f.rule, f.route))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!("fired: {fired}");
        if !self.suppressed.is_empty() {
            let not: Vec<String> = (self.suppressed.iter())
                .map(|x| {
                    let by = serde_json::to_string(&x.by)
                        .unwrap_or_default()
                        .replace('"', "");
                    format!("{} ({}, {by} by {})", x.rule, x.would_route, x.cue)
                })
                .collect();
            let _ = write!(s, "; not counted: {}", not.join(", "));
        }
        s
    }
}

/// Precision and recall of one route.
#[derive(Serialize)]
pub struct RouteStats {
    /// The route.
    pub route: Route,
    /// Messages labeled with it.
    pub n: usize,
    /// Share of those routed to it (None when n = 0).
    pub recall: Option<f64>,
    /// Share of messages routed to it that are labeled with it (None when
    /// none was routed to it).
    pub precision: Option<f64>,
}

/// A gate and whether it passed.
#[derive(Serialize)]
pub struct Gate {
    /// e.g. "min-recall call-911".
    pub gate: String,
    /// The bound.
    pub bound: f64,
    /// The measured value (None: nothing to measure, which fails).
    pub value: Option<f64>,
    /// Whether it passed.
    pub passed: bool,
}

/// Everything `eval` reports.
#[derive(Serialize)]
pub struct Evaluation {
    /// Messages evaluated.
    pub n: usize,
    /// call-911 recall (sensitivity): the safety number.
    pub call911_sensitivity: Option<f64>,
    /// Share of call-911 messages routed to call-911 or needs-call.
    pub call911_as_any_call: Option<f64>,
    /// Share routed exactly as labeled.
    pub accuracy: Option<f64>,
    /// Share of all messages routed less urgently than labeled.
    pub under_triage: Option<f64>,
    /// Share of all messages routed more urgently than labeled.
    pub over_triage: Option<f64>,
    /// Share of non-urgent messages routed call-911.
    pub non_urgent_to_911: Option<f64>,
    /// confusion[truth][predicted], both in the order of `routes`.
    pub confusion: [[usize; 3]; 3],
    /// The order of the matrix: most severe first.
    pub routes: [Route; 3],
    /// Per route, most severe first.
    pub per_route: Vec<RouteStats>,
    /// Per tag, by name.
    pub per_tag: BTreeMap<String, TagStats>,
    /// Messages routed less urgently than labeled, most severe label first.
    pub under_triaged: Vec<Miss>,
    /// Messages routed more urgently than labeled.
    pub over_triaged: Vec<Miss>,
    /// The gates asked for.
    pub gates: Vec<Gate>,
    /// Lines that could not be used (file:line: record id: problem).
    pub skipped: Vec<String>,
}

/// Evaluate `records` with `engine` (unlabeled records are left out).
pub fn evaluate(engine: &portal_triage::Triage, records: &[Record]) -> Evaluation {
    let decisions: Vec<Decision> = records.iter().map(|r| engine.classify(&r.text)).collect();
    evaluate_decisions(records, &decisions)
}

/// Evaluate the decisions already made on `records` (same order).
pub fn evaluate_decisions(records: &[Record], decisions: &[Decision]) -> Evaluation {
    let m = Metrics::of(records, decisions.iter().map(|d| d.route));
    let mut under = Vec::new();
    let mut over = Vec::new();
    for (r, d) in records.iter().zip(decisions) {
        let Some(truth) = r.route else { continue };
        if d.route < truth {
            under.push(Miss::new(&r.id, truth, d));
        } else if d.route > truth {
            over.push(Miss::new(&r.id, truth, d));
        }
    }
    // Most severe label first (stable: input order within a label).
    under.sort_by_key(|m| std::cmp::Reverse(m.truth));
    over.sort_by_key(|m| std::cmp::Reverse(m.predicted));
    let per_route = ROUTES
        .iter()
        .map(|&r| RouteStats {
            route: r,
            n: m.labeled(r),
            recall: m.recall(r),
            precision: m.precision(r),
        })
        .collect();
    Evaluation {
        n: m.n(),
        call911_sensitivity: m.call911_sensitivity(),
        call911_as_any_call: m.call911_as_any_call(),
        accuracy: m.accuracy(),
        under_triage: m.under_triage(),
        over_triage: m.over_triage(),
        non_urgent_to_911: m.non_urgent_to_911(),
        confusion: m.confusion(),
        routes: ROUTES,
        per_route,
        per_tag: m.per_tag().clone(),
        under_triaged: under,
        over_triaged: over,
        gates: Vec::new(),
        skipped: Vec::new(),
    }
}

fn gates(args: &Args, e: &Evaluation) -> Vec<Gate> {
    let mut out = Vec::new();
    let mut gate = |name: String, bound: f64, value: Option<f64>, at_least: bool| {
        // Nothing to measure (no message with that label) fails: a gate
        // that cannot be checked must not pass silently.
        let passed = value.is_some_and(|v| if at_least { v >= bound } else { v <= bound });
        out.push(Gate {
            gate: name,
            bound,
            value,
            passed,
        });
    };
    for &(route, x) in &args.min_recall {
        let v = e
            .per_route
            .iter()
            .find(|s| s.route == route)
            .and_then(|s| s.recall);
        gate(format!("min-recall {route}"), x, v, true);
    }
    if let Some(x) = args.min_accuracy {
        gate("min-accuracy".into(), x, e.accuracy, true);
    }
    if let Some(x) = args.max_under_triage {
        gate("max-under-triage".into(), x, e.under_triage, false);
    }
    if let Some(x) = args.max_over_triage {
        gate("max-over-triage".into(), x, e.over_triage, false);
    }
    if let Some(x) = args.max_non_urgent_to_911 {
        gate(
            "max-non-urgent-to-911".into(),
            x,
            e.non_urgent_to_911,
            false,
        );
    }
    out
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
}

/// The text report.
pub fn report(e: &Evaluation, sources: &str) -> String {
    let mut o = String::new();
    let c = &e.confusion;
    let row = |t: usize| c[t].iter().sum::<usize>();
    let _ = writeln!(o, "eval: {} labeled messages ({sources})", e.n);
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "CALL-911 SENSITIVITY: {} ({} of {} emergencies routed call-911; {} to needs-call, {} to non-urgent)",
        num(e.call911_sensitivity),
        c[0][0],
        row(0),
        c[0][1],
        c[0][2]
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "accuracy {} | under-triage {} ({}) | over-triage {} ({}) | non-urgent -> call-911 {} ({} of {})",
        num(e.accuracy),
        num(e.under_triage),
        e.under_triaged.len(),
        num(e.over_triage),
        e.over_triaged.len(),
        num(e.non_urgent_to_911),
        c[2][0],
        row(2)
    );
    let _ = writeln!(o);
    let _ = writeln!(o, "confusion matrix (rows truth, columns predicted):");
    let _ = writeln!(
        o,
        "  {:<12} {:>10} {:>10} {:>10} {:>7}",
        "truth", "call-911", "needs-call", "non-urgent", "total"
    );
    for (t, r) in ROUTES.iter().enumerate() {
        let _ = writeln!(
            o,
            "  {:<12} {:>10} {:>10} {:>10} {:>7}",
            r.as_str(),
            c[t][0],
            c[t][1],
            c[t][2],
            row(t)
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  {:<12} {:>9} {:>9} {:>7}",
        "route", "precision", "recall", "n"
    );
    for s in &e.per_route {
        let _ = writeln!(
            o,
            "  {:<12} {:>9} {:>9} {:>7}",
            s.route.as_str(),
            num(s.precision),
            num(s.recall),
            s.n
        );
    }
    if !e.per_tag.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "per-tag recall (routed exactly as labeled):");
        let tags: Vec<String> = (e.per_tag.iter())
            .map(|(t, s)| format!("{t} {:.3} ({}/{})", s.recall, s.correct, s.n))
            .collect();
        for chunk in tags.chunks(4) {
            let _ = writeln!(o, "  {}", chunk.join(" | "));
        }
    }
    for (title, list) in [
        ("under-triaged", &e.under_triaged),
        ("over-triaged", &e.over_triaged),
    ] {
        let _ = writeln!(o);
        let _ = writeln!(o, "{title} ({}):", list.len());
        if list.is_empty() {
            let _ = writeln!(o, "  none");
        }
        for m in list {
            let _ = writeln!(
                o,
                "  {}  {} -> {}  {}",
                m.id,
                m.truth,
                m.predicted,
                m.evidence()
            );
        }
    }
    if !e.skipped.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "skipped lines ({}): see standard error", e.skipped.len());
    }
    if !e.gates.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "gates:");
        for g in &e.gates {
            let op = if g.gate.starts_with("min") {
                ">="
            } else {
                "<="
            };
            let _ = writeln!(
                o,
                "  {:<4} {} {op} {}: {}",
                if g.passed { "ok" } else { "FAIL" },
                g.gate,
                g.bound,
                num(g.value)
            );
        }
    }
    o
}

/// [`labeled::read`], reporting on stderr: a failure (the caller then exits
/// with `EXIT_ERROR`) or each line left out (ids and line numbers only).
pub fn read_labeled(paths: &[PathBuf], need_route: bool) -> Option<(Vec<Record>, Vec<Problem>)> {
    match labeled::read(paths, need_route) {
        Ok((records, problems)) => {
            for p in &problems {
                eprintln!("portal-triage: {p}; line left out");
            }
            Some((records, problems))
        }
        Err(e) => {
            eprintln!("portal-triage: {e}");
            None
        }
    }
}

pub fn run(args: Args) -> i32 {
    let Some(engine) = args.rules.engine_or_report() else {
        return EXIT_ERROR;
    };
    let Some((records, problems)) = read_labeled(&args.files, true) else {
        return EXIT_ERROR;
    };
    let mut e = evaluate(&engine, &records);
    e.gates = gates(&args, &e);
    e.skipped = problems.iter().map(ToString::to_string).collect();
    let text = if args.json {
        match serde_json::to_string_pretty(&e) {
            Ok(s) => s + "\n",
            Err(err) => {
                eprintln!("portal-triage: cannot serialize the evaluation: {err}");
                return EXIT_ERROR;
            }
        }
    } else {
        let names: Vec<String> = args.files.iter().map(|p| p.display().to_string()).collect();
        report(&e, &names.join(", "))
    };
    if let Err(code) = super::output::emit(&text) {
        return code;
    }
    let failed: Vec<&Gate> = e.gates.iter().filter(|g| !g.passed).collect();
    if !failed.is_empty() {
        eprintln!(
            "portal-triage: {} gate(s) failed: {}",
            failed.len(),
            failed
                .iter()
                .map(|g| g.gate.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if failed.is_empty() && problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    }
}
