#!/usr/bin/env bash
# Coverage-guided fuzzing of one Lguest.NET target (or all of them, one after another) with libFuzzer.
#
#   fuzz/run.sh TARGET SECONDS      fuzz TARGET for SECONDS, then minimize its corpus into fuzz/corpus/TARGET
#   fuzz/run.sh all SECONDS         every target in turn, SECONDS each
#   fuzz/run.sh build               only build (fuzz project, instrumentation, driver); the runs below skip it with
#                                   LGUEST_FUZZ_NO_BUILD=1, so two targets can fuzz side by side
#
# Targets: vring virtio-pci virtio-blk virtio-net-tx virtio-fs virtio-vsock kernel-loader lguest-emulation snapshot snapshot-devices api-request (fuzz/README.md).
# What it does: builds fuzz/Lguest.Fuzz, instruments Lguest.Core.dll and Lguest.Devices.dll in the
# built copy with SharpFuzz (edge coverage into a 64 KiB map), builds fuzz/driver/lguest-libfuzzer.c
# with clang -fsanitize=fuzzer, then runs libFuzzer on the committed corpus plus a scratch one. New
# coverage is merged back (-merge=1 keeps the smallest set of inputs with all the features), crashes land
# in artifacts/fuzz/crashes/TARGET/, the log in artifacts/fuzz/logs/TARGET.log, and the figures
# (executions, features, edges, corpus size) on the last lines.
# Needs: the .NET SDK, clang-14 and libclang-rt-14-dev (installed with apt-get when missing, as root),
# unshare(1) and ip(8) for virtio-net-tx, which fuzzes through a tap in a network namespace of its own.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/artifacts/fuzz"
bin="$out/bin"
driver="$out/lguest-libfuzzer"
targets=(vring virtio-pci virtio-blk virtio-net-tx virtio-fs virtio-vsock kernel-loader lguest-emulation snapshot snapshot-devices api-request)

usage() {
    echo "usage: fuzz/run.sh TARGET|all SECONDS | build   (targets: ${targets[*]})" >&2
    exit 2
}

build() {
    if ! command -v clang-14 >/dev/null || [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
        echo "== installing clang-14 and libclang-rt-14-dev (libFuzzer)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
    fi
    mkdir -p "$out"
    echo "== building the libFuzzer driver"
    clang-14 -fsanitize=fuzzer -O2 -Wall -Wextra -Werror "$root/fuzz/driver/lguest-libfuzzer.c" -o "$driver"
    echo "== building fuzz/Lguest.Fuzz and instrumenting Lguest.Core.dll, Lguest.Devices.dll and Lguest.Cli.dll"
    (cd "$root" && dotnet tool restore >/dev/null)
    rm -rf "$bin"
    # build, not publish: publish leaves out SharpFuzz, which the project keeps private from Lguest.Tests.
    dotnet build "$root/fuzz/Lguest.Fuzz/Lguest.Fuzz.csproj" -c Release -o "$bin" -v quiet -nologo >/dev/null
    for assembly in Lguest.Core.dll Lguest.Devices.dll Lguest.Cli.dll; do
        (cd "$root" && dotnet sharpfuzz "$bin/$assembly" >/dev/null)
    done
}

fuzz() {
    local target="$1" seconds="$2"
    local corpus="$root/fuzz/corpus/$target"
    local work="$out/work/$target"
    local crashes="$out/crashes/$target"
    local log="$out/logs/$target.log"
    mkdir -p "$corpus" "$work" "$crashes" "$out/logs"

    # First run of a target: its hand-made seeds, and for the loader the real kernel's header region.
    if [ -z "$(ls -A "$corpus")" ]; then
        echo "== $target: seeding $corpus"
        dotnet "$bin/Lguest.Fuzz.dll" --seeds "$target" "$corpus"
        if [ "$target" = kernel-loader ] && kernels="$(bash "$root/Lguest.Tests/Guests/kernels.sh" 2>/dev/null)"; then
            eval "$kernels"
            for image in "${LGUEST_CLOUD_VMLINUZ:-}" "${LGUEST_CLOUD_VMLINUX:-}"; do
                # The options byte 0 (KVM, PVH preferred, no initrd), then the first 64 KiB of the file.
                [ -f "$image" ] && { printf '\0'; head -c 65536 "$image"; } > "$corpus/seed-real-$(basename "$image")-64k"
            done
        fi
    fi

    local max_len
    max_len="$(dotnet "$bin/Lguest.Fuzz.dll" --max-len "$target")"
    # The targets' scratch files (disk image, kernel file) in tmpfs, in a folder of this run's own: the
    # driver ends the target with SIGKILL, so they cannot remove their files themselves.
    local scratch
    scratch="$(mktemp -d /dev/shm/lguest-fuzz-XXXXXX)"
    local -a wrap=() env=(TMPDIR="$scratch")
    if [ "$target" = virtio-net-tx ]; then
        # A tap of its own, up, in a network namespace nobody else uses: the host kernel takes the frames.
        wrap=(unshare --net)
        env+=(LGUEST_FUZZ_TAP_UP=1)
    fi
    echo "== $target: fuzzing for $seconds s (max_len $max_len), log in $log"
    set +e
    env "${env[@]}" "${wrap[@]}" "$driver" -max_total_time="$seconds" -max_len="$max_len" -timeout=30 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "$corpus" \
        --target_path=dotnet --target_arg="$bin/Lguest.Fuzz.dll" --target_arg="$target" >"$log" 2>&1
    local status=$?
    set -e

    # Merged on edges alone (-use_counters=0): the hit-count buckets that guide the search would keep
    # thousands of near-duplicates in the committed corpus; the scratch corpus keeps them for the next run.
    echo "== $target: minimizing the corpus"
    local merged="$out/merged/$target"
    rm -rf "$merged" && mkdir -p "$merged"
    env "${env[@]}" "${wrap[@]}" "$driver" -merge=1 -use_counters=0 -max_len="$max_len" -timeout=30 "$merged" "$corpus" "$work" \
        --target_path=dotnet --target_arg="$bin/Lguest.Fuzz.dll" --target_arg="$target" >"$out/logs/$target.merge.log" 2>&1 || true
    if [ -n "$(ls -A "$merged")" ]; then
        rm -f "$corpus"/*
        cp "$merged"/* "$corpus"/
    fi
    # The corpus's own figures: one pass over it.
    env "${env[@]}" "${wrap[@]}" "$driver" -runs=0 -max_len="$max_len" "$corpus" \
        --target_path=dotnet --target_arg="$bin/Lguest.Fuzz.dll" --target_arg="$target" >"$out/logs/$target.replay.log" 2>&1 || true

    rm -rf "$scratch"

    echo "== $target: results"
    grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::new_units_added' "$log" || true
    grep -E '^#[0-9]+' "$log" | tail -1 || true
    grep -E 'edges' "$log" | tail -1 || true
    grep -E 'INITED|edges' "$out/logs/$target.replay.log" | tail -2 || true
    echo "corpus: $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KiB"
    if [ -n "$(ls -A "$crashes")" ]; then
        echo "crashes in $crashes:"
        ls "$crashes"
        return 1
    fi
    return $((status == 0 ? 0 : 1))
}

[ $# -ge 1 ] || usage
case "$1" in
    build)
        build
        ;;
    all)
        [ $# -eq 2 ] || usage
        [ "${LGUEST_FUZZ_NO_BUILD:-}" = 1 ] || build
        failed=0
        for t in "${targets[@]}"; do
            fuzz "$t" "$2" || failed=1
        done
        exit $failed
        ;;
    *)
        [ $# -eq 2 ] || usage
        printf '%s\n' "${targets[@]}" | grep -qx "$1" || usage
        [ "${LGUEST_FUZZ_NO_BUILD:-}" = 1 ] || build
        fuzz "$1" "$2"
        ;;
esac
