#!/usr/bin/env bash
# l2-qemu.sh [KERNEL [INITRD [APPEND [QEMU-ARGS...]]]]: boot an L2 guest with QEMU on KVM, inside the bed.
#
# QEMU is the reference VMM: with it booting the guest image, the bed proves itself (nested SVM works,
# the kernel reaches /init) independently of our launcher. Run it inside L1, e.g.
#   bed.sh -- Lguest.Tests/Guests/l2-qemu.sh "" "" "console=ttyS0 lguest.scenario=hello"
# An empty or missing KERNEL or INITRD means the cloud kernel and guest image bed.sh exports
# (LGUEST_GUEST_VMLINUZ, LGUEST_GUEST_INITRD); APPEND defaults to "console=ttyS0". QEMU-ARGS are added
# as they are (devices, -smp, ...). The guest's console is this process's stdio; a guest reboot or
# panic ends QEMU (-no-reboot), and QEMU's exit status is this script's.
set -euo pipefail

kernel="${1:-${LGUEST_GUEST_VMLINUZ:-}}"
initrd="${2:-${LGUEST_GUEST_INITRD:-}}"
append="${3:-console=ttyS0}"
shift "$(( $# < 3 ? $# : 3 ))"
if [[ -z "$kernel" || -z "$initrd" ]]; then
    echo "l2-qemu.sh: no kernel or initrd given, and LGUEST_GUEST_VMLINUZ/LGUEST_GUEST_INITRD unset (run it through bed.sh)" >&2
    exit 2
fi
if [[ ! -c /dev/kvm ]]; then
    echo "l2-qemu.sh: no /dev/kvm here (kvm-amd did not load?)" >&2
    exit 1
fi

# qboot, when QEMU ships it, starts the guest faster than SeaBIOS.
firmware=()
for dir in /usr/share/qemu /usr/share/qemu/firmware; do
    if [[ -f "$dir/qboot.rom" ]]; then
        firmware=(-bios "$dir/qboot.rom")
        break
    fi
done

exec qemu-system-x86_64 -accel kvm -cpu host -M pc -m 256 "${firmware[@]}" \
    -display none -serial stdio -monitor none -no-reboot -nic none \
    -kernel "$kernel" -initrd "$initrd" -append "panic=-1 $append" "$@"
