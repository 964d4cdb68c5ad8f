#!/usr/bin/env bash
# BGP ingestion benchmark: contrail-control against BIRD 2 and GoBGP (bench/control_bench.py).
#
# Installs the peers when they are missing (bird2, gobgpd, and linux-perf for --perf: the
# bench-only list of tools/deps.sh), builds the tree into build/ (meson setup on first use),
# then runs control_bench.py with the arguments given, for example:
#   bash bench/control_bench.sh                         # 100k x3 and 1M x1, about 2 minutes
#   bash bench/control_bench.sh --sizes 100k --reps 5
#   bash bench/control_bench.sh --sizes 1M --receivers control --perf /tmp/prof --control-memory
# Run as root when a package is missing (apt-get); the receivers run as the invoking user.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tools/deps.sh
. "$ROOT/tools/deps.sh"
# shellcheck disable=SC2086
contrail_install $contrail_bench_packages
contrail_build "$ROOT/build"
exec /usr/bin/python3 "$ROOT/bench/control_bench.py" --build "$ROOT/build" "$@"
