# Sourced by the launcher and the test runner: installs what building and testing need.
# Debian packages only (the machines reach no other registry).

contrail_build_packages="meson ninja-build pkg-config gcc libevent-dev libjansson-dev libsqlite3-dev
    libzookeeper-mt-dev libxml2-dev libssl-dev librabbitmq-dev"
contrail_test_packages="python3-pytest python3-requests python3-pika zookeeper socat rabbitmq-server
    etcd-server etcd-client busybox ethtool iproute2 gobgpd frr"
# Benchmarks only (bench/control_bench.sh installs them; CI does not run benchmarks).
contrail_bench_packages="bird2 gobgpd linux-perf"

# contrail_install PACKAGE...: installs the packages that are missing, quietly.
contrail_install() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "need root to apt-get install ${missing[*]}" >&2
        return 1
    fi
    if [ -z "${CONTRAIL_APT_UPDATED:-}" ]; then
        apt-get update -qq >&2 || return 1
        export CONTRAIL_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2
}

# contrail_build DIR [MESON OPTIONS...]: configures (once) and builds the tree into DIR.
contrail_build() {
    local dir=$1
    shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >/dev/null || return 1
    fi
    ninja -C "$dir" >/dev/null || ninja -C "$dir"
}
