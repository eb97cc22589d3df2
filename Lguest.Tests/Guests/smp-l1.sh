#!/usr/bin/env bash
# smp-l1.sh CPUS...: inside the bed (L1), the SMP test's boots (SmpInBedTests): for each count in CPUS, one boot of
# the guest image (its PVH vmlinux) under lguest with --cpus=<count> and lguest.scenario=smp, one after another.
#   LGUEST       the launcher as the start of a shell command (as for durability-l1.sh)
#   SMP_GUARD    seconds one boot may take before it counts as hung (default 240): it is then looked at and killed,
#                and the next boot still runs
#   SMP_ARGS     more guest kernel arguments (e.g. lguest.smp-work=N)
# Prints the guest's console, then after each boot:
#   BED-SMP-BOOT <cpus> exit <lguest's exit status, or "hung"> seconds <from start to exit or kill>
# and for a hung boot, before the kill, what it was doing (BED-SMP-HUNG lines): each lguest thread's state, wchan and
# kernel stack, and for two seconds each vCPU's KVM exits by reason and guest RIP (kvm:kvm_exit tracepoint; a RIP
# names a symbol of "$LGUEST_GUEST_VMLINUX", which the PVH boot runs unrelocated), so a hang names where each vCPU was.
set -u
(( $# > 0 )) || { echo "usage: smp-l1.sh CPUS..." >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
guard="${SMP_GUARD:-240}"
: "${LGUEST_GUEST_VMLINUX:?bed.sh sets it}" "${LGUEST_GUEST_INITRD:?bed.sh sets it}"

hung() { echo "BED-SMP-HUNG $*"; }

look_at() { # look_at PID: what a hung lguest and its vCPUs are doing
    local pid="$1" task tracing=/sys/kernel/tracing
    for task in /proc/"$pid"/task/*; do
        hung "thread $(cat "$task/comm" 2>/dev/null) state $(cut -d' ' -f3 "$task/stat" 2>/dev/null) wchan $(cat "$task/wchan" 2>/dev/null)"
        sed 's/^/BED-SMP-HUNG   /' "$task/stack" 2>/dev/null | head -n 8
    done
    mountpoint -q "$tracing" || mount -t tracefs nodev "$tracing" 2> /dev/null
    if [[ -w "$tracing/events/kvm/kvm_exit/enable" ]]; then
        echo > "$tracing/trace"
        echo 1 > "$tracing/events/kvm/kvm_exit/enable"
        sleep 2
        echo 0 > "$tracing/events/kvm/kvm_exit/enable"
        # "kvm_exit: vcpu 1 reason npf rip 0xffffffff81234567 info1 ..." (the format varies a little by kernel)
        sed -nE 's/.*kvm_exit: *vcpu ([0-9]+) reason ([A-Za-z_]+).* rip (0x[0-9a-f]+).*/vcpu \1 \2 rip \3/p' "$tracing/trace" |
            sort | uniq -c | sort -rn | head -n 24 | sed 's/^ */BED-SMP-HUNG exits /'
        hung "vCPUs with no exit in 2 s are in the guest all along or blocked in KVM (halted, waiting for a SIPI)"
    else
        hung "no kvm tracepoints in L1"
    fi
}

for cpus in "$@"; do
    start=$(date +%s)
    # shellcheck disable=SC2086 # SMP_ARGS is a list of words
    "${launcher[@]}" 256 "$LGUEST_GUEST_VMLINUX" --initrd="$LGUEST_GUEST_INITRD" "--cpus=$cpus" console=ttyS0 quiet \
        lguest.scenario=smp ${SMP_ARGS:-} < /dev/null &
    pid=$!
    status=""
    while [[ -z "$status" ]]; do
        if ! kill -0 "$pid" 2> /dev/null; then
            wait "$pid"
            status=$?
        elif (( $(date +%s) - start >= guard )); then
            hung "--cpus=$cpus: no exit after $guard s"
            look_at "$pid"
            kill -KILL "$pid" 2> /dev/null
            wait "$pid" 2> /dev/null
            status=hung
        else
            sleep 1
        fi
    done
    echo "BED-SMP-BOOT $cpus exit $status seconds $(( $(date +%s) - start ))"
done
