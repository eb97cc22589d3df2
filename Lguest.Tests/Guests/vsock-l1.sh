#!/usr/bin/env bash
# vsock-l1.sh [MIB [CHURN]]: inside the bed (L1), the host's side of the vsock tests, around two boots of the guest
# image's vsock scenario (scenarios/vsock, MIB MiB per transfer, default 64; CHURN connections one after another,
# default 10000; VsockBedTests passes 4 and 1000 unless told otherwise):
#   1. lguest --vsock=<scratch>/v.sock (LGUEST: the launcher as the start of a shell command, as for net-l1.sh),
#      with Firecracker's hybrid vsock on the host side: socat speaking the CONNECT handshake, MIB MiB each way on
#      a connection the host opens (guest port 5001) and one the guest opens (<uds>_6001), MD5 of both sides;
#      64 connections at once, each its own data; CHURN connections one after another, with lguest's descriptors,
#      threads and resident memory before and after; a guest that stops reading (port 5002) while the host writes
#      for 10 s, memory before and after; then connections cut by the guest's power-off.
#   2. VsockEmbedder (VSOCK_EMBEDDER: its command, e.g. "dotnet /path/VsockEmbedder.dll"; skipped when empty): the
#      same scenario through VsockHost, in process; it prints its own BED-VSOCK-NET-* lines.
# Prints, besides the guest's console (each part starts with BED-VSOCK-PART cli|embedder):
#   BED-VSOCK-SOCAT <the first line socat got>           BED-VSOCK-SOCAT-ECHO <the second>
#   BED-VSOCK-<H2G|G2H>-SENT <md5> <bytes>                BED-VSOCK-<H2G|G2H>-RECEIVED <md5> <bytes> <seconds>
#   BED-VSOCK-MANY <connections> <intact> <seconds>      BED-VSOCK-CHURN <connections> <intact> <seconds>
#   BED-VSOCK-RESOURCES <label> fds <n> threads <n> rss_kib <n>
#   BED-VSOCK-BLAST <bytes the host could write in 10 s to a guest that does not read>
#   BED-VSOCK-CUT <read|write|accepted> exit <status> (124: it hung until the timeout)
#   BED-VSOCK-LGUEST-EXIT <status>                        BED-VSOCK-SOCKET removed|left
# Exit status: lguest's.
set -u
mib="${1:-64}"
churn="${2:-10000}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
peer="$("$here/Vsock/build.sh")"
work="$(mktemp -d)"
uds="$work/v.sock"
append="console=ttyS0 quiet lguest.scenario=vsock lguest.vsock.mib=$mib"
trap 'rm -rf "$work"' EXIT

head -c 4194304 /dev/urandom > "$work/block"
stream() { for _ in $(seq $((mib / 4))); do cat "$work/block"; done; }

# transfer NAME ADDRESS: the stream to ADDRESS while taking what comes back, both hashed as they pass.
transfer() {
    local name="$1" address="$2" start end
    mkfifo "$work/$name.out" "$work/$name.in"
    md5sum < "$work/$name.out" > "$work/$name.out.md5" &
    md5sum < "$work/$name.in" > "$work/$name.in.md5" &
    start="$(date +%s.%N)"
    stream | tee "$work/$name.out" | "$peer" pipe "$address" | tee "$work/$name.in" | wc -c > "$work/$name.in.bytes"
    end="$(date +%s.%N)"
    wait
    echo "BED-VSOCK-$name-SENT $(cut -d' ' -f1 "$work/$name.out.md5") $((mib / 4 * 4194304))"
    echo "BED-VSOCK-$name-RECEIVED $(cut -d' ' -f1 "$work/$name.in.md5") $(cat "$work/$name.in.bytes") $(awk "BEGIN { print $end - $start }")"
}

# resources LABEL: lguest's open descriptors, threads and resident memory.
resources() {
    echo "BED-VSOCK-RESOURCES $1 fds $(ls "/proc/$pid/fd" | wc -l) threads $(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")" \
        "rss_kib $(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")"
}

echo "BED-VSOCK-PART cli"
cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
[[ -f "$cli" ]] || cli="$root/Lguest.Cli/bin/Debug/net10.0/Lguest.Cli.dll"
eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
"${launcher[@]}" --vsock="$uds" 256 "$LGUEST_GUEST_VMLINUZ" --initrd="$LGUEST_GUEST_INITRD" $append &
pid=$!
for _ in $(seq 600); do [[ -S "$uds" ]] && break; sleep 0.1; done

# socat, as Firecracker's docs/vsock.md uses it: "CONNECT <port>\n", then "OK <port>\n", then the stream (an echo).
reply=""
for _ in $(seq 240); do
    reply="$({ printf 'CONNECT 5000\n'; sleep 1; printf 'hello over vsock\n'; sleep 2; } | timeout 30 socat - "UNIX-CONNECT:$uds" 2>/dev/null)"
    [[ "$reply" == OK* ]] && break
    sleep 0.5
done
echo "BED-VSOCK-SOCAT $(printf '%s\n' "$reply" | sed -n 1p)"
echo "BED-VSOCK-SOCAT-ECHO $(printf '%s\n' "$reply" | sed -n 2p)"

transfer H2G "hybrid:$uds:5001" &
h2g=$!
transfer G2H "unix-listen:${uds}_6001" &
g2h=$!
wait $h2g $g2h

"$peer" many "hybrid:$uds:5000" 64 1 | sed 's/^VSOCK-/BED-VSOCK-/'

"$peer" churn "hybrid:$uds:5000" 200 > /dev/null # warm-up: the runtime's thread pool and code
sleep 2
resources before-churn
"$peer" churn "hybrid:$uds:5000" "$churn" | sed 's/^VSOCK-/BED-VSOCK-/'
sleep 3
resources after-churn

resources before-stall
timeout 60 "$peer" blast "hybrid:$uds:5002" 10 | sed 's/^VSOCK-/BED-VSOCK-/'
resources after-stall

timeout 120 "$peer" recv "hybrid:$uds:5003" > /dev/null 2>&1 &
read_cut=$!
timeout 120 "$peer" send "hybrid:$uds:5004" 1048576 > /dev/null 2>&1 &
write_cut=$!
timeout 120 "$peer" recv "unix-listen:${uds}_6002" > /dev/null 2>&1 &
accepted_cut=$!
sleep 2
"$peer" pipe "hybrid:$uds:5999" < /dev/null > /dev/null # the guest's go: it powers off in the middle of these
wait $read_cut; echo "BED-VSOCK-CUT read exit $?"
wait $write_cut; echo "BED-VSOCK-CUT write exit $?"
wait $accepted_cut; echo "BED-VSOCK-CUT accepted exit $?"
wait $pid
status=$?
echo "BED-VSOCK-LGUEST-EXIT $status"
[[ -e "$uds" ]] && echo "BED-VSOCK-SOCKET left" || echo "BED-VSOCK-SOCKET removed"

if [[ -n "${VSOCK_EMBEDDER:-}" ]]; then
    echo "BED-VSOCK-PART embedder"
    eval "embedder=($VSOCK_EMBEDDER)"
    "${embedder[@]}" "$LGUEST_GUEST_VMLINUZ" "$LGUEST_GUEST_INITRD" "$append" "$mib"
    echo "BED-VSOCK-EMBEDDER-EXIT $?"
fi
exit $status
