#!/usr/bin/env bash
# test-layer-l1.sh ASSEMBLY FILTER RESULTS TRX: inside L1, one test layer of the host's build output.
#
# The Test target runs the Kvm layer this way on a host whose /dev/kvm is missing or cannot run it:
#   bed.sh --share RESULTS -- Lguest.Tests/Guests/test-layer-l1.sh ASSEMBLY 'TestCategory=Kvm' RESULTS kvm.trx
# The test assembly (Lguest.Tests.dll, built on the host) runs under `dotnet test` with FILTER on L1's
# /dev/kvm (kvm-amd on QEMU's emulated SVM), and its TRX lands in RESULTS, which bed.sh --share makes the
# host's own folder. Exit status: dotnet test's (1 when a test failed); 125 when L1 has no /dev/kvm.
set -euo pipefail

(( $# == 4 )) || { echo "usage: test-layer-l1.sh ASSEMBLY FILTER RESULTS TRX" >&2; exit 2; }
assembly="$1" filter="$2" results="$3" trx="$4"
say() { printf 'test-layer-l1.sh: %s\n' "$*" >&2; }

if [[ -z "${LGUEST_BED:-}" ]]; then
    say "runs inside the nested bed: Lguest.Tests/Guests/bed.sh --share RESULTS -- $0 ..."
    exit 2
fi
if [[ ! -c /dev/kvm ]]; then
    say "L1 has no /dev/kvm: kvm-amd did not load (BED-KVM no above); the host's QEMU must emulate SVM (-cpu max)"
    exit 125
fi
say "$(nproc) CPU(s), $(awk '/MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo), /dev/kvm from kvm-amd; dotnet test $filter"
exec dotnet test "$assembly" --filter "$filter" --results-directory "$results" \
    --logger "trx;LogFileName=$trx" --logger "console;verbosity=normal"
