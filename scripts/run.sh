#!/usr/bin/env bash
# make run: start the console on its embedded defaults (SQLite, embedded NATS), enrol a sensor
# for this machine, scan it with the default Linux benchmarks, print the scores, and keep both
# running until interrupted.
set -euo pipefail

BIN=${BIN:-./bin}
DATA_DIR=${DATA_DIR:-./data}
CONSOLE_ARGS=${CONSOLE_ARGS:-}
BENCHMARKS=${BENCHMARKS:-cis,nist,pci-dss}
mkdir -p "$DATA_DIR"
console="$BIN/palisade-console"
sensor="$BIN/palisade-sensor"
cli=("$console" --data-dir "$DATA_DIR")

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

rm -f "$DATA_DIR/console.json"
# shellcheck disable=SC2086
"$console" serve --data-dir "$DATA_DIR" $CONSOLE_ARGS >"$DATA_DIR/console.out" 2>"$DATA_DIR/console.log" &
pids+=($!)

for _ in $(seq 1 300); do
  [ -s "$DATA_DIR/console.json" ] && break
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "the console did not start:" >&2
    tail -n 5 "$DATA_DIR/console.log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$DATA_DIR/console.json" ] || { echo "the console did not become ready" >&2; exit 1; }
cat "$DATA_DIR/console.out"
grpc_addr=$(sed -n 's/.*"grpc_addr": *"\([^"]*\)".*/\1/p' "$DATA_DIR/console.json")

if [ ! -s "$DATA_DIR/sensor/node.json" ]; then
  token=$("${cli[@]}" token create --ttl 10m --format json | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "could not create an enrolment token" >&2; exit 1; }
fi
"$sensor" run --console "$grpc_addr" --token "${token:-}" --state-dir "$DATA_DIR/sensor" --host-root / \
  >"$DATA_DIR/sensor.log" 2>&1 &
pids+=($!)

node=""
for _ in $(seq 1 300); do
  node=$(sed -n 's/.*"node_id": *"\([^"]*\)".*/\1/p' "$DATA_DIR/sensor/node.json" 2>/dev/null || true)
  [ -n "$node" ] && break
  if ! kill -0 "${pids[1]}" 2>/dev/null; then
    echo "the sensor did not start:" >&2
    tail -n 5 "$DATA_DIR/sensor.log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$node" ] || { echo "the sensor did not enrol" >&2; exit 1; }
echo "sensor enrolled as node $node; scanning this machine ($BENCHMARKS)"
"${cli[@]}" scan start --node "$node" --benchmark "$BENCHMARKS" --wait
echo
echo "scan complete. Results: $console --data-dir $DATA_DIR results <scan-id>"
echo "Console and sensor keep running; press Ctrl-C to stop."
wait
