# Sourced by scripts/up, scripts/test and .ci/run: what building and testing Tributary needs
# beyond the Rust toolchain, installed the same way everywhere (Debian packages via apt-get,
# with sudo when not root; the package lists are refreshed once if a first try fails).

# debian_install PACKAGE…: installs Debian packages, quietly.
debian_install() {
    local apt_get=(apt-get)
    [ "$(id -u)" = 0 ] || apt_get=(sudo apt-get)
    "${apt_get[@]}" install -y -qq "$@" >/dev/null 2>&1 \
        || { "${apt_get[@]}" update -qq >/dev/null && "${apt_get[@]}" install -y -qq "$@" >/dev/null; }
}

# ensure_build_prerequisites: checks, before anything compiles, what the build of the
# `tributary` binary needs, and installs what is missing: cmake and libcurl's headers (rdkafka
# builds librdkafka from source with them), and Node.js 20+ with npm (the dashboard). Stops with
# a message naming what is missing where it cannot install it.
ensure_build_prerequisites() {
    if ! command -v cargo >/dev/null; then
        echo "cargo is missing: install the Rust toolchain (https://rustup.rs), then run this again" >&2
        return 1
    fi
    if ! command -v cmake >/dev/null || { [ ! -f /usr/include/x86_64-linux-gnu/curl/curl.h ] && [ ! -f /usr/include/curl/curl.h ]; }; then
        echo "==> installing cmake and libcurl4-openssl-dev (Debian), with which librdkafka builds"
        if ! command -v apt-get >/dev/null || ! debian_install cmake libcurl4-openssl-dev; then
            echo "cmake and libcurl's headers are needed to build librdkafka; install them (Debian: cmake libcurl4-openssl-dev)" >&2
            return 1
        fi
    fi
    if ! command -v npm >/dev/null || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
        echo "==> installing Node.js and npm (Debian), with which the dashboard builds"
        if ! command -v apt-get >/dev/null || ! debian_install nodejs npm \
            || ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
            echo "Node.js 20 or newer with npm is needed to build the dashboard; install it, then run this again" >&2
            return 1
        fi
    fi
}
