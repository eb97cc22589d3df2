#!/usr/bin/env bash
# bed-bench.sh [--rounds N] [--parts boot,io,debian,fs] [--dd M1,M4] [--tcp-mib N] [--columns LIST] [--stats] [--profile] [--l1-smp N] [--guest-cpus N] [--fio-jobs LIST] [--build]:
# the nested-bed benchmarks, run from the host. Prepares the guests (Lguest.Tests/Guests/prepare.sh: kernels and
# images, cached), boots L1 once with bed.sh and runs bench/bed/run-in-l1.sh in it: lguest (NativeAOT and JIT)
# and QEMU (-M pc, -M microvm) as the L2 VMM on the same guest, interleaved round by round.
#
# stdout: only the measurements, one line each (the contract with the report harness):
#   BENCH<TAB>section<TAB>figure<TAB>unit<TAB>column<TAB>round<TAB>value
# column lguest-aot | lguest-jit | qemu-pc | qemu-microvm; value a number or nan (see run-in-l1.sh).
# stderr: progress and failures from L1, then the table of medians and ratios (summarize.sh).
# The whole L1 console is kept in artifacts/bench-bed/console.log.
#
# Options (the defaults fit about 15-20 minutes on a loaded 2-CPU host):
#   --rounds N      rounds, every figure once per column per round (default 5)
#   --parts LIST    boot, io, debian, fs (default boot,io); debian: the Debian guest (debian-image.sh, built on
#                   the host as root when missing) under lguest and QEMU -M pc with aio=threads and aio=io_uring,
#                   fio and boot to multi-user.target (debian-in-l1.sh; its own columns, those of --columns it knows
#                   when given: lguest-aot, lguest-aot-threads, lguest-aot-sync, lguest-aot-ioeventfd, qemu-pc-threads,
#                   qemu-pc-uring;
#                   the images on an ext4 file system in L1); fs: the shared-folder
#                   comparison (fs-in-l1.sh: lguest's virtio-fs beside QEMU's 9p and QEMU with virtiofsd on the
#                   generic kernel; columns lguest-aot, lguest-jit, qemu-pc, qemu-virtiofsd, by default
#                   lguest-aot,qemu-pc,qemu-virtiofsd)
#   --fs-mib N      MiB written and read per fs boot (default 32)
#                   vsock: one stream each way under lguest --vsock beside QEMU's vhost-vsock-pci (vsock-in-l1.sh,
#                   64 MiB; the lguest columns of --columns, and qemu-vhost)
#   --dd M1,M4      MiB read per io boot in 1 MiB and in 4 KiB direct reads (default 32,2)
#   --tcp-mib N     MiB moved each way over TCP per io boot, a multiple of 4 (default 4)
#   --columns LIST  default lguest-aot,lguest-jit,qemu-pc,qemu-microvm
#   --stats         debian: also say where the time goes per fio job and request (debian-in-l1.sh --stats: KVM exits
#                   and interrupts, the vCPUs' time on an L1 CPU, waiting for one and halted, the VMM's other threads'
#                   time, system calls and context switches), as BENCH lines of a section of their own; its sampler
#                   costs L1 a little CPU (it says how much)
#   --profile       debian: perf record of each VMM from the guest's fio start to its exit, its functions over 1% of
#                   the samples on stderr (debian-in-l1.sh --profile; diagnosis, with --fio-jobs for one job)
#   --l1-smp N      L1's vCPUs (bed.sh --smp; default 1). The VMMs' own guests keep one vCPU: a second L1 CPU lets a
#                   VMM's I/O thread run beside the vCPU thread (issue 20: fio's depth scaling), for every column alike
#   --guest-cpus N  debian: N vCPUs for every column's guest (lguest --cpus=N, QEMU -smp N; default 1), and so N
#                   request queues per disk (lguest's num_queues follows --cpus, QEMU 7.2's virtio-blk-pci -smp)
#   --fio-jobs LIST debian: only these fio jobs (the scenario's lguest.fio.jobs: rr1,rr32,rw1,rw32,sr,sw; default all)
#   --build         first publish the NativeAOT launcher if a source is newer (cake LauncherBinary) and build
#                   the Release Lguest.Cli.dll; without it the launchers are used as they are (a missing one:
#                   its column is nan)
# Exit status: bed.sh's (run-in-l1.sh's status, 124 on the bed's timeout, 125 when L1 failed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
guests="$root/Lguest.Tests/Guests"
rounds=5
parts=boot,io
dd_spec=32,2
tcp_mib=4
columns=lguest-aot,lguest-jit,qemu-pc,qemu-microvm
build=0
stats=""
profile=""
columns_given=0
fs_mib=32
l1_smp=1
fio_jobs=""
guest_cpus=""
usage() { echo "usage: bed-bench.sh [--rounds N] [--parts boot,io,debian,fs] [--dd M1,M4] [--tcp-mib N] [--fs-mib N] [--columns LIST] [--stats] [--profile] [--l1-smp N] [--guest-cpus N] [--fio-jobs LIST] [--build]" >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; rounds="$2"; shift 2 ;;
        --parts) [[ $# -ge 2 && "$2" =~ ^(boot|io|debian|fs|vsock)(,(boot|io|debian|fs|vsock))*$ ]] || usage; parts="$2"; shift 2 ;;
        --fs-mib) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; fs_mib="$2"; shift 2 ;;
        --dd) [[ $# -ge 2 && "$2" =~ ^[0-9]+,[0-9]+$ ]] || usage; dd_spec="$2"; shift 2 ;;
        --tcp-mib) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] && (( $2 % 4 == 0 )) || usage; tcp_mib="$2"; shift 2 ;;
        --columns) [[ $# -ge 2 && "$2" =~ ^[a-z,-]+$ ]] || usage; columns="$2"; columns_given=1; shift 2 ;;
        --stats) stats=" --stats"; shift ;;
        --profile) profile=" --profile"; shift ;;
        --l1-smp) [[ $# -ge 2 && "$2" =~ ^[1-9]$ ]] || usage; l1_smp="$2"; shift 2 ;;
        --guest-cpus) [[ $# -ge 2 && "$2" =~ ^[1-8]$ ]] || usage; guest_cpus=" --guest-cpus $2"; shift 2 ;;
        --fio-jobs) [[ $# -ge 2 && "$2" =~ ^(rr1|rr32|rw1|rw32|sr|sw)(,(rr1|rr32|rw1|rw32|sr|sw))*$ ]] || usage; fio_jobs=" --fio-jobs $2"; shift 2 ;;
        --build) build=1; shift ;;
        *) usage ;;
    esac
done
say() { printf 'bed-bench.sh: %s\n' "$*" >&2; }

cd "$root"
"$guests/prepare.sh" > /dev/null
if (( build )); then
    dotnet tool restore > /dev/null
    dotnet cake --target=LauncherBinary >&2
    dotnet build -c Release Lguest.Cli/Lguest.Cli.csproj -v quiet -nologo >&2
fi
[[ -x artifacts/lguest/lguest ]] || say "no artifacts/lguest/lguest (dotnet cake --target=Publish): lguest-aot is nan"
[[ -f Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll ]] || say "no Release Lguest.Cli.dll (dotnet build -c Release): lguest-jit is nan"

out="$root/artifacts/bench-bed"
mkdir -p "$out"
console="$out/console.log"
bench="$out/bench.tsv"
# A launch is ~20 s on a loaded host, an io boot a minute or more; the bed's hang protection is generous.
timeout=$(( 600 + rounds * 900 ))
say "rounds $rounds, parts $parts, dd $dd_spec MiB, TCP $tcp_mib MiB, columns $columns, L1 CPUs $l1_smp${guest_cpus:+, guest CPUs ${guest_cpus##* }}; L1 console in $console"
# run-in-l1.sh does boot and io; debian-in-l1.sh the Debian guest; fs-in-l1.sh the shared folders, on the
# generic kernel and its own image.
l1_parts="$(tr ',' '\n' <<< "$parts" | { grep -Ev '^(debian|fs|vsock)$' || true; } | paste -sd, -)"
l1=()
[[ -n "$l1_parts" ]] && l1+=("bench/bed/run-in-l1.sh --rounds $rounds --parts $l1_parts --dd $dd_spec --tcp-mib $tcp_mib --columns $columns")
if [[ ",$parts," == *,debian,* ]]; then
    # The image is built on the host (debootstrap needs root and the mirror); L1 reads it from the cache.
    debian="$("$guests/debian-image.sh" | tr '\n' ' ')"
    eval "$("$guests/kernels.sh")"
    # The lguest and QEMU columns of --columns that debian-in-l1.sh knows (its default set when none is).
    debian_columns="$(tr , '\n' <<< "$columns" | { grep -E '^(lguest-aot(-threads|-sync|-ioeventfd)?|qemu-pc-(threads|uring))$' || true; } | paste -sd, -)"
    (( columns_given )) && [[ -n "$debian_columns" ]] || debian_columns=""
    l1+=("$debian LGUEST_GENERIC_MODULES=$LGUEST_GENERIC_MODULES bench/bed/debian-in-l1.sh --rounds $rounds$stats$profile$guest_cpus$fio_jobs${debian_columns:+ --columns $debian_columns}")
    timeout=$(( timeout + rounds * 1800 ))
fi
if [[ ",$parts," == *,fs,* ]]; then
    eval "$("$guests/kernels.sh")"
    fs_image="$("$here/fs-initramfs.sh")"
    fs_columns=lguest-aot,qemu-pc,qemu-virtiofsd
    (( columns_given )) && fs_columns="$(tr , '\n' <<< "$columns" | { grep -E '^(lguest-aot|lguest-jit|qemu-pc|qemu-virtiofsd)$' || true; } | paste -sd, -)"
    l1+=("BENCH_FS_KERNEL=$LGUEST_GENERIC_VMLINUZ BENCH_FS_INITRD=$fs_image bench/bed/fs-in-l1.sh --rounds $rounds --mib $fs_mib --columns $fs_columns")
    timeout=$(( timeout + rounds * 900 ))
fi
if [[ ",$parts," == *,vsock,* ]]; then
    vsock_columns="$(tr ',' '\n' <<< "$columns" | { grep '^lguest-' || true; } | paste -sd, -)"
    l1+=("bench/bed/vsock-in-l1.sh --rounds $rounds --columns ${vsock_columns:+$vsock_columns,}qemu-vhost")
    timeout=$(( timeout + rounds * 600 ))
fi
l1_command="$(printf '%s; ' "${l1[@]}")"
set +e
"$guests/bed.sh" --timeout "$timeout" --smp "$l1_smp" -- "${l1_command%; }" \
    < /dev/null 2>&1 | tr -d '\r' | tee "$console" | while IFS= read -r line; do
        case "$line" in
            BENCH$'\t'*) printf '%s\n' "$line" ;;
            run-in-l1.sh:* | debian-in-l1.sh:* | fs-in-l1.sh:* | vsock-in-l1.sh:* | "    "* | bed.sh:*) printf '%s\n' "$line" >&2 ;;
        esac
    done | tee "$bench"
status="${PIPESTATUS[0]}"
set -e
"$here/summarize.sh" "$bench" >&2
exit "$status"
