//! `portal-triage rules`: list a rule set's rules, or export its phrases.

use super::{EXIT_ERROR, EXIT_OK, RuleArgs};

#[derive(clap::Args)]
#[command(after_help = "\
Default output: one line per finding rule (phrase, vital and combo rules), in
load order: id, route, area, kind, number of phrases, patterns and inline
tests, and the file and line that define it, as tab-separated columns with a
header line. `--json` gives the same as one JSON array.

`--phrases` prints every literal phrase of the set instead (findings, context
cues, pseudo phrases, terminators), normalized as the engine matches them
(lower case, apostrophes removed), sorted, one per line, without duplicates:
    portal-triage rules --phrases > phrases.txt
    rg -F -i -f phrases.txt messages.jsonl

`--phrases --findings` prints only the finding rules' phrases (what a
message is searched for), without the context words: the cue list holds
one-letter and two-letter words (`i`, `my`, `he`) that a substring scan
finds in nearly every line.

Exit codes: 0 listed; 2 usage, rule or I/O error.")]
pub struct Args {
    #[command(flatten)]
    rules: RuleArgs,
    /// Print every literal phrase of the set, one per line, instead of the
    /// rules.
    #[arg(long, conflicts_with = "json")]
    phrases: bool,
    /// With --phrases: only the finding rules' phrases, not the context
    /// cues, pseudo phrases and terminators.
    #[arg(long, requires = "phrases")]
    findings: bool,
    /// Print the rules as one JSON array.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> i32 {
    let Some(engine) = args.rules.engine_or_report() else {
        return EXIT_ERROR;
    };
    let set = engine.rules();
    let mut text = String::new();
    if args.phrases {
        let phrases = if args.findings {
            set.finding_phrases()
        } else {
            set.literal_phrases()
        };
        for p in phrases {
            text.push_str(&p);
            text.push('\n');
        }
    } else if args.json {
        let rules: Vec<_> = set.rules().collect();
        text = serde_json::json!(rules).to_string();
        text.push('\n');
    } else {
        text.push_str("id\troute\tarea\tkind\tphrases\tpatterns\ttests\tdefined at\n");
        for r in set.rules() {
            let kind = match r.kind {
                portal_triage::RuleKind::Phrase => "phrase",
                portal_triage::RuleKind::Vital => "vital",
                portal_triage::RuleKind::Combo => "combo",
            };
            text.push_str(&format!(
                "{}\t{}\t{}\t{kind}\t{}\t{}\t{}\t{}:{}\n",
                r.id, r.route, r.area, r.phrases, r.patterns, r.tests, r.origin.path, r.origin.line
            ));
        }
    }
    match super::output::emit(&text) {
        Ok(()) => EXIT_OK,
        Err(code) => code,
    }
}
