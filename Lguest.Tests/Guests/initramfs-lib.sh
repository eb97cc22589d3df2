# initramfs-lib.sh: helpers shared by guest-initramfs.sh and bed-initramfs.sh (sourced, not run).
#
# Both images are the same shape: Debian's static busybox with its applet links, kernel modules
# copied uncompressed (busybox insmod reads only plain .ko files) and listed in load order in
# /etc/modules.load, an /init, packed as a newc cpio compressed with gzip. An image is rebuilt only when
# its inputs change: a digest of them sits next to the image in the cache.
# shellcheck shell=bash

guests_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Stage /bin/busybox and a link for each applet into $1.
stage_busybox() {
    local root="$1" busybox="${BUSYBOX:-/bin/busybox}" applet linkage=""
    [[ -x "$busybox" ]] && linkage="$(LC_ALL=C ldd "$busybox" 2>&1 || true)"
    if [[ "$linkage" != *"not a dynamic executable"* ]]; then
        echo "$busybox is missing or not static: install busybox-static (Lguest.Tests/Guests/prepare.sh)" >&2
        return 1
    fi
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root}
    cp "$busybox" "$root/bin/busybox"
    while IFS= read -r applet; do
        [[ "$applet" == bin/busybox || -e "$root/$applet" ]] && continue
        ln -s /bin/busybox "$root/$applet"
    done < <("$busybox" --list-full)
}

# Copy the modules resolve-modules.sh lists for $2 (a lib/modules/<release> tree) into $1,
# decompressed, and write their load order to $1/etc/modules.load. Remaining args: module names.
stage_modules() {
    local root="$1" moddir="$2" release rel plain
    shift 2
    release="$(basename "$moddir")"
    mkdir -p "$root/etc" "$root/lib/modules/$release"
    : > "$root/etc/modules.load"
    while IFS= read -r rel; do
        plain="lib/modules/$release/${rel%.xz}"
        plain="${plain%.zst}"
        plain="${plain%.gz}"
        mkdir -p "$root/$(dirname "$plain")"
        case "$rel" in
            *.xz) xz -dc "$moddir/$rel" > "$root/$plain" ;;
            *.zst) zstd -qdc "$moddir/$rel" > "$root/$plain" ;;
            *.gz) gzip -dc "$moddir/$rel" > "$root/$plain" ;;
            *) cp "$moddir/$rel" "$root/$plain" ;;
        esac
        printf '/%s\n' "$plain" >> "$root/etc/modules.load"
    done < <("$guests_dir/resolve-modules.sh" "$moddir" "$@")
}

# Pack the tree $1 into the gzip'd newc cpio $2 (written atomically; owner root, stable order and times).
pack_cpio() {
    local root="$1" image="$2"
    find "$root" -exec touch -h -d @0 {} +
    (cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) |
        gzip -9n > "$image.tmp"
    mv "$image.tmp" "$image"
}

# Digest of the given files plus extra words: the image's identity.
inputs_digest() {
    local words="$1"
    shift
    { printf '%s\n' "$words"; cat "$@"; } | sha256sum | cut -d' ' -f1
}

# The image file for a digest: the digest is part of the name, so clones and worktrees whose scripts differ
# keep their own images side by side in the one cache instead of rebuilding each other's. Images of the same
# kind unused for three days are removed (using one refreshes its time).
image_path() {
    local images="$1" kind="$2" digest="$3"
    printf '%s/%s-%s.cpio.gz' "$images" "$kind" "${digest:0:16}"
}
prune_images() {
    local images="$1" kind="$2" keep="$3"
    find "$images" -maxdepth 1 -name "$kind-*.cpio.gz" ! -path "$keep" -mtime +3 -delete 2>/dev/null || true
}
