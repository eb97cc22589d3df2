#!/usr/bin/env bash
# prepare.sh: install what the nested bed needs and build its kernels and images into the cache.
#
# Everything comes from Debian packages: QEMU (L1, and the reference L2 VMM), busybox-static (both images),
# cpio/kmod/compressors (image building), iproute2 (network tests inside L1), gcc and libc6-dev (the static
# vsock-peer in the guest image), socat (the vsock test's host side in L1), e2fsprogs (the snapshot test's disk:
# mkfs.ext4, e2fsck and debugfs in L1). Packages are installed with
# apt only when missing, non-interactively (root, or through sudo). Then kernels.sh fetches the generic
# and cloud kernels and the two images are built, all in ${LGUEST_CACHE:-$HOME/.cache/lguest}.
# .ci/run calls this; running it again is cheap. Prints the kernels.sh assignments and the image paths.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { printf 'prepare.sh: %s\n' "$*" >&2; }

packages=(qemu-system-x86 busybox-static cpio kmod xz-utils zstd lz4 gzip iproute2 util-linux coreutils socat gcc libc6-dev e2fsprogs)
missing=()
for package in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

sudo=()
[[ "$(id -u)" == 0 ]] || sudo=(sudo)
apt_update() { "${sudo[@]}" apt-get update -q >&2; }

if (( ${#missing[@]} > 0 )); then
    if (( ${#sudo[@]} > 0 )) && ! command -v sudo > /dev/null; then
        say "not root and no sudo: cannot install ${missing[*]}"
        exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_update
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

# Stale package lists name kernels the mirror no longer has: refresh once and retry.
if ! kernels="$("$here/kernels.sh")"; then
    say "kernels.sh failed; refreshing the package lists and retrying"
    apt_update
    kernels="$("$here/kernels.sh")"
fi
printf '%s\n' "$kernels"
set -a
eval "$kernels"
set +a
printf 'LGUEST_BED_INITRD=%q\n' "$("$here/bed-initramfs.sh")"
printf 'LGUEST_GUEST_INITRD=%q\n' "$("$here/guest-initramfs.sh")"
