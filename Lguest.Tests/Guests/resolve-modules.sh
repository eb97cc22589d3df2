#!/usr/bin/env bash
# resolve-modules.sh MODULES_DIR NAME[?]...: the module files to insmod, dependencies first, one a line.
#
# The images load modules with busybox insmod, which knows nothing of dependencies, so the order is
# decided here at build time: a depth-first walk of `modinfo -F depends` emitting each module after
# its dependencies, keeping the caller's order otherwise. MODULES_DIR is a lib/modules/<release> tree
# (no depmod needed: files are found by name). Names match with '-' and '_' alike. A module built into
# the kernel (modules.builtin) is skipped with a note on stderr; a missing one fails, unless its name
# ends in '?' (optional). Output paths are relative to MODULES_DIR.
set -euo pipefail

if (( $# < 1 )) || [[ ! -d "$1" ]]; then
    echo "usage: resolve-modules.sh MODULES_DIR NAME[?]..." >&2
    exit 2
fi
dir="$1"
shift

say() { printf 'resolve-modules.sh: %s\n' "$*" >&2; }
norm() { local n="${1##*/}"; n="${n%%.ko*}"; printf '%s' "${n//-/_}"; }

declare -A path=() builtin=() state=()
while IFS= read -r rel; do
    path["$(norm "$rel")"]="$rel"
done < <(cd "$dir" && find . -type f \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \) | sed 's|^\./||')
if [[ -f "$dir/modules.builtin" ]]; then
    while IFS= read -r rel; do
        builtin["$(norm "$rel")"]=1
    done < "$dir/modules.builtin"
fi

# Direct dependencies of a module file, comma-separated as modinfo prints them.
depends() {
    local file="$dir/$1" out
    if out="$(modinfo -F depends "$file" 2>/dev/null)"; then
        printf '%s' "$out"
        return
    fi
    # This kmod may lack the file's compression: look at a decompressed copy.
    local tmp
    tmp="$(mktemp --suffix=.ko)"
    case "$file" in
        *.xz) xz -dc "$file" > "$tmp" ;;
        *.zst) zstd -qdc "$file" > "$tmp" ;;
        *.gz) gzip -dc "$file" > "$tmp" ;;
        *) cp "$file" "$tmp" ;;
    esac
    modinfo -F depends "$tmp"
    rm -f "$tmp"
}

visit() {
    local name optional="$2" dep
    name="$(norm "$1")"
    case "${state[$name]:-}" in
        loaded) return ;;
        active) say "dependency cycle through $name"; exit 1 ;;
    esac
    if [[ -z "${path[$name]:-}" ]]; then
        state[$name]=loaded
        if [[ -n "${builtin[$name]:-}" ]]; then
            say "$name is built into the kernel; not loading it"
        elif [[ "$optional" == 1 ]]; then
            say "$name not found; optional, skipped"
        else
            say "$name not found in $dir"
            exit 1
        fi
        return
    fi
    state[$name]=active
    local -a deps=()
    IFS=, read -r -a deps <<< "$(depends "${path[$name]}")"
    for dep in "${deps[@]}"; do
        [[ -n "$dep" ]] && visit "$dep" 0
    done
    state[$name]=loaded
    printf '%s\n' "${path[$name]}"
}

for want in "$@"; do
    if [[ "$want" == *'?' ]]; then
        visit "${want%'?'}" 1
    else
        visit "$want" 0
    fi
done
