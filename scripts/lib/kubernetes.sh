# Sourced by scripts/test-k8s: Kubernetes tools from Debian, fetched and built without touching
# the system's apt setup, cached under ~/.cache/tributary/k8s.
#
#   kubectl           Debian trixie's kubectl package (1.32; kustomize built in), unpacked
#   kube-apiserver …  built from Debian bookworm's `kubernetes` source package (1.20.2) with
#                     Debian's golang-go; etcd-server from Debian
#
# A private apt configuration (sources made from the machine's own mirror, its own lists and
# cache, an empty dpkg status) downloads packages and sources; nothing is installed with it.

. "$(dirname "${BASH_SOURCE[0]}")/container.sh"

k8s_cache="${TRIBUTARY_K8S_CACHE:-$HOME/.cache/tributary/k8s}"
k8s_bin="$k8s_cache/bin"
kubernetes_source_version="1.20.2"

# private_apt ARGS…: apt-get with the private configuration (made at the first call).
private_apt() {
    local dir="$k8s_cache/apt" mirror
    if [ ! -f "$dir/sources.list" ]; then
        mirror=$(debian_mirror)
        mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
        : > "$dir/status"
        printf '%s\n' \
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" \
            "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main" \
            > "$dir/sources.list.tmp"
        mv "$dir/sources.list.tmp" "$dir/sources.list"
    fi
    apt-get -qq -o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$dir/lists" -o Dir::State::status="$dir/status" \
        -o Dir::Cache="$dir/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" "$@"
}

private_apt_update() {
    [ -n "$(ls "$k8s_cache/apt/lists/"*Packages* 2>/dev/null)" ] || private_apt update >/dev/null
}

# ensure_kubectl: $k8s_bin/kubectl, from Debian trixie's package.
ensure_kubectl() {
    [ -x "$k8s_bin/kubectl" ] && return 0
    echo "==> fetching kubectl (Debian trixie's package) into $k8s_bin"
    private_apt_update
    local dl
    dl=$(mktemp -d)
    (cd "$dl" && private_apt download kubectl >/dev/null && dpkg-deb -x kubectl_*.deb x)
    mkdir -p "$k8s_bin"
    mv "$dl/x/usr/bin/kubectl" "$k8s_bin/kubectl"
    rm -rf "$dl"
}

# ensure_kube_binaries NAME…: kube-apiserver, kubelet, kube-scheduler, kube-controller-manager
# and kube-proxy as $k8s_bin/NAME, built once from Debian's kubernetes source (about 6 minutes
# for kube-apiserver on 2 cores), with Debian's Go; etcd from Debian's etcd-server.
ensure_kube_binaries() {
    local missing=() name
    for name in "$@"; do [ -x "$k8s_bin/$name" ] || missing+=("$name"); done
    command -v etcd >/dev/null || debian_install etcd-server
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v go >/dev/null || debian_install golang-go
    command -v dpkg-source >/dev/null || debian_install dpkg-dev
    command -v rsync >/dev/null || debian_install rsync
    local src="$k8s_cache/src/kubernetes-$kubernetes_source_version"
    if [ ! -f "$src/Makefile" ]; then
        echo "==> fetching Debian's kubernetes source ($kubernetes_source_version)"
        private_apt_update
        rm -rf "$k8s_cache/src" && mkdir -p "$k8s_cache/src"
        (cd "$k8s_cache/src" && private_apt source --download-only kubernetes >/dev/null \
            && dpkg-source -x kubernetes_*.dsc "kubernetes-$kubernetes_source_version" >/dev/null)
    fi
    echo "==> building ${missing[*]} from Debian's kubernetes source with Debian's Go (kube-apiserver alone: about 6 minutes the first time)"
    local what=()
    for name in "${missing[@]}"; do what+=("cmd/$name"); done
    # As Debian's own build does (debian/rules): GOPATH mode, no cgo.
    mkdir -p "$src/.go/src/k8s.io"
    [ -L "$src/.go/src/k8s.io/kubernetes" ] || ln -s ../../.. "$src/.go/src/k8s.io/kubernetes"
    (cd "$src" && env GOPATH="$src/.go" GOCACHE="$k8s_cache/go-build" CGO_ENABLED=0 \
        make WHAT="${what[*]}" > "$k8s_cache/build.log" 2>&1) \
        || { tail -n 30 "$k8s_cache/build.log" >&2; echo "the Kubernetes build failed; see $k8s_cache/build.log" >&2; return 1; }
    mkdir -p "$k8s_bin"
    for name in "${missing[@]}"; do cp "$src/_output/bin/$name" "$k8s_bin/$name"; done
}
