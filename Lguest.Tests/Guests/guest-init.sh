#!/bin/sh
# guest-init.sh: /init of the L2 guest image (busybox sh). Built into the image by guest-initramfs.sh.
#
# Prints GUEST-INIT-READY as soon as the console works, before anything can fail, so a test sees that
# the kernel reached userspace. Then loads the virtio modules (if they match the running kernel) and
# either runs /scenarios/NAME for lguest.scenario=NAME on the kernel command line, printing
# GUEST-SCENARIO-EXIT <status>, or gives an interactive shell on the console (lguest.cols=N lguest.rows=M:
# the terminal's size). Either way it ends with `poweroff -f`: if /init exited the kernel would panic.
# shellcheck shell=sh

export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM="${TERM:-linux}"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /tmp
# Reopen the console from the fresh /dev: the kernel's initial one may be missing from the image.
[ -c /dev/console ] && exec </dev/console >/dev/console 2>&1

echo GUEST-INIT-READY

release="$(uname -r)"
if [ -d "/lib/modules/$release" ]; then
    while read -r module; do
        insmod "$module" || echo "guest-init: insmod $module failed"
    done < /etc/modules.load
else
    echo "guest-init: no modules for kernel $release in this image (built for $(ls /lib/modules)); not loading any"
fi

scenario=""
cols=""
rows=""
read -r cmdline < /proc/cmdline
for word in $cmdline; do
    case "$word" in
        lguest.scenario=*) scenario="${word#lguest.scenario=}" ;;
        lguest.cols=*) cols="${word#lguest.cols=}" ;;
        lguest.rows=*) rows="${word#lguest.rows=}" ;;
    esac
done

if [ -n "$scenario" ]; then
    if [ -f "/scenarios/$scenario" ]; then
        sh "/scenarios/$scenario"
        status=$?
    else
        echo "guest-init: no scenario '$scenario' (have: $(ls /scenarios))"
        status=127
    fi
    echo "GUEST-SCENARIO-EXIT $status"
else
    # A serial console has no size: the host's terminal's, when the Demo passes it, lets the shell's
    # line editing wrap where the terminal does.
    [ -n "$cols" ] && [ -n "$rows" ] && stty cols "$cols" rows "$rows" 2>/dev/null
    # cttyhack opens the real console device (ttyS0, hvc0) as controlling terminal: job control works.
    setsid cttyhack sh -l
fi
poweroff -f
# Only reached if poweroff could not power off: keep init alive, the kernel panics if it exits.
while :; do sleep 3600; done
