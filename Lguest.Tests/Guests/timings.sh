#!/usr/bin/env bash
# timings.sh [RUNS]: how long the nested bed takes, lguest and QEMU as the L2 VMM side by side in one L1.
#
# One bed run; inside it, RUNS rounds (default 3) of four boots of the cloud kernel with the guest image and
# the poweroff scenario: lguest with the bzImage, lguest with the PVH vmlinux, QEMU (l2-qemu.sh) with each.
# Every console line is stamped with the host's clock as it arrives. Prints, in seconds, L1 up (bed.sh
# start to BED-COMMAND-START) and for each VMM and format the median over the rounds of: VMM start to
# GUEST-INIT-READY, and VMM start to its exit (the whole boot-and-poweroff). The launcher is
# $LGUEST_LAUNCHER or artifacts/lguest/lguest (dotnet cake --target=LauncherBinary).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
runs="${1:-3}"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "usage: timings.sh [RUNS]" >&2; exit 2; }
launcher="${LGUEST_LAUNCHER:-$root/artifacts/lguest/lguest}"
[[ -x "$launcher" ]] || { echo "timings.sh: no launcher at $launcher (dotnet cake --target=LauncherBinary)" >&2; exit 1; }

quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
append='console=ttyS0 quiet lguest.scenario=poweroff'
inner="for round in \$(seq $runs); do
  for format in bzImage pvh; do
    kernel=\"\$LGUEST_GUEST_VMLINUZ\"; [ \$format = pvh ] && kernel=\"\$LGUEST_GUEST_VMLINUX\"
    echo \"T-START lguest-\$format\"
    $(quote "$launcher") 256 \"\$kernel\" --initrd=\"\$LGUEST_GUEST_INITRD\" $append < /dev/null
    echo \"T-END lguest-\$format \$?\"
    echo \"T-START qemu-\$format\"
    Lguest.Tests/Guests/l2-qemu.sh \"\$kernel\" '' '$append' < /dev/null
    echo \"T-END qemu-\$format \$?\"
  done
done"

stamped="$(mktemp)"
trap 'rm -f "$stamped"' EXIT
start="$EPOCHREALTIME"
(cd "$root" && "$here/bed.sh" --timeout 1200 -- "$inner" < /dev/null 2>&1) |
    while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"; done > "$stamped"

awk -v start="$start" '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    / BED-COMMAND-START/ && !up { up = $1 - start }
    / T-START / { vmm = $3; began = $1; ready = 0 }
    / GUEST-INIT-READY/ && vmm != "" && !ready { ready = 1; init[vmm] = init[vmm] " " sprintf("%.1f", $1 - began) }
    / T-END / { total[vmm] = total[vmm] " " sprintf("%.1f", $1 - began); if ($4 != 0) failed[vmm] = failed[vmm] " " $4; vmm = "" }
    END {
        printf "L1 up: %.1f s\n", up
        for (v in total) {
            printf "%-14s to GUEST-INIT-READY %5.1f s, to exit %5.1f s  (runs: init%s; exit%s)%s\n",
                v, median(init[v]), median(total[v]), init[v], total[v], failed[v] ? "  FAILED:" failed[v] : ""
        }
    }' "$stamped" | sort
