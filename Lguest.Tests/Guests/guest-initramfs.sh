#!/usr/bin/env bash
# guest-initramfs.sh [--force]: build the L2 guest image and print its path.
#
# The image (also the Demo's) is an initramfs, gzip'd newc cpio: Debian's busybox-static, the Debian cloud
# kernel's virtio modules (decompressed, dependencies first) and guest-init.sh as /init, plus the test
# scenarios in scenarios/ as /scenarios/NAME. Boot it with the cloud kernel from kernels.sh; see README.md.
# It lands in ${LGUEST_CACHE:-$HOME/.cache/lguest}/images/guest-<release>-<digest>.cpio.gz and is rebuilt only
# when an input changes (this folder's scripts, busybox, the kernel release) or with --force.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/initramfs-lib.sh
source "$here/initramfs-lib.sh"

force=0
[[ "${1:-}" == --force ]] && force=1

# The issue's order; resolve-modules.sh keeps it and skips any that are built in.
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
    failover net_failover virtio_net virtio_console virtio-rng fuse virtiofs
    'vsock?' 'vmw_vsock_virtio_transport_common?' 'vmw_vsock_virtio_transport?')

# bed.sh exports what kernels.sh printed; run it only when called on our own.
[[ -n "${LGUEST_CLOUD_MODULES:-}" ]] || eval "$("$here/kernels.sh")"
images="$LGUEST_CACHE/images"
mkdir -p "$images"
exec 8>"$images/.guest.lock"
flock 8

digest="$(inputs_digest "$LGUEST_CLOUD_RELEASE ${modules[*]}" "${BUSYBOX:-/bin/busybox}" \
    "$here/guest-initramfs.sh" "$here/initramfs-lib.sh" "$here/resolve-modules.sh" "$here/guest-init.sh" \
    "$here/Vsock/vsock-peer.c" "$here/Vsock/build.sh" \
    "$here"/scenarios/*)"
image="$(image_path "$images" guest-$LGUEST_CLOUD_RELEASE "$digest")"
prune_images "$images" guest-$LGUEST_CLOUD_RELEASE "$image"
if (( force == 0 )) && [[ -f "$image" ]]; then
    [[ -n "${LGUEST_BED:-}" ]] || touch "$image"   # in L1 the cache is an overlay: no copy-up
    printf '%s\n' "$image"
    exit 0
fi

echo "guest-initramfs.sh: building $image" >&2
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
stage_busybox "$root"
# /init is a script, not an init daemon: busybox's poweroff, reboot and halt would signal PID 1, which has
# no handlers, and nothing would happen. The shell's profile makes them act at once, as a person at the
# shell expects (functions: this busybox runs its applets before anything on PATH). ENV: nested shells too.
cat > "$root/etc/profile" <<'PROFILE'
export ENV=/etc/profile
poweroff() { sync; busybox poweroff -f "$@"; }
reboot() { sync; busybox reboot -f "$@"; }
halt() { sync; busybox halt -f "$@"; }
PROFILE
stage_modules "$root" "$LGUEST_CLOUD_MODULES" "${modules[@]}"
install -m 0755 "$here/guest-init.sh" "$root/init"
# The vsock scenario's program (busybox has no AF_VSOCK): static, built into the cache from its source.
install -m 0755 "$("$here/Vsock/build.sh")" "$root/bin/vsock-peer"
mkdir -p "$root/scenarios"
install -m 0755 "$here"/scenarios/* "$root/scenarios/"
printf 'lguest-guest\n' > "$root/etc/hostname"
pack_cpio "$root" "$image"
printf '%s\n' "$image"
