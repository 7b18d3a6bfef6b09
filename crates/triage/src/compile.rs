//! The rule compiler: a [`RuleSet`] in, the compiled rule set out.
//!
//! [`Compiled::new`] builds everything a scan reads and never changes after:
//! one automaton over every phrase and every pattern's required literals
//! (`prefilter`), the gates that decide which patterns run on a text, the
//! cue specs for the context assessor, and the group and combination tables
//! the decision reads. `scan` finds mentions with it; `decide` turns them
//! into a decision. The number readers gate themselves (`vitals`).

use crate::context::{self, CueSpec};
use crate::error::{Error, ErrorKind};
use crate::reading::{Lexicon, LexiconInput};
use crate::rules::spanish_file;
use crate::rules::{RuleKind, RuleSet};
use crate::vitals::Readers;
use crate::wordpat::WordPattern;
use regex::Regex;

/// The most gate and tail literals (see `prefilter`) the automaton takes
/// for rule patterns; at most 48 bytes each, a rule set adds at most about
/// 12 MB of literals to it (a pattern brings at most 256 gate literals and
/// 256 tail literals).
const MAX_GATE_LITERALS: usize = 256 << 10;

/// Who owns a phrase or pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Rule(u32),
    Cue(u32),
    Pseudo(u32),
    Terminator(u32),
}

impl Owner {
    /// The overlap class: pseudo phrases, then findings, then cues and
    /// terminators (see `scan`).
    #[inline]
    pub(crate) fn class(self) -> u8 {
        match self {
            Owner::Pseudo(_) => 0,
            Owner::Rule(_) => 1,
            Owner::Cue(_) | Owner::Terminator(_) => 2,
        }
    }
}

/// A pattern an automaton pattern gates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate {
    /// Index into `regexes` (or past it: a number reader).
    pub(crate) pattern: u32,
    /// The bit of the required set the literal belongs to; 0 for a
    /// literal of the pattern's tail (see `Compiled::tail`), which gates
    /// nothing but bounds where its matches end.
    pub(crate) bit: u8,
    /// The literal anchors the pattern's search windows (its first set, and
    /// the pattern is windowed).
    pub(crate) anchor: bool,
}

/// The phrase and literal automaton: a double-array Aho-Corasick (each
/// trie step one array lookup, 12 bytes a state: 2.8 MB for the default
/// rules' 197,000 states). Measured against the `aho-corasick` crate's
/// contiguous NFA on corpus messages: 12% fewer classify instructions.
/// Each pattern's value is its slot.
pub(crate) struct Automaton(pub(crate) daachorse::DoubleArrayAhoCorasick<u32>);

impl std::fmt::Debug for Automaton {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Automaton")
            .field("states", &self.0.num_states())
            .finish()
    }
}

#[derive(Debug)]
pub(crate) struct Compiled {
    /// How words are read (`reading`).
    pub(crate) lexicon: Lexicon,
    pub(crate) rules: RuleSet,
    /// One automaton for every phrase and every pattern's required
    /// literals (see `prefilter`): one pass over the text finds both.
    pub(crate) automaton: Option<Automaton>,
    /// For automaton pattern `p`, its owners are
    /// `owner_list[slots[p].0..slots[p + 1].0]` (a phrase may belong to
    /// several; a pattern's literal has none) and the patterns it gates are
    /// `gate_list[slots[p].1..slots[p + 1].1]`. Flat arrays: the pass
    /// looks them up for every match, and nested vectors cost a cache miss
    /// each (measured: 40% of the pass's own time).
    pub(crate) slots: Vec<(u32, u32)>,
    pub(crate) owner_list: Vec<Owner>,
    /// For each entry of `owner_list`, the words of the phrase (bit i: word
    /// i) that must follow a word of degree ("very confused"); 0 for none.
    pub(crate) owner_degree: Vec<u64>,
    pub(crate) gate_list: Vec<Gate>,
    pub(crate) regexes: Vec<(Regex, Owner)>,
    /// For each pattern, the bits of all its required sets: it runs when
    /// one literal of each set occurs.
    pub(crate) gate_full: Vec<u8>,
    /// Patterns with no provable required literal: they run on every text.
    pub(crate) ungated: Vec<u32>,
    /// For each rule pattern, how far a match reaches from a literal of its
    /// first required set (in bytes or in words), when bounded: it is
    /// searched only around them.
    pub(crate) reach: Vec<Option<crate::prefilter::Reach>>,
    /// For each rule pattern not searched in windows, when its matches end
    /// at most this many bytes after a literal of its tail set
    /// (`prefilter::tail_of`): its search stops there, and a text without
    /// such a literal is not searched.
    pub(crate) tail: Vec<Option<u32>>,
    pub(crate) cue_specs: Vec<CueSpec>,
    /// The largest `max_words` of any cue (how far to look for cues).
    pub(crate) cue_reach: u32,
    pub(crate) readers: Readers,
    /// Each rule's groups, as ids shared by every rule with the same group
    /// name (combinations compare ids, not strings).
    pub(crate) group_ids: Vec<Vec<u32>>,
    /// The combination rules, in rule order: the rule's index and, for each
    /// entry of `combo_all`, the ids of its alternatives (a name no rule
    /// carries has no id: it can never be met).
    pub(crate) combos: Vec<(u32, Vec<Vec<u32>>)>,
    /// For group id `g`, the combination entries it meets:
    /// `combo_entries[combo_slots[g]..combo_slots[g + 1]]`, as (index in
    /// `combos`, entry number counted over all combinations).
    pub(crate) combo_slots: Vec<u32>,
    pub(crate) combo_entries: Vec<(u32, u32)>,
    /// How many entries all combinations have together.
    pub(crate) combo_entry_count: u32,
    pub(crate) max_message_bytes: usize,
}

impl Compiled {
    /// Compile `rules` for an engine that reads a message in one piece up
    /// to `max` bytes (see [`Triage::with_max_message_bytes`]).
    ///
    /// [`Triage::with_max_message_bytes`]: crate::Triage::with_max_message_bytes
    pub(crate) fn new(rules: RuleSet, max: usize) -> Result<Compiled, Error> {
        // Automaton patterns: (bytes, owners, gated patterns), one per
        // distinct string.
        type Slot = (Vec<u8>, Vec<(Owner, u64)>, Vec<(u32, u8)>);
        let mut patterns: Vec<Slot> = Vec::new();
        let mut index: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        fn slot(
            index: &mut std::collections::HashMap<Vec<u8>, usize>,
            patterns: &mut Vec<Slot>,
            p: &[u8],
        ) -> usize {
            *index.entry(p.to_vec()).or_insert_with(|| {
                patterns.push((p.to_vec(), Vec::new(), Vec::new()));
                patterns.len() - 1
            })
        }
        // The reading tables, then every phrase and pattern, read the way
        // message text is read, with the rule, cue, pseudo or terminator it
        // belongs to.
        let lexicon = Lexicon::new(&lexicon_input(&rules));
        let sources = read_sources(&rules, &lexicon)?;
        let mut regexes: Vec<(Regex, Owner)> = Vec::new();
        let mut gated: Vec<(usize, Vec<crate::prefilter::LiteralSet>)> = Vec::new();
        let mut ungated: Vec<u32> = Vec::new();
        let mut gate_full: Vec<u8> = Vec::new();
        let mut reach: Vec<Option<crate::prefilter::Reach>> = Vec::new();
        let mut tail: Vec<Option<u32>> = Vec::new();
        let mut tails: Vec<(usize, crate::prefilter::LiteralSet)> = Vec::new();
        let mut gate_literals = 0usize;
        for (o, ps, res) in &sources {
            let o = *o;
            for (p, degree) in ps {
                let i = slot(&mut index, &mut patterns, p.as_bytes());
                patterns[i].1.push((o, *degree));
            }
            for re in res {
                let r = regexes.len();
                let crate::prefilter::PatternGate {
                    mut sets,
                    reach: windowed,
                    tail: mut tail_set,
                } = crate::prefilter::gate(re.as_str());
                // Past the budget, a pattern is not gated (it runs on every
                // text: slower, never wrong).
                gate_literals += sets.iter().map(Vec::len).sum::<usize>();
                gate_literals += tail_set.as_ref().map_or(0, |(t, _)| t.len());
                if gate_literals > MAX_GATE_LITERALS {
                    sets.clear();
                }
                if sets.is_empty() {
                    tail_set = None;
                }
                tail.push(tail_set.as_ref().map(|&(_, after)| after as u32));
                if let Some((set, _)) = tail_set {
                    tails.push((r, set));
                }
                gate_full.push(((1u16 << sets.len()) - 1) as u8);
                reach.push((!sets.is_empty()).then_some(windowed).flatten());
                if sets.is_empty() {
                    ungated.push(r as u32);
                } else {
                    gated.push((r, sets));
                }
                regexes.push((re.clone(), o));
            }
        }
        let readers = Readers::new();
        for (r, sets) in gated {
            for (bit, set) in sets.iter().enumerate() {
                for l in set {
                    let i = slot(&mut index, &mut patterns, l);
                    patterns[i].2.push((r as u32, 1 << bit));
                }
            }
        }
        // Tail literals: bit 0, which gates nothing (see `Gate::bit`).
        for (r, set) in tails {
            for l in &set {
                let i = slot(&mut index, &mut patterns, l);
                patterns[i].2.push((r as u32, 0));
            }
        }
        let mut phrases = Vec::with_capacity(patterns.len());
        let mut slots = Vec::with_capacity(patterns.len() + 1);
        let (mut owner_list, mut gate_list) = (Vec::new(), Vec::new());
        let mut owner_degree = Vec::new();
        for (p, o, g) in patterns {
            phrases.push(p);
            slots.push((owner_list.len() as u32, gate_list.len() as u32));
            owner_list.extend(o.iter().map(|&(o, _)| o));
            owner_degree.extend(o.iter().map(|&(_, d)| d));
            gate_list.extend(g.into_iter().map(|(r, bit)| Gate {
                pattern: r,
                bit,
                anchor: bit == 1 && reach.get(r as usize).is_some_and(Option::is_some),
            }));
        }
        slots.push((owner_list.len() as u32, gate_list.len() as u32));
        drop(index);
        let automaton = if phrases.is_empty() {
            None
        } else {
            Some(Automaton(
                daachorse::DoubleArrayAhoCorasickBuilder::new()
                    .build(&phrases)
                    .map_err(|e| Error::new(ErrorKind::Limit, format!("phrase automaton: {e}")))?,
            ))
        };
        let cue_specs: Vec<CueSpec> = rules
            .cues
            .iter()
            .map(|c| CueSpec {
                category: c.category,
                direction: c.direction,
                scope: c.scope,
                max_words: c.max_words,
                terminated_by: context::category_bits(&c.terminated_by),
                requires: context::category_bits(&c.requires),
                unless: context::category_bits(&c.unless),
            })
            .collect();
        let mut group_index: std::collections::HashMap<&str, u32> = Default::default();
        let group_ids: Vec<Vec<u32>> = (rules.rules.iter())
            .map(|r| {
                (r.groups.iter())
                    .map(|g| {
                        let next = group_index.len() as u32;
                        *group_index.entry(g.as_str()).or_insert(next)
                    })
                    .collect()
            })
            .collect();
        let combos: Vec<(u32, Vec<Vec<u32>>)> = (rules.rules.iter().enumerate())
            .filter(|(_, r)| r.kind == RuleKind::Combo)
            .map(|(i, r)| {
                let alts = (r.combo_all.iter())
                    .map(|alts| {
                        (alts.iter())
                            .filter_map(|a| group_index.get(a.as_str()).copied())
                            .collect()
                    })
                    .collect();
                (i as u32, alts)
            })
            .collect();
        let mut by_group: Vec<Vec<(u32, u32)>> = vec![Vec::new(); group_index.len()];
        let mut combo_entry_count = 0u32;
        for (k, (_, all)) in combos.iter().enumerate() {
            for alts in all {
                for &g in alts {
                    let e = (k as u32, combo_entry_count);
                    if !by_group[g as usize].contains(&e) {
                        by_group[g as usize].push(e);
                    }
                }
                combo_entry_count += 1;
            }
        }
        let mut combo_slots = Vec::with_capacity(by_group.len() + 1);
        let mut combo_entries = Vec::new();
        for list in by_group {
            combo_slots.push(combo_entries.len() as u32);
            combo_entries.extend(list);
        }
        combo_slots.push(combo_entries.len() as u32);
        drop(group_index);
        drop(sources);
        Ok(Compiled {
            lexicon,
            rules,
            group_ids,
            combos,
            combo_slots,
            combo_entries,
            combo_entry_count,
            automaton,
            slots,
            owner_list,
            owner_degree,
            gate_list,
            regexes,
            gate_full,
            ungated,
            reach,
            tail,
            cue_reach: cue_specs
                .iter()
                .map(|c: &CueSpec| c.max_words)
                .max()
                .unwrap_or(0),
            cue_specs,
            readers,
            max_message_bytes: max.max(1),
        })
    }
}

/// The lexicon tables of a rule set and its vocabulary: every word of its
/// phrases, class entries and word patterns.
pub(crate) fn lexicon_input(rules: &RuleSet) -> LexiconInput {
    let split = |p: &str| -> Vec<String> {
        p.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut input = LexiconInput {
        rewrites: rules.rewrites.clone(),
        lemmas: rules.lemmas.clone(),
        spanish_read_as: rules.spanish_read_as.iter().cloned().collect(),
        ..LexiconInput::default()
    };
    for c in &rules.classes {
        if c.filler {
            input.fillers.extend(c.words.iter().cloned());
        }
        if c.degree {
            input.degree.extend(c.words.iter().flatten().cloned());
        }
    }
    for c in rules.classes.iter().filter(|c| !c.filler) {
        for e in &c.words {
            input.phrases.push((e.clone(), c.spanish));
        }
    }
    let mut add = |phrases: &[String], words: &[String], es: bool| {
        for p in phrases {
            input.phrases.push((split(p), es));
        }
        for w in words {
            if let Ok(pat) = WordPattern::parse(w) {
                let literal: Vec<String> = pat.words().iter().map(|x| x.to_string()).collect();
                input.phrases.push((literal, es));
            }
        }
    };
    for r in &rules.rules {
        add(&r.phrases, &r.words, spanish_file(&r.origin.path));
    }
    for c in &rules.cues {
        add(&c.phrases, &c.words, spanish_file(&c.origin.path));
    }
    for p in rules.pseudos.iter().chain(&rules.terminators) {
        add(&p.phrases, &p.words, p.spanish);
    }
    input
}

/// One owner's phrases (as read) and patterns (byte patterns, then its
/// word patterns compiled over the reading).
/// A phrase is its reading and the mask of its words that follow a word of
/// degree (see `Lexicon::read_phrase`).
type Source = (Owner, Vec<(String, u64)>, Vec<Regex>);

fn read_sources(rules: &RuleSet, lexicon: &Lexicon) -> Result<Vec<Source>, Error> {
    // Class entries, as read.
    let mut classes: std::collections::HashMap<&str, Vec<Vec<String>>> = Default::default();
    for c in rules.classes.iter().filter(|c| !c.filler) {
        let entries = (c.words.iter())
            .map(|e| {
                e.iter()
                    .flat_map(|w| lexicon.read_word(w))
                    .collect::<Vec<String>>()
            })
            .filter(|e| !e.is_empty())
            .collect();
        classes.insert(c.name.as_str(), entries);
    }
    let mut diagnostics = Vec::new();
    let mut one = |owner: Owner,
                   id: &str,
                   origin: Option<&crate::rules::Origin>,
                   phrases: &[String],
                   compiled: &[Regex],
                   words: &[String]|
     -> Source {
        let mut read: Vec<(String, u64)> = Vec::with_capacity(phrases.len());
        for p in phrases {
            let (r, degree) = lexicon.read_phrase_with_degree(p);
            if r.is_empty() {
                continue;
            }
            // The same words with and without a degree: the plain phrase
            // already matches everything the other does.
            match read.iter_mut().find(|(q, _)| *q == r) {
                Some(e) => e.1 &= degree,
                None => read.push((r, degree)),
            }
        }
        let mut res = compiled.to_vec();
        for w in words {
            let compiled = WordPattern::parse(w).and_then(|pat| {
                pat.compile(&|x| lexicon.read_word(x), &|name| {
                    classes.get(name).cloned()
                })
            });
            let built = compiled.map_err(|e| format!("at column {}: {}", e.column + 1, e.message));
            // Word boundaries at both ends make the regex try the next
            // alternative when the first one stops inside a word.
            let built = built.and_then(|src| {
                regex::RegexBuilder::new(&format!("(?-u:\\b)(?:{src})(?-u:\\b)"))
                    .size_limit(crate::rules::REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| e.to_string().replace('\n', " "))
            });
            match built {
                Ok(re) => res.push(re),
                Err(msg) => diagnostics.push(crate::error::Diagnostic {
                    severity: crate::error::Severity::Error,
                    path: origin.map_or_else(|| String::from("<rule set>"), |o| o.path.clone()),
                    line: origin.map_or(1, |o| o.line),
                    column: 1,
                    code: "E0004",
                    message: format!("`{id}`: word pattern {w:?} {msg}"),
                    source_line: String::new(),
                }),
            }
        }
        (owner, read, res)
    };
    let mut out = Vec::new();
    for (i, r) in rules.rules.iter().enumerate() {
        let o = Owner::Rule(i as u32);
        out.push(one(
            o,
            &r.id,
            Some(&r.origin),
            &r.phrases,
            &r.compiled,
            &r.words,
        ));
    }
    for (i, c) in rules.cues.iter().enumerate() {
        let o = Owner::Cue(i as u32);
        out.push(one(
            o,
            &c.id,
            Some(&c.origin),
            &c.phrases,
            &c.compiled,
            &c.words,
        ));
    }
    for (i, p) in rules.pseudos.iter().enumerate() {
        let o = Owner::Pseudo(i as u32);
        out.push(one(o, &p.id, None, &p.phrases, &p.compiled, &p.words));
    }
    for (i, p) in rules.terminators.iter().enumerate() {
        let o = Owner::Terminator(i as u32);
        out.push(one(o, &p.id, None, &p.phrases, &p.compiled, &p.words));
    }
    if diagnostics.is_empty() {
        Ok(out)
    } else {
        Err(Error::with_diagnostics(ErrorKind::Rules, diagnostics))
    }
}
