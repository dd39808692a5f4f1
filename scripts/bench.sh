#!/usr/bin/env bash
# bench.sh produces every performance figure of the README in one run (make bench): it prints
# the machine, runs every benchmark of the module BENCHCOUNT times in one go test, prints the
# median and the range (min-max) over those runs of every benchmark's time/op and custom
# metrics, then the headline figures, then fuzzes every target for BENCHFUZZTIME with
# scripts/fuzz.sh, which prints execs/s per target.
#
#   scripts/bench.sh                               # 5 runs of each benchmark, 15 s per fuzz target
#   BENCHCOUNT=10 BENCHFUZZTIME=30s scripts/bench.sh
#   PKGS=./emulator BENCHFUZZTIME=0 scripts/bench.sh   # one package, no fuzzing
#
# The headline figures:
#   - the emulator's raw loopback capacity for the conformance request mix: req/s of
#     conformance's BenchmarkRawCapacity (the default run's requests, replayed by a wrk-like
#     generator);
#   - the harness's cases/s against it: cases/s of BenchmarkCheckDefault (the default
#     "eipconform run" against the emulator over loopback), and the ratio of the two medians,
#     with the issue's target (0.5);
#   - the default full run's wall time: BenchmarkCheckDefault's time/op (one op is one run);
#   - the emulator's req/s for the mixed load: emulator's BenchmarkLoad (TestLoad's workload,
#     64 clients at once over loopback), and BenchmarkLoopbackMixedRaw (one EIP's life per
#     client, the wrk-like generator) with the issue's target (20,000 req/s);
#   - in-process fuzz execs/s per target: fuzz.sh's table (see there for how it counts).
#
# The raw go test output stays in $BUILD/bench.txt (compare two runs with benchstat), the
# medians in $BUILD/bench-medians.txt (package, benchmark, unit, runs, median, min, max, one
# line each), the fuzzing table in $BUILD/fuzz.txt. Benchmarks are noisy: run on a quiet
# machine (the load average is printed with the machine), and compare figures within one run.
# BENCHTIME is go test's -benchtime (default 1s). BENCHFUZZTIME (default 15s) includes the
# engine's baseline, one run of each corpus entry: the seeds and the inputs earlier runs
# cached in $(go env GOCACHE)/fuzz, which grow with every run; a target whose baseline
# takes all of it gets "-" and a note (raise BENCHFUZZTIME); BENCHFUZZTIME=0 skips fuzzing.
# Fuzzing goes on after a failing target (fuzz.sh's FUZZKEEPGOING=1), so the other targets
# still get their figures. The exit status is 1 when a step failed (a benchmark, a headline
# figure missing from a run of ./..., a fuzz target), each named at the end, 2 for a usage
# error.
set -u

GO=${GO:-go}
PKGS=${PKGS:-./...}
BUILD=${BUILD:-build}
BENCHCOUNT=${BENCHCOUNT:-5}
BENCHTIME=${BENCHTIME:-1s}
BENCHFUZZTIME=${BENCHFUZZTIME:-15s}

case $BENCHCOUNT in
'' | *[!0-9]* | 0)
	echo "bench.sh: BENCHCOUNT=$BENCHCOUNT: want a positive number of runs" >&2
	exit 2
	;;
esac

scripts=$(dirname "$0")
raw=$BUILD/bench.txt
medians=$BUILD/bench-medians.txt
fuzzout=$BUILD/fuzz.txt
failed=()
start=$SECONDS

mkdir -p "$BUILD" || exit 2
module=$("$GO" list -m) || exit 2

# machine prints where the figures come from.
machine() {
	local cpu cores
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
	[ -n "$cpu" ] || cpu=$(uname -m)
	cores=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
	echo "machine: $("$GO" env GOOS)/$("$GO" env GOARCH), $cores CPUs ($cpu), $("$GO" version | awk '{ print $3 }')"
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime | sed 's/.*average[s]*: //')"
	if commit=$(git rev-parse --short HEAD 2>/dev/null); then
		[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit + uncommitted changes"
		echo "commit:  $commit"
	fi
}

# progress echoes go test's output as it comes: a line per benchmark with a dot per run, and
# anything that is not a benchmark's result (build errors, failures, logs) as it is.
progress() {
	awk -v mod="$module" '
		function flush() { if (open) { printf "\n"; open = 0 } }
		/^(goos|goarch|cpu): / || /^PASS$/ || /^\? / || /^ok / { next }
		/^pkg: / { pkg = $2; sub("^" mod, ".", pkg); next }
		/^Benchmark/ && NF >= 4 && $2 ~ /^[0-9]+$/ {
			name = $1; sub(/-[0-9]+$/, "", name)
			if (name != last || pkg != lastpkg) {
				flush(); printf "  %-14s %-34s ", pkg, name; last = name; lastpkg = pkg
			}
			printf "."; open = 1; fflush(); next
		}
		{ flush(); print; fflush() }
		END { flush() }
	'
}

# summarize reads go test -bench output and prints, for every benchmark and unit (ns/op,
# B/op, allocs/op and each custom metric), "package benchmark unit runs median min max".
summarize() {
	awk -v mod="$module" '
		/^pkg: / { pkg = $2; sub("^" mod, ".", pkg); next }
		/^Benchmark/ && NF >= 4 && $2 ~ /^[0-9]+$/ {
			name = $1; sub(/-[0-9]+$/, "", name)
			for (i = 3; i + 1 <= NF; i += 2) {
				k = pkg " " name " " $(i + 1)
				if (!(k in n)) order[keys++] = k
				v[k, n[k]++] = $i + 0
			}
		}
		END {
			for (j = 0; j < keys; j++) {
				k = order[j]; m = n[k]
				for (a = 0; a < m; a++) s[a] = v[k, a]
				for (a = 1; a < m; a++) {
					x = s[a]
					for (b = a - 1; b >= 0 && s[b] > x; b--) s[b + 1] = s[b]
					s[b + 1] = x
				}
				med = m % 2 ? s[(m - 1) / 2] : (s[m / 2 - 1] + s[m / 2]) / 2
				printf "%s %d %.15g %.15g %.15g\n", k, m, med, s[0], s[m - 1]
			}
		}
	'
}

# Formatting, shared by the table and the headline (awk functions).
formats='
	function sig(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
	function commas(x,   s, t) {
		s = sprintf("%.0f", x); t = ""
		while (length(s) > 3) { t = "," substr(s, length(s) - 2) t; s = substr(s, 1, length(s) - 3) }
		return s t
	}
	function scale(ns) { return ns >= 1e9 ? 1e9 : ns >= 1e6 ? 1e6 : ns >= 1e3 ? 1e3 : 1 }
	function tunit(f) { return f == 1e9 ? "s" : f == 1e6 ? "ms" : f == 1e3 ? "us" : "ns" }
	# dur: a median time and its range, in the median'"'"'s unit.
	function dur(med, lo, hi,   f) {
		f = scale(med)
		return sig(med / f) " " tunit(f) " (" sig(lo / f) "-" sig(hi / f) ")"
	}
	function num(x) { return x >= 1000 ? commas(x) : sig(x) }
	# metric: a median of a custom metric and its range.
	function metric(unit, med, lo, hi) {
		if (unit ~ /%$/) return sprintf("%.1f %s (%.1f-%.1f)", med, unit, lo, hi)
		return num(med) " " unit " (" num(lo) "-" num(hi) ")"
	}
	# si: x with an SI prefix, then the unit u after a space, if any.
	function si(x, u,   sp) {
		sp = u == "" ? "" : " "
		return x >= 1e9 ? sig(x / 1e9) sp "G" u : x >= 1e6 ? sig(x / 1e6) sp "M" u : x >= 1e3 ? sig(x / 1e3) sp "k" u : sprintf("%.0f", x) sp u
	}
'

# table prints the medians file as one line per benchmark.
table() {
	awk "$formats"'
		{
			k = $1 " " $2
			if (!(k in seen)) { seen[k] = 1; order[keys++] = k }
			runs[k] = $4
			if ($3 == "ns/op") t[k] = dur($5, $6, $7)
			else if ($3 == "B/op") by[k] = si($5, "B")
			else if ($3 == "allocs/op") al[k] = si($5, "")
			else m[k] = (m[k] == "" ? "" : m[k] ", ") metric($3, $5, $6, $7)
		}
		END {
			printf "%-14s %-34s %4s  %-24s %9s %9s  %s\n", "PACKAGE", "BENCHMARK", "RUNS", "TIME/OP (MIN-MAX)", "ALLOCS/OP", "BYTES/OP", "METRICS (MIN-MAX)"
			for (j = 0; j < keys; j++) {
				k = order[j]; split(k, p, " ")
				line = sprintf("%-14s %-34s %4d  %-24s %9s %9s  %s", p[1], p[2], runs[k], t[k], al[k], by[k], m[k])
				sub(/ +$/, "", line)
				print line
			}
		}
	' "$medians"
}

# get prints "median min max" of package's benchmark's unit, or nothing.
get() {
	awk -v p="$1" -v b="$2" -v u="$3" '$1 == p && $2 == b && $3 == u { print $5, $6, $7 }' "$medians"
}

missing=()

# figure prints a headline line: label, then what fmt makes of the median and range of
# package's benchmark's unit (awk expression of med, lo, hi), then a note.
figure() {
	local label=$1 pkg=$2 bench=$3 unit=$4 fmt=$5 note=${6:-} m
	m=$(get "$pkg" "$bench" "$unit")
	if [ -z "$m" ]; then
		printf '  %-44s %s\n' "$label" "- ($pkg $bench did not report $unit)"
		missing+=("$pkg $bench")
		return
	fi
	awk -v label="$label" -v note="$note" "$formats"'{ med = $1; lo = $2; hi = $3; printf "  %-44s %-34s %s\n", label, '"$fmt"', note }' <<<"$m"
}

machine
echo

# The benchmarks.
echo "benchmarks: $GO test -run '^\$' -bench . -benchmem -count $BENCHCOUNT -benchtime $BENCHTIME $PKGS (raw output: $raw)"
t0=$SECONDS
"$GO" test -run '^$' -bench . -benchmem -count "$BENCHCOUNT" -benchtime "$BENCHTIME" $PKGS 2>&1 | tee "$raw" | progress
if [ "${PIPESTATUS[0]}" -ne 0 ]; then
	failed+=("benchmarks (go test failed: see above, and $raw)")
fi
summarize <"$raw" >"$medians"
echo "benchmarks took $((SECONDS - t0)) s"
echo
echo "medians of $BENCHCOUNT runs, the range (min-max) in brackets:"
table
echo

# The headline.
echo "headline figures (medians of $BENCHCOUNT runs, range in brackets):"
figure "raw loopback capacity (conformance mix)" ./conformance BenchmarkRawCapacity req/s 'metric("req/s", med, lo, hi)' "BenchmarkRawCapacity"
figure "harness against it" ./conformance BenchmarkCheckDefault cases/s 'metric("cases/s", med, lo, hi)' "BenchmarkCheckDefault"
raw_cap=$(get ./conformance BenchmarkRawCapacity req/s)
harness=$(get ./conformance BenchmarkCheckDefault cases/s)
if [ -n "$raw_cap" ] && [ -n "$harness" ]; then
	awk -v h="${harness%% *}" -v r="${raw_cap%% *}" 'BEGIN {
		q = h / r
		printf "  %-44s %-34s %s\n", "harness / raw capacity", sprintf("%.2f", q), "target 0.5: " (q >= 0.5 ? "met" : "not met")
	}'
else
	printf '  %-44s %s\n' "harness / raw capacity" "-"
fi
figure "default full run, wall time" ./conformance BenchmarkCheckDefault ns/op 'sprintf("%.0f ms (%.0f-%.0f)", med / 1e6, lo / 1e6, hi / 1e6)' "one op of BenchmarkCheckDefault"
figure "emulator, mixed load (TestLoad, 64 clients)" ./emulator BenchmarkLoad req/s 'metric("req/s", med, lo, hi)' "BenchmarkLoad"
lean=$(get ./emulator BenchmarkLoopbackMixedRaw req/s)
figure "emulator, mixed cycle (wrk-like generator)" ./emulator BenchmarkLoopbackMixedRaw req/s 'metric("req/s", med, lo, hi)' \
	"BenchmarkLoopbackMixedRaw; target 20,000: $(awk -v x="${lean%% *}" 'BEGIN { print (x + 0 >= 20000 ? "met" : "not met") }')"
if [ ${#missing[@]} -gt 0 ] && [ "$PKGS" = ./... ]; then
	failed+=("headline figures missing: ${missing[*]}")
fi
echo

# Fuzzing.
case $BENCHFUZZTIME in
0 | 0s | '')
	echo "fuzzing skipped (BENCHFUZZTIME=$BENCHFUZZTIME)"
	;;
*)
	t0=$SECONDS
	GO="$GO" FUZZTIME="$BENCHFUZZTIME" FUZZKEEPGOING=1 PKGS="$PKGS" "$scripts/fuzz.sh" 2>&1 | tee "$fuzzout"
	if [ "${PIPESTATUS[0]}" -ne 0 ]; then
		failed+=("fuzzing (scripts/fuzz.sh failed: see above)")
	fi
	echo "fuzzing took $((SECONDS - t0)) s"
	if none=$(awk 'f && /^Fuzz/ && $3 == "-" && $5 == "ok" { printf "%s%s", s, $1; s = " " } $1 == "TARGET" { f = 1 }' "$fuzzout") && [ -n "$none" ]; then
		echo "note: no execs/s for $none: the engine spent all of BENCHFUZZTIME=$BENCHFUZZTIME on its baseline; raise BENCHFUZZTIME"
	fi
	;;
esac
echo

echo "bench.sh: $((SECONDS - start)) s in all"
if [ ${#failed[@]} -gt 0 ]; then
	for f in "${failed[@]}"; do
		echo "bench.sh: FAILED: $f" >&2
	done
	exit 1
fi
