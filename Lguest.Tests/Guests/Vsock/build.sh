#!/usr/bin/env bash
# Builds vsock-peer, the vsock tests' and benchmarks' program for both ends (the guest image's /bin/vsock-peer, and
# the host side in the bed): build.sh [OUTDIR] -> OUTDIR/vsock-peer, static (glibc), rebuilt only when the source
# changed. OUTDIR defaults to ${LGUEST_CACHE:-$HOME/.cache/lguest}/vsock-peer. Needs Debian's gcc and libc6-dev.
set -euo pipefail
export LC_ALL=C

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-${LGUEST_CACHE:-$HOME/.cache/lguest}/vsock-peer}"
source="$here/vsock-peer.c"
binary="$out/vsock-peer"
mkdir -p "$out"
# The source's digest names the build: a clone whose source differs builds its own, next to this one.
digest="$(sha256sum "$source" | cut -c1-16)"
if [[ ! -x "$binary-$digest" ]]; then
    "${CC:-gcc}" -static -O2 -std=gnu11 -Wall -Wextra -Werror -pthread -ffile-prefix-map="$here"=. \
        -o "$binary-$digest.tmp" "$source"
    mv -f "$binary-$digest.tmp" "$binary-$digest"
fi
printf '%s\n' "$binary-$digest"
