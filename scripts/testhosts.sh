#!/usr/bin/env bash
# Sets up what the molecule scenarios need on this machine, idempotently (cached parts are reused):
#   1. Debian's docker engine (started in the background if it is not running);
#   2. the image hailstorms-testhost:base, built from Debian packages with debootstrap (no registry);
#   3. community.docker and ansible.posix (scripts/collections.sh);
#   4. a wheelhouse of the load hosts' pinned packages in .cache/wheelhouse (test hosts have no
#      internet: the provision role pushes these wheels and installs them offline), with the
#      extra packages the scenarios install (hailstorm_pip_packages): the lines of requirements.txt
#      tagged `# hailstorm_pip_packages`, resolved together with the runtime's pins.
# Usage: scripts/testhosts.sh [--check]   (--check: exit 0 if a docker engine can be used, else 1)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIP=${PIP:-"$ROOT/.venv/bin/pip"}
IMAGE=hailstorms-testhost:base
ROOTFS=/var/tmp/hs-rootfs
CACHE="$ROOT/.cache"
RUNTIME_REQS="$ROOT/collections/ansible_collections/romram/hailstorms/runtime/requirements.txt"
TEST_REQS="$ROOT/requirements.txt"
PACKAGES=systemd,systemd-sysv,dbus,openssh-server,python3,python3-venv,sudo,iproute2,ca-certificates,procps,curl

log() { printf 'testhosts: %s\n' "$*" >&2; }

start_docker() {
    if docker info >/dev/null 2>&1; then return 0; fi
    if ! command -v dockerd >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            log "installing docker.io and debootstrap"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
        else
            log "no docker engine and cannot install one"; return 1
        fi
    fi
    log "starting dockerd (vfs storage, no iptables), log in /var/log/hs-dockerd.log"
    # setsid: the engine must outlive this script and the job control of its caller
    setsid dockerd --storage-driver=vfs --iptables=false --pidfile=/run/hs-dockerd.pid \
        >/var/log/hs-dockerd.log 2>&1 </dev/null 9>&- &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
    log "dockerd did not answer within 60 s; see /var/log/hs-dockerd.log"; return 1
}

build_image() {
    if docker image inspect "$IMAGE" >/dev/null 2>&1; then log "image $IMAGE cached"; return 0; fi
    command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    local mirror
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    log "building $IMAGE with debootstrap from $mirror (about a minute)"
    rm -rf "$ROOTFS"
    debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOTFS" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; return 1; }
    # smaller image (vfs copies it whole per container); an empty machine-id is filled at boot.
    # (docker import cannot set STOPSIGNAL: containers are stopped with SIGRTMIN+3 by their runner)
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
        "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/locale/*
    : >"$ROOTFS/etc/machine-id"
    tar -C "$ROOTFS" -c . | docker import \
        --change 'CMD ["/lib/systemd/systemd"]' - "$IMAGE" >/dev/null
    rm -rf "$ROOTFS"
    log "image $IMAGE built"
}

# The requirements of the test hosts' packages: the runtime's pins, then the tagged lines of
# requirements.txt (the molecule scenarios read their hailstorm_pip_packages from the same lines).
wheelhouse_requirements() {
    cat "$RUNTIME_REQS"
    sed -n 's/^\([^#[:space:]][^#[:space:]]*\)[[:space:]]*#[[:space:]]*hailstorm_pip_packages[[:space:]]*$/\1/p' "$TEST_REQS"
}

fill_wheelhouse() {
    local stamp="$CACHE/wheelhouse/.requirements"
    if [ -e "$stamp" ] && cmp -s "$stamp" <(wheelhouse_requirements); then log "wheelhouse cached"; return 0; fi
    log "downloading the load hosts' wheels into .cache/wheelhouse"
    mkdir -p "$CACHE/wheelhouse"
    "$PIP" download --quiet -r <(wheelhouse_requirements) -d "$CACHE/wheelhouse"
    wheelhouse_requirements >"$stamp"
}

main() {
    mkdir -p "$CACHE"
    if [ "${1:-}" = --check ]; then start_docker; return; fi
    exec 9>/var/tmp/hs-testhosts.lck
    flock 9
    start_docker
    build_image
    "$ROOT/scripts/collections.sh"
    fill_wheelhouse
}

main "$@"
