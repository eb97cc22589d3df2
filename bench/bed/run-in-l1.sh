#!/usr/bin/env bash
# run-in-l1.sh [options]: inside the nested bed (L1), lguest and QEMU side by side as the L2 VMM on the same
# guest (the Debian cloud kernel and the project's guest image), with the same memory and the same disk file,
# interleaved round by round; every measurement is one line on stdout:
#   BENCH<TAB>section<TAB>figure<TAB>unit<TAB>column<TAB>round<TAB>value
# column: lguest-aot (artifacts/lguest/lguest), lguest-jit (dotnet Lguest.Cli.dll), qemu-pc (-M pc), qemu-microvm,
# lguest-aot-seccomp-off (lguest-aot with --seccomp=off; never a default)
# (-M microvm,pcie=on: the same virtio-pci devices on a PCIe host bridge), and for diagnosis only, when named,
# qemu-pc-intx (-M pc, devices without MSI-X, as lguest's); value: a number, or nan when that
# launch failed, timed out or its data did not check out (the reason goes to stderr).
#
# Per round and column (the column order rotates each round, so a drift in L1's speed is shared out):
#   boot     the poweroff scenario, bzImage and PVH vmlinux: launch to the guest's GUEST-INIT-READY, and launch
#            to the VMM's exit after the guest's poweroff (s; the launch includes the JIT's start-up)
#   io       one boot of the bench-io scenario with a disk and a network card: dd on /dev/vda with direct
#            reads in 1 MiB and 4 KiB blocks (MB/s), then TCP over the tap (busybox nc), --tcp-mib guest to
#            host and back (MB/s; a figure only when the MD5 and byte count of the far side match)
# Times are L1's (and for dd and guest-to-host TCP, L2's) clocks, which under TCG are emulated time: only the
# ratios between columns mean something.
#
# Options:
#   --rounds N         rounds (default 5)
#   --parts LIST       boot,io (default both)
#   --columns LIST     default lguest-aot,lguest-jit,qemu-pc,qemu-microvm
#   --dd M1,M4         MiB read in 1 MiB blocks and in 4 KiB blocks per io boot (default 32,2)
#   --tcp-mib N        MiB sent each way per io boot, a multiple of 4 (default 4)
#   --memory MB        L2 memory (default 256)
#   --disk-mb MB       size of the disk file (default 128; made once in L1's memory, so no VMM reads 9p)
#   --logs DIR         keep every launch's console in DIR (default: a temporary folder, removed)
#   --profile TOOL     diagnosis, not for figures: run each VMM under TOOL and report on stderr after each launch:
#                      threads (CPU time per VMM thread), strace (strace -f -c: system calls), perf-kvm (perf kvm
#                      stat: the guest's exits by reason, port and MMIO address)
# Environment (bed.sh exports the first three): LGUEST_GUEST_VMLINUZ, LGUEST_GUEST_VMLINUX, LGUEST_GUEST_INITRD,
# BENCH_LGUEST_AOT (default artifacts/lguest/lguest), BENCH_LGUEST_DLL (default the Release Lguest.Cli.dll).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
section='Nested bed: real Linux (emulated time, ratios only)'
rounds=5
parts=boot,io
columns=lguest-aot,lguest-jit,qemu-pc,qemu-microvm
dd_spec=32,2
tcp_mib=4
memory=256
disk_mb=128
logs=""
profile=""
launch_timeout=600
usage() { echo "usage: run-in-l1.sh [--rounds N] [--parts boot,io] [--columns LIST] [--dd M1,M4] [--tcp-mib N] [--memory MB] [--disk-mb MB] [--logs DIR] [--profile threads|strace|perf-kvm]" >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; rounds="$2"; shift 2 ;;
        --parts) [[ $# -ge 2 ]] || usage; parts="$2"; shift 2 ;;
        --columns) [[ $# -ge 2 ]] || usage; columns="$2"; shift 2 ;;
        --dd) [[ $# -ge 2 && "$2" =~ ^[0-9]+,[0-9]+$ ]] || usage; dd_spec="$2"; shift 2 ;;
        --tcp-mib) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] && (( $2 % 4 == 0 )) || usage; tcp_mib="$2"; shift 2 ;;
        --memory) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; memory="$2"; shift 2 ;;
        --disk-mb) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; disk_mb="$2"; shift 2 ;;
        --logs) [[ $# -ge 2 ]] || usage; logs="$2"; shift 2 ;;
        --profile) [[ $# -ge 2 && "$2" =~ ^(threads|strace|perf-kvm)$ ]] || usage; profile="$2"; shift 2 ;;
        *) usage ;;
    esac
done
say() { printf 'run-in-l1.sh: %s\n' "$*" >&2; }
for var in LGUEST_GUEST_VMLINUZ LGUEST_GUEST_VMLINUX LGUEST_GUEST_INITRD; do
    [[ -n "${!var:-}" ]] || { say "$var unset: run me through bed.sh (bench/bed/bed-bench.sh)"; exit 2; }
done
[[ -c /dev/kvm ]] || { say "no /dev/kvm here"; exit 1; }

# Everything runs in a network namespace of its own: the io boots' taps and listeners live and die there.
if [[ "${BENCH_BED_NETNS:-}" == "" ]]; then
    ns="bench-bed-$$"
    ip netns add "$ns" || { say "ip netns add failed"; exit 1; }
    trap 'ip netns del "$ns"' EXIT
    ip netns exec "$ns" ip link set lo up
    BENCH_BED_NETNS="$ns" ip netns exec "$ns" "$0" --rounds "$rounds" --parts "$parts" --columns "$columns" \
        --dd "$dd_spec" --tcp-mib "$tcp_mib" --memory "$memory" --disk-mb "$disk_mb" \
        ${logs:+--logs "$logs"} ${profile:+--profile "$profile"}
    exit $?
fi

aot="${BENCH_LGUEST_AOT:-$root/artifacts/lguest/lguest}"
dll="${BENCH_LGUEST_DLL:-$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll}"
qboot=""
[[ -f /usr/share/qemu/qboot.rom ]] && qboot=/usr/share/qemu/qboot.rom
work="$(mktemp -d)"
[[ -n "$logs" ]] || logs="$work/logs"
mkdir -p "$logs"
trap 'rm -rf "$work"' EXIT

# The disk: allocated (not sparse) in L1's memory, the same file for every VMM.
disk="$work/disk.img"
dd if=/dev/zero of="$disk" bs=1M count="$disk_mb" status=none
(( ${dd_spec%%,*} <= disk_mb && ${dd_spec#*,} <= disk_mb )) || { say "--dd reads more than the disk holds"; exit 2; }

if [[ "$profile" == perf-kvm ]] && ! mountpoint -q /sys/kernel/tracing; then
    mount -t tracefs nodev /sys/kernel/tracing || say "no tracefs: perf kvm stat will fail"
fi

host_ip=10.0.2.1
guest_ip=10.0.2.2
tcp_bytes=$((tcp_mib * 1048576))

bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$1" "$2" "$3" "$4" "$5"; }

# vmm_command COLUMN KERNEL APPEND NET: sets cmd=(...) to launch COLUMN; NET=1 adds the network card.
# Devices: the disk (virtio-blk-pci) and, with NET, virtio-net-pci on a tap (QEMU: qtap0, no vhost; lguest
# --tunnet makes and addresses its own). lguest's console is its virtio console and COM1; QEMU's its serial.
vmm_command() {
    local column="$1" kernel="$2" append="panic=-1 $3" net="$4"
    local lguest_args=("$memory" "$kernel" --initrd="$LGUEST_GUEST_INITRD" --block="$disk")
    (( net )) && lguest_args+=(--tunnet="$host_ip/24")
    # No pci=noacpi: the DSDT declares the PCI host bridge, and on this kernel (no MP table support)
    # pci=noacpi would also drop the IOAPIC and local APIC, leaving the guest on the 8259 PIC and the PIT.
    lguest_args+=($append)
    # debug-threads: QEMU names its threads (vCPU, I/O), which --profile threads reports.
    local qemu_args=(-accel kvm -cpu host -m "$memory" -name bench,debug-threads=on -display none -serial stdio -monitor none -no-reboot
        -nic none -kernel "$kernel" -initrd "$LGUEST_GUEST_INITRD" -append "$append"
        -drive "file=$disk,if=none,id=d0,format=raw" -device virtio-blk-pci,drive=d0)
    (( net )) && qemu_args+=(-netdev tap,id=n0,ifname=qtap0,script=no,downscript=no,vhost=off -device virtio-net-pci,netdev=n0)
    case "$column" in
        lguest-aot) cmd=("$aot" "${lguest_args[@]}") ;;
        lguest-jit) cmd=(dotnet "$dll" "${lguest_args[@]}") ;;
        # Not a default column: the same binary without its system-call filter, for the filter's cost (issue 21).
        lguest-aot-seccomp-off) cmd=("$aot" --seccomp=off "${lguest_args[@]}") ;;
        qemu-pc) cmd=(qemu-system-x86_64 -M pc ${qboot:+-bios "$qboot"} "${qemu_args[@]}") ;;
        qemu-microvm) cmd=(qemu-system-x86_64 -M microvm,pcie=on "${qemu_args[@]}") ;;
        qemu-pc-intx)
            # Diagnosis only (never a default column): QEMU's devices without MSI-X, interrupting through INTx
            # and the ISR register as lguest's do.
            cmd=(qemu-system-x86_64 -M pc ${qboot:+-bios "$qboot"} "${qemu_args[@]}")
            cmd=("${cmd[@]/#virtio-blk-pci,drive=d0/virtio-blk-pci,drive=d0,vectors=0}")
            cmd=("${cmd[@]/#virtio-net-pci,netdev=n0/virtio-net-pci,netdev=n0,vectors=0}") ;;
        *) say "unknown column $column"; return 1 ;;
    esac
}

available() {
    case "$1" in
        lguest-aot | lguest-aot-seccomp-off) [[ -x "$aot" ]] ;;
        lguest-jit) [[ -f "$dll" ]] && command -v dotnet > /dev/null ;;
        qemu-*) command -v qemu-system-x86_64 > /dev/null ;;
        *) return 1 ;;
    esac
}

# launch LOG NET: runs "${cmd[@]}" with its console (stdout and stderr) stamped line by line with L1's clock
# into LOG ("<seconds since launch> <line>"; the shell stamps, awk subtracts afterwards), and the VMM's exit as
# "<seconds> VMM-EXIT <status>". With NET, QEMU's tap gets the host's address when it appears. A launch longer
# than launch_timeout is killed. With --profile, the VMM runs under the profiler (see profile_report).
launch() {
    local log="$1" net="$2" start prefix=()
    case "$profile" in
        strace) prefix=(strace -f -c -o "$log.strace" --) ;;
        perf-kvm) prefix=(perf kvm stat record -q -o "$log.perf" --) ;;
    esac
    start=$EPOCHREALTIME
    {
        timeout --kill-after=10 "$launch_timeout" "${prefix[@]}" "${cmd[@]}" < /dev/null 2>&1 &
        local vmm=$!
        if (( net )) && [[ "${cmd[0]}" == qemu-system-x86_64 ]]; then
            until ip link show qtap0 > /dev/null 2>&1 || ! kill -0 $vmm 2> /dev/null; do sleep 0.05; done
            ip addr add "$host_ip/24" dev qtap0 2> /dev/null && ip link set qtap0 up
        fi
        [[ "$profile" == threads ]] && sample_threads $vmm "$log.threads" > /dev/null &
        wait $vmm
        echo "VMM-EXIT $?"
    } | while IFS= read -r line; do
        printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
    done | awk -v start="$start" '{ t = $1; sub(/^[^ ]* /, ""); printf "%.3f %s\n", t - start, $0 }' > "$log"
    [[ -z "$profile" ]] || profile_report "$log"
}

# sample_threads TIMEOUT-PID FILE: while the VMM (timeout's child) runs, keeps in FILE its threads' CPU times as
# last seen, once a second: "<name> <user s> <system s>" (a vCPU thread's guest time counts as user time).
sample_threads() {
    local pid="" t
    while kill -0 "$1" 2> /dev/null; do
        [[ -n "$pid" ]] || pid="$(ps -o pid= --ppid "$1" | head -n 1 | tr -d ' ')"
        if [[ -n "$pid" && -d "/proc/$pid" ]]; then
            for t in /proc/"$pid"/task/*; do
                printf '%s %s\n' "$(tr ' ' _ < "$t/comm")" "$(sed 's/.*) //' "$t/stat" | cut -d' ' -f12,13)"
            done 2> /dev/null > "$2.tmp" && mv "$2.tmp" "$2"
        fi
        sleep 1
    done
}

# profile_report LOG: the profiler's findings for that launch, on stderr.
profile_report() {
    local log="$1" tick
    tick="$(getconf CLK_TCK)"
    say "profile ($profile) of $(basename "$log" .log):"
    case "$profile" in
        threads)
            awk -v hz="$tick" '{ u[$1] += $2; k[$1] += $3; n[$1]++ } END {
                for (t in u) printf "    %-20s x%-2d user %7.2f s  system %7.2f s\n", t, n[t], u[t] / hz, k[t] / hz }' \
                "$log.threads" 2> /dev/null | sort -k4 -n -r >&2 ;;
        strace) head -n 30 "$log.strace" | sed 's/^/    /' >&2 ;;
        perf-kvm)
            for event in vmexit ioport mmio; do
                PAGER=cat perf --no-pager kvm -i "$log.perf" stat report --event=$event 2>&1 | grep -v '^$' | head -n 25 | sed 's/^/    /' >&2
            done ;;
    esac
}

# stamp LOG MARKER: the seconds of MARKER's first line in LOG, or nothing.
stamp() { awk -v m="$2" 'index($0, m) { print $1; exit }' "$1"; }

# field LOG PATTERN N: field N of the first line matching PATTERN (fields after the stamp), or nothing.
field() { awk -v p="$2" -v n="$3" '$0 ~ p { print $(n + 1); exit }' "$1"; }

rate() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.3f", b / s / 1e6; else print "nan" }'; }

or_nan() { [[ -n "$1" ]] && echo "$1" || echo nan; }

boot_once() { # boot_once COLUMN ROUND FORMAT
    local column="$1" round="$2" format="$3" kernel label log ready exited status
    kernel="$LGUEST_GUEST_VMLINUZ"; label=bzImage
    [[ "$format" == pvh ]] && { kernel="$LGUEST_GUEST_VMLINUX"; label="PVH vmlinux"; }
    log="$logs/boot-$format-$column-$round.log"
    vmm_command "$column" "$kernel" "console=ttyS0 quiet lguest.scenario=poweroff" 0 || return
    launch "$log" 0
    ready="$(stamp "$log" GUEST-INIT-READY)"
    exited="$(stamp "$log" VMM-EXIT)"
    status="$(field "$log" VMM-EXIT 2)"
    if [[ -z "$ready" || "$status" != 0 ]]; then
        say "$column round $round $label: no GUEST-INIT-READY or exit status ${status:-?} (log: $log)"
        tail -n 5 "$log" | sed 's/^/    /' >&2
        exited=""
    fi
    bench "launch to /init ready, $label" s "$column" "$round" "$(or_nan "$ready")"
    bench "launch to exit after poweroff, $label" s "$column" "$round" "$(or_nan "$exited")"
}

io_once() { # io_once COLUMN ROUND
    local column="$1" round="$2" log helper sent_md5 sent_s host_md5 host_bytes back_md5 back_bytes back_s v
    log="$logs/io-$column-$round.log"
    vmm_command "$column" "$LGUEST_GUEST_VMLINUX" \
        "console=ttyS0 quiet lguest.scenario=bench-io lguest.dd=$dd_spec lguest.net=$guest_ip/24,$host_ip lguest.net.mib=$tcp_mib" 1 || return
    # The host's end of the TCP test, as net-l1.sh's: take the guest's bytes on port 5001, then send them back
    # to the guest's port 5002, timed. busybox nc half-closes when its stdin ends: the listener's stdin is a
    # FIFO this subshell holds open for writing, so it never ends (and no process is left holding it).
    rm -f "$work/received" "$work/host.out" "$work/hold"
    mkfifo "$work/hold"
    (
        exec 3<> "$work/hold"
        busybox nc -l -p 5001 <&3 > "$work/received"
        exec 3>&-
        echo "HOST-RECEIVED $(md5sum < "$work/received" | cut -d' ' -f1) $(stat -c %s "$work/received")"
        for _ in $(seq 200); do
            local start=$EPOCHREALTIME
            if busybox nc "$guest_ip" 5002 < "$work/received" 2> /dev/null; then
                echo "HOST-RETURNED $(awk "BEGIN { printf \"%.6f\", $EPOCHREALTIME - $start }")"
                break
            fi
            sleep 0.2
        done
    ) > "$work/host.out" 2>&1 &
    helper=$!
    launch "$log" 1
    # A guest that never connected leaves the helper in nc: end its children (by parent id), then it.
    pkill -P $helper 2> /dev/null
    kill $helper 2> /dev/null
    wait $helper 2> /dev/null
    cat "$work/host.out" | sed 's/^/0 /' >> "$log"

    local dd1 dd4 status
    status="$(field "$log" VMM-EXIT 2)"
    [[ "$status" == 0 ]] || { say "$column round $round io: VMM exit status ${status:-?} (log: $log)"; tail -n 8 "$log" | sed 's/^/    /' >&2; }
    dd1="$(awk '$2 == "GUEST-DD" && $3 == 1048576 { print $4, $5; exit }' "$log")"
    dd4="$(awk '$2 == "GUEST-DD" && $3 == 4096 { print $4, $5; exit }' "$log")"
    v=nan; [[ -n "$dd1" ]] && v="$(rate $dd1)"
    bench "dd 1 MiB direct reads, /dev/vda" MB/s "$column" "$round" "$v"
    v=nan; [[ -n "$dd4" ]] && v="$(rate $dd4)"
    bench "dd 4 KiB direct reads, /dev/vda" MB/s "$column" "$round" "$v"
    [[ -n "$dd1" && -n "$dd4" ]] || { say "$column round $round: dd failed (log: $log)"; grep -a GUEST-DD "$log" | sed 's/^/    /' >&2; }

    sent_md5="$(field "$log" '^[0-9.]+ GUEST-NET-SENT ' 2)"
    sent_s="$(field "$log" '^[0-9.]+ GUEST-NET-SENT ' 4)"
    host_md5="$(field "$log" '^0 HOST-RECEIVED ' 2)"
    host_bytes="$(field "$log" '^0 HOST-RECEIVED ' 3)"
    back_md5="$(field "$log" '^[0-9.]+ GUEST-NET-RECEIVED ' 2)"
    back_bytes="$(field "$log" '^[0-9.]+ GUEST-NET-RECEIVED ' 3)"
    back_s="$(field "$log" '^0 HOST-RETURNED ' 2)"
    v=nan
    if [[ -n "$sent_md5" && "$host_md5" == "$sent_md5" && "$host_bytes" == "$tcp_bytes" ]]; then
        v="$(rate "$tcp_bytes" "$sent_s")"
    else
        say "$column round $round: guest-to-host TCP unchecked (sent ${sent_md5:-?}, host got ${host_md5:-?} ${host_bytes:-?} bytes; log: $log)"
    fi
    bench "TCP guest to host, tap" MB/s "$column" "$round" "$v"
    v=nan
    if [[ -n "$sent_md5" && "$back_md5" == "$sent_md5" && "$back_bytes" == "$tcp_bytes" && -n "$back_s" ]]; then
        v="$(rate "$tcp_bytes" "$back_s")"
    else
        say "$column round $round: host-to-guest TCP unchecked (guest got ${back_md5:-?} ${back_bytes:-?} bytes; log: $log)"
    fi
    bench "TCP host to guest, tap" MB/s "$column" "$round" "$v"
}

IFS=, read -r -a wanted <<< "$columns"
IFS=, read -r -a part_list <<< "$parts"
cols=()
for column in "${wanted[@]}"; do
    if available "$column"; then
        cols+=("$column")
    else
        say "$column: not available here (no binary), its figures are nan"
        for round in $(seq "$rounds"); do
            for format in bzImage "PVH vmlinux"; do
                [[ ",$parts," == *,boot,* ]] || continue
                bench "launch to /init ready, $format" s "$column" "$round" nan
                bench "launch to exit after poweroff, $format" s "$column" "$round" nan
            done
            if [[ ",$parts," == *,io,* ]]; then
                for figure in "dd 1 MiB direct reads, /dev/vda" "dd 4 KiB direct reads, /dev/vda" \
                    "TCP guest to host, tap" "TCP host to guest, tap"; do
                    bench "$figure" MB/s "$column" "$round" nan
                done
            fi
        done
    fi
done
say "columns ${cols[*]}; rounds $rounds; parts $parts; L2 ${memory} MiB; disk ${disk_mb} MiB; dd $dd_spec MiB; TCP $tcp_mib MiB"
[[ -x "$aot" ]] && say "lguest-aot: $aot ($(date -r "$aot" '+%F %T'))"

for round in $(seq "$rounds"); do
    # Rotate the order: round r starts with column r mod n.
    n=${#cols[@]}
    order=()
    for ((i = 0; i < n; i++)); do order+=("${cols[$(((round - 1 + i) % n))]}"); done
    say "round $round: ${order[*]}"
    for part in "${part_list[@]}"; do
        case "$part" in
            boot)
                for format in bzimage pvh; do
                    for column in "${order[@]}"; do boot_once "$column" "$round" "$format"; done
                done ;;
            io)
                for column in "${order[@]}"; do io_once "$column" "$round"; done ;;
            *) say "unknown part $part"; exit 2 ;;
        esac
    done
done
