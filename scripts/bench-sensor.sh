#!/usr/bin/env bash
# Measures a full-catalogue scan (every Linux benchmark) of palisade-sensor on (a) a fixture
# host root materialised into a temporary directory and (b) this machine's root /, printing
# wall time and peak RSS (the sensor's own --report-resources figures) against the design
# target. It then splits the cost of / into the file-system walk controls and the rest: a
# scan without them, and the walk alone (BenchmarkWalk: entries, time and CPU per entry).
# When OpenSCAP and the SCAP Security Guide content are installed, it runs the closest CIS
# profile on the same roots and prints both figures and the ratio.
#
# Environment:
#   BIN                   where palisade-sensor is built (default ./bin)
#   BENCH_RUNS            scans per root for the sensor; the median is reported (default 3)
#   BENCH_FIXTURE         fixture root under pkg/engine/testdata/roots (default debian-bad)
#   BENCH_OSCAP           auto (default: run when installed) or no
#   BENCH_OSCAP_TIMEOUT   seconds before an OpenSCAP run is abandoned (default 1200)
#   BENCH_OSCAP_DS        data stream to use (default: ssg-debian12, else ssg-ubuntu2204, ...)
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${BIN:-$PWD/bin}
RUNS=${BENCH_RUNS:-3}
FIXTURE=${BENCH_FIXTURE:-debian-bad}
OSCAP_MODE=${BENCH_OSCAP:-auto}
OSCAP_TIMEOUT=${BENCH_OSCAP_TIMEOUT:-1200}
SSG_DIR=/usr/share/xml/scap/ssg/content

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building palisade-sensor"
"$GO" build -o "$BIN/palisade-sensor" ./sensor/cmd/palisade-sensor
sensor=$BIN/palisade-sensor

# materialise copies a fixture root and applies its .modes manifest ("path mode uid gid";
# files not listed are 0644 root:root, directories 0755 root:root), as enginetest does.
materialise() {
	local name=$1 dst=$2 src=pkg/engine/testdata/roots/$1
	cp -a "$src" "$dst"
	if [ "$(id -u)" = 0 ]; then
		chown -hR 0:0 "$dst"
	fi
	find "$dst" -type d -exec chmod 0755 {} +
	find "$dst" -type f -exec chmod 0644 {} +
	local manifest=pkg/engine/testdata/roots/$name.modes
	[ -f "$manifest" ] || return 0
	while read -r path mode uid gid; do
		case $path in '' | '#'*) continue ;; esac
		[ -e "$dst/$path" ] || [ -L "$dst/$path" ] || continue
		if [ "$(id -u)" = 0 ]; then chown -h "$uid:$gid" "$dst/$path"; fi
		[ -L "$dst/$path" ] || chmod "$mode" "$dst/$path"
	done <"$manifest"
}

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# walk_controls prints the ids of the built-in controls that walk the file system
# (file_walk), comma separated.
walk_controls() {
	awk '/^  - id: / {id=$3} /^ *file_walk:/ {print id}' pkg/catalog/linux/*.yaml | paste -sd, -
}

# bench_sensor ROOT LABEL [EXCLUDE]: runs the scan RUNS times; sets sensor_wall (s) and
# sensor_rss (MB).
bench_sensor() {
	local root=$1 label=$2 i line walls="" rsss="" cpus="" controls args=()
	if [ -n "${3:-}" ]; then args=(--exclude "$3"); fi
	controls=$("$sensor" scan --host-root "$root" "${args[@]}" --format json | awk -F': ' '/"controls":/ {gsub(/,/, "", $2); print $2; exit}')
	for i in $(seq "$RUNS"); do
		line=$("$sensor" scan --host-root "$root" "${args[@]}" --format json --report-resources 2>&1 >/dev/null | grep '^wall=')
		walls+="$(sed -E 's/.*wall=([0-9.]+)s.*/\1/' <<<"$line")"$'\n'
		rsss+="$(sed -E 's/.*peak_rss=([0-9.]+)MB.*/\1/' <<<"$line")"$'\n'
		cpus+="$(sed -E 's/.*cpu=([0-9.]+)s.*/\1/' <<<"$line")"$'\n'
	done
	sensor_wall=$(printf '%s' "$walls" | median)
	sensor_rss=$(printf '%s' "$rsss" | median)
	sensor_cpu=$(printf '%s' "$cpus" | median)
	printf '%-34s %s controls, median of %s runs: wall %ss, cpu %ss, peak RSS %s MB\n' "palisade-sensor $label" "$controls" "$RUNS" "$sensor_wall" "$sensor_cpu" "$sensor_rss"
}

# pick_ds prints the SCAP Security Guide data stream closest to a Debian 12 host.
pick_ds() {
	if [ -n "${BENCH_OSCAP_DS:-}" ]; then echo "$BENCH_OSCAP_DS"; return; fi
	local f
	for f in ssg-debian12-ds.xml ssg-debian11-ds.xml ssg-ubuntu2204-ds.xml ssg-ubuntu2004-ds.xml; do
		if [ -f "$SSG_DIR/$f" ]; then echo "$SSG_DIR/$f"; return; fi
	done
}

# bench_oscap ROOT LABEL: one OpenSCAP evaluation of the CIS level 2 server profile; sets
# oscap_wall (s) and oscap_rss (MB), empty when it could not run.
bench_oscap() {
	local root=$1 label=$2 out=$work/oscap-$2 env=() start end
	oscap_wall="" oscap_rss=""
	if [ "$root" != / ]; then env=(OSCAP_PROBE_ROOT="$root"); fi
	start=$(date +%s.%N)
	if [ -x /usr/bin/time ]; then
		env "${env[@]}" timeout "$OSCAP_TIMEOUT" /usr/bin/time -f 'maxrss_kb=%M' -o "$out.time" \
			oscap xccdf eval --profile "$profile" "$ds_eval" >"$out.log" 2>&1 || true
		oscap_rss=$(awk -F= '/maxrss_kb/ {printf "%.1f", $2/1024}' "$out.time" 2>/dev/null || true)
	else
		env "${env[@]}" timeout "$OSCAP_TIMEOUT" oscap xccdf eval --profile "$profile" "$ds_eval" >"$out.log" 2>&1 || true
	fi
	end=$(date +%s.%N)
	oscap_wall=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f", b-a}')
	local evaluated
	evaluated=$(grep -c '^Result.*\(pass\|fail\)$' "$out.log" || true)
	if [ "$(awk -v w="$oscap_wall" -v t="$OSCAP_TIMEOUT" 'BEGIN {print (w >= t) ? 1 : 0}')" = 1 ]; then
		echo "oscap $label: abandoned after ${OSCAP_TIMEOUT}s (BENCH_OSCAP_TIMEOUT)"
		oscap_wall=""
		return
	fi
	printf '%-34s %s rules evaluated (pass/fail): wall %ss, peak RSS %s MB\n' "oscap $label" "$evaluated" "$oscap_wall" "${oscap_rss:-n/a}"
}

# bench_walk ROOT: the file-system walk alone on ROOT (BenchmarkWalk in pkg/engine, the
# default workers), mean of RUNS walks.
bench_walk() {
	PALISADE_BENCH_WALK_ROOT=$1 "$GO" test -run '^$' -bench '^BenchmarkWalk$' -benchtime "${RUNS}x" ./pkg/engine/ |
		awk -v root="$1" '/^BenchmarkWalk/ {
			for (i = 3; i < NF; i++) v[$(i + 1)] = $i
			printf "%-34s %d entries, mean of %s walks: %.3fs per walk; per entry %.2f us wall, %.2f us CPU (%.2f us in the kernel)\n",
				"file-system walk of " root " alone", v["entries/op"], $2, v["ns/op"] / 1e9, v["ns/entry"] / 1e3, v["cpu-ns/entry"] / 1e3, v["sys-ns/entry"] / 1e3
		}'
}

# walk_floor ROOT: what reading the owner, group and mode of every entry costs with find(1)
# (one thread, on ROOT's own file system only), as a floor for the walk controls on this
# machine: its kernel time is what any scanner pays to stat every entry.
walk_floor() {
	command -v find >/dev/null && [ -x /usr/bin/time ] || return 0
	local out=$work/find.time
	/usr/bin/time -f '%e %S' -o "$out" find "$1" -xdev -printf '%U %G %m\n' >/dev/null 2>&1 || true
	awk -v root="$1" '{printf "%-34s wall %.2fs, %.2fs of it in the kernel (one thread)\n", "find " root " -xdev (owner, group, mode)", $1, $2}' "$out"
}

# target WALL RSS: whether a scan meets the design target (<= 0.3 s wall, <= 40 MB).
target() { awk -v w="$1" -v r="$2" 'BEGIN {print (w <= 0.3 && r <= 40) ? "meets" : "misses"}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b != "") printf "%.0fx", b/a; else print "n/a"}'; }

fixture_root=$work/$FIXTURE
materialise "$FIXTURE" "$fixture_root"

echo
echo "== palisade-sensor, full catalogue (every linux benchmark), $(nproc) CPUs, load average $(cut -d' ' -f1 /proc/loadavg)"
bench_sensor "$fixture_root" "fixture $FIXTURE"
fix_wall=$sensor_wall fix_rss=$sensor_rss
bench_sensor / "host /"
host_wall=$sensor_wall host_rss=$sensor_rss
walks=$(walk_controls)
if [ -n "$walks" ]; then
	bench_sensor / "host / without walks" "$walks"
	nowalk_wall=$sensor_wall nowalk_rss=$sensor_rss
	echo "  (left out: the file-system walk controls $walks)"
	bench_walk /
	walk_floor /
fi
echo "target (<= 0.3 s wall, <= 40 MB peak RSS): fixture $FIXTURE $(target "$fix_wall" "$fix_rss"), host / $(target "$host_wall" "$host_rss")"

if [ "$OSCAP_MODE" = no ] || ! command -v oscap >/dev/null; then
	echo
	echo "OpenSCAP comparison skipped (install openscap-scanner and ssg-debderived, or BENCH_OSCAP=no was set)"
	exit 0
fi
ds=$(pick_ds)
if [ -z "$ds" ]; then
	echo
	echo "OpenSCAP comparison skipped: no SCAP Security Guide data stream under $SSG_DIR (install ssg-debderived)"
	exit 0
fi
profile=$(oscap info --profiles "$ds" 2>/dev/null | awk -F: '/cis_level2_server/ {print $1; exit}')
if [ -z "$profile" ]; then
	echo "OpenSCAP comparison skipped: $ds has no CIS level 2 server profile"
	exit 0
fi
# The data stream's benchmark applies only to its own distribution release (a CPE platform);
# on another release every rule would be "notapplicable" and nothing measured. Evaluate a copy
# without that one benchmark-wide platform line so the rules run; per-rule applicability
# (packages present, architecture) still applies.
ds_eval=$work/$(basename "$ds")
sed -E 's#<xccdf-1\.2:platform idref="cpe:/o:[^"]*"/>##' "$ds" >"$ds_eval"

echo
echo "== OpenSCAP $(oscap --version | awk 'NR==1 {print $NF}'), $(basename "$ds") profile ${profile##*_profile_}"
bench_oscap "$fixture_root" fixture
fix_oscap_wall=$oscap_wall fix_oscap_rss=$oscap_rss
bench_oscap / host
host_oscap_wall=$oscap_wall host_oscap_rss=$oscap_rss

echo
echo "== ratio (OpenSCAP / palisade-sensor)"
printf 'fixture %s: wall %s, peak RSS %s\n' "$FIXTURE" "$(ratio "$fix_wall" "$fix_oscap_wall")" "$(ratio "$fix_rss" "$fix_oscap_rss")"
printf 'host /:     wall %s, peak RSS %s\n' "$(ratio "$host_wall" "$host_oscap_wall")" "$(ratio "$host_rss" "$host_oscap_rss")"
if [ -n "${nowalk_wall:-}" ]; then
	printf 'host / (sensor without walks): wall %s, peak RSS %s\n' "$(ratio "$nowalk_wall" "$host_oscap_wall")" "$(ratio "$nowalk_rss" "$host_oscap_rss")"
fi
