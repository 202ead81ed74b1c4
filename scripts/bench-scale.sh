#!/usr/bin/env bash
# make bench-scale: start the console as its own process on random ports with a fresh data
# directory, connect N simulated sensors to it with palisade-loadgen (real enrolment, mTLS,
# NATS, JetStream jobs, acknowledged result batches), start SCANS scans over all of them, and
# print dispatch and completion times, results/s ingested end to end, and the peak memory of
# the console and of the load generator. The dispatch time (the console's own: the start
# request reaching the scan manager until every scan is stored and every job is stored on the
# bus and handed to its sensor's connection) is printed beside its target: 10,000 nodes in
# <= 2 s.
#
# Two phases against the same console:
#   1. fleet: N sensors connect (console and load generator memory), then SCANS scans over all
#      of them (StartScan latency, time until every node has its job, time until all complete).
#   2. ingest: INGEST_N of the same identities each stream INGEST_K results for one scan, so
#      the results/s figure measures ingest rather than how fast jobs are handed out.
#
# Knobs (environment): N (sensors, default 10000), SCANS (default 1), K (results per job,
# default 250), SCAN_TIME (how long each simulated sensor evaluates a job before streaming its
# results, default 0: at once), INGEST_N (default 20), INGEST_K (default 25000), F (failure ratio, default
# 0.2), RATE (connects/s, default 0 = unlimited),
# CONCURRENCY (parallel connects, default 64), BIN (binaries, default ./bin), SKIP_BUILD=1 to use
# the binaries already in BIN, DATABASE_URL (passed to the console when it supports
# --database-url), DEBUG_ADDR (serve the console's runtime profiles there, for example
# 127.0.0.1:6061), LOADGEN_NICE (the load generator's nice value, default 10: the simulated
# fleet stands for thousands of machines and competes with the console for the same two
# cores; at a lower priority it takes what the console leaves, so the console's figures are its
# own; 0 to run both alike; a negative value needs root), SPLAY_RATE (the console's
# --scan-splay-rate: nodes per second a start lets begin evaluating; -1 for all at once, the
# worst case for memory), CONSOLE_GOMEMLIMIT (the console's soft memory limit, default
# 1300MiB as docs/operations.md recommends for 10,000 sensors on one replica; "off" for none;
# the load generator keeps none), KEEP=1 to keep the temporary directory.
set -euo pipefail

BIN=${BIN:-./bin}
N=${N:-10000}
SCANS=${SCANS:-1}
K=${K:-250}
SCAN_TIME=${SCAN_TIME:-0}
INGEST_N=${INGEST_N:-20}
INGEST_K=${INGEST_K:-25000}
F=${F:-0.2}
RATE=${RATE:-0}
CONCURRENCY=${CONCURRENCY:-64}
LOADGEN_NICE=${LOADGEN_NICE:-10}
GO=${GO:-go}

if [ "${SKIP_BUILD:-}" != 1 ]; then
  $GO build -o "$BIN/palisade-console" ./console/cmd/palisade-console
  $GO build -o "$BIN/palisade-loadgen" ./console/cmd/palisade-loadgen
fi
console="$BIN/palisade-console"
loadgen_bin="$BIN/palisade-loadgen"
loadgen() { env -u GOMEMLIMIT nice -n "$LOADGEN_NICE" "$loadgen_bin" "$@"; }

# Every simulated sensor holds two sockets (gRPC and NATS) in the load generator, and the
# console holds the other end of both, so each process needs about 2 file descriptors per
# sensor plus some for itself. Raise the soft limit as far as the hard limit allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fds=$(ulimit -n)
reserve=400
max_n=$(((fds - reserve) / 2))
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), open-file limit $fds per process, ephemeral ports $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)"
if [ "$N" -gt "$max_n" ]; then
  echo "N=$N needs about $((2 * N + reserve)) file descriptors in the console process (one gRPC and one NATS socket per sensor);"
  echo "the hard limit here is $fds and cannot be raised from this shell, so the largest N measured is $max_n."
  N=$max_n
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/palisade-bench-scale.XXXXXX")
data="$work/console"
mkdir -p "$data"
console_pid=""
cleanup() {
  if [ -n "$console_pid" ]; then
    kill "$console_pid" 2>/dev/null || true
    wait "$console_pid" 2>/dev/null || true
  fi
  if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

serve_args=(serve --data-dir "$data" --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --nats-addr 127.0.0.1:0)
if [ -n "${SPLAY_RATE:-}" ]; then
  serve_args+=(--scan-splay-rate "$SPLAY_RATE")
fi
if [ -n "${DEBUG_ADDR:-}" ]; then
  serve_args+=(--debug-addr "$DEBUG_ADDR")
fi
backend=sqlite
if [ -n "${DATABASE_URL:-}" ]; then
  if "$console" serve --help 2>&1 | grep -q -- '--database-url'; then
    serve_args+=(--database-url "$DATABASE_URL")
    backend=postgres
  else
    echo "DATABASE_URL is set but this console has no --database-url flag yet; measuring SQLite"
  fi
fi
CONSOLE_GOMEMLIMIT=${CONSOLE_GOMEMLIMIT:-1300MiB}
if [ "$CONSOLE_GOMEMLIMIT" != off ]; then
  echo "console soft memory limit (GOMEMLIMIT): $CONSOLE_GOMEMLIMIT"
  GOMEMLIMIT=$CONSOLE_GOMEMLIMIT "$console" "${serve_args[@]}" >"$work/console.out" 2>"$work/console.log" &
else
  env -u GOMEMLIMIT "$console" "${serve_args[@]}" >"$work/console.out" 2>"$work/console.log" &
fi
console_pid=$!
for _ in $(seq 1 300); do
  [ -s "$data/console.json" ] && break
  if ! kill -0 "$console_pid" 2>/dev/null; then
    echo "the console did not start:" >&2
    tail -n 20 "$work/console.log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$data/console.json" ] || { echo "the console did not write console.json within 30s" >&2; exit 1; }
grpc_addr=$(sed -n 's/.*"grpc_addr": *"\([^"]*\)".*/\1/p' "$data/console.json")
token=$("$console" --data-dir "$data" token create --uses "$N" --ttl 4h --format json | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "could not create an enrolment token" >&2; exit 1; }

# report_dispatch prints, for each scan round in the load generator's JSON summary, how long
# StartScan took and when the last node had its job, as the simulated fleet saw them. The
# durations are nanoseconds.
report_dispatch() {
  awk '
    /^  "Connected":/ { gsub(/[^0-9]/, "", $2); nodes = $2 + 0 }
    /"StartCall":/ { gsub(/[^0-9]/, "", $2); start = $2 + 0 }
    /"AllJobsReceived":/ {
      gsub(/[^0-9]/, "", $2); rounds++
      printf "dispatch as the load generator saw it, scan %d: StartScan returned after %.2f s, the last of %d simulated sensors had its job after %.2f s\n", rounds, start / 1e9, nodes, $2 / 1e9
    }' "$1"
}

echo "console: pid $console_pid, gRPC $grpc_addr, store $backend; load generator at nice $LOADGEN_NICE"
echo
echo "== phase 1: $N sensors, $SCANS scan(s) over all of them, $K results per job, failure ratio $F, scan time $SCAN_TIME"
status=0
loadgen --console "$grpc_addr" --token "$token" --sensors "$N" --state-dir "$work/sensors" \
  --connect-rate "$RATE" --concurrency "$CONCURRENCY" --controls-per-scan "$K" --failure-ratio "$F" \
  --scans "$SCANS" --scan-time "$SCAN_TIME" --data-dir "$data" --console-pid "$console_pid" --progress 15s \
  --scan-timeout 60m --json "$work/fleet.json" || status=$?
if [ "$status" -eq 0 ]; then
  report_dispatch "$work/fleet.json"
  # The dispatch figure, the console's own account of each start (its log line "scan group
  # dispatched"): from the request reaching the scan manager until every scan is stored and
  # every job is stored on the bus and handed to the connection of its sensor (a connected
  # sensor's subscription receives the job as JetStream stores it). The load generator's view
  # above adds its own time to read the answer and the jobs while it simulates thousands of
  # sensors on the same two cores at a lower priority.
  awk -F'"' '/"scan group dispatched"/ {
      t = 0; n = ""
      for (i = 1; i < NF; i++) {
        if ($i == "scans") { n = $(i + 1); gsub(/[^0-9]/, "", n) }
        if ($i == "plan" || $i == "store" || $i == "publish" || $i == "record") { v = $(i + 1); gsub(/[:,}]/, "", v); t += v }
      }
      verdict = ""
      if (n + 0 >= 10000) verdict = (t <= 2) ? ": met" : ": missed"
      else if (n + 0 > 0) verdict = sprintf("; at this rate 10,000 would take %.2f s", t * 10000 / n)
      printf "dispatch, scan group %d: %s scans stored and every job on the bus in %.2f s (target: 10,000 nodes in <= 2 s%s)\n", ++g, n, t, verdict
    }' "$work/console.log"
  # Where the rest of the load generator's StartScan time went: from its call to the start
  # reaching the scan manager (the request crossing gRPC, authentication), and from the
  # manager's answer to the call returning (the load generator, at a lower priority, reading
  # it while its thousands of simulated sensors take their jobs). The console logs its
  # timestamps in seconds; the load generator's call time is in nanoseconds.
  awk -F'"' '
    FNR == NR { if ($0 ~ /"CalledAtUnixNano":/) { v = $0; gsub(/[^0-9]/, "", v); called[++nc] = v / 1e9 }
      if ($0 ~ /"StartCall":/) { v = $0; gsub(/[^0-9]/, "", v); call[nc] = v / 1e9 }
      next }
    /"scan group dispatched"/ {
      t = 0; ts = 0
      for (i = 1; i < NF; i++) {
        if ($i == "ts") { v = $(i + 1); gsub(/[:,]/, "", v); ts = v + 0 }
        if ($i == "plan" || $i == "store" || $i == "publish" || $i == "record") { v = $(i + 1); gsub(/[:,}]/, "", v); t += v }
      }
      g++
      if (g <= nc) printf "scan group %d: the request reached the scan manager %.2f s after the call; the call returned %.2f s after the manager answered\n", g, ts - t - called[g], called[g] + call[g] - ts
    }' "$work/fleet.json" "$work/console.log"
  ingest_n=$((INGEST_N < N ? INGEST_N : N))
  echo
  echo "== phase 2: ingest, $ingest_n of the same sensors x $INGEST_K results, one scan"
  loadgen --console "$grpc_addr" --sensors "$ingest_n" --state-dir "$work/sensors" \
    --controls-per-scan "$INGEST_K" --failure-ratio "$F" --scans 1 --data-dir "$data" \
    --console-pid "$console_pid" --progress 15s --scan-timeout 60m --json "$work/ingest.json" | tee "$work/ingest.out" || status=$?
  if [ "$status" -eq 0 ] && [ "$backend" = postgres ]; then
    # The raw COPY rate of rows of the same shape into the same server, measured now: one
    # COPY of 1,000 rows per transaction into a table without keys, with nothing else; and the
    # same into a table with the results' primary key, which idempotent ingest needs.
    e2e=$(awk '/^results:/ {for (i = 1; i < NF; i++) if ($(i + 1) == "results/s") print $i; exit}' "$work/ingest.out")
    copies=$(PALISADE_TEST_POSTGRES=$DATABASE_URL $GO test -run '^$' -bench '^BenchmarkCopyRaw(Keyed)?$' -benchtime 500x ./console/internal/store/postgres/ 2>&1) ||
      echo "the raw COPY benchmarks failed: $(tail -n 3 <<<"$copies")"
    # rate NAME prints the results/s of benchmark NAME (with or without its -CPUs suffix).
    rate() { awk -v name="$1" '$1 ~ "^" name "(-[0-9]+)?$" {for (i = 1; i < NF; i++) if ($(i + 1) == "results/s") print $i}' <<<"$copies"; }
    raw=$(rate BenchmarkCopyRaw)
    keyed=$(rate BenchmarkCopyRawKeyed)
    if [ -n "$e2e" ] && [ -n "$raw" ]; then
      awk -v e="$e2e" -v r="$raw" 'BEGIN {printf "ingest into PostgreSQL end to end: %.0f results/s; raw COPY of the same rows now: %.0f results/s; ratio %.2f (target: >= 150,000 results/s end to end)\n", e, r, e / r}'
    fi
    if [ -n "$e2e" ] && [ -n "$keyed" ]; then
      awk -v e="$e2e" -v k="$keyed" 'BEGIN {printf "raw COPY of the same rows into a table with the results primary key: %.0f results/s; end to end is %.2f of it\n", k, e / k}'
    fi
  fi
fi
echo
echo "console VmHWM (peak RSS) over both phases: $(awk '/VmHWM/ {printf "%.1f MiB (%.2f GB; target: <= 1.5 GB with 10,000 sensors connected)", $2/1024, $2*1024/1e9}' "/proc/$console_pid/status")"
if [ "$status" -ne 0 ]; then
  echo "the load generator failed (exit $status); the console log's last lines:" >&2
  tail -n 20 "$work/console.log" >&2
fi
exit "$status"
