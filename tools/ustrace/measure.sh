#!/bin/bash
# Probe overhead, as reported in tools/ustrace/README.md: bench medians of a
# normal build against a -Dusdt=disabled build (detached cost), and of the
# normal build under ustrace (attached cost, events/s, drops).
#   tools/ustrace/measure.sh BUILD NOUSDT_BUILD [RUNS=5]
# BUILD needs bench/ and tools/ustrace/ustrace; run as root.
set -euo pipefail

b=${1:?normal build dir} n=${2:?-Dusdt=disabled build dir} runs=${3:-5}
out=$(mktemp -d /tmp/ustrace-measure-XXXXXX)
trap 'rm -rf "$out"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
min() { sort -g | head -1; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }'; }
nsop() { grep -o '"ns_per_op":[0-9.]*' | head -1 | cut -d: -f2; }

echo "uptime: $(uptime)"
# "NAME WORKERS": the workers argument of the bench (0: one per CPU)
declare -A cmd=(
	["yield_many 0"]="bench/yield_many 1000 1000 0"
	["spawn_many 0"]="bench/spawn_many 1000000 0 time"
	["yield_many 1"]="bench/yield_many 1000 1000 1"
	["spawn_many 1"]="bench/spawn_many 1000000 1 time"
)
for w in "yield_many 0" "spawn_many 0" "yield_many 1" "spawn_many 1"; do
	: >"$out/norm" ; : >"$out/off" ; : >"$out/att"
	for ((i = 0; i < runs; i++)); do
		# interleaved, so that load from others hits all three alike
		"$b"/${cmd[$w]} | nsop >>"$out/norm"
		"$n"/${cmd[$w]} | nsop >>"$out/off"
		"$b"/tools/ustrace/ustrace --no-live --no-export -o "$out/trace" -- \
			"$b"/${cmd[$w]} >"$out/log.$i"
		nsop <"$out/log.$i" >>"$out/att"
		# Let the traced run's tail pass before the next (detached)
		# run: the log's writeback, and whatever the kernel does
		# after ustrace exits (freeing the 64 MiB ring buffer, the
		# BPF objects): a detached yield_many started at once ran at
		# 30-31 ns/op half the time, 2 s later never (27).
		sync
		sleep 2
	done
	for stat in median min; do
		off=$($stat <"$out/off") norm=$($stat <"$out/norm")
		att=$($stat <"$out/att")
		printf '%-13s ns/op %-6s of %d: usdt=disabled %s  detached %s (%s)  ' \
			"$w" "$stat" "$runs" "$off" "$norm" "$(pct "$norm" "$off")"
		printf 'attached %s (%s vs detached, %s vs disabled)\n' "$att" \
			"$(pct "$att" "$norm")" "$(pct "$att" "$off")"
	done
	printf '              runs: disabled [%s] detached [%s] attached [%s]\n' \
		"$(paste -sd' ' "$out/off")" "$(paste -sd' ' "$out/norm")" \
		"$(paste -sd' ' "$out/att")"
	grep -h '^events .* ring buffer drops' "$out"/log.* |
		sed 's/^/              ustrace: /'
done

# Sustained rate: 10 M polls (about 30 M events) through the ring buffer
# and the consumer, twice. Past what the consumer can write (it shares the
# CPUs with the workers), drops appear: counted, never silent.
for run in 1 2; do
	"$b"/tools/ustrace/ustrace --no-live --no-export -o "$out/trace" -- \
		"$b"/bench/yield_many 1000 10000 >"$out/sus" 2>/dev/null
	printf 'sustained %d: %s; yield_many %s ns/op\n' "$run" \
		"$(grep -h '^events .* ring buffer drops' "$out/sus")" \
		"$(nsop <"$out/sus")"
done
