#!/usr/bin/env bash
# debian-image.sh [--force]: build the Debian 12 guest (a real distribution, root on virtio-blk) and print
# three shell-quoted assignments for eval:
#   LGUEST_DEBIAN_IMAGE    the root file system: a sparse raw ext4 image (boot a copy: the guest writes it)
#   LGUEST_DEBIAN_VMLINUZ  the image's own cloud kernel (bzImage), copied out of its /boot
#   LGUEST_DEBIAN_INITRD   that kernel's own initramfs (initramfs-tools, built inside the image)
#
# debootstrap --variant=minbase from the mirror apt is configured with, plus systemd as init, the cloud
# kernel with initramfs-tools, fio, e2fsprogs and util-linux (fstrim). The tree becomes an ext4 image with
# `mke2fs -d` (no loop device, no mount). Root logs in on the serial console without a password. The image's
# own unit lguest-scenario.service runs once multi-user.target is reached: with `lguest.scenario=NAME` on the
# kernel command line it runs /usr/local/lib/lguest/NAME from this script's debian-scenarios/ and powers off,
# printing GUEST-DEBIAN-READY <failed units>, the scenario's markers and GUEST-SCENARIO-EXIT <status> on
# /dev/console; without one it does nothing (a login prompt on ttyS0).
#
# Boot it with root=/dev/vda (see README.md). Everything lands in ${LGUEST_CACHE:-$HOME/.cache/lguest}/images/
# debian-<digest>.{img,vmlinuz,initrd}, named after a digest of this script, its scenarios and the
# mirror's package versions being unknown until built: the digest covers the inputs in this folder, so a
# changed script builds a new image; one unused for three days is removed. Needs root (debootstrap, chroot).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { printf 'debian-image.sh: %s\n' "$*" >&2; }

force=0
[[ "${1:-}" == --force ]] && force=1

cache="${LGUEST_CACHE:-$HOME/.cache/lguest}"
images="$cache/images"
mkdir -p "$images"
exec 7>"$images/.debian.lock"
flock 7

suite=bookworm
# The image's size as the guest sees it; the file is sparse, so only what the guest wrote takes host space.
size_mib=2048
packages=(systemd systemd-sysv udev dbus linux-image-cloud-amd64 initramfs-tools fio e2fsprogs util-linux
    procps kmod iproute2)

digest="$( { printf '%s %s %s\n' "$suite" "$size_mib" "${packages[*]}"; cat "$here/debian-image.sh" \
    "$here"/debian-scenarios/*; } | sha256sum | cut -c1-16)"
base="$images/debian-$suite-$digest"
find "$images" -maxdepth 1 -name "debian-$suite-*" ! -name "debian-$suite-$digest.*" -mtime +3 -delete 2>/dev/null || true

print() {
    printf 'LGUEST_DEBIAN_IMAGE=%q\nLGUEST_DEBIAN_VMLINUZ=%q\nLGUEST_DEBIAN_INITRD=%q\n' \
        "$base.img" "$base.vmlinuz" "$base.initrd"
}

if (( force == 0 )) && [[ -f "$base.img" && -f "$base.vmlinuz" && -f "$base.initrd" ]]; then
    [[ -n "${LGUEST_BED:-}" ]] || touch "$base.img" "$base.vmlinuz" "$base.initrd"
    print
    exit 0
fi
if [[ -n "${LGUEST_BED:-}" ]]; then
    say "no image in the cache, and the bed cannot build one (build it on the host first)"
    exit 1
fi
[[ "$(id -u)" == 0 ]] || { say "needs root (debootstrap, chroot)"; exit 1; }
if ! command -v debootstrap > /dev/null || ! command -v mke2fs > /dev/null; then
    say "installing debootstrap and e2fsprogs"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap e2fsprogs >&2
fi

# The mirror apt uses here (deb822 or one-line sources), so debootstrap goes where apt-get already goes.
mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)"
[[ -n "$mirror" ]] || mirror="$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
[[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian

say "building $base.img from $mirror ($suite, minbase + ${packages[*]}); a few minutes"
work="$(mktemp -d "$images/.debian-build.XXXXXX")"
root="$work/root"
cleanup() {
    for fs in dev/pts dev proc sys; do umount "$root/$fs" 2> /dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# The kernel's postinst runs update-initramfs; the policy keeps services from starting in the chroot.
DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
    "$suite" "$root" "$mirror" >&2

# Identity, console login and the scenario hook.
printf 'lguest-debian\n' > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 lguest-debian\n' > "$root/etc/hosts"
printf '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n' > "$root/etc/fstab"
: > "$root/etc/machine-id"   # systemd makes one at the first boot (transient: / is rw, but each test boots a copy)
chroot "$root" passwd -d root > /dev/null
mkdir -p "$root/etc/systemd/system/serial-getty@ttyS0.service.d"
cat > "$root/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM
UNIT
mkdir -p "$root/usr/local/lib/lguest"
install -m 0755 "$here"/debian-scenarios/* "$root/usr/local/lib/lguest/"
cat > "$root/etc/systemd/system/lguest-scenario.service" <<'UNIT'
[Unit]
Description=lguest test scenario (lguest.scenario= on the kernel command line)
ConditionKernelCommandLine=lguest.scenario
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/lib/lguest/run
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console

[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable lguest-scenario.service > /dev/null 2>&1
# Nothing in a minbase image needs these at boot under a VMM without a real clock source to sync or a
# hardware RNG daemon; timers that only clean up would just add noise to the boot's measurements.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer > /dev/null 2>&1 || true
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* 2> /dev/null || true

# The kernel and initramfs the image installed for itself, copied out for the VMM's -kernel/--initrd.
vmlinuz="$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' | sort -V | tail -n 1)"
initrd="$root/boot/initrd.img-${vmlinuz##*/vmlinuz-}"
[[ -f "$vmlinuz" && -f "$initrd" ]] || { say "no cloud kernel or initramfs in $root/boot"; exit 1; }

truncate -s "${size_mib}M" "$work/image"
mke2fs -q -t ext4 -L debian-root -d "$root" -F "$work/image" >&2
e2fsck -fn "$work/image" > /dev/null
cp "$vmlinuz" "$base.vmlinuz.tmp"
cp "$initrd" "$base.initrd.tmp"
mv "$work/image" "$base.img"
mv "$base.vmlinuz.tmp" "$base.vmlinuz"
mv "$base.initrd.tmp" "$base.initrd"
say "built $base.img ($(du -h "$base.img" | cut -f1) used of ${size_mib} MiB)"
print
