#!/usr/bin/env bash
# debian-in-l1.sh [--rounds N] [--columns LIST] [--fio-seconds S] [--fio-mb MB] [--logs DIR]: inside the bed
# (L1), the Debian guest (Lguest.Tests/Guests/debian-image.sh; its LGUEST_DEBIAN_* variables in the
# environment) under lguest and QEMU -M pc side by side, interleaved round by round: the same root image and
# the same fio scratch disk (vdb), the same memory, one vCPU each. Each boot runs the image's fio scenario
# (randread/randwrite 4 KiB at iodepth 1 and 32, read/write 1 MiB, --direct=1, libaio) and powers off.
# stdout: BENCH<TAB>Debian guest in the nested bed<TAB>figure<TAB>unit<TAB>column<TAB>round<TAB>value
#   launch to multi-user.target (GUEST-DEBIAN-READY)   s
#   fio <job>                                           req/s (4 KiB) or MB/s (1 MiB)
# columns: lguest-aot (artifacts/lguest/lguest, io_uring), lguest-aot-threads (the same, --io-engine=threads:
#   its thread pool, as QEMU's aio=threads), lguest-aot-sync (the same, --io-engine=sync),
#   qemu-pc-threads (-drive aio=threads), qemu-pc-uring (-drive aio=io_uring); both QEMUs virtio-blk-pci with
#   MSI-X, cache=writeback (QEMU's default), qboot.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=3
columns=lguest-aot,lguest-aot-threads,qemu-pc-threads,qemu-pc-uring
fio_seconds=4
fio_mb=256
memory=512
logs=""
usage() { echo "usage: debian-in-l1.sh [--rounds N] [--columns LIST] [--fio-seconds S] [--fio-mb MB] [--logs DIR]" >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; rounds="$2"; shift 2 ;;
        --columns) [[ $# -ge 2 && "$2" =~ ^[a-z_,-]+$ ]] || usage; columns="$2"; shift 2 ;;
        --fio-seconds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; fio_seconds="$2"; shift 2 ;;
        --fio-mb) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; fio_mb="$2"; shift 2 ;;
        --logs) [[ $# -ge 2 ]] || usage; logs="$2"; shift 2 ;;
        *) usage ;;
    esac
done
say() { printf 'debian-in-l1.sh: %s\n' "$*" >&2; }
: "${LGUEST_DEBIAN_IMAGE:?run Lguest.Tests/Guests/debian-image.sh first}" "${LGUEST_DEBIAN_VMLINUZ:?}" "${LGUEST_DEBIAN_INITRD:?}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[[ -n "$logs" ]] || logs="$work/logs"
mkdir -p "$logs"
aot="$root/artifacts/lguest/lguest"
qboot=""
[[ -f /usr/share/qemu/qboot.rom ]] && qboot=/usr/share/qemu/qboot.rom
disk="$work/root.img"
scratch="$work/fio.img"
cp --sparse=always "$LGUEST_DEBIAN_IMAGE" "$disk"
# Written through, so every read finds data (a hole would read as zero pages without touching the file).
dd if=/dev/zero of="$scratch" bs=1M count="$fio_mb" status=none
section="Debian guest in the nested bed"
bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$1" "$2" "$3" "$4" "$5"; }
append="console=ttyS0 root=/dev/vda rw quiet panic=-1 lguest.scenario=fio lguest.fio.seconds=$fio_seconds"

vmm_command() { # vmm_command COLUMN: sets cmd=(...)
    local qemu=(qemu-system-x86_64 -M pc ${qboot:+-bios "$qboot"} -accel kvm -cpu host -smp 1 -m "$memory" -display none
        -serial stdio -monitor none -no-reboot -nic none -kernel "$LGUEST_DEBIAN_VMLINUZ" -initrd "$LGUEST_DEBIAN_INITRD" -append "$append")
    case "$1" in
        lguest-aot | lguest-aot-sync | lguest-aot-threads)
            cmd=("$aot" --no-reboot --block="$disk" --block="$scratch" "$memory" "$LGUEST_DEBIAN_VMLINUZ" --initrd="$LGUEST_DEBIAN_INITRD")
            [[ "$1" == lguest-aot-sync ]] && cmd+=(--io-engine=sync)
            [[ "$1" == lguest-aot-threads ]] && cmd+=(--io-engine=threads)
            cmd+=($append) ;;
        qemu-pc-threads | qemu-pc-uring)
            local aio=threads
            [[ "$1" == qemu-pc-uring ]] && aio=io_uring
            cmd=("${qemu[@]}" -drive "file=$disk,if=none,id=d0,format=raw,aio=$aio" -device virtio-blk-pci,drive=d0
                -drive "file=$scratch,if=none,id=d1,format=raw,aio=$aio" -device virtio-blk-pci,drive=d1) ;;
        *) say "unknown column $1"; return 1 ;;
    esac
}

run_once() { # run_once COLUMN ROUND
    local column="$1" round="$2" log="$logs/debian-$1-$2.log" start ready job iops kib
    vmm_command "$column" || return
    start=$EPOCHREALTIME
    timeout --kill-after=10 900 "${cmd[@]}" < /dev/null 2>&1 | while IFS= read -r line; do
        printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
    done | awk -v start="$start" '{ t = $1; sub(/^[^ ]* /, ""); printf "%.3f %s\n", t - start, $0 }' > "$log"
    ready="$(awk '/GUEST-DEBIAN-READY/ { print $1; exit }' "$log")"
    grep -q 'GUEST-DEBIAN-READY 0' "$log" || say "$column round $round: not ready or failed units: $(grep -a -m1 GUEST-DEBIAN-READY "$log") (log $log)"
    bench "launch to multi-user.target (GUEST-DEBIAN-READY)" s "$column" "$round" "${ready:-nan}"
    for job in rr1 rr32 rw1 rw32 sr sw; do
        # Anywhere on a line: the kernel's messages share the serial console and can land in front of it.
        read -r iops kib < <(awk -v m="GUEST-FIO $job " 'i = index($0, m) { split(substr($0, i + length(m)), f, " "); print f[1], f[2]; exit }' "$log")
        case "$job" in
            rr1) bench "fio randread 4 KiB iodepth 1" req/s "$column" "$round" "${iops:-nan}" ;;
            rr32) bench "fio randread 4 KiB iodepth 32" req/s "$column" "$round" "${iops:-nan}" ;;
            rw1) bench "fio randwrite 4 KiB iodepth 1" req/s "$column" "$round" "${iops:-nan}" ;;
            rw32) bench "fio randwrite 4 KiB iodepth 32" req/s "$column" "$round" "${iops:-nan}" ;;
            sr) bench "fio read 1 MiB" MB/s "$column" "$round" "$(awk -v k="${kib:-nan}" 'BEGIN { printf "%.2f", k * 1024 / 1e6 }')" ;;
            sw) bench "fio write 1 MiB" MB/s "$column" "$round" "$(awk -v k="${kib:-nan}" 'BEGIN { printf "%.2f", k * 1024 / 1e6 }')" ;;
        esac
    done
    grep -a -q "GUEST-FIO-ERROR" "$log" && say "$column round $round: $(grep -a GUEST-FIO-ERROR "$log" | head -n 2)"
}

IFS=, read -r -a cols <<< "$columns"
for ((round = 1; round <= rounds; round++)); do
    # Rotate the order each round, so no column always runs first (on a cache another warmed).
    for ((i = 0; i < ${#cols[@]}; i++)); do
        run_once "${cols[(i + round - 1) % ${#cols[@]}]}" "$round"
    done
done
e2fsck -fn "$disk" > /dev/null 2>&1 || say "the root image is not clean after the last power-off"
