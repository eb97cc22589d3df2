#!/usr/bin/env bash
# without-kvm.sh COMMAND [ARGS...]: run COMMAND where /dev/kvm does not exist, as on a machine without KVM.
#
# For checking, on a host with KVM, what a user without it gets (`dotnet cake --target=Test` running the Kvm
# layer in the nested bed, the Demo's first line). COMMAND runs in a private mount namespace whose /dev is a
# tmpfs holding everything the host's /dev holds (device nodes copied, pts, shm, net and the other folders
# bound) except kvm: opening /dev/kvm fails with ENOENT there, as it would on such a machine. Nothing
# changes outside the namespace. Needs root (unshare, mount, mknod). Exit status: COMMAND's.
set -euo pipefail

(( $# > 0 )) || { echo "usage: without-kvm.sh COMMAND [ARGS...]" >&2; exit 2; }
if (( EUID != 0 )); then
    echo "without-kvm.sh: needs root (a private mount namespace with its own /dev)" >&2
    exit 2
fi

# shellcheck disable=SC2016 # expanded by the inner bash
exec unshare --mount --propagation private -- bash -euo pipefail -c '
    old="$(mktemp -d)"
    mount --rbind /dev "$old"
    mount -t tmpfs -o mode=0755,size=1m devices /dev
    for entry in "$old"/* "$old"/.[!.]*; do
        [[ -e "$entry" || -L "$entry" ]] || continue
        name="${entry##*/}"
        [[ "$name" == kvm ]] && continue
        if [[ -d "$entry" && ! -L "$entry" ]]; then
            mkdir "/dev/$name"
            mount --rbind "$entry" "/dev/$name"
        else
            cp -a "$entry" "/dev/$name"
        fi
    done
    umount -l "$old"
    rmdir "$old"
    exec "$@"
' without-kvm "$@"
