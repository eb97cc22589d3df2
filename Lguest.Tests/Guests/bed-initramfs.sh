#!/usr/bin/env bash
# bed-initramfs.sh [--force]: build the L1 bed image and print its path.
#
# The image boots Debian's generic kernel (the cloud flavour lacks 9p) inside a TCG QEMU: busybox-static,
# the modules for virtio-pci, 9p over virtio, overlayfs, kvm and kvm-amd (tun, bridge and veth too when present, for
# network tests), dependencies resolved by resolve-modules.sh into load order, and bed-init.sh as /init.
# It lands in ${LGUEST_CACHE:-$HOME/.cache/lguest}/images/bed-<release>-<digest>.cpio.gz and is rebuilt only when
# an input changes or with --force.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/initramfs-lib.sh
source "$here/initramfs-lib.sh"

force=0
[[ "${1:-}" == --force ]] && force=1

# A trailing '?' marks a module as optional (resolve-modules.sh).
modules=(virtio_pci 9p 9pnet_virtio overlay kvm_amd 'tun?' 'bridge?' 'veth?' 'vhost_vsock?')

# bed.sh exports what kernels.sh printed; run it only when called on our own.
[[ -n "${LGUEST_GENERIC_MODULES:-}" ]] || eval "$("$here/kernels.sh")"
images="$LGUEST_CACHE/images"
mkdir -p "$images"
exec 8>"$images/.bed.lock"
flock 8

digest="$(inputs_digest "$LGUEST_GENERIC_RELEASE ${modules[*]}" "${BUSYBOX:-/bin/busybox}" \
    "$here/bed-initramfs.sh" "$here/initramfs-lib.sh" "$here/resolve-modules.sh" "$here/bed-init.sh")"
image="$(image_path "$images" bed-$LGUEST_GENERIC_RELEASE "$digest")"
prune_images "$images" bed-$LGUEST_GENERIC_RELEASE "$image"
if (( force == 0 )) && [[ -f "$image" ]]; then
    [[ -n "${LGUEST_BED:-}" ]] || touch "$image"   # in L1 the cache is an overlay: no copy-up
    printf '%s\n' "$image"
    exit 0
fi

echo "bed-initramfs.sh: building $image" >&2
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
stage_busybox "$root"
stage_modules "$root" "$LGUEST_GENERIC_MODULES" "${modules[@]}"
install -m 0755 "$here/bed-init.sh" "$root/init"
printf 'lguest-bed\n' > "$root/etc/hostname"
pack_cpio "$root" "$image"
printf '%s\n' "$image"
