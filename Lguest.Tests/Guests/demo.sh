#!/usr/bin/env bash
# demo.sh: boot the Debian cloud kernel with the busybox guest image to an interactive shell through lguest.
#
# Where this host's /dev/kvm is hardware virtualization (kvm_intel or kvm_amd, and it opens), lguest runs
# here, directly. Where it is not (no /dev/kvm, or kvm_pvm: a software-only module far too slow for a
# stock kernel), lguest runs inside the nested bed (bed.sh: a TCG QEMU whose Linux has a nested-SVM
# /dev/kvm), and the guest's console reaches this terminal through L1's. One line says which, first.
# `exit` in the guest's shell (or Ctrl-A x, lguest's escape) ends the demo; the terminal is restored.
#
# The dotnet cake Demo target runs this after building the NativeAOT launcher. Environment:
#   LGUEST_DEMO=host|bed   take that path whatever /dev/kvm is
#   LGUEST_LAUNCHER=PATH   the launcher to run (default: artifacts/lguest/lguest)
# Piped input (not a terminal) is held back until the guest's shell is up, then fed to it: keys sent
# earlier would be lost (a UART driver clears its FIFO when it starts) or echoed by L1's terminal.
# Exit status: lguest's (bed.sh's in the bed: 124 timeout, 125 the bed failed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
say() { printf 'demo: %s\n' "$*" >&2; }
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

launcher="${LGUEST_LAUNCHER:-$root/artifacts/lguest/lguest}"
if [[ ! -x "$launcher" ]]; then
    say "no launcher at $launcher: 'dotnet cake --target=Demo' builds it first (or --target=Publish)"
    exit 1
fi

# Where lguest can run: sets $where (host or bed) and $reason.
choose() {
    local module=""
    case "${LGUEST_DEMO:-}" in
        host | bed) where="$LGUEST_DEMO"; reason="LGUEST_DEMO=$LGUEST_DEMO"; return ;;
        "") ;;
        *) say "LGUEST_DEMO='$LGUEST_DEMO' is not host or bed"; exit 2 ;;
    esac
    where=bed
    [[ -d /sys/module/kvm_intel ]] && module=kvm_intel
    [[ -d /sys/module/kvm_amd ]] && module=kvm_amd
    # /dev/kvm first: a loaded module says nothing when the device is not there (hidden in a container or a
    # mount namespace), and kvm_pvm is named only when it is the one KVM module that can be behind /dev/kvm.
    if [[ ! -c /dev/kvm ]]; then
        reason="this host has no /dev/kvm"
    elif [[ -d /sys/module/kvm_pvm && -z "$module" ]]; then
        reason="this host's /dev/kvm is kvm_pvm, a software-only KVM far too slow for a stock kernel"
    elif [[ -d /sys/module/kvm_pvm ]]; then
        reason="this host's /dev/kvm may be kvm_pvm (loaded beside $module), far too slow for a stock kernel"
    elif [[ -z "$module" ]]; then
        reason="this host's /dev/kvm is neither kvm_intel nor kvm_amd"
    elif ! (exec 3<>/dev/kvm) 2>/dev/null; then
        reason="/dev/kvm ($module) does not open for $(id -un)"
    else
        where=host
        reason="$module"
    fi
}
where=""
reason=""
choose

# Packages, kernels and the guest image, cached (prepare.sh installs and builds only what is missing).
prepared="$("$here/prepare.sh")"
set -a
eval "$prepared"
set +a
kernel="$LGUEST_CLOUD_VMLINUX"
[[ -s "$kernel" ]] || kernel="$LGUEST_CLOUD_VMLINUZ"

# The guest's console has no size of its own: give it this terminal's.
size=()
if [[ -t 1 ]] && read -r rows cols < <(stty size 2>/dev/null) && (( rows > 0 && cols > 0 )); then
    size=("lguest.rows=$rows" "lguest.cols=$cols")
fi
guest_args=(256 "$kernel" "--initrd=$LGUEST_GUEST_INITRD" console=ttyS0 quiet "${size[@]}")

run_lguest() {
    if [[ "$where" == host ]]; then
        "$launcher" "${guest_args[@]}"
    else
        local command arg
        command="exec $(quote "$launcher")"
        for arg in "${guest_args[@]}"; do
            command+=" $(quote "$arg")"
        done
        # An interactive shell has no end in sight: no hang protection on a terminal.
        local timeout=600
        [[ -t 0 ]] && timeout=0
        "$here/bed.sh" --timeout "$timeout" -- "$command"
    fi
}

if [[ "$where" == host ]]; then
    say "Debian $LGUEST_CLOUD_RELEASE and a busybox shell under lguest on this host's /dev/kvm ($reason); 'exit' ends it"
else
    say "$reason: booting inside the nested bed (a QEMU TCG L1 with nested SVM, about 30 s); 'exit' ends it"
fi

# Whatever happens, the terminal is put back as it was (lguest and QEMU restore it themselves too).
saved=""
log=""
[[ -t 0 ]] && saved="$(stty -g)"
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    [[ -n "$saved" ]] && stty "$saved" 2>/dev/null
    [[ -n "$log" ]] && rm -f "$log" "$log.done"
    return 0
}
trap cleanup EXIT

set +e
if [[ -t 0 ]]; then
    run_lguest
    status=$?
else
    log="$(mktemp)"
    feed() {
        until grep -q 'built-in shell' "$log" 2>/dev/null; do
            [[ -e "$log.done" ]] && return 0
            sleep 0.2
        done
        cat
    }
    feed | { run_lguest; code=$?; touch "$log.done"; exit "$code"; } | tee "$log"
    status="${PIPESTATUS[1]}"
fi
set -e
exit "$status"
