#!/usr/bin/env bash
# bed.sh [options] [--] COMMAND...: run COMMAND inside the nested test bed (L1) and exit with its status.
#
# This host's /dev/kvm (kvm_pvm) cannot boot a stock Linux in useful time, so the bed is a TCG QEMU with
# `-cpu max` (which emulates AMD SVM) booting Debian's generic kernel with bed-initramfs.sh's image: its
# kernel loads kvm-amd and gets a real hardware-virtualization /dev/kvm. The host's root filesystem is
# shared read-only over 9p and COMMAND runs in it as root (chroot), so a VMM runs straight from the
# host's build output; an overlay keeps it writable in L1's memory (the host is never written), and
# /run and /dev/shm are fresh tmpfs, so the host's are not visible.
#
# COMMAND is joined with spaces and run by /bin/sh -c (like ssh), in the caller's working directory,
# with LGUEST_CACHE, LGUEST_GUEST_VMLINUZ, LGUEST_GUEST_VMLINUX and LGUEST_GUEST_INITRD exported (the L2
# cloud kernel as bzImage and as ELF for PVH, and the guest image, built here if needed). The L1 console
# streams to stdout; stdin is its console's input. On a terminal every key goes to L1 as it is (Ctrl-C
# included: QEMU's stdio takes no signals), so a VMM in L1 with its guest's shell on its own terminal
# gives a person that shell (lguest's escape, Ctrl-A x, stops it).
#
# Options:
#   --timeout SECONDS  hang protection: stop L1 after this long (default 600; 0: never); exit 124
#   --smp N            L1 vCPUs (default 1: a second TCG vCPU made no run faster on a 2-CPU host)
#   --memory MB        L1 memory (default 3072)
#   --append ARGS      extra L1 kernel command line arguments
#   --share DIR        DIR (a host directory) is writable in L1 at the same path: what the command writes
#                      there reaches the host (9p, cache off), unlike anything else it writes (test results)
#   --verbose          show L1's kernel log
# Exit status: COMMAND's, read from the BED-EXIT marker; 124 on timeout; 125 when the bed failed
# (no marker: L1 did not boot, crashed or was killed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
timeout=600
smp=1
memory=3072
verbose=0
extra_append=""
share=""
usage() { echo "usage: bed.sh [--timeout SECONDS] [--smp N] [--memory MB] [--append ARGS] [--share DIR] [--verbose] [--] COMMAND..." >&2; exit 2; }
while (( $# > 0 )); do
    case "$1" in
        --timeout) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || usage; timeout="$2"; shift 2 ;;
        --smp) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || usage; smp="$2"; shift 2 ;;
        --memory) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || usage; memory="$2"; shift 2 ;;
        --append) [[ $# -ge 2 ]] || usage; extra_append="$2"; shift 2 ;;
        --share) [[ $# -ge 2 && -d "$2" ]] || usage; share="$(cd "$2" && pwd -P)"; shift 2 ;;
        --verbose) verbose=1; shift ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
(( $# > 0 )) || usage
say() { printf 'bed.sh: %s\n' "$*" >&2; }

if ! command -v qemu-system-x86_64 > /dev/null; then
    say "qemu-system-x86_64 not found: run Lguest.Tests/Guests/prepare.sh"
    exit 125
fi
set -a
eval "$("$here/kernels.sh")"
set +a
bed_image="$("$here/bed-initramfs.sh")"
guest_image="$("$here/guest-initramfs.sh")"
for path in "$LGUEST_CACHE" "$PWD"; do
    case "$path/" in
        /run/* | /dev/shm/*)
            say "warning: $path is hidden inside L1 (a tmpfs covers it there)" ;;
    esac
done

quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
script="cd $(quote "$PWD") 2>/dev/null || cd /
export LGUEST_CACHE=$(quote "$LGUEST_CACHE") LGUEST_GUEST_INITRD=$(quote "$guest_image")
export LGUEST_GUEST_VMLINUZ=$(quote "$LGUEST_CLOUD_VMLINUZ") LGUEST_GUEST_VMLINUX=$(quote "$LGUEST_CLOUD_VMLINUX")
$*"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
encoded="$(printf '%s' "$script" | base64 -w0)"
# x86 kernels take 2048 bytes of command line; beyond a safe share, pass a script file by its host path
# (in the cache, which L1 sees through its overlay).
if (( ${#encoded} <= 1536 )); then
    command_arg="bed.cmd=$encoded"
else
    mkdir -p "$LGUEST_CACHE/runs"
    command_file="$(mktemp "$LGUEST_CACHE/runs/command.XXXXXX")"
    trap 'rm -rf "$work" "$command_file"' EXIT
    printf '%s\n' "$script" > "$command_file"
    command_arg="bed.script=$command_file"
fi

# The ELF vmlinux boots through PVH: no kernel decompression under TCG (~2.5 s); qboot, when QEMU ships
# it, starts faster than SeaBIOS (~0.3 s).
kernel="$LGUEST_GENERIC_VMLINUX"
[[ -s "$kernel" ]] || kernel="$LGUEST_GENERIC_VMLINUZ"
firmware=()
qboot="$(qemu-system-x86_64 -L help 2>/dev/null | while read -r dir; do [[ -f "$dir/qboot.rom" ]] && echo "$dir/qboot.rom" && break; done || true)"
[[ -n "$qboot" ]] && firmware=(-bios "$qboot")

# The shared directory: a second 9p export, read-write, that bed-init mounts at the same path in L1.
share_device=()
if [[ -n "$share" ]]; then
    share_device=(-virtfs "local,path=$share,mount_tag=share,security_model=none")
    command_arg="$command_arg bed.share=$(printf '%s' "$share" | base64 -w0)"
fi

# no_timer_check: on a loaded host a TCG vCPU can miss the IO-APIC timer check's few ticks, and the L1
# kernel panics with "IO-APIC + timer doesn't work" before anything runs (seen at load 70).
# nosoftlockup: a starved TCG vCPU also makes L1's watchdog print "BUG: soft lockup - CPU#0 stuck for 87s"
# (at emergency level, past loglevel=1) into the console the tests parse, in the middle of a guest's marker
# line (seen at load 85); L1 is the harness, not what is tested, and a real hang still meets the timeouts.
append="console=ttyS0 panic=-1 no_timer_check nosoftlockup $extra_append $command_arg"
(( verbose )) || append="quiet loglevel=1 $append"

log="$work/console.log"
# The hatch: L1's second serial port, a Unix socket here, where L1 keeps a root shell in its root (bed-init.sh), so
# a run that hangs can be looked into while it hangs: socat -,raw,echo=0 UNIX-CONNECT:<path> (nothing waits for it).
hatch="${TMPDIR:-/tmp}/lguest-bed-hatch.$$"
trap 'rm -rf "$work" "${command_file:-}" "$hatch"' EXIT
append="$append bed.hatch=1"
set +e
timeout --foreground --kill-after=10 "$timeout" \
    qemu-system-x86_64 -accel tcg -cpu max -m "$memory" -smp "$smp" "${firmware[@]}" \
        -display none -chardev stdio,id=console,signal=off -serial chardev:console -monitor none -no-reboot -nic none \
        -chardev "socket,id=hatch,path=$hatch,server=on,wait=off" -serial chardev:hatch \
        -kernel "$kernel" -initrd "$bed_image" -append "$append" \
        -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap "${share_device[@]}" |
    tee "$log"
statuses=("${PIPESTATUS[@]}")
set -e

marker="$(tr -d '\r' < "$log" | grep -a -o 'BED-EXIT [0-9]\+' | tail -n 1 || true)"
if [[ -n "$marker" ]]; then
    exit "${marker#BED-EXIT }"
fi
if (( statuses[0] == 124 || statuses[0] == 137 )); then
    say "timed out after ${timeout} s; L1 stopped"
    exit 124
fi
# Not the marker's name in the message: the tests cut the console at the first BED-EXIT they find.
say "L1 ended before the command did, without its exit marker (qemu exit status ${statuses[0]})"
exit 125
