#!/usr/bin/env bash
# vsock-in-l1.sh [--rounds N] [--mib M] [--columns LIST]: inside the bed (L1), one vsock stream each way between
# L1 and the guest image (scenarios/vsock-bench), under lguest --vsock (hybrid vsock: L1's side is a Unix socket)
# and QEMU with vhost-vsock-pci (the in-kernel device: L1's side is an AF_VSOCK socket), interleaved round by
# round. Both ends are Lguest.Tests/Guests/Vsock/vsock-peer, 256 KiB writes and reads; each figure is M MiB over
# the time the receiving end took from its first byte to the end of the stream (host to guest: the sender's time
# until the guest's sink closed).
# stdout: BENCH<TAB>vsock in the nested bed<TAB>figure<TAB>MB/s<TAB>column<TAB>round<TAB>value (nan when a run failed)
#   vsock host to guest, one stream     vsock guest to host, one stream
# columns: lguest-aot (artifacts/lguest/lguest), lguest-jit (dotnet Lguest.Cli.dll), qemu-vhost (-device
#   vhost-vsock-pci,guest-cid=3; needs /dev/vhost-vsock, the bed loads vhost_vsock).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
guests="$root/Lguest.Tests/Guests"
rounds=3
mib=64
columns=lguest-aot,qemu-vhost
usage() { echo "usage: vsock-in-l1.sh [--rounds N] [--mib M] [--columns LIST]" >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; rounds="$2"; shift 2 ;;
        --mib) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; mib="$2"; shift 2 ;;
        --columns) [[ $# -ge 2 && "$2" =~ ^[a-z,-]+$ ]] || usage; columns="$2"; shift 2 ;;
        *) usage ;;
    esac
done
say() { printf 'vsock-in-l1.sh: %s\n' "$*" >&2; }
section="vsock in the nested bed"
bench() { printf 'BENCH\t%s\t%s\tMB/s\t%s\t%s\t%s\n' "$section" "$1" "$2" "$3" "$4"; }
rate() { awk -v bytes="$1" -v seconds="$2" 'BEGIN { if (seconds > 0 && bytes > 0) printf "%.3f", bytes / seconds / 1e6; else print "nan" }'; }
peer="$("$guests/Vsock/build.sh")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
append="console=ttyS0 quiet lguest.scenario=vsock-bench lguest.vsock.mib=$mib"
[[ -c /dev/vhost-vsock ]] || say "no /dev/vhost-vsock (vhost_vsock not loaded): qemu-vhost is nan"

one_run() { # one_run COLUMN ROUND
    local column="$1" round="$2" uds="$work/v.sock" vmm to_guest from_guest log="$work/$1-$2.log" h2g g2h
    rm -f "$uds" "${uds}_6100"
    case "$column" in
        lguest-aot) "$root/artifacts/lguest/lguest" --vsock="$uds" 256 "$LGUEST_GUEST_VMLINUZ" --initrd="$LGUEST_GUEST_INITRD" $append > "$log" 2>&1 &
            to_guest="hybrid:$uds:5100"; from_guest="unix-listen:${uds}_6100"; go="hybrid:$uds:5999" ;;
        lguest-jit) dotnet "$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll" --vsock="$uds" 256 "$LGUEST_GUEST_VMLINUZ" \
                --initrd="$LGUEST_GUEST_INITRD" $append > "$log" 2>&1 &
            to_guest="hybrid:$uds:5100"; from_guest="unix-listen:${uds}_6100"; go="hybrid:$uds:5999" ;;
        qemu-vhost) "$guests/l2-qemu.sh" "" "" "$append" -device vhost-vsock-pci,guest-cid=3 > "$log" 2>&1 &
            to_guest="vsock:3:5100"; from_guest="vsock-listen:6100"; go="vsock:3:5999" ;;
        *) say "unknown column $column"; return ;;
    esac
    vmm=$!
    # lguest makes its socket once it runs (the JIT launcher takes seconds in L1): vsock-peer retries a refused
    # connect, not a missing socket file.
    [[ "$column" == lguest-* ]] && for _ in $(seq 1200); do [[ -S "$uds" ]] && break; sleep 0.1; done
    # Host to guest: the sender's time from connect to the guest's sink closing (it read everything).
    h2g="$(timeout 600 "$peer" send "$to_guest" "$mib" 2>>"$log")"
    # Guest to host: listening first, then the guest's go.
    timeout 600 "$peer" recv "$from_guest" > "$work/g2h" 2>>"$log" &
    local receiver=$!
    sleep 0.5
    timeout 60 "$peer" pipe "$go" < /dev/null > /dev/null 2>>"$log"
    wait $receiver
    g2h="$(cat "$work/g2h")"
    kill $vmm 2> /dev/null
    wait $vmm 2> /dev/null
    # VSOCK-SENT <bytes> <seconds>, VSOCK-RECEIVED <bytes> <seconds>
    set -- $h2g
    bench "vsock host to guest, one stream" "$column" "$round" "$(rate "${2:-0}" "${3:-0}")"
    set -- $g2h
    bench "vsock guest to host, one stream" "$column" "$round" "$(rate "${2:-0}" "${3:-0}")"
    grep -q "GUEST-VSOCK-BENCH-DONE" "$log" || say "$column round $round: the guest did not finish (log: $(tail -3 "$log" | tr '\n' ' '))"
}

IFS=, read -r -a order <<< "$columns"
for round in $(seq "$rounds"); do
    for column in "${order[@]}"; do
        say "round $round: $column"
        one_run "$column" "$round"
    done
    order=("${order[@]:1}" "${order[0]}") # the next round starts with the next column
done
