#!/usr/bin/env bash
# What --api-sock costs at start-up: launch to the first guest instruction (the probe's first byte on COM1, as
# Lguest.Compare's direct figure) of the NativeAOT lguest without and with --api-sock, and optionally of a baseline
# build (main's, say), in interleaved rounds; prints each run and the medians, and the median of the per-round ratios.
#
#   bench/api-startup.sh [ROUNDS] [BASELINE-LGUEST]      (root, /dev/kvm; artifacts/lguest/lguest published)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rounds=${1:-10}
baseline=${2:-}
aot=$root/artifacts/lguest/lguest
probe=$(bash "$root/Lguest.Tests/Guests/Probe/build.sh" "$root/artifacts/bench/probe")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# first_byte NAME COMMAND...: milliseconds from just before the launch to the first byte on its stdout; then stops it.
first_byte() {
	local name=$1 start end pid
	shift
	rm -f "$work/out"
	mkfifo "$work/out"
	start=$(date +%s%N)
	"$@" > "$work/out" 2> /dev/null &
	pid=$!
	head -c 1 < "$work/out" > /dev/null
	end=$(date +%s%N)
	kill "$pid" 2> /dev/null || true
	wait "$pid" 2> /dev/null || true
	echo "$name $(((end - start) / 1000)) us" >> "$work/runs"
	echo "$(((end - start) / 1000))"
}

variants=(plain api)
[[ -n $baseline ]] && variants+=(baseline)
for round in $(seq "$rounds"); do
	line="round $round"
	for v in "${variants[@]}"; do
		case $v in
		plain) us=$(first_byte plain "$aot" 512 "$probe" probe.only=uart) ;;
		api) us=$(first_byte api "$aot" --api-sock="$work/api.sock" 512 "$probe" probe.only=uart) ;;
		baseline) us=$(first_byte baseline "$baseline" 512 "$probe" probe.only=uart) ;;
		esac
		line+=" $v ${us}us"
		echo "$v $us" >> "$work/round-$round"
	done
	echo "$line"
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for v in "${variants[@]}"; do
	echo "median $v $(awk -v v="$v" '$1 == v { print $2 / 1000 }' "$work/runs" | median) ms"
done
for pair in "api plain" ${baseline:+"plain baseline"}; do
	set -- $pair
	echo "median ratio $1/$2 $(for r in $(seq "$rounds"); do awk -v a="$1" -v b="$2" '$1 == a { x = $2 } $1 == b { y = $2 } END { print x / y }' "$work/round-$r"; done | median)"
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
