#!/usr/bin/env python3
"""Check the lexicon tables of the rule files (issue 18, docs/rules.md).

Usage: python3 tools/lexicon_check.py [FILE.toml ...]
With no argument it reads crates/triage/rules/lexicon.toml and
crates/triage/rules/es-lexicon.toml (relative to the repository root).

Errors (exit status 1):
- a table or key the lexicon format does not have;
- a class name that is not kebab-case, is used twice, or (in a file named
  es-*.toml) does not start with `es-` (and, elsewhere, does);
- an entry that is not lower case a-z words separated by single spaces (no
  digits, apostrophes, hyphens or accents: text is normalized before it is
  read); a rewrite or lemma form that is more than one token; a lemma base
  that is more than one word;
- an entry listed twice anywhere in the files checked together (in one class
  or two, as a rewrite, a lemma form, or any mix);
- a lemma base that is itself a lemma form, or a rewrite whose output word is
  itself rewritten (the reading applies each table once);
- a word this project decided never to read past or rewrite (NEVER_FILLER,
  NEVER_REWRITE below) used that way.

Warnings (printed, exit status unchanged):
- a rewrite or lemma form that spelling correction already reaches
  (Damerau-Levenshtein 1 for 4-6 letters, 2 for 7 or more, against its
  one-word output): it is redundant;
- a word of a multi-word entry that another table reads differently (a
  lemma form, a rewrite or a filler inside a class entry), so the entry is
  matched in its read form.
"""
import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT = [
    ROOT / "crates/triage/rules/lexicon.toml",
    ROOT / "crates/triage/rules/es-lexicon.toml",
]

TABLE_KEYS = {
    "class": {"name", "words", "filler"},
    "rewrite": {"as", "words"},
    "lemma": {"as", "words"},
}
ENTRY = re.compile(r"[a-z]+(?: [a-z]+)*")
TOKEN = re.compile(r"[a-z]+")
KEBAB = re.compile(r"[a-z]+(?:-[a-z]+)*")

# Words that can negate, limit, or place in time: deleting them changes what
# a message says.
NEVER_FILLER = {
    "still", "now", "not", "no", "never", "barely", "hardly", "only", "again", "all",
    "more", "worse", "much", "just", "like", "ya", "todavia", "apenas", "solo", "nunca",
    "mucho", "mas", "casi",
}
# Tokens that are also ordinary words with another meaning.
NEVER_REWRITE = {
    "odd", "ill", "id", "its", "were", "well", "wed", "hed", "shed", "hell", "shell",
    "lets", "hr", "lbs", "ya", "left", "right", "toy", "tb", "k", "pa", "pal", "x", "d",
    "rite", "saw", "fue",
}


def dl_distance(a: str, b: str) -> int:
    """Optimal string alignment distance (a swap of two letters is one edit)."""
    prev2 = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if (
                prev2 is not None
                and i > 1
                and j > 1
                and a[i - 1] == b[j - 2]
                and a[i - 2] == b[j - 1]
            ):
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def reach(word: str) -> int:
    n = len(word)
    return 0 if n < 4 else 1 if n <= 6 else 2


class Checker:
    def __init__(self):
        self.errors = []
        self.warnings = []
        self.seen = {}  # entry -> where
        self.class_names = {}
        self.rewrite_in = {}  # token -> output
        self.lemma_in = {}  # form -> base
        self.filler_words = set()
        self.multi = []  # (entry, where)
        self.counts = {}

    def err(self, where, msg):
        self.errors.append(f"{where}: error: {msg}")

    def warn(self, where, msg):
        self.warnings.append(f"{where}: warning: {msg}")

    def entry(self, where, text, single_token=False):
        if not isinstance(text, str):
            self.err(where, f"entry {text!r} is not a string")
            return False
        pat = TOKEN if single_token else ENTRY
        if not pat.fullmatch(text):
            kind = "one token of a-z" if single_token else "lower-case a-z words, single spaces"
            self.err(where, f"entry {text!r} must be {kind}")
            return False
        return True

    def listed(self, where, text):
        if text in self.seen:
            self.err(where, f"{text!r} is already listed at {self.seen[text]}")
        else:
            self.seen[text] = where

    def words_of(self, where, table):
        words = table.get("words")
        if not isinstance(words, list) or not words:
            self.err(where, "`words` must be a non-empty list")
            return []
        return words

    def file(self, path: pathlib.Path):
        name = path.name
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            self.err(name, f"cannot read: {e}")
            return
        spanish = name.startswith("es-")
        counts = {"class": 0, "filler class": 0, "class entries": 0, "filler entries": 0,
                  "rewrite": 0, "rewrite tokens": 0, "lemma": 0, "lemma forms": 0}
        for key in data:
            if key not in TABLE_KEYS:
                self.err(name, f"unknown table or key `{key}`")
        for kind, keys in TABLE_KEYS.items():
            tables = data.get(kind, [])
            if not isinstance(tables, list):
                self.err(name, f"`{kind}` must be an array of tables ([[{kind}]])")
                continue
            for i, t in enumerate(tables):
                where = f"{name}: [[{kind}]] #{i + 1}"
                if not isinstance(t, dict):
                    self.err(where, "not a table")
                    continue
                for k in t:
                    if k not in keys:
                        self.err(where, f"unknown key `{k}`")
                check = {
                    "class": self.check_class,
                    "rewrite": self.check_rewrite,
                    "lemma": self.check_lemma,
                }[kind]
                check(where, t, spanish, counts)
        self.counts[name] = counts

    def check_class(self, where, t, spanish, counts):
        cname = t.get("name")
        if not isinstance(cname, str) or not KEBAB.fullmatch(cname):
            self.err(where, f"class name {cname!r} is not kebab-case")
            cname = str(cname)
        if spanish != cname.startswith("es-"):
            self.err(where, f"class {cname!r}: names start with `es-` in es-*.toml files and only there")
        if cname in self.class_names:
            self.err(where, f"class name {cname!r} already used at {self.class_names[cname]}")
        self.class_names.setdefault(cname, where)
        where = f"{where} ({cname})"
        filler = t.get("filler", False)
        if not isinstance(filler, bool):
            self.err(where, "`filler` must be true or false")
            filler = False
        counts["filler class" if filler else "class"] += 1
        for w in self.words_of(where, t):
            if not self.entry(where, w):
                continue
            counts["filler entries" if filler else "class entries"] += 1
            self.listed(where, w)
            if filler:
                for tok in w.split():
                    if tok in NEVER_FILLER:
                        self.err(where, f"{w!r}: {tok!r} changes meaning and is never a filler")
                self.filler_words.add(w)
            if " " in w:
                self.multi.append((w, where))

    def check_rewrite(self, where, t, spanish, counts):
        out = t.get("as")
        if not isinstance(out, str) or not self.entry(where, out):
            self.err(where, "`as` must be the words to read")
            out = ""
        where = f"{where} (as {out!r})"
        counts["rewrite"] += 1
        for w in self.words_of(where, t):
            if not self.entry(where, w, single_token=True):
                continue
            counts["rewrite tokens"] += 1
            self.listed(where, w)
            if w in NEVER_REWRITE:
                self.err(where, f"{w!r} is also an ordinary word with another meaning: never rewritten")
            self.rewrite_in[w] = (out, where)

    def check_lemma(self, where, t, spanish, counts):
        base = t.get("as")
        if not isinstance(base, str) or not self.entry(where, base, single_token=True):
            self.err(where, "`as` must be one base word")
            base = ""
        where = f"{where} (as {base!r})"
        counts["lemma"] += 1
        for w in self.words_of(where, t):
            if not self.entry(where, w, single_token=True):
                continue
            counts["lemma forms"] += 1
            self.listed(where, w)
            if w == base:
                self.err(where, f"{w!r} is its own base")
            self.lemma_in[w] = (base, where)

    def cross(self):
        for w, (out, where) in self.rewrite_in.items():
            for tok in out.split():
                if tok in self.rewrite_in:
                    self.err(where, f"{w!r} -> {out!r}: {tok!r} is itself rewritten")
            if " " not in out and reach(w) and dl_distance(w, out) <= reach(w):
                self.warn(where, f"{w!r} is within spelling correction of {out!r}")
        for w, (base, where) in self.lemma_in.items():
            if base in self.lemma_in:
                self.err(where, f"{w!r} -> {base!r}: {base!r} is itself a lemma form")
        fillers_single = {f for f in self.filler_words if " " not in f}
        for entry, where in self.multi:
            for tok in entry.split():
                if tok in self.lemma_in:
                    self.warn(where, f"{entry!r}: {tok!r} is a lemma form (read as {self.lemma_in[tok][0]!r})")
                if tok in self.rewrite_in:
                    self.warn(where, f"{entry!r}: {tok!r} is rewritten as {self.rewrite_in[tok][0]!r}")
                if tok in fillers_single and entry not in self.filler_words:
                    self.warn(where, f"{entry!r}: {tok!r} is a filler and is read past")



def main(argv):
    paths = [pathlib.Path(a) for a in argv] or DEFAULT
    c = Checker()
    for p in paths:
        c.file(p)
    c.cross()
    for line in c.warnings:
        print(line)
    for line in c.errors:
        print(line)
    for name, counts in c.counts.items():
        print(f"{name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    print(f"{len(c.errors)} errors, {len(c.warnings)} warnings")
    return 1 if c.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
