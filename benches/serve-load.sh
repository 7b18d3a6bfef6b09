#!/usr/bin/env bash
# Load measurement of `portal-triage serve` (a benchmark, not a test):
# requests per second and p50/p99 latency of single-message POST /v1/triage
# from a local load generator (wrk), at a few concurrencies.
#
#   benches/serve-load.sh [DURATION_SECONDS] [CONCURRENCY...]
#   benches/serve-load.sh 10 1 8 64          # the default
#
# Needs wrk (apt-get install wrk). Builds the release binary, starts it on a
# free loopback port, runs wrk against it for each concurrency, stops it.
# Traffic goes to 127.0.0.1 only. wrk shares the machine's cores with the
# service, so the figures are a floor, not a ceiling.
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${1:-10}"
shift || true
concurrencies=("$@")
[ ${#concurrencies[@]} -gt 0 ] || concurrencies=(1 8 64)

command -v wrk >/dev/null 2>&1 || {
  echo "wrk is required (apt-get install wrk)" >&2
  exit 2
}

cargo build --release --locked -q
work="$(mktemp -d)"
log="$work/serve.log"
./target/release/portal-triage serve --addr 127.0.0.1:0 --quiet 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^portal-triage: listening on //p' "$log")"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the service did not start:" >&2; cat "$log" >&2; exit 1; }

# A typical message: a few sentences, a reading, one needs-call finding.
cat >"$work/post.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id": "load-1", "text": "Hi Dr. Lee, my blood pressure was 168/102 this morning and 171/99 last night. I have had a mild headache since yesterday and I am taking my lisinopril every day. Should I change the dose or come in? Thanks, Maria"}'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %.0f %.3f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests, errors))
end
EOF

echo "portal-triage serve load, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${duration}s per run, $url"
printf '%-12s %12s %10s %10s %10s %10s %8s\n' connections "requests/s" "p50 ms" "p99 ms" "max ms" requests errors
for c in "${concurrencies[@]}"; do
  threads=$(( c < 2 ? 1 : 2 ))
  line="$(wrk -t "$threads" -c "$c" -d "${duration}s" -s "$work/post.lua" "$url/v1/triage" | sed -n 's/^RESULT //p')"
  read -r rps p50 p99 max n errors <<<"$line"
  printf '%-12s %12s %10s %10s %10s %10s %8s\n' "$c" "$rps" "$p50" "$p99" "$max" "$n" "$errors"
done
