//! Lints: rule sets that load but will not do what their author meant.
//!
//! Loading ([`RuleSet::from_dir`]) rejects what cannot work (errors
//! `E0001`-`E0011`); [`lint`] finds what works but is probably a mistake, as
//! warnings with stable codes (`W0001`-`W0009`, documented in
//! `docs/rules.md`). Both are [`Diagnostic`]s, told apart by their
//! [`Severity`]; `portal-triage check` prints both. A warning that was
//! reviewed and is intended is silenced in the rule file itself, by an
//! `[[allow]]` table with a reason ([`lint_report`] lists those apart); an
//! allow that no longer matches a warning is itself a warning (`W0009`).
//!
//! The overlap lints follow the engine's own semantics (`docs/rules.md`,
//! "When phrases overlap"): finding phrases compete leftmost-longest and
//! findings on the very same words all stand; a pseudo phrase hides a
//! finding it strictly contains, but on the same words the finding wins; a
//! cue or terminator inside a pseudo phrase or a finding is part of it.
//! Under those rules one literal finding phrase can never hide another
//! everywhere (the shorter one still fires where it is written alone), so
//! `W0002` ("never fires") is about phrases of different kinds on the same
//! words, and `W0003` is the partial, safety-relevant case: a more urgent
//! phrase written inside a less urgent one does not count there.

use crate::context::CueCategory;
use crate::error::{Diagnostic, Severity};
use crate::normalize::normalize_phrase;
use crate::rules::{Origin, RuleKind, RuleSet};
use crate::vitals::Measure;
use std::collections::{BTreeMap, BTreeSet};

/// The values the readers of `src/vitals.rs` keep for `field` of
/// `measure` (their one table, [`crate::vitals::PLAUSIBLE`]): a threshold
/// outside this range is met by every reading or by none.
fn readable_range(measure: Measure, field: &str) -> Option<(f64, f64)> {
    let p = crate::vitals::plausible_range(measure, field)?;
    Some((p.min, p.max))
}

/// Lint a rule set: every warning that no `[[allow]]` of the rule files
/// silences, in file and line order ([`lint_report`] also returns the
/// allowed ones).
///
/// `sources` are the rule files' names and texts (the same names the rule
/// set was loaded with): they let a warning point at the exact line of a
/// phrase, and carry the snippet shown under it. Pass
/// [`RuleSet::builtin_sources`] for the built-in set; a warning whose file
/// is not among the sources points at its rule's table (or at
/// `<rule set>`) without a snippet. Every warning is a [`Diagnostic`] with
/// [`Severity::Warning`], displayed as `path:line:col: warning[CODE]:
/// message`, then the source line and a caret.
///
/// | code | warning |
/// | --- | --- |
/// | `W0001` | the same phrase in two finding rules (both fire on it) |
/// | `W0002` | a phrase that never acts: a cue or terminator phrase that is also a finding phrase (or acts only where a finding begins inside it: also a pseudo phrase), or a pseudo phrase that is also a finding phrase |
/// | `W0003` | a more urgent phrase inside a less urgent rule's phrase: where the longer one is written, the urgent one does not count |
/// | `W0004` | a cue without tests (a rule without a test that fires is already error `E0007`; subject, anchor and novel cues, which decide nothing themselves, are exempt) |
/// | `W0005` | a cue that names a context category no cue of the set has |
/// | `W0006` | a vital threshold outside the values the engine can read |
/// | `W0007` | pedantic: a rule without a must-not-fire test (`check --pedantic`) |
/// | `W0008` | a pattern with an upper-case letter or an apostrophe: text is matched lower case with apostrophes removed, so that part never matches |
/// | `W0009` | an `[[allow]]` (or one of its phrases) that matches no warning |
///
/// ```
/// use portal_triage::{RuleSet, lint};
/// let site = r#"
/// [[rule]]
/// id = "site.a"
/// concept = "a"
/// route = "needs-call"
/// phrases = ["port is red"]
/// [[rule.tests]]
/// text = "my port is red"
/// [[rule.tests]]
/// text = "my port is fine"
/// fires = false
/// [[rule]]
/// id = "site.b"
/// concept = "b"
/// route = "needs-call"
/// phrases = ["port is red"]
/// [[rule.tests]]
/// text = "the port is red"
/// [[rule.tests]]
/// text = "the port is fine"
/// fires = false
/// "#;
/// let rules = RuleSet::from_sources([("site.toml", site)])?;
/// let lints = lint(&rules, [("site.toml", site)]);
/// assert_eq!(lints[0].code, "W0001");
/// assert_eq!(lints[0].line, 16); // the second `phrases = ...` line
/// # Ok::<(), portal_triage::Error>(())
/// ```
///
/// ```
/// use portal_triage::{RuleSet, Severity, lint};
/// let site = "[[vital]]\nid = \"site.bp\"\nconcept = \"high bp\"\nmeasure = \"blood-pressure\"\n\
///             route = \"needs-call\"\nany = [{ field = \"systolic\", at_least = 40 }]\n\
///             [[vital.tests]]\ntext = \"bp 150/90\"\n[[vital.tests]]\ntext = \"bp ok\"\nfires = false\n";
/// let rules = RuleSet::from_sources([("site.toml", site)])?;
/// let warning = &lint(&rules, [("site.toml", site)])[0];
/// assert_eq!(warning.severity, Severity::Warning);
/// let shown = warning.to_string();
/// assert!(shown.starts_with("site.toml:6:1: warning[W0006]: `site.bp`: `systolic` at_least 40"));
/// assert!(shown.ends_with("6 | any = [{ field = \"systolic\", at_least = 40 }]\n  | ^"));
/// # Ok::<(), portal_triage::Error>(())
/// ```
pub fn lint<'a>(
    rules: &RuleSet,
    sources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<Diagnostic> {
    lint_report(rules, sources).warnings
}

/// The warning codes an `[[allow]]` may name (`W0009`, an allow that
/// matches nothing, cannot itself be allowed).
pub(crate) const ALLOWABLE: &[&str] = &[
    "W0001", "W0002", "W0003", "W0004", "W0005", "W0006", "W0007", "W0008", "W0010",
];

/// A warning that an `[[allow]]` table of the rule files silenced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AllowedLint {
    /// The warning, as [`lint`] would have reported it.
    pub lint: Diagnostic,
    /// The allow's reason.
    pub reason: String,
    /// The file of the `[[allow]]` table.
    pub allow_path: String,
    /// The 1-based line of the `[[allow]]` table.
    pub allow_line: usize,
}

/// Every warning of a rule set, split into those still to review and those
/// the rule files allow (`[[allow]]` tables, `docs/rules.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LintReport {
    /// Warnings to act on, in file and line order; includes `W0009` for an
    /// `[[allow]]` (or one of its phrases) that matches no warning.
    pub warnings: Vec<Diagnostic>,
    /// Warnings an `[[allow]]` silenced, with its reason.
    pub allowed: Vec<AllowedLint>,
}

/// Lint a rule set like [`lint`], and also return the warnings that the
/// rule files' `[[allow]]` tables silenced.
///
/// An allow names a code, the id of a rule, cue, pseudo or terminator list
/// the warning is about (for `W0001` and `W0003` either of the two rules,
/// for `W0002` the list or the finding rule), and for phrase lints
/// (`W0001`-`W0003`) the phrases (for `W0003` the shorter or the longer).
///
/// ```
/// use portal_triage::{RuleSet, lint_report};
/// let site = r#"
/// [[rule]]
/// id = "site.a"
/// concept = "a"
/// route = "needs-call"
/// phrases = ["port is red"]
/// [[rule.tests]]
/// text = "my port is red"
/// [[rule]]
/// id = "site.b"
/// concept = "b"
/// route = "needs-call"
/// phrases = ["port is red"]
/// [[rule.tests]]
/// text = "the port is red"
/// [[allow]]
/// lint = "W0001"
/// id = "site.b"
/// phrases = ["port is red"]
/// reason = "a red port is both findings: a and b"
/// "#;
/// let rules = RuleSet::from_sources([("site.toml", site)])?;
/// let report = lint_report(&rules, [("site.toml", site)]);
/// // Only the pedantic W0007 (no must-not-fire test) is left.
/// assert!(report.warnings.iter().all(|w| w.code == "W0007"));
/// assert_eq!(report.allowed[0].lint.code, "W0001");
/// assert_eq!(report.allowed[0].allow_line, 16);
/// # Ok::<(), portal_triage::Error>(())
/// ```
pub fn lint_report<'a>(
    rules: &RuleSet,
    sources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> LintReport {
    let sources: BTreeMap<&str, &str> = sources.into_iter().collect();
    let mut out = Linter {
        sources,
        lints: Vec::new(),
    };
    out.duplicates(rules);
    out.never_fires(rules);
    out.shadowed(rules);
    out.untested(rules);
    out.categories(rules);
    out.thresholds(rules);
    out.patterns(rules);
    out.reach(rules);
    let mut all = std::mem::take(&mut out.lints);
    all.sort_by(|(a, _), (b, _)| {
        (&a.path, a.line, a.column, a.code, &a.message)
            .cmp(&(&b.path, b.line, b.column, b.code, &b.message))
    });
    all.dedup_by(|(a, _), (b, _)| a == b);

    // Which allow (and which of its phrases) each warning meets.
    let allows = &rules.allows;
    let mut used: Vec<Vec<bool>> = allows
        .iter()
        .map(|a| vec![false; a.phrases.len().max(1)])
        .collect();
    let mut report = LintReport::default();
    for (lint, subject) in all {
        let hit = allows.iter().enumerate().find_map(|(i, a)| {
            if a.lint != lint.code || !subject.ids.contains(&a.id) {
                return None;
            }
            if a.phrases.is_empty() {
                return subject.phrases.is_empty().then_some((i, 0));
            }
            let j = a.phrases.iter().position(|p| subject.phrases.contains(p))?;
            Some((i, j))
        });
        match hit {
            Some((i, j)) => {
                used[i][j] = true;
                let a = &allows[i];
                report.allowed.push(AllowedLint {
                    lint,
                    reason: a.reason.clone(),
                    allow_path: a.origin.path.clone(),
                    allow_line: a.origin.line,
                });
            }
            None => report.warnings.push(lint),
        }
    }
    // W0009: an allow (or one of its phrases) that matches no warning any
    // more, so that allows do not outlive what they excuse.
    for (a, used) in allows.iter().zip(&used) {
        let phrases: Vec<Option<&str>> = if a.phrases.is_empty() {
            vec![None]
        } else {
            a.phrases.iter().map(|p| Some(p.as_str())).collect()
        };
        for (phrase, used) in phrases.into_iter().zip(used) {
            if *used {
                continue;
            }
            let what = match phrase {
                Some(p) => format!(" and phrase \"{p}\""),
                None => String::new(),
            };
            out.push(
                At {
                    path: &a.origin.path,
                    line: Some(a.origin.line),
                    id: &a.id,
                    phrase,
                    key: phrase.map_or(Some("lint"), |_| None),
                    also_id: None,
                    also_phrase: None,
                },
                "W0009",
                format!(
                    "[[allow]] of {} for `{}`{what} matches no warning: what it excused is gone; remove it (or that phrase)",
                    a.lint, a.id
                ),
            );
        }
    }
    report
        .warnings
        .extend(out.lints.into_iter().map(|(l, _)| l));
    report.warnings.sort_by(|a, b| {
        (&a.path, a.line, a.column, a.code).cmp(&(&b.path, b.line, b.column, b.code))
    });
    report
}

struct Linter<'a> {
    sources: BTreeMap<&'a str, &'a str>,
    lints: Vec<(Diagnostic, Subject)>,
}

/// What a lint points at: a table (by file, line, id) and, inside it, a key
/// or a phrase.
struct At<'s> {
    path: &'s str,
    line: Option<usize>,
    id: &'s str,
    phrase: Option<&'s str>,
    key: Option<&'s str>,
    /// Another table the warning names (the other rule of a duplicate,
    /// the finding that claims a cue's words): an `[[allow]]` may name it.
    also_id: Option<&'s str>,
    /// Another phrase the warning names (the longer phrase of W0003).
    also_phrase: Option<&'s str>,
}

impl<'s> At<'s> {
    /// A warning on the table `id` defined at `origin` (at its `id`, or
    /// at `phrase`, or at `key`), naming nothing else.
    fn table(
        origin: &'s Origin,
        id: &'s str,
        phrase: Option<&'s str>,
        key: Option<&'s str>,
    ) -> At<'s> {
        At {
            path: &origin.path,
            line: Some(origin.line),
            id,
            phrase,
            key,
            also_id: None,
            also_phrase: None,
        }
    }
}

/// What a warning is about, for matching `[[allow]]` tables.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Subject {
    ids: Vec<String>,
    phrases: Vec<String>,
}

impl Linter<'_> {
    fn push(&mut self, at: At<'_>, code: &'static str, message: String) {
        let (path, line, column, source_line) = self.locate(&at);
        let subject = Subject {
            ids: [Some(at.id), at.also_id]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect(),
            phrases: [at.phrase, at.also_phrase]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect(),
        };
        self.lints.push((
            Diagnostic {
                severity: Severity::Warning,
                path,
                line,
                column,
                code,
                message,
                source_line,
            },
            subject,
        ));
    }

    /// The file, line, column and source line of `at`: the phrase's quoted
    /// string (or the key) inside the table, else the table itself.
    fn locate(&self, at: &At<'_>) -> (String, usize, usize, String) {
        // The table: by its line when known, else by its `id = "..."` line
        // in any source.
        let found = match at.line {
            Some(l) => self.sources.get(at.path).map(|t| (at.path, *t, l)),
            None => self.sources.iter().find_map(|(p, t)| {
                let wanted = format!("\"{}\"", at.id);
                t.lines().enumerate().find_map(|(i, l)| {
                    let l = l.trim_start();
                    let rest = l.strip_prefix("id")?.trim_start().strip_prefix('=')?;
                    (rest.trim() == wanted).then_some((*p, *t, i + 1))
                })
            }),
        };
        let Some((path, text, table_line)) = found else {
            let path = if at.path.is_empty() {
                "<rule set>"
            } else {
                at.path
            };
            return (path.to_string(), at.line.unwrap_or(1), 1, String::new());
        };
        let lines: Vec<&str> = text.lines().collect();
        let is_header = |i: usize| {
            lines
                .get(i)
                .is_some_and(|l| l.trim_start().starts_with('['))
        };
        // The table, 0-based: from its `[[...]]` header (at or before the
        // line we have) to the next header (its tests come after its
        // phrases, so they end the search too).
        let t0 = table_line.saturating_sub(1);
        let start0 = (0..=t0).rev().find(|&i| is_header(i)).unwrap_or(t0);
        let end0 = (t0 + 1..lines.len())
            .find(|&i| is_header(i))
            .unwrap_or(lines.len());
        for (i, src) in lines.iter().enumerate().take(end0).skip(start0) {
            let l = i + 1;
            if let Some(phrase) = at.phrase {
                if let Some(col) = quoted_phrase_column(src, phrase) {
                    return (path.to_string(), l, col, src.trim_end().to_string());
                }
            } else if let Some(key) = at.key {
                let t = src.trim_start();
                if t.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with('='))
                {
                    let col = src[..src.len() - t.len()].chars().count() + 1;
                    return (path.to_string(), l, col, src.trim_end().to_string());
                }
            }
        }
        let table = |i: usize| lines.get(i).copied().unwrap_or("");
        let src = table(table_line - 1);
        (path.to_string(), table_line, 1, src.trim_end().to_string())
    }

    /// W0001: the same phrase in two finding rules.
    fn duplicates(&mut self, rules: &RuleSet) {
        let mut first: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, r) in rules.rules.iter().enumerate() {
            for p in &r.phrases {
                match first.get(p.as_str()) {
                    Some(&j) if rules.rules[j].id != r.id => {
                        let other = &rules.rules[j];
                        self.push(
                            At {
                                also_id: Some(&other.id),
                                ..At::table(&r.origin, &r.id, Some(p), None)
                            },
                            "W0001",
                            format!(
                                "phrase \"{p}\" of `{}` is also a phrase of `{}` ({}:{}): both rules fire on it; keep it in one rule, or give the second a longer, more specific phrase",
                                r.id, other.id, other.origin.path, other.origin.line
                            ),
                        );
                    }
                    Some(_) => {}
                    None => {
                        first.insert(p, i);
                    }
                }
            }
        }
    }

    /// W0010: a phrase the reading already covers with another phrase of
    /// the same rule: it reads the same (an inflection, a filler, a
    /// text-speak form), or does once its misspelt word is corrected.
    fn reach(&mut self, rules: &RuleSet) {
        let lexicon = crate::reading::Lexicon::new(&crate::compile::lexicon_input(rules));
        for r in &rules.rules {
            // Readings keyed with the words that need a word of degree
            // ("very confused" is not "confused"), and the plain reading.
            let with_degree: Vec<(String, u64)> = (r.phrases.iter())
                .map(|p| lexicon.read_phrase_with_degree(p))
                .collect();
            let key = |rd: String, degree: u64| match degree {
                0 => rd,
                d => format!("{rd} #{d}"),
            };
            let read: Vec<String> = (with_degree.iter())
                .map(|(rd, d)| key(rd.clone(), *d))
                .collect();
            // A phrase read as a message of its own, as the engine would
            // read it if this phrase were deleted (its misspelt words no
            // longer listed, so corrected where the reading would), and
            // the first correction made.
            // Spanish messages are not corrected (see `reading`).
            let spanish = crate::rules::spanish_file(&r.origin.path);
            let corrected: Vec<(String, Option<(String, String)>)> = (r.phrases.iter())
                .zip(&with_degree)
                .map(|(p, (_, d))| {
                    let (rd, first) = lexicon.read_unlisted(p);
                    (key(rd, *d), first)
                })
                .collect();
            // Representatives: phrases with nothing to correct first.
            let mut keep: BTreeMap<&str, usize> = BTreeMap::new();
            for pass in [true, false] {
                for (i, rd) in read.iter().enumerate() {
                    if corrected[i].1.is_none() == pass && !rd.is_empty() {
                        keep.entry(rd.as_str()).or_insert(i);
                    }
                }
            }
            for (i, p) in r.phrases.iter().enumerate() {
                let plain = with_degree[i].0.as_str();
                // Which phrase covers this one, and why (to say so).
                let found = match keep.get(read[i].as_str()) {
                    Some(&j) if j != i => Some((j, String::from("read the same"))),
                    // "very confused" where "confused" is listed.
                    _ if with_degree[i].1 != 0 && keep.contains_key(plain) => Some((
                        keep[plain],
                        String::from("which matches with or without the word of degree"),
                    )),
                    // A misspelling in an English rule, corrected toward
                    // the spelling the rules use more (never away from it,
                    // never a word of the dictionary, which a phrase lists
                    // on purpose).
                    _ => match (&corrected[i], keep.get(corrected[i].0.as_str())) {
                        ((_, Some((w, c))), Some(&j))
                            if j != i
                                && !spanish
                                && !lexicon.in_dictionary(w)
                                && lexicon.uses(c) > lexicon.uses(w) =>
                        {
                            Some((j, format!("read with '{w}' as '{c}'")))
                        }
                        _ => None,
                    },
                };
                let Some((j, why)) = found else { continue };
                let q = &r.phrases[j];
                self.push(
                    At::table(&r.origin, &r.id, Some(p), None),
                    "W0010",
                    format!(
                        "phrase \"{p}\" of `{}` is within the reading's reach of \"{q}\" ({why}): delete it",
                        r.id
                    ),
                );
            }
        }
    }

    /// W0002: phrases that can never act because a phrase of another kind
    /// on the same words always wins.
    fn never_fires(&mut self, rules: &RuleSet) {
        let mut finding: BTreeMap<&str, &str> = BTreeMap::new();
        for r in &rules.rules {
            for p in &r.phrases {
                finding.entry(p).or_insert(&r.id);
            }
        }
        let mut pseudo: BTreeMap<&str, &str> = BTreeMap::new();
        for list in &rules.pseudos {
            for p in &list.phrases {
                pseudo.entry(p).or_insert(&list.id);
                if let Some(rule) = finding.get(p.as_str()) {
                    self.push(
                        At {
                            path: "",
                            line: None,
                            id: &list.id,
                            phrase: Some(p),
                            key: None,
                            also_id: Some(rule),
                            also_phrase: None,
                        },
                        "W0002",
                        format!(
                            "pseudo phrase \"{p}\" of `{}` never hides `{rule}`: it is also a phrase of that rule, and on the same words the finding wins; make the pseudo phrase longer than the finding it should hide",
                            list.id
                        ),
                    );
                }
            }
        }
        // Who is spoken of ("my grandma", "sister with") stays known inside a
        // finding that names them, so those cues are not claimed by findings.
        let person = |c: &crate::rules::CueDef| {
            matches!(
                c.category,
                crate::context::CueCategory::ThirdPerson | crate::context::CueCategory::Other
            )
        };
        let cues = rules.cues.iter().map(|c| {
            (
                &c.id,
                &c.phrases,
                Some((&c.origin.path, c.origin.line)),
                "cue",
                person(c),
            )
        });
        let terminators = rules
            .terminators
            .iter()
            .map(|t| (&t.id, &t.phrases, None, "terminator", false));
        let mut pending = Vec::new();
        for (id, phrases, origin, what, person) in cues.chain(terminators) {
            for p in phrases {
                // A finding on the same words always claims them; a pseudo
                // phrase does, except where a finding begins inside it and
                // runs past it ("no change" + "change in vision").
                let claimed = finding.get(p.as_str()).filter(|_| !person);
                let why = match (claimed, pseudo.get(p.as_str())) {
                    (Some(r), _) => Some((
                        *r,
                        format!(
                            "{what} phrase \"{p}\" of `{id}` never acts: it is also a phrase of the finding rule `{r}`, and a {what} inside a finding is part of it; remove it here or there"
                        ),
                    )),
                    (None, Some(r)) => Some((
                        *r,
                        format!(
                            "{what} phrase \"{p}\" of `{id}` acts only where a finding begins inside its words: it is also a pseudo phrase of `{r}`, which claims those words everywhere else; remove it here or there"
                        ),
                    )),
                    (None, None) => None,
                };
                if let Some((other, why)) = why {
                    pending.push((id, p, origin, other, why));
                }
            }
        }
        for (id, p, origin, other, why) in pending {
            self.push(
                At {
                    path: origin.map_or("", |(p, _)| p.as_str()),
                    line: origin.map(|(_, l)| l),
                    id,
                    phrase: Some(p),
                    key: None,
                    also_id: Some(other),
                    also_phrase: None,
                },
                "W0002",
                why,
            );
        }
    }

    /// W0003: a more urgent finding phrase written inside a less urgent
    /// rule's longer phrase: there the longer phrase wins and the message
    /// gets the lower route.
    fn shadowed(&mut self, rules: &RuleSet) {
        let mut pending = Vec::new();
        for short_rule in &rules.rules {
            for short in &short_rule.phrases {
                for long_rule in &rules.rules {
                    if long_rule.route >= short_rule.route || long_rule.id == short_rule.id {
                        continue;
                    }
                    // Every longer phrase that hides this one, unless the
                    // urgent rule has that wording too (then both stand).
                    for long in long_rule.phrases.iter().filter(|l| {
                        l.len() > short.len()
                            && contains_words(l, short)
                            && !short_rule.phrases.contains(l)
                    }) {
                        pending.push((short_rule, short, long_rule, long));
                    }
                }
            }
        }
        for (short_rule, short, long_rule, long) in pending {
            self.push(
                At {
                    also_id: Some(&long_rule.id),
                    also_phrase: Some(long),
                    ..At::table(&short_rule.origin, &short_rule.id, Some(short), None)
                },
                "W0003",
                format!(
                    "phrase \"{short}\" of `{}` ({}) does not count where \"{long}\" of `{}` ({}) is written: the longer phrase wins; if that is not meant, add the longer wording to `{}` too",
                    short_rule.id, short_rule.route, long_rule.id, long_rule.route, short_rule.id
                ),
            );
        }
    }

    /// W0004: a cue without tests; W0007 (pedantic): a rule without a
    /// must-not-fire test.
    fn untested(&mut self, rules: &RuleSet) {
        for r in &rules.rules {
            if r.kind != RuleKind::Combo && !r.tests.iter().any(|t| !t.fires) {
                self.push(
                    At::table(&r.origin, &r.id, None, Some("id")),
                    "W0007",
                    format!(
                        "`{}` has no test that must not fire: add a [[...tests]] entry with `fires = false` (a negated or harmless wording) so a change that over-fires is caught",
                        r.id
                    ),
                );
            }
        }
        // Subject, anchor and novelty cues decide nothing themselves (they
        // end, enable or cancel other cues), so a test cannot see them
        // apply; the cues that depend on them carry the tests.
        use crate::context::CueCategory::{Anchor, Novel, Subject};
        for c in &rules.cues {
            if c.tests.is_empty() && !matches!(c.category, Subject | Anchor | Novel) {
                self.push(
                    At::table(&c.origin, &c.id, None, Some("id")),
                    "W0004",
                    format!(
                        "cue `{}` has no tests: add a [[cue.tests]] entry with a text, a target phrase and `applies`",
                        c.id
                    ),
                );
            }
        }
    }

    /// W0005: `terminated_by`, `requires` or `unless` naming a category
    /// that no cue of the set has.
    fn categories(&mut self, rules: &RuleSet) {
        let present: BTreeSet<&str> = rules.cues.iter().map(|c| c.category.as_str()).collect();
        let mut pending = Vec::new();
        for c in &rules.cues {
            let lists: [(&str, &[CueCategory]); 3] = [
                ("terminated_by", &c.terminated_by),
                ("requires", &c.requires),
                ("unless", &c.unless),
            ];
            for (key, cats) in lists {
                for cat in cats {
                    if !present.contains(cat.as_str()) {
                        pending.push((c, key, cat.as_str()));
                    }
                }
            }
        }
        for (c, key, cat) in pending {
            let effect = match key {
                "requires" => "so this cue never applies",
                "unless" => "so it never cancels this cue",
                _ => "so it never ends this cue's scope",
            };
            self.push(
                At::table(&c.origin, &c.id, None, Some(key)),
                "W0005",
                format!(
                    "cue `{}` names the context category `{cat}` in `{key}`, but no cue of the rule set has that category, {effect}; add such a cue or remove the name",
                    c.id
                ),
            );
        }
    }

    /// W0006: a vital threshold outside the values the engine reads.
    fn thresholds(&mut self, rules: &RuleSet) {
        let mut pending = Vec::new();
        for r in &rules.rules {
            let Some(measure) = r.measure else { continue };
            for (key, conds) in [("any", &r.any), ("all", &r.all_conditions)] {
                for c in conds {
                    let Some((lo, hi)) = readable_range(measure, &c.field) else {
                        continue;
                    };
                    let bounds = [
                        ("at_least", c.at_least),
                        ("above", c.above),
                        ("below", c.below),
                        ("at_most", c.at_most),
                    ];
                    for (name, v) in bounds {
                        let Some(v) = v else { continue };
                        // at_least/above past the top never hold; below/
                        // at_most under the bottom never hold; the other
                        // way round they always hold.
                        let outside = match name {
                            "at_least" => v > hi || v <= lo,
                            "above" => v >= hi || v < lo,
                            "below" => v <= lo || v > hi,
                            _ => v < lo || v >= hi,
                        };
                        if outside {
                            pending.push((r, key, c.field.clone(), name, v, lo, hi));
                        }
                    }
                }
            }
        }
        for (r, key, field, name, v, lo, hi) in pending {
            let never = match name {
                "at_least" | "above" => v >= hi,
                _ => v <= lo,
            };
            self.push(
                At::table(&r.origin, &r.id, None, Some(key)),
                "W0006",
                format!(
                    "`{}`: `{field}` {name} {v} is outside the values read for this measure ({lo} to {hi}), so the condition {} holds; check the number and its unit",
                    r.id,
                    if never { "never" } else { "always" }
                ),
            );
        }
    }
}

impl Linter<'_> {
    /// W0008: patterns that say something normalized text never contains.
    fn patterns(&mut self, rules: &RuleSet) {
        let finding = rules
            .rules
            .iter()
            .map(|r| (&r.id, &r.compiled, Some((&r.origin.path, r.origin.line))));
        let cues = rules
            .cues
            .iter()
            .map(|c| (&c.id, &c.compiled, Some((&c.origin.path, c.origin.line))));
        let lists = rules
            .pseudos
            .iter()
            .chain(&rules.terminators)
            .map(|p| (&p.id, &p.compiled, None));
        let mut pending = Vec::new();
        for (id, compiled, origin) in finding.chain(cues).chain(lists) {
            for re in compiled {
                if let Some(c) = impossible_literal(re.as_str()) {
                    pending.push((id, origin, c));
                }
            }
        }
        for (id, origin, c) in pending {
            self.push(
                At {
                    path: origin.map_or("", |(p, _)| p.as_str()),
                    line: origin.map(|(_, l)| l),
                    id,
                    phrase: None,
                    key: Some("patterns"),
                    also_id: None,
                    also_phrase: None,
                },
                "W0008",
                format!(
                    "a pattern of `{id}` contains `{c}`, but message text is matched in lower case with apostrophes removed, so that part of the pattern never matches; write it in lower case without apostrophes"
                ),
            );
        }
    }
}

/// A literal character of `pattern` that normalized text never contains
/// (an ASCII upper-case letter, an apostrophe), outside escapes, classes
/// and group names; None when the pattern is case-insensitive. An
/// apostrophe made optional (`'?`, `'*`) is fine.
fn impossible_literal(pattern: &str) -> Option<char> {
    if pattern.contains("(?i") {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut class_depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                // An escape; `\p{...}` and `\x{...}` carry a braced name.
                if matches!(chars.get(i + 1), Some('p' | 'P' | 'x' | 'u'))
                    && chars.get(i + 2) == Some(&'{')
                {
                    while i < chars.len() && chars[i] != '}' {
                        i += 1;
                    }
                } else {
                    i += 1;
                }
            }
            '[' => class_depth += 1,
            ']' if class_depth > 0 => class_depth -= 1,
            '(' if class_depth == 0 && chars.get(i + 1) == Some(&'?') => {
                // A group name: `(?P<name>` or `(?<name>`.
                let mut j = i + 2;
                if chars.get(j) == Some(&'P') {
                    j += 1;
                }
                if chars.get(j) == Some(&'<') {
                    while j < chars.len() && chars[j] != '>' {
                        j += 1;
                    }
                    i = j;
                }
            }
            _ if class_depth > 0 => {}
            'A'..='Z' => return Some(c),
            '\'' | '\u{2019}' if !matches!(chars.get(i + 1), Some('?' | '*')) => return Some(c),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether `short` occurs in `long` as whole words (both normalized).
fn contains_words(long: &str, short: &str) -> bool {
    let mut from = 0;
    while let Some(i) = long[from..].find(short) {
        let s = from + i;
        let e = s + short.len();
        if !crate::normalize::alnum_before(long, s) && !crate::normalize::alnum_at(long, e) {
            return true;
        }
        from = s + short.chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// The column (1-based, characters) of the quoted string on `line` whose
/// normalized form is `phrase`.
fn quoted_phrase_column(line: &str, phrase: &str) -> Option<usize> {
    let mut i = 0;
    let bytes = line.as_bytes();
    while i < bytes.len() {
        let q = bytes[i];
        if q == b'"' || q == b'\'' {
            let body_start = i + 1;
            let mut j = body_start;
            while j < bytes.len() && bytes[j] != q {
                if q == b'"' && bytes[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            let body = line.get(body_start..j.min(line.len()))?;
            if normalize_phrase(body) == phrase {
                return Some(line[..i].chars().count() + 1);
            }
            i = j + 1;
        } else if q == b'#' {
            return None;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_word_containment() {
        assert!(contains_words("fainting spells", "fainting"));
        assert!(contains_words("sudden chest pain now", "chest pain"));
        assert!(!contains_words("painful", "pain"));
    }

    #[test]
    fn finds_the_quoted_phrase() {
        let line = r#"phrases = ["chest pain", 'Can’t breathe']  # "x""#;
        assert_eq!(quoted_phrase_column(line, "chest pain"), Some(12));
        assert_eq!(quoted_phrase_column(line, "cant breathe"), Some(26));
        assert_eq!(quoted_phrase_column(line, "x"), None);
    }

    #[test]
    fn literals_normalized_text_never_has() {
        assert_eq!(impossible_literal(r"\bBP\b"), Some('B'));
        assert_eq!(impossible_literal(r"can't breathe"), Some('\''));
        assert_eq!(impossible_literal(r"can'?t breathe"), None);
        assert_eq!(impossible_literal(r"(?i)BP"), None);
        assert_eq!(
            impossible_literal(r"[0-9A-Za-z_]+ \B\D\p{Greek} (?P<Sys>\d+)"),
            None
        );
        assert_eq!(impossible_literal(r"chest (?:is )?tight"), None);
    }

    /// W0010 says a phrase is covered when the engine's reading makes it
    /// so, and says how: the same reading, a word of degree, a correction.
    #[test]
    fn reach_follows_the_reading() {
        let extra = RuleSet::from_sources([(
            "site.toml",
            "[[rule]]\nid = \"site.x\"\nconcept = \"x\"\nroute = \"needs-call\"\n\
             phrases = [\"hard to breathe\", \"very hard to breathe\", \"hard to breath\", \
             \"my chest hurts\", \"my chset hurts\", \"sugar is very low\"]\n\
             [[rule.tests]]\ntext = \"it is hard to breathe\"\nroute = \"needs-call\"\n",
        )])
        .unwrap();
        let rules = RuleSet::builtin().unwrap().layered(extra);
        let lints = lint(&rules, RuleSet::builtin_sources());
        let got: Vec<&str> = (lints.iter())
            .filter(|d| d.code == "W0010" && d.message.contains("`site.x`"))
            .map(|d| d.message.as_str())
            .collect();
        let says = |phrase: &str, why: &str| {
            got.iter()
                .any(|m| m.starts_with(&format!("phrase \"{phrase}\"")) && m.contains(why))
        };
        assert!(
            says("very hard to breathe", "with or without the word of degree"),
            "{got:?}"
        );
        assert!(says("hard to breath", "read the same"), "{got:?}");
        assert!(
            says("my chset hurts", "read with 'chset' as 'chest'"),
            "{got:?}"
        );
        // A degree with nothing plain beside it is its own phrase.
        assert!(
            !got.iter().any(|m| m.contains("\"sugar is very low\"")),
            "{got:?}"
        );
        assert_eq!(got.len(), 3, "{got:?}");
    }

    #[test]
    fn the_builtin_thresholds_are_readable() {
        let rules = RuleSet::builtin().unwrap_or_default();
        let lints = lint(&rules, RuleSet::builtin_sources());
        assert!(!lints.iter().any(|l| l.code == "W0006"), "{lints:?}");
    }

    #[test]
    fn thresholds_past_what_the_readers_keep() {
        let rule = |field: &str, at_least: f64| {
            format!(
                "[[vital]]\nid = \"site.v\"\nconcept = \"v\"\nmeasure = \"{}\"\nroute = \"needs-call\"\n\
                 any = [{{ field = \"{field}\", at_least = {at_least} }}]\n\
                 [[vital.tests]]\ntext = \"temp 104 and gained 8 lbs\"\n",
                if field == "pounds" {
                    "weight-gain"
                } else {
                    "temperature"
                }
            )
        };
        let w0006 = |field: &str, at_least: f64| {
            let site = rule(field, at_least);
            let rules = RuleSet::from_sources([("site.toml", site.as_str())]);
            let rules = rules.unwrap_or_else(|e| panic!("{e}"));
            lint(&rules, [("site.toml", site.as_str())])
                .iter()
                .any(|l| l.code == "W0006")
        };
        // The readers keep at most 110 F (43.5 C converted is 110.3, and
        // not kept) and a gain of at most 60 lb (60 kg converted is not).
        assert!(!w0006("fahrenheit", 110.0));
        assert!(w0006("fahrenheit", 110.2));
        assert!(!w0006("pounds", 60.0));
        assert!(w0006("pounds", 100.0));
    }
}
