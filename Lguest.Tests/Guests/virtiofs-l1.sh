#!/usr/bin/env bash
# virtiofs-l1.sh [SEED]: inside the bed (L1), the host's half of the shared-folder test (scenarios/virtiofs is
# the guest's; Lguest.Tests/Integration/VirtioFsBedTests.cs reads both). Two boots of the guest image under
# lguest, with a tmpfs of L1's as the host side:
#   1. main: the guest builds a tree in share/, renames, truncates, deletes; this script compares the folder
#      with the guest's manifest, then writes a note and rewrites a file for the guest to read; the guest tries
#      to escape (links the host planted, links of its own, "..", renames) and, while it works in share/swap,
#      this script swaps that folder for a link to outside/ and back in a loop; the guest tries every write
#      path on the read-only share (ro/) and writes a file through a MAP_SHARED mapping (mmap-check, run from
#      the share). Afterwards outside/canary.txt must be as it was, alone, with one link.
#   2. durability: the guest writes files and fsyncs each (GUEST-FS-FSYNCED <n>); lguest is killed with
#      SIGKILL once a random number (5-30) is reported, after a random delay (0-300 ms); every file up to the
#      last number reported must then be on the host intact.
#   LGUEST                the launcher as the start of a shell command (default: the CLI from the build output)
#   LGUEST_FS_MMAP_CHECK  a static mmap-check binary (default: built here from mmap-check.c with gcc -static)
#   LGUEST_FS_DIRS, LGUEST_FS_FILES   the tree's size (default 50 directories of 20 files)
# Prints the guest's GUEST-FS-* lines of each boot, then its own:
#   BED-FS-TREE entries <n> files <n> manifest <md5>    the host's view of the tree, as the guest computes it
#   BED-FS-HOST-NOTE <text>, BED-FS-HOST-CHANGED <md5>  what this script wrote for the guest to read
#   BED-FS-SWAPS <n>                                    how many times swap/ became a link and back
#   BED-FS-CANARY <intact|CHANGED ...>                  outside/ after the main boot
#   BED-FS-RO-HOST <md5>  BED-FS-RO-EXPECTED <md5>      the read-only share's files after the boot, and before
#   BED-FS-MMAP <md5>                                   share/mapped.bin on the host
#   BED-FS-EXIT <main|durability> <status>, BED-FS-SECONDS <main|durability> <seconds from launch to exit>
#   BED-FS-DURABLE kill-after <n> last <n> intact <n>   files 1..last compared byte for byte
#   BED-FS-ERROR <what>, then the guest's last console lines, when something went wrong; BED-FS-DONE at the end.
set -u
RANDOM="${1:-$$}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
[[ -f "$cli" ]] || cli="$root/Lguest.Cli/bin/Debug/net10.0/Lguest.Cli.dll"
eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
dirs="${LGUEST_FS_DIRS:-50}"
files="${LGUEST_FS_FILES:-20}"
guard=1800 # seconds any one wait may take: hang protection only (TCG under load is slow)
export LC_ALL=C

work="$(mktemp -d)"
logs="$(mktemp -d)"
# The shares live on a tmpfs of their own: L1's root is a read-only 9p under an overlay.
mount -t tmpfs -o size=512m lguest-fs "$work" || { echo "BED-FS-ERROR cannot mount a tmpfs"; exit 1; }
cleanup() {
    [[ -n "${swapper:-}" ]] && kill "$swapper" 2> /dev/null
    [[ -n "${pid:-}" ]] && kill -KILL "$pid" 2> /dev/null
    wait 2> /dev/null
    umount "$work"
    rm -rf "$work" "$logs"
}
trap cleanup EXIT
share="$work/share" ro="$work/ro" outside="$work/outside"
mkdir -p "$share/swap" "$ro/ro-dir" "$outside"
printf 'CANARY-SECRET-%s-%s\n' "$RANDOM" "$RANDOM" > "$outside/canary.txt"
canary="$(md5sum < "$outside/canary.txt")"
ln -s "$outside" "$share/esc-abs"
ln -s ../outside "$share/esc-rel"
ln -s "$outside/canary.txt" "$share/esc-canary"
echo "a file in swap" > "$share/swap/a"
printf 'read-only contents\n' > "$ro/ro-file"
ro_manifest() { (cd "$ro" && find . | sort && find . -type f | sort | xargs md5sum) | md5sum | cut -d' ' -f1; }
ro_before="$(ro_manifest)"
if [[ -n "${LGUEST_FS_MMAP_CHECK:-}" ]]; then
    cp "$LGUEST_FS_MMAP_CHECK" "$share/mmap-check"
elif ! gcc -static -O2 -o "$share/mmap-check" "$here/mmap-check.c"; then
    echo "BED-FS-ERROR cannot build mmap-check (gcc -static)"
fi

error() {
    echo "BED-FS-ERROR $*"
    tail -n 30 "$log" | tr -d '\r'
}

# Waits until the console shows $1 (a grep pattern); false if lguest ended first or the guard ran out.
wait_for() {
    local waited
    for ((waited = 0; waited < guard * 10; waited++)); do
        grep -a -q -- "$1" "$log" && return 0
        kill -0 "$pid" 2> /dev/null || { grep -a -q -- "$1" "$log" && return 0; error "lguest ended before $1"; return 1; }
        grep -a -q 'GUEST-FS-ERROR' "$log" && { error "the guest failed before $1"; return 1; }
        sleep 0.1
    done
    error "no $1 within $guard s"
    return 1
}

boot() { # PHASE
    log="$logs/$1.log"
    "${launcher[@]}" "--share=$share:share" "--share=$ro:ro:ro" --no-reboot 256 "$LGUEST_GUEST_VMLINUZ" \
        --initrd="$LGUEST_GUEST_INITRD" console=ttyS0 quiet lguest.scenario=virtiofs "lguest.fs.phase=$1" \
        "lguest.fs.outside=$outside" "lguest.fs.dirs=$dirs" "lguest.fs.files=$files" < /dev/null > "$log" 2>&1 &
    pid=$!
    booted=$SECONDS
}

finish() { # PHASE [kill]: wait for lguest's exit (or kill it now), print the guest's lines, the exit status and the boot's time
    local waited status
    for ((waited = 0; waited < guard * 10 && $# == 1; waited++)); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    # In one group with its stderr dropped: bash reports a job killed by a signal, which is no error here.
    { kill -KILL "$pid"; wait "$pid"; } 2> /dev/null
    status=$?
    pid=""
    grep -a -o 'GUEST-[A-Z0-9-]*.*' "$log" | tr -d '\r'
    echo "BED-FS-EXIT $1 $status"
    echo "BED-FS-SECONDS $1 $((SECONDS - booted))"
}

# The manifest as the guest computes it (scenarios/virtiofs), over the host's folder.
manifest() {
    find t -type d | sort
    find t -type f | sort | xargs md5sum
    find t -type l | sort | while read -r l; do echo "$l -> $(readlink "$l")"; done
}

# 1. main
boot main
if wait_for GUEST-FS-WAITING-HOST; then
    (
        cd "$share" || exit 1
        echo "BED-FS-TREE entries $(find t | wc -l) files $(find t -type f | wc -l) manifest $(manifest | md5sum | cut -d' ' -f1)"
    )
    note="written by the host $RANDOM"
    echo "$note" > "$share/host-note.txt"
    printf 'rewritten by the host, longer than before\n' > "$share/t/d0/f0"
    echo "BED-FS-HOST-NOTE $note"
    echo "BED-FS-HOST-CHANGED $(md5sum < "$share/t/d0/f0" | cut -d' ' -f1)"
    touch "$share/host-done"
    if wait_for GUEST-FS-SWAP-START; then
        (
            n=0
            while [[ ! -e "$logs/stop-swap" ]]; do
                mv "$share/swap" "$share/swap.away" || break
                if ((n % 2)); then ln -s ../outside "$share/swap"; else ln -s "$outside" "$share/swap"; fi
                rm "$share/swap"
                mv "$share/swap.away" "$share/swap"
                n=$((n + 1))
                echo "$n" > "$logs/swaps"
            done
        ) &
        swapper=$!
        wait_for GUEST-FS-SWAP-DONE
        touch "$logs/stop-swap"
        wait "$swapper"
        swapper=""
        echo "BED-FS-SWAPS $(cat "$logs/swaps" 2> /dev/null || echo 0)"
    fi
fi
finish main
entries="$(cd "$outside" && ls -A | tr '\n' ' ')"
links="$(stat -c %h "$outside/canary.txt" 2> /dev/null)"
if [[ "$(md5sum < "$outside/canary.txt" 2> /dev/null)" == "$canary" && "$entries" == "canary.txt " && "$links" == 1 ]]; then
    echo "BED-FS-CANARY intact"
else
    echo "BED-FS-CANARY CHANGED entries [$entries] links $links"
fi
echo "BED-FS-RO-HOST $(ro_manifest)"
echo "BED-FS-RO-EXPECTED $ro_before"
echo "BED-FS-MMAP $(md5sum < "$share/mapped.bin" 2> /dev/null | cut -d' ' -f1)"

# 2. durability
durable() { # N: file dur/N as the guest writes it
    local k l dots="...................................................................."
    for ((k = 0; k < 128; k++)); do
        l="lguest-fs-durable $1 $k"
        printf '%s%s\n' "$l" "${dots:0:$((63 - ${#l}))}"
    done
}
target=$((RANDOM % 26 + 5))
delay_ms=$((RANDOM % 300))
boot durability
last=0
while wait_for GUEST-FS-FSYNCED; do
    last="$(grep -a -o 'GUEST-FS-FSYNCED [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
    ((last >= target)) && break
    sleep 0.1
done
sleep "$(printf '0.%03d' "$delay_ms")"
finish durability kill
last="$(grep -a -o 'GUEST-FS-FSYNCED [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
last="${last:-0}"
intact=0
for ((n = 1; n <= last; n++)); do
    cmp -s <(durable "$n") "$share/dur/$n" && intact=$((intact + 1))
done
echo "BED-FS-DURABLE kill-after $target last $last intact $intact"
echo "BED-FS-DONE"
