#!/usr/bin/env bash
# durability-l1.sh TRIALS [SEED]: inside the bed (L1), Linux's half of the durability test. Each trial
# boots the guest image under lguest with a fresh disk image (in L1's memory) and lguest.scenario=durability
# (scenarios/durability: numbered 4 KiB blocks, a dd conv=fsync per batch, GUEST-DURABILITY-FLUSHED <n>),
# kills lguest with SIGKILL at a random moment, and reports what the image holds. Odd trials die a
# random time (0-4 s) after the guest starts writing; even ones once it has flushed a random number of
# blocks (1-40), plus a random delay (0-300 ms). Batches are 1-16 blocks.
#   LGUEST   the launcher as the start of a shell command ("/path/lguest" or "dotnet /path/Lguest.Cli.dll";
#            default the CLI from the build output)
# Prints one line per trial, then BED-DURABILITY-DONE <trials>:
#   BED-DURABILITY-TRIAL <i> kill <when> batch <n> flushed <n> md5 <md5> numbered <n> cache <write_cache>
#     flushed   the last GUEST-DURABILITY-FLUSHED number the console showed before the kill
#     md5       MD5 of the image's blocks 1..flushed (bytes 4096 to 4096 * (flushed + 1)): the test compares it
#               with the blocks `scenarios/durability block 1 <flushed>` prints, byte for byte
#     numbered  how many blocks from block 1 on start with their own number's header (written, flushed or not)
#   BED-DURABILITY-TRIAL <i> error <detail>, then the guest's last console lines, when a trial went wrong.
set -u
trials="${1:?usage: durability-l1.sh TRIALS [SEED]}"
RANDOM="${2:-$$}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
[[ -f "$cli" ]] || cli="$root/Lguest.Cli/bin/Debug/net10.0/Lguest.Cli.dll"
eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# 32 MiB: 8191 blocks, more than any trial writes before its kill.
blocks=8192
guard=600 # seconds a trial may wait for its kill point: hang protection only

last_flushed() { grep -a -o 'GUEST-DURABILITY-FLUSHED [0-9]*' "$1" | tail -n 1 | cut -d' ' -f2; }

for ((trial = 0; trial < trials; trial++)); do
    image="$work/disk.img"
    log="$work/console.log"
    rm -f "$image" "$log"
    truncate -s $((blocks * 4096)) "$image"
    batch=$((RANDOM % 16 + 1))
    if ((trial % 2)); then
        delay_ms=$((RANDOM % 4000)); target=0; when="${delay_ms}ms-after-start"
    else
        delay_ms=$((RANDOM % 300)); target=$((RANDOM % 40 + 1)); when="after-${target}+${delay_ms}ms"
    fi
    "${launcher[@]}" --block="$image" --no-reboot 256 "$LGUEST_GUEST_VMLINUZ" --initrd="$LGUEST_GUEST_INITRD" \
        console=ttyS0 quiet lguest.scenario=durability "lguest.durability-batch=$batch" < /dev/null > "$log" 2>&1 &
    pid=$!
    error=""
    for ((waited = 0; ; waited++)); do
        if ! kill -0 "$pid" 2> /dev/null; then
            error="lguest ended before the kill"; break
        fi
        if grep -a -q 'GUEST-DURABILITY-\(FULL\|ERROR\)' "$log"; then
            error="the guest stopped writing before the kill"; break
        fi
        if ((target == 0)); then
            grep -a -q GUEST-DURABILITY-START "$log" && break
        else
            flushed="$(last_flushed "$log")"
            [[ -n "$flushed" ]] && ((flushed >= target)) && break
        fi
        if ((waited >= guard * 20)); then
            error="no kill point after ${guard} s"; break
        fi
        sleep 0.05
    done
    [[ -z "$error" ]] && sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -KILL "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
    if [[ -z "$error" ]] && grep -a -q 'GUEST-DURABILITY-\(FULL\|ERROR\)' "$log"; then
        error="the guest stopped writing before the kill"
    fi
    if [[ -n "$error" ]]; then
        echo "BED-DURABILITY-TRIAL $trial error $error"
        tail -n 20 "$log" | tr -d '\r'
        continue
    fi
    flushed="$(last_flushed "$log")"
    flushed="${flushed:-0}"
    md5="$(dd if="$image" bs=4096 skip=1 count="$flushed" 2> /dev/null | md5sum | cut -d' ' -f1)"
    numbered=0
    while [[ "$(dd if="$image" iflag=skip_bytes skip=$(((numbered + 1) * 4096)) bs=28 count=1 2> /dev/null | tr -d '\0')" \
        == "$(printf 'LGUEST-DURABILITY %010d' $((numbered + 1)))" ]]; do
        numbered=$((numbered + 1))
    done
    cache="$(grep -a -o 'GUEST-DURABILITY-START .*' "$log" | tr -d '\r' | sed -n 's/.* cache //p')"
    echo "BED-DURABILITY-TRIAL $trial kill $when batch $batch flushed $flushed md5 $md5 numbered $numbered cache ${cache:--}"
done
echo "BED-DURABILITY-DONE $trials"
