#!/usr/bin/env bash
# kernels.sh: fetch and unpack the two Debian kernels the nested bed uses.
#
#   generic (linux-image-amd64):       boots L1; it has 9p, kvm and kvm-amd as modules.
#   cloud   (linux-image-cloud-amd64): boots L2 (and the Demo); small, virtio only, no 9p.
#
# The current ABI is resolved through the meta-packages with `apt-cache depends`; the .debs come from
# `apt-get download` (no other downloads) into ${LGUEST_CACHE:-$HOME/.cache/lguest}/debs, never the clone,
# and are unpacked with `dpkg-deb -x` into .../kernels/<package>/. Idempotent: a .deb or tree already in
# the cache is reused. Offline (or with stale apt lists) the newest kernels already cached are used.
# LGUEST_KERNEL_ABI=6.1.0-50 pins an ABI instead of the meta-packages' choice.
#
# Output (stdout), one shell-quoted assignment a line, for `eval "$(kernels.sh)"` or a parser:
#   LGUEST_CACHE  LGUEST_{GENERIC,CLOUD}_{PACKAGE,RELEASE,VMLINUZ,VMLINUX,MODULES}
# RELEASE is `uname -r` of that kernel; VMLINUZ its bzImage; VMLINUX the ELF inside it (extracted here, for
# PVH boots); MODULES its lib/modules/<release> folder. Progress goes to stderr.
set -euo pipefail

cache="${LGUEST_CACHE:-$HOME/.cache/lguest}"
debs="$cache/debs"
kernels="$cache/kernels"
mkdir -p "$debs" "$kernels"

say() { printf 'kernels.sh: %s\n' "$*" >&2; }

# Parallel test runs share the cache: one fetcher at a time.
exec 9>"$cache/.kernels.lock"
flock 9

# What the meta-packages currently depend on, as "meta package" lines (one apt-cache call: each costs ~0.5 s).
resolved="$(apt-cache depends linux-image-amd64 linux-image-cloud-amd64 2>/dev/null |
    awk '/^[^ ]/ { meta = $1 } $1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print meta, $2 }' || true)"

# Package name a meta-package currently depends on, e.g. linux-image-6.1.0-56-cloud-amd64; empty if unknown.
resolve_meta() {
    awk -v meta="$1" '$1 == meta { print $2; exit }' <<< "$resolved"
}

# Newest cached .deb for a flavour ("amd64" or "cloud-amd64"), as a package name; empty if none.
newest_cached() {
    local flavour="$1" deb name
    for deb in "$debs"/linux-image-*-"$flavour"_*.deb; do
        [[ -e "$deb" ]] || continue
        name="${deb##*/}"
        name="${name%%_*}"
        # linux-image-<abi>-amd64 must not match the cloud flavour's files, and vice versa.
        if [[ "$name" =~ ^linux-image-[0-9][0-9.]*-[0-9]+-"$flavour"$ ]]; then
            printf '%s\n' "$name"
        fi
    done | sort -V | tail -n 1
}

# Path of the cached .deb of a package, fetching it if needed; fails if neither works.
fetch_deb() {
    local pkg="$1" deb
    deb="$(find "$debs" -maxdepth 1 -name "${pkg}_*_amd64.deb" | sort -V | tail -n 1)"
    if [[ -z "$deb" ]]; then
        say "downloading $pkg with apt-get download"
        local -a apt=(apt-get download -q)
        # As root apt drops to _apt, which may not write into a private cache folder.
        [[ "$(id -u)" == 0 ]] && apt+=(-o APT::Sandbox::User=root)
        (cd "$debs" && "${apt[@]}" "$pkg" >&2) || return 1
        deb="$(find "$debs" -maxdepth 1 -name "${pkg}_*_amd64.deb" | sort -V | tail -n 1)"
    fi
    [[ -n "$deb" ]] && printf '%s\n' "$deb"
}

# Unpack a .deb once into kernels/<pkg>; print the tree.
unpack() {
    local pkg="$1" deb="$2" tree="$kernels/$1"
    if [[ ! -e "$tree/.complete" ]]; then
        say "unpacking ${deb##*/}"
        rm -rf "$tree" "$tree.tmp"
        dpkg-deb -x "$deb" "$tree.tmp"
        mv "$tree.tmp" "$tree"
        touch "$tree/.complete"
    fi
    printf '%s\n' "$tree"
}

# Little-endian unsigned integer of $3 bytes at offset $2 of file $1.
le() { od -An -t "u$3" -j "$2" -N "$3" --endian=little "$1" | tr -d ' '; }

# Write the ELF vmlinux inside bzImage $1 to $2 (once). QEMU and lguest boot it through its PVH entry,
# which skips decompressing the kernel in the guest: under TCG that saves seconds. The compressed
# payload's place comes from the setup header (Documentation/arch/x86/boot.rst, protocol 2.08+).
extract_vmlinux() {
    local bzimage="$1" vmlinux="$2" setup_sects start length magic
    [[ -s "$vmlinux" ]] && return 0
    setup_sects="$(le "$bzimage" $((0x1f1)) 1)"
    (( setup_sects == 0 )) && setup_sects=4
    start=$(( (setup_sects + 1) * 512 + $(le "$bzimage" $((0x248)) 4) ))
    length="$(le "$bzimage" $((0x24c)) 4)"
    magic="$(od -An -t x1 -j "$start" -N 6 "$bzimage" | tr -d ' \n')"
    local -a decompress
    case "$magic" in
        fd377a585a00) decompress=(xz -dc --single-stream) ;;
        28b52ffd*) decompress=(zstd -qdc) ;;
        1f8b*) decompress=(gzip -dc) ;;
        02214c18*) decompress=(lz4 -dc) ;;
        425a68*) decompress=(bzip2 -dc) ;;
        5d0000*) decompress=(xz -dc --format=lzma) ;;
        *) say "$bzimage: unknown payload compression (magic $magic); no vmlinux"; return 1 ;;
    esac
    # The payload ends with the 4-byte uncompressed size, which some decompressors call trailing garbage.
    tail -c +$((start + 1)) "$bzimage" | head -c "$length" | "${decompress[@]}" > "$vmlinux.tmp" 2>/dev/null || true
    if [[ "$(head -c 4 "$vmlinux.tmp" | od -An -t x1 | tr -d ' \n')" != 7f454c46 ]]; then
        say "$bzimage: the payload did not decompress to an ELF vmlinux"
        rm -f "$vmlinux.tmp"
        return 1
    fi
    mv "$vmlinux.tmp" "$vmlinux"
}

# Resolve, fetch and unpack one flavour; print its assignments with the given prefix.
kernel() {
    local prefix="$1" meta="$2" flavour="$3" pkg="" deb="" tree release vmlinuz vmlinux modules
    if [[ -n "${LGUEST_KERNEL_ABI:-}" ]]; then
        pkg="linux-image-$LGUEST_KERNEL_ABI-$flavour"
    else
        pkg="$(resolve_meta "$meta")"
    fi
    if [[ -n "$pkg" ]]; then
        deb="$(fetch_deb "$pkg")" || deb=""
    fi
    if [[ -z "$deb" && -z "${LGUEST_KERNEL_ABI:-}" ]]; then
        local cached
        cached="$(newest_cached "$flavour")"
        if [[ -n "$cached" ]]; then
            say "cannot get ${pkg:-the package $meta depends on}; using cached $cached (try: apt-get update)"
            pkg="$cached"
            deb="$(fetch_deb "$pkg")"
        fi
    fi
    if [[ -z "$deb" ]]; then
        say "no $flavour kernel: ${pkg:-$meta} is neither cached nor downloadable (try: apt-get update)"
        return 1
    fi
    tree="$(unpack "$pkg" "$deb")"
    release="${pkg#linux-image-}"
    vmlinuz="$tree/boot/vmlinuz-$release"
    modules="$tree/lib/modules/$release"
    [[ -d "$modules" ]] || modules="$tree/usr/lib/modules/$release"
    if [[ ! -f "$vmlinuz" || ! -d "$modules" ]]; then
        say "$deb holds no boot/vmlinuz-$release or lib/modules/$release"
        return 1
    fi
    vmlinux="$tree/boot/vmlinux-$release"
    extract_vmlinux "$vmlinuz" "$vmlinux"
    printf 'LGUEST_%s_PACKAGE=%q\n' "$prefix" "$pkg"
    printf 'LGUEST_%s_RELEASE=%q\n' "$prefix" "$release"
    printf 'LGUEST_%s_VMLINUZ=%q\n' "$prefix" "$vmlinuz"
    printf 'LGUEST_%s_VMLINUX=%q\n' "$prefix" "$vmlinux"
    printf 'LGUEST_%s_MODULES=%q\n' "$prefix" "$modules"
}

printf 'LGUEST_CACHE=%q\n' "$cache"
kernel GENERIC linux-image-amd64 amd64
kernel CLOUD linux-image-cloud-amd64 cloud-amd64
