//! `portal-triage check`: load a rule set, run its inline tests, lint it.

use super::RuleArgs;
use portal_triage::{AllowedLint, Diagnostic, Error, RuleSet, Triage, lint_report};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
#[command(after_help = "\
Reports every problem as `path:line:col: error[CODE]: message` (or
`warning[CODE]`) with the source line and a caret, then a summary line.
Errors: the rule files do not load (E0001-E0011, all at once), an inline
test fails (E0010), a combination names a group no rule earns (E0006).
Warnings (lints): W0001 the same phrase in two rules; W0002 a phrase that
never acts; W0003 a more urgent phrase hidden inside a less urgent one;
W0004 a cue without tests; W0005 an unknown context category; W0006 a vital
threshold outside readable values; W0007 (only with --pedantic) a rule
without a must-not-fire test; W0008 a pattern with an upper-case letter or an
apostrophe (text is matched lower case, apostrophes removed); W0009 an
[[allow]] that matches no warning.
A warning reviewed as intended is silenced in the rule file by an [[allow]]
table (code, id, phrases, reason); the summary counts them as allowed, and
--json lists each with its reason. Every code is explained in docs/rules.md. With --extra-rules, the set checked
is the rules plus the layer, and only warnings about the layer are shown (in
its files, or naming one of its rules).

Exit codes: 0 clean; 1 errors (also: the directory cannot be read);
2 warnings only. (A usage error is reported by the argument parser and also
exits 2, with nothing on standard output.)")]
pub struct Args {
    /// Rule directory to check (the built-in rules when absent; same as
    /// --rules DIR).
    #[arg(value_name = "DIR", conflicts_with = "rules")]
    dir: Option<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Do not report these warning codes (comma-separated, e.g. W0001,W0003).
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    allow: Vec<String>,
    /// Also report pedantic lints (W0007: rules without a must-not-fire test).
    #[arg(long)]
    pedantic: bool,
    /// Print one JSON document ({"errors", "warnings", "allowed", "rules",
    /// "tests"}).
    #[arg(long)]
    json: bool,
}

/// Exit code: warnings only.
const EXIT_WARNINGS: i32 = 2;

pub fn run(args: Args) -> i32 {
    let base_dir = args.dir.clone().or_else(|| args.rules.rules.clone());
    let mut errors: Vec<Diagnostic> = Vec::new();
    let mut sources: Vec<(String, String)> = Vec::new();
    // Errors that are not about a line of a rule file (a directory that
    // cannot be read).
    let mut other_errors: Vec<String> = Vec::new();
    let failed = |e: Error, errors: &mut Vec<Diagnostic>, other_errors: &mut Vec<String>| {
        if e.diagnostics().is_empty() {
            other_errors.push(e.to_string());
        } else {
            errors.extend(e.diagnostics().iter().cloned());
        }
    };
    let base = match &base_dir {
        Some(dir) => {
            sources.extend(read_sources(dir));
            RuleSet::from_dir(dir)
        }
        None => {
            sources.extend(RuleSet::builtin_sources().map(|(p, t)| (p.to_string(), t.to_string())));
            RuleSet::builtin()
        }
    };
    let base = base
        .map_err(|e| failed(e, &mut errors, &mut other_errors))
        .ok();
    // With an extra layer, the warnings worth showing are the layer's: in
    // its files, or naming one of its rules.
    let mut layer_paths: Vec<String> = Vec::new();
    let extra = match &args.rules.extra_rules {
        Some(dir) => {
            let files = read_sources(dir);
            layer_paths.extend(files.iter().map(|(p, _)| p.clone()));
            sources.extend(files);
            RuleSet::from_dir(dir)
                .map(Some)
                .map_err(|e| failed(e, &mut errors, &mut other_errors))
                .unwrap_or(None)
        }
        None => None,
    };
    let source_refs = || sources.iter().map(|(p, t)| (p.as_str(), t.as_str()));

    let layer_ids: Vec<String> = extra
        .as_ref()
        .map(|x| x.rules().map(|r| format!("`{}`", r.id)).collect())
        .unwrap_or_default();
    let about_layer = |l: &Diagnostic| {
        layer_paths.contains(&l.path) || layer_ids.iter().any(|id| l.message.contains(id))
    };
    let mut hidden = 0usize;
    let mut warnings: Vec<Diagnostic> = Vec::new();
    let mut allowed: Vec<AllowedLint> = Vec::new();
    let mut n_rules = 0;
    let mut n_tests = 0;
    if let (Some(base), true) = (base, errors.is_empty() && other_errors.is_empty()) {
        let set = match extra {
            Some(extra) => base.layered(extra),
            None => base,
        };
        errors.extend(set.unknown_groups().into_iter().map(|mut d| {
            d.source_line = source_line(&sources, &d.path, d.line);
            d
        }));
        let report = lint_report(&set, source_refs());
        allowed = report
            .allowed
            .into_iter()
            .filter(|a| layer_paths.is_empty() || about_layer(&a.lint))
            .collect();
        warnings = report
            .warnings
            .into_iter()
            .filter(|l| !args.allow.iter().any(|a| a.trim() == l.code))
            .filter(|l| args.pedantic || l.code != "W0007")
            .filter(|l| {
                let shown = layer_paths.is_empty() || about_layer(l);
                hidden += usize::from(!shown);
                shown
            })
            .collect();
        n_rules = set.rules().count();
        n_tests = set.rules().map(|r| r.tests).sum::<usize>();
        match Triage::new(set) {
            Ok(engine) => {
                for f in engine.run_rule_tests() {
                    // Point at the failing test's own line, not its rule's.
                    let (line, src) = test_line(&sources, &f.path, f.line, f.test);
                    let mut d = f.into_diagnostic();
                    d.line = line;
                    d.column = src.len() - src.trim_start().len() + 1;
                    d.source_line = src;
                    errors.push(d);
                }
            }
            Err(e) => failed(e, &mut errors, &mut other_errors),
        }
    }
    errors.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));

    let report = if args.json {
        let doc = serde_json::json!({
            "other_errors": other_errors,
            "errors": without_severity(&errors),
            "warnings": without_severity(&warnings),
            "allowed": without_severity(&allowed),
            "rules": n_rules,
            "tests": n_tests,
            "hidden_base_warnings": hidden,
        });
        format!("{doc:#}\n")
    } else {
        let mut o = String::new();
        for e in &other_errors {
            o.push_str(&format!("error: {e}\n\n"));
        }
        for e in &errors {
            o.push_str(&format!("{e}\n\n"));
        }
        for w in &warnings {
            o.push_str(&format!("{w}\n\n"));
        }
        let n_errors = errors.len() + other_errors.len();
        let allowed = match allowed.len() {
            0 => String::new(),
            n => format!(", {n} allowed by [[allow]] in the rule files"),
        };
        o.push_str(&format!(
            "check: {n_errors} error{}, {} warning{}{allowed} ({n_rules} rules, {n_tests} rule tests)\n",
            if n_errors == 1 { "" } else { "s" },
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" },
        ));
        if hidden > 0 {
            o.push_str(&format!(
                "({hidden} warnings about the base rules alone are not shown: check them without --extra-rules)\n"
            ));
        }
        o
    };
    if let Err(code) = super::output::emit(&report) {
        return code;
    }
    if !errors.is_empty() || !other_errors.is_empty() {
        super::EXIT_PROBLEMS
    } else if !warnings.is_empty() {
        EXIT_WARNINGS
    } else {
        super::EXIT_OK
    }
}

/// `items` as JSON, each without the diagnostic's `severity` (also in an
/// allowed warning's `lint`): in this document the list that holds a
/// diagnostic says what it is, and the format stays as it was before
/// errors and warnings became one type.
fn without_severity<T: serde::Serialize>(items: &[T]) -> serde_json::Value {
    let mut doc = serde_json::json!(items);
    for item in doc.as_array_mut().into_iter().flatten() {
        if let Some(lint) = item.get_mut("lint").and_then(|l| l.as_object_mut()) {
            lint.remove("severity");
        }
        if let Some(item) = item.as_object_mut() {
            item.remove("severity");
        }
    }
    doc
}

/// The `*.toml` files of `dir`, named as [`RuleSet::from_dir`] names them
/// (other_errors files are left to the loader to report).
fn read_sources(dir: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(&p).ok()?)))
        .collect();
    out.sort();
    out
}

fn source_line(sources: &[(String, String)], path: &str, line: usize) -> String {
    sources
        .iter()
        .find(|(p, _)| p == path)
        .and_then(|(_, t)| t.lines().nth(line.saturating_sub(1)))
        .unwrap_or("")
        .trim_end()
        .to_string()
}

/// The line of the `text = ...` of test `n` (1-based) of the table at
/// `table_line`, with its source; the table's line when it cannot be found.
fn test_line(
    sources: &[(String, String)],
    path: &str,
    table_line: usize,
    n: usize,
) -> (usize, String) {
    let fallback = (table_line, source_line(sources, path, table_line));
    let Some((_, text)) = sources.iter().find(|(p, _)| p == path) else {
        return fallback;
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut seen = 0;
    let mut i = table_line; // 0-based index of the line after the header
    while i < lines.len() {
        let t = lines[i].trim_start();
        if t.starts_with('[') {
            if !t.contains(".tests]") {
                break; // the next table
            }
            seen += 1;
            if seen == n {
                let at = (i + 1..lines.len())
                    .take_while(|&j| !lines[j].trim_start().starts_with('['))
                    .find(|&j| lines[j].trim_start().starts_with("text"))
                    .unwrap_or(i);
                return (at + 1, lines[at].trim_end().to_string());
            }
        }
        i += 1;
    }
    fallback
}
