#!/usr/bin/env bash
# debian-in-l1.sh [--rounds N] [--columns LIST] [--fio-seconds S] [--fio-jobs LIST] [--fio-mb MB] [--images ext4|tmpfs] [--stats] [--profile] [--guest-cpus N] [--logs DIR]: inside the bed
# (L1), the Debian guest (Lguest.Tests/Guests/debian-image.sh; its LGUEST_DEBIAN_* variables in the
# environment) under lguest and QEMU -M pc side by side, interleaved round by round: the same root image and
# the same fio scratch disk (vdb), the same memory, one vCPU each (--guest-cpus N: N each, lguest --cpus=N and QEMU
# -smp N, and so N request queues per disk: lguest's num_queues follows --cpus, QEMU 7.2's virtio-blk-pci -smp). Each boot runs the image's fio scenario
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
# --stats: where the time goes, per fio job and per request, as BENCH lines of the section "Debian guest in the nested
#   bed: where the time goes per fio request" (figure "<job>: <what> per request") and one line on stderr
#   ("debian-in-l1.sh: stats ..."): the VMM runs under `perf stat -I 1000` (its threads' CPU time, context switches and
#   system calls; its vCPUs' KVM exits, exits to its user space, interrupts injected and halts), and a sampler reads
#   the vCPUs' time halted and halt-polling (L1's KVM, debugfs), the vCPU threads' time on an L1 CPU (and in L2) and
#   waiting for one (schedstat).
#   Sampled once a second during the boot (the sampler says what it cost L1); a job's window runs from 0.8 s before its
#   timed part (into fio's 1 s ramp, at the same depth) to 0.3 s before its GUEST-FIO line.
# --profile: where the VMM's CPU time goes, by function: `perf record -g` (cpu-clock, 499 Hz) of the VMM's threads from
#   GUEST-DEBIAN-READY (fio's start) to its exit, and the functions over 1% of the samples (`perf report`, by thread
#   name, binary and symbol, with and without callees) on stderr as "debian-in-l1.sh: profile COLUMN ROUND: ..." lines;
#   with --fio-jobs JOB that is one job's profile. Diagnosis only: the sampling costs the guest time (not with --stats).
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
profile=0
fio_jobs=""
guest_cpus=1
usage() { echo "usage: debian-in-l1.sh [--rounds N] [--columns LIST] [--fio-seconds S] [--fio-jobs LIST] [--fio-mb MB] [--images ext4|tmpfs] [--stats] [--profile] [--guest-cpus N] [--logs DIR]" >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; rounds="$2"; shift 2 ;;
        --columns) [[ $# -ge 2 && "$2" =~ ^[a-z_,-]+$ ]] || usage; columns="$2"; shift 2 ;;
        --fio-seconds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; fio_seconds="$2"; shift 2 ;;
        --fio-jobs) [[ $# -ge 2 && "$2" =~ ^(rr1|rr32|rw1|rw32|sr|sw)(,(rr1|rr32|rw1|rw32|sr|sw))*$ ]] || usage; fio_jobs="$2"; shift 2 ;;
        --fio-mb) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; fio_mb="$2"; shift 2 ;;
        --images) [[ $# -ge 2 && "$2" =~ ^(ext4|tmpfs)$ ]] || usage; images="$2"; shift 2 ;;
        --stats) stats=1; shift ;;
        --profile) profile=1; shift ;;
        --guest-cpus) [[ $# -ge 2 && "$2" =~ ^[1-8]$ ]] || usage; guest_cpus="$2"; shift 2 ;;
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
stats_section="Debian guest in the nested bed: where the time goes per fio request"
bench() { printf 'BENCH\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$1" "$2" "$3" "$4" "$5"; }
append="console=ttyS0 root=/dev/vda rw quiet panic=-1 lguest.scenario=fio lguest.fio.seconds=$fio_seconds${fio_jobs:+ lguest.fio.jobs=$fio_jobs}"

vmm_command() { # vmm_command COLUMN: sets cmd=(...)
    # debug-threads=on names QEMU's threads ("CPU 0/KVM", "worker"), nothing else: --stats finds the vCPU threads by name.
    local qemu=(qemu-system-x86_64 -name debian,debug-threads=on -M pc ${qboot:+-bios "$qboot"} -accel kvm -cpu host -smp "$guest_cpus" -m "$memory" -display none
        -serial stdio -monitor none -no-reboot -nic none -kernel "$LGUEST_DEBIAN_VMLINUZ" -initrd "$LGUEST_DEBIAN_INITRD" -append "$append")
    case "$1" in
        lguest-aot | lguest-aot-sync | lguest-aot-threads | lguest-aot-ioeventfd)
            cmd=("$aot" --no-reboot --block="$disk" --block="$scratch" "$memory" "$LGUEST_DEBIAN_VMLINUZ" --initrd="$LGUEST_DEBIAN_INITRD")
            (( guest_cpus == 1 )) || cmd+=(--cpus="$guest_cpus")
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
if (( stats )) && [[ ! -r "$kvm_stats/halt_wait_ns" ]]; then
    mount -t debugfs none /sys/kernel/debug 2> /dev/null
    [[ -r "$kvm_stats/halt_wait_ns" ]] || { say "no KVM statistics in debugfs: --stats ignored"; stats=0; }
fi
# The VMM runs under `perf stat` (counting, no sampling; the events of every thread it starts, in the kernel, read once
# a second): its CPU time, context switches and system calls, and its vCPUs' KVM exits, exits to its user space (MMIO
# and port I/O), interrupts injected (the disks' and the timer's) and halts ended. The rest comes from the sampler
# below. Tried first: tracefs histograms by thread id read by the sampler, but each read of one cost a TCG L1 20-80 ms.
perf_events=task-clock,context-switches,raw_syscalls:sys_enter,kvm:kvm_exit,kvm:kvm_userspace_exit,kvm:kvm_inj_virq,kvm:kvm_vcpu_wakeup
if (( stats )); then
    [[ -e /sys/kernel/tracing/events ]] || mount -t tracefs nodev /sys/kernel/tracing 2> /dev/null
    perf stat -x, -e "$perf_events" -- true > /dev/null 2>&1 ||
        { say "perf stat cannot count $perf_events here: --stats ignored"; stats=0; }
fi

# One line a second, fields: 1 time (EPOCHREALTIME); from L1's KVM (debugfs): 2 ns the vCPUs were halted
# (halt_wait_ns), 3 ns they halt-polled (halt_poll_success_ns + halt_poll_fail_ns); the VMM's vCPU threads (lguest
# "vCPU N", QEMU "CPU N/KVM"): 4 ns on an L1 CPU and 5 ns runnable waiting for one (schedstat), 6 ticks in the guest
# (stat's guest_time, USER_HZ); 7 this sampler's own ns on a CPU (what watching cost L1); 8 the VMM's other threads'
# ns on an L1 CPU: the process's user and system time (its ticks keep the threads that ended) less the vCPU threads'
# ns, within 10 ms a sample (perf's task-clock less field 4 would mix two windows). Builtins only and few reads: under
# TCG a fork costs L1 tens of milliseconds and every read of the sampler's a dozen system calls, all taken from the
# guest being measured.
sample() { # sample BINARY
    local binary="$1" pid="" wait_fd tries dir tid name run wait line rest own hw hs hf other
    local vrun=0 vwait=0 vguest=0
    local -A name_of=() run_of=() wait_of=() guest_of=()
    local -a f
    exec {wait_fd}<> <(:)
    for (( tries = 0; tries < 40; tries++ )); do
        pid="$(pgrep -n -f "^$binary" || true)"
        [[ -z "$pid" ]] || break
        read -r -t 0.25 -u "$wait_fd" _
    done
    # When the VMM's process began (perf's counting and its -I times start there): now, L1's uptime and the process's
    # start in ticks since boot (stat field 22), for stats_for to place perf's intervals on this clock.
    if [[ -n "$pid" ]] && read -r line < /proc/"$pid"/stat && read -r rest _ < /proc/uptime; then
        f=(${line##*) })
        printf '# launched %s %s %s\n' "$EPOCHREALTIME" "$rest" "${f[19]}"
    fi
    while true; do
        if [[ -n "$pid" ]]; then
            for dir in /proc/"$pid"/task/*; do
                tid="${dir##*/}"
                [[ -n "${name_of[$tid]+set}" ]] || read -r name_of[$tid] < "$dir/comm" || name_of[$tid]=""
                name="${name_of[$tid]}"
                [[ "$name" == "vCPU "* || "$name" == "CPU "*"/KVM" ]] || continue
                read -r run wait _ < "$dir/schedstat" || continue
                vrun=$(( vrun + run - ${run_of[$tid]:-0} )); run_of[$tid]=$run
                vwait=$(( vwait + wait - ${wait_of[$tid]:-0} )); wait_of[$tid]=$wait
                if read -r line < "$dir/stat"; then
                    rest="${line##*) }"
                    f=($rest) # from field 3 (state): guest_time is field 43
                    vguest=$(( vguest + ${f[40]:-0} - ${guest_of[$tid]:-0} )); guest_of[$tid]=${f[40]:-0}
                fi
            done
        fi
        other=-
        if [[ -n "$pid" ]] && read -r line < /proc/"$pid"/stat; then
            rest="${line##*) }"
            f=($rest) # utime 14, stime 15, in USER_HZ ticks (100 a second)
            other=$(( (f[11] + f[12]) * 10000000 - vrun ))
        fi
        hw=- hs=- hf=-
        read -r hw < "$kvm_stats/halt_wait_ns"
        read -r hs < "$kvm_stats/halt_poll_success_ns"
        read -r hf < "$kvm_stats/halt_poll_fail_ns"
        [[ "$hs" == - || "$hf" == - ]] && hs=- || hs=$(( hs + hf ))
        read -r own _ < /proc/$BASHPID/schedstat
        printf '%s %s %s %s %s %s %s %s\n' "$EPOCHREALTIME" "${hw:--}" "$hs" "$vrun" "$vwait" "$vguest" "$own" "$other"
        read -r -t 1 -u "$wait_fd" _
    done
}

# stats_for COLUMN ROUND JOB END IOPS: where the time went in the job whose GUEST-FIO line came at END, per request
# (the job's rate times the time covered): BENCH lines in the section "$stats_section" (nan where a counter is missing)
# and one line on stderr. The window: from 0.8 s before the job's timed --fio-seconds (fio's 1 s ramp runs at the same
# depth) to 0.3 s before its GUEST-FIO line (fio prints it as it finishes); the sampler's lines and perf's intervals
# (each the second before its time) inside it.
stats_for() {
    awk -v column="$1" -v round="$2" -v job="$3" -v end="$4" -v iops="$5" -v seconds="$fio_seconds" -v start="$start" \
        -v section="$stats_section" -v label="$(job_label "$3")" -v samples="$samples" '
        function per(k, scale) { return (b[k] == "-" || a[k] == "-" || n <= 0) ? "nan" : sprintf("%.4g", (b[k] - a[k]) * scale / n) }
        function counted(event, scale) { return (event in bad || !(event in sum) || m <= 0) ? "nan" : sprintf("%.4g", sum[event] * scale / m) }
        function line(figure, unit, value) { printf "BENCH\t%s\t%s: %s\t%s\t%s\t%s\t%s\n", section, label, figure, unit, column, round, value }
        BEGIN { from = end - seconds - 0.8; to = end - 0.3 }
        # The sampler lines first: when the VMM began (perf counts from there), then the samples.
        FILENAME == samples && $1 == "#" && $2 == "launched" { launched = $3 - $4 + $5 / 100 - start; next }
        FILENAME == samples { $1 -= start }
        FILENAME == samples && $1 >= from && !first { first = 1; for (k = 1; k <= NF; k++) a[k] = $k }
        FILENAME == samples && $1 <= to { for (k = 1; k <= NF; k++) b[k] = $k }
        # perf stat -I -x,: "TIME,COUNT,UNIT,EVENT,..." (leading blanks; TIME from when the VMM began)
        FILENAME != samples && /^ *[0-9]/ {
            sub(/^ +/, ""); split($0, p, ",")
            p[1] += launched
            if (p[1] - 1 < from - 0.05 || p[1] > to) next
            if (p[1] > last) { if (!seen) covered_from = p[1] - 1; seen = 1; last = p[1] }
            if (p[2] !~ /^[0-9.]+$/) bad[p[4]] = 1; else sum[p[4]] += p[2]
            next
        }
        END {
            n = first ? iops * (b[1] - a[1]) : 0
            m = seen ? iops * (last - covered_from) : 0
            if (n <= 0 && m <= 0) exit
            other = per(8, 1e-3)
            line("KVM exits per request", "exits", counted("kvm:kvm_exit", 1))
            line("exits to the VMM (MMIO and port I/O) per request", "exits", counted("kvm:kvm_userspace_exit", 1))
            line("interrupts injected per request (disk and timer)", "interrupts", counted("kvm:kvm_inj_virq", 1))
            line("halts per request", "halts", counted("kvm:kvm_vcpu_wakeup", 1))
            line("vCPU threads on an L1 CPU per request", "µs", per(4, 1e-3))
            line("of that in the guest (L2) per request", "µs", per(6, 1e4))
            line("vCPU threads waiting for an L1 CPU per request", "µs", per(5, 1e-3))
            line("vCPUs halted per request", "µs", per(2, 1e-3))
            line("vCPUs halt-polling per request", "µs", per(3, 1e-3))
            line("the VMM'"'"'s other threads on an L1 CPU per request", "µs", other)
            line("the VMM on an L1 CPU per request, all threads (perf task-clock)", "µs", counted("task-clock", 1e3))
            line("the VMM'"'"'s system calls per request, all threads", "calls", counted("raw_syscalls:sys_enter", 1))
            line("the VMM'"'"'s context switches per request, all threads", "switches", counted("context-switches", 1))
            printf "debian-in-l1.sh: stats %s round %s %s: %.0f requests in %.1f s (perf) and %.0f in %.1f s (sampler); per request %s exits (%s to the VMM), %s interrupts injected, %s halts; µs per request: vCPU on a CPU %s (in L2 %s), waiting %s, halted %s, polling %s, other threads %s; %s system calls, %s context switches; the sampler took %.1f%% of a CPU\n",
                column, round, job, m, last - covered_from, n, b[1] - a[1], counted("kvm:kvm_exit", 1), counted("kvm:kvm_userspace_exit", 1),
                counted("kvm:kvm_inj_virq", 1), counted("kvm:kvm_vcpu_wakeup", 1), per(4, 1e-3), per(6, 1e4), per(5, 1e-3), per(2, 1e-3),
                per(3, 1e-3), other, counted("raw_syscalls:sys_enter", 1), counted("context-switches", 1),
                (n > 0 ? (b[7] - a[7]) / 1e7 / (b[1] - a[1]) : 0) > "/dev/stderr"
        }' "$samples" "$perf_out"
}

# profile_from_ready BINARY LOG DATA: waits (once a second) for the guest's GUEST-DEBIAN-READY in LOG, then records the
# VMM (every thread, call graphs) into DATA until it exits; what perf and the VMM's memory said go to DATA.txt (the
# guest RAM's share in transparent huge pages: AnonHugePages).
profile_from_ready() {
    local binary="$1" log="$2" data="$3" wait_fd pid=""
    exec {wait_fd}<> <(:)
    until grep -a -q GUEST-DEBIAN-READY "$log" 2> /dev/null; do
        read -r -t 1 -u "$wait_fd" _
    done
    pid="$(pgrep -n -f "^$binary")"
    {
        echo "pid ${pid:-none} for ^$binary"
        [[ -n "$pid" ]] && grep -E '^(Rss|AnonHugePages)' "/proc/$pid/smaps_rollup" | tr -s ' ' | paste -sd ' '
    } > "$data.txt" 2>&1
    [[ -n "$pid" ]] && perf record -q -F 499 -g -p "$pid" -o "$data" >> "$data.txt" 2>&1
}

# profile_report COLUMN ROUND DATA: the functions over 1% of the samples, by their own samples and with callees.
profile_report() {
    local column="$1" round="$2" data="$3" children line
    [[ -f "$data.txt" ]] && while IFS= read -r line; do say "profile $column round $round: $line"; done < "$data.txt"
    [[ -s "$data" ]] || { say "profile $column round $round: no samples"; return; }
    for children in --no-children --children; do
        say "profile $column round $round ($children):"
        perf report -i "$data" --stdio "$children" --sort comm,dso,sym -g none --percent-limit 1 2>&1 |
            grep -v -e '^#' -e '^$' | head -n 45 | while IFS= read -r line; do say "profile $column round $round: $line"; done
    done
}

job_label() { # job_label JOB: the job as the rate's figure names it
    case "$1" in
        rr1) echo "fio randread 4 KiB iodepth 1" ;;
        rr32) echo "fio randread 4 KiB iodepth 32" ;;
        rw1) echo "fio randwrite 4 KiB iodepth 1" ;;
        rw32) echo "fio randwrite 4 KiB iodepth 32" ;;
        sr) echo "fio read 1 MiB" ;;
        sw) echo "fio write 1 MiB" ;;
    esac
}

run_once() { # run_once COLUMN ROUND
    local column="$1" round="$2" log="$logs/debian-$1-$2.log" start ready job iops kib sampler="" samples="$logs/stats-$1-$2.txt" end
    local profiler="" start_us now_us ms
    local perf_out="$logs/perf-$1-$2.csv"
    vmm_command "$column" || return
    # The previous boot's writes (and the scratch disk's first fill) written back now, not by L1's flusher during this
    # boot: on L1's one CPU that writeback (ext4 to the loop device to its file) would be charged to whichever VMM runs next.
    sync
    start=$EPOCHREALTIME
    if (( stats )); then
        sample "${cmd[0]}" > "$samples" 2> /dev/null & # a thread gone between the listing and its read: nothing to say
        sampler=$!
        cmd=(perf stat -I 1000 -x, -o "$perf_out" -e "$perf_events" -- "${cmd[@]}")
    elif (( profile )); then
        rm -f "$logs/profile-$column-$round.data" "$logs/profile-$column-$round.data.txt"
        profile_from_ready "${cmd[0]}" "$log" "$logs/profile-$column-$round.data" &
        profiler=$!
    fi
    # Each line stamped with the seconds since the launch as it arrives, in the shell (integer microseconds): the log
    # is written line by line, so a watcher (--profile, the hatch) sees it live (mawk reading a pipe waits for a block).
    start_us=$(( ${start/./} ))
    timeout --kill-after=10 900 "${cmd[@]}" < /dev/null 2>&1 | while IFS= read -r line; do
        now_us=${EPOCHREALTIME/./}
        ms=$(( (10#$now_us - start_us + 500) / 1000 ))
        printf '%d.%03d %s\n' $(( ms / 1000 )) $(( ms % 1000 )) "${line%$'\r'}"
    done > "$log"
    [[ -n "$sampler" ]] && { kill "$sampler"; wait "$sampler" 2> /dev/null; }
    if [[ -n "$profiler" ]]; then
        # perf record ends with the VMM; a watcher still waiting (no GUEST-DEBIAN-READY) is ended here.
        grep -a -q GUEST-DEBIAN-READY "$log" || kill "$profiler" 2> /dev/null
        wait "$profiler" 2> /dev/null
        profile_report "$column" "$round" "$logs/profile-$column-$round.data"
    fi
    ready="$(awk '/GUEST-DEBIAN-READY/ { print $1; exit }' "$log")"
    grep -q 'GUEST-DEBIAN-READY 0' "$log" || say "$column round $round: not ready or failed units: $(grep -a -m1 GUEST-DEBIAN-READY "$log") (log $log)"
    bench "launch to multi-user.target (GUEST-DEBIAN-READY)" s "$column" "$round" "${ready:-nan}"
    for job in rr1 rr32 rw1 rw32 sr sw; do
        [[ -z "$fio_jobs" || ",$fio_jobs," == *,$job,* ]] || continue
        # Anywhere on a line: the kernel's messages share the serial console and can land in front of it.
        read -r iops kib < <(awk -v m="GUEST-FIO $job " 'i = index($0, m) { split(substr($0, i + length(m)), f, " "); print f[1], f[2]; exit }' "$log")
        case "$job" in
            rr* | rw*) bench "$(job_label "$job")" req/s "$column" "$round" "${iops:-nan}" ;;
            *) bench "$(job_label "$job")" MB/s "$column" "$round" "$(awk -v k="${kib:-nan}" 'BEGIN { printf "%.2f", k * 1024 / 1e6 }')" ;;
        esac
        if (( stats )) && [[ -n "$iops" ]]; then
            end="$(awk -v m="GUEST-FIO $job " 'index($0, m) { print $1; exit }' "$log")"
            stats_for "$column" "$round" "$job" "$end" "$iops"
        fi
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
