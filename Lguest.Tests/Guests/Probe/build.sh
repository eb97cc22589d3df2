#!/usr/bin/env bash
# Builds the probe guest: build.sh [OUTDIR] -> OUTDIR/probe.elf
# OUTDIR defaults to ${LGUEST_CACHE:-$HOME/.cache/lguest}/probe.
# build.sh --cached: OUTDIR is ${LGUEST_CACHE:-...}/probe-<digest of this folder's files>, built only when
# its probe.elf is missing: the tests use it (each version of the sources its own folder, so worktrees
# sharing the cache never boot each other's probe), and the Guests target builds it before them, so the
# Kvm layer inside the nested bed finds it made instead of compiling it under emulation.
# Needs only Debian's gcc and binutils (no multilib: nothing links libc or libgcc). Prints the ELF's path.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${LGUEST_CACHE:-$HOME/.cache/lguest}
if [[ "${1:-}" == --cached ]]; then
	digest=$(cd "$here" && for file in *; do
		[[ -f "$file" ]] && printf '%s\n' "$file" && cat "$file"
	done | sha256sum | cut -c1-12)
	out="$cache/probe-$digest"
	mkdir -p "$out"
	exec 9>"$out/.lock"
	flock 9
	if [[ -s "$out/probe.elf" ]]; then
		echo "$out/probe.elf"
		exit 0
	fi
else
	out=${1:-$cache/probe}
	mkdir -p "$out"
fi
cc=${CC:-gcc}

cflags=(
	-m32 -march=i686 -std=gnu11 -O2
	-ffreestanding -nostdlib -fno-pic -fno-pie -fno-builtin
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables
	-mgeneral-regs-only -mno-sse -mno-mmx -mno-80387
	-fno-common -ffunction-sections -fdata-sections
	-Wall -Wextra -Werror -Wno-unused-parameter
	-ffile-prefix-map="$here"=.
)
ldflags=(
	-static -no-pie -Wl,-T,"$here/probe.ld" -Wl,--build-id=none -Wl,--gc-sections
	-Wl,-m,elf_i386 -Wl,--no-warn-rwx-segments -Wl,-Map,"$out/probe.map"
)

# One object per source under fixed names: the objects' names end up in the
# symbol table, so gcc's random temporary names would make builds differ.
mkdir -p "$out/obj"
objects=()
pids=()
for source in "$here"/*.S "$here"/*.c; do
	object="$out/obj/$(basename "$source").o"
	objects+=("$object")
	"$cc" "${cflags[@]}" -c -o "$object" "$source" &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid"
done

tmp="$out/probe.elf.tmp"
"$cc" "${cflags[@]}" "${ldflags[@]}" -o "$tmp" "${objects[@]}"
mv -f "$tmp" "$out/probe.elf"
echo "$out/probe.elf"
