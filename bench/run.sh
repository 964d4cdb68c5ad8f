#!/usr/bin/env bash
# Config-store benchmark: contrail-api against OVN's northbound ovsdb-server, side by side.
#
# For each object count N in BENCH_SIZES and each connection count C in BENCH_CONNS, starts a
# fresh contrail-api (SQLite store) and a fresh standalone ovsdb-server (OVN_Northbound), runs
# the same phases against each with bench_api, then prints one table with both figures and the
# ratio contrail-api / ovsdb (> 1: contrail-api is faster).  ovsdb is measured durable (each
# write transaction ends with {"op":"commit","durable":true}: fsync before the reply, as our API
# does) and, for the write phases, not durable (the ceiling to chase with group commit).
#
# Environment:
#   BENCH_SIZES="10000 100000"   object counts
#   BENCH_CONNS="1 4"            concurrent connections, one request in flight on each
#   BENCH_LARGE_CONNS="1"        connection counts for N > BENCH_LARGE_N (default 10000); the
#                                full matrix (BENCH_LARGE_CONNS="1 4") takes about 16 min on a
#                                2-vCPU machine, the default about 11-12 min
#   BENCH_TARGETS="api ovsdb ovsdb-nd"   which targets to run
#   BENCH_PHASES="create-vn,read-vn,update-vn,list-vn,create-port,list-port"
#   BENCH_ND_PHASES="create-vn,update-vn,create-port"   phases re-run on non-durable ovsdb
#   BENCH_ND_MAX_N=10000         largest N at which the non-durable ovsdb runs create-port
#                                (at 100k its cost is the switch's growing ports set: CPU-bound,
#                                as slow as the durable run (761/s against 729/s measured), and
#                                about 130 s per run; raise it to measure that anyway)
#   BENCH_LIST_REPS=3            requests per list phase (median reported)
#   BENCH_TMPDIR=/tmp            where the databases go (same disk for both targets)
#   BENCH_OUT=FILE               also write the raw RESULT lines to FILE
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
SIZES=${BENCH_SIZES:-10000 100000}
CONNS=${BENCH_CONNS:-1 4}
LARGE_CONNS=${BENCH_LARGE_CONNS:-1}
LARGE_N=${BENCH_LARGE_N:-10000}
TARGETS=${BENCH_TARGETS:-api ovsdb ovsdb-nd}
PHASES=${BENCH_PHASES:-create-vn,read-vn,update-vn,list-vn,create-port,list-port}
ND_PHASES=${BENCH_ND_PHASES:-create-vn,update-vn,create-port}
ND_MAX_N=${BENCH_ND_MAX_N:-10000}
LIST_REPS=${BENCH_LIST_REPS:-3}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- prerequisites --------------------------------------------------------------------------
if [[ " $TARGETS " == *" ovsdb"* ]] && ! command -v ovsdb-server >/dev/null; then
    log "ovsdb-server missing: installing ovn-central"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq ovn-central >/dev/null
fi
OVN_SCHEMA=/usr/share/ovn/ovn-nb.ovsschema

if [[ ! -d $BUILD ]]; then
    (cd "$ROOT" && meson setup build) >&2
fi
ninja -C "$BUILD" >&2
BENCH=$BUILD/bench/bench_api
API=$BUILD/config/api/contrail-api
if [[ " $TARGETS " == *" api "* && ! -x $API ]]; then
    log "error: $API was not built (set BENCH_TARGETS=\"ovsdb ovsdb-nd\" to run the peer alone)"
    exit 1
fi

WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/contrail-bench.XXXXXX")
SERVER_PID=
RESULTS=$WORK/results.txt
: >"$RESULTS"

stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
# Prints a free TCP port on 127.0.0.1 (the caller binds it soon after).
pick_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 30000))
        if port_free "$p" && ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
            echo "$p"
            return
        fi
    done
    log "no free port found"
    exit 1
}

# wait_for DESCRIPTION COMMAND...: polls COMMAND for up to 30 s while the server lives.
wait_for() {
    local what=$1
    shift
    for _ in $(seq 300); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$what exited while starting; its log:"
            tail -n 30 "$SERVER_LOG" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    log "$what did not come up in 30 s; its log:"
    tail -n 30 "$SERVER_LOG" >&2 || true
    exit 1
}

start_ovsdb() {
    local dir=$1
    mkdir -p "$dir"
    ovsdb-tool create "$dir/nb.db" "$OVN_SCHEMA"
    OVSDB_PORT=$(pick_port)
    SERVER_LOG=$dir/ovsdb-server.log
    ovsdb-server "$dir/nb.db" --remote="ptcp:$OVSDB_PORT:127.0.0.1" \
        --unixctl="$dir/ovsdb-server.ctl" --no-chdir --log-file="$SERVER_LOG" \
        -vconsole:off >/dev/null 2>&1 &
    SERVER_PID=$!
    wait_for ovsdb-server ovsdb-client list-dbs "tcp:127.0.0.1:$OVSDB_PORT"
}

start_api() {
    local dir=$1
    mkdir -p "$dir"
    API_PORT=$(pick_port)
    local intro_port
    intro_port=$(pick_port)
    while [[ $intro_port == "$API_PORT" ]]; do intro_port=$(pick_port); done
    SERVER_LOG=$dir/contrail-api.log
    "$API" --listen_ip_addr 127.0.0.1 --listen_port "$API_PORT" \
        --http_server_port "$intro_port" --config_db "sqlite:$dir/config.db" \
        --log_level SYS_WARN >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    wait_for contrail-api curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/"
}

# run_target TARGET N C: a fresh server, the phases, the server stopped.
run_target() {
    local target=$1 n=$2 c=$3 dir=$WORK/$1-$2-$3 url phases durable=1
    case $target in
    api)
        start_api "$dir"
        url=http://127.0.0.1:$API_PORT
        phases=$PHASES
        ;;
    ovsdb)
        start_ovsdb "$dir"
        url=tcp:127.0.0.1:$OVSDB_PORT
        phases=$PHASES
        ;;
    ovsdb-nd)
        start_ovsdb "$dir"
        url=tcp:127.0.0.1:$OVSDB_PORT
        durable=0
        phases=$ND_PHASES
        if ((n > ND_MAX_N)); then
            phases=$(tr , '\n' <<<"$phases" | grep -vx create-port | paste -sd, -)
        fi
        ;;
    esac
    if [[ -z $phases ]]; then
        stop_server
        return
    fi
    log "$target N=$n conns=$c: $phases"
    local t0=$SECONDS
    if ! "$BENCH" --target "$url" --count "$n" --conns "$c" --durable "$durable" \
        --list-reps "$LIST_REPS" --phases "$phases" --label "$target" \
        >"$dir/bench.out" 2>"$dir/bench.err"; then
        log "$target N=$n conns=$c FAILED:"
        cat "$dir/bench.err" >&2
        log "server log:"
        tail -n 30 "$SERVER_LOG" >&2 || true
        exit 1
    fi
    grep -v '^RESULT' "$dir/bench.out" >&2 || true
    grep '^RESULT' "$dir/bench.out" >>"$RESULTS"
    local rss=-
    if [[ -r /proc/$SERVER_PID/status ]]; then
        rss=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    fi
    echo "SERVER target=$target n=$n conns=$c peak_rss_kb=$rss db_bytes=$(du -sb "$dir" | cut -f1) wall=$((SECONDS - t0))" >>"$RESULTS"
    stop_server
}

START=$SECONDS
for n in $SIZES; do
    conns=$CONNS
    if ((n > LARGE_N)); then conns=$LARGE_CONNS; fi
    for c in $conns; do
        for t in $TARGETS; do
            run_target "$t" "$n" "$c"
        done
    done
done
ELAPSED=$((SECONDS - START))

if [[ -n ${BENCH_OUT:-} ]]; then
    cp "$RESULTS" "$BENCH_OUT"
fi

# --- the table ------------------------------------------------------------------------------
awk -v elapsed="$ELAPSED" '
function kv(line, key,    m) {
    if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    return ""
}
function rate(k) { return (k in ops) ? sprintf("%.0f/s", ops[k]) : "-" }
function lst(k) { return (k in secs) ? sprintf("%.3f s %.1fMB", secs[k], bytes[k] / 1e6) : "-" }
/^RESULT/ {
    k = kv($0, "target") SUBSEP kv($0, "phase") SUBSEP kv($0, "n") SUBSEP kv($0, "conns")
    key[kv($0, "phase") SUBSEP kv($0, "n") SUBSEP kv($0, "conns")] = 1
    ops[k] = kv($0, "ops_per_s"); secs[k] = kv($0, "secs"); bytes[k] = kv($0, "bytes")
    if (kv($0, "phase") ~ /^list/) delete ops[k]; else delete secs[k]
    if (kv($0, "http_reconnects") + 0 > 0) reconnects += kv($0, "http_reconnects")
}
/^SERVER/ {
    srv[++nsrv] = sprintf("  %-9s N=%-7s conns=%-3s peak RSS %7.1f MB   on disk %7.1f MB   %4ss",
        kv($0, "target"), kv($0, "n"), kv($0, "conns"), kv($0, "peak_rss_kb") / 1024,
        kv($0, "db_bytes") / 1e6, kv($0, "wall"))
}
END {
    order["create-vn"] = 1; order["read-vn"] = 2; order["update-vn"] = 3; order["list-vn"] = 4
    order["create-port"] = 5; order["list-port"] = 6
    m = 0
    for (x in key) { split(x, p, SUBSEP); sk[++m] = sprintf("%09d %03d %03d", p[2], p[3], order[p[1]]); orig[sk[m]] = x }
    # sort keys: N, conns, phase order
    for (i = 2; i <= m; i++) { v = sk[i]; j = i - 1; while (j > 0 && sk[j] > v) { sk[j + 1] = sk[j]; j-- } sk[j + 1] = v }
    printf "\n%-12s %7s %5s | %16s | %16s | %7s | %16s | %7s\n", "phase", "N", "conns",
        "contrail-api", "ovsdb durable", "ratio", "ovsdb no-fsync", "ratio"
    printf "%s\n", "-------------------------------------------------------------------------------------------------------"
    for (i = 1; i <= m; i++) {
        split(orig[sk[i]], p, SUBSEP)
        a = "api" SUBSEP orig[sk[i]]; d = "ovsdb" SUBSEP orig[sk[i]]; nd = "ovsdb-nd" SUBSEP orig[sk[i]]
        if (p[1] ~ /^list/) {
            r1 = (a in secs && d in secs && secs[a] > 0) ? sprintf("%.2f", secs[d] / secs[a]) : "-"
            printf "%-12s %7s %5s | %16s | %16s | %7s | %16s | %7s\n", p[1], p[2], p[3], lst(a), lst(d), r1, "-", "-"
        } else {
            r1 = (a in ops && d in ops && ops[d] > 0) ? sprintf("%.2f", ops[a] / ops[d]) : "-"
            r2 = (a in ops && nd in ops && ops[nd] > 0) ? sprintf("%.2f", ops[a] / ops[nd]) : "-"
            printf "%-12s %7s %5s | %16s | %16s | %7s | %16s | %7s\n", p[1], p[2], p[3], rate(a), rate(d), r1, rate(nd), r2
        }
    }
    print ""
    print "ratio = contrail-api / ovsdb (> 1: contrail-api is faster); lists: ovsdb seconds / api seconds."
    print "create-port: one port = VMI + instance-ip (2 HTTP requests) vs one ovsdb transaction."
    if (reconnects > 0) printf "WARNING: %d HTTP connections were closed by the server (keep-alive broken)\n", reconnects
    print "\nservers:"
    for (i = 1; i <= nsrv; i++) print srv[i]
    printf "\ntotal run time: %d s\n", elapsed
}' "$RESULTS"
