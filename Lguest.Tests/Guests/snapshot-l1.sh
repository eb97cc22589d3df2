#!/usr/bin/env bash
# snapshot-l1.sh [bench [ROUNDS]]: inside the bed (L1), the snapshot and restore proofs, or the figures, in one L1 boot
# and in a network namespace of its own (created here, deleted at the end: no frame leaves it).
#   LGUEST   the launcher as the start of a shell command (as for durability-l1.sh; default the CLI from the build output)
# The proofs (no argument):
# 1. Cold boot of the guest image's shell (256 MiB) with a disk holding an ext4 file system, a network card (tap,
#    host end 10.0.2.1/24), a vsock device and a shared folder; a typed command until its output shows (the cold
#    figure); a 256 KiB random file on tmpfs and its MD5, a counter printing GUEST-COUNT <n> every second, and
#    scenarios/snapshot's prepare step: a dd conv=fsync writer on the disk, a ping of the host, a vsock echo server,
#    a file held open on the share. SIGUSR2 (--snapshot-to) writes the snapshot with the guest writing its disk and
#    leaves it paused; its disk is as the snapshot knows it; then SIGKILL.
# 2. Restore in a new process (--restore, a copy of the disk, a new tap, a new vsock socket, the same folder): the
#    counter and the writer go on, the tmpfs file's MD5, a typed command, a ping of the host, an echo over vsock
#    from L1, the held file's second line and a file each way through the share; then the writer stops, every
#    chunk it wrote is checked, the guest unmounts and powers off, and e2fsck -f -n checks the disk.
# 3. Five clones of the snapshot side by side, each on its own disk copy, network namespace, tap and vsock socket:
#    each stops the writer, writes clone-<i> to a file on its disk, unmounts and powers off; L1 reads each file back
#    (debugfs) and checks each file system.
# 4. Bad snapshots that get past the container's checks (a truncated memory image, a bit flipped in it under
#    --verify-memory, other devices), each restored once: one line on stderr and exit 3 expected.
# The figures (bench): a plain guest (the shell and an empty disk) of 2 GiB and of 256 MiB, each cold booted and
# snapshotted once (SIGUSR1), then ROUNDS rounds (default 3) of: restore 256 MiB, restore 2 GiB, cold boot 256 MiB,
# each to a typed command's output (lguest without -v; from the launch to the output's line arriving, as L1's clock
# stamps it), then one restore of each size with -v (the launcher's own restore time); medians and ratios at the end.
# Prints (one line each):
#   BED-SNAP-COLD <mib> <ms to the typed command's output>
#   BED-SNAP-TAKEN <mib> <guest MiB of RAM in the image> <snapshot dir bytes on disk> <the launcher's line>
#   BED-SNAP-RESTORE <mib> <ms to the typed command's output> <the launcher's own restore: total ms, ms checking and mapping>
#   BED-SNAP-COUNT before <last n before the snapshot> after <first n after restore>
#   BED-SNAP-MD5 before <md5> after <md5>
#   BED-SNAP-DD before <last chunk written before the snapshot> after <first after restore> stopped <last>
#   BED-SNAP-DD-CHECK files <n> bad <n>        BED-SNAP-FSCK exit <e2fsck -f -n status> <its last line>
#   BED-SNAP-PING before <ok|fail> after <ok|fail>
#   BED-SNAP-VSOCK <the echo L1 got back over vsock after restore>; without one, BED-SNAP-VSOCK-STUCK (the counter, lguest's
#   state) and BED-SNAP-VSOCK-LOG lines (the restored guest's console and lguest's log, last 15)
#   BED-SNAP-FS held <held.log's lines, comma-joined> read <what the guest read of L1's file> wrote <the guest's file>
#   BED-SNAP-CLONE <i> exit <status> disk <what its file holds> fsck <status> rss-kib <VmRSS while running>
#   BED-SNAP-BAD <case> exit <status> lines <stderr lines> <first stderr line>
#   BED-SNAP-ROUND <round> cold-<mib>|restore-<mib> <ms to the typed command's output> [<the launcher's own restore ms>]
#   (bench; round 0 is the cold boot each snapshot was taken of, and a restore of each with -v for the launcher's own
#   time; the timed rounds run without -v and give nan there)   BED-SNAP-BENCH <figure> median <ms> of <n> [ratio ...]
#   BED-SNAP-DONE
#   BED-SNAP-ERROR <what>, then the guest's last console lines, when a step went wrong.
set -u
mode="${1:-}"
rounds="${2:-3}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ "${SNAP_L1_INSIDE:-}" != 1 ]]; then
    ns="lguest-snap-$$"
    ip netns add "$ns" || exit 125
    trap 'ip netns del "$ns"' EXIT
    ip netns exec "$ns" ip link set lo up
    SNAP_L1_INSIDE=1 SNAP_L1_NS="$ns" ip netns exec "$ns" "$0" "$@"
    exit $?
fi

cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
[[ -f "$cli" ]] || cli="$root/Lguest.Cli/bin/Debug/net10.0/Lguest.Cli.dll"
eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
work="$(mktemp -d)"
guard=600 # seconds any wait may take: hang protection only
# lguest's -v on every launch, but the bench's timed ones: its console logger, made on the way to the guest's first
# instruction, cost a restore 100-290 ms in L1 (a cold boot the same, a twentieth of it); a person measures without.
verbose=(-v)
host_mac=02:1a:00:00:00:01 # the tap's host end, the same for every launch: the guest's ARP entry stays right
declare -A pids fds
clone_namespaces=()

cleanup() {
    for name in "${!pids[@]}"; do kill -KILL "${pids[$name]}" 2> /dev/null; done
    wait 2> /dev/null
    for n in "${clone_namespaces[@]}"; do ip netns del "$n" 2> /dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "BED-SNAP-ERROR $1"
    [[ -n "${2:-}" && -f "$work/$2.log" ]] && tail -n 30 "$work/$2.log" | tr -d '\r'
    exit 1
}

# start NAME ARGS...: the launcher with ARGS, its stdin a FIFO kept open (typed keys go to the guest's serial console).
# With NETNS set, in that network namespace (ip netns exec execs the launcher: the pid is lguest's).
# Its output (stdout and stderr) goes through a FIFO to a reader started first, which appends each line to NAME.log
# and, with L1's clock when the line arrived, to NAME.stamps; launched is that clock just before the launch. Shell
# builtins only: a fork costs a TCG L1 tens of milliseconds, so timing by polling the log (grep, sleep, date) put up
# to 0.3 s of the script's own time into each figure.
start() {
    local name="$1"
    shift
    rm -f "$work/$name.in" "$work/$name.out" "$work/$name.log" "$work/$name.stamps" # a name used again (bench boots "origin" more than once)
    mkfifo "$work/$name.in" "$work/$name.out"
    {
        while IFS= read -r line || [[ -n "$line" ]]; do
            printf '%s %s\n' "$EPOCHREALTIME" "$line" >&4 # first: once the log shows a line, its stamp is there
            printf '%s\n' "$line" >&3
        done < "$work/$name.out"
    } 3>> "$work/$name.log" 4>> "$work/$name.stamps" &
    launched=$EPOCHREALTIME
    if [[ -n "${NETNS:-}" ]]; then
        ip netns exec "$NETNS" "${launcher[@]}" "$@" < "$work/$name.in" > "$work/$name.out" 2>&1 &
    else
        "${launcher[@]}" "$@" < "$work/$name.in" > "$work/$name.out" 2>&1 &
    fi
    pids[$name]=$!
    exec {fd}> "$work/$name.in"
    fds[$name]=$fd
}

# ms_since START NAME REGEX: milliseconds from START (an EPOCHREALTIME) to the first line of NAME's output matching REGEX.
ms_since() {
    local stamp
    stamp="$(grep -a -m 1 -E "^[0-9.]+ $3" "$work/$2.stamps" | cut -d' ' -f1)"
    [[ -n "$stamp" ]] || { echo nan; return; }
    awk -v a="$1" -v b="$stamp" 'BEGIN { printf "%.0f", (b - a) * 1000 }'
}

type_line() { printf '%s\n' "$2" >&"${fds[$1]}"; }

# wait_for NAME REGEX: until the log has a line matching REGEX (grep -E); fails when the launcher ends first.
wait_for() {
    local waited
    for ((waited = 0; waited < guard * 10; waited++)); do
        grep -a -q -E "$2" "$work/$1.log" && return 0
        kill -0 "${pids[$1]}" 2> /dev/null || { grep -a -q -E "$2" "$work/$1.log" && return 0; fail "$1 ended while waiting for '$2'" "$1"; }
        sleep 0.1
    done
    fail "$1: no '$2' within $guard s" "$1"
}

# typed NAME START: types a command every half second until its output shows; prints the ms from START (an
# EPOCHREALTIME) to the output's line arriving (its stamp, not when this loop saw it).
typed() {
    local name="$1" start="$2" waited
    for ((waited = 0; waited < guard * 2; waited++)); do
        type_line "$name" 'echo TYPED-$((6*7))'
        for _ in 1 2 3 4 5; do
            if grep -a -q '^TYPED-42' "$work/$name.log"; then
                ms_since "$start" "$name" 'TYPED-42'
                return 0
            fi
            sleep 0.1
        done
        kill -0 "${pids[$name]}" 2> /dev/null || fail "$name ended before a typed command ran" "$name"
    done
    fail "$name: no typed command ran within $guard s" "$name"
}

stop() {
    local name="$1"
    kill -KILL "${pids[$name]}" 2> /dev/null
    wait "${pids[$name]}" 2> /dev/null
    eval "exec ${fds[$name]}>&-"
    unset "pids[$name]"
}

# The tap lguest made in this namespace (one launcher at a time here) gets the same host MAC each time, as a tap
# that outlived the launcher would keep it: the restored guest's ARP entry for 10.0.2.1 stays right.
pin_tap_mac() {
    local tap="" waited
    for ((waited = 0; waited < guard * 10; waited++)); do
        tap="$(ip -o link show type tun 2> /dev/null | awk -F': ' 'NR == 1 { print $2 }')"
        [[ -n "$tap" ]] && break
        kill -0 "${pids[$1]}" 2> /dev/null || fail "$1 ended before its tap appeared" "$1"
        sleep 0.1
    done
    ip link set dev "$tap" address "$host_mac" || fail "$1: cannot set $tap's MAC" "$1"
}

# Not anchored: with -v, lguest's log lines share the console and a marker can follow one on a line.
# last_of / first_of MARKER FILE: the number of the last / first whole "MARKER <n>" line. Whole: a pause can land
# mid-line (the UART sends a byte at a time), and lguest's own line on stderr then follows the half line in the same
# log: "GUEST-COUNT 6" and "18:35:02.113 info: ..." read as count 618 (seen in CI).
last_of() { grep -a -o -E "$1 [0-9]+"$'\r'"?$" "$2" | tail -n 1 | tr -d '\r' | awk '{ print $NF }'; }
first_of() { grep -a -o -E "$1 [0-9]+"$'\r'"?$" "$2" | head -n 1 | tr -d '\r' | awk '{ print $NF }'; }

# The devices of the proofs' guest, in order, for launcher NAME: its disk, a tap, its vsock socket, the share.
devices() { echo "--block=$work/$1.img --tunnet=10.0.2.1/24 --vsock=$work/$1.vsock --share=$work/share:snapfs"; }

# cold MIB NAME SNAPDIR [full]: boots, prepares the guest, snapshots it into SNAPDIR and kills the launcher. With
# "full", the proofs' guest (devices, the prepare step, SIGUSR2 so it stays paused); else a plain one (a disk, SIGUSR1).
cold() {
    local mib="$1" name="$2" snap="$3" full="${4:-}" t0 line data to=()
    rm -f "$work/$name.img"
    truncate -s 32M "$work/$name.img"
    [[ -n "$snap" ]] && to=(--snapshot-to="$snap")
    if [[ -n "$full" ]]; then
        mkfs.ext4 -q -F "$work/$name.img" || fail "mkfs.ext4 failed"
        # shellcheck disable=SC2046
        start "$name" "${verbose[@]}" $(devices "$name") "${to[@]}" "$mib" "$LGUEST_GUEST_VMLINUZ" \
            --initrd="$LGUEST_GUEST_INITRD" console=ttyS0 quiet
        t0=$launched
        pin_tap_mac "$name"
    else
        start "$name" "${verbose[@]}" --block="$work/$name.img" "${to[@]}" "$mib" "$LGUEST_GUEST_VMLINUZ" \
            --initrd="$LGUEST_GUEST_INITRD" console=ttyS0 quiet
        t0=$launched
    fi
    wait_for "$name" GUEST-INIT-READY
    cold_ms="$(typed "$name" "$t0")"
    echo "BED-SNAP-COLD $mib $cold_ms"
    [[ -z "$snap" ]] && { stop "$name"; return 0; }
    type_line "$name" 'dd if=/dev/urandom of=/tmp/tmpfs-file bs=1024 count=256 2>/dev/null; md5sum /tmp/tmpfs-file | sed "s/^/GUEST-MD5 /"'
    wait_for "$name" 'GUEST-MD5 [0-9a-f]{32}'
    type_line "$name" '(i=0; while :; do i=$((i+1)); echo "GUEST-COUNT $i"; sleep 1; done) &'
    wait_for "$name" 'GUEST-COUNT 3'
    if [[ -n "$full" ]]; then
        type_line "$name" 'sh /scenarios/snapshot prepare'
        wait_for "$name" 'GUEST-SNAP-PREPARED|GUEST-SNAP-ERROR'
        grep -a -q GUEST-SNAP-ERROR "$work/$name.log" && fail "$name: the prepare step failed" "$name"
        wait_for "$name" 'GUEST-DD 3\b'
        kill -USR2 "${pids[$name]}"
    else
        kill -USR1 "${pids[$name]}"
    fi
    wait_for "$name" 'lguest: (snapshot written to|no snapshot:)'
    line="$(grep -a -o -E 'lguest: (snapshot written to|no snapshot:).*' "$work/$name.log" | head -n 1 | tr -d '\r')"
    [[ "$line" == *"snapshot written"* ]] || fail "$name: $line" "$name"
    # Paused (full) at the last lines the console showed; resumed (plain) perhaps one line past them.
    count_before="$(last_of GUEST-COUNT "$work/$name.log")"
    dd_before="$(last_of GUEST-DD "$work/$name.log")"
    ping_before="$(grep -a -o -E 'GUEST-PING-BEFORE (ok|fail)' "$work/$name.log" | head -n 1 | cut -d' ' -f2)"
    md5_before="$(grep -a -o -E 'GUEST-MD5 [0-9a-f]{32}' "$work/$name.log" | head -n 1 | cut -d' ' -f2)"
    [[ -n "$full" ]] || sleep 2
    stop "$name"
    data="$(echo "$line" | grep -o -E '[0-9]+ MiB of [0-9]+ MiB' | cut -d' ' -f1)"
    echo "BED-SNAP-TAKEN $mib ${data:-?} $(du -s -B1 "$snap" | cut -f1) $line"
}

# restore MIB NAME SNAPDIR [full]: restores from a copy of the disk $disk_from (default origin's) and leaves it running;
# prints the figure, and keeps it in restore_ms and restore_own (the launcher's own total).
restore() {
    local mib="$1" name="$2" snap="$3" full="${4:-}" t0 own
    cp --sparse=always "$work/${disk_from:-origin}.img" "$work/$name.img"
    if [[ -n "$full" ]]; then
        # shellcheck disable=SC2046
        start "$name" "${verbose[@]}" --restore="$snap" $(devices "$name")
        t0=$launched
        pin_tap_mac "$name"
    else
        start "$name" "${verbose[@]}" --restore="$snap" --block="$work/$name.img"
        t0=$launched
    fi
    restore_ms="$(typed "$name" "$t0")"
    own="$(grep -a -o -E 'restored .* in [0-9.]+ ms \([0-9.]+ ms' "$work/$name.log" | head -n 1 | grep -o -E '[0-9.]+ ms( \(|$)' | tr -d ' (' | tr '\n' ' ')"
    restore_own="$(echo "$own" | cut -d' ' -f1 | sed 's/ms$//')"
    echo "BED-SNAP-RESTORE $mib $restore_ms ${own:-?}"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# round_restore ROUND MIB: the MIB guest's snapshot restored on a copy of its disk and stopped; its BED-SNAP-ROUND line.
round_restore() {
    disk_from="origin-$2" restore "$2" "r$2" "$work/snap-$2"
    stop "r$2"
    echo "BED-SNAP-ROUND $1 restore-$2 $restore_ms ${restore_own:-nan}"
}

if [[ "$mode" == bench ]]; then
    # A plain guest: the figures measure the restore itself, not a guest busy writing.
    cold_256=() restore_256=() restore_2048=() own_256=() own_2048=()
    for mib in 2048 256; do
        cold "$mib" "origin-$mib" "$work/snap-$mib"
        echo "BED-SNAP-ROUND 0 cold-$mib $cold_ms"
    done
    verbose=()
    for ((r = 1; r <= rounds; r++)); do
        for mib in 256 2048; do
            round_restore "$r" "$mib"
            if [[ "$mib" == 256 ]]; then restore_256+=("$restore_ms"); else restore_2048+=("$restore_ms"); fi
        done
        cold 256 plain ""
        echo "BED-SNAP-ROUND $r cold-256 $cold_ms"
        cold_256+=("$cold_ms")
    done
    # The launcher's own restore, from its -v line: one more restore of each size, with -v, outside the timed rounds.
    verbose=(-v)
    for mib in 256 2048; do
        round_restore 0 "$mib"
        if [[ "$mib" == 256 ]]; then own_256+=("$restore_own"); else own_2048+=("$restore_own"); fi
    done
    c="$(printf '%s\n' "${cold_256[@]}" | median)"
    r256="$(printf '%s\n' "${restore_256[@]}" | median)"
    r2048="$(printf '%s\n' "${restore_2048[@]}" | median)"
    o256="$(printf '%s\n' "${own_256[@]}" | median)"
    o2048="$(printf '%s\n' "${own_2048[@]}" | median)"
    echo "BED-SNAP-BENCH cold-256 median $c of ${#cold_256[@]}"
    echo "BED-SNAP-BENCH restore-256 median $r256 of ${#restore_256[@]} ratio-to-cold $(awk "BEGIN { printf \"%.3f\", $r256 / $c }")"
    echo "BED-SNAP-BENCH restore-2048 median $r2048 of ${#restore_2048[@]} ratio-to-cold $(awk "BEGIN { printf \"%.3f\", $r2048 / $c }") ratio-to-256 $(awk "BEGIN { printf \"%.3f\", $r2048 / $r256 }")"
    echo "BED-SNAP-BENCH launcher-restore-256 median $o256 of ${#own_256[@]}"
    echo "BED-SNAP-BENCH launcher-restore-2048 median $o2048 of ${#own_2048[@]} ratio-to-256 $(awk "BEGIN { printf \"%.3f\", $o2048 / $o256 }")"
    echo BED-SNAP-DONE
    exit 0
fi

mkdir -p "$work/share"
cold 256 origin "$work/snap" full
restore 256 restored "$work/snap" full
wait_for restored 'GUEST-COUNT [0-9]+'
echo "BED-SNAP-COUNT before $count_before after $(first_of GUEST-COUNT "$work/restored.log")"
type_line restored 'md5sum /tmp/tmpfs-file | sed "s/^/GUEST-MD5 /"'
wait_for restored 'GUEST-MD5 [0-9a-f]{32}'
echo "BED-SNAP-MD5 before $md5_before after $(grep -a -o -E 'GUEST-MD5 [0-9a-f]{32}' "$work/restored.log" | head -n 1 | cut -d' ' -f2)"
echo "written by L1 after the restore" > "$work/share/host-after"
type_line restored 'sh /scenarios/snapshot after'
wait_for restored 'GUEST-SNAP-AFTER-DONE'
ping_after="$(grep -a -o -E 'GUEST-PING-AFTER (ok|fail)' "$work/restored.log" | head -n 1 | cut -d' ' -f2)"
echo "BED-SNAP-PING before ${ping_before:-?} after ${ping_after:-?}"
# socat, as Firecracker's docs/vsock.md uses it: "CONNECT <port>\n", then "OK <port>\n", then the stream (an echo).
reply=""
for _ in $(seq 8); do
    reply="$({ printf 'CONNECT 5000\n'; sleep 1; printf 'echo after restore\n'; sleep 2; } | timeout 30 socat - "UNIX-CONNECT:$work/restored.vsock" 2> /dev/null)"
    [[ "$reply" == OK* ]] && break
    sleep 1
done
echo "BED-SNAP-VSOCK $(printf '%s\n' "$reply" | sed -n 2p)"
if [[ "$reply" != OK* ]]; then
    # Seen once in CI: no answer for minutes, L1 idle. Whether the guest still runs (its counter goes on), and the
    # last lines of its console and of lguest's log.
    counted="$(last_of GUEST-COUNT "$work/restored.log")"
    sleep 5
    echo "BED-SNAP-VSOCK-STUCK reply '$(printf '%s' "$reply" | head -n 1)' counter $counted then $(last_of GUEST-COUNT "$work/restored.log") lguest $(kill -0 "${pids[restored]}" 2> /dev/null && echo alive || echo gone)"
    grep -a -v 'GUEST-COUNT' "$work/restored.log" | tail -n 15 | tr -d '\r' | sed 's/^/BED-SNAP-VSOCK-LOG /'
fi
type_line restored 'sh /scenarios/snapshot finish'
wait_for restored 'GUEST-SNAP-FINISHED'
dd_check="$(grep -a -o -E 'GUEST-DD-CHECK [0-9]+ [0-9]+' "$work/restored.log" | head -n 1)"
echo "BED-SNAP-DD before ${dd_before:-?} after $(first_of GUEST-DD "$work/restored.log") stopped $(last_of GUEST-DD-STOPPED "$work/restored.log")"
echo "BED-SNAP-DD-CHECK files $(echo "$dd_check" | cut -d' ' -f2) bad $(echo "$dd_check" | cut -d' ' -f3)"
type_line restored 'poweroff'
wait "${pids[restored]}" 2> /dev/null
unset "pids[restored]"
fsck="$(e2fsck -f -n "$work/restored.img" 2>&1)"
status=$?
echo "BED-SNAP-FSCK exit $status $(printf '%s\n' "$fsck" | tail -n 1)"
echo "BED-SNAP-FS held $(paste -s -d, "$work/share/held.log" 2> /dev/null) read $(grep -a -o 'GUEST-FS-READ .*' "$work/restored.log" | head -n 1 | cut -d' ' -f2- | tr -d '\r' | tr ' ' _) wrote $(cat "$work/share/from-guest-after" 2> /dev/null)"

# Five clones side by side, each on its own disk copy, in its own network namespace with its own tap and vsock socket.
for i in 1 2 3 4 5; do
    clone_namespaces+=("$SNAP_L1_NS-c$i")
    ip netns add "$SNAP_L1_NS-c$i" || fail "cannot create a namespace for clone $i"
    cp --sparse=always "$work/origin.img" "$work/clone$i.img"
    # shellcheck disable=SC2046
    NETNS="$SNAP_L1_NS-c$i" start "clone$i" --restore="$work/snap" $(devices "clone$i")
done
for i in 1 2 3 4 5; do
    typed "clone$i" "$EPOCHREALTIME" > /dev/null
done
declare -A rss
for i in 1 2 3 4 5; do
    rss[$i]="$(grep VmRSS "/proc/${pids[clone$i]}/status" 2> /dev/null | grep -o '[0-9]*')"
done
for i in 1 2 3 4 5; do
    type_line "clone$i" "sh /scenarios/snapshot clone $i"
done
for i in 1 2 3 4 5; do
    wait_for "clone$i" "CLONE-WROTE-$((100 + i))"
    type_line "clone$i" 'poweroff'
done
for i in 1 2 3 4 5; do
    wait "${pids[clone$i]}"
    status=$?
    unset "pids[clone$i]"
    e2fsck -f -n "$work/clone$i.img" > /dev/null 2>&1
    fsck_status=$?
    echo "BED-SNAP-CLONE $i exit $status disk $(debugfs -R 'cat /clone' "$work/clone$i.img" 2> /dev/null | head -n 1) fsck $fsck_status rss-kib ${rss[$i]:-?}"
done

# Bad snapshots: each a damaged copy (or other devices); the launcher must refuse with one line, exit 3.
bad() {
    local case="$1" dir="$work/bad-$1" status lines extra=()
    rm -rf "$dir"
    cp -r --sparse=always "$work/snap" "$dir"
    case "$case" in
        truncated-memory) truncate -s -4096 "$dir/memory" ;;
        bitflip-memory)
            # A byte of data in the image (the guest's kernel is at 16 MiB), restored with every byte checked.
            local byte
            byte="$(dd if="$dir/memory" bs=1 skip=$((16 << 20)) count=1 2> /dev/null | od -An -tu1 | tr -d ' ')"
            printf "\\$(printf '%03o' $((byte ^ 1)))" | dd of="$dir/memory" bs=1 seek=$((16 << 20)) conv=notrunc 2> /dev/null
            extra=(--verify-memory) ;;
        other-devices) ;; # the disk alone: the snapshot also holds a network card, vsock and a share
    esac
    timeout 300 "${launcher[@]}" --restore="$dir" "${extra[@]}" --block="$work/origin.img" < /dev/null > "$work/bad.out" 2> "$work/bad.err"
    status=$?
    lines="$(wc -l < "$work/bad.err")"
    echo "BED-SNAP-BAD $case exit $status lines $lines $(head -n 1 "$work/bad.err")"
    rm -rf "$dir"
}
# Only the refusals that need the hypervisor or the memory image: the rest (no manifest, a truncated or bit-flipped
# state file, another version, a missing disk) come before anything is opened and are RestoreCommandTests' rows.
for case in truncated-memory bitflip-memory other-devices; do
    bad "$case"
done
echo BED-SNAP-DONE
