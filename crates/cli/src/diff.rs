//! `portal-triage diff`: what a rule change does, message by message.
//!
//! Output names messages by id only, never by their text.

use super::eval;
use super::{EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS};
use portal_triage::{Decision, Route, RuleSet, Triage};
use portal_triage_archive::labeled::Record;
use portal_triage_archive::metrics::Metrics;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(after_help = "\
The two rule sets:
  --rules A --rules B        directory A before, directory B after
  --extra-rules X            before: the rules (built-in, or --rules A);
                             after: the same plus the layer X. The usual
                             review: built-in vs built-in + my extra dir
  --before/--before-extra/--after/--after-extra DIR
                             each side spelled out; a side without a
                             directory uses the built-in rules, and --after
                             defaults to the --before directory.

Input: JSON Lines, {\"id\", \"text\"} per line, labeled ({\"route\", \"tags\"}) or
not; `-` reads standard input. Lines that cannot be used are reported on
standard error by file, line and id.

Output: the messages whose route changes, grouped by (before -> after), most
urgent first, each with the rules responsible (+ fired only after, - fired
only before, ~ earned another route; \"now negated by CUE\" when a cue or
idiom now suppresses the mention) and, when labeled, whether the change is
a fix, a regression or neither (still wrong). With labels, the headline
metrics before and after. `--json` prints the same as one JSON document.
Message text is never printed.

Exit codes: 0 no labeled message regressed; 1 some did (or some lines could
not be used); 2 usage, rule or I/O error.")]
pub struct Args {
    /// JSON Lines files, labeled or not (`-` for standard input).
    #[arg(required = true, value_name = "MESSAGES")]
    files: Vec<PathBuf>,
    /// Rule directories: the first is "before", the second "after".
    #[arg(long, value_name = "DIR", conflicts_with_all = ["before", "after"])]
    rules: Vec<PathBuf>,
    /// A layer added on the "after" side only (same as --after-extra).
    #[arg(
        long = "extra-rules",
        value_name = "DIR",
        conflicts_with = "after_extra"
    )]
    extra_rules: Option<PathBuf>,
    /// The "before" rule directory (default: the built-in rules).
    #[arg(long, value_name = "DIR")]
    before: Option<PathBuf>,
    /// A layer on top of the "before" rules.
    #[arg(long, value_name = "DIR")]
    before_extra: Option<PathBuf>,
    /// The "after" rule directory (default: the "before" directory).
    #[arg(long, value_name = "DIR")]
    after: Option<PathBuf>,
    /// A layer on top of the "after" rules.
    #[arg(long, value_name = "DIR")]
    after_extra: Option<PathBuf>,
    /// Print one JSON document instead of the report.
    #[arg(long)]
    json: bool,
}

/// One side of the comparison.
#[derive(Clone, Default)]
struct Side {
    dir: Option<PathBuf>,
    extra: Option<PathBuf>,
}

impl Side {
    fn describe(&self) -> String {
        let mut s = match &self.dir {
            Some(d) => d.display().to_string(),
            None => "built-in rules".to_string(),
        };
        if let Some(x) = &self.extra {
            let _ = write!(s, " + {}", x.display());
        }
        s
    }

    fn engine(&self) -> Result<Triage, portal_triage::Error> {
        let base = match &self.dir {
            Some(d) => RuleSet::from_dir(d)?,
            None => RuleSet::builtin()?,
        };
        Triage::new(match &self.extra {
            Some(x) => base.layered(RuleSet::from_dir(x)?),
            None => base,
        })
    }
}

/// How a labeled change is judged.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "kebab-case")]
enum Verdict {
    /// Wrong before, right after.
    Fix,
    /// Right before, wrong after.
    Regression,
    /// Wrong before and after.
    StillWrong,
    /// No label.
    Unlabeled,
}

/// A rule whose part in the decision changed.
#[derive(Serialize)]
struct RuleChange {
    rule: String,
    before: Option<Route>,
    after: Option<Route>,
    /// When the rule stopped counting because a cue or idiom now suppresses
    /// its mention (or started counting because one no longer does): how
    /// and by which cue, e.g. "negated by site.never-had".
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<String>,
}

impl RuleChange {
    fn mark(&self) -> String {
        let mut s = match (self.before, self.after) {
            (None, Some(a)) => format!("+{} ({a}", self.rule),
            (Some(b), None) => format!("-{} ({b}", self.rule),
            (Some(b), Some(a)) => format!("~{} ({b} -> {a}", self.rule),
            (None, None) => format!("{} (", self.rule),
        };
        if let Some(c) = &self.context {
            let when = if self.after.is_none() { "now" } else { "was" };
            let _ = write!(s, "; {when} {c}");
        }
        s.push(')');
        s
    }
}

/// How `rule`'s mention was suppressed in `d`, if it was.
fn suppression(d: &Decision, rule: &str) -> Option<String> {
    let s = d.suppressed.iter().find(|s| s.rule == rule)?;
    let by = serde_json::to_string(&s.by)
        .unwrap_or_default()
        .replace('"', "");
    Some(format!("{by} by {}", s.cause.id))
}

#[derive(Serialize)]
struct Change {
    id: String,
    before: Route,
    after: Route,
    truth: Option<Route>,
    verdict: Verdict,
    rules: Vec<RuleChange>,
}

#[derive(Serialize)]
struct Summary {
    n: usize,
    changed: usize,
    fixes: usize,
    regressions: usize,
    still_wrong: usize,
    unlabeled: usize,
}

/// The headline metrics of one side.
#[derive(Serialize)]
struct Headline {
    call911_sensitivity: Option<f64>,
    accuracy: Option<f64>,
    under_triage: Option<f64>,
    over_triage: Option<f64>,
    non_urgent_to_911: Option<f64>,
}

impl Headline {
    /// The labeled `records` against the routes of `decisions`.
    fn of(records: &[Record], decisions: &[Decision]) -> Headline {
        let m = Metrics::of(records, decisions.iter().map(|d| d.route));
        Headline {
            call911_sensitivity: m.call911_sensitivity(),
            accuracy: m.accuracy(),
            under_triage: m.under_triage(),
            over_triage: m.over_triage(),
            non_urgent_to_911: m.non_urgent_to_911(),
        }
    }
}

#[derive(Serialize)]
struct Report {
    before: String,
    after: String,
    summary: Summary,
    /// Labeled messages only; absent when none is labeled.
    metrics: Option<BTreeMap<&'static str, Headline>>,
    changes: Vec<Change>,
    skipped: Vec<String>,
}

/// The most urgent route each rule earned in a decision.
fn rule_routes(d: &Decision) -> BTreeMap<&str, Route> {
    let mut m: BTreeMap<&str, Route> = BTreeMap::new();
    for f in &d.findings {
        let r = m.entry(f.rule.as_str()).or_insert(f.route);
        *r = (*r).max(f.route);
    }
    m
}

fn change(r: &Record, before: &Decision, after: &Decision) -> Change {
    let (b, a) = (rule_routes(before), rule_routes(after));
    let mut rules = Vec::new();
    for (&rule, &rb) in &b {
        match a.get(rule) {
            Some(&ra) if ra == rb => {}
            other => rules.push(RuleChange {
                rule: rule.to_string(),
                before: Some(rb),
                after: other.copied(),
                context: other.is_none().then(|| suppression(after, rule)).flatten(),
            }),
        }
    }
    for (&rule, &ra) in &a {
        if !b.contains_key(rule) {
            rules.push(RuleChange {
                rule: rule.to_string(),
                before: None,
                after: Some(ra),
                context: suppression(before, rule),
            });
        }
    }
    // The rules that decide the new route first.
    rules.sort_by_key(|c| std::cmp::Reverse(c.after.max(c.before)));
    let verdict = match r.route {
        None => Verdict::Unlabeled,
        Some(t) if after.route == t => Verdict::Fix,
        Some(t) if before.route == t => Verdict::Regression,
        Some(_) => Verdict::StillWrong,
    };
    Change {
        id: r.id.clone(),
        before: before.route,
        after: after.route,
        truth: r.route,
        verdict,
        rules,
    }
}

fn sides(args: &Args) -> Result<(Side, Side), String> {
    if args.rules.len() > 2 {
        return Err("give --rules at most twice: before, then after".into());
    }
    let before = Side {
        dir: args.rules.first().cloned().or_else(|| args.before.clone()),
        extra: args.before_extra.clone(),
    };
    let after = Side {
        dir: args
            .rules
            .get(1)
            .cloned()
            .or_else(|| args.after.clone())
            .or_else(|| before.dir.clone()),
        extra: args
            .extra_rules
            .clone()
            .or_else(|| args.after_extra.clone()),
    };
    if before.dir == after.dir && before.extra == after.extra {
        return Err(
            "both sides are the same rules: give --rules A --rules B, --extra-rules DIR, or --after/--after-extra"
                .into(),
        );
    }
    Ok((before, after))
}

fn render(rep: &Report) -> String {
    let mut o = String::new();
    let s = &rep.summary;
    let _ = writeln!(o, "diff: {} messages", s.n);
    let _ = writeln!(o, "  before: {}", rep.before);
    let _ = writeln!(o, "  after:  {}", rep.after);
    let _ = writeln!(
        o,
        "{} change route: {} fixes, {} regressions, {} still wrong, {} unlabeled",
        s.changed, s.fixes, s.regressions, s.still_wrong, s.unlabeled
    );
    if let Some(m) = &rep.metrics {
        let num = |x: Option<f64>| x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"));
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "  {:<26} {:>8} {:>8}",
            "labeled messages", "before", "after"
        );
        let (b, a) = (&m["before"], &m["after"]);
        let rows = [
            (
                "CALL-911 SENSITIVITY",
                b.call911_sensitivity,
                a.call911_sensitivity,
            ),
            ("accuracy", b.accuracy, a.accuracy),
            ("under-triage", b.under_triage, a.under_triage),
            ("over-triage", b.over_triage, a.over_triage),
            (
                "non-urgent -> call-911",
                b.non_urgent_to_911,
                a.non_urgent_to_911,
            ),
        ];
        for (name, x, y) in rows {
            let _ = writeln!(o, "  {name:<26} {:>8} {:>8}", num(x), num(y));
        }
    }
    let mut groups: BTreeMap<(std::cmp::Reverse<Route>, std::cmp::Reverse<Route>), Vec<&Change>> =
        BTreeMap::new();
    for c in &rep.changes {
        groups
            .entry((std::cmp::Reverse(c.before), std::cmp::Reverse(c.after)))
            .or_default()
            .push(c);
    }
    for ((from, to), list) in &groups {
        let _ = writeln!(o);
        let _ = writeln!(o, "{} -> {} ({}):", from.0, to.0, list.len());
        for c in list {
            let verdict = match (c.verdict, c.truth) {
                (Verdict::Unlabeled, _) | (_, None) => "unlabeled".to_string(),
                (Verdict::Fix, Some(t)) => format!("fix (labeled {t})"),
                (Verdict::Regression, Some(t)) => {
                    let under = if c.after < t { ", under-triage" } else { "" };
                    format!("REGRESSION (labeled {t}{under})")
                }
                (Verdict::StillWrong, Some(t)) => format!("still wrong (labeled {t})"),
            };
            let rules: Vec<String> = c.rules.iter().map(RuleChange::mark).collect();
            let rules = if rules.is_empty() {
                "same rules, other context".to_string()
            } else {
                rules.join(", ")
            };
            let _ = writeln!(o, "  {}  {verdict}  {rules}", c.id);
        }
    }
    if !rep.skipped.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "skipped lines ({}): see standard error",
            rep.skipped.len()
        );
    }
    o
}

pub fn run(args: Args) -> i32 {
    let (before, after) = match sides(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portal-triage: {e}");
            return EXIT_ERROR;
        }
    };
    let engines = before.engine().and_then(|b| Ok((b, after.engine()?)));
    let (eb, ea) = match engines {
        Ok(x) => x,
        Err(e) => {
            eprintln!("portal-triage: {e}");
            return EXIT_ERROR;
        }
    };
    let Some((records, problems)) = eval::read_labeled(&args.files, false) else {
        return EXIT_ERROR;
    };
    let db: Vec<Decision> = records.iter().map(|r| eb.classify(&r.text)).collect();
    let da: Vec<Decision> = records.iter().map(|r| ea.classify(&r.text)).collect();
    let changes: Vec<Change> = records
        .iter()
        .zip(db.iter().zip(&da))
        .filter(|(_, (b, a))| b.route != a.route)
        .map(|(r, (b, a))| change(r, b, a))
        .collect();
    let count = |v: Verdict| changes.iter().filter(|c| c.verdict == v).count();
    let metrics = records.iter().any(|r| r.route.is_some()).then(|| {
        BTreeMap::from([
            ("before", Headline::of(&records, &db)),
            ("after", Headline::of(&records, &da)),
        ])
    });
    let rep = Report {
        before: before.describe(),
        after: after.describe(),
        summary: Summary {
            n: records.len(),
            changed: changes.len(),
            fixes: count(Verdict::Fix),
            regressions: count(Verdict::Regression),
            still_wrong: count(Verdict::StillWrong),
            unlabeled: count(Verdict::Unlabeled),
        },
        metrics,
        skipped: problems.iter().map(ToString::to_string).collect(),
        changes,
    };
    let text = if args.json {
        match serde_json::to_string_pretty(&rep) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("portal-triage: cannot serialize the diff: {e}");
                return EXIT_ERROR;
            }
        }
    } else {
        render(&rep)
    };
    if let Err(code) = super::output::emit(&text) {
        return code;
    }
    if rep.summary.regressions > 0 {
        eprintln!(
            "portal-triage: {} labeled message(s) regressed",
            rep.summary.regressions
        );
    }
    if rep.summary.regressions == 0 && problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    }
}
