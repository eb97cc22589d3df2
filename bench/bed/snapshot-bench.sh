#!/usr/bin/env bash
# snapshot-bench.sh [--rounds N]: issue 19's figures, run from the host. Prepares the guests
# (Lguest.Tests/Guests/prepare.sh: kernels and images, cached), boots L1 once with bed.sh and runs
# Lguest.Tests/Guests/snapshot-l1.sh bench N in it with the NativeAOT launcher: a 2 GiB and a 256 MiB guest are each
# cold booted and snapshotted once, then N rounds of restore 256 MiB, restore 2 GiB and cold boot 256 MiB, each timed
# from the launch to a typed command's output line arriving (the same guest, the same L1, interleaved; lguest without
# -v, the lines stamped with L1's clock as they arrive), then one restore of each size with -v for the launcher's own
# restore time.
#
# stdout: the script's BED-SNAP lines (the contract with the report harness, bench/Lguest.Compare/SnapshotBench.cs):
#   BED-SNAP-ROUND <round> cold-<mib>|restore-<mib> <ms> [<the launcher's own restore ms>|nan]   (round 0: the boots
#   snapshotted, and the -v restores)
#   BED-SNAP-TAKEN <mib> <guest MiB in the image> <directory bytes on disk> lguest: snapshot written to ... snapshot <ms> ms
#   BED-SNAP-BENCH ... (medians and ratios, for a person)
# stderr: progress. The whole L1 console is kept in artifacts/bench-bed/snapshot-console.log.
# Exit status: bed.sh's (snapshot-l1.sh's status, 124 on the bed's timeout, 125 when L1 failed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
guests="$root/Lguest.Tests/Guests"
rounds=3
usage() { echo "usage: snapshot-bench.sh [--rounds N]" >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; rounds="$2"; shift 2 ;;
        *) usage ;;
    esac
done
say() { printf 'snapshot-bench.sh: %s\n' "$*" >&2; }

cd "$root"
"$guests/prepare.sh" > /dev/null
[[ -x artifacts/lguest/lguest ]] || { say "no artifacts/lguest/lguest (dotnet cake --target=LauncherBinary)"; exit 2; }
out="$root/artifacts/bench-bed"
mkdir -p "$out"
console="$out/snapshot-console.log"
say "rounds $rounds; L1 console in $console"
status=0
# A cold boot is a minute or two on a loaded host, a restore seconds: generous hang protection.
"$guests/bed.sh" --timeout $((1200 + rounds * 900)) -- \
    "LGUEST=$root/artifacts/lguest/lguest Lguest.Tests/Guests/snapshot-l1.sh bench $rounds" > "$console" 2>&1 || status=$?
grep -a -o -E 'BED-SNAP-(ROUND|TAKEN|BENCH|ERROR|DONE).*' "$console" | tr -d '\r' || true
exit "$status"
