# Sourced by scripts/image and scripts/test-container: a Docker engine of Tributary's own and the
# Debian base image that Tributary's container image is built on.
#
# No image registry needs to be reachable: the base image is a minimal Debian root made with
# debootstrap from the mirror that this machine's apt is configured with (read from apt's own
# sources, so no host name is written into the repository) and loaded with `docker import`.
# Docker is Debian's `docker.io`; its engine runs with its own data root and socket and no
# bridge or iptables rules (containers use the host's network, so everything stays on loopback
# unless told otherwise). Needs root (or sudo) to start the engine and to run debootstrap.

. "$(dirname "${BASH_SOURCE[0]}")/prerequisites.sh"

# Where the engine keeps its images and state, and its socket.
tributary_docker_root="${TRIBUTARY_DOCKER_ROOT:-$HOME/.cache/tributary/docker}"
tributary_docker_run="${TRIBUTARY_DOCKER_RUN:-/run/tributary-docker}"
# The Debian release of the base image: the host's own (its glibc is the one a binary built
# on this machine links against).
tributary_debian_suite="${TRIBUTARY_DEBIAN_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}"
tributary_base_image="tributary-base:$tributary_debian_suite"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# docker …: Debian's client, which matches Debian's engine (another client may be first on PATH).
docker() { /usr/bin/docker "$@"; }

# ensure_docker: installs docker.io if needed, starts the engine if it is not answering, and
# exports DOCKER_HOST and DOCKER_BUILDKIT for the commands that follow.
ensure_docker() {
    export DOCKER_HOST="unix://$tributary_docker_run/docker.sock" DOCKER_BUILDKIT=1
    if [ ! -x /usr/sbin/dockerd ] || [ ! -x /usr/bin/docker ]; then
        echo "==> installing Docker (Debian's docker.io)"
        debian_install docker.io
    fi
    docker info >/dev/null 2>&1 && return 0
    echo "==> starting a Docker engine of Tributary's own (data in $tributary_docker_root, socket in $tributary_docker_run)"
    as_root mkdir -p "$tributary_docker_root" "$tributary_docker_run"
    as_root sh -c "nohup /usr/sbin/dockerd --data-root '$tributary_docker_root/data' \
        --exec-root '$tributary_docker_run/exec' --pidfile '$tributary_docker_run/dockerd.pid' \
        --host '$DOCKER_HOST' --bridge=none --iptables=false --ip6tables=false \
        > '$tributary_docker_root/dockerd.log' 2>&1 &"
    for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "the Docker engine did not start; see $tributary_docker_root/dockerd.log" >&2
    return 1
}

# debian_mirror: prints the URI of the Debian archive that apt on this machine uses (deb822
# .sources files or one-line .list files; the security archive is skipped).
debian_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' | grep -v -- '-security' | grep '/debian/\?$' | head -1)
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
            | grep -v -- '-security' | grep '/debian/\?$' | head -1)
    fi
    [ -n "$uri" ] || { echo "no Debian archive found in apt's sources (/etc/apt)" >&2; return 1; }
    echo "$uri"
}

# ensure_base_image: makes tributary-base:<suite> once (debootstrap's minbase variant plus
# ca-certificates, apt's sources the host's own, no manuals, translations or package lists) and keeps
# the root's tarball in ~/.cache/tributary/images so that a new engine only re-imports it.
ensure_base_image() {
    docker image inspect "$tributary_base_image" >/dev/null 2>&1 && return 0
    local cache="$HOME/.cache/tributary/images" tarball mirror rootfs
    tarball="$cache/debian-$tributary_debian_suite-minbase.tar"
    if [ ! -s "$tarball" ]; then
        command -v debootstrap >/dev/null || debian_install debootstrap
        mirror=$(debian_mirror)
        rootfs=$(mktemp -d "${TMPDIR:-/tmp}/tributary-rootfs.XXXXXX")
        mkdir -p "$cache"
        echo "==> making the base image's root with debootstrap ($tributary_debian_suite, minbase, from $mirror; about 2 minutes)"
        as_root debootstrap --variant=minbase --include=ca-certificates "$tributary_debian_suite" "$rootfs" "$mirror" \
            > "$cache/debootstrap.log" 2>&1 \
            || { echo "debootstrap failed; see $cache/debootstrap.log" >&2; as_root rm -rf "$rootfs"; return 1; }
        # apt inside the image uses what the host's apt uses (same suites, updates and security).
        if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
            as_root rm -f "$rootfs/etc/apt/sources.list"
            grep -l -F "$mirror" /etc/apt/sources.list.d/*.sources | while read -r f; do as_root cp "$f" "$rootfs/etc/apt/sources.list.d/"; done
        fi
        # Package lists, caches, manuals and translations go (a third of the root); the packages'
        # copyright files stay.
        as_root sh -c "cd '$rootfs' && rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb \
            usr/share/man/* usr/share/info/* usr/share/locale/* usr/share/lintian var/log/*.log \
            && find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete"
        as_root tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
        as_root mv "$tarball.tmp" "$tarball"
        as_root rm -rf "$rootfs"
    fi
    echo "==> importing $tributary_base_image"
    docker import --change 'CMD ["/bin/bash"]' "$tarball" "$tributary_base_image" >/dev/null
}
