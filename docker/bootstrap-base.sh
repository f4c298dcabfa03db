#!/usr/bin/env bash
# Build the base image (default debian:bookworm-slim) from the host's configured
# Debian mirror when no container registry can be reached.
#
# The mirror is read from the host's apt sources, never hard-coded: this keeps the
# project working behind whatever mirror or proxy the machine is set up with.
# Usage: docker/bootstrap-base.sh [IMAGE_TAG]   (env SUITE, default bookworm)
set -euo pipefail

tag=${1:-debian:bookworm-slim}
suite=${SUITE:-bookworm}

log() { printf 'bootstrap-base: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Print "URI SUITE" for every Debian source of the host (deb822 and one-line formats).
host_sources() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        awk '
            /^[[:space:]]*$/ { if (uri && deb) for (i in s) print uri, s[i]; uri=""; deb=0; delete s; next }
            /^Types:/ { deb = ($0 ~ /(^|[[:space:]])deb([[:space:]]|$)/) }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) s[i] = $i }
            END { if (uri && deb) for (i in s) print uri, s[i] }
        ' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '$1 == "deb" { u = $2; if (u ~ /^\[/) u = $3; st = (u == $2) ? $3 : $4; if ($2 ~ /^\[/) st = $4; print u, st }' "$f"
    done
}

sources=$(host_sources | sort -u)
mirror=$(awk -v s="$suite" '$2 == s { print $1; exit }' <<<"$sources")
security=$(awk -v s="$suite-security" '$2 == s { print $1; exit }' <<<"$sources")
[ -n "$mirror" ] || die "no apt source for suite '$suite' in /etc/apt/sources.list{,.d}; configure a Debian mirror on the host"

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

root=$(mktemp -d /tmp/mpws-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
log "debootstrap --variant=minbase $suite from the host's mirror into $root"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -20 "$root.log" >&2; rm -f "$root.log"; die "debootstrap failed"; }
rm -f "$root.log"

# apt sources inside the image: the same mirror (+ security and updates suites when the host has them).
{
    echo "deb $mirror $suite main"
    grep -q " $suite-updates\$" <<<"$sources" && echo "deb $mirror $suite-updates main"
    [ -n "$security" ] && echo "deb $security $suite-security main"
} >"$root/etc/apt/sources.list"
# Slim it the way the official -slim images do: no docs, no man pages, no apt lists.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
CFG
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/man/* "$root"/usr/share/info/*
printf '%s %s\n' "$suite" "$(date -u +%Y-%m-%d)" >"$root/etc/mod_pywebsocket-base"

log "importing as $tag"
tar -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV LANG=C.UTF-8' \
    --message "debootstrap --variant=minbase $suite ($(date -u +%Y-%m-%d))" \
    - "$tag" >/dev/null
log "done: $tag"
