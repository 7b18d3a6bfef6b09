//! Rule files: the TOML schema, strict loading with every error reported at
//! once, and the [`RuleSet`] they make. The format is documented in
//! `docs/rules.md`.

use crate::context::{CueCategory, Direction, Scope};
use crate::error::{Diagnostic, Error, ErrorKind, Severity};
use crate::route::Route;
use crate::vitals::{Condition, Measure};
use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// `(name, text)` of rule files under `rules/`, each named
/// `rules/<file>` and its text compiled in, so a name cannot point at
/// another file's text.
macro_rules! rule_files {
    ($($file:literal),* $(,)?) => {
        &[$((concat!("rules/", $file), include_str!(concat!("../rules/", $file)))),*]
    };
}

/// The default rule files, compiled into the binary, in load order (the
/// order of their rules in every list and explanation). Every `*.toml`
/// file of `rules/` must be listed, and only those: the test
/// `builtin_lists_every_rule_file` fails otherwise.
const BUILTIN: &[(&str, &str)] = rule_files![
    "lexicon.toml",
    "context.toml",
    "vitals.toml",
    "cardiac.toml",
    "respiratory.toml",
    "neuro.toml",
    "bleeding.toml",
    "allergy.toml",
    "mental-health.toml",
    "poisoning.toml",
    "injury.toml",
    "pain.toml",
    "metabolic.toml",
    "infection.toml",
    "pregnancy.toml",
    "medication.toml",
    "general.toml",
    // The Spanish layer, after the English rules, in the order its areas
    // had in the single es.toml it was split from.
    "es-cardiac.toml",
    "es-respiratory.toml",
    "es-neuro.toml",
    "es-metabolic.toml",
    "es-general.toml",
    "es-infection.toml",
    "es-allergy.toml",
    "es-bleeding.toml",
    "es-pregnancy.toml",
    "es-mental-health.toml",
    "es-poisoning.toml",
    "es-injury.toml",
    "es-pain.toml",
    "es-medication.toml",
    "es-context.toml",
    "es-lexicon.toml",
];

/// Limits that keep a rule set (and so every scan) bounded.
pub(crate) const MAX_PHRASES: usize = 200_000;
pub(crate) const MAX_PHRASE_LEN: usize = 512;
pub(crate) const MAX_PATTERNS: usize = 2_000;
pub(crate) const REGEX_SIZE_LIMIT: usize = 2 * (1 << 20);

// ---------------------------------------------------------------- raw schema

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    rule: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    combo: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    vital: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    cue: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    pseudo: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    terminator: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    allow: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    class: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    rewrite: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    lemma: Vec<toml::Spanned<toml::Table>>,
}

/// `[[class]]`: a named word class for word patterns (`<name>`), or
/// fillers read past.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    name: String,
    words: Vec<String>,
    #[serde(default)]
    filler: bool,
    #[serde(default)]
    degree: bool,
}

/// `[[rewrite]]` and `[[lemma]]`: written tokens read as other words.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReadAs {
    #[serde(rename = "as")]
    read_as: String,
    words: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    concept: String,
    route: Route,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    past_resolves: bool,
    #[serde(default)]
    qualifier: bool,
    #[serde(default)]
    resolved_route: Option<Route>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    advice: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    tests: Vec<RawTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    text: String,
    #[serde(default = "yes")]
    fires: bool,
    #[serde(default)]
    route: Option<Route>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCombo {
    id: String,
    concept: String,
    route: Route,
    all: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    advice: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    tests: Vec<RawTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVital {
    id: String,
    concept: String,
    measure: Measure,
    route: Route,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    any: Vec<Condition>,
    #[serde(default)]
    all: Vec<Condition>,
    #[serde(default = "yes")]
    past_resolves: bool,
    #[serde(default)]
    resolved_route: Option<Route>,
    #[serde(default)]
    weight: Option<f64>,
    #[serde(default)]
    advice: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    tests: Vec<RawTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCue {
    id: String,
    category: CueCategory,
    #[serde(default)]
    direction: Direction,
    #[serde(default)]
    scope: Scope,
    #[serde(default = "default_max_words")]
    max_words: u32,
    #[serde(default)]
    terminated_by: Vec<CueCategory>,
    #[serde(default)]
    requires: Vec<CueCategory>,
    #[serde(default)]
    unless: Vec<CueCategory>,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    tests: Vec<RawCueTest>,
}

fn default_max_words() -> u32 {
    6
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCueTest {
    text: String,
    target: String,
    #[serde(default = "yes")]
    applies: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhraseList {
    id: String,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    note: Option<String>,
}

/// `[[allow]]`: a reviewed lint warning, silenced with a written reason.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    lint: String,
    id: String,
    #[serde(default)]
    phrases: Vec<String>,
    reason: String,
}

// ---------------------------------------------------------------- rule set

/// Where a rule was defined.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    /// The rule file.
    pub path: String,
    /// 1-based line of the rule's table.
    pub line: usize,
}

/// An inline test of a rule, combination or vital rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleTest {
    /// The message text.
    pub text: String,
    /// Whether the rule must fire (true) or must not (false).
    pub fires: bool,
    /// The expected route of the whole message, if given.
    pub route: Option<Route>,
}

/// An inline test of a context cue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CueTest {
    /// The text.
    pub text: String,
    /// The target phrase whose context is assessed.
    pub target: String,
    /// Whether this cue must apply to the target.
    pub applies: bool,
}

/// What kind of rule a [`RuleInfo`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    /// A phrase or pattern rule.
    Phrase,
    /// A reading judged against thresholds.
    Vital,
    /// A combination of groups.
    Combo,
}

/// A finding rule: phrases/patterns, a vital threshold, or a combination.
#[derive(Debug, Clone)]
pub(crate) struct RuleDef {
    pub id: String,
    pub kind: RuleKind,
    pub area: String,
    pub concept: String,
    pub route: Route,
    pub groups: Vec<String>,
    pub past_resolves: bool,
    /// A qualifier ("first ever", "on warfarin", "pregnant") has no time of
    /// its own: it does not keep a combination current.
    pub qualifier: bool,
    pub resolved_route: Option<Route>,
    pub weight: f64,
    pub advice: Option<String>,
    pub phrases: Vec<String>,
    /// Patterns, compiled in the form the engine runs.
    pub compiled: Vec<Regex>,
    /// Word patterns, as written (compiled with the rule set's lexicon).
    pub words: Vec<String>,
    pub measure: Option<Measure>,
    pub any: Vec<Condition>,
    pub all_conditions: Vec<Condition>,
    pub combo_all: Vec<Vec<String>>,
    pub tests: Vec<RuleTest>,
    pub origin: Origin,
}

/// A context cue rule.
#[derive(Debug, Clone)]
pub(crate) struct CueDef {
    pub id: String,
    pub category: CueCategory,
    pub direction: Direction,
    pub scope: Scope,
    pub max_words: u32,
    pub terminated_by: Vec<CueCategory>,
    pub requires: Vec<CueCategory>,
    pub unless: Vec<CueCategory>,
    pub phrases: Vec<String>,
    /// Patterns, compiled in the form the engine runs.
    pub compiled: Vec<Regex>,
    /// Word patterns, as written (compiled with the rule set's lexicon).
    pub words: Vec<String>,
    pub tests: Vec<CueTest>,
    pub origin: Origin,
}

/// A pseudo-cue / idiom list or a terminator list.
#[derive(Debug, Clone)]
pub(crate) struct PhraseListDef {
    pub id: String,
    pub phrases: Vec<String>,
    /// Patterns, compiled in the form the engine runs.
    pub compiled: Vec<Regex>,
    /// Word patterns, as written (compiled with the rule set's lexicon).
    pub words: Vec<String>,
    /// Whether it comes from a Spanish rule file.
    pub spanish: bool,
}

/// An `[[allow]]` table: lint warnings of one code about one rule, cue,
/// pseudo or terminator list (and, for phrase lints, one of the listed
/// phrases) that a reviewer has accepted, with the reason.
#[derive(Debug, Clone)]
pub(crate) struct AllowDef {
    /// The warning code (`W0001`-`W0008`).
    pub lint: String,
    /// The id the warning names.
    pub id: String,
    /// Normalized phrases; empty for lints that are not about a phrase.
    pub phrases: Vec<String>,
    pub reason: String,
    pub origin: Origin,
}

/// A word class (`[[class]]`).
#[derive(Debug, Clone)]
pub(crate) struct ClassDef {
    pub name: String,
    /// Entries, each normalized and split into words.
    pub words: Vec<Vec<String>>,
    pub filler: bool,
    /// `degree = true`: words of degree ("very"), read past like a filler
    /// but remembered on the next word, for phrases that need the degree.
    pub degree: bool,
    /// Whether it comes from a Spanish file (`es-*.toml`).
    pub spanish: bool,
    pub origin: Origin,
}

/// Whether a rule file is part of the Spanish layer (`es-*.toml`).
pub(crate) fn spanish_file(path: &str) -> bool {
    Path::new(path)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("es-"))
}

/// A public summary of one rule, for listings and tools.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleInfo {
    /// The rule id.
    pub id: String,
    /// Phrase, vital or combo.
    pub kind: RuleKind,
    /// The clinical area (the file's `area`, or its name).
    pub area: String,
    /// Plain-language concept.
    pub concept: String,
    /// The route it earns.
    pub route: Route,
    /// Number of literal phrases.
    pub phrases: usize,
    /// Number of regex patterns.
    pub patterns: usize,
    /// Number of inline tests.
    pub tests: usize,
    /// Where it is defined.
    pub origin: Origin,
}

/// A validated set of rule files, ready to build a [`crate::Triage`] from.
///
/// ```
/// use portal_triage::RuleSet;
/// let rules = RuleSet::builtin().unwrap();
/// assert!(rules.rules().any(|r| r.id == "cardiac.chest-pain"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub(crate) rules: Vec<RuleDef>,
    pub(crate) cues: Vec<CueDef>,
    pub(crate) pseudos: Vec<PhraseListDef>,
    pub(crate) terminators: Vec<PhraseListDef>,
    /// Reviewed lint warnings (`[[allow]]`), in load order.
    pub(crate) allows: Vec<AllowDef>,
    /// Word classes (`[[class]]`), by name; a later layer's class of the
    /// same name replaces the earlier one.
    pub(crate) classes: Vec<ClassDef>,
    /// `[[rewrite]]` entries: (token, words), in load order (a later one
    /// for the same token wins).
    pub(crate) rewrites: Vec<(String, Vec<String>)>,
    /// `[[lemma]]` entries: (written form, base form).
    pub(crate) lemmas: Vec<(String, String)>,
    /// Tokens of `[[rewrite]]` and `[[lemma]]` entries from Spanish files.
    pub(crate) spanish_read_as: BTreeSet<String>,
    /// Ids disabled by a later layer (`enabled = false`).
    disabled: BTreeSet<String>,
}

impl RuleSet {
    /// The default rule set compiled into the binary.
    pub fn builtin() -> Result<RuleSet, Error> {
        RuleSet::from_sources(BUILTIN.iter().copied())
    }

    /// The names and text of the built-in rule files.
    pub fn builtin_sources() -> impl Iterator<Item = (&'static str, &'static str)> {
        BUILTIN.iter().copied()
    }

    /// Load every `*.toml` file of a directory (not recursive), in file-name
    /// order.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<RuleSet, Error> {
        let sources = read_dir_sources(dir.as_ref())?;
        RuleSet::from_sources(sources.iter().map(|(p, t)| (p.as_str(), t.as_str())))
    }

    /// Load rule files from memory: `(name, text)` pairs. Every problem in
    /// every file is reported in one [`Error`].
    pub fn from_sources<'a, I>(sources: I) -> Result<RuleSet, Error>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut loader = Loader::default();
        for (name, text) in sources {
            loader.file(name, text);
        }
        loader.finish()
    }

    /// Layer a site's extra rules on top of these: a rule whose id already
    /// exists replaces it, `enabled = false` removes it, new ids are added.
    ///
    /// ```
    /// use portal_triage::RuleSet;
    /// let extra = RuleSet::from_sources([("site.toml", r#"
    /// [[rule]]
    /// id = "site.port-redness"
    /// concept = "redness around a chemotherapy port"
    /// route = "needs-call"
    /// phrases = ["port site is red"]
    /// [[rule.tests]]
    /// text = "my port site is red and sore"
    /// route = "needs-call"
    /// "#)]).unwrap();
    /// let rules = RuleSet::builtin().unwrap().layered(extra);
    /// assert!(rules.rules().any(|r| r.id == "site.port-redness"));
    /// ```
    pub fn layered(mut self, extra: RuleSet) -> RuleSet {
        for id in &extra.disabled {
            self.rules.retain(|r| &r.id != id);
            self.cues.retain(|r| &r.id != id);
            self.pseudos.retain(|r| &r.id != id);
            self.terminators.retain(|r| &r.id != id);
        }
        fn merge<T: Clone>(base: &mut Vec<T>, extra: Vec<T>, id: impl Fn(&T) -> &str) {
            for item in extra {
                match base.iter_mut().find(|b| id(b) == id(&item)) {
                    Some(slot) => *slot = item,
                    None => base.push(item),
                }
            }
        }
        merge(&mut self.rules, extra.rules, |r| &r.id);
        merge(&mut self.cues, extra.cues, |r| &r.id);
        merge(&mut self.pseudos, extra.pseudos, |r| &r.id);
        merge(&mut self.terminators, extra.terminators, |r| &r.id);
        self.allows.extend(extra.allows);
        merge(&mut self.classes, extra.classes, |c| &c.name);
        self.rewrites.extend(extra.rewrites);
        self.lemmas.extend(extra.lemmas);
        self.spanish_read_as.extend(extra.spanish_read_as);
        self
    }

    /// Summaries of the finding rules (phrase, vital and combo), in load order.
    pub fn rules(&self) -> impl Iterator<Item = RuleInfo> + '_ {
        self.rules.iter().map(|r| RuleInfo {
            id: r.id.clone(),
            kind: r.kind,
            area: r.area.clone(),
            concept: r.concept.clone(),
            route: r.route,
            phrases: r.phrases.len(),
            patterns: r.compiled.len() + r.words.len(),
            tests: r.tests.len(),
            origin: r.origin.clone(),
        })
    }

    /// Every inline test of the finding rules, with its rule's id, in
    /// load order.
    pub fn rule_tests(&self) -> impl Iterator<Item = (&str, &RuleTest)> + '_ {
        (self.rules.iter()).flat_map(|r| r.tests.iter().map(move |t| (r.id.as_str(), t)))
    }

    /// Lint: combination entries that name a group no rule earns (such an
    /// alternative can never be met). Not an error, because an extra layer
    /// may combine groups that another layer provides; `check` reports it.
    pub fn unknown_groups(&self) -> Vec<Diagnostic> {
        let known: BTreeSet<&str> = self
            .rules
            .iter()
            .flat_map(|r| r.groups.iter().map(String::as_str))
            .collect();
        let mut out = Vec::new();
        for r in &self.rules {
            for alt in r.combo_all.iter().flatten() {
                if !known.contains(alt.as_str()) {
                    out.push(Diagnostic {
                        severity: Severity::Error,
                        path: r.origin.path.clone(),
                        line: r.origin.line,
                        column: 1,
                        code: "E0006",
                        message: format!("`{}` combines group `{alt}`, which no rule earns", r.id),
                        source_line: String::new(),
                    });
                }
            }
        }
        out
    }

    /// Every literal phrase of the set (findings, cues, pseudo-cues,
    /// terminators), normalized, without duplicates, sorted.
    pub fn literal_phrases(&self) -> Vec<String> {
        let mut all = BTreeSet::new();
        for r in &self.rules {
            all.extend(r.phrases.iter().cloned());
        }
        for c in &self.cues {
            all.extend(c.phrases.iter().cloned());
        }
        for p in self.pseudos.iter().chain(&self.terminators) {
            all.extend(p.phrases.iter().cloned());
        }
        all.into_iter().collect()
    }

    /// The finding rules' literal phrases only (no cues, pseudo-cues or
    /// terminators), normalized, without duplicates, sorted: what a message
    /// is searched *for*, as opposed to the context words read around it.
    pub fn finding_phrases(&self) -> Vec<String> {
        let all: BTreeSet<String> = (self.rules.iter())
            .flat_map(|r| r.phrases.iter().cloned())
            .collect();
        all.into_iter().collect()
    }
}

fn read_dir_sources(dir: &Path) -> Result<Vec<(String, String)>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read rule directory {}: {e}", dir.display()),
        )
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read rule directory {}: {e}", dir.display()),
            )
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(Error::new(
            ErrorKind::Io,
            format!("no *.toml rule files in {}", dir.display()),
        ));
    }
    let mut out = Vec::with_capacity(paths.len());
    let mut diagnostics = Vec::new();
    for path in paths {
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => out.push((path.display().to_string(), text)),
                Err(e) => {
                    let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    let at = e.utf8_error().valid_up_to();
                    diagnostics.push(Diagnostic::at(
                        &path.display().to_string(),
                        &lossy,
                        at,
                        "E0009",
                        "the file is not valid UTF-8",
                    ));
                }
            },
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Io,
                    format!("cannot read rule file {}: {e}", path.display()),
                ));
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(Error::with_diagnostics(ErrorKind::Rules, diagnostics));
    }
    Ok(out)
}

// ---------------------------------------------------------------- loader

#[derive(Default)]
struct Loader {
    set: RuleSet,
    diagnostics: Vec<Diagnostic>,
    ids: HashMap<String, (String, usize)>,
    phrase_count: usize,
    pattern_count: usize,
}

/// One file being loaded: its name and text, for locating errors.
struct Src<'a> {
    path: &'a str,
    text: &'a str,
}

impl Src<'_> {
    fn diag(&self, offset: usize, code: &'static str, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.path, self.text, offset, code, msg)
    }

    /// Best location for a key inside a table's span: the line `key = ...`.
    fn key_offset(&self, span: &std::ops::Range<usize>, key: &str) -> usize {
        let end = span.end.min(self.text.len());
        let start = span.start.min(end);
        let Some(body) = self.text.get(start..end) else {
            return start;
        };
        let mut off = start;
        for line in body.split_inclusive('\n') {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return off + (line.len() - t.len());
                }
            }
            off += line.len();
        }
        start
    }

    /// A `[[what]]` table's span covers only its header; extend it to the
    /// table's body (up to the next header that is not one of its own
    /// sub-tables such as `[[what.tests]]`).
    fn extent(&self, header: std::ops::Range<usize>, what: &str) -> std::ops::Range<usize> {
        let from = header.end.min(self.text.len());
        let own = [format!("[[{what}."), format!("[{what}.")];
        let mut off = from;
        for line in self.text[from..].split_inclusive('\n') {
            let t = line.trim_start();
            if t.starts_with('[') && !own.iter().any(|o| t.starts_with(o.as_str())) {
                break;
            }
            off += line.len();
        }
        header.start..off
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }
}

/// Pull the field name out of serde's "unknown field `x`" / "missing field `x`".
fn quoted_field(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

impl Loader {
    fn file(&mut self, path: &str, text: &str) {
        let src = Src { path, text };
        let raw: RawFile = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let at = e.span().map_or(0, |s| s.start);
                let code = if e.message().contains("unknown field")
                    || e.message().contains("missing field")
                    || e.message().contains("invalid type")
                {
                    "E0002"
                } else {
                    "E0001"
                };
                let msg = e.message().trim().replace('\n', " ");
                self.diagnostics.push(src.diag(at, code, msg));
                return;
            }
        };
        let area = raw.area.clone().unwrap_or_else(|| {
            Path::new(path)
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        });
        for table in raw.rule {
            if let Some(r) = self.typed::<RawRule>(&src, &table, "rule") {
                self.phrase_rule(&src, &area, src.extent(table.span(), "rule"), r);
            }
        }
        for table in raw.vital {
            if let Some(r) = self.typed::<RawVital>(&src, &table, "vital") {
                self.vital_rule(&src, &area, src.extent(table.span(), "vital"), r);
            }
        }
        for table in raw.combo {
            if let Some(r) = self.typed::<RawCombo>(&src, &table, "combo") {
                self.combo_rule(&src, &area, src.extent(table.span(), "combo"), r);
            }
        }
        for table in raw.cue {
            if let Some(r) = self.typed::<RawCue>(&src, &table, "cue") {
                self.cue(&src, src.extent(table.span(), "cue"), r);
            }
        }
        for table in raw.pseudo {
            if let Some(r) = self.typed::<RawPhraseList>(&src, &table, "pseudo") {
                if let Some(def) = self.phrase_list(&src, src.extent(table.span(), "pseudo"), r) {
                    self.set.pseudos.push(def);
                }
            }
        }
        for table in raw.allow {
            if let Some(r) = self.typed::<RawAllow>(&src, &table, "allow") {
                self.allow(&src, src.extent(table.span(), "allow"), r);
            }
        }
        for table in raw.class {
            if let Some(r) = self.typed::<RawClass>(&src, &table, "class") {
                self.class(&src, src.extent(table.span(), "class"), r);
            }
        }
        for table in raw.rewrite {
            if let Some(r) = self.typed::<RawReadAs>(&src, &table, "rewrite") {
                self.read_as(&src, src.extent(table.span(), "rewrite"), r, false);
            }
        }
        for table in raw.lemma {
            if let Some(r) = self.typed::<RawReadAs>(&src, &table, "lemma") {
                self.read_as(&src, src.extent(table.span(), "lemma"), r, true);
            }
        }
        for table in raw.terminator {
            if let Some(r) = self.typed::<RawPhraseList>(&src, &table, "terminator") {
                if let Some(def) = self.phrase_list(&src, src.extent(table.span(), "terminator"), r)
                {
                    self.set.terminators.push(def);
                }
            }
        }
    }

    fn typed<T: for<'de> Deserialize<'de>>(
        &mut self,
        src: &Src<'_>,
        table: &toml::Spanned<toml::Table>,
        what: &str,
    ) -> Option<T> {
        match table.get_ref().clone().try_into::<T>() {
            Ok(t) => Some(t),
            Err(e) => {
                let msg = e.message().trim().replace('\n', " ");
                let span = src.extent(table.span(), what);
                let at = match quoted_field(&msg) {
                    Some(field) if msg.starts_with("unknown field") => src.key_offset(&span, field),
                    _ => {
                        // A bad value: point at the key whose value the
                        // message quotes ("unknown variant `call911`"), or
                        // the key it names, else at the table.
                        let t = table.get_ref();
                        let quoted = |v: &toml::Value| match v {
                            toml::Value::String(v) => format!("`{v}`"),
                            other => format!("`{other}`"),
                        };
                        t.iter()
                            .find(|(_, v)| !v.is_table() && msg.contains(&quoted(v)))
                            .map(|(k, _)| k)
                            .or_else(|| t.keys().find(|k| msg.contains(&format!("`{k}`"))))
                            .map_or(span.start, |k| src.key_offset(&span, k))
                    }
                };
                self.diagnostics
                    .push(src.diag(at, "E0002", format!("in this [[{what}]]: {msg}")));
                None
            }
        }
    }

    fn claim_id(
        &mut self,
        src: &Src<'_>,
        span: &std::ops::Range<usize>,
        id: &str,
        enabled: Option<bool>,
    ) -> bool {
        let at = src.key_offset(span, "id");
        if id.is_empty() || id.chars().any(|c| c.is_whitespace()) {
            self.diagnostics.push(src.diag(
                at,
                "E0008",
                format!("invalid id `{id}`: ids are non-empty and have no spaces"),
            ));
            return false;
        }
        let line = src.line_of(at);
        if let Some((p, l)) = self.ids.get(id) {
            self.diagnostics.push(src.diag(
                at,
                "E0003",
                format!("duplicate id `{id}`: first defined at {p}:{l}"),
            ));
            return false;
        }
        self.ids
            .insert(id.to_string(), (src.path.to_string(), line));
        if enabled == Some(false) {
            self.set.disabled.insert(id.to_string());
            return false;
        }
        true
    }

    fn phrases(
        &mut self,
        src: &Src<'_>,
        span: &std::ops::Range<usize>,
        raw: &[String],
    ) -> Vec<String> {
        let mut out = Vec::with_capacity(raw.len());
        for p in raw {
            let n = crate::normalize::normalize_phrase(p);
            if n.is_empty() {
                let at = src.key_offset(span, "phrases");
                self.diagnostics.push(src.diag(
                    at,
                    "E0005",
                    "empty phrase: remove it or give it words",
                ));
                continue;
            }
            if n.len() > MAX_PHRASE_LEN {
                let at = src.key_offset(span, "phrases");
                self.diagnostics.push(src.diag(
                    at,
                    "E0011",
                    format!(
                        "phrase of {} bytes exceeds the limit of {MAX_PHRASE_LEN}",
                        n.len()
                    ),
                ));
                continue;
            }
            if !out.contains(&n) {
                out.push(n);
            }
        }
        self.phrase_count += out.len();
        out
    }

    /// Compile patterns once, in the form the engine runs (see
    /// `normalize::fast_pattern`); the engine reuses these.
    fn patterns(
        &mut self,
        src: &Src<'_>,
        span: &std::ops::Range<usize>,
        raw: &[String],
    ) -> Vec<Regex> {
        let mut out = Vec::with_capacity(raw.len());
        for p in raw {
            match regex::RegexBuilder::new(&crate::normalize::fast_pattern(p))
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
            {
                Ok(re) => out.push(re),
                Err(e) => {
                    let at = src.key_offset(span, "patterns");
                    let msg = e.to_string().replace('\n', " ");
                    self.diagnostics.push(src.diag(
                        at,
                        "E0004",
                        format!("invalid pattern {p:?}: {msg}"),
                    ));
                }
            }
        }
        self.pattern_count += out.len();
        out
    }

    /// Word patterns: parsed now, so a syntax error points at its file
    /// and line; compiled with the rule set's lexicon when the engine is
    /// built.
    fn word_patterns(
        &mut self,
        src: &Src<'_>,
        span: &std::ops::Range<usize>,
        raw: &[String],
    ) -> Vec<String> {
        let mut out = Vec::with_capacity(raw.len());
        for p in raw {
            match crate::wordpat::WordPattern::parse(p) {
                Ok(_) => {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
                Err(e) => {
                    let at = src.key_offset(span, "words");
                    self.diagnostics.push(src.diag(
                        at,
                        "E0004",
                        format!(
                            "invalid word pattern {p:?} at column {}: {}",
                            e.column + 1,
                            e.message
                        ),
                    ));
                }
            }
        }
        self.pattern_count += out.len();
        out
    }

    /// Words of a lexicon table, normalized like message text: each entry
    /// one word with no digit where `single` (a `[[rewrite]]` token or a
    /// `[[lemma]]` form), else one or more words.
    fn lexicon_words(
        &mut self,
        src: &Src<'_>,
        span: &std::ops::Range<usize>,
        raw: &[String],
        single: bool,
    ) -> Vec<Vec<String>> {
        let mut out = Vec::with_capacity(raw.len());
        for w in raw {
            let n = crate::normalize::normalize_phrase(w);
            let words: Vec<String> = n
                .split(|c: char| !c.is_alphanumeric())
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect();
            let bad = if words.is_empty() {
                Some("no words")
            } else if single && words.len() > 1 {
                Some("more than one word (a rewrite or lemma reads one written word)")
            } else if words.iter().any(|x| x.chars().any(|c| c.is_ascii_digit())) {
                Some("a digit (words with digits are kept as written)")
            } else {
                None
            };
            match bad {
                Some(why) => {
                    let at = src.key_offset(span, "words");
                    self.diagnostics
                        .push(src.diag(at, "E0008", format!("entry {w:?} has {why}")));
                }
                None => out.push(words),
            }
        }
        out
    }

    fn class(&mut self, src: &Src<'_>, span: std::ops::Range<usize>, r: RawClass) {
        let valid = !r.name.is_empty()
            && (r.name.chars()).all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "name"),
                "E0008",
                format!(
                    "invalid class name `{}`: use lower-case letters, digits and '-'",
                    r.name
                ),
            ));
            return;
        }
        if let Some(c) = self.set.classes.iter().find(|c| c.name == r.name) {
            let msg = format!(
                "duplicate class `{}`: first defined at {}:{}",
                r.name, c.origin.path, c.origin.line
            );
            self.diagnostics
                .push(src.diag(src.key_offset(&span, "name"), "E0003", msg));
            return;
        }
        let words = self.lexicon_words(src, &span, &r.words, false);
        self.set.classes.push(ClassDef {
            name: r.name,
            words,
            filler: r.filler,
            degree: r.degree,
            spanish: spanish_file(src.path),
            origin: Origin {
                path: src.path.to_string(),
                line: src.line_of(span.start),
            },
        });
    }

    /// `[[rewrite]]` (`lemma` false: read as one or more words) and
    /// `[[lemma]]` (read as one base word).
    fn read_as(&mut self, src: &Src<'_>, span: std::ops::Range<usize>, r: RawReadAs, lemma: bool) {
        let target = self.lexicon_words(src, &span, std::slice::from_ref(&r.read_as), lemma);
        let Some(target) = target.into_iter().next() else {
            return;
        };
        for w in self.lexicon_words(src, &span, &r.words, true) {
            let w = w.concat();
            if spanish_file(src.path) {
                self.set.spanish_read_as.insert(w.clone());
            }
            if lemma {
                self.set.lemmas.push((w, target.concat()));
            } else {
                self.set.rewrites.push((w, target.clone()));
            }
        }
    }

    fn weight(&mut self, src: &Src<'_>, span: &std::ops::Range<usize>, w: Option<f64>) -> f64 {
        match w {
            None => 0.5,
            Some(w) if (0.0..=1.0).contains(&w) => w,
            Some(w) => {
                let at = src.key_offset(span, "weight");
                self.diagnostics
                    .push(src.diag(at, "E0008", format!("weight {w} is outside 0..1")));
                0.5
            }
        }
    }

    fn tests(raw: Vec<RawTest>) -> Vec<RuleTest> {
        raw.into_iter()
            .map(|t| RuleTest {
                text: t.text,
                fires: t.fires,
                route: t.route,
            })
            .collect()
    }

    fn require_firing_test(
        &mut self,
        src: &Src<'_>,
        span: &std::ops::Range<usize>,
        id: &str,
        tests: &[RuleTest],
    ) {
        if !tests.iter().any(|t| t.fires) {
            self.diagnostics.push(src.diag(
                src.key_offset(span, "id"),
                "E0007",
                format!("`{id}` has no test that fires: add a [[...tests]] entry with a text it must match"),
            ));
        }
    }

    fn phrase_rule(&mut self, src: &Src<'_>, area: &str, span: std::ops::Range<usize>, r: RawRule) {
        if !self.claim_id(src, &span, &r.id, r.enabled) {
            return;
        }
        let phrases = self.phrases(src, &span, &r.phrases);
        let patterns = self.patterns(src, &span, &r.patterns);
        let words = self.word_patterns(src, &span, &r.words);
        if r.phrases.is_empty() && r.patterns.is_empty() && r.words.is_empty() {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "id"),
                "E0005",
                format!("`{}` has no phrases and no patterns", r.id),
            ));
        }
        let weight = self.weight(src, &span, r.weight);
        let tests = Self::tests(r.tests);
        self.require_firing_test(src, &span, &r.id, &tests);
        self.set.rules.push(RuleDef {
            id: r.id,
            kind: RuleKind::Phrase,
            area: area.to_string(),
            concept: r.concept,
            route: r.route,
            groups: r.groups,
            past_resolves: r.past_resolves,
            qualifier: r.qualifier,
            resolved_route: r.resolved_route,
            weight,
            advice: r.advice,
            phrases,
            compiled: patterns,
            words,
            measure: None,
            any: Vec::new(),
            all_conditions: Vec::new(),
            combo_all: Vec::new(),
            tests,
            origin: Origin {
                path: src.path.to_string(),
                line: src.line_of(span.start),
            },
        });
    }

    fn vital_rule(&mut self, src: &Src<'_>, area: &str, span: std::ops::Range<usize>, r: RawVital) {
        if !self.claim_id(src, &span, &r.id, r.enabled) {
            return;
        }
        if r.any.is_empty() && r.all.is_empty() {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "id"),
                "E0008",
                format!("`{}` has no conditions: give `any` or `all`", r.id),
            ));
        }
        for c in r.any.iter().chain(&r.all) {
            if let Err(msg) = c.validate(r.measure) {
                let key = if r.any.contains(c) { "any" } else { "all" };
                self.diagnostics
                    .push(src.diag(src.key_offset(&span, key), "E0008", msg));
            }
        }
        let weight = self.weight(src, &span, r.weight);
        let tests = Self::tests(r.tests);
        self.require_firing_test(src, &span, &r.id, &tests);
        self.set.rules.push(RuleDef {
            id: r.id,
            kind: RuleKind::Vital,
            area: area.to_string(),
            concept: r.concept,
            route: r.route,
            groups: r.groups,
            past_resolves: r.past_resolves,
            qualifier: false,
            resolved_route: r.resolved_route,
            weight,
            advice: r.advice,
            phrases: Vec::new(),
            compiled: Vec::new(),
            words: Vec::new(),
            measure: Some(r.measure),
            any: r.any,
            all_conditions: r.all,
            combo_all: Vec::new(),
            tests,
            origin: Origin {
                path: src.path.to_string(),
                line: src.line_of(span.start),
            },
        });
    }

    fn combo_rule(&mut self, src: &Src<'_>, area: &str, span: std::ops::Range<usize>, r: RawCombo) {
        if !self.claim_id(src, &span, &r.id, r.enabled) {
            return;
        }
        let combo_all: Vec<Vec<String>> = r
            .all
            .iter()
            .map(|entry| {
                entry
                    .split('|')
                    .map(|g| g.trim().to_string())
                    .filter(|g| !g.is_empty())
                    .collect()
            })
            .collect();
        if combo_all.len() < 2 || combo_all.iter().any(Vec::is_empty) {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "all"),
                "E0008",
                format!("`{}` needs at least two non-empty groups in `all`", r.id),
            ));
        }
        let weight = self.weight(src, &span, r.weight);
        let tests = Self::tests(r.tests);
        self.require_firing_test(src, &span, &r.id, &tests);
        self.set.rules.push(RuleDef {
            id: r.id,
            kind: RuleKind::Combo,
            area: area.to_string(),
            concept: r.concept,
            route: r.route,
            groups: r.groups,
            past_resolves: false,
            qualifier: false,
            resolved_route: None,
            weight,
            advice: r.advice,
            phrases: Vec::new(),
            compiled: Vec::new(),
            words: Vec::new(),
            measure: None,
            any: Vec::new(),
            all_conditions: Vec::new(),
            combo_all,
            tests,
            origin: Origin {
                path: src.path.to_string(),
                line: src.line_of(span.start),
            },
        });
    }

    fn cue(&mut self, src: &Src<'_>, span: std::ops::Range<usize>, r: RawCue) {
        if !self.claim_id(src, &span, &r.id, r.enabled) {
            return;
        }
        let phrases = self.phrases(src, &span, &r.phrases);
        let patterns = self.patterns(src, &span, &r.patterns);
        let words = self.word_patterns(src, &span, &r.words);
        if r.phrases.is_empty() && r.patterns.is_empty() && r.words.is_empty() {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "id"),
                "E0005",
                format!("`{}` has no phrases and no patterns", r.id),
            ));
        }
        if r.max_words > 1000 {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "max_words"),
                "E0008",
                "max_words above 1000 is not a scope",
            ));
        }
        self.set.cues.push(CueDef {
            id: r.id,
            category: r.category,
            direction: r.direction,
            scope: r.scope,
            max_words: r.max_words,
            terminated_by: r.terminated_by,
            requires: r.requires,
            unless: r.unless,
            phrases,
            compiled: patterns,
            words,
            tests: r
                .tests
                .into_iter()
                .map(|t| CueTest {
                    text: t.text,
                    target: t.target,
                    applies: t.applies,
                })
                .collect(),
            origin: Origin {
                path: src.path.to_string(),
                line: src.line_of(span.start),
            },
        });
    }

    fn phrase_list(
        &mut self,
        src: &Src<'_>,
        span: std::ops::Range<usize>,
        r: RawPhraseList,
    ) -> Option<PhraseListDef> {
        if !self.claim_id(src, &span, &r.id, r.enabled) {
            return None;
        }
        let _ = r.note;
        let phrases = self.phrases(src, &span, &r.phrases);
        let patterns = self.patterns(src, &span, &r.patterns);
        let words = self.word_patterns(src, &span, &r.words);
        Some(PhraseListDef {
            id: r.id,
            phrases,
            compiled: patterns,
            words,
            spanish: spanish_file(src.path),
        })
    }

    fn allow(&mut self, src: &Src<'_>, span: std::ops::Range<usize>, r: RawAllow) {
        if !crate::lint::ALLOWABLE.contains(&r.lint.as_str()) {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "lint"),
                "E0008",
                format!(
                    "`lint = \"{}\"` is not a warning code that can be allowed (W0001-W0008)",
                    r.lint
                ),
            ));
            return;
        }
        if r.reason.trim().is_empty() {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "reason"),
                "E0008",
                "an [[allow]] needs a reason: say why the warning is intended",
            ));
            return;
        }
        if r.id.trim().is_empty() {
            self.diagnostics.push(src.diag(
                src.key_offset(&span, "id"),
                "E0008",
                "an [[allow]] needs the id of the rule, cue or list the warning names",
            ));
            return;
        }
        let phrases = self.phrases(src, &span, &r.phrases);
        // Not phrases the engine matches: do not count them against the limit.
        self.phrase_count -= phrases.len();
        self.set.allows.push(AllowDef {
            lint: r.lint,
            id: r.id,
            phrases,
            reason: r.reason.trim().to_string(),
            origin: Origin {
                path: src.path.to_string(),
                line: src.line_of(span.start),
            },
        });
    }

    fn finish(mut self) -> Result<RuleSet, Error> {
        if self.phrase_count > MAX_PHRASES {
            self.diagnostics.push(Diagnostic {
                severity: Severity::Error,
                path: String::from("<rule set>"),
                line: 1,
                column: 1,
                code: "E0011",
                message: format!(
                    "{} phrases exceed the limit of {MAX_PHRASES}",
                    self.phrase_count
                ),
                source_line: String::new(),
            });
        }
        if self.pattern_count > MAX_PATTERNS {
            self.diagnostics.push(Diagnostic {
                severity: Severity::Error,
                path: String::from("<rule set>"),
                line: 1,
                column: 1,
                code: "E0011",
                message: format!(
                    "{} patterns exceed the limit of {MAX_PATTERNS}",
                    self.pattern_count
                ),
                source_line: String::new(),
            });
        }
        if self.diagnostics.is_empty() {
            Ok(self.set)
        } else {
            self.diagnostics
                .sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
            Err(Error::with_diagnostics(ErrorKind::Rules, self.diagnostics))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::BUILTIN;
    use std::collections::BTreeSet;
    use std::path::Path;

    /// The `*.toml` files under `dir`, recursively, as `rules/...` names.
    fn rule_files(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                rule_files(root, &path, out);
            } else if path.extension().is_some_and(|x| x == "toml") {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.insert(format!("rules/{}", parts.join("/")));
            }
        }
    }

    /// The built-in list cannot drift from `rules/`: a rule file added
    /// there without being listed (it would silently not be compiled in),
    /// or a name listed twice, fails here. (A listed file that is missing
    /// does not compile: `include_str!`.)
    #[test]
    fn builtin_lists_every_rule_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut on_disk = BTreeSet::new();
        rule_files(&root, &root, &mut on_disk);
        let listed: BTreeSet<String> = BUILTIN.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(
            listed.len(),
            BUILTIN.len(),
            "a file is listed twice in BUILTIN"
        );
        let unlisted: Vec<&String> = on_disk.difference(&listed).collect();
        let missing: Vec<&String> = listed.difference(&on_disk).collect();
        assert!(
            unlisted.is_empty() && missing.is_empty(),
            "BUILTIN (src/rules.rs) and the rules/ directory differ: not listed: {unlisted:?}; \
             listed but not in rules/: {missing:?}"
        );
    }
}
