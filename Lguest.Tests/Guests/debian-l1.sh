#!/usr/bin/env bash
# debian-l1.sh: inside the bed (L1), the Debian guest's checks under lguest, in one boot (a systemd boot in
# L2 costs minutes of CI under TCG, so every check shares it):
#   boot a copy of the Debian image (debian-image.sh; the variables it prints must be in the environment)
#   to multi-user.target with lguest.scenario=fstrim: the guest reports its failed units, writes and deletes
#   lguest.fstrim.mib MiB, runs fstrim and powers off; then the image's allocated bytes are compared with
#   those before the boot, and `e2fsck -fn` checks the file system the power-off left.
#   LGUEST   the launcher as the start of a shell command (as for durability-l1.sh)
# Prints the guest's console (GUEST-DEBIAN-READY <failed> ..., GUEST-SCENARIO-EXIT ...) and:
#   BED-DEBIAN-BOOT <lguest exit status> <seconds to GUEST-DEBIAN-READY>
#   BED-DEBIAN-FSCK <e2fsck exit status>          (0: clean after power-off)
#   BED-DEBIAN-ALLOCATED <bytes before the fstrim boot> <bytes after it>
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
: "${LGUEST_DEBIAN_IMAGE:?run debian-image.sh first}" "${LGUEST_DEBIAN_VMLINUZ:?}" "${LGUEST_DEBIAN_INITRD:?}"
mib="${DEBIAN_FSTRIM_MIB:-64}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
image="$work/debian.img"
cp --sparse=always "$LGUEST_DEBIAN_IMAGE" "$image"

boot() { # boot SCENARIO [ARGS...]: the guest on the console; prints BED-DEBIAN-BOOT
    local scenario="$1" start end status
    shift
    start=$(date +%s.%N)
    "${launcher[@]}" --block="$image" --no-reboot 512 "$LGUEST_DEBIAN_VMLINUZ" --initrd="$LGUEST_DEBIAN_INITRD" \
        console=ttyS0 root=/dev/vda rw quiet "lguest.scenario=$scenario" "$@" < /dev/null 2>&1 | tee "$work/console.log"
    status=${PIPESTATUS[0]}
    end=$(date +%s.%N)
    echo "BED-DEBIAN-BOOT $status $(awk "BEGIN { printf \"%.1f\", $end - $start }")"
}

allocated() { echo $(($(stat -c %b "$image") * 512)); }

before="$(allocated)"
boot fstrim "lguest.fstrim.mib=$mib"
echo "BED-DEBIAN-ALLOCATED $before $(allocated)"
e2fsck -fn "$image" > "$work/fsck.log" 2>&1
status=$?
tail -n 3 "$work/fsck.log"
echo "BED-DEBIAN-FSCK $status"
