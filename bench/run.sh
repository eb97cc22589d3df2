#!/usr/bin/env bash
# The side-by-side benchmark of issue 9: lguest (NativeAOT and JIT) beside QEMU (-M pc and -M microvm) on
# the probe guest straight on /dev/kvm, the devices beside the host's own I/O, and (when
# bench/bed/bed-bench.sh is there) real Linux in the nested bed. Writes bench/results.md,
# bench/results.json and bench/ratios.png (a rerun overwrites them).
#
#   bench/run.sh [--runs N] [--sections direct,devices,bed,debian,fs,snapshot,vsock|none] [--no-bed] [--bed-args 'ARGS'] [--fs-args 'ARGS'] [--snapshot-args 'ARGS'] [--cases WORDS,...]
#
# --sections none measures nothing and writes results.md and ratios.png again from results.json (after a merge).
# --cases keeps only the device cases whose short name (the chart's label, e.g. 'block read 4K rand QD1')
# contains one of the comma-separated words; their figures replace the same figures in results.json, the others stay.
# --bed-args passes its words to bench/bed/bed-bench.sh as they are (e.g. --bed-args '--rounds 10').
# The debian section is bed-bench.sh --parts debian: the Debian 12 guest (built with
# Lguest.Tests/Guests/debian-image.sh when missing) with fio and its boot, lguest beside QEMU -M pc with
# aio=threads and aio=io_uring (issue 20). The fs section (shared folders: virtio-fs beside QEMU 9p, issue 17)
# runs bed-bench.sh --parts fs in a bed of its own, with --fs-args' words after that. The snapshot section (issue 19:
# restore beside a cold boot, and a 2 GiB guest's restore beside a 256 MiB one's) runs bench/bed/snapshot-bench.sh in
# a bed of its own with --snapshot-args' words (e.g. '--rounds 5').
#
# Needs root (the network cases make a network namespace and a tap), /dev/kvm, QEMU (installed with
# apt-get when missing), gcc for the probe. `dotnet cake --target=Bench` runs this script.
set -euo pipefail
export LC_ALL=C DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf 'bench/run.sh: %s\n' "$*" >&2; }

args=()
while (($#)); do
	case $1 in
	--runs | --sections | --bed-args | --fs-args | --snapshot-args | --cases)
		(($# >= 2)) || { say "$1 needs a value"; exit 2; }
		args+=("$1" "$2")
		shift 2
		;;
	--no-bed)
		args+=("$1")
		shift
		;;
	*)
		say "unknown argument '$1' (usage: bench/run.sh [--runs N] [--sections direct,devices,bed,debian,fs,snapshot,vsock|none] [--no-bed] [--bed-args 'ARGS'] [--fs-args 'ARGS'] [--snapshot-args 'ARGS'] [--cases WORDS,...])"
		exit 2
		;;
	esac
done

if ((EUID != 0)); then
	say "run as root: the network cases create a network namespace and a tap"
	exit 2
fi
# Only the direct section runs a guest on this host's /dev/kvm (the devices run with no guest CPU, the bed
# sections on L1's /dev/kvm), so a host without one can still measure the rest.
sections=direct
for ((i = 0; i < ${#args[@]}; i++)); do
	[[ ${args[i]} == --sections ]] && sections=${args[i + 1]}
done
if [[ ,$sections, == *,direct,* && ! -c /dev/kvm ]]; then
	say "no /dev/kvm on this host: the direct section needs it (--sections devices,bed,debian,fs,snapshot,vsock run without)"
	exit 2
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	say "installing QEMU (qemu-system-x86) to compare against"
	apt-get install -y -qq qemu-system-x86 >/dev/null
fi

# The NativeAOT binary, published only when a launcher source is newer than it (the cake Bench target
# has just done this; a second look costs a second).
if [[ -z ${LGUEST_BENCH_PUBLISHED:-} ]]; then
	dotnet tool restore >/dev/null
	dotnet cake --target=LauncherBinary
fi
aot=$root/artifacts/lguest/lguest
[[ -x $aot ]] || { say "$aot is missing: dotnet cake --target=Publish"; exit 1; }

# The JIT launcher and the harness, in Release.
dotnet build -c Release -nologo -v q Lguest.Cli/Lguest.Cli.csproj
dotnet build -c Release -nologo -v q bench/Lguest.Compare/Lguest.Compare.csproj
jit=$root/Lguest.Cli/bin/Release/net10.0/Lguest.Cli.dll

probe=$(bash Lguest.Tests/Guests/Probe/build.sh "$root/artifacts/bench/probe")

shown="bench/run.sh"
for a in "${args[@]}"; do shown+=" $(printf '%q' "$a")"; done
exec dotnet bench/Lguest.Compare/bin/Release/net10.0/Lguest.Compare.dll --root "$root" --probe "$probe" --aot "$aot" --jit "$jit" \
	--command "$shown" "${args[@]}"
