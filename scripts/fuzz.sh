#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the module in turn (make fuzz), each for FUZZTIME on one
# worker, prints one line per target with its execs/s, and stops at the first target that
# fails, leaving the failing input where Go's engine wrote it (testdata/fuzz/FuzzXxx/ in the
# target's package) and printing the engine's output. With FUZZKEEPGOING=1 it goes on with
# the other targets after a failure and exits 1 at the end (make bench, for every figure).
#
#   FUZZTIME=30s scripts/fuzz.sh            # every target, 30 s each (the default)
#   FUZZTIME=10s PKGS=./internal/... scripts/fuzz.sh
#
# Targets are found with go test -list '^Fuzz', so a new FuzzXxx is fuzzed without being
# named here. -parallel 1: one fuzzing worker, so one core, which is what the README's
# figures are per; the coordinator process takes little besides. FUZZMINIMIZETIME bounds the
# minimization of each new interesting input and of a crasher (go test -fuzzminimizetime; a
# count such as 10000x is independent of the machine's load); the engine's default, 60 s of
# minimizing per interesting input, would eat most of a short run. EXECS is the engine's
# count of executions (minimization and the baseline's one run per corpus entry included);
# execs/s is that count less the baseline's runs over the time the engine spent fuzzing after
# gathering its baseline coverage: from the status line that ends the baseline to the
# engine's last one, timed as they arrive (the engine's own elapsed times are rounded to the
# second, too coarse for a short FUZZTIME). FUZZTIME counts the baseline too, so a target
# whose corpus takes longer than FUZZTIME to replay gets "-".
# scripts/bench.sh (make bench) runs this with a short FUZZTIME for its execs/s figures.
#
# Go 1.26's engine sometimes ends a run that found nothing with "context deadline exceeded"
# (go.dev/issue/75804, fixed in Go 1.27): such a run, with no failing input written, is
# reported as ok with a note.
set -u

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-10000x}
PKGS=${PKGS:-./...}
FUZZKEEPGOING=${FUZZKEEPGOING:-0}
LC_NUMERIC=C # $EPOCHREALTIME with a decimal point

# targets prints "package name" for every fuzz target: go test -list prints a package's test
# names, then "ok  <package> <time>".
targets() {
	local out
	if ! out=$("$GO" test -list '^Fuzz' $PKGS 2>&1); then
		printf '%s\n' "$out" >&2
		echo "fuzz.sh: go test -list '^Fuzz' $PKGS failed" >&2
		return 1
	fi
	printf '%s\n' "$out" | awk '
		/^Fuzz/ { names[n++] = $1; next }
		/^ok / { for (i = 0; i < n; i++) print $2, names[i]; n = 0; next }
	'
}

# stamp copies the engine's status lines from its output, each prefixed with the time it
# arrived in seconds ($EPOCHREALTIME), or "-" where the shell has no such clock (bash < 5).
stamp() {
	local line
	while IFS= read -r line; do
		case $line in
		'fuzz: elapsed: '*) printf '%s %s\n' "${EPOCHREALTIME:--}" "$line" ;;
		esac
	done
}

# rate reads stamp's output and prints "execs/s execs fuzzing-seconds": the last "execs: N"
# less the baseline's runs (the N of "N/N completed, now fuzzing") over the time since the
# line that started fuzzing (by the arrival times, else by the engine's elapsed times).
rate() {
	awk '
		function seconds(d,   s, n, u) {
			s = 0
			while (match(d, /^[0-9.]+(h|ms|m|s)/)) {
				n = substr(d, 1, RLENGTH); d = substr(d, RLENGTH + 1)
				u = n; sub(/^[0-9.]+/, "", u); sub(/(h|ms|m|s)$/, "", n)
				s += n * (u == "h" ? 3600 : u == "m" ? 60 : u == "ms" ? 0.001 : 1)
			}
			return s
		}
		$2 == "fuzz:" && $3 == "elapsed:" {
			e = $4; sub(/,$/, "", e)
			now = $1 == "-" ? seconds(e) : $1 + 0
			if (match($0, /[0-9]+\/[0-9]+ completed, now fuzzing/)) {
				start = now; base = substr($0, RSTART, RLENGTH); sub(/\/.*/, "", base)
			}
			if ($5 == "execs:" && start != "") { execs = $6; last = now }
		}
		END {
			t = last - start
			if (execs == "" || t <= 0) { print "- 0 0"; exit }
			printf "%.0f %d %.1f\n", (execs - base) / t, execs, t
		}
	' "$1"
}

list=$(targets) || exit 2
module=$("$GO" list -m) || exit 2
if [ -z "$list" ]; then
	echo "fuzz.sh: no fuzz targets in $PKGS" >&2
	exit 2
fi
count=$(printf '%s\n' "$list" | wc -l | tr -d ' ')
echo "fuzzing $count target(s), $FUZZTIME each, one worker (-parallel 1), minimizing for at most $FUZZMINIMIZETIME"
printf '%-36s %-16s %9s %11s  %s\n' TARGET PACKAGE EXECS/S EXECS RESULT

log=$(mktemp)
stamps=$(mktemp)
failures=$(mktemp)
trap 'rm -f "$log" "$stamps" "$failures"' EXIT
failed=0
while read -r pkg name; do
	dir=$("$GO" list -f '{{.Dir}}' "$pkg") || exit 2
	corpus="$dir/testdata/fuzz/$name"
	before=$(ls "$corpus" 2>/dev/null)
	"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" \
		-parallel 1 "$pkg" 2>&1 | tee "$log" | stamp >"$stamps"
	status=${PIPESTATUS[0]}
	after=$(ls "$corpus" 2>/dev/null)
	new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -1)
	read -r per execs _ <<<"$(rate "$stamps")"
	result=ok
	if [ "$status" -ne 0 ]; then
		if [ -z "$new" ] && ! grep -q 'Failing input written to' "$log" &&
			[ "$(grep -c -v -e '^fuzz: ' -e '^--- FAIL: ' -e '^    context deadline exceeded$' -e '^FAIL' -e '^exit status ' -e '^warning: ' "$log")" -eq 0 ]; then
			result="ok (the engine's end-of-run race, go.dev/issue/75804)"
		else
			result=FAIL
		fi
	fi
	printf '%-36s %-16s %9s %11s  %s\n' "$name" ".${pkg#"$module"}" "$per" "$execs" "$result"
	if [ "$result" = FAIL ]; then
		failed=$((failed + 1))
		{
			echo
			cat "$log"
			echo
			if [ -n "$new" ]; then
				echo "fuzz.sh: $name failed on $corpus/$new (it stays there: commit it with the fix)"
				echo "reproduce: $GO test -run '^${name}\$/^${new}\$' $pkg"
			else
				echo "fuzz.sh: $name failed, with no failing input written (see the output above)"
				echo "reproduce: $GO test -run '^$' -fuzz '^${name}\$' -fuzztime $FUZZTIME -parallel 1 $pkg"
			fi
		} >>"$failures"
		if [ "$FUZZKEEPGOING" != 1 ]; then
			cat "$failures"
			exit 1
		fi
	fi
done <<<"$list"
if [ "$failed" -gt 0 ]; then
	cat "$failures"
	echo
	echo "fuzz.sh: $failed of $count target(s) failed"
	exit 1
fi
