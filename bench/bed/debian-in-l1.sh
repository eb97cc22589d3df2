#!/usr/bin/env bash
# debian-in-l1.sh [--rounds N] [--columns LIST] [--fio-seconds S] [--fio-jobs LIST] [--fio-mb MB] [--images ext4|tmpfs] [--stats] [--logs DIR]: inside the bed
# (L1), the Debian guest (Lguest.Tests/Guests/debian-image.sh; its LGUEST_DEBIAN_* variables in the
# environment) under lguest and QEMU -M pc side by side, interleaved round by round: the same root image and
# the same fio scratch disk (vdb), the same memory, one vCPU each. Each boot runs the image's fio scenario
# (randread/randwrite 4 KiB at iodepth 1 and 32, read/write 1 MiB, --direct=1, libaio) and powers off.
# stdout: BENCH<TAB>Debian guest in the nested bed<TAB>figure<TAB>unit<TAB>column<TAB>round<TAB>value
#   launch to multi-user.target (GUEST-DEBIAN-READY)   s
#   fio <job>                                           req/s (4 KiB) or MB/s (1 MiB)
# columns: lguest-aot (artifacts/lguest/lguest, io_uring), lguest-aot-threads (the same, --io-engine=threads:
#   its thread pool, as QEMU's aio=threads), lguest-aot-sync (the same, --io-engine=sync), lguest-aot-ioeventfd (the
#   same, --io-on-vcpu=off: every notification wakes the disk's worker through KVM's ioeventfd),
#   qemu-pc-threads (-drive aio=threads), qemu-pc-uring (-drive aio=io_uring); both QEMUs virtio-blk-pci with
#   MSI-X, cache=writeback (QEMU's default), qboot.
# --fio-jobs: only these of the scenario's jobs (rr1,rr32,rw1,rw32,sr,sw; default all); the others' lines are nan.
# --images: where L1 keeps the two image files. ext4 (default): an ext4 file system on a loop device made here
#   (its modules from LGUEST_GENERIC_MODULES, the L1 kernel's tree), as a host's images sit on a real file system
#   that can say "would block" (FMODE_NOWAIT), so io_uring serves cached reads inline rather than in io-wq.
#   tmpfs: L1's tmpfs, as before issue 20's fourth pass (every io_uring read there goes through io-wq).
# --stats: where the time goes, per fio job (stderr, "debian-in-l1.sh: stats ..."): L1's KVM exits (all, MMIO, port
#   I/O; debugfs), halt wake-ups, the VMM's context switches (every thread's, /proc) and its read and write system
#   calls (/proc/PID/io), each over the job's requests.
#   Sampled every 0.5 s during the boot; a job's window is its last --fio-seconds before its GUEST-FIO line.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=3
columns=lguest-aot,lguest-aot-threads,qemu-pc-threads,qemu-pc-uring
fio_seconds=4
fio_mb=256
memory=512
logs=""
images=ext4
stats=0
fio_jobs=""
usage() { echo "usage: debian-in-l1.sh [--rounds N] [--columns LIST] [--fio-seconds S] [--fio-jobs LIST] [--fio-mb MB] [--images ext4|tmpfs] [--stats] [--logs DIR]" >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; rounds="$2"; shift 2 ;;
        --columns) [[ $# -ge 2 && "$2" =~ ^[a-z_,-]+$ ]] || usage; columns="$2"; shift 2 ;;
        --fio-seconds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; fio_seconds="$2"; shift 2 ;;
        --fio-jobs) [[ $# -ge 2 && "$2" =~ ^(rr1|rr32|rw1|rw32|sr|sw)(,(rr1|rr32|rw1|rw32|sr|sw))*$ ]] || usage; fio_jobs="$2"; shift 2 ;;
        --fio-mb) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; fio_mb="$2"; shift 2 ;;
        --images) [[ $# -ge 2 && "$2" =~ ^(ext4|tmpfs)$ ]] || usage; images="$2"; shift 2 ;;
        --stats) stats=1; shift ;;
        --logs) [[ $# -ge 2 ]] || usage; logs="$2"; shift 2 ;;
        *) usage ;;
    esac
done
say() { printf 'debian-in-l1.sh: %s\n' "$*" >&2; }
: "${LGUEST_DEBIAN_IMAGE:?run Lguest.Tests/Guests/debian-image.sh first}" "${LGUEST_DEBIAN_VMLINUZ:?}" "${LGUEST_DEBIAN_INITRD:?}"

work="$(mktemp -d)"
loop=""
cleanup() {
    if [[ -n "$loop" ]]; then
        umount "$work/fs" 2> /dev/null
        losetup -d "$loop" 2> /dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
[[ -n "$logs" ]] || logs="$work/logs"
mkdir -p "$logs"
aot="$root/artifacts/lguest/lguest"
qboot=""
[[ -f /usr/share/qemu/qboot.rom ]] && qboot=/usr/share/qemu/qboot.rom
images_dir="$work"
if [[ "$images" == ext4 ]]; then
    : "${LGUEST_GENERIC_MODULES:?the modules folder of the L1 kernel (kernels.sh), for loop and ext4}"
    # L1's initramfs loads only what the bed needs; busybox insmod knows no dependencies, so in their order.
    while IFS= read -r module; do
        insmod "$LGUEST_GENERIC_MODULES/$module" 2> /dev/null || grep -q "^$(basename "${module%%.ko*}" | tr - _) " /proc/modules ||
            { say "insmod $module failed"; exit 1; }
    done < <("$root/Lguest.Tests/Guests/resolve-modules.sh" "$LGUEST_GENERIC_MODULES" loop crc32c_generic ext4 2> /dev/null)
    # Room for the root image's blocks, the scratch disk and ext4's own; the backing file lives in L1's memory.
    backing_mb=$(( $(du -m "$LGUEST_DEBIAN_IMAGE" | cut -f1) + fio_mb + 256 ))
    truncate -s "${backing_mb}M" "$work/ext4.img"
    mkfs.ext4 -q -F "$work/ext4.img" || { say "mkfs.ext4 failed"; exit 1; }
    loop="$(losetup --find --show "$work/ext4.img")" || { say "losetup failed"; exit 1; }
    mkdir -p "$work/fs"
    mount -t ext4 "$loop" "$work/fs" || { say "mounting $loop failed"; exit 1; }
    images_dir="$work/fs"
fi
say "images on $images ($(findmnt -n -o FSTYPE --target "$images_dir")), L1 CPUs $(nproc)"
disk="$images_dir/root.img"
scratch="$images_dir/fio.img"
cp --sparse=always "$LGUEST_DEBIAN_IMAGE" "$disk"
# Written through, so every read finds data (a hole would read as zero pages without touching the file).
dd if=/dev/zero of="$scratch" bs=1M count="$fio_mb" status=none
section="Debian guest in the nested bed"
bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$1" "$2" "$3" "$4" "$5"; }
append="console=ttyS0 root=/dev/vda rw quiet panic=-1 lguest.scenario=fio lguest.fio.seconds=$fio_seconds${fio_jobs:+ lguest.fio.jobs=$fio_jobs}"

vmm_command() { # vmm_command COLUMN: sets cmd=(...)
    local qemu=(qemu-system-x86_64 -M pc ${qboot:+-bios "$qboot"} -accel kvm -cpu host -smp 1 -m "$memory" -display none
        -serial stdio -monitor none -no-reboot -nic none -kernel "$LGUEST_DEBIAN_VMLINUZ" -initrd "$LGUEST_DEBIAN_INITRD" -append "$append")
    case "$1" in
        lguest-aot | lguest-aot-sync | lguest-aot-threads | lguest-aot-ioeventfd)
            cmd=("$aot" --no-reboot --block="$disk" --block="$scratch" "$memory" "$LGUEST_DEBIAN_VMLINUZ" --initrd="$LGUEST_DEBIAN_INITRD")
            [[ "$1" == lguest-aot-sync ]] && cmd+=(--io-engine=sync)
            [[ "$1" == lguest-aot-ioeventfd ]] && cmd+=(--io-on-vcpu=off)
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

kvm_stats=/sys/kernel/debug/kvm
if (( stats )) && [[ ! -r "$kvm_stats/exits" ]]; then
    mount -t debugfs none /sys/kernel/debug 2> /dev/null
    [[ -r "$kvm_stats/exits" ]] || { say "no KVM statistics in debugfs: --stats ignored"; stats=0; }
fi

# One line every 0.5 s: time (s since the launch), KVM exits, MMIO exits, port I/O exits, halt wake-ups, the
# context switches of every thread of the VMM process, and its read and write system calls (/proc/PID/io's syscr and
# syscw: preadv2, pwritev, an eventfd or irqfd write, a tap's; io_uring's own requests are not counted there; KVM_RUN
# is an ioctl, one per exit, counted by the exits). Builtins only (no process per sample: under TCG a fork
# costs L1 tens of milliseconds, which would be taken from the guest being measured).
sample() { # sample START BINARY
    local start="$1" binary="$2" pid="" wait_fd e m i h n r w key value task tries
    exec {wait_fd}<> <(:)
    for (( tries = 0; tries < 40; tries++ )); do
        pid="$(pgrep -n -f "^$binary" || true)"
        [[ -z "$pid" ]] || break
        read -r -t 0.25 -u "$wait_fd" _
    done
    while true; do
        read -r e < "$kvm_stats/exits"; read -r m < "$kvm_stats/mmio_exits"
        read -r i < "$kvm_stats/io_exits"; read -r h < "$kvm_stats/halt_wakeup"
        n=0 r=0 w=0
        if [[ -n "$pid" ]]; then
            for task in /proc/"$pid"/task/*/status; do
                { while read -r key value _; do
                    [[ "$key" == *ctxt_switches: ]] && n=$(( n + value ))
                done < "$task"; } 2> /dev/null
            done
            { while read -r key value _; do
                case "$key" in syscr:) r=$value ;; syscw:) w=$value ;; esac
            done < /proc/"$pid"/io; } 2> /dev/null
        fi
        printf '%s %s %s %s %s %s %s %s\n' "$EPOCHREALTIME" "$e" "$m" "$i" "$h" "$n" "$r" "$w"
        read -r -t 0.5 -u "$wait_fd" _
    done
}

# stats_for COLUMN ROUND JOB END IOPS: the per-request figures of the job whose GUEST-FIO line came at END.
stats_for() {
    awk -v column="$1" -v round="$2" -v job="$3" -v end="$4" -v iops="$5" -v seconds="$fio_seconds" -v start="$start" '
        { $1 -= start }
        $1 >= end - seconds - 0.3 && !first { first = 1; t0 = $1; e0 = $2; m0 = $3; i0 = $4; h0 = $5; c0 = $6; r0 = $7; w0 = $8 }
        $1 <= end - 0.3 { t1 = $1; e1 = $2; m1 = $3; i1 = $4; h1 = $5; c1 = $6; r1 = $7; w1 = $8 }
        END {
            n = iops * (t1 - t0)
            if (!first || n <= 0) exit
            printf "stats %s round %s %s: per request %.2f exits (%.2f MMIO, %.2f port I/O), %.2f halt wake-ups, %.2f VMM context switches, %.2f VMM read and %.2f write system calls\n",
                column, round, job, (e1 - e0) / n, (m1 - m0) / n, (i1 - i0) / n, (h1 - h0) / n, (c1 - c0) / n, (r1 - r0) / n, (w1 - w0) / n
        }' "$samples"
}

run_once() { # run_once COLUMN ROUND
    local column="$1" round="$2" log="$logs/debian-$1-$2.log" start ready job iops kib sampler="" samples="$logs/stats-$1-$2.txt" end
    vmm_command "$column" || return
    start=$EPOCHREALTIME
    if (( stats )); then
        sample "$start" "${cmd[0]}" > "$samples" &
        sampler=$!
    fi
    timeout --kill-after=10 900 "${cmd[@]}" < /dev/null 2>&1 | while IFS= read -r line; do
        printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
    done | awk -v start="$start" '{ t = $1; sub(/^[^ ]* /, ""); printf "%.3f %s\n", t - start, $0 }' > "$log"
    [[ -n "$sampler" ]] && { kill "$sampler"; wait "$sampler" 2> /dev/null; }
    ready="$(awk '/GUEST-DEBIAN-READY/ { print $1; exit }' "$log")"
    grep -q 'GUEST-DEBIAN-READY 0' "$log" || say "$column round $round: not ready or failed units: $(grep -a -m1 GUEST-DEBIAN-READY "$log") (log $log)"
    bench "launch to multi-user.target (GUEST-DEBIAN-READY)" s "$column" "$round" "${ready:-nan}"
    for job in rr1 rr32 rw1 rw32 sr sw; do
        [[ -z "$fio_jobs" || ",$fio_jobs," == *,$job,* ]] || continue
        # Anywhere on a line: the kernel's messages share the serial console and can land in front of it.
        read -r iops kib < <(awk -v m="GUEST-FIO $job " 'i = index($0, m) { split(substr($0, i + length(m)), f, " "); print f[1], f[2]; exit }' "$log")
        if (( stats )) && [[ -n "$iops" ]]; then
            end="$(awk -v m="GUEST-FIO $job " 'index($0, m) { print $1; exit }' "$log")"
            say "$(stats_for "$column" "$round" "$job" "$end" "$iops")"
        fi
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
