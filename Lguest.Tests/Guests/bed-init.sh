#!/bin/sh
# bed-init.sh: /init of the L1 bed image (busybox sh). Built into the image by bed-initramfs.sh.
#
# L1 is a TCG QEMU whose `-cpu max` emulates AMD SVM, so kvm-amd here gives a /dev/kvm with hardware-
# virtualization semantics. This init mounts the host's root filesystem (9p tag "host", read-only) and
# lays a tmpfs over it with overlayfs at /host: every host path (a clone under /tmp included) is seen
# as it is, and writes land in L1's memory, never on the host. It gives the root fresh proc, sys, dev
# and /run, runs ONE command inside it with `chroot /host /bin/sh -c`, prints BED-EXIT <status> and
# powers off. Everything runs as root on the console.
#
# Kernel command line (bed.sh writes it):
#   bed.cmd=<base64 of a /bin/sh command>   or   bed.script=<host path of a /bin/sh script>
#   bed.msize=<9p msize bytes>               optional, default 512000
#   bed.cache=<9p cache mode>                optional, default loose (none, mmap, fscache, loose)
#   bed.share=<base64 of a host path>        optional: 9p tag "share" (read-write) mounted at that path
#   bed.hatch=1                              optional: a root shell in the root on /dev/ttyS1 (bed.sh's hatch)
# Markers: BED-KVM yes|no (whether /dev/kvm exists), BED-COMMAND-START, BED-EXIT <status>.
# shellcheck shell=sh

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

say() { echo "bed-init: $*"; }
finish() {
    echo "BED-EXIT $1"
    poweroff -f
    while :; do sleep 3600; done
}

while read -r module; do
    insmod "$module" 2>/dev/null || say "insmod $module failed"
done < /etc/modules.load
if [ -c /dev/kvm ]; then echo "BED-KVM yes"; else echo "BED-KVM no"; fi

# Loopback up: L1 has no network card, but programs talk to themselves over 127.0.0.1 (vstest's test host
# never connects to its runner without it, even after 900 s).
ip link set lo up

cmd=""
hatch=""
share=""
msize=512000
cache=loose
read -r cmdline < /proc/cmdline
for word in $cmdline; do
    case "$word" in
        bed.cmd=*) cmd="$(echo "${word#bed.cmd=}" | base64 -d)" || { say "bed.cmd is not base64"; finish 125; } ;;
        bed.script=*) cmd="exec /bin/sh '${word#bed.script=}'" ;;
        bed.msize=*) msize="${word#bed.msize=}" ;;
        bed.cache=*) cache="${word#bed.cache=}" ;;
        bed.hatch=1) hatch=yes ;;
        bed.share=*) share="$(echo "${word#bed.share=}" | base64 -d)" || { say "bed.share is not base64"; finish 125; } ;;
    esac
done
[ -n "$cmd" ] || { say "no bed.cmd= or bed.script= on the kernel command line"; finish 125; }

mkdir -p /host /lower /rw
# cache=loose: the host tree does not change under a bed run, and caching makes dotnet start fast.
if ! mount -t 9p -o "trans=virtio,version=9p2000.L,ro,msize=$msize,cache=$cache" host /lower; then
    say "cannot mount the host root (9p tag 'host')"
    finish 125
fi
# Writable scratch over the read-only host root: the host's own /tmp (where a CI clone may live) stays
# visible, unlike with tmpfs mounted over it.
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
if ! mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /host; then
    say "overlayfs over the host root failed; the root stays read-only with tmpfs scratch"
    mount --move /lower /host
    for scratch in /tmp /var/tmp; do
        mount -t tmpfs -o mode=1777 tmpfs "/host$scratch"
    done
fi
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup 2>/dev/null
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
ln -sf pts/ptmx /host/dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
ln -sf /proc/self/fd /host/dev/fd
ln -sf /proc/self/fd/0 /host/dev/stdin
ln -sf /proc/self/fd/1 /host/dev/stdout
ln -sf /proc/self/fd/2 /host/dev/stderr
mount -t tmpfs -o mode=0755 tmpfs /host/run
mkdir -p /host/run/lock /host/run/user/0 /host/tmp/home
chmod 0700 /host/run/user/0
if [ -n "$share" ]; then
    # No cache: the host reads what lands here once L1 is gone, and nothing else writes it meanwhile.
    mkdir -p "/host$share"
    if ! mount -t 9p -o "trans=virtio,version=9p2000.L,msize=$msize,cache=none" share "/host$share"; then
        say "cannot mount the shared directory $share (9p tag 'share')"
        finish 125
    fi
fi

# The hatch (bed.sh): a root shell in the root on the second serial port, for looking into a run that hangs.
if [ -n "$hatch" ] && [ -c /dev/ttyS1 ]; then
    setsid sh -c 'exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb \
        chroot /host /bin/sh -i < /dev/ttyS1 > /dev/ttyS1 2>&1' &
fi
echo BED-COMMAND-START
# A clean, root-like environment; everything a program would write under $HOME goes to the tmpfs.
env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root USER=root LOGNAME=root SHELL=/bin/sh TERM="${TERM:-linux}" LANG=C.UTF-8 \
    TMPDIR=/tmp XDG_RUNTIME_DIR=/run/user/0 XDG_CACHE_HOME=/tmp/home/.cache \
    XDG_CONFIG_HOME=/tmp/home/.config XDG_DATA_HOME=/tmp/home/.local/share XDG_STATE_HOME=/tmp/home/.local/state \
    DOTNET_CLI_HOME=/tmp/home DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 \
    DOTNET_NOLOGO=1 DOTNET_GENERATE_ASPNET_CERTIFICATE=false DOTNET_ADD_GLOBAL_TOOLS_TO_PATH=false \
    DOTNET_CLI_WORKLOAD_UPDATE_NOTIFY_DISABLE=1 DOTNET_CLI_UI_LANGUAGE=en \
    LGUEST_BED=1 \
    chroot /host /bin/sh -c "$cmd"
finish $?
