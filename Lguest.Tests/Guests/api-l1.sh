#!/usr/bin/env bash
# api-l1.sh: inside the bed (L1), lguest driven through its API socket, in one bed run and a network namespace of
# its own:
#   1. lguest --api-sock, then Firecracker's getting-started calls (docs/getting-started.md: curl --unix-socket,
#      PUT /boot-source, PUT /drives/rootfs, PUT /actions InstanceStart) with only the paths changed, plus a
#      network interface on an existing tap (PUT /network-interfaces/eth0) and the boot-source's initrd_path (the
#      Debian cloud kernel's virtio drivers are modules in the guest image); a pause before the start and a
#      boot-source after it, refused;
#   2. the guest (scenario api) ticks every half second: PATCH /vm Paused for 10 s, measuring lguest's CPU time
#      (/proc/PID/stat) and the console meanwhile, then Resumed, and the ticks continue;
#   3. the guest loads disk and network (8 MiB to each, paced over 25 s) while the host pauses and resumes it 20 times; the
#      data is checked on both sides, and the guest's kernel log searched for lockups and stalls.
#   LGUEST   the launcher as the start of a shell command (as for durability-l1.sh)
#   API_CYCLES  pause/resume pairs under load (default 20); API_ROUNDS  times the guest goes over its 8 MiB load
#            (default 1; lguest.api.rounds); API_JITTER=1  random pauses (0-0.3 s) and gaps (0-0.5 s) instead of 0.2 and
#            0.5 s. A soak of the pause path: API_CYCLES=300 API_ROUNDS=12 API_JITTER=1.
# Prints the guest's console (GUEST-API-...) and:
#   BED-API-CALL <what> <HTTP status>
#   BED-API-PAUSED cpu-ticks <lguest's user+system clock ticks in the 10 s> clk-tck <ticks/s> console-bytes <n> guest-ticks <n>
#   BED-API-PAUSED-THREADS <thread name/tid:ticks in the 10 s, busiest first>
#   BED-API-STATE <GET / state while paused>
#   BED-API-RESUMED guest-ticks <ticks within 30 s of the resume>
#   BED-API-CYCLES <pause/resume pairs answered 204> <of>
#   BED-API-STUCK <thread name/tid> <state> <wchan> <syscall> <kernel stack>, for each thread, when a pause or resume got
#   no answer (then BED-API-GDB lines: every thread's stack, NativeAOT's managed frames named, where gdb is installed)
#   BED-API-FROZEN done-connected <yes|no> ticks <n> last <tick line>, then BED-API-STUCK lines, when the guest did not
#   reach its end (GUEST-API-NET-SENT) after the cycles; then BED-API-KICK <pause status> <resume status> and
#   BED-API-KICKED guest-ticks <n in the 10 s after> net-sent <0|1>: whether a pause and resume woke it
#   BED-API-NET-RECEIVED <md5> <bytes>
#   BED-API-EXIT <lguest's exit status> socket-removed <yes|no>
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
host=10.0.2.1
guest=10.0.2.2
cycles="${API_CYCLES:-20}"
rounds="${API_ROUNDS:-1}"

if [[ "${API_L1_INSIDE:-}" != 1 ]]; then
    ns="lguest-api-$$"
    ip netns add "$ns" || exit 125
    trap 'ip netns del "$ns"' EXIT
    ip netns exec "$ns" ip link set lo up
    API_L1_INSIDE=1 ip netns exec "$ns" "$0" "$@"
    exit $?
fi

cli="$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll"
eval "launcher=(${LGUEST:-dotnet \"\$cli\"})"
work="$(mktemp -d)"
sock="$work/firecracker.socket"
console="$work/console.log"
tap=fc-tap0
ip tuntap add dev "$tap" mode tap && ip addr add "$host/24" dev "$tap" && ip link set "$tap" up
truncate -s 64M "$work/rootfs.ext4"
pids=()
cleanup() {
    kill "${pids[@]}" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# call WHAT METHOD PATH [BODY]: one request, as the getting-started guide sends it; prints BED-API-CALL and the answer.
call() {
    local what="$1" method="$2" path="$3" answer status
    shift 3
    answer="$(curl --unix-socket "$sock" -s -i -X "$method" "http://localhost/$path" -H 'Accept: application/json' \
        -H 'Content-Type: application/json' ${1:+-d "$1"} | tr -d '\r')"
    status="$(printf '%s\n' "$answer" | head -n 1 | cut -d' ' -f2)"
    echo "BED-API-CALL $what ${status:-none} $(printf '%s\n' "$answer" | sed -n '/^$/,$p' | tr -d '\n')"
}
# wait_for PATTERN SECONDS: until the console has a line matching PATTERN (0), or lguest ended or time ran out (1).
wait_for() {
    local deadline=$((SECONDS + $2))
    until grep -q -E "$1" "$console"; do
        kill -0 "$lguest" 2> /dev/null && [[ $SECONDS -lt $deadline ]] || return 1
        sleep 0.2
    done
}
ticks() { grep -c 'GUEST-API-TICK' "$console"; }
# vm STATE: PATCH /vm, at most 60 s; prints the HTTP status (000: no answer).
vm() { curl --unix-socket "$sock" -m 60 -s -o /dev/null -w '%{http_code}' -X PATCH http://localhost/vm -d "{\"state\": \"$1\"}"; }
# stuck: where each of lguest's threads is, for a call that got no answer: BED-API-STUCK <name>/<tid> <state> <wchan>
# <syscall number and arguments> <kernel stack>, then each thread's stack as gdb sees it (BED-API-GDB).
stuck() {
    local task
    if ! kill -0 "$lguest" 2> /dev/null; then
        echo "BED-API-STUCK lguest-ended"
        return
    fi
    for task in "/proc/$lguest/task/"*; do
        echo "BED-API-STUCK $(tr ' ' '_' < "$task/comm")/${task##*/} $(sed 's/.*) //' "$task/stat" | cut -d' ' -f1)" \
            "$(cat "$task/wchan" 2> /dev/null) [$(cut -d' ' -f1-4 "$task/syscall" 2> /dev/null)]" \
            "$(cut -d' ' -f2 "$task/stack" 2> /dev/null | tr '\n' ' ' | cut -c1-200)"
    done
    if command -v gdb > /dev/null; then
        timeout 120 gdb -p "$lguest" -batch -nx -ex 'set pagination off' -ex 'thread apply all bt 30' 2>&1 \
            | grep -E '^(Thread|#)' | sed 's/^/BED-API-GDB /' | cut -c1-240
    fi
}
# gap SECONDS MAX: sleeps SECONDS, or with API_JITTER=1 a random 0 to MAX seconds (a pause that comes at once after a
# resume, and the other way round, are among them).
gap() {
    if [[ "${API_JITTER:-}" == 1 ]]; then
        sleep "$(awk -v s="$2" -v r="$RANDOM" 'BEGIN { printf "%.3f", s * r / 32767 }')"
    else
        sleep "$1"
    fi
}
cputicks() { awk '{ print $14 + $15 }' "/proc/$lguest/stat"; }
# threadticks: one line per thread of lguest, "<name>/<tid> <user+system ticks>" (the name may hold spaces: it ends at
# the stat line's last ')').
threadticks() {
    local task
    for task in "/proc/$lguest/task/"*; do
        echo "$(tr ' ' '_' < "$task/comm")/${task##*/} $(sed 's/.*) //' "$task/stat" | awk '{ print $12 + $13 }')"
    done 2> /dev/null | sort
}

"${launcher[@]}" --api-sock="$sock" < /dev/null > "$console" 2>&1 &
lguest=$!
pids+=("$lguest")
tail -n +1 -f "$console" &
pids+=($!)
for _ in $(seq 600); do [[ -S "$sock" ]] && break; sleep 0.1; done

call pause-before-start PATCH vm '{"state": "Paused"}'
call boot-source PUT boot-source "{
        \"kernel_image_path\": \"$LGUEST_GUEST_VMLINUZ\",
        \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off quiet lguest.scenario=api lguest.api.rounds=$rounds lguest.net=$guest/24,$host\",
        \"initrd_path\": \"$LGUEST_GUEST_INITRD\"
    }"
call drive PUT drives/rootfs "{
        \"drive_id\": \"rootfs\",
        \"path_on_host\": \"$work/rootfs.ext4\",
        \"is_root_device\": true,
        \"is_read_only\": false
    }"
call network-interface PUT network-interfaces/eth0 "{
        \"iface_id\": \"eth0\",
        \"guest_mac\": \"06:00:AC:10:00:02\",
        \"host_dev_name\": \"$tap\"
    }"
call start PUT actions '{"action_type": "InstanceStart"}'
call boot-source-after-start PUT boot-source "{\"kernel_image_path\": \"$LGUEST_GUEST_VMLINUZ\"}"
call info GET ''

if wait_for 'GUEST-API-TICK 4 ' 900; then
    call pause PATCH vm '{"state": "Paused"}'
    cpu0="$(cputicks)" bytes0="$(stat -c %s "$console")" ticks0="$(ticks)"
    threadticks > "$work/threads0"
    sleep 10
    cpu1="$(cputicks)" bytes1="$(stat -c %s "$console")" ticks1="$(ticks)"
    threadticks > "$work/threads1"
    echo "BED-API-PAUSED cpu-ticks $((cpu1 - cpu0)) clk-tck $(getconf CLK_TCK) console-bytes $((bytes1 - bytes0)) guest-ticks $((ticks1 - ticks0))"
    # Which threads spent them: a spinning one names itself.
    echo "BED-API-PAUSED-THREADS $(join -a 2 -e 0 -o 2.1,1.2,2.2 "$work/threads0" "$work/threads1" | awk '$3 > $2 { print $1 ":" $3 - $2 }' | sort -t: -k2 -rn | head -n 8 | tr '\n' ' ')"
    echo "BED-API-STATE $(curl --unix-socket "$sock" -s http://localhost/ | sed -n 's/.*"state":"\([^"]*\)".*/\1/p')"
    call resume PATCH vm '{"state": "Resumed"}'
    wait_for "GUEST-API-TICK $((ticks1 + 3)) " 30
    echo "BED-API-RESUMED guest-ticks $(($(ticks) - ticks1))"

    busybox nc -l -p 5001 < <(sleep 100000) > "$work/received" &
    pids+=($!)
    for _ in $(seq 120); do busybox nc -w 2 "$guest" 5003 < /dev/null 2> /dev/null && break; sleep 0.5; done
    wait_for 'GUEST-API-LOAD' 60
    ok=0 hung=""
    for i in $(seq "$cycles"); do
        a="$(vm Paused)"
        gap 0.2 0.3
        b="$(vm Resumed)"
        [[ "$a $b" == "204 204" ]] && ok=$((ok + 1)) || echo "BED-API-CYCLE $i $a $b"
        if [[ "$a" == 000 || "$b" == 000 ]]; then
            hung=yes
            stuck
            break
        fi
        gap 0.5 0.5
    done
    echo "BED-API-CYCLES $ok $cycles"
    if [[ -z "$hung" ]]; then
        # "done": the guest listens once its load is over, and then ends.
        done_sent=no
        # Each try has a connect timeout (a frozen guest answers no SYN: busybox nc would wait out TCP's retries, over
        # two minutes a try), and all of them a deadline: the load's rounds, about 26 s each, and a margin.
        deadline=$((SECONDS + 120 + rounds * 60))
        while ((SECONDS < deadline)); do
            busybox nc -w 2 "$guest" 5004 < /dev/null 2> /dev/null && done_sent=yes && break
            sleep 0.5
        done
        if ! wait_for 'GUEST-API-NET-SENT' 60; then
            # A guest that stopped short of its end: whether its network still answered ("done" connected), its last
            # tick, and where each of lguest's threads is (seen once in CI: ticks stopped 2 s after the last resume,
            # L1 idle, the bed's hang protection ending the run without a word).
            echo "BED-API-FROZEN done-connected $done_sent ticks $(ticks) last $(grep 'GUEST-API-TICK' "$console" | tail -n 1 | tr -d '\r')"
            hung=yes
            stuck
            # Whether a pause and resume (a signal to each vCPU, out of KVM_RUN and back) wakes it: it did for the
            # vCPU stalled by io_uring task work (70380be).
            before="$(ticks)"
            echo "BED-API-KICK $(vm Paused) $(vm Resumed)"
            sleep 10
            echo "BED-API-KICKED guest-ticks $(($(ticks) - before)) net-sent $(grep -c 'GUEST-API-NET-SENT' "$console")"
        fi
        sleep 1
    fi
    echo "BED-API-NET-RECEIVED $(md5sum < "$work/received" | cut -d' ' -f1) $(stat -c %s "$work/received")"
    if [[ -n "$hung" ]]; then
        kill "$lguest"
        sleep 10
        kill -9 "$lguest" 2> /dev/null
    fi
else
    echo "BED-API-NO-TICKS"
    kill "$lguest"
fi
for _ in $(seq 1800); do kill -0 "$lguest" 2> /dev/null || break; sleep 0.5; done
kill "$lguest" 2> /dev/null
wait "$lguest"
status=$?
sleep 0.5
echo "BED-API-EXIT $status socket-removed $([[ -e "$sock" ]] && echo no || echo yes)"
exit 0
