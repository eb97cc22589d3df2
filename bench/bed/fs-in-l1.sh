#!/usr/bin/env bash
# fs-in-l1.sh [--rounds N] [--columns LIST] [--mib N] [--logs DIR]: inside the bed (L1), the shared-folder
# benchmark: lguest's virtio-fs (--share) beside QEMU's 9p (-virtfs) and beside QEMU with virtiofsd (the C
# daemon Debian's QEMU 7.2 ships as /usr/lib/qemu/virtiofsd, over vhost-user-fs-pci: the same guest driver as
# lguest's), the Debian generic kernel as L2 for all (the cloud kernel has no 9p), the fs-bench guest image (bench/bed/fs-initramfs.sh), 256 MiB. Each boot gets a
# fresh tmpfs of L1's as the shared folder, holding r.bin (N MiB of random bytes) for the read; the guest's
# fs-bench scenario times a direct 1 MiB-block write and read and 1,000 create-write 4 KiB-close.
#
# stdout: BENCH<TAB>section<TAB>figure<TAB>unit<TAB>column<TAB>round<TAB>value (value nan when a boot failed);
# stderr: progress. Columns: lguest-aot, lguest-jit (virtio-fs), qemu-pc (9p) and qemu-virtiofsd (virtio-fs,
# virtiofsd's defaults: cache=auto, a thread pool); default lguest-aot,qemu-pc,qemu-virtiofsd.
# Rounds rotate the order of the columns, as run-in-l1.sh's do.
#   BENCH_FS_KERNEL, BENCH_FS_INITRD   the generic bzImage and the fs-bench image (set by bed-bench.sh)
#   BENCH_LGUEST_AOT, BENCH_LGUEST_DLL  the launchers (defaults as run-in-l1.sh's)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=3
columns=lguest-aot,qemu-pc,qemu-virtiofsd
mib=32
logs=""
usage() { echo "usage: fs-in-l1.sh [--rounds N] [--columns LIST] [--mib N] [--logs DIR]" >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --rounds) [[ $# -ge 2 ]] || usage; rounds="$2"; shift 2 ;;
        --columns) [[ $# -ge 2 ]] || usage; columns="$2"; shift 2 ;;
        --mib) [[ $# -ge 2 ]] || usage; mib="$2"; shift 2 ;;
        --logs) [[ $# -ge 2 ]] || usage; logs="$2"; shift 2 ;;
        *) usage ;;
    esac
done
say() { printf 'fs-in-l1.sh: %s\n' "$*" >&2; }
: "${BENCH_FS_KERNEL:?the generic kernel (bed-bench.sh sets BENCH_FS_KERNEL)}" "${BENCH_FS_INITRD:?the fs-bench image (BENCH_FS_INITRD)}"
aot="${BENCH_LGUEST_AOT:-$root/artifacts/lguest/lguest}"
dll="${BENCH_LGUEST_DLL:-$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll}"
virtiofsd=/usr/lib/qemu/virtiofsd
qboot=""
[[ -f /usr/share/qemu/qboot.rom ]] && qboot=/usr/share/qemu/qboot.rom
section="Nested bed: shared folders, virtio-fs beside QEMU 9p and QEMU with virtiofsd (generic kernel; emulated time, ratios only)"
work="$(mktemp -d)"
[[ -n "$logs" ]] || logs="$work/logs"
mkdir -p "$logs" "$work/share"
cleanup() {
    [[ -n "${daemon:-}" ]] && kill "$daemon" 2> /dev/null
    mountpoint -q "$work/share" && umount "$work/share"
    rm -rf "$work"
}
trap cleanup EXIT
bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$1" "$2" "$3" "$4" "$5"; }
figures=("sequential write, 1 MiB blocks, O_DIRECT|MB/s" "sequential read, 1 MiB blocks, O_DIRECT|MB/s"
    "1,000 x create, write 4 KiB, close|files/s")

available() {
    case "$1" in
        lguest-aot) [[ -x "$aot" ]] ;;
        lguest-jit) [[ -f "$dll" ]] && command -v dotnet > /dev/null ;;
        qemu-pc) command -v qemu-system-x86_64 > /dev/null ;;
        qemu-virtiofsd) command -v qemu-system-x86_64 > /dev/null && [[ -x "$virtiofsd" ]] ;;
        *) return 1 ;;
    esac
}

# fs_once COLUMN ROUND: one boot with a fresh share; three BENCH lines.
fs_once() {
    local column="$1" round="$2" log="$logs/fs-$1-$2.log" append type md5 status
    mountpoint -q "$work/share" && umount "$work/share"
    mount -t tmpfs -o size=$((mib * 3 + 64))m lguest-fs-bench "$work/share"
    head -c $((mib * 1048576)) /dev/urandom > "$work/share/r.bin"
    md5="$(md5sum < "$work/share/r.bin" | cut -d' ' -f1)"
    type=virtiofs
    [[ "$column" == qemu-pc ]] && type=9p
    append="panic=-1 console=ttyS0 quiet lguest.scenario=fs-bench lguest.fs.type=$type lguest.fs.mib=$mib lguest.fs.md5=$md5"
    local sock="$work/virtiofsd.sock" waited
    local lguest=(256 "$BENCH_FS_KERNEL" --initrd="$BENCH_FS_INITRD" --share="$work/share:share" --no-reboot $append)
    case "$column" in
        lguest-aot) cmd=("$aot" "${lguest[@]}") ;;
        lguest-jit) cmd=(dotnet "$dll" "${lguest[@]}") ;;
        qemu-pc) cmd=(qemu-system-x86_64 -M pc ${qboot:+-bios "$qboot"} -accel kvm -cpu host -m 256 -display none -serial stdio
            -monitor none -no-reboot -nic none -kernel "$BENCH_FS_KERNEL" -initrd "$BENCH_FS_INITRD" -append "$append"
            -virtfs "local,path=$work/share,mount_tag=share,security_model=none,id=fs0") ;;
        qemu-virtiofsd)
            # vhost-user needs the guest's RAM in shared memory; the daemon serves one connection, then exits.
            rm -f "$sock"
            "$virtiofsd" --socket-path="$sock" -o source="$work/share" -o sandbox=chroot -o log_level=warn \
                > "$logs/virtiofsd-$round.log" 2>&1 &
            daemon=$!
            waited=0
            while [[ ! -S "$sock" ]] && ((waited < 300)); do
                sleep 0.1
                waited=$((waited + 1))
            done
            cmd=(qemu-system-x86_64 -M pc ${qboot:+-bios "$qboot"} -accel kvm -cpu host -m 256 -display none -serial stdio
                -monitor none -no-reboot -nic none -kernel "$BENCH_FS_KERNEL" -initrd "$BENCH_FS_INITRD" -append "$append"
                -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem
                -chardev "socket,id=vfs,path=$sock" -device vhost-user-fs-pci,chardev=vfs,tag=share) ;;
    esac
    timeout --kill-after=10 1800 "${cmd[@]}" < /dev/null > "$log" 2>&1
    status=$?
    if [[ -n "${daemon:-}" ]]; then
        kill "$daemon" 2> /dev/null
        wait "$daemon" 2> /dev/null
        daemon=""
    fi
    grep -a -q 'GUEST-SCENARIO-EXIT 0' "$log" || say "$column round $round: the guest failed (VMM status $status; log $log): $(grep -a -o 'GUEST-FS-BENCH-ERROR.*' "$log" | tr -d '\r')"
    local kind figure unit value
    for kind in write read create; do
        case "$kind" in
            write) figure="${figures[0]}" ;;
            read) figure="${figures[1]}" ;;
            create) figure="${figures[2]}" ;;
        esac
        unit="${figure#*|}"
        value="$(tr -d '\r' < "$log" | awk -v k="$kind" '$1 == "GUEST-FS-BENCH" && $2 == k && $4 > 0 {
            if (k == "create") printf "%.1f", $3 / $4; else printf "%.3f", $3 / $4 / 1e6; exit }')"
        bench "${figure%|*}" "$unit" "$column" "$round" "${value:-nan}"
    done
}

IFS=, read -r -a wanted <<< "$columns"
cols=()
for column in "${wanted[@]}"; do
    if available "$column"; then
        cols+=("$column")
    else
        say "$column: not available here, its figures are nan"
        for round in $(seq "$rounds"); do
            for figure in "${figures[@]}"; do bench "${figure%|*}" "${figure#*|}" "$column" "$round" nan; done
        done
    fi
done
say "columns ${cols[*]}; rounds $rounds; $mib MiB each way; kernel $BENCH_FS_KERNEL"
for round in $(seq "$rounds"); do
    n=${#cols[@]}
    order=()
    for ((i = 0; i < n; i++)); do order+=("${cols[$(((round - 1 + i) % n))]}"); done
    say "round $round: ${order[*]}"
    for column in "${order[@]}"; do fs_once "$column" "$round"; done
done
