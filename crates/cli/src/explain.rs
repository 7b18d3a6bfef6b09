//! `portal-triage explain`: one message, its decision, human-readable.
//!
//! The message text is printed because the user asked for exactly that;
//! errors never include it.

use super::{EXIT_ERROR, EXIT_OK, RuleArgs};
use portal_triage::Decision;
use std::fmt::Write as _;
use std::io::{IsTerminal, Read};

#[derive(clap::Args)]
#[command(after_help = "\
Prints the route and score, the message with each finding marked, each
finding with its rule, words, byte offsets and the context that applied (and
the cue behind it), the mentions that did not count and the cue or idiom that
suppressed each, the numbers read, the advice for the patient and the summary
for the clinician. `--json` prints the full decision as one JSON document,
with the fired `rules` as `score` and `serve` give them.

Marking: findings in bold red and suppressed mentions in yellow when standard
output is a terminal and NO_COLOR is not set (or with --color always);
otherwise findings as [[...]] and suppressed mentions as {{...}}.

Exit codes: 0 explained; 2 usage, rule or I/O error.")]
pub struct Args {
    /// The message text; `-` (or nothing) reads it from standard input.
    text: Option<String>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Print the full decision as one JSON document.
    #[arg(long)]
    json: bool,
    /// When to colour the marks.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

/// When to use ANSI colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ColorChoice {
    /// When standard output is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never: plain markers.
    Never,
}

/// The decision as `--json` prints it: the fired rule ids (as `score` and
/// `serve` give them), then every field of the decision.
#[derive(serde::Serialize)]
struct Explained<'a> {
    rules: Vec<&'a str>,
    #[serde(flatten)]
    decision: &'a Decision,
}

pub fn run(args: Args) -> i32 {
    let text = match args.text.as_deref() {
        Some(t) if t != "-" => t.to_string(),
        _ => {
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "portal-triage: reading the message from standard input (end it with Ctrl-D)"
                );
            }
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().lock().read_to_end(&mut buf) {
                eprintln!("portal-triage: cannot read standard input: {e}");
                return EXIT_ERROR;
            }
            // Invalid UTF-8 is replaced (the decision is then flagged).
            String::from_utf8_lossy(&buf).into_owned()
        }
    };
    let Some(engine) = args.rules.engine_or_report() else {
        return EXIT_ERROR;
    };
    let d = engine.classify(&text);
    let out = if args.json {
        let explained = Explained {
            rules: d.rule_ids(),
            decision: &d,
        };
        match serde_json::to_string_pretty(&explained) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("portal-triage: cannot serialize the decision: {e}");
                return EXIT_ERROR;
            }
        }
    } else {
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        render(&text, &d, color)
    };
    match super::output::emit(&out) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}

/// Message text as displayed: control characters (other than line breaks
/// and tabs) become U+FFFD, so a message cannot drive the terminal
/// (escape sequences) or fake the markers' colours. Offsets printed are
/// those of the original text.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Finding,
    Suppressed,
}

/// The text with findings and suppressed mentions marked. Overlapping spans
/// of one kind are merged; a suppressed mention inside a finding is not
/// marked again.
fn highlight(text: &str, d: &Decision, color: bool) -> String {
    let mut spans: Vec<(usize, usize, Mark)> = Vec::new();
    let mut add = |s: usize, e: usize, m: Mark| {
        if s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e) {
            spans.push((s, e, m));
        }
    };
    for f in &d.findings {
        add(f.start, f.end, Mark::Finding);
    }
    for s in &d.suppressed {
        add(s.start, s.end, Mark::Suppressed);
    }
    // Findings first, then by start: a later span overlapping an accepted
    // one is merged into it when of the same kind, dropped otherwise.
    spans.sort_by_key(|&(s, e, m)| (m != Mark::Finding, s, std::cmp::Reverse(e)));
    let mut merged: Vec<(usize, usize, Mark)> = Vec::new();
    for (s, e, m) in spans {
        match merged.iter_mut().find(|(ms, me, _)| s < *me && *ms < e) {
            Some(x) if x.2 == m => {
                x.0 = x.0.min(s);
                x.1 = x.1.max(e);
            }
            Some(_) => {}
            None => merged.push((s, e, m)),
        }
    }
    merged.sort_by_key(|&(s, _, _)| s);
    let (open_f, open_s, close) = if color {
        ("\x1b[1;31m", "\x1b[33m", "\x1b[0m")
    } else {
        ("[[", "{{", "")
    };
    let mut out = String::with_capacity(text.len() + 8 * merged.len());
    let mut at = 0;
    for (s, e, m) in merged {
        if s < at {
            continue;
        }
        out.push_str(&shown(&text[at..s]));
        out.push_str(if m == Mark::Finding { open_f } else { open_s });
        out.push_str(&shown(&text[s..e]));
        out.push_str(match (color, m) {
            (true, _) => close,
            (false, Mark::Finding) => "]]",
            (false, Mark::Suppressed) => "}}",
        });
        at = e;
    }
    out.push_str(&shown(&text[at..]));
    out
}

fn render(text: &str, d: &Decision, color: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "route: {} (score {:.3})", d.route, d.score);
    if !d.flags.is_empty() {
        let flags: Vec<String> = d
            .flags
            .iter()
            .map(|f| {
                serde_json::to_string(f)
                    .unwrap_or_default()
                    .replace('"', "")
            })
            .collect();
        let _ = writeln!(o, "flags: {}", flags.join(", "));
    }
    let _ = writeln!(o, "\nmessage:");
    for line in highlight(text, d, color).lines() {
        let _ = writeln!(o, "  {line}");
    }
    let _ = writeln!(o, "\nfindings ({}):", d.findings.len());
    if d.findings.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for f in &d.findings {
        let _ = writeln!(
            o,
            "  - {} [{}] \"{}\" at {}..{}: {}",
            f.rule,
            f.route,
            shown(&f.text),
            f.start,
            f.end,
            f.concept
        );
        if f.because.is_empty() {
            let _ = writeln!(o, "    context: {:#}", f.context);
        } else {
            let _ = writeln!(o, "    combines: {}", f.because.join(" + "));
        }
    }
    if !d.suppressed.is_empty() {
        let _ = writeln!(o, "\nnot counted ({}):", d.suppressed.len());
        for s in &d.suppressed {
            let by = serde_json::to_string(&s.by)
                .unwrap_or_default()
                .replace('"', "");
            let _ = writeln!(
                o,
                "  - {} [would be {}] \"{}\" at {}..{}: {by} by {} \"{}\" at {}..{}",
                s.rule,
                s.would_route,
                shown(&s.text),
                s.start,
                s.end,
                s.cause.id,
                shown(&s.cause.text),
                s.cause.start,
                s.cause.end
            );
        }
    }
    if !d.readings.is_empty() {
        let _ = writeln!(o, "\nnumbers read ({}):", d.readings.len());
        for r in &d.readings {
            let measure = serde_json::to_string(&r.measure)
                .unwrap_or_default()
                .replace('"', "");
            let values: Vec<String> = r.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let words = shown(text.get(r.start..r.end).unwrap_or(""));
            let _ = writeln!(
                o,
                "  - {measure} {} \"{words}\" at {}..{}",
                values.join(" "),
                r.start,
                r.end
            );
        }
    }
    let _ = writeln!(o, "\nadvice: {}", d.advice);
    let _ = writeln!(o, "summary: {}", d.summary);
    o
}

#[cfg(test)]
mod tests {
    use super::highlight;
    use portal_triage::Triage;

    #[test]
    fn marks_findings_and_suppressed_mentions() {
        let t = Triage::default();
        let text = "no chest pain but I took the whole bottle of pills";
        let d = t.classify(text);
        let h = highlight(text, &d, false);
        assert!(h.starts_with("no {{chest pain}} but"), "{h}");
        assert!(h.contains("[["), "{h}");
        let stripped = h.replace("[[", "").replace("]]", "");
        assert_eq!(stripped.replace("{{", "").replace("}}", ""), text);
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        let t = Triage::default();
        let text = "chest pain\u{1b}[2J now";
        let h = highlight(text, &t.classify(text), true);
        assert!(!h.contains("\u{1b}[2J"), "{h:?}");
        assert!(h.contains("\u{FFFD}[2J"), "{h:?}");
    }
}
