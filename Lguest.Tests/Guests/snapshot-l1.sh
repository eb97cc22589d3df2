#!/usr/bin/env bash
# snapshot-l1.sh [BIG-MIB | bench]: inside the bed (L1), the snapshot and restore proofs and figures, in one L1 boot.
#   LGUEST   the launcher as the start of a shell command (as for durability-l1.sh; default the CLI from the build output)
# 1. Cold boot: the guest image's shell (256 MiB, a disk), a typed command until its output shows (the cold figure);
#    a 256 KiB random file on the guest's tmpfs and its MD5, a counter printing GUEST-COUNT <n> every second;
#    SIGUSR1 (--snapshot-to) writes the snapshot and the guest runs on; then SIGKILL.
# 2. Restore in a new process (--restore, a copy of the disk): the counter goes on, the tmpfs file's MD5, a typed
#    command; the same typed-command figure as the cold boot.
# 3. Five clones of the snapshot side by side, each on its own disk copy: each writes its number to its disk and
#    powers off; the disks are read back.
# 4. Bad snapshots that get past the container's checks (a truncated or bit-flipped memory image, other devices),
#    each restored once: one line on stderr and exit 3 expected.
# 5. With BIG-MIB (e.g. 2048): a guest of that size is booted, snapshotted and restored as in 1-2, for the restore time
#    against the 256 MiB one; with "bench", only that (2048 then 256 MiB), none of 1-4.
# Prints (one line each):
#   BED-SNAP-COLD <ms to the typed command's output>
#   BED-SNAP-TAKEN <mib> <guest MiB of RAM in the image> <snapshot dir bytes on disk> <the launcher's line>
#   BED-SNAP-COUNT before <last n before the snapshot> after <first n after restore>
#   BED-SNAP-MD5 before <md5> after <md5>
#   BED-SNAP-RESTORE <mib> <ms to the typed command's output> <the launcher's own restore: total ms, ms checking and mapping the image>
#   BED-SNAP-CLONE <i> exit <status> disk <what its disk holds> rss-kib <VmRSS while running>
#   BED-SNAP-BAD <case> exit <status> lines <stderr lines> <first stderr line>
#   BED-SNAP-DONE
#   BED-SNAP-ERROR <what>, then the guest's last console lines, when a step went wrong.
set -u
big="${1:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
[[ -f "$cli" ]] || cli="$root/Lguest.Cli/bin/Debug/net10.0/Lguest.Cli.dll"
eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
work="$(mktemp -d)"
guard=600 # seconds any wait may take: hang protection only
declare -A pids fds

cleanup() {
    for name in "${!pids[@]}"; do kill -KILL "${pids[$name]}" 2> /dev/null; done
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

fail() {
    echo "BED-SNAP-ERROR $1"
    [[ -n "${2:-}" && -f "$work/$2.log" ]] && tail -n 30 "$work/$2.log" | tr -d '\r'
    exit 1
}

# start NAME ARGS...: the launcher with ARGS, its stdin a FIFO kept open (typed keys go to the guest's serial console).
start() {
    local name="$1"
    shift
    rm -f "$work/$name.in" # a name used again (bench boots "origin" twice)
    mkfifo "$work/$name.in"
    "${launcher[@]}" "$@" < "$work/$name.in" > "$work/$name.log" 2>&1 &
    pids[$name]=$!
    exec {fd}> "$work/$name.in"
    fds[$name]=$fd
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

# typed NAME: types a command every half second until its output shows; prints the ms it took from $2 (a start time).
typed() {
    local name="$1" start="$2" waited
    for ((waited = 0; waited < guard * 2; waited++)); do
        type_line "$name" 'echo TYPED-$((6*7))'
        for _ in 1 2 3 4 5; do
            if grep -a -q '^TYPED-42' "$work/$name.log"; then
                echo $(($(now_ms) - start))
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

# Not anchored: with -v, lguest's log line for the pause shares the console and a count can follow it on one line
# ("...Launcher[2106GUEST-COUNT 4" on a quiet host, where that was the only count line after the typed command).
last_count() { grep -a -o -E 'GUEST-COUNT [0-9]+' "$1" | tail -n 1 | cut -d' ' -f2; }

# cold MIB NAME SNAPDIR: boots, prepares the guest, snapshots it into SNAPDIR and kills the launcher.
cold() {
    local mib="$1" name="$2" snap="$3" t0 line
    truncate -s 16M "$work/$name.img"
    t0=$(now_ms)
    start "$name" -v --block="$work/$name.img" --snapshot-to="$snap" "$mib" "$LGUEST_GUEST_VMLINUZ" \
        --initrd="$LGUEST_GUEST_INITRD" console=ttyS0 quiet
    wait_for "$name" GUEST-INIT-READY
    [[ "$name" == origin ]] && echo "BED-SNAP-COLD $(typed "$name" "$t0")" || typed "$name" "$t0" > /dev/null
    type_line "$name" 'dd if=/dev/urandom of=/tmp/tmpfs-file bs=1024 count=256 2>/dev/null; md5sum /tmp/tmpfs-file | sed "s/^/GUEST-MD5 /"'
    wait_for "$name" '^GUEST-MD5 [0-9a-f]{32}'
    type_line "$name" '(i=0; while :; do i=$((i+1)); echo "GUEST-COUNT $i"; sleep 1; done) &'
    wait_for "$name" '^GUEST-COUNT 3'
    kill -USR1 "${pids[$name]}"
    wait_for "$name" 'lguest: (snapshot written to|no snapshot:)'
    # The last count the console showed once the snapshot is written: the guest was paused at it (or, if its next
    # line slipped out in the tenth of a second between the resume and this read, one before it).
    before="$(last_count "$work/$name.log")"
    line="$(grep -a -o -E 'lguest: (snapshot written to|no snapshot:).*' "$work/$name.log" | head -n 1 | tr -d '\r')"
    [[ "$line" == *"snapshot written"* ]] || fail "$name: $line" "$name"
    md5_before="$(grep -a -o -E '^GUEST-MD5 [0-9a-f]{32}' "$work/$name.log" | head -n 1 | cut -d' ' -f2)"
    sleep 2
    stop "$name"
    local data
    data="$(echo "$line" | grep -o -E '[0-9]+ MiB of [0-9]+ MiB' | cut -d' ' -f1)"
    echo "BED-SNAP-TAKEN $mib ${data:-?} $(du -s -B1 "$snap" | cut -f1) $line"
}

# restore MIB NAME SNAPDIR: restores, checks the counter, the tmpfs file and a typed command.
restore() {
    local mib="$1" name="$2" snap="$3" t0 ms own after md5
    cp --sparse=always "$work/origin.img" "$work/$name.img" 2> /dev/null || truncate -s 16M "$work/$name.img"
    t0=$(now_ms)
    start "$name" -v --restore="$snap" --block="$work/$name.img"
    ms="$(typed "$name" "$t0")"
    own="$(grep -a -o -E 'restored .* in [0-9.]+ ms \([0-9.]+ ms' "$work/$name.log" | head -n 1 | grep -o -E '[0-9.]+ ms( \(|$)' | tr -d ' (' | tr '\n' ' ')"
    echo "BED-SNAP-RESTORE $mib $ms ${own:-?}"
    if [[ "$name" == restored ]]; then
        wait_for "$name" '^GUEST-COUNT [0-9]+'
        after="$(grep -a -o '^GUEST-COUNT [0-9]*' "$work/$name.log" | head -n 1 | cut -d' ' -f2)"
        echo "BED-SNAP-COUNT before $before after $after"
        type_line "$name" 'md5sum /tmp/tmpfs-file | sed "s/^/GUEST-MD5 /"'
        wait_for "$name" '^GUEST-MD5 [0-9a-f]{32}'
        md5="$(grep -a -o -E '^GUEST-MD5 [0-9a-f]{32}' "$work/$name.log" | head -n 1 | cut -d' ' -f2)"
        echo "BED-SNAP-MD5 before $md5_before after $md5"
    fi
    stop "$name"
}

if [[ "$big" == bench ]]; then
    # Only the figures: restore of a 256 MiB and a 2 GiB guest, each booted and snapshotted the same way.
    for mib in 2048 256; do
        rm -f "$work/origin.img"
        cold "$mib" origin "$work/snap-$mib"
        restore "$mib" "big$mib" "$work/snap-$mib"
    done
    echo BED-SNAP-DONE
    exit 0
fi
cold 256 origin "$work/snap"
restore 256 restored "$work/snap"

# Five clones side by side, each on its own disk copy.
for i in 1 2 3 4 5; do
    cp --sparse=always "$work/origin.img" "$work/clone$i.img"
    start "clone$i" --restore="$work/snap" --block="$work/clone$i.img"
done
for i in 1 2 3 4 5; do
    typed "clone$i" "$(now_ms)" > /dev/null
done
declare -A rss
for i in 1 2 3 4 5; do
    rss[$i]="$(grep VmRSS "/proc/${pids[clone$i]}/status" 2> /dev/null | grep -o '[0-9]*')"
done
for i in 1 2 3 4 5; do
    type_line "clone$i" "echo clone-$i | dd of=/dev/vda bs=512 seek=100 conv=fsync 2>/dev/null; echo CLONE-WROTE-\$((100+$i))"
done
for i in 1 2 3 4 5; do
    wait_for "clone$i" "^CLONE-WROTE-$((100 + i))"
    type_line "clone$i" 'poweroff -f'
done
for i in 1 2 3 4 5; do
    wait "${pids[clone$i]}"
    status=$?
    unset "pids[clone$i]"
    echo "BED-SNAP-CLONE $i exit $status disk $(dd if="$work/clone$i.img" bs=512 skip=100 count=1 2> /dev/null | tr -d '\0' | head -n 1) rss-kib ${rss[$i]:-?}"
done

# Bad snapshots: each a damaged copy (or a missing disk); the launcher must refuse with one line, exit 3.
bad() {
    local case="$1" dir="$work/bad-$1" disk="$work/origin.img" status lines
    rm -rf "$dir"
    cp -r --sparse=always "$work/snap" "$dir"
    case "$case" in
        truncated-state) truncate -s -100 "$dir/state" ;;
        truncated-memory) truncate -s -4096 "$dir/memory" ;;
        no-manifest) rm "$dir/manifest" ;;
        bitflip-state) printf '\xff' | dd of="$dir/state" bs=1 seek=40 conv=notrunc 2> /dev/null ;;
        bitflip-memory)
            # A byte of data in the image (the guest's kernel is at 16 MiB): the memory checksum catches it.
            local byte
            byte="$(dd if="$dir/memory" bs=1 skip=$((16 << 20)) count=1 2> /dev/null | od -An -tu1 | tr -d ' ')"
            printf "\\$(printf '%03o' $((byte ^ 1)))" | dd of="$dir/memory" bs=1 seek=$((16 << 20)) conv=notrunc 2> /dev/null ;;
        other-version) printf '\x02' | dd of="$dir/manifest" bs=1 seek=8 conv=notrunc 2> /dev/null ;;
        missing-disk) disk="$work/no-such-disk.img" ;;
        other-devices) disk="" ;;
    esac
    if [[ -n "$disk" ]]; then
        timeout 300 "${launcher[@]}" --restore="$dir" --block="$disk" < /dev/null > "$work/bad.out" 2> "$work/bad.err"
    else
        timeout 300 "${launcher[@]}" --restore="$dir" < /dev/null > "$work/bad.out" 2> "$work/bad.err"
    fi
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

if [[ -n "$big" ]]; then
    rm -f "$work/origin.img"
    before="" md5_before=""
    cold "$big" origin "$work/snap-big"
    restore "$big" big "$work/snap-big"
    cold 256 origin "$work/snap-small"
    restore 256 small "$work/snap-small"
fi
echo BED-SNAP-DONE
