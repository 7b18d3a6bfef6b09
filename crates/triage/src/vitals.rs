//! Numbers patients send: blood pressure, glucose, temperature, oxygen
//! saturation, heart rate and weight gain.
//!
//! The readers (how a number is written) live here; the thresholds (what a
//! number means) live in `rules/vitals.toml`. Values that cannot be a real
//! reading ("10/10" pain, "11/25" dates, a temperature of 3) are ignored.

use crate::prefilter::Gated;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// What a reading measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// Fields `systolic` and `diastolic`, mmHg.
    BloodPressure,
    /// Field `mg_dl` (mmol/L readings are converted, x 18).
    Glucose,
    /// Field `fahrenheit` (Celsius readings are converted).
    Temperature,
    /// Field `percent` (SpO2).
    Oxygen,
    /// Field `bpm`.
    HeartRate,
    /// Fields `pounds` (kg are converted) and `days` (the period; 7 when the
    /// message gives none).
    WeightGain,
}

impl Measure {
    /// The fields a reading of this measure has.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Measure::BloodPressure => &["systolic", "diastolic"],
            Measure::Glucose => &["mg_dl"],
            Measure::Temperature => &["fahrenheit"],
            Measure::Oxygen => &["percent"],
            Measure::HeartRate => &["bpm"],
            Measure::WeightGain => &["pounds", "days"],
        }
    }
}

/// A threshold on one field of a reading, as written in `vitals.toml`:
/// `{ field = "systolic", at_least = 180 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The field the condition tests.
    pub field: String,
    /// Holds when the value is >= this.
    #[serde(default)]
    pub at_least: Option<f64>,
    /// Holds when the value is > this.
    #[serde(default)]
    pub above: Option<f64>,
    /// Holds when the value is < this.
    #[serde(default)]
    pub below: Option<f64>,
    /// Holds when the value is <= this.
    #[serde(default)]
    pub at_most: Option<f64>,
}

impl Condition {
    pub(crate) fn validate(&self, measure: Measure) -> Result<(), String> {
        if !measure.fields().contains(&self.field.as_str()) {
            return Err(format!(
                "unknown field `{}` for this measure; it has: {}",
                self.field,
                measure.fields().join(", ")
            ));
        }
        let bounds = [self.at_least, self.above, self.below, self.at_most];
        if bounds.iter().all(Option::is_none) {
            return Err(format!(
                "condition on `{}` has no bound: give at_least, above, below or at_most",
                self.field
            ));
        }
        if bounds.iter().flatten().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(format!(
                "condition on `{}` has an implausible bound",
                self.field
            ));
        }
        Ok(())
    }

    pub(crate) fn holds(&self, reading: &Reading) -> bool {
        let Some(v) = reading.get(&self.field) else {
            return false;
        };
        self.at_least.is_none_or(|t| v >= t)
            && self.above.is_none_or(|t| v > t)
            && self.below.is_none_or(|t| v < t)
            && self.at_most.is_none_or(|t| v <= t)
    }
}

/// A number read from a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// What it measures.
    pub measure: Measure,
    /// Field values, in the canonical units of [`Measure`].
    pub values: Vec<(&'static str, f64)>,
    /// Byte offset in the original text (normalized offsets inside the engine).
    pub start: usize,
    /// Byte offset just past the reading.
    pub end: usize,
}

impl Reading {
    /// The value of a field.
    pub fn get(&self, field: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(f, _)| *f == field)
            .map(|&(_, v)| v)
    }
}

/// The plausible values of one field of a reading: the readers keep a
/// number only inside this range (outside it is not a real reading: "10/10"
/// pain, an "11/25" date, a temperature of 3), and lint `W0006` warns about
/// a rule threshold outside it (met by every reading or by none). Both read
/// [`PLAUSIBLE`], so they cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plausible {
    pub(crate) measure: Measure,
    /// The field of the reading ([`Measure::fields`]).
    pub(crate) field: &'static str,
    /// The smallest value kept (itself excluded when `min_excluded`).
    pub(crate) min: f64,
    /// Whether `min` itself is not a reading (a gain of 0 pounds).
    pub(crate) min_excluded: bool,
    /// The largest value kept.
    pub(crate) max: f64,
    /// Where the range comes from, for the reader of this table.
    pub(crate) why: &'static str,
}

impl Plausible {
    /// Whether `v` is a value the readers keep.
    pub(crate) fn contains(&self, v: f64) -> bool {
        let above_min = if self.min_excluded {
            v > self.min
        } else {
            v >= self.min
        };
        above_min && v <= self.max
    }
}

const fn plausible(
    measure: Measure,
    field: &'static str,
    (min, min_excluded, max): (f64, bool, f64),
    why: &'static str,
) -> Plausible {
    Plausible {
        measure,
        field,
        min,
        min_excluded,
        max,
        why,
    }
}

const SYSTOLIC: Plausible = plausible(
    Measure::BloodPressure,
    "systolic",
    (60.0, false, 300.0),
    "mmHg; a pair is also kept only when systolic > diastolic",
);
const DIASTOLIC: Plausible = plausible(
    Measure::BloodPressure,
    "diastolic",
    (30.0, false, 200.0),
    "mmHg",
);
const MG_DL: Plausible = plausible(
    Measure::Glucose,
    "mg_dl",
    (10.0, false, 1500.0),
    "as written in mg/dL; mmol/L values (GLUCOSE_MMOL) convert to 18-1080",
);
const FAHRENHEIT: Plausible = plausible(
    Measure::Temperature,
    "fahrenheit",
    (93.0, false, 110.0),
    "after Celsius is converted (34-43.5 C is about 93.2-110.3 F)",
);
const PERCENT: Plausible = plausible(Measure::Oxygen, "percent", (50.0, false, 100.0), "SpO2");
const BPM: Plausible = plausible(
    Measure::HeartRate,
    "bpm",
    (20.0, false, 260.0),
    "beats a minute",
);
const POUNDS: Plausible = plausible(
    Measure::WeightGain,
    "pounds",
    (0.0, true, 60.0),
    "a gain, after kg are converted (x 2.2); a loss or no change is not read",
);
const DAYS: Plausible = plausible(
    Measure::WeightGain,
    "days",
    (1.0, false, 9.0),
    "the period: one digit or a word (\"in 3 days\", \"this week\"), else 7",
);

/// Every field's plausible values: what the readers keep, what `W0006`
/// checks thresholds against.
pub(crate) const PLAUSIBLE: &[Plausible] = &[
    SYSTOLIC, DIASTOLIC, MG_DL, FAHRENHEIT, PERCENT, BPM, POUNDS, DAYS,
];

/// The plausible values of `field` of `measure` (None for a field the
/// measure does not have).
pub(crate) fn plausible_range(measure: Measure, field: &str) -> Option<&'static Plausible> {
    PLAUSIBLE
        .iter()
        .find(|p| p.measure == measure && p.field == field)
}

/// Glucose written in mmol/L (converted x 18 into [`MG_DL`]).
const GLUCOSE_MMOL: (f64, f64) = (1.0, 60.0);
/// A bare temperature in this range is read as Celsius.
const CELSIUS_GUESS: (f64, f64) = (34.0, 43.5);
/// A number without a unit that continues a glucose reading ("it's been
/// 280-310 since lunch"): narrower than [`MG_DL`], as the keyword is far.
const GLUCOSE_AGAIN: (f64, f64) = (20.0, 800.0);

/// The compiled readers.
#[derive(Debug)]
pub(crate) struct Readers {
    bp: Gated,
    glucose_kw: Gated,
    glucose_unit: Gated,
    glucose_device: Gated,
    /// "... it's been 280-310 since lunch": a later number that
    /// continues a glucose reading.
    glucose_again: Gated,
    temp_kw: Gated,
    temp_unit: Gated,
    temp_site: Gated,
    temp_verb: Gated,
    spo2_kw: Gated,
    spo2_after: Gated,
    hr_kw: Gated,
    hr_unit: Gated,
    weight: Gated,
    weight_from_to: Gated,
    /// Two weights, the later larger: "I was 81.2 kg on Sunday and
    /// 84.0 kg today".
    weight_pair: Gated,
    period: Gated,
    /// Cheap gate: a message without digits has no readings.
    any_digit: Regex,
    /// The gates of the patterns above, found in one pass (see
    /// [`Readers::gates`]).
    gate: ReaderGate,
}

/// One automaton over every required literal of the reader patterns: which
/// patterns can match a text, in one pass over it.
struct ReaderGate {
    automaton: Option<daachorse::DoubleArrayAhoCorasick<u32>>,
    /// For each literal (the automaton's value), the (pattern index, set
    /// bit) pairs it counts for.
    targets: Vec<Vec<(u8, u8)>>,
    /// For each pattern index, the bits of all its sets.
    full: Vec<u8>,
    /// Patterns without a set: they always run.
    always: u32,
}

impl std::fmt::Debug for ReaderGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderGate")
            .field("literals", &self.targets.len())
            .field("always", &self.always)
            .finish()
    }
}

impl ReaderGate {
    fn new(gated: &[&Gated]) -> ReaderGate {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut targets: Vec<Vec<(u8, u8)>> = Vec::new();
        let mut index: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        let mut full = vec![0u8; gated.len()];
        let mut always = 0u32;
        for g in gated {
            let i = g.index() as usize;
            if g.sets().is_empty() {
                always |= 1 << i;
                continue;
            }
            full[i] = ((1u16 << g.sets().len()) - 1) as u8;
            for (bit, set) in g.sets().iter().enumerate() {
                for l in set {
                    let k = *index.entry(l.clone()).or_insert_with(|| {
                        literals.push(l.clone());
                        targets.push(Vec::new());
                        literals.len() - 1
                    });
                    targets[k].push((i as u8, 1 << bit));
                }
            }
        }
        let automaton = (!literals.is_empty()).then(|| {
            daachorse::DoubleArrayAhoCorasick::new(&literals)
                .expect("reader literals are fixed, distinct and non-empty")
        });
        ReaderGate {
            automaton,
            targets,
            full,
            always,
        }
    }
}

const NUM: &str = r"(\d{1,3}(?:\.\d+)?)";

impl Readers {
    pub fn new() -> Readers {
        let plain = |s: &str| {
            Regex::new(&crate::normalize::fast_pattern(s))
                .expect("reader patterns are fixed and tested")
        };
        let mut next = 0;
        let mut re = |s: &str| {
            next += 1;
            Gated::new(plain(s), next - 1)
        };
        let mut readers = Readers {
            bp: re(r"(\d{2,3}) ?(?:/ ?|over )(\d{2,3})"),
            glucose_kw: re(&format!(
                r"\b(?:blood sugars?|sugars?|sugr|suger|shugar|glucose|gluclose|bgl?|bs|cbg|fsbg|finger ?sticks?|dexcom|libre|cgm|meter|azucar|glucosa|glucemia|glicemia)\b[^\d\n!?;]{{0,30}}?{NUM}(s\b)?(?: ?(?:-|to) ?{NUM})?(?: ?(mg ?/ ?dl|mmol))?"
            )),
            glucose_unit: re(&format!(r"{NUM} ?(mg ?/ ?dl|mmol(?: ?/ ?l)?)\b")),
            glucose_again: re(
                r"\b(?:its been|it has been|it was|its still|its staying|its running|theyve been|they have been|they were|readings have been|numbers have been|been running|been staying|been)(?: (?:running|staying|sitting|hovering|stuck|still|now|up|at|around|about|between|over|like|consistently))* ?(\d{2,3})(?: ?(?:-|to) ?(\d{2,3}))?\b(/|\.\d| ?[a-z%]+)?",
            ),
            glucose_device: re(
                r"\b(\d{2,3}) on (?:my|his|her|the|our) (?:cgm|dexcom|libre|meter|monitor|glucometer|sensor)\b",
            ),
            temp_kw: re(&format!(
                r"\b(?:temp|temps|temperature|temprature|tempature|temperture|fever|fevers|feaver|fevr|fver|febrile|thermometer|tmax|spiked?|spiking|temperatura|fiebre|calentura)\b[^\d\n!?;]{{0,25}}?{NUM}(?: ?(?:-|to|a) ?{NUM})? ?(?:°|degrees?|deg|grados)? ?(f|c|fahrenheit|celsius|centigrados)?\b"
            )),
            // "hit 38.3", "running 101.2": generic verbs, so a decimal is required.
            temp_verb: re(
                r"\b(?:hit|reached|got up to|running|spiked to|went up to|up to)(?: a| at)? (\d{2,3}\.\d) ?(?:°|degrees?)? ?(f|c)?\b",
            ),
            temp_site: re(&format!(
                r"{NUM} ?(?:°|degrees?)? ?(f|c)? ?(?:rectal|rectally|orally|oral|axillary|temporal|under (?:the|his|her|my) (?:tongue|arm)|in (?:the|his|her|my) ear|on (?:the|his|her|my) forehead)\b"
            )),
            temp_unit: re(&format!(
                r"{NUM} ?(?:°|degrees?|deg) ?(f|c|fahrenheit|celsius)?\b|(\d{{2,3}}(?:\.\d)?) ?(f|c)\b"
            )),
            spo2_kw: re(
                r"\b(?:o2|oxygen|spo2|sp02|sao2|sats?|saturations?|satting|sating|pulse ?ox|pulse oximeter|oximeter|ox|finger monitor|finger thing|oxygen monitor|oxigeno|saturacion)\b[^\d\n!?;]{0,25}?(\d{2,3})(?: ?(?:-|to) ?(\d{2,3}))? ?(?:%|percent)?",
            ),
            spo2_after: re(r"(\d{2,3}) ?% ?(?:on room air|room air|ra|o2|oxygen|sat|sats|spo2)\b"),
            // Short fillers only: "hr department sent form 380" is not a
            // heart rate, "pulse was up to 140" is.
            hr_kw: re(
                r"\b(?:heart rate|heartrate|hr|pulse|rate|heart is (?:racing|beating|going)(?: at)?|heart racing(?: at)?|resting rate|pulso|frecuencia cardiaca)\b(?: ?(?:is|was|of|at|at rest|resting|today|=|:|been|reads|reading|keeps reading|esta en|de|en|running|around|about|up to|down to|over|under|in the|still|now|only|like|went up to|dropped to|bpm|has been|on my watch|says|said|shows|showed)){0,3} ?:? ?(\d{2,3})\b",
            ),
            hr_unit: re(r"(\d{2,3}) ?(?:bpm|beats)\b"),
            weight: re(&format!(
                r"\b(?:gained|gaind|gainned|gaining|gain|up|put on|went up)(?: about| almost| over| like| another)? {NUM} ?(lbs?|pounds?|kgs?|kilos?|kilograms?)\b|{NUM} ?(lbs?|pounds?|kgs?|kilos?|kilograms?) (?:weight )?(?:gain|gained|heavier|up|more|since|in the last|in the past|over the|this week|in a week|in (?:\d|two|three|four|five|six|seven) days|overnight|in a day|in one day)\b"
            )),
            weight_from_to: re(
                r"\bweight\b[^\d\n!?;]{0,20}?from (\d{2,3}(?:\.\d)?) to (\d{2,3}(?:\.\d)?)",
            ),
            weight_pair: re(
                r"\b(?:i was|i weighed|weighed|weigh|weight was|weight of|scale said|scale read|scale showed|at) (\d{2,3}(?:\.\d)?) ?(kg|kgs|kilos?|lbs?|pounds?)?\b([^.!?\d]{0,40}?)(?:and|but|,|now|then)[^.!?\d]{0,30}?\b(\d{2,3}(?:\.\d)?) ?(kg|kgs|kilos?|lbs?|pounds?)?\b",
            ),
            period: re(
                r"\b(overnight|since yesterday|from yesterday|than yesterday|in a day|in one day|in 1 day|in 24 ?h(?:ours|rs)?|since last night|today|this morning|in (\d|two|three|four|five|six|seven) days|this week|in a week|in one week|since last week|(?:over|in) the (?:last|past) (?:week|(\d|two|three|four|five|six|seven) days)|since (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
            ),
            any_digit: plain(r"\d"),
            gate: ReaderGate {
                automaton: None,
                targets: Vec::new(),
                full: Vec::new(),
                always: u32::MAX,
            },
        };
        readers.gate = ReaderGate::new(&readers.gated());
        readers
    }

    /// Which reader patterns can match `text` (each pattern's bit as its
    /// `Gated` numbers it): those all of whose required literal sets occur
    /// in it, found in one automaton pass.
    pub fn gates(&self, text: &str) -> u32 {
        let g = &self.gate;
        let Some(ac) = &g.automaton else {
            return g.always;
        };
        // Nothing is read from a text without digits (`read_with`).
        if !self.any_digit.is_match(text) {
            return 0;
        }
        let mut seen = [0u8; 32];
        let mut out = g.always;
        for m in ac.find_overlapping_iter(text) {
            for &(i, bit) in &g.targets[m.value() as usize] {
                let s = &mut seen[i as usize];
                *s |= bit;
                if *s == g.full[i as usize] {
                    out |= 1 << i;
                }
            }
        }
        out
    }

    fn gated(&self) -> [&Gated; 17] {
        [
            &self.bp,
            &self.glucose_kw,
            &self.glucose_unit,
            &self.glucose_device,
            &self.glucose_again,
            &self.temp_kw,
            &self.temp_unit,
            &self.temp_site,
            &self.temp_verb,
            &self.spo2_kw,
            &self.spo2_after,
            &self.hr_kw,
            &self.hr_unit,
            &self.weight,
            &self.weight_from_to,
            &self.weight_pair,
            &self.period,
        ]
    }

    /// [`Readers::gates`] found by searching each literal on its own: the
    /// oracle its automaton is tested against.
    #[cfg(test)]
    pub fn admitted(&self, text: &str) -> u32 {
        let has = |l: &Vec<u8>| text.as_bytes().windows(l.len()).any(|w| w == &l[..]);
        self.gated()
            .iter()
            .filter(|r| r.sets().iter().all(|set| set.iter().any(has)))
            .fold(0, |acc, r| acc | 1 << r.index())
    }

    /// [`Readers::read_with`] with a fresh work buffer.
    #[cfg(test)]
    pub fn read(&self, text: &str, g: u32, out: &mut Vec<Reading>) {
        self.read_with(text, g, out, &mut Vec::new());
    }

    /// Read every plausible reading in normalized text into `out`. `g` says
    /// which reader patterns can match (see [`Readers::gates`]). `open` is a work
    /// buffer, reused from call to call.
    pub fn read_with(&self, text: &str, g: u32, out: &mut Vec<Reading>, open: &mut Vec<usize>) {
        out.clear();
        if !self.any_digit.is_match(text) {
            return;
        }
        // A number is read whole: "99999" is not "999", "1.2.3" is nothing.
        let bytes = text.as_bytes();
        let glued = |r: &Reading| {
            let after = bytes.get(r.end).copied();
            let after2 = bytes.get(r.end + 1).copied();
            after.is_some_and(|b| b.is_ascii_digit())
                || (after == Some(b'.') && after2.is_some_and(|b| b.is_ascii_digit()))
        };
        self.read_bp(text, g, out);
        self.read_glucose(text, g, out);
        self.read_temperature(text, g, out);
        self.read_spo2(text, g, out);
        self.read_heart_rate(text, g, out);
        self.read_weight(text, g, out);
        // A reading's span is its words, without the spaces around them (a
        // trailing space would hide the clause break after it: "temp 103 but
        // denied").
        for r in out.iter_mut() {
            while r.end > r.start && bytes[r.end - 1].is_ascii_whitespace() {
                r.end -= 1;
            }
            while r.start < r.end && bytes[r.start].is_ascii_whitespace() {
                r.start += 1;
            }
        }
        // One reading per number: drop a reading inside another of the same
        // measure ("temp 39.4 c" is read by two patterns).
        out.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        // Kept readings move to the front, in order (`out[..kept]`). Those
        // that still reach the current start are `open`: only they can
        // contain it (readings come in start order), so the check stays
        // linear however many readings a text has.
        open.clear();
        let mut kept = 0;
        for i in 0..out.len() {
            let r = &out[i];
            open.retain(|&k| out[k].end > r.start);
            let inside = open.iter().any(|&k| {
                let k = &out[k];
                k.measure == r.measure && r.end <= k.end && k.values == r.values
            });
            if !inside {
                out.swap(kept, i);
                open.push(kept);
                kept += 1;
            }
        }
        out.truncate(kept);
        out.retain(|r| !glued(r));
    }

    fn read_bp(&self, text: &str, g: u32, out: &mut Vec<Reading>) {
        let bytes = text.as_bytes();
        for c in self.bp.captures_iter(text, g) {
            let (Some(m), Some(s), Some(d)) = (c.get(0), c.get(1), c.get(2)) else {
                continue;
            };
            // Not part of a longer number, date or ratio. A full stop after
            // the reading ends the sentence ("BP 200/125. Is that ok?"); a
            // decimal point followed by a digit does not.
            let before = m.start().checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(m.end()).copied();
            let after2 = bytes.get(m.end() + 1).copied();
            if before.is_some_and(|b| b.is_ascii_digit() || b == b'/' || b == b'.')
                || after.is_some_and(|b| b.is_ascii_digit() || b == b'/')
                || (after == Some(b'.') && after2.is_some_and(|b| b.is_ascii_digit()))
            {
                continue;
            }
            let (Ok(sys), Ok(dia)) = (s.as_str().parse::<f64>(), d.as_str().parse::<f64>()) else {
                continue;
            };
            if SYSTOLIC.contains(sys) && DIASTOLIC.contains(dia) && sys > dia {
                out.push(Reading {
                    measure: Measure::BloodPressure,
                    values: vec![("systolic", sys), ("diastolic", dia)],
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }

    fn read_glucose(&self, text: &str, g: u32, out: &mut Vec<Reading>) {
        let mut push = |v: f64, unit: Option<&str>, start: usize, end: usize| {
            // Without a unit: mg/dL (the usual unit here) unless the value
            // only makes sense in mmol/L (a decimal below 35, or below 20).
            let mmol = match unit {
                Some(u) if u.starts_with("mmol") => true,
                Some(_) => false,
                None => v < 20.0 || (v < 35.0 && v.fract() != 0.0),
            };
            // Whole mg/dL, rounded down, so the policy's pairs agree:
            // 16.7 mmol/L = 300 mg/dL, 3.0 mmol/L = 54 mg/dL.
            let mg = if mmol { (v * 18.0).floor() } else { v };
            let plausible = if mmol {
                (GLUCOSE_MMOL.0..=GLUCOSE_MMOL.1).contains(&v)
            } else {
                MG_DL.contains(v)
            };
            if plausible {
                out.push(Reading {
                    measure: Measure::Glucose,
                    values: vec![("mg_dl", mg)],
                    start,
                    end,
                });
            }
        };
        for c in self.glucose_kw.captures_iter(text, g) {
            let Some(m) = c.get(0) else { continue };
            let unit = c.get(5).map(|u| u.as_str());
            if let Some(v) = c.get(1).and_then(|v| v.as_str().parse::<f64>().ok()) {
                // "in the 40s" reads as the middle of the decade.
                let v = if c.get(2).is_some() { v + 5.0 } else { v };
                push(v, unit, m.start(), m.end());
            }
            if let Some(v) = c.get(3).and_then(|v| v.as_str().parse::<f64>().ok()) {
                push(v, unit, m.start(), m.end());
            }
        }
        each_value(&self.glucose_device, g, text, &[1], None, |v, _, s, e| {
            push(v, Some("mg/dl"), s, e)
        });
        each_value(&self.glucose_unit, g, text, &[1], Some(2), &mut push);
        // A number that continues a glucose reading shortly after it ("my
        // sugar keeps going over 250, it's been 280-310 since lunch"): whole
        // mg/dL values only, and not a time, a weight, a dose or a blood
        // pressure ("it's been 3 days", "it was 150/90").
        let Some(mut last_end) = out
            .iter()
            .filter(|r| r.measure == Measure::Glucose)
            .map(|r| r.end)
            .min()
        else {
            return;
        };
        const NOT_GLUCOSE: &[&str] = &[
            "day", "days", "hour", "hours", "hr", "hrs", "week", "weeks", "wk", "wks", "month",
            "months", "year", "years", "yr", "yrs", "minute", "minutes", "min", "mins", "second",
            "seconds", "sec", "secs", "times", "x", "%", "percent", "lb", "lbs", "pound", "pounds",
            "kg", "kgs", "kilo", "kilos", "unit", "units", "u", "am", "pm", "degree", "degrees",
            "f", "c", "dollar", "dollars", "bucks", "mg", "ml", "cc", "bpm", "beats", "over", "g",
            "grams", "gram", "oz", "carbs", "calories", "steps", "mph", "miles", "feet", "ft",
        ];
        for c in self.glucose_again.captures_iter(text, g) {
            let Some(m) = c.get(0) else { continue };
            if m.start() < last_end || m.start() > last_end + 160 {
                continue;
            }
            let next = c.get(3).map_or("", |n| n.as_str().trim());
            if next.starts_with('/') || next.starts_with('.') || NOT_GLUCOSE.contains(&next) {
                continue;
            }
            let end = c.get(2).or(c.get(1)).map_or(m.end(), |n| n.end());
            let mut any = false;
            for g in [1, 2] {
                let Some(v) = c.get(g).and_then(|v| v.as_str().parse::<f64>().ok()) else {
                    continue;
                };
                if (GLUCOSE_AGAIN.0..=GLUCOSE_AGAIN.1).contains(&v) {
                    out.push(Reading {
                        measure: Measure::Glucose,
                        values: vec![("mg_dl", v)],
                        start: m.start(),
                        end,
                    });
                    any = true;
                }
            }
            if any {
                last_end = end;
            }
        }
    }

    fn read_temperature(&self, text: &str, g: u32, out: &mut Vec<Reading>) {
        let mut push = |v: f64, unit: Option<&str>, start: usize, end: usize| {
            // Celsius converts rounded up to 0.1 F, so the policy's pairs
            // agree: 38 C = 100.4 F, 39.4 C = 103 F.
            let to_f = |c: f64| ((c * 9.0 / 5.0 + 32.0) * 10.0 - 1e-6).ceil() / 10.0;
            let f = match unit.and_then(|u| u.chars().next()) {
                Some('c') => to_f(v),
                Some(_) => v,
                None if (CELSIUS_GUESS.0..=CELSIUS_GUESS.1).contains(&v) => to_f(v),
                None => v,
            };
            if FAHRENHEIT.contains(f) {
                out.push(Reading {
                    measure: Measure::Temperature,
                    values: vec![("fahrenheit", (f * 10.0).round() / 10.0)],
                    start,
                    end,
                });
            }
        };
        each_value(&self.temp_kw, g, text, &[1, 2], Some(3), &mut push);
        each_value(&self.temp_verb, g, text, &[1], Some(2), &mut push);
        each_value(&self.temp_site, g, text, &[1], Some(2), &mut push);
        for c in self.temp_unit.captures_iter(text, g) {
            let Some(m) = c.get(0) else { continue };
            let (v, unit) = match (c.get(1), c.get(3)) {
                (Some(v), _) => (v, c.get(2)),
                (None, Some(v)) => (v, c.get(4)),
                _ => continue,
            };
            if let Ok(v) = v.as_str().parse::<f64>() {
                push(v, unit.map(|u| u.as_str()), m.start(), m.end());
            }
        }
    }

    fn read_spo2(&self, text: &str, g: u32, out: &mut Vec<Reading>) {
        let mut push = |v: f64, _: Option<&str>, start: usize, end: usize| {
            if PERCENT.contains(v) {
                out.push(Reading {
                    measure: Measure::Oxygen,
                    values: vec![("percent", v)],
                    start,
                    end,
                });
            }
        };
        each_value(&self.spo2_kw, g, text, &[1, 2], None, &mut push);
        each_value(&self.spo2_after, g, text, &[1], None, &mut push);
    }

    fn read_heart_rate(&self, text: &str, g: u32, out: &mut Vec<Reading>) {
        let spo2_numbers: Vec<(usize, usize)> = out
            .iter()
            .filter(|r| r.measure == Measure::Oxygen)
            .map(|r| (r.start, r.end))
            .collect();
        let mut push = |v: crate::prefilter::Group<'_>, start: usize, end: usize| {
            // "pulse ox 88" is oxygen, not heart rate.
            if spo2_numbers
                .iter()
                .any(|&(s, e)| v.start() >= s && v.end() <= e)
            {
                return;
            }
            if let Ok(n) = v.as_str().parse::<f64>() {
                if BPM.contains(n) {
                    out.push(Reading {
                        measure: Measure::HeartRate,
                        values: vec![("bpm", n)],
                        start,
                        end,
                    });
                }
            }
        };
        for c in self.hr_kw.captures_iter(text, g) {
            if let (Some(m), Some(v)) = (c.get(0), c.get(1)) {
                push(v, m.start(), m.end());
            }
        }
        for c in self.hr_unit.captures_iter(text, g) {
            if let (Some(m), Some(v)) = (c.get(0), c.get(1)) {
                push(v, m.start(), m.end());
            }
        }
    }

    fn days_after(&self, text: &str, g: u32, from: usize) -> f64 {
        let end = (from + 60).min(text.len());
        let end = (end..=text.len())
            .find(|&e| text.is_char_boundary(e))
            .unwrap_or(text.len());
        let Some(c) = self.period.captures(&text[from..end], g) else {
            return 7.0;
        };
        let word = |w: &str| match w {
            "two" => 2.0,
            "three" => 3.0,
            "four" => 4.0,
            "five" => 5.0,
            "six" => 6.0,
            "seven" => 7.0,
            n => n.parse().unwrap_or(7.0),
        };
        if let Some(n) = c.get(2).or_else(|| c.get(3)) {
            return word(n.as_str());
        }
        let p = c.get(1).map_or("", |m| m.as_str());
        if p.contains("week") {
            7.0
        } else if p.starts_with("since ") && !p.contains("yesterday") && !p.contains("night") {
            5.0
        } else {
            1.0
        }
    }

    fn read_weight(&self, text: &str, g: u32, out: &mut Vec<Reading>) {
        for c in self.weight.captures_iter(text, g) {
            let Some(m) = c.get(0) else { continue };
            let (v, unit) = match (c.get(1), c.get(3)) {
                (Some(v), _) => (v, c.get(2)),
                (None, Some(v)) => (v, c.get(4)),
                _ => continue,
            };
            let Ok(v) = v.as_str().parse::<f64>() else {
                continue;
            };
            // "lost 5 pounds since Monday" is not a gain.
            let mut from = m.start().saturating_sub(16);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let before = &text[from..m.start()];
            if ["lost", "lose", "down", "dropped", "losing"]
                .iter()
                .any(|w| before.contains(w))
            {
                continue;
            }
            let pounds = if unit.is_some_and(|u| u.as_str().starts_with('k')) {
                v * 2.2
            } else {
                v
            };
            if POUNDS.contains(pounds) {
                let days = self.days_after(text, g, m.end());
                out.push(Reading {
                    measure: Measure::WeightGain,
                    values: vec![("pounds", pounds), ("days", days)],
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
        for c in self.weight_pair.captures_iter(text, g) {
            let (Some(m), Some(a), Some(b)) = (c.get(0), c.get(1), c.get(4)) else {
                continue;
            };
            let unit = c.get(2).or(c.get(5)).map(|u| u.as_str());
            // Without a unit, only where the message speaks of weighing.
            if unit.is_none() && !(text.contains("weigh") || text.contains("scale")) {
                continue;
            }
            let (Ok(a), Ok(b)) = (a.as_str().parse::<f64>(), b.as_str().parse::<f64>()) else {
                continue;
            };
            let kg = unit.is_some_and(|u| u.starts_with('k'));
            let (lo, hi) = if kg { (25.0, 320.0) } else { (50.0, 700.0) };
            if !(lo..=hi).contains(&a) || !(lo..=hi).contains(&b) {
                continue;
            }
            let gain = (b - a) * if kg { 2.2 } else { 1.0 };
            if !POUNDS.contains(gain) {
                continue;
            }
            // How far apart: from the time words around the two readings
            // ("yesterday" ... "today": a day; "last tuesday", "a week ago",
            // or nothing said: a week).
            let between = c.get(3).map_or("", |g| g.as_str());
            let days = if ["yesterday", "last night", "24 hours", "24 hrs", "a day ago"]
                .iter()
                .any(|w| between.contains(w))
            {
                1.0
            } else {
                7.0
            };
            out.push(Reading {
                measure: Measure::WeightGain,
                values: vec![("pounds", (gain * 10.0).round() / 10.0), ("days", days)],
                start: m.start(),
                end: c.get(5).or(c.get(4)).map_or(m.end(), |e| e.end()),
            });
        }
        for c in self.weight_from_to.captures_iter(text, g) {
            let (Some(m), Some(a), Some(b)) = (c.get(0), c.get(1), c.get(2)) else {
                continue;
            };
            let (Ok(a), Ok(b)) = (a.as_str().parse::<f64>(), b.as_str().parse::<f64>()) else {
                continue;
            };
            let gain = b - a;
            if POUNDS.contains(gain) {
                let days = self.days_after(text, g, m.end());
                out.push(Reading {
                    measure: Measure::WeightGain,
                    values: vec![("pounds", gain), ("days", days)],
                    start: m.start(),
                    end: m.end(),
                });
            }
        }
    }
}

/// For each match of `re`: parse each capture group of `values` that
/// matched as a number and call `f(value, unit, match start, match end)`,
/// with the unit from capture group `unit` if given.
fn each_value(
    re: &Gated,
    g: u32,
    text: &str,
    values: &[usize],
    unit: Option<usize>,
    mut f: impl FnMut(f64, Option<&str>, usize, usize),
) {
    for c in re.captures_iter(text, g) {
        let Some(m) = c.get(0) else { continue };
        let u = unit.and_then(|g| c.get(g)).map(|u| u.as_str());
        for &g in values {
            if let Some(v) = c.get(g).and_then(|v| v.as_str().parse::<f64>().ok()) {
                f(v, u, m.start(), m.end());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Reading> {
        let mut out = Vec::new();
        let r = Readers::new();
        r.read(text, r.admitted(text), &mut out);
        out
    }

    fn one(text: &str, measure: Measure, field: &str) -> f64 {
        let r = of(text, measure);
        assert_eq!(r.len(), 1, "{text}: {r:?}");
        r[0].get(field).unwrap()
    }

    /// The readings of one measure in `text`.
    fn of(text: &str, measure: Measure) -> Vec<Reading> {
        read(text)
            .into_iter()
            .filter(|r| r.measure == measure)
            .collect()
    }

    /// A reader pattern is skipped when its gate says it cannot match: check
    /// that against every text the rule files test with, normalized, and
    /// the gate the readers' automaton computes.
    #[test]
    fn a_reader_gate_never_hides_a_match() {
        let set = crate::rules::RuleSet::builtin().unwrap();
        let readers = Readers::new();
        let mut checked = 0;
        for r in &set.rules {
            for t in &r.tests {
                let norm = crate::normalize::Normalized::new(&t.text);
                let n = norm.text.as_str();
                let admitted = readers.admitted(n);
                // A text without digits is not read at all.
                let expected = if readers.any_digit.is_match(n) {
                    admitted
                } else {
                    0
                };
                assert_eq!(readers.gates(n), expected, "{n:?}");
                for g in readers.gated() {
                    if g.re.is_match(n) {
                        checked += 1;
                        assert!(
                            admitted & (1 << g.index()) != 0,
                            "{:?} matches {n:?} but its gate is shut",
                            g.re.as_str()
                        );
                    }
                }
            }
        }
        assert!(checked > 100, "only {checked} reader matches checked");
    }

    /// The readers' own capture iteration (reused buffers) gives exactly
    /// what the regex crate's `captures_iter` gives, on every rule test
    /// text; and the patterns fit its limits.
    #[test]
    fn reader_captures_equal_the_regex_crates() {
        let set = crate::rules::RuleSet::builtin().unwrap();
        let readers = Readers::new();
        let spans = |c: &regex::Captures| -> Vec<Option<(usize, usize)>> {
            (0..c.len())
                .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                .collect()
        };
        for g in readers.gated() {
            let hir = regex_syntax::Parser::new().parse(g.re.as_str()).unwrap();
            assert!(
                hir.properties().minimum_len().unwrap_or(0) > 0,
                "{:?}",
                g.re.as_str()
            );
            assert!(g.re.captures_len() <= crate::prefilter::MAX_GROUPS);
        }
        let mut compared = 0;
        for r in &set.rules {
            for t in &r.tests {
                let n = crate::normalize::Normalized::new(&t.text).text;
                for g in readers.gated() {
                    let want: Vec<_> = g.re.captures_iter(&n).map(|c| spans(&c)).collect();
                    // Twice, and with a second iteration open at the same
                    // time: the buffers are shared per thread.
                    for _ in 0..2 {
                        let mut other = g.captures_iter(&n, u32::MAX);
                        let _ = other.next();
                        let got: Vec<Vec<Option<(usize, usize)>>> = g
                            .captures_iter(&n, u32::MAX)
                            .map(|c| {
                                (0..g.re.captures_len())
                                    .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                                    .collect()
                            })
                            .collect();
                        assert_eq!(got, want, "{:?} on {n:?}", g.re.as_str());
                    }
                    compared += want.len();
                }
            }
        }
        assert!(compared > 100, "only {compared} matches compared");
        // A closed gate: nothing.
        assert!(readers.bp.captures_iter("bp 120/80", 0).next().is_none());
    }

    #[test]
    fn weight_gain_from_two_readings() {
        let gains = |t: &str| {
            of(t, Measure::WeightGain)
                .iter()
                .map(|r| (r.get("pounds").unwrap(), r.get("days").unwrap()))
                .collect::<Vec<(f64, f64)>>()
        };
        assert_eq!(
            gains("i was 81.2 kg on sunday and 84.0 kg today"),
            [(6.2, 7.0)]
        );
        assert_eq!(gains("weighed 182 on monday, now 188"), [(6.0, 7.0)]);
        assert_eq!(gains("i was 180 lbs yesterday and 184 today"), [(4.0, 1.0)]);
        // A loss, other numbers, or no sign of weighing: nothing.
        assert!(gains("i was 188 lbs in may and 181 now").is_empty());
        assert!(gains("sugar was 150 yesterday and 180 today").is_empty());
        assert!(gains("i was 12 and now 14").is_empty());
    }

    #[test]
    fn glucose_continued_by_a_later_number() {
        let mg = |t: &str| {
            of(t, Measure::Glucose)
                .iter()
                .map(|r| r.get("mg_dl").unwrap())
                .collect::<Vec<f64>>()
        };
        assert_eq!(
            mg("my sugar keeps going over 250, its been 280-310 since lunch"),
            [250.0, 280.0, 310.0]
        );
        assert_eq!(
            mg("sugar was 45 at lunch and now its been 38 twice"),
            [45.0, 38.0]
        );
        for t in [
            "sugar was 250 yesterday. its been 3 days since my insulin",
            "sugar 180, it was 20 minutes after eating",
            "sugar 120 and my bp, it was 150/90",
            "sugar 300, its been 45 minutes",
            "its been 350 all day",
            "sugar 110. my weight, it has been 180 lbs",
        ] {
            let v = mg(t);
            assert!(v.len() <= 1, "{t}: {v:?}");
        }
    }

    #[test]
    fn blood_pressure_at_the_end_of_a_sentence() {
        // Found by the property tests: a full stop after the reading.
        for text in ["my bp is 200/125. is that ok?", "186/104.", "186/104. no."] {
            assert_eq!(of(text, Measure::BloodPressure).len(), 1, "{text}");
        }
        assert!(of("ratio 186/104.5", Measure::BloodPressure).is_empty());
    }

    #[test]
    fn blood_pressure_forms() {
        assert_eq!(
            one("bp 186/104 this am", Measure::BloodPressure, "systolic"),
            186.0
        );
        assert_eq!(
            one("bp 186 over 104", Measure::BloodPressure, "diastolic"),
            104.0
        );
        assert_eq!(
            one("190/ 120 mmhg", Measure::BloodPressure, "diastolic"),
            120.0
        );
        assert_eq!(
            one("it was 200/110mmhg", Measure::BloodPressure, "systolic"),
            200.0
        );
    }

    #[test]
    fn not_blood_pressure() {
        for t in [
            "pain 10/10",
            "appt on 11/25",
            "on 12/25/2024",
            "losartan hctz 100/25",
            "50/50 chance",
        ] {
            assert!(
                read(t).iter().all(|r| r.measure != Measure::BloodPressure),
                "{t}"
            );
        }
    }

    #[test]
    fn glucose_units() {
        assert_eq!(one("sugar 420 at lunch", Measure::Glucose, "mg_dl"), 420.0);
        assert_eq!(one("blood sugar 2.8 mmol", Measure::Glucose, "mg_dl"), 50.0);
        assert_eq!(one("glucose was 48 mg/dl", Measure::Glucose, "mg_dl"), 48.0);
        assert_eq!(one("sugars in the 40s", Measure::Glucose, "mg_dl"), 45.0);
        assert!(read("metformin 500 mg twice").is_empty());
        assert_eq!(one("sugar 32 and shaky", Measure::Glucose, "mg_dl"), 32.0);
        assert_eq!(one("52 on my cgm", Measure::Glucose, "mg_dl"), 52.0);
        assert_eq!(one("16.7 mmol/l", Measure::Glucose, "mg_dl"), 300.0);
        assert_eq!(one("3.0 mmol/l", Measure::Glucose, "mg_dl"), 54.0);
    }

    #[test]
    fn temperatures() {
        assert_eq!(one("fever 102", Measure::Temperature, "fahrenheit"), 102.0);
        assert_eq!(
            one("temp 39.4 c", Measure::Temperature, "fahrenheit"),
            103.0
        );
        assert_eq!(
            one("it was 101.2f", Measure::Temperature, "fahrenheit"),
            101.2
        );
        assert_eq!(
            one("103 degrees", Measure::Temperature, "fahrenheit"),
            103.0
        );
        assert!(read("fever for 3 days").is_empty());
        assert_eq!(
            one("it was 100.5 rectally", Measure::Temperature, "fahrenheit"),
            100.5
        );
        assert_eq!(
            one("temprature is 38.5", Measure::Temperature, "fahrenheit"),
            101.3
        );
        assert_eq!(
            one(
                "on chemo, hit 38.3 last night",
                Measure::Temperature,
                "fahrenheit"
            ),
            101.0
        );
        assert_eq!(
            one("39.4 °c this afternoon", Measure::Temperature, "fahrenheit"),
            103.0
        );
        assert_eq!(one("38 c", Measure::Temperature, "fahrenheit"), 100.4);
        assert!(
            read("my sugar hit 101")
                .iter()
                .all(|r| r.measure != Measure::Temperature)
        );
    }

    #[test]
    fn oxygen_and_heart_rate() {
        assert_eq!(one("pulse ox 88", Measure::Oxygen, "percent"), 88.0);
        assert!(
            read("pulse ox 88")
                .iter()
                .all(|r| r.measure != Measure::HeartRate)
        );
        assert_eq!(one("o2 sat is 91%", Measure::Oxygen, "percent"), 91.0);
        assert_eq!(one("hr 148 on my watch", Measure::HeartRate, "bpm"), 148.0);
        assert_eq!(one("heart rate 38", Measure::HeartRate, "bpm"), 38.0);
        assert_eq!(one("watch says 150 bpm", Measure::HeartRate, "bpm"), 150.0);
    }

    #[test]
    fn slicing_never_splits_a_character() {
        // The look-back before a weight gain once split the emoji.
        let t = "im dying here 😂 any update? up 3.2 lbs since yesterday. 😂😂😂 gained 5 lb";
        let r = read(t);
        assert!(r.iter().all(|r| r.measure == Measure::WeightGain));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn weight_gain_periods() {
        let r = read("gained 3 lbs since yesterday");
        assert_eq!(r[0].get("pounds"), Some(3.0));
        assert_eq!(r[0].get("days"), Some(1.0));
        let r = read("up 5 pounds this week");
        assert_eq!(r[0].get("days"), Some(7.0));
        let r = read("thats about 5 pounds since monday");
        assert_eq!(r[0].get("pounds"), Some(5.0));
        assert!(read("I lost 5 pounds since monday").is_empty());
        let r = read("weight went from 180 to 184 in two days");
        assert_eq!(r[0].get("pounds"), Some(4.0));
        assert_eq!(r[0].get("days"), Some(2.0));
    }

    #[test]
    fn one_plausible_range_per_field() {
        for m in [
            Measure::BloodPressure,
            Measure::Glucose,
            Measure::Temperature,
            Measure::Oxygen,
            Measure::HeartRate,
            Measure::WeightGain,
        ] {
            for f in m.fields() {
                let n = PLAUSIBLE
                    .iter()
                    .filter(|p| p.measure == m && p.field == *f)
                    .count();
                assert_eq!(n, 1, "{m:?} {f}");
            }
        }
        assert!(
            PLAUSIBLE
                .iter()
                .all(|p| p.measure.fields().contains(&p.field)
                    && p.min < p.max
                    && !p.why.is_empty())
        );
        // The unit ranges land inside the field's range.
        assert!(MG_DL.contains(GLUCOSE_MMOL.0 * 18.0) && MG_DL.contains(GLUCOSE_MMOL.1 * 18.0));
        assert!(MG_DL.contains(GLUCOSE_AGAIN.0) && MG_DL.contains(GLUCOSE_AGAIN.1));
    }

    #[test]
    fn readers_keep_only_plausible_values() {
        assert_eq!(one("bp 60/40", Measure::BloodPressure, "systolic"), 60.0);
        assert!(of("bp 59/40", Measure::BloodPressure).is_empty());
        assert_eq!(
            one("bp 300/200", Measure::BloodPressure, "diastolic"),
            200.0
        );
        assert!(of("bp 301/90", Measure::BloodPressure).is_empty());
        assert_eq!(one("temp 110", Measure::Temperature, "fahrenheit"), 110.0);
        assert!(of("temp 110.5", Measure::Temperature).is_empty());
        assert!(of("temp 43.5 c", Measure::Temperature).is_empty());
        assert_eq!(one("pulse 260", Measure::HeartRate, "bpm"), 260.0);
        assert!(of("pulse 261", Measure::HeartRate).is_empty());
        assert_eq!(one("gained 60 lbs", Measure::WeightGain, "pounds"), 60.0);
        assert!(of("gained 61 lbs", Measure::WeightGain).is_empty());
    }
}
