#!/usr/bin/env bash
# net-l1.sh VMM [OFFLOADS [MIB]]: inside the bed (L1), the host's side of the network test. Creates a network
# namespace, runs the VMM in it with one virtio-net card on a tap whose host end is 10.0.2.1/24, boots
# the guest image with lguest.scenario=net (guest 10.0.2.2), takes the guest's MIB MiB on port 5001,
# sends them back to the guest's port 5002 (busybox nc), and deletes the namespace. No frame leaves it.
#   VMM      lguest (LGUEST: the launcher as the start of a shell command, e.g. "/path/lguest" or
#            "dotnet /path/Lguest.Cli.dll"; default the CLI from the build output) or qemu (l2-qemu.sh,
#            -netdev tap without vhost)
#   OFFLOADS on (default) or off: whether the card offers checksum and segmentation offloads
#   MIB      how much goes each way, a multiple of 4 (default 64; the scenario's lguest.net.mib)
# Prints, besides the guest's console:
#   BED-NET-RECEIVED <md5> <bytes>   what the host received
#   BED-NET-RETURNED <seconds>       how long sending it back took
# Exit status: the VMM's.
set -u
vmm="${1:?usage: net-l1.sh lguest|qemu [on|off [MIB]]}"
offloads="${2:-on}"
mib="${3:-64}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
host=10.0.2.1
guest=10.0.2.2
append="console=ttyS0 quiet lguest.scenario=net lguest.net=$guest/24,$host lguest.net.mib=$mib"

if [[ "${NET_L1_INSIDE:-}" != 1 ]]; then
    ns="lguest-net-$$"
    ip netns add "$ns" || exit 125
    trap 'ip netns del "$ns"' EXIT
    ip netns exec "$ns" ip link set lo up
    NET_L1_INSIDE=1 ip netns exec "$ns" "$0" "$@"
    exit $?
fi

work="$(mktemp -d)"
# The host's end: receive, report, send back. busybox nc half-closes when its stdin ends, so the
# listener's stdin is a pipe that stays open.
(
    busybox nc -l -p 5001 < <(sleep 100000) > "$work/received"
    echo "BED-NET-RECEIVED $(md5sum < "$work/received" | cut -d' ' -f1) $(stat -c %s "$work/received")"
    for _ in $(seq 120); do
        start="$(date +%s.%N)"
        if busybox nc "$guest" 5002 < "$work/received" 2> /dev/null; then
            echo "BED-NET-RETURNED $(awk "BEGIN { print $(date +%s.%N) - $start }")"
            break
        fi
        sleep 0.5
    done
) &
helper=$!

case "$vmm" in
    lguest)
        cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
        [[ -f "$cli" ]] || cli="$root/Lguest.Cli/bin/Debug/net10.0/Lguest.Cli.dll"
        eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
        extra=()
        [[ "$offloads" == off ]] && extra+=(--net-offloads=off)
        "${launcher[@]}" "${extra[@]}" --tunnet="$host/24" 256 "$LGUEST_GUEST_VMLINUZ" --initrd="$LGUEST_GUEST_INITRD" \
            $append
        status=$?
        ;;
    qemu)
        nic="virtio-net-pci,netdev=n0"
        [[ "$offloads" == off ]] && nic+=",csum=off,guest_csum=off,gso=off,host_tso4=off,host_tso6=off,host_ecn=off,guest_tso4=off,guest_tso6=off,guest_ecn=off"
        "$here/l2-qemu.sh" "" "" "$append" -netdev tap,id=n0,ifname=qtap0,script=no,downscript=no,vhost=off -device "$nic" &
        qemu=$!
        until ip link show qtap0 > /dev/null 2>&1 || ! kill -0 $qemu 2> /dev/null; do sleep 0.1; done
        ip addr add "$host/24" dev qtap0 && ip link set qtap0 up
        wait $qemu
        status=$?
        ;;
    *)
        echo "net-l1.sh: unknown VMM '$vmm'" >&2
        status=2
        ;;
esac
# The helper reports once its nc has seen the guest close the connection, just before the guest powers off: give it
# a few seconds to print (awk's fork and exec are slow on a TCG L1 with one CPU) before it is killed. A close that
# never came still fails the test.
for _ in $(seq 100); do kill -0 $helper 2> /dev/null || break; sleep 0.1; done
kill $helper 2> /dev/null
wait 2> /dev/null
rm -rf "$work"
exit $status
