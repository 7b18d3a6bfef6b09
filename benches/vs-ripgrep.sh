#!/usr/bin/env bash
# Throughput harness: full triage (`portal-triage score --threads 1`) against
# a raw multi-pattern scan of the same file with the same literal phrases
# (`rg -F -i -c -f PHRASES`), in one run, alternating, median of RUNS runs.
# Also times `score` on all cores, records peak memory, and checks that the
# decisions are byte-identical to the checksum kept in
# benches/vs-ripgrep.sha256 (an optimization must not move a decision).
#
# ripgrep is timed with two phrase lists, and the script prints how far into
# each line its first match falls. `rg -c` counts matching lines, so it stops
# reading a line at its first match:
#   PHRASES   every literal phrase (`rules --phrases`), context words
#             included: `i`, `my`, `he`... match as substrings almost at once
#             (`i` in `{"id"`), so this times little more than a line count;
#   FINDINGS  the finding rules' phrases only (`rules --phrases --findings`):
#             ripgrep reads each line up to its first finding phrase.
#
#   benches/vs-ripgrep.sh [CORPUS]        # default target/bench/bench300k.jsonl
#   RUNS=7 benches/vs-ripgrep.sh
#   BLESS=1 benches/vs-ripgrep.sh         # record the checksum after a rule change
#
# The standard corpus is made from ../shared when missing (300,000 messages,
# seed 7). Needs ripgrep; when hyperfine is present it also times both with
# hyperfine for a second opinion (HYPERFINE=0 skips it):
#   apt-get install -y ripgrep hyperfine
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
CORPUS="${1:-target/bench/bench300k.jsonl}"
SUMS=benches/vs-ripgrep.sha256
mkdir -p target/bench

if ! command -v rg >/dev/null 2>&1; then
  echo "vs-ripgrep: ripgrep (rg) is missing: apt-get install -y ripgrep" >&2
  exit 2
fi
if [ ! -f "$CORPUS" ]; then
  if [ ! -f ../shared/bench/make_corpus.py ]; then
    echo "vs-ripgrep: $CORPUS is missing and ../shared/bench/make_corpus.py is not here to make it" >&2
    exit 2
  fi
  echo "making the standard corpus: $CORPUS (300,000 messages, seed 7)" >&2
  python3 ../shared/bench/make_corpus.py ../shared/corpus/dev.jsonl 300000 "$CORPUS" --seed 7
fi

cargo build --release --quiet
BIN=target/release/portal-triage
PHRASES=target/bench/phrases.txt
FINDINGS=target/bench/findings.txt
"$BIN" rules --phrases > "$PHRASES"
"$BIN" rules --phrases --findings > "$FINDINGS"

# One timed run of a command: prints "seconds peak_kb".
timed() {
  local t0 t1 rss
  t0=$EPOCHREALTIME
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o target/bench/rss.txt "$@" > /dev/null 2>&1
    rss=$(tail -1 target/bench/rss.txt)
  else
    "$@" > /dev/null 2>&1
    rss=0
  fi
  t1=$EPOCHREALTIME
  echo "$(echo "$t1 - $t0" | bc -l) $rss"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Decisions first: byte-identical to the recorded checksum.
sum=$("$BIN" score --threads 1 --quiet "$CORPUS" | sha256sum | cut -d' ' -f1)
key="$(basename "$CORPUS") $(wc -c < "$CORPUS")"
if [ "${BLESS:-0}" = 1 ]; then
  grep -v "^$key " "$SUMS" 2>/dev/null > "$SUMS.tmp" || true
  echo "$key $sum" >> "$SUMS.tmp"
  mv "$SUMS.tmp" "$SUMS"
  echo "checksum recorded: $sum"
elif expected=$(grep "^$key " "$SUMS" 2>/dev/null | awk '{print $3}') && [ -n "$expected" ]; then
  if [ "$expected" != "$sum" ]; then
    echo "vs-ripgrep: DECISIONS CHANGED on $CORPUS: sha256 $sum, recorded $expected" >&2
    echo "(an optimization must not change a decision; after a deliberate rule change run with BLESS=1)" >&2
    exit 1
  fi
  echo "decisions byte-identical to the recorded run (sha256 $sum)"
else
  echo "no checksum recorded for $key (run with BLESS=1 to record $sum)"
fi

: > target/bench/rg.txt; : > target/bench/rgf.txt; : > target/bench/one.txt; : > target/bench/all.txt
for i in $(seq "$RUNS"); do
  timed rg -F -i -c -f "$PHRASES" "$CORPUS" >> target/bench/rg.txt
  timed rg -F -i -c -f "$FINDINGS" "$CORPUS" >> target/bench/rgf.txt
  timed "$BIN" score --threads 1 --quiet "$CORPUS" -o /dev/null >> target/bench/one.txt
  timed "$BIN" score --quiet "$CORPUS" -o /dev/null >> target/bench/all.txt
  echo "run $i/$RUNS: rg $(cut -d' ' -f1 < target/bench/rg.txt | tail -1) s, rg findings $(cut -d' ' -f1 < target/bench/rgf.txt | tail -1) s, score 1 thread $(cut -d' ' -f1 < target/bench/one.txt | tail -1) s, all cores $(cut -d' ' -f1 < target/bench/all.txt | tail -1) s" >&2
done

rg_t=$(cut -d' ' -f1 target/bench/rg.txt | median)
rgf_t=$(cut -d' ' -f1 target/bench/rgf.txt | median)
one_t=$(cut -d' ' -f1 target/bench/one.txt | median)
all_t=$(cut -d' ' -f1 target/bench/all.txt | median)
one_rss=$(cut -d' ' -f2 target/bench/one.txt | sort -g | tail -1)
all_rss=$(cut -d' ' -f2 target/bench/all.txt | sort -g | tail -1)
mb=$(echo "$(wc -c < "$CORPUS") / 1000000" | bc -l)
echo
echo "corpus: $CORPUS ($(printf '%.0f' "$mb") MB, $(wc -l < "$CORPUS") messages); phrases: $(wc -l < "$PHRASES"), of which findings: $(wc -l < "$FINDINGS"); $(nproc) cores; median of $RUNS alternating runs"
printf '| %-44s | %8s | %9s | %12s |\n' "command" "time" "MB/s" "peak RSS"
printf '| %-44s | %8s | %9s | %12s |\n' "---" "---:" "---:" "---:"
printf '| %-44s | %7.2fs | %9.1f | %12s |\n' "rg -F -i -c -f PHRASES" "$rg_t" "$(echo "$mb / $rg_t" | bc -l)" "-"
printf '| %-44s | %7.2fs | %9.1f | %12s |\n' "rg -F -i -c -f FINDINGS" "$rgf_t" "$(echo "$mb / $rgf_t" | bc -l)" "-"
printf '| %-44s | %7.2fs | %9.1f | %9d MB |\n' "portal-triage score --threads 1" "$one_t" "$(echo "$mb / $one_t" | bc -l)" "$((one_rss / 1024))"
printf '| %-44s | %7.2fs | %9.1f | %9d MB |\n' "portal-triage score (all cores)" "$all_t" "$(echo "$mb / $all_t" | bc -l)" "$((all_rss / 1024))"
printf 'score --threads 1 / ripgrep: %.2fx   (target <= 1.5x, bar <= 3x)\n' "$(echo "$one_t / $rg_t" | bc -l)"
printf 'score --threads 1 / ripgrep on FINDINGS: %.2fx\n' "$(echo "$one_t / $rgf_t" | bc -l)"
printf 'all cores speedup over 1 thread: %.2fx   (target >= 1.7x on 2 cores)\n' "$(echo "$one_t / $all_t" | bc -l)"

# How much of each line the `rg -c` yardsticks read: the byte offset of the
# first match in each of the first 2,000 lines (rg -c stops there).
head -n 2000 "$CORPUS" > target/bench/sample.jsonl
first_match() {
  rg -F -i -o -b -n -f "$1" target/bench/sample.jsonl |
    LC_ALL=C awk -F: 'NR == FNR { start[FNR] = s; s += length($0) + 1; next }
                      !($1 in seen) { seen[$1] = 1; print $2 - start[$1] }' target/bench/sample.jsonl - |
    median
}
line_bytes=$(LC_ALL=C awk '{ n += length($0) + 1 } END { printf "%.0f", n / NR }' target/bench/sample.jsonl)
echo "where rg -c stops reading a line (median offset of its first match, over those of the first 2,000 lines that have one; $line_bytes bytes a line on average; a line without a match is read to its end):"
echo "  PHRASES: byte $(first_match "$PHRASES"); FINDINGS: byte $(first_match "$FINDINGS")"

if command -v hyperfine >/dev/null 2>&1 && [ "${HYPERFINE:-1}" = 1 ]; then
  hyperfine --runs "$RUNS" --warmup 1 \
    "rg -F -i -c -f $PHRASES $CORPUS" \
    "rg -F -i -c -f $FINDINGS $CORPUS" \
    "$BIN score --threads 1 --quiet $CORPUS -o /dev/null"
fi
