//! The decision: the scan's mentions, their context applied, combinations
//! met, the route, score, advice and summary, each finding explained.
//!
//! When a mention counts, when it is suppressed and what it is reported as,
//! and when a past event counts as resolved are the context module's policy
//! (`Assessment::suppression`, `Assessment::resolves`,
//! `context::combination_resolves`); this module applies them.

use crate::compile::{Compiled, Owner};
use crate::context::{self, Assessment, CueUse, Experiencer, Temporality};
use crate::decision::{
    ADVICE_911, ADVICE_CALL, ADVICE_ROUTINE, Cause, Decision, Finding, Flag, Suppressed,
    SuppressedBy,
};
use crate::route::Route;
use crate::rules::RuleKind;
use crate::scan::Analysis;

impl Compiled {
    /// A cue hit as the public `CueUse`, located in the original text.
    fn cue_use(&self, an: &Analysis, original: &str, h: u32) -> CueUse {
        let hit = &an.hits[h as usize];
        let def = &self.rules.cues[hit.cue as usize];
        let (s, e) = an.norm.original_span(hit.start as usize, hit.end as usize);
        CueUse {
            id: def.id.clone(),
            category: def.category,
            text: original.get(s..e).unwrap_or("").to_string(),
            start: s,
            end: e,
            decides: Vec::new(),
        }
    }

    /// The public context of an assessment: its flags and deciding cues.
    pub(crate) fn build_context(
        &self,
        an: &Analysis,
        original: &str,
        a: &Assessment,
        past_resolves: bool,
        from: &mut Vec<u32>,
    ) -> crate::context::Context {
        let experiencer = if a.other.is_some() {
            Experiencer::Other
        } else {
            Experiencer::Patient
        };
        let third_person = a.third.is_some();
        // When it is over: the context module's policy.
        let resolved = a.resolves(past_resolves);
        let mut cues: Vec<CueUse> = Vec::new();
        from.clear(); // the hit behind each of `cues`
        for (h, aspect) in a.deciding() {
            match from.iter().position(|&x| x == h) {
                Some(i) => cues[i].decides.push(aspect),
                None => {
                    let mut u = self.cue_use(an, original, h);
                    u.decides.push(aspect);
                    cues.push(u);
                    from.push(h);
                }
            }
        }
        crate::context::Context {
            negated: a.negated.is_some(),
            temporality: a.temporality.map_or(Temporality::Recent, |(t, _)| t),
            experiencer,
            resolved,
            uncertain: a.uncertain.is_some(),
            third_person,
            cues,
        }
    }

    pub(crate) fn decide(
        &self,
        original: &str,
        an: &mut Analysis,
        flags: Vec<Flag>,
        w: &mut DecideWork,
    ) -> Decision {
        let c = self;
        // The readings go out with the decision as they are (offsets mapped
        // back to the original text below).
        let mut readings = std::mem::take(&mut an.scan.readings);
        let an = &*an;
        let (norm, layout, hits) = (&an.norm, &an.layout, &an.hits);
        let orig = |s: u32, e: u32| norm.original_span(s as usize, e as usize);
        let slice = |s: usize, e: usize| original.get(s..e).unwrap_or("").to_string();
        let cue_use = |h: u32| self.cue_use(an, original, h);
        let DecideWork {
            targets,
            groups,
            rule_of,
            parts,
            entry_met,
            entries_met,
            ready,
            order,
            rules_sorted,
            reach,
            from,
            seen,
            seen2,
            text,
        } = w;

        let mut findings: Vec<Finding> = Vec::new();
        // The rule behind each finding (index into the rule set).
        rule_of.clear();
        let mut suppressed: Vec<Suppressed> = Vec::new();
        // Groups earned by the counted findings (for combinations).
        groups.clear();

        for (k, pseudo) in &an.scan.shadowed {
            let Owner::Rule(r) = k.owner else { continue };
            let rule = &c.rules.rules[r as usize];
            let (s, e) = orig(k.start, k.end);
            let (ps, pe) = orig(pseudo.start, pseudo.end);
            let id = match pseudo.owner {
                Owner::Pseudo(p) => c.rules.pseudos[p as usize].id.clone(),
                _ => String::new(),
            };
            suppressed.push(Suppressed {
                rule: rule.id.clone(),
                concept: rule.concept.clone(),
                would_route: rule.route,
                start: s,
                end: e,
                text: slice(s, e),
                by: SuppressedBy::Idiom,
                cause: Cause {
                    id,
                    text: slice(ps, pe),
                    start: ps,
                    end: pe,
                },
            });
        }

        // Phrase and pattern findings, then vital readings.
        targets.clear();
        targets.extend(an.scan.triggers.iter().filter_map(|k| match k.owner {
            Owner::Rule(r) => Some((k.start, k.end, r)),
            _ => None,
        }));
        for reading in &readings {
            for (r, rule) in c.rules.rules.iter().enumerate() {
                if rule.kind != RuleKind::Vital || rule.measure != Some(reading.measure) {
                    continue;
                }
                let any = rule.any.is_empty() || rule.any.iter().any(|x| x.holds(reading));
                let all = rule.all_conditions.iter().all(|x| x.holds(reading));
                if any && all {
                    targets.push((reading.start as u32, reading.end as u32, r as u32));
                }
            }
        }

        for &(s, e, r) in targets.iter() {
            let rule = &c.rules.rules[r as usize];
            let a = context::assess(layout, &c.cue_specs, hits, c.cue_reach, s, e, reach);
            let (os, oe) = orig(s, e);
            let ctx = self.build_context(an, original, &a, rule.past_resolves, from);
            let resolved = ctx.resolved;
            // Which context suppresses a mention first, and as what, is the
            // context module's policy.
            if let Some((by, h)) = a.suppression(&c.cue_specs, hits) {
                suppressed.push(Suppressed {
                    rule: rule.id.clone(),
                    concept: rule.concept.clone(),
                    would_route: rule.route,
                    start: os,
                    end: oe,
                    text: slice(os, oe),
                    by,
                    cause: cue_use(h).into(),
                });
                continue;
            }
            let route = if resolved {
                rule.resolved_route.unwrap_or_else(|| rule.route.resolved())
            } else {
                rule.route
            };
            for &g in &c.group_ids[r as usize] {
                groups.push((g, findings.len()));
            }
            rule_of.push(r as usize);
            findings.push(Finding {
                rule: rule.id.clone(),
                concept: rule.concept.clone(),
                route,
                start: os,
                end: oe,
                text: slice(os, oe),
                context: ctx,
                because: Vec::new(),
                corrections: (an.corrections.iter())
                    .filter(|k| os <= k.start && k.end <= oe)
                    .cloned()
                    .collect(),
            });
        }

        // Combinations of groups earned by asserted, current findings.
        // Only a combination with every entry met by some earned group can
        // be complete: those are found from the groups, not by trying all.
        entry_met.clear();
        entry_met.resize(c.combo_entry_count as usize, false);
        entries_met.clear();
        entries_met.resize(c.combos.len(), 0);
        ready.clear();
        for &(g, _) in groups.iter() {
            let (a, b) = (c.combo_slots[g as usize], c.combo_slots[g as usize + 1]);
            for &(k, e) in &c.combo_entries[a as usize..b as usize] {
                if !std::mem::replace(&mut entry_met[e as usize], true) {
                    entries_met[k as usize] += 1;
                    if entries_met[k as usize] as usize == c.combos[k as usize].1.len() {
                        ready.push(k);
                    }
                }
            }
        }
        ready.sort_unstable();
        for &k in ready.iter() {
            let (ri, all) = &c.combos[k as usize];
            let (ri, rule) = (*ri as usize, &c.rules.rules[*ri as usize]);
            parts.clear();
            // Each entry is met by a finding (every entry of a ready
            // combination has one), distinct ones where possible (a finding
            // with two groups of the combination does not combine with
            // itself).
            for alts in all {
                let mut fits = groups.iter().filter(|&&(g, _)| alts.contains(&g));
                let first = fits.clone().next();
                if let Some(&(_, f)) = fits.find(|(_, f)| !parts.contains(f)).or(first) {
                    parts.push(f);
                }
            }
            parts.sort_unstable();
            parts.dedup();
            if parts.len() < 2 {
                continue; // one finding cannot combine with itself
            }
            let first = &findings[parts[0]];
            let because = parts.iter().map(|&i| findings[i].rule.clone()).collect();
            let other = parts
                .iter()
                .any(|&i| findings[i].context.experiencer == Experiencer::Other);
            let third_person = parts.iter().any(|&i| findings[i].context.third_person);
            // Resolved only when all of it has resolved (the context
            // module's policy).
            let resolved = context::combination_resolves(parts.iter().map(|&i| {
                let qualifier = c.rules.rules[rule_of[i]].qualifier;
                (qualifier, findings[i].context.resolved)
            }));
            rule_of.push(ri);
            findings.push(Finding {
                rule: rule.id.clone(),
                concept: rule.concept.clone(),
                route: if resolved {
                    rule.route.resolved()
                } else {
                    rule.route
                },
                start: first.start,
                end: first.end,
                text: first.text.clone(),
                context: crate::context::Context {
                    negated: false,
                    temporality: Temporality::Recent,
                    experiencer: if other {
                        Experiencer::Other
                    } else {
                        Experiencer::Patient
                    },
                    resolved,
                    uncertain: false,
                    third_person,
                    cues: Vec::new(),
                },
                because,
                corrections: Vec::new(),
            });
        }

        // Most severe first, then in text order (a stable sort: the same
        // order for the findings and for their rules).
        let severity = |a: &Finding, b: &Finding| (b.route, a.start).cmp(&(a.route, b.start));
        order.clear();
        order.extend(0..findings.len());
        order.sort_by(|&a, &b| severity(&findings[a], &findings[b]));
        rules_sorted.clear();
        rules_sorted.extend(order.iter().map(|&i| rule_of[i]));
        findings.sort_by(severity);
        suppressed.sort_by_key(|s| s.start);
        let route = findings.first().map_or(Route::NonUrgent, |f| f.route);
        let rule = |i: usize| &c.rules.rules[rules_sorted[i]];
        let score = score(route, &findings, |i| rule(i).weight, seen);
        let advice = advice(route, &findings, |i| rule(i).advice.as_deref(), seen, text);
        let summary = summary(route, &findings, &suppressed, seen, seen2, text);
        for r in &mut readings {
            (r.start, r.end) = orig(r.start as u32, r.end as u32);
        }
        Decision {
            route,
            score,
            findings,
            suppressed,
            readings,
            flags,
            advice,
            summary,
        }
    }
}

/// The decision's own buffers (what it returns is allocated fresh).
#[derive(Default)]
pub(crate) struct DecideWork {
    /// (start, end, rule) of each mention to assess.
    pub(crate) targets: Vec<(u32, u32, u32)>,
    /// Groups earned by the counted findings: (group id, finding).
    pub(crate) groups: Vec<(u32, usize)>,
    /// The rule behind each finding.
    pub(crate) rule_of: Vec<usize>,
    /// The findings of a combination.
    pub(crate) parts: Vec<usize>,
    /// Which combination entries the earned groups meet, how many entries
    /// of each combination are met, and the combinations with all met.
    pub(crate) entry_met: Vec<bool>,
    pub(crate) entries_met: Vec<u32>,
    pub(crate) ready: Vec<u32>,
    /// Findings in output order, and their rules.
    pub(crate) order: Vec<usize>,
    pub(crate) rules_sorted: Vec<usize>,
    /// For `context::assess` and `build_context`.
    pub(crate) reach: Vec<(u32, u32)>,
    pub(crate) from: Vec<u32>,
    /// For `score`, `advice` and `summary`.
    pub(crate) seen: Vec<usize>,
    seen2: Vec<usize>,
    /// For the advice and summary text.
    pub(crate) text: String,
}

/// Urgency in [0, 1]: the route sets the band (non-urgent [0, 0.3],
/// needs-call [0.4, 0.69], call-911 [0.7, 1]); the heaviest finding of that
/// route and the number of distinct findings place it inside the band.
fn score(
    route: Route,
    findings: &[Finding],
    weight: impl Fn(usize) -> f64,
    at_route: &mut Vec<usize>,
) -> f64 {
    let (base, width) = match route {
        Route::NonUrgent => (0.0, 0.3),
        Route::NeedsCall => (0.4, 0.29),
        Route::Call911 => (0.7, 0.3),
    };
    at_route.clear();
    at_route.extend((0..findings.len()).filter(|&i| findings[i].route == route));
    if at_route.is_empty() {
        return base;
    }
    let max_w = at_route.iter().map(|&i| weight(i)).fold(0.0_f64, f64::max);
    // Distinct rules among them.
    at_route.sort_unstable_by(|&a, &b| findings[a].rule.cmp(&findings[b].rule));
    at_route.dedup_by(|a, b| findings[*a].rule == findings[*b].rule);
    let breadth = 1.0 - 0.5_f64.powi(at_route.len() as i32 - 1);
    let s = base + width * (0.7 * max_w + 0.3 * breadth);
    (s * 1000.0).round() / 1000.0
}

fn advice<'a>(
    route: Route,
    findings: &[Finding],
    extra: impl Fn(usize) -> Option<&'a str>,
    used: &mut Vec<usize>,
    buf: &mut String,
) -> String {
    let out = buf;
    out.clear();
    out.push_str(match route {
        Route::Call911 => ADVICE_911,
        Route::NeedsCall => ADVICE_CALL,
        Route::NonUrgent => ADVICE_ROUTINE,
    });
    // The findings whose advice was added (a handful: a linear scan).
    used.clear();
    for i in 0..findings.len() {
        if let Some(a) = extra(i) {
            if !used.iter().any(|&j| extra(j) == Some(a)) {
                used.push(i);
                out.push(' ');
                out.push_str(a);
            }
        }
    }
    out.as_str().to_owned()
}

pub(crate) fn summary(
    route: Route,
    findings: &[Finding],
    suppressed: &[Suppressed],
    concepts: &mut Vec<usize>,
    items: &mut Vec<usize>,
    buf: &mut String,
) -> String {
    // Written into a reused buffer, then copied out at its final size: one
    // allocation instead of one per growth step.
    let out = buf;
    out.clear();
    out.push_str(route.as_str());
    // A handful of items each: a linear scan dedupes them faster than a
    // hash set, and without cloning. They are kept as indices.
    let key = |i: usize| {
        let f = &findings[i];
        (
            f.concept.as_str(),
            f.context.resolved,
            f.context.experiencer == Experiencer::Other || f.context.third_person,
        )
    };
    concepts.clear();
    for (i, f) in findings.iter().enumerate() {
        if f.route > Route::NonUrgent && !concepts.iter().any(|&j| key(j) == key(i)) {
            concepts.push(i);
        }
    }
    if concepts.is_empty() {
        out.push_str(": no urgent finding");
    } else {
        for (n, &i) in concepts.iter().enumerate() {
            let (concept, resolved, other) = key(i);
            out.push_str(if n == 0 { ": " } else { "; " });
            out.push_str(concept);
            if resolved {
                out.push_str(" (resolved)");
            }
            if other {
                out.push_str(" (someone else)");
            }
        }
    }
    if !suppressed.is_empty() {
        let item = |i: usize| {
            let x = &suppressed[i];
            (
                x.concept.as_str(),
                match x.by {
                    SuppressedBy::Negated => "negated",
                    SuppressedBy::Historical => "historical",
                    SuppressedBy::Hypothetical => "hypothetical",
                    SuppressedBy::Family => "family history",
                    SuppressedBy::Uncertain => "to be ruled out",
                    SuppressedBy::Idiom => "idiom",
                },
            )
        };
        items.clear();
        for i in 0..suppressed.len() {
            if !items.iter().any(|&j| item(j) == item(i)) {
                items.push(i);
            }
        }
        out.push_str(" | not counted: ");
        for (n, &i) in items.iter().enumerate() {
            let (concept, by) = item(i);
            if n > 0 {
                out.push_str("; ");
            }
            out.push_str(concept);
            out.push_str(" (");
            out.push_str(by);
            out.push(')');
        }
    }
    out.as_str().to_owned()
}
