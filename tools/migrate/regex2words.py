#!/usr/bin/env python3
"""Convert the built-in rules' byte regexes (`patterns`) into word patterns (`words`).

Issue 18: byte regexes remain only for numbers and units; every other regex is
re-expressed in the word-pattern grammar of docs/rules.md ("Word patterns").  This tool
parses each regex with the stdlib regex parser (re._parser), converts it when it
is word-structured, self-checks every conversion by sampling (regex -> word
pattern and word pattern -> regex), and can rewrite the rule files in place,
editing only the text of the `patterns = [...]` arrays.

Usage:
  regex2words.py report  [--rules DIR] [--out FILE]     convert + self-check, write the report
  regex2words.py rewrite --stemmer BIN [--rules DIR] [--out FILE]
                                                        the same, then rewrite the rule files
  regex2words.py one REGEX                              convert one regex, print the result
  regex2words.py stemmer-src                            print the Rust source of the Porter2 helper

Pass 2 (the engine reads words, stemmed): number idioms become `#`, small digit
ranges are listed as number words ([7-9] -> 7 | 8 | 9, at most 40), drug-suffix
classes become drug names; a regex kept in `patterns` (a numeric threshold, a
unit glued to a number, punctuation) gets its literal words in their read forms
(rewrites, fillers dropped, lemma, stem); filler words are dropped from word
patterns; converted patterns are appended to a table's existing `words`.

Python 3.11, stdlib only.
"""
from __future__ import annotations

import argparse
import glob
import itertools
import os
import random
import re
import sys
import tomllib
import unicodedata

from re import _parser as sre_parse  # noqa: the stdlib parser, AST of a regex
from re import _constants as C

MAXREP = C.MAXREPEAT
CAP = 40          # most alternatives one within-word expansion may produce
MAX_N = 8         # the grammar's repetition bound
LETTERS = set("abcdefghijklmnopqrstuvwxyz")
DIGITS = set("0123456789")


class Fail(Exception):
    """The regex cannot be converted faithfully; .reason says why."""

    def __init__(self, reason: str, glue: bool = False, idx: int = -1):
        super().__init__(reason)
        self.reason = reason
        self.glue = glue
        self.idx = idx  # for a glue failure: the index of the group to expand


class Ctx:
    """Per-pattern conversion state: what was approximated."""

    def __init__(self):
        self.approx: list[str] = []

    def note(self, what: str):
        if what not in self.approx:
            self.approx.append(what)


# ---------------------------------------------------------------- tokens
# A converted regex node is a list of alternatives; an alternative is a list
# of tokens:
#   ('S',)            a word separator (a space)
#   ('C', text)       letters inside a word
#   ('STAR',)         [a-z]* : any further letters (word prefix)
#   ('PLUS',)         [a-z]+ : one or more letters
#   ('GAP', k)        a bounded within-sentence gap, read as _{0,k}; absorbs separators
#   ('G', Grp)        a packed word-aligned group


class Grp:
    __slots__ = ("alts", "raw", "lead", "trail", "m", "n")

    def __init__(self, alts, raw, lead, trail, m, n):
        self.alts = alts      # alternatives with the lead/trail separator stripped
        self.raw = raw        # alternatives as the regex has them (for expansion)
        self.lead = lead      # every occurrence begins with a separator
        self.trail = trail    # every occurrence ends with a separator
        self.m = m
        self.n = n

    def copy(self, **kw):
        g = Grp(self.alts, self.raw, self.lead, self.trail, self.m, self.n)
        for k, v in kw.items():
            setattr(g, k, v)
        return g


def lead_of(alt):
    t = alt[0]
    if t[0] == "S":
        return True
    if t[0] == "G" and t[1].lead:
        return True if t[1].m >= 1 else "mixed"
    if t[0] == "GAP":
        return "mixed"
    return False


def trail_of(alt):
    t = alt[-1]
    if t[0] == "S":
        return True
    if t[0] == "G" and t[1].trail:
        return True if t[1].m >= 1 else "mixed"
    if t[0] == "GAP":
        return "mixed"
    return False


def strip(alt, lead, trail):
    alt = list(alt)
    if lead:
        if alt[0][0] == "S":
            alt = alt[1:]
        else:
            alt[0] = ("G", alt[0][1].copy(lead=False))
    if trail and alt:
        if alt[-1][0] == "S":
            alt = alt[:-1]
        else:
            alt[-1] = ("G", alt[-1][1].copy(trail=False))
    return alt


def pack(alts, ctx, m=1, n=1, loose=False):
    """Pack alternatives into one word-aligned group, or None."""
    nonempty = [a for a in alts if a]
    has_empty = len(nonempty) < len(alts)
    if not nonempty:
        return None
    leads = {lead_of(a) for a in nonempty}
    trails = {trail_of(a) for a in nonempty}
    if len(leads) != 1 or len(trails) != 1 or "mixed" in leads or "mixed" in trails:
        return None
    lead, trail = leads.pop(), trails.pop()
    if has_empty:
        if lead and trail:
            return None
        if not lead and not trail and not loose:
            return None
        m = 0
    stripped = [strip(a, lead, trail) for a in nonempty]
    for s in stripped:
        if not s:
            return None
        try:
            to_words(s, Ctx())
        except Fail:
            return None
    return Grp(stripped, alts, lead, trail, m, n)


# ---------------------------------------------------------------- expansion

def product(lists, cap=CAP):
    out = [[]]
    for alts in lists:
        out = [a + b for a in out for b in alts]
        out = dedupe(out)
        if len(out) > cap:
            raise Fail(f"within-word expansion over {cap} alternatives")
    return out


def dedupe(alts):
    seen, out = set(), []
    for a in alts:
        k = repr(a)
        if k not in seen:
            seen.add(k)
            out.append(a)
    return out


def expand_one(alt, idx):
    """Unpack the group at alt[idx] into its occurrences."""
    g = alt[idx][1]
    if g.n > 3:
        raise Fail("repetition inside a word")
    reps = []
    for k in range(g.m, g.n + 1):
        reps.extend(product([g.raw] * k))
    return [merge(alt[:idx] + r + alt[idx + 1:]) for r in dedupe(reps)]


def unglue(alt, depth=0):
    """Expand just the groups glued to letters, until the alternative reads as words."""
    try:
        to_words(alt, Ctx())
        return [alt]
    except Fail as e:
        if not e.glue:
            return [alt]
        if depth > 20:
            raise Fail("within-word expansion too deep")
        out = []
        for a in expand_one(alt, e.idx):
            out.extend(unglue(a, depth + 1))
            if len(out) > CAP:
                raise Fail(f"within-word expansion over {CAP} alternatives")
        return out


def expand_tokens(tokens):
    """All alternatives of a token list with every group unpacked."""
    parts = []
    for t in tokens:
        if t[0] == "G":
            g = t[1]
            body = []
            for r in g.raw:
                body.extend(expand_tokens(r))
            body = dedupe(body)
            if g.n > 3:
                raise Fail("repetition inside a word")
            reps = []
            for k in range(g.m, g.n + 1):
                reps.extend(product([body] * k))
            parts.append(dedupe(reps))
        else:
            parts.append([[t]])
    return product(parts)


# ---------------------------------------------------------------- regex AST -> tokens

def class_chars(items):
    """(negated, set of chars) of an IN node, ASCII view."""
    neg, chars = False, set()
    for op, av in items:
        if op is C.NEGATE:
            neg = True
        elif op is C.LITERAL:
            chars.add(chr(av))
        elif op is C.RANGE:
            lo, hi = av
            for c in range(lo, min(hi, 0x24F) + 1):
                chars.add(chr(c))
        elif op is C.CATEGORY:
            if av is C.CATEGORY_WORD:
                chars |= LETTERS | DIGITS | {"_"}
            elif av is C.CATEGORY_DIGIT:
                chars |= DIGITS
            elif av is C.CATEGORY_SPACE:
                chars |= {" ", "\t", "\n"}
            else:
                raise Fail("character category")
        else:
            raise Fail("character class")
    return neg, chars


def is_word_class(chars):
    return LETTERS <= chars and " " not in chars and not (chars - LETTERS - DIGITS - {"_"} - {chr(c) for c in range(0xC0, 0x250)})


def fold(c):
    """Accents folded as the engine's normalization does (ó -> o, ñ -> n)."""
    if ord(c) < 128:
        return c
    d = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
    return d if len(d) == 1 and d.isascii() else c


def conv_literal(c, ctx):
    c = fold(c)
    if c == " ":
        return [[("S",)]]
    if c in LETTERS:
        return [[("C", c)]]
    if c in DIGITS:
        return [[("C", c)]]  # a literal number word ("911", "2nd", "o2"), matched as written
    if c in ",'":
        return [[]]
    if c == "-":
        return [[("S",)]]  # a hyphen between letters is read as a space
    if ord(c) > 127:
        raise Fail("non-ASCII letter")
    raise Fail(f"punctuation {c!r}")


def conv_item(op, av, ctx):
    if op is C.LITERAL:
        return conv_literal(chr(av), ctx)
    if op is C.AT:
        if av is C.AT_BOUNDARY:
            return [[]]
        raise Fail("anchor")
    if op is C.IN:
        neg, chars = class_chars(av)
        if neg:
            raise Fail("negated class")
        if chars and chars <= DIGITS:
            # a digit range inside a number: the numbers it allows are listed as words
            # ("[7-9]" -> 7 | 8 | 9); more than CAP of them stays a byte regex (a threshold)
            return [[("C", c)] for c in sorted(chars)]
        if is_word_class(chars):
            raise Fail("single any-letter class")
        if chars <= {" ", ",", "-", "\t", "\n"} and " " in chars:
            return [[("S",)]]
        if len(chars) <= 6:
            chars = {fold(c) for c in chars}
        if chars <= LETTERS:
            return [[("C", c)] for c in sorted(chars)]
        if chars & DIGITS:
            raise Fail("numeric threshold")
        raise Fail("mixed character class")
    if op is C.BRANCH:
        alts = []
        for b in av[1]:
            alts.extend(conv_seq(b, ctx))
        alts = dedupe(alts)
        g = pack(alts, ctx)
        return [[("G", g)]] if g else alts
    if op is C.SUBPATTERN:
        group, add, dele, sub = av
        if add or dele:
            raise Fail("inline flags")
        return conv_seq(sub, ctx)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):
        return conv_repeat(av, ctx)
    if op in (C.ASSERT, C.ASSERT_NOT):
        raise Fail("lookaround")
    if op is C.ANY:
        raise Fail("dot")
    if op is C.NOT_LITERAL:
        raise Fail("negated class")
    raise Fail(f"construct {op}")


def conv_repeat(av, ctx):
    m, n, sub = av
    items = list(sub)
    if len(items) == 1:
        op, a = items[0]
        if op is C.IN or op is C.NOT_LITERAL:
            if op is C.NOT_LITERAL:
                neg, chars = True, {chr(a)}
            else:
                neg, chars = class_chars(a)
            if neg:
                # a bounded within-sentence gap: [^.!?\n]{0,N}
                if not chars & {".", "!", "?"}:
                    raise Fail("negated class")
                if n == MAXREP:
                    k = MAX_N
                else:
                    k = min(MAX_N, max(1, round(n / 6)))
                ctx.note(f"gap approximated ({n if n != MAXREP else 'unbounded'} chars -> _{{0,{k}}})")
                return [[("GAP", k)]]
            if chars & DIGITS and not chars & LETTERS:
                raise Fail("numeric threshold")
            if is_word_class(chars):
                if (m, n) == (0, 1):
                    ctx.note("an optional any-letter (apostrophe variant) dropped")
                    return [[]]
                if n != MAXREP and n < 20:
                    raise Fail("bounded letter class")
                return [[("STAR",)]] if m == 0 else [[("PLUS",)]]
            if " " in chars and chars <= {" ", ",", "-", "\t", "\n"}:
                if m == 0:
                    return [[], [("S",)]]
                return [[("S",)]]
            if chars & LETTERS and " " in chars:
                raise Fail("free-text class")
        if op is C.LITERAL and chr(a) in ",'":
            return [[]]
        if op is C.LITERAL and chr(a) == "-" and m == 0 and n == 1:
            return [[], [("S",)]]
    body = conv_seq(sub, ctx)
    if n == MAXREP:
        ctx.note("unbounded repetition capped at 8")
        n = MAX_N
    if n > MAX_N:
        ctx.note(f"repetition {{{m},{n}}} capped at {{{m},{MAX_N}}}")
        n = MAX_N
    if m > MAX_N:
        raise Fail("repetition over 8")
    if m == 1 and n == 1:
        return body
    if m == 0 and n == 1:
        alts = dedupe(body + [[]])
        g = pack(alts, ctx)
        return [[("G", g)]] if g else alts
    # general repetition: the body must be word-aligned
    g = pack(body, ctx)
    if g is None:
        if n <= 3:
            reps = []
            for k in range(m, n + 1):
                reps.extend(product([body] * k))
            return dedupe(reps)
        raise Fail("repetition of a non-word unit")
    if not g.lead and not g.trail:
        raise Fail("repetition without separators")
    return [[("G", g.copy(m=m if g.m else 0, n=n))]]


def is_space_item(op, av):
    return op is C.LITERAL and av == 32


def conv_seq(sub, ctx):
    """A sequence: split at literal spaces into regions, expand within regions."""
    items = list(sub)
    # `(?:X)? ?` : an optional group followed by an optional space reads as `(?:X )?`
    fixed = []
    i = 0
    while i < len(items):
        op, av = items[i]
        if (i + 1 < len(items) and op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] == 0 and av[1] == 1
                and items[i + 1][0] in (C.MAX_REPEAT, C.MIN_REPEAT)
                and items[i + 1][1][0] == 0 and items[i + 1][1][1] == 1
                and len(list(items[i + 1][1][2])) == 1 and is_space_item(*list(items[i + 1][1][2])[0])
                and not (len(list(av[2])) == 1 and list(av[2])[0][0] is C.LITERAL)):
            inner = sre_parse.SubPattern(sub.state, list(av[2]) + [(C.LITERAL, 32)])
            fixed.append((op, (0, 1, inner)))
            ctx.note("optional word followed by an optional space read as an optional word")
            i += 2
            continue
        fixed.append((op, av))
        i += 1
    items = fixed
    regions, cur = [], []
    for op, av in items:
        if is_space_item(op, av):
            regions.append(cur)
            cur = []
        else:
            cur.append((op, av))
    regions.append(cur)
    out = []
    for ri, region in enumerate(regions):
        if ri:
            out.append(("S",))
        parts = [conv_item(op, av, ctx) for op, av in region]
        alts = product(parts)
        alts = dedupe([x for a in alts for x in unglue(a)])
        if len(alts) > CAP:
            raise Fail(f"within-word expansion over {CAP} alternatives")
        alts = [merge(a) for a in alts]
        if len(alts) == 1:
            out.extend(alts[0])
            continue
        flanked = len(regions) > 1 and 0 < ri < len(regions) - 1
        pre, mid, suf = factor(alts)
        if pre or suf:
            g = pack(mid, ctx, loose=False)
            if g is not None:
                out.extend(pre + [("G", g)] + suf)
                continue
        g = pack(alts, ctx, loose=flanked)
        if g is None:
            if len(regions) == 1:
                return alts  # let the enclosing node decide
            for a in alts:
                to_words(a, Ctx())  # raises the real reason, if there is one
            raise Fail("inconsistent spacing in an alternation")
        if flanked and g.m == 0 and not g.lead and not g.trail:
            ctx.note("optional word between two spaces")
        out.append(("G", g))
    return [out]


def is_end_boundary(t):
    return t[0] in ("S", "GAP") or (t[0] == "G" and t[1].trail)


def is_start_boundary(t):
    return t[0] in ("S", "GAP") or (t[0] == "G" and t[1].lead)


def factor(alts):
    """Common leading/trailing tokens of the alternatives, cut at word boundaries."""
    def same(i, from_end=False):
        toks = set()
        for a in alts:
            if i >= len(a):
                return False
            toks.add(repr(a[-1 - i] if from_end else a[i]))
        return len(toks) == 1

    def cut_ok(a, i):  # a cut between a[i-1] and a[i]
        return (i > 0 and is_end_boundary(a[i - 1])) or (i < len(a) and is_start_boundary(a[i]))

    p = 0
    while same(p):
        p += 1
    while p > 0 and not all(cut_ok(a, p) for a in alts):
        p -= 1
    rest = [a[p:] for a in alts]
    q = 0
    while all(len(a) > q for a in rest) and same_list(rest, q):
        q += 1
    while q > 0 and not all(cut_ok(a, len(a) - q) for a in rest):
        q -= 1
    if p == 0 and q == 0:
        return [], alts, []
    mid = [a[:len(a) - q] for a in rest]
    return alts[0][:p], mid, (rest[0][len(rest[0]) - q:] if q else [])


def same_list(alts, i):
    return len({repr(a[-1 - i]) for a in alts}) == 1


def merge(alt):
    out = []
    for t in alt:
        if t[0] == "C" and out and out[-1][0] == "C":
            out[-1] = ("C", out[-1][1] + t[1])
        else:
            out.append(t)
    return out


# ---------------------------------------------------------------- tokens -> word AST
# word AST: ('w', text) | ('p', prefix) | ('any',) | ('rep', m, n, [alts of seqs]) ; a seq is a list


def flush(cur, items, ctx):
    if not cur:
        return
    text = "".join(t[1] for t in cur if t[0] == "C")
    kinds = [t[0] for t in cur]
    cs = [k == "C" for k in kinds]
    if all(cs):
        items.append(("w", text))
    elif kinds == ["PLUS"]:
        items.append(("any",))
    elif kinds[-1] in ("STAR", "PLUS") and all(cs[:-1]) and text:
        if kinds[-1] == "PLUS":
            ctx.note("word[a-z]+ read as prefix word*")
        items.append(("p", text))
    elif kinds == ["PLUS", "C"] and text == "s":
        ctx.note("[a-z]+s (a word ending in s) read as any word _")
        items.append(("any",))
    else:
        raise Fail("letter class inside a word (suffix match)")
    cur.clear()


def to_words(tokens, ctx):
    items, cur = [], []
    need_boundary = False
    last_g = -1
    for ti, t in enumerate(tokens):
        k = t[0]
        if k == "S":
            flush(cur, items, ctx)
            need_boundary = False
        elif k in ("C", "STAR", "PLUS"):
            if need_boundary:
                raise Fail("group glued to letters", glue=True, idx=last_g)
            cur.append(t)
        elif k == "GAP":
            flush(cur, items, ctx)
            items.append(("rep", 0, t[1], [[("any",)]]))
            need_boundary = False
        elif k == "G":
            g = t[1]
            if cur:
                if not g.lead:
                    raise Fail("group glued to letters", glue=True, idx=ti)
                flush(cur, items, ctx)
            elif need_boundary and not g.lead:
                raise Fail("group glued to group", glue=True, idx=last_g)
            alts = [to_words(a, ctx) for a in g.alts]
            items.append(("rep", g.m, g.n, alts))
            need_boundary = not g.trail
            last_g = ti
        else:
            raise Fail(f"token {k}")
    flush(cur, items, ctx)
    return items


# ---------------------------------------------------------------- render

def render_seq(seq):
    return " ".join(render_item(i) for i in seq)


def flatten_alts(alts):
    out = []
    for a in alts:
        if len(a) == 1 and a[0][0] == "rep" and a[0][1] == 1 and a[0][2] == 1:
            out.extend(flatten_alts(a[0][3]))
        else:
            out.append(a)
    return out


def render_item(it):
    k = it[0]
    if k == "w":
        return "#" if it[1] == NUM else it[1]
    if k == "p":
        return it[1] + "*"
    if k == "any":
        return "_"
    m, n, alts = it[1], it[2], flatten_alts(it[3])
    texts = []
    for a in alts:
        r = render_seq(a)
        if r not in texts:
            texts.append(r)
    single = len(alts) == 1 and len(alts[0]) == 1
    if single and alts[0][0] == ("any",):
        if (m, n) == (1, 1):
            return "_"
        return "_{%d,%d}" % (m, n)
    if (m, n) == (1, 1):
        if len(texts) == 1:
            return texts[0]
        return "(" + " | ".join(texts) + ")"
    if single and alts[0][0][0] == "w" and (m, n) == (0, 1):
        body = texts[0]
    else:
        body = "(" + " | ".join(texts) + ")"
    if (m, n) == (0, 1):
        return body + "?"
    return body + "{%d,%d}" % (m, n)


def convert(regex):
    """-> (word pattern, [approximations]) or raise Fail."""
    ctx = Ctx()
    regex = presub(regex, ctx)
    try:
        tree = sre_parse.parse(regex)
    except Exception as e:  # noqa: a regex Python cannot parse
        raise Fail(f"unparsable by Python ({e.__class__.__name__})")
    alts = conv_seq(tree, ctx)
    if len(alts) != 1:
        g = pack(alts, ctx)
        if g is None:
            raise Fail("inconsistent spacing at the top level")
        tokens = [("G", g)]
    else:
        tokens = alts[0]
    while tokens and tokens[0][0] == "S":
        tokens = tokens[1:]
    while tokens and tokens[-1][0] == "S":
        tokens = tokens[:-1]
    if tokens and tokens[0][0] == "G" and tokens[0][1].lead:
        tokens[0] = ("G", tokens[0][1].copy(lead=False))
    if tokens and tokens[-1][0] == "G" and tokens[-1][1].trail:
        tokens[-1] = ("G", tokens[-1][1].copy(trail=False))
    seq = to_words(tokens, ctx)
    if not seq:
        raise Fail("empty")
    if all(i[0] == "rep" and i[1] == 0 for i in seq):
        raise Fail("every item optional")
    text = render_seq(seq)
    parse_words(text)  # the rendering must parse back
    return text, ctx.approx


# ---------------------------------------------------------------- numbers and drug suffixes (pass 2)
# The word-pattern language has `#`: one number token ("12", "101.5", "180/110",
# "10mg", "2nd", "3am"). Before a regex is parsed, its "any number" idioms are
# replaced by the placeholder word NUM (rendered `#`); a regex whose digits are
# a threshold or a shape (`[2-9][0-9]`, `(?:19|20)\d\d`, `38\.\d`) keeps a digit
# construct and stays a byte regex (Fail "numeric threshold").

NUM = "qqnumqq"

NUM_IDIOMS = [
    (r"\d{1,2}(?::\d\d)?(?: ?(?:am|pm))?", NUM + "(?: (?:am|pm))?"),
    (r"\d[\d-]*", NUM),
    (r"[0-9]+", NUM), (r"\d+", NUM), (r"\d{1,2}", NUM), (r"[0-9]{1,2}", NUM), (r"\d{1,3}", NUM),
]

# Drug names for regexes that match a suffix (`[a-z]+cillin`): the word language has no
# suffix wildcard, so the suffix becomes the known names that end in it.
DRUGS = """
penicillin amoxicillin ampicillin dicloxacillin nafcillin oxacillin piperacillin
azithromycin erythromycin clarithromycin clindamycin vancomycin neomycin streptomycin
ciprofloxacin levofloxacin moxifloxacin ofloxacin
doxycycline minocycline tetracycline
cephalexin cefalexin cefdinir ceftriaxone cefuroxime cefazolin cefadroxil cefprozil cefpodoxime cefixime
lisinopril enalapril ramipril benazepril captopril quinapril fosinopril
fluconazole metronidazole ketoconazole omeprazole pantoprazole esomeprazole lansoprazole
trimethoprim
losartan valsartan irbesartan olmesartan candesartan telmisartan
atorvastatin simvastatin rosuvastatin pravastatin lovastatin
metoprolol atenolol propranolol nadolol bisoprolol
amlodipine nifedipine carbamazepine oxcarbazepine olanzapine quetiapine
adalimumab infliximab rituximab pembrolizumab
imatinib ibrutinib
lamotrigine
sertraline fluoxetine paroxetine duloxetine citalopram escitalopram
prednisone
""".split()

SUFFIX_FRAG = re.compile(r"\[a-z(?:0-9)?(?:à-ÿ)?\][*+]\(\?:([a-z0-9|*+\[\]\-à-ÿ]+)\)")


def expand_suffixes(regex, ctx):
    """`[a-z]+(?:cillin|mycin|...)` -> the known names that end so; Fail when the list is open-ended."""
    def rep(mt):
        frag = mt.group(0)
        alts = mt.group(1).split("|")
        if len(alts) > 20:
            # an open-ended "any drug-like word" (in|ol|il|ide|...): no finite list, and
            # any word `_` would over-match ("took my blood pressure twice")
            raise Fail("open-ended suffix class")
        rx = re.compile(frag)
        # a bare suffix ("cillin") is no word of its own
        plain = [a for a in alts if re.fullmatch(r"[a-z]+", a) and not any(d != a and d.endswith(a) for d in DRUGS)]
        names = [d for d in dict.fromkeys(DRUGS + plain) if rx.fullmatch(d)]
        if not names:
            raise Fail("suffix class with no known names")
        ctx.note("suffix class listed as drug names: " + frag)
        return "(?:" + "|".join(names) + ")"
    return SUFFIX_FRAG.sub(rep, regex)


def presub(regex, ctx):
    """Number idioms -> NUM, drug suffixes -> names; Fail when digits remain (a threshold)."""
    r = regex
    for a, b in NUM_IDIOMS:
        r = r.replace(a, b)
    # a lone \d between group delimiters: one digit, any value ("(?:a half|\d)", "\d(?: or \d)?")
    r = re.sub(r"(?<=[(|: ])\\d(?=[)|? ]|\(\?:)", NUM, r)
    if NUM + " ?" in r:
        r = r.replace(NUM + " ?", NUM + " ")
        ctx.note("a number glued to its unit (10min) is no longer matched: `#` then the unit word")
    r = expand_suffixes(r, ctx)
    if re.search(r"\\d\\d|\\d\{|\\d[*+]", r):
        raise Fail("numeric threshold")
    return r


# ---------------------------------------------------------------- word pattern grammar (self-check)

WTOK = re.compile(r"\s*(\(|\)|\||\?|\{\d*,\d+\}|_|#|[a-z0-9\u00e0-\u00ff]+\*?|<[a-z0-9-]+>)")


def parse_words(text):
    pos, toks = 0, []
    text = text.strip()
    while pos < len(text):
        mt = WTOK.match(text, pos)
        if not mt:
            raise ValueError(f"bad word pattern at {pos}: {text[pos:pos+20]!r}")
        toks.append(mt.group(1))
        pos = mt.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
    i = 0

    def seq():
        nonlocal i
        out = []
        while i < len(toks) and toks[i] not in (")", "|"):
            out.append(item())
        return out

    def item():
        nonlocal i
        t = toks[i]
        i += 1
        if t == "(":
            alts = [seq()]
            while toks[i] == "|":
                i += 1
                alts.append(seq())
            if toks[i] != ")":
                raise ValueError("unclosed group")
            i += 1
            node = ("rep", 1, 1, alts)
        elif t == "_":
            node = ("any",)
        elif t == "#":
            node = ("w", NUM)
        elif t.endswith("*"):
            node = ("p", t[:-1])
        elif t[0] in "({|)?":
            raise ValueError(f"unexpected {t}")
        else:
            node = ("w", t)
        if i < len(toks) and toks[i] == "?":
            i += 1
            node = ("rep", 0, 1, [[node]])
        elif i < len(toks) and toks[i].startswith("{"):
            a, b = toks[i][1:-1].split(",")
            i += 1
            m, n = int(a or 0), int(b)
            if not 0 <= m <= n <= MAX_N:
                raise ValueError("bad repetition")
            node = ("rep", m, n, [[node]])
        return node

    s = seq()
    if i != len(toks):
        raise ValueError("trailing tokens")
    return s


def words_to_regex(seq, lenient=False):
    """SPEC semantics without stemming/fillers: every word followed by `,? `.

    lenient: repetitions unbounded above (tells a length-only mismatch apart)."""
    def it(x):
        k = x[0]
        if k == "w":
            return re.escape(x[1]) + ",? "
        if k == "p":
            return re.escape(x[1]) + "[a-z0-9]*,? "
        if k == "any":
            return "[a-z0-9]+,? "
        m, n, alts = x[1], x[2], x[3]
        body = "(?:" + "|".join("".join(it(y) for y in a) for a in alts) + ")"
        if lenient and n > 1:
            return body + "{%d,}" % m
        return body + "{%d,%d}" % (m, n)
    return "".join(it(x) for x in seq)


def lenient_regex(regex):
    """The regex with its within-sentence gaps unbounded."""
    return re.sub(r"(\[\^[^\]]*\])\{\d*,\d+\}", r"\1*", regex)


def norm(s):
    s = "".join(fold(c) for c in s.lower()).replace("'", "").replace("-", " ")
    s = re.sub(r"\s*,[\s,]*", ", ", s)
    return re.sub(r"\s+", " ", s).strip().rstrip(",")


SAMPLE_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def rand_word(rng):
    return "".join(rng.choice("aeioustrnlcdhmp") for _ in range(rng.randint(2, 6)))


def gen_regex(sub, rng):
    out = []
    for op, av in sub:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.AT:
            pass
        elif op is C.IN:
            out.append(gen_class(av, rng))
        elif op is C.NOT_LITERAL:
            out.append(rng.choice("abcdefghij    "))
        elif op is C.BRANCH:
            out.append(gen_regex(rng.choice(av[1]), rng))
        elif op is C.SUBPATTERN:
            out.append(gen_regex(av[3], rng))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            m, n, s = av
            items = list(s)
            if n == MAXREP:
                hi = m + (6 if len(items) == 1 and items[0][0] is C.IN else 3)
            else:
                hi = n
            k = rng.randint(m, hi)
            if len(items) == 1 and items[0][0] is C.IN and class_chars(items[0][1])[0]:
                # a gap: words of about five letters
                txt = ""
                while len(txt) < k:
                    txt += " " + rand_word(rng)
                out.append((txt[:k].rstrip() + " ") if k else "")
            else:
                out.append("".join(gen_regex(s, rng) for _ in range(k)))
        else:
            raise ValueError(op)
    return "".join(out)


def gen_class(av, rng):
    neg, chars = class_chars(av)
    if neg:
        return rng.choice("abcdefghij   ")
    pool = sorted(c for c in chars if c.isascii() and (c.isalnum() or c in " ,-"))
    if LETTERS <= chars:
        pool = sorted(set(SAMPLE_LETTERS))
    return rng.choice(pool)


def gen_words(seq, rng):
    out = []
    for x in seq:
        k = x[0]
        if k == "w":
            out.append(x[1])
        elif k == "p":
            out.append(x[1] + "".join(rng.choice("aeinrst") for _ in range(rng.randint(0, 3))))
        elif k == "any":
            out.append(rand_word(rng))
        else:
            m, n, alts = x[1], x[2], x[3]
            for _ in range(rng.randint(m, n)):
                out.extend(gen_words(rng.choice(alts), rng))
    return out


def self_check(regex, wp, n=20, seed=18):
    """-> (forward mismatches, reverse mismatches): example strings.

    A mismatch explained only by a gap or repetition length is marked ' [length]'."""
    rng = random.Random(seed)
    regex = presub(regex, Ctx())
    rx = re.compile(regex)
    wrx = re.compile(words_to_regex(parse_words(wp)))
    wrx_len = re.compile(words_to_regex(parse_words(wp), lenient=True))
    rx_len = re.compile(lenient_regex(regex))
    fwd, rev = [], []
    tree = sre_parse.parse(regex)
    got, tries = 0, 0
    while got < n and tries < n * 20:
        tries += 1
        s = gen_regex(tree, rng)
        if not rx.fullmatch(s):
            continue
        got += 1
        t = norm(s)
        if not wrx.fullmatch(t + " "):
            fwd.append(t + (" [length]" if wrx_len.fullmatch(t + " ") else ""))
    seq = parse_words(wp)
    for _ in range(n):
        s = " ".join(gen_words(seq, rng))
        if not rx.fullmatch(s):
            rev.append(s + (" [length]" if rx_len.fullmatch(s) else ""))
    return dedupe_str(fwd), dedupe_str(rev)


def dedupe_str(xs):
    out = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


# ---------------------------------------------------------------- the reading (pass 2)
# The engine reads text word by word (crates/triage/src/reading.rs): rewrites,
# fillers deleted, lemma, then the Porter2 stem on -s/-ed/-ing words. A byte regex
# kept in `patterns` runs over that reading, so its literal words must be written
# in their read forms; filler words of word patterns are no-ops and are dropped.
# Porter2 comes from a helper program (stdin: a word a line, stdout: its stem):
# `regex2words.py stemmer-src` prints its Rust source (rust-stemmers, the engine's
# crate); pass the built binary with --stemmer.

STEMMER_SRC = """// Cargo.toml: [package] name = "stemhelper" ... [dependencies] rust-stemmers = "=1.2.0"
use std::io::BufRead;
fn main() {
    let s = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
    for line in std::io::stdin().lock().lines() {
        println!("{}", s.stem(line.unwrap().trim()));
    }
}
"""


class Reader:
    def __init__(self, rules_dir, stemmer):
        self.fillers, self.multi, self.rewrites, self.lemmas = set(), [], {}, {}
        for path in sorted(glob.glob(os.path.join(rules_dir, "*.toml"))):
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
            for c in doc.get("class", []):
                if c.get("filler"):
                    for w in c.get("words", []):
                        ws = norm(w).split()
                        if len(ws) == 1:
                            self.fillers.add(ws[0])
                        else:
                            self.multi.append(ws)
            for r in doc.get("rewrite", []):
                for w in r.get("words", []):
                    self.rewrites[w] = r["as"].split()
            for l in doc.get("lemma", []):
                for w in l.get("words", []):
                    self.lemmas[w] = l["as"]
        self.multi.sort(key=len, reverse=True)
        self.stemmer = stemmer
        self.cache = {}

    def stem(self, w):
        if w not in self.cache:
            import subprocess
            out = subprocess.run([self.stemmer], input=w + "\n", capture_output=True, text=True, check=True)
            self.cache[w] = out.stdout.strip()
        return self.cache[w]

    def canon(self, w):
        base = self.lemmas.get(w)
        if base == w:
            return w
        base = base or w
        if any(c.isdigit() for c in base):
            return base
        stem = self.stem(base)
        inflected = base.endswith(("s", "ed", "ing"))
        small = (stem == base or (base.endswith("e") and base[:-1] == stem)
                 or (base.endswith("y") and stem.endswith("i") and base[:-1] == stem[:-1]))
        return stem if inflected or small else base

    def read_word(self, w):
        if any(c.isdigit() for c in w):
            return [w]
        if w in self.fillers:
            return []
        if w in self.rewrites:
            return [self.canon(x) for x in self.rewrites[w] if x not in self.fillers]
        return [self.canon(w)]


OPT_LETTER = re.compile(r"(?<=[(|: ])([a-zà-ÿ]+)([a-zà-ÿ])\?(?=[)| ]|\\b)")


def read_regex(rx, reader):
    """A kept regex with its whole literal words written as the reading has them."""
    rx = OPT_LETTER.sub(lambda m: "(?:%s|%s%s)" % (m.group(1), m.group(1), m.group(2)), rx)
    out, i, n = [], 0, len(rx)
    glued = []  # per open group: is it glued to letters before it (a suffix group: soak(?:ed|ing))?
    while i < n:
        c = rx[i]
        if c == "\\":
            out.append(rx[i:i + 2])
            i += 2
            continue
        if c == "(":
            before = rx[:i]
            glued.append(bool(re.search(r"((?<!\\)[a-zà-ÿ]|\][*+?]?|[*+])$", before)) or any(glued))
        elif c == ")" and glued:
            glued.pop()
        if c == "[":
            j = rx.index("]", i + 2) + 1
            out.append(rx[i:j])
            i = j
            continue
        if c.isalpha() and c.islower():
            j = i
            while j < n and rx[j].isalpha() and rx[j].islower():
                j += 1
            word = rx[i:j]
            prev = rx[i - 1] if i else "("
            prev2 = rx[i - 2:i]
            nxt = rx[j] if j < n else ")"
            whole = (prev in "(|: " or prev2 == "\\b") and (nxt in ")| ,\\") and not any(glued)
            if not whole:
                out.append(word)
                i = j
                continue
            read = reader.read_word(word)
            if not read:  # a filler: gone from the reading, with one space
                if j < n and rx[j] == " ":
                    j += 1
                elif out and out[-1].endswith(" "):
                    out[-1] = out[-1][:-1]
                i = j
                continue
            out.append(" ".join(read))
            i = j
            continue
        out.append(c)
        i += 1
    new = "".join(out)
    re.compile(new)
    return new


def drop_fillers(wp, reader):
    """A word pattern without its filler words (read as nothing); None when unchanged or unparsable."""
    try:
        seq = parse_words(wp)
    except (ValueError, IndexError):
        return None
    changed = [False]

    def clean_seq(sq):
        words = [x for x in sq]
        out, k = [], 0
        while k < len(words):
            x = words[k]
            hit = None
            for mf in reader.multi:
                if all(k + t < len(words) and words[k + t] == ("w", mf[t]) for t in range(len(mf))):
                    hit = len(mf)
                    break
            if hit:
                k += hit
                changed[0] = True
                continue
            if x[0] == "w" and x[1] in reader.fillers:
                k += 1
                changed[0] = True
                continue
            if x[0] == "rep":
                alts = [clean_seq(a) for a in x[3]]
                empty = any(not a for a in alts)
                alts = [a for a in alts if a]
                uniq = []
                for a in alts:
                    if render_seq(a) not in [render_seq(u) for u in uniq]:
                        uniq.append(a)
                if not uniq:
                    changed[0] = True
                    k += 1
                    continue
                m = 0 if empty else x[1]
                if (x[2] > 1 and len(uniq) == 1 and len(uniq[0]) == 1 and uniq[0][0][0] == "rep"
                        and uniq[0][0][1:3] == (0, 1)):
                    # (a | filler){0,8}: the repeated group loses the alternative, not its `?`
                    uniq, m = [[("rep", 1, 1, uniq[0][0][3])]], 0
                if len(uniq) != len(x[3]) or m != x[1]:
                    changed[0] = True
                out.append(("rep", m, x[2], uniq))
                k += 1
                continue
            out.append(x)
            k += 1
        return out

    new = clean_seq(seq)
    if not changed[0] or not new or all(i[0] == "rep" and i[1] == 0 for i in new):
        return None
    return render_seq(new)


# ---------------------------------------------------------------- rule files

def scan_string(text, i):
    """End index (exclusive) of the TOML string starting at text[i]."""
    if text.startswith("'''", i) or text.startswith('"""', i):
        raise ValueError("multi-line strings are not supported in a patterns array")
    q = text[i]
    j = i + 1
    while j < len(text):
        c = text[j]
        if q == '"' and c == "\\":
            j += 2
            continue
        if c == q:
            return j + 1
        if c == "\n":
            break
        j += 1
    raise ValueError("unterminated string")


ARRAY_START = re.compile(r"(?m)^([ \t]*)patterns[ \t]*=[ \t]*\[")


def parse_array(text, start):
    """Elements of the array whose '[' is at text[start-1].

    -> (end index after ']', elements, multiline) where an element is
       dict(comments=[lines before it], token=string text, value=str, tail=comment after it on its line)
    """
    i = start
    elems, pending = [], []
    multiline = False
    while i < len(text):
        c = text[i]
        if c in " \t,":
            i += 1
        elif c == "\n":
            multiline = True
            i += 1
        elif c == "#":
            j = text.index("\n", i)
            comment = text[i:j]
            # a comment on the line of the previous element is its tail
            line_start = text.rfind("\n", 0, i) + 1
            if elems and text[line_start:i].strip() not in ("", ",") and elems[-1]["line"] == line_start:
                elems[-1]["tail"] = comment
            else:
                pending.append(comment)
            i = j
        elif c in "'\"":
            j = scan_string(text, i)
            tok = text[i:j]
            val = tomllib.loads("v = " + tok)["v"]
            elems.append({"comments": pending, "token": tok, "value": val, "tail": None,
                          "line": text.rfind("\n", 0, i) + 1})
            pending = []
            i = j
        elif c == "]":
            return i + 1, elems, multiline, pending
        else:
            raise ValueError(f"unexpected {c!r} in patterns array")
    raise ValueError("unterminated patterns array")


def lit(s):
    if "'" in s or "\n" in s:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "'" + s + "'"


def render_array(key, indent, elems, multiline, trailing_comments, words):
    """elements: dicts with token/comments/tail (+ 'was' for approximated words)."""
    if not multiline and not trailing_comments and all(not e["comments"] and not e["tail"] and not e.get("was") for e in elems):
        return f"{indent}{key} = [" + ", ".join(e["token"] for e in elems) + "]"
    lines = [f"{indent}{key} = ["]
    for e in elems:
        for c in e["comments"]:
            lines.append(f"{indent}  {c}")
        if e.get("was"):
            lines.append(f"{indent}  # regex: {e['was']}")
        line = f"{indent}  {e['token']},"
        if e["tail"]:
            line += "  " + e["tail"]
        lines.append(line)
    for c in trailing_comments:
        lines.append(f"{indent}  {c}")
    lines.append(f"{indent}]")
    return "\n".join(lines)


def rewrite_text(text, results):
    """Rewrite every patterns array; results maps a regex to (word pattern|None, approx)."""
    out, pos = [], 0
    for mt in ARRAY_START.finditer(text):
        if mt.start() < pos:
            continue
        indent = mt.group(1)
        end, elems, multiline, trailing = parse_array(text, mt.end())
        keep, conv = [], []
        for e in elems:
            wp, approx = results[e["value"]]
            if wp is None:
                keep.append(e)
            else:
                ne = dict(e)
                ne["token"] = lit(wp)
                if approx:
                    ne["was"] = e["token"]
                conv.append(ne)
        if not conv:
            continue
        out.append(text[pos:mt.start()])
        blocks = []
        if keep:
            blocks.append(render_array("patterns", indent, keep, multiline, trailing, False))
            trailing = []
        blocks.append(render_array("words", indent, conv, multiline, trailing, True))
        out.append("\n".join(blocks))
        pos = end
    out.append(text[pos:])
    return "".join(out)


LEXICON_KINDS = ("class", "rewrite", "lemma")
KEY_ARRAY = re.compile(r"(?m)^([ \t]*)(patterns|words)[ \t]*=[ \t]*\[")
HEADER = re.compile(r"(?m)^[ \t]*\[")


def rewrite_tables(text, results, kept_read, cleaned):
    """Pass 2: per table, convert `patterns` into `words` (appended to a `words` array the
    table already has), write kept regexes in read forms, drop filler words of word patterns."""
    starts = [m.start() for m in HEADER.finditer(text)] + [len(text)]
    out, pos = [text[:starts[0]]], starts[0]
    for a, b in zip(starts, starts[1:]):
        chunk = text[a:b]
        if re.match(r"\s*\[\[(class|rewrite|lemma)\]\]", chunk):
            out.append(chunk)  # lexicon tables: `words` there are entries, not patterns
            continue
        arrays = {}
        for mt in KEY_ARRAY.finditer(chunk):
            end, elems, multiline, trailing = parse_array(chunk, mt.end())
            arrays[mt.group(2)] = (mt.start(), end, mt.group(1), elems, multiline, trailing)
        if not arrays:
            out.append(chunk)
            continue
        keep, conv = [], []
        if "patterns" in arrays:
            for e in arrays["patterns"][3]:
                wp, approx = results[e["value"]]
                ne = dict(e)
                if wp is None:
                    ne["token"] = lit(kept_read[e["value"]])
                    keep.append(ne)
                else:
                    ne["token"] = lit(wp)
                    if approx:
                        ne["was"] = e["token"]
                    conv.append(ne)
        words = []
        if "words" in arrays:
            for e in arrays["words"][3]:
                ne = dict(e)
                if cleaned.get(e["value"]):
                    ne["token"] = lit(cleaned[e["value"]])
                words.append(ne)
        words += conv
        edits = []  # (start, end, replacement)
        if "patterns" in arrays:
            st, en, ind, _e, ml, tr = arrays["patterns"]
            rep = render_array("patterns", ind, keep, ml, tr if keep else [], False) if keep else None
            if "words" not in arrays and words:
                wtr = tr if not keep else []
                wrep = render_array("words", ind, words, ml, wtr, True)
                rep = wrep if rep is None else rep + "\n" + wrep
            edits.append((st, en, rep))
        if "words" in arrays and (conv or any(cleaned.get(e["value"]) for e in arrays["words"][3])):
            st, en, ind, _e, ml, tr = arrays["words"]
            edits.append((st, en, render_array("words", ind, words, ml or bool(conv), tr, True)))
        edits.sort()
        cur, piece = 0, []
        for st, en, rep in edits:
            piece.append(chunk[cur:st])
            if rep is None:
                # drop the line of the removed array
                en2 = en + 1 if chunk[en:en + 1] == "\n" else en
                piece.append("")
                cur = en2
            else:
                piece.append(rep)
                cur = en
        piece.append(chunk[cur:])
        out.append("".join(piece))
    return "".join(out)



def table_patterns(doc):
    """[(table kind, index, id, patterns list, words list, other keys)] in file order."""
    rows = []
    for k, v in doc.items():
        if isinstance(v, list):
            for idx, t in enumerate(v):
                if isinstance(t, dict):
                    rows.append((k, idx, t.get("id"), t.get("patterns", []), t.get("words", []),
                                 {kk: vv for kk, vv in t.items() if kk not in ("patterns", "words")}))
    return rows


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["report", "rewrite", "one", "stemmer-src"])
    ap.add_argument("--stemmer", default=None, help="Porter2 helper program (rewrite)")
    ap.add_argument("regex", nargs="?")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--rules", default=os.path.normpath(os.path.join(here, "../../crates/triage/rules")))
    ap.add_argument("--out", default=None, help="report file (markdown)")
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()

    if args.cmd == "stemmer-src":
        print(STEMMER_SRC)
        return
    if args.cmd == "one":
        try:
            wp, approx = convert(args.regex)
            print(wp)
            for a in approx:
                print("  approximated:", a)
            f, r = self_check(args.regex, wp, args.samples)
            for s in f:
                print("  regex sample not accepted:", s)
            for s in r:
                print("  word sample not matched by the regex:", s)
        except Fail as e:
            print("kept:", e.reason)
        return

    files = sorted(glob.glob(os.path.join(args.rules, "*.toml")))
    report = Report(args.samples)
    results_by_file = {}
    for path in files:
        name = os.path.basename(path)
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
        results = {}
        for kind, idx, tid, pats, _w, _o in table_patterns(doc):
            for p in pats:
                if p in results:
                    res = results[p]
                else:
                    try:
                        wp, approx = convert(p)
                        fwd, rev = self_check(p, wp, args.samples)
                        res = (wp, approx, fwd, rev, None)
                    except Fail as e:
                        res = (None, [], [], [], e.reason)
                    results[p] = res
                report.add(name, kind, tid, p, *res)
        results_by_file[path] = {p: (r[0], r[1]) for p, r in results.items()}

    if args.cmd == "rewrite":
        if not args.stemmer:
            sys.exit("rewrite needs --stemmer (see `regex2words.py stemmer-src`)")
        reader = Reader(args.rules, args.stemmer)
        for path in files:
            with open(path, "r", encoding="utf-8", newline="") as fh:
                text = fh.read()
            res = results_by_file[path]
            kept_read = {p: read_regex(p, reader) for p, r in res.items() if r[0] is None}
            cleaned = {}
            for _k, _i, _t, _p, ws, _o in table_patterns(tomllib.loads(text)):
                if _k in LEXICON_KINDS:
                    continue
                for w in ws:
                    cleaned[w] = drop_fillers(w, reader)
            for wp, _a in res.values():
                if wp is not None:
                    c = drop_fillers(wp, reader)
                    if c:
                        res[[k for k, v in res.items() if v[0] == wp][0]] = (c, _a)
            new = rewrite_tables(text, res, kept_read, cleaned)
            if new == text:
                continue
            verify2(text, new, res, kept_read, cleaned, path)
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(new)
            print("rewrote", os.path.relpath(path))
    text = report.render()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
        print("report:", args.out)
    else:
        print(text)
    print(report.summary_line(), file=sys.stderr)


def same_tables(old, new, path):
    """The tables of two versions of a rule file, paired, after checking that
    every key other than the tables' patterns and words is unchanged."""
    a, b = tomllib.loads(old), tomllib.loads(new)
    ra, rb = table_patterns(a), table_patterns(b)
    assert len(ra) == len(rb), path
    assert {k: v for k, v in a.items() if not isinstance(v, list)} == {k: v for k, v in b.items() if not isinstance(v, list)}
    for x, y in zip(ra, rb):
        assert x[:3] == y[:3] and x[5] == y[5], (path, x[2])
        yield x, y


def verify2(old, new, results, kept_read, cleaned, path):
    """Pass 2 changed only patterns/words, as planned."""
    for x, y in same_tables(old, new, path):
        if x[0] in LEXICON_KINDS:
            assert x == y, (path, x[0])
            continue
        assert y[3] == [kept_read[p] for p in x[3] if results[p][0] is None], (path, x[2], "patterns")
        want = [cleaned.get(w) or w for w in x[4]] + [results[p][0] for p in x[3] if results[p][0] is not None]
        assert y[4] == want, (path, x[2], "words", y[4], want)


def verify(old, new, results, path):
    """The rewrite changed only patterns/words: every other key is identical."""
    for x, y in same_tables(old, new, path):
        want_keep = [p for p in x[3] if results[p][0] is None]
        want_words = [results[p][0] for p in x[3] if results[p][0] is not None]
        assert y[3] == want_keep, (path, x[2], "patterns")
        assert y[4] == want_words, (path, x[2], "words")


class Report:
    def __init__(self, samples=20):
        self.rows = []
        self.samples = samples

    def add(self, file, kind, tid, regex, wp, approx, fwd, rev, reason):
        self.rows.append(dict(file=file, kind=kind, id=tid, regex=regex, wp=wp, approx=approx,
                              fwd=fwd, rev=rev, reason=reason))

    @staticmethod
    def numeric(r):
        return r["reason"] == "digits"

    def summary_line(self):
        n = len(self.rows)
        conv = sum(1 for r in self.rows if r["wp"])
        num = sum(1 for r in self.rows if self.numeric(r))
        return f"{n} patterns: {conv} converted, {num} numeric kept, {n - conv - num} other kept; " \
               f"{conv}/{n - num} = {100 * conv / max(1, n - num):.1f}% of the non-numeric converted"

    def render(self):
        L = ["# regex -> word pattern conversion report (issue 18)", "",
             "Generated by `python3 tools/migrate/regex2words.py report --out convert-report.md` "
             "(`rewrite` applies it to crates/triage/rules/*.toml).", "",
             "**" + self.summary_line() + "**", "",
             "Numeric: the regex has a digit (literal, `\\d`, `[0-9]`), so it stays a byte regex by design "
             "(issue 18: byte regexes remain for numbers and units).", "",
             "## Counts per file", "",
             "| file | patterns | converted | of which approximated | kept: numeric | kept: other |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
        files = []
        for r in self.rows:
            if r["file"] not in files:
                files.append(r["file"])
        tot = [0] * 5
        for f in files:
            rs = [r for r in self.rows if r["file"] == f]
            c = [len(rs), sum(1 for r in rs if r["wp"]), sum(1 for r in rs if r["wp"] and r["approx"]),
                 sum(1 for r in rs if self.numeric(r)), sum(1 for r in rs if not r["wp"] and not self.numeric(r))]
            tot = [a + b for a, b in zip(tot, c)]
            L.append(f"| {f} | " + " | ".join(map(str, c)) + " |")
        L.append("| **total** | " + " | ".join(f"**{x}**" for x in tot) + " |")
        L += ["", "## Reasons for keeping a regex", ""]
        reasons = {}
        for r in self.rows:
            if not r["wp"]:
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]):
            L.append(f"- {v} × {k}")
        L += ["", "## Self-check", "",
              "Each converted pattern: 20 strings sampled from the ORIGINAL regex's AST (bounded repetition, "
              "gap classes filled with 2-6 letter words; each sample re-checked with `re.fullmatch` against the "
              "original) must be accepted by the word pattern compiled with the SPEC's semantics minus "
              "stemming/fillers (each word followed by `,? `, `w*` = `w[a-z0-9]*`, `_` = `[a-z0-9]+`); and 20 "
              "strings sampled from the word pattern (prefix + 0-3 letters, `_` = a random 2-6 letter word) must "
              "be matched in full by the original regex (reverse direction: over-generalization).", ""]
        def real(xs):
            return [x for x in xs if not x.endswith(" [length]")]
        fm = [r for r in self.rows if r["wp"] and real(r["fwd"])]
        rm = [r for r in self.rows if r["wp"] and real(r["rev"])]
        fl = [r for r in self.rows if r["wp"] and r["fwd"] and not real(r["fwd"])]
        rl = [r for r in self.rows if r["wp"] and r["rev"] and not real(r["rev"])]
        n_conv = sum(1 for r in self.rows if r["wp"])
        L.append(f"- {n_conv} converted patterns checked, {self.samples} samples each way")
        L.append(f"- forward mismatches explained only by a gap/repetition length "
                 f"(the sample has more gap words than `_{{0,K}}` or the capped `{{m,8}}` allows): {len(fl)} patterns "
                 "(all are listed under approximated conversions)")
        L.append(f"- reverse mismatches explained only by a gap length (the regex's character budget is "
                 f"smaller than K words): {len(rl)} patterns")
        L.append(f"- other forward mismatches (regex sample not accepted by the word pattern): {len(fm)} patterns, "
                 f"{sum(1 for r in fm if not r['approx'])} of them in conversions not marked approximated")
        L.append(f"- other reverse mismatches (word-pattern sample not matched by the regex): {len(rm)} patterns, "
                 f"{sum(1 for r in rm if not r['approx'])} of them in conversions not marked approximated")
        L += ["", "Samples marked `[length]` are length-only mismatches.", "", "### Forward mismatches", ""]
        if not fm:
            L.append("None.")
        for r in fm:
            L += self.entry(r) + ["  - not accepted: " + "; ".join(f"`{s}`" for s in real(r["fwd"])[:4]), ""]
        L += ["", "### Reverse mismatches", ""]
        if not rm:
            L.append("None.")
        for r in rm:
            L += self.entry(r) + ["  - not matched by the regex: " + "; ".join(f"`{s}`" for s in real(r["rev"])[:4]), ""]
        L += ["", "### Length-only mismatches", ""]
        for r in fl + [x for x in rl if x not in fl]:
            L.append(f"- {r['file']} {r['id']}: " + "; ".join(f"`{s}`" for s in (r["fwd"] + r["rev"])[:2]))
        L += ["", "## Approximated conversions", "",
              "The original regex is kept as a `# regex:` comment above each of these in the rule file.", ""]
        for r in self.rows:
            if r["wp"] and r["approx"]:
                L += self.entry(r)
        L += ["", "## Kept as regex (full list)", ""]
        for r in self.rows:
            if not r["wp"]:
                L.append(f"- {r['file']} `{r['kind']}` {r['id']}: **{r['reason']}**  ")
                L.append(f"  `{r['regex']}`")
        L += ["", "## All conversions", ""]
        for r in self.rows:
            if r["wp"]:
                L += self.entry(r)
        return "\n".join(L) + "\n"

    @staticmethod
    def entry(r):
        out = [f"- {r['file']} `{r['kind']}` {r['id']}" + (f" — approximated: {'; '.join(r['approx'])}" if r["approx"] else ""),
               f"  - regex: `{r['regex']}`", f"  - words: `{r['wp']}`"]
        return out


if __name__ == "__main__":
    main()
