#!/usr/bin/env bash
# Builds the execution environment image hailstorms-ee:latest from execution-environment.yml without
# any registry or Galaxy (make ee):
#   1. the base image hailstorms-testhost:base (scripts/testhosts.sh: Debian 12 by debootstrap);
#   2. romram.hailstorms as `ansible-galaxy collection build` makes it (.cache/ee/collections), and
#      its dependencies as scripts/collections.sh installed them from the pinned `ansible` package
#      (.cache/ee/dependencies; not artifacts: that package leaves out files their FILES.json lists);
#   3. the wheelhouse in .cache/ee/wheels: ansible-core and ansible-runner at the EE's pins, the
#      tools ansible-builder runs in the image, and the collections' Python requirements
#      (`ansible-builder introspect`: Locust at the runtime's pin, the docker SDK, ...);
#   4. the image's ansible.cfg (.cache/ee/config): the project's without its project paths;
#   5. ansible-builder build, every pip install in it offline from that wheelhouse.
# Prints the image's size.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN="$ROOT/.venv/bin"
EE=.cache/ee
IMAGE=$(sed -n 's/^  tags: \[\(.*\)\]$/\1/p' execution-environment.yml)
log() { printf 'ee: %s\n' "$*" >&2; }

scripts/testhosts.sh

log "the collection's tarball in $EE/collections, its dependencies in $EE/dependencies"
rm -rf "$EE/collections" "$EE/build" "$EE/dependencies" "$EE/config"
mkdir -p "$EE/collections" "$EE/build" "$EE/wheels" "$EE/config"
# the image's /etc/ansible/ansible.cfg: this project's, without the paths that are the project's own
sed -e '/^collections_path *=/d' -e '/^inventory *=/d' ansible.cfg >"$EE/config/ansible.cfg"
"$BIN/ansible-galaxy" collection build collections/ansible_collections/romram/hailstorms \
    --output-path "$EE/build" >/dev/null
mv "$EE"/build/romram-hailstorms-*.tar.gz "$EE/collections/romram-hailstorms.tar.gz"
for c in community/docker ansible/posix community/library_inventory_filtering_v1; do
    mkdir -p "$EE/dependencies/ansible_collections/${c%/*}"
    cp -a "collections/ansible_collections/$c" "$EE/dependencies/ansible_collections/$c"
done

# What pip installs inside the build: the EE's ansible-core and ansible-runner, what
# ansible-builder's own steps install (bindep, pyyaml, packaging, dumb-init), the collections'
# requirements; resolved together, for this machine's Python (the base image's: Debian 12's 3.11).
ee_requirements() {
    sed -n 's/^ *package_pip: //p' execution-environment.yml
    printf '%s\n' pip bindep pyyaml packaging dumb-init==1.2.5 setuptools wheel
    "$BIN/ansible-builder" introspect --sanitize collections \
        | awk '/^python:/ {p = 1; next} /^[a-z_]+:/ {p = 0} p' | sed -n "s/^- '\([^ #']*\).*/\1/p"
}
stamp="$EE/wheels/.requirements"
if [ -e "$stamp" ] && cmp -s "$stamp" <(ee_requirements); then
    log "wheelhouse cached"
else
    log "downloading the EE's wheels into $EE/wheels"
    rm -rf "$EE/wheels" && mkdir -p "$EE/wheels"
    "$BIN/pip" download --quiet -d "$EE/wheels" -r <(ee_requirements)
    ee_requirements >"$stamp"
fi

log "building $IMAGE (ansible-builder, offline)"
"$BIN/ansible-builder" build -f execution-environment.yml -c "$EE/context" --container-runtime docker -v 1
log "$IMAGE: $(docker image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1 / 1e6}')"
