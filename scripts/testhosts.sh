#!/usr/bin/env bash
# Sets up what the molecule scenarios need on this machine, idempotently (cached parts are reused):
#   1. Debian's docker engine (started in the background if it is not running);
#   2. the image hailstorms-testhost:base, built from Debian packages with debootstrap (no registry),
#      and the images of the other distributions molecule/sudo adds as load hosts: Debian 11
#      (hailstorms-testhost:bullseye, python3 3.9 only: preflight's refusal) and Ubuntu 22.04
#      (hailstorms-testhost:jammy, python3 3.10 and python3.11 from jammy-updates universe: the
#      interpreter preflight finds and provision uses);
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
IMAGE_BULLSEYE=hailstorms-testhost:bullseye
IMAGE_JAMMY=hailstorms-testhost:jammy
ROOTFS=/var/tmp/hs-rootfs
CACHE="$ROOT/.cache"
RUNTIME_REQS="$ROOT/collections/ansible_collections/romram/hailstorms/runtime/requirements.txt"
TEST_REQS="$ROOT/requirements.txt"
PACKAGES=systemd,systemd-sysv,dbus,openssh-server,python3,python3-venv,sudo,iproute2,ca-certificates,procps,curl
UBUNTU_MIRROR=http://archive.ubuntu.com/ubuntu
# the .deb of Ubuntu's archive keys (not in Debian's archive), checked against the fingerprint of
# "Ubuntu Archive Automatic Signing Key (2018)", which signs jammy
UBUNTU_KEYRING_DEB=$UBUNTU_MIRROR/pool/main/u/ubuntu-keyring/ubuntu-keyring_2021.03.26_all.deb
UBUNTU_KEY=F6ECB3762474EDA9D21B7022871920D1991BC93C

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

# build_image IMAGE SUITE MIRROR [KEYRING [COMPONENTS [PACKAGES_AFTER [SOURCES_LINE]]]]: a systemd host image
# of a distribution release from its packages (debootstrap, minbase), then PACKAGES_AFTER installed from
# SOURCES_LINE (an archive debootstrap cannot take, such as jammy-updates universe).
build_image() {
    local image=$1 suite=$2 mirror=$3 keyring=${4:-} components=${5:-} after=${6:-} sources=${7:-} rootfs="$ROOTFS-$2"
    if docker image inspect "$image" >/dev/null 2>&1; then log "image $image cached"; return 0; fi
    log "building $image with debootstrap ($suite from $mirror, one to three minutes)"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$PACKAGES" ${keyring:+--keyring="$keyring"} \
        ${components:+--components="$components"} "$suite" "$rootfs" "$mirror" \
        >"$CACHE/debootstrap-$suite.log" 2>&1 || { tail -20 "$CACHE/debootstrap-$suite.log" >&2; return 1; }
    if [ -n "$after" ]; then
        echo "$sources" >"$rootfs/etc/apt/sources.list.d/after.list"
        cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
        chroot "$rootfs" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $after" \
            >>"$CACHE/debootstrap-$suite.log" 2>&1 || { tail -20 "$CACHE/debootstrap-$suite.log" >&2; return 1; }
        : >"$rootfs/etc/resolv.conf"
    fi
    # smaller image (vfs copies it whole per container); an empty machine-id is filled at boot.
    # (docker import cannot set STOPSIGNAL: containers are stopped with SIGRTMIN+3 by their runner)
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    : >"$rootfs/etc/machine-id"
    tar -C "$rootfs" -c . | docker import \
        --change 'CMD ["/lib/systemd/systemd"]' - "$image" >/dev/null
    rm -rf "$rootfs"
    log "image $image built"
}

ubuntu_keyring() {
    local keyring="$CACHE/ubuntu-archive-keyring.gpg" unpacked="$CACHE/ubuntu-keyring"
    if [ ! -s "$keyring" ]; then
        rm -rf "$unpacked" && mkdir -p "$unpacked"
        curl -fsS "$UBUNTU_KEYRING_DEB" -o "$unpacked/keyring.deb" && dpkg-deb -x "$unpacked/keyring.deb" "$unpacked"
        gpg --show-keys --with-colons "$unpacked/usr/share/keyrings/ubuntu-archive-keyring.gpg" 2>/dev/null \
            | grep -qx "fpr:::::::::$UBUNTU_KEY:" || { log "the Ubuntu keyring does not hold key $UBUNTU_KEY"; return 1; }
        cp "$unpacked/usr/share/keyrings/ubuntu-archive-keyring.gpg" "$keyring"
    fi
    echo "$keyring"
}

build_images() {
    local mirror keyring="" pids=() status=0 pid
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    if ! docker image inspect "$IMAGE" "$IMAGE_BULLSEYE" "$IMAGE_JAMMY" >/dev/null 2>&1 \
            && ! command -v debootstrap >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
    fi
    docker image inspect "$IMAGE_JAMMY" >/dev/null 2>&1 || keyring=$(ubuntu_keyring)
    # the three images at once (each its own rootfs and log): the longest, not the sum
    build_image "$IMAGE" bookworm "$mirror" & pids+=($!)
    build_image "$IMAGE_BULLSEYE" bullseye "$mirror" & pids+=($!)
    if [ -n "$keyring" ]; then
        build_image "$IMAGE_JAMMY" jammy "$UBUNTU_MIRROR" "$keyring" main,universe "python3.11 python3.11-venv" \
            "deb $UBUNTU_MIRROR jammy-updates main universe" & pids+=($!)
    else
        log "image $IMAGE_JAMMY cached"
    fi
    for pid in "${pids[@]}"; do
        wait "$pid" || status=1
    done
    return "$status"
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
    build_images
    "$ROOT/scripts/collections.sh"
    fill_wheelhouse
}

main "$@"
