#!/usr/bin/env bash
# fs-initramfs.sh [--force]: build the shared-folder benchmark's guest image and print its path.
#
# The guest image of Lguest.Tests/Guests (busybox, guest-init.sh as /init, its scenarios) for the Debian
# *generic* kernel, which has both file systems to compare as modules (9p, which the cloud kernel lacks, and
# virtiofs), plus this folder's fs-bench scenario as /scenarios/fs-bench. Lands in
# ${LGUEST_CACHE:-$HOME/.cache/lguest}/images/fs-bench-<release>-<digest>.cpio.gz, rebuilt when an input changes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
guests="$(cd "$here/../../Lguest.Tests/Guests" && pwd)"
# shellcheck source=../../Lguest.Tests/Guests/initramfs-lib.sh
source "$guests/initramfs-lib.sh"

force=0
[[ "${1:-}" == --force ]] && force=1
modules=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console
    9pnet 9pnet_virtio 9p fuse virtiofs)
[[ -n "${LGUEST_GENERIC_MODULES:-}" ]] || eval "$("$guests/kernels.sh")"
images="$LGUEST_CACHE/images"
mkdir -p "$images"
exec 8>"$images/.fs-bench.lock"
flock 8

digest="$(inputs_digest "$LGUEST_GENERIC_RELEASE ${modules[*]}" "${BUSYBOX:-/bin/busybox}" "$here/fs-initramfs.sh" \
    "$here/fs-bench" "$guests/initramfs-lib.sh" "$guests/resolve-modules.sh" "$guests/guest-init.sh")"
image="$(image_path "$images" "fs-bench-$LGUEST_GENERIC_RELEASE" "$digest")"
prune_images "$images" "fs-bench-$LGUEST_GENERIC_RELEASE" "$image"
if (( force == 0 )) && [[ -f "$image" ]]; then
    [[ -n "${LGUEST_BED:-}" ]] || touch "$image"
    printf '%s\n' "$image"
    exit 0
fi

echo "fs-initramfs.sh: building $image" >&2
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
stage_busybox "$root"
stage_modules "$root" "$LGUEST_GENERIC_MODULES" "${modules[@]}"
install -m 0755 "$guests/guest-init.sh" "$root/init"
mkdir -p "$root/scenarios"
install -m 0755 "$here/fs-bench" "$root/scenarios/fs-bench"
printf 'lguest-fs-bench\n' > "$root/etc/hostname"
pack_cpio "$root" "$image"
printf '%s\n' "$image"
