#!/usr/bin/env bash
# Config-distribution benchmark: how long a create acknowledged by API 1 takes to reach a
# subscriber of API 2's IF-MAP server, and creates/reads per second on etcd against SQLite.
#
# For each object count N in SIZES it starts, fresh, in a private temp directory on loopback:
#   sqlite  one contrail-api on its embedded SQLite store, publishing to its own ifmap-server
#           (the all-in-one default: no RabbitMQ);
#   etcd    a 3-member etcd cluster, two contrail-api servers on it (--config_db etcd:...),
#           RabbitMQ between them, each publishing to its own ifmap-server
#           (the wiring of tests/system/test_config_dist.py);
# and runs bench_dist against each (see bench_dist.c for the phases): the etcd run sends its
# load to both API servers, probes API 1 and subscribes to IF-MAP server 2; the sqlite run
# does the same with its one API server and its one IF-MAP server.  Then it prints one table.
# Every process it starts is killed by PID at exit, also on failure or Ctrl-C.
#
# Environment:
#   SIZES="1000 10000"   objects created before the latency probes (each network also brings
#                        its routing instance into the store)
#   CONNS=4              connections of the create and read phases
#   SAMPLES=200          sequential probes per latency phase
#   LOAD_CONNS=2         connections of background creates in the latency-load phase
#   LOAD_RATE=200        their creates per second, in total
#   TARGETS="sqlite etcd"
#   BENCH_TMPDIR=/tmp    where the databases go
#   BENCH_OUT=FILE       also write the raw RESULT lines to FILE
#   BUILD=DIR            build directory (default build/; an ASan build works too)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
SIZES=${SIZES:-1000 10000}
CONNS=${CONNS:-4}
SAMPLES=${SAMPLES:-200}
LOAD_CONNS=${LOAD_CONNS:-2}
LOAD_RATE=${LOAD_RATE:-200}
TARGETS=${TARGETS:-sqlite etcd}
ETCD=$(command -v etcd || echo /usr/bin/etcd)
RABBIT_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
RABBITMQCTL=/usr/lib/rabbitmq/bin/rabbitmqctl

log() { printf '[bench-dist %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- prerequisites --------------------------------------------------------------------------
if [[ " $TARGETS " == *" etcd "* ]] && { [[ ! -x $ETCD ]] || [[ ! -x $RABBIT_SERVER ]]; }; then
    log "etcd or RabbitMQ missing: installing etcd-server rabbitmq-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq etcd-server rabbitmq-server >/dev/null
    ETCD=$(command -v etcd || echo /usr/bin/etcd)
fi
if [[ ! -d $BUILD ]]; then
    (cd "$ROOT" && meson setup "$BUILD") >&2
fi
ninja -C "$BUILD" bench/bench_dist config/api/contrail-api config/ifmap/ifmap-server >&2
BENCH=$BUILD/bench/bench_dist
API=$BUILD/config/api/contrail-api
IFMAP=$BUILD/config/ifmap/ifmap-server

WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/contrail-bench-dist.XXXXXX")
RESULTS=$WORK/results.txt
: >"$RESULTS"
PIDS=()           # every process started (a session leader each: killed with its group)
RMQ_EPMD_PORT=

kill_pid() {
    local pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill_pid "$pid"
    done
    PIDS=()
}
# epmd daemonizes away from the broker's process group: found by its private port.
stop_epmd() {
    if [[ -n $RMQ_EPMD_PORT ]]; then
        local pid
        for pid in $(ss -Hltnp "sport = :$RMQ_EPMD_PORT" 2>/dev/null |
            grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
            kill -KILL "$pid" 2>/dev/null || true
        done
        RMQ_EPMD_PORT=
    fi
}
cleanup() {
    stop_all
    stop_epmd
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# start LOGFILE COMMAND...: runs COMMAND in a session of its own; its PID goes to LAST_PID.
start() {
    local out=$1
    shift
    setsid "$@" </dev/null >"$out" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

USED_PORTS=" "
# Prints a free TCP port on 127.0.0.1 not handed out before by this script.
pick_port() {
    local p
    for _ in $(seq 500); do
        p=$((20000 + RANDOM % 30000))
        if [[ $USED_PORTS != *" $p "* ]] && ! ss -Htan "sport = :$p" 2>/dev/null | grep -q .; then
            USED_PORTS+="$p "
            echo "$p"
            return
        fi
    done
    log "no free port found"
    exit 1
}
# pick_port cannot record ports when called in $(...): this does it in the caller's shell.
port() {
    local p
    p=$(pick_port)
    USED_PORTS+="$p "
    printf -v "$1" '%s' "$p"
}

# wait_for SECONDS DESCRIPTION PID LOG COMMAND...: polls COMMAND while PID lives.
wait_for() {
    local secs=$1 what=$2 pid=$3 logf=$4
    shift 4
    local deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$what exited while starting; its log:"
            tail -n 30 "$logf" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    log "$what did not come up in $secs s; its log:"
    tail -n 30 "$logf" >&2 || true
    exit 1
}

# start_ifmap DIR: an ifmap-server (HTTPS, self-signed); its port goes to IFMAP_PORT.
start_ifmap() {
    local dir=$1 intro
    mkdir -p "$dir"
    port IFMAP_PORT
    port intro
    start "$dir/stdout.txt" "$IFMAP" --ifmap_listen_ip 127.0.0.1 --ifmap_listen_port "$IFMAP_PORT" \
        --http_server_ip 127.0.0.1 --http_server_port "$intro" --log_file "$dir/ifmap.log" \
        --log_level SYS_WARN
    wait_for 30 ifmap-server "$LAST_PID" "$dir/stdout.txt" \
        curl -sf -o /dev/null "http://127.0.0.1:$intro/"
}

# start_api DIR CONFIG_DB IFMAP_PORT [RABBIT]: a contrail-api; its port goes to API_PORT.
start_api() {
    local dir=$1 db=$2 ifport=$3 rabbit=${4:-} intro
    mkdir -p "$dir"
    port API_PORT
    port intro
    local extra=()
    if [[ -n $rabbit ]]; then extra=(--rabbit_server "$rabbit"); fi
    start "$dir/stdout.txt" "$API" --listen_ip_addr 127.0.0.1 --listen_port "$API_PORT" \
        --http_server_ip 127.0.0.1 --http_server_port "$intro" --config_db "$db" \
        --ifmap_server_ip 127.0.0.1 --ifmap_server_port "$ifport" \
        --log_file "$dir/api.log" --log_level SYS_WARN "${extra[@]}"
    API_LOGS+=("$dir/stdout.txt")
    wait_for 60 contrail-api "$LAST_PID" "$dir/stdout.txt" \
        curl -sf -o /dev/null "http://127.0.0.1:$API_PORT/"
}

# start_etcd DIR: 3 members; the store spec goes to ETCD_SPEC.
start_etcd() {
    local dir=$1 i cluster="" urls=() cports=() pports=() pids=()
    for i in 0 1 2; do
        port "cports[$i]"
        port "pports[$i]"
        cluster+="${cluster:+,}m$i=http://127.0.0.1:${pports[$i]}"
        urls+=("http://127.0.0.1:${cports[$i]}")
    done
    for i in 0 1 2; do
        mkdir -p "$dir/m$i"
        start "$dir/m$i/stdout.txt" "$ETCD" --name "m$i" --data-dir "$dir/m$i/data" \
            --listen-client-urls "${urls[$i]}" --advertise-client-urls "${urls[$i]}" \
            --listen-peer-urls "http://127.0.0.1:${pports[$i]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${pports[$i]}" \
            --initial-cluster "$cluster" --initial-cluster-token "b${pports[0]}" \
            --initial-cluster-state new --max-txn-ops 100000 \
            --max-request-bytes $((64 << 20)) --heartbeat-interval 100 \
            --election-timeout 1000 --logger zap --log-outputs stderr
        pids+=("$LAST_PID")
    done
    ETCD_SPEC="etcd:$(IFS=,; echo "${urls[*]}")"
    for i in 0 1 2; do
        wait_for 30 "etcd member $i" "${pids[$i]}" "$dir/m$i/stdout.txt" \
            etcd_has_leader "${urls[$i]}"
    done
}
etcd_has_leader() {
    curl -sf -X POST -d '{}' "$1/v3/maintenance/status" | grep -q '"leader":"[1-9]'
}

# start_rabbit DIR: a private broker (own HOME, node name, ports, epmd); "host:port" in RABBIT.
start_rabbit() {
    local dir=$1 amqp dist
    mkdir -p "$dir/home"
    echo '[].' >"$dir/enabled_plugins"
    port amqp
    port dist
    port RMQ_EPMD_PORT
    RMQ_ENV=(HOME="$dir/home" RABBITMQ_NODENAME="b$amqp@localhost"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp"
        RABBITMQ_DIST_PORT="$dist" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$RMQ_EPMD_PORT"
        RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
    start "$dir/stdout.txt" env "${RMQ_ENV[@]}" "$RABBIT_SERVER"
    RABBIT=127.0.0.1:$amqp
    RMQ_NODE="b$amqp@localhost"
    wait_for 60 rabbitmq-server "$LAST_PID" "$dir/stdout.txt" \
        env "${RMQ_ENV[@]}" timeout 20 "$RABBITMQCTL" -n "$RMQ_NODE" -q status
}

# run_bench TARGET N DIR ARGS...: bench_dist with ARGS; RESULT lines appended to RESULTS.
run_bench() {
    local target=$1 n=$2 dir=$3
    shift 3
    local t0=$SECONDS
    if ! "$BENCH" --count "$n" --conns "$CONNS" --samples "$SAMPLES" \
        --load-conns "$LOAD_CONNS" --load-rate "$LOAD_RATE" --label "$target" "$@" >"$dir/bench.out" 2>"$dir/bench.err"; then
        log "$target N=$n FAILED:"
        cat "$dir/bench.out" "$dir/bench.err" >&2
        for f in "${API_LOGS[@]}"; do
            log "$f:"
            tail -n 20 "$f" >&2 || true
        done
        exit 1
    fi
    grep -v '^RESULT' "$dir/bench.out" >&2 || true
    grep '^RESULT' "$dir/bench.out" >>"$RESULTS"
    local rss="" pid
    for pid in "${API_PIDS[@]}"; do
        rss+="$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status" 2>/dev/null)MB,"
    done
    echo "SERVER target=$target n=$n api_peak_rss=${rss%,} wall=$((SECONDS - t0))" >>"$RESULTS"
}

run_sqlite() {
    local n=$1 dir=$WORK/sqlite-$1
    API_LOGS=()
    API_PIDS=()
    start_ifmap "$dir/ifmap"
    start_api "$dir/api" "sqlite:$dir/api/config.db" "$IFMAP_PORT"
    API_PIDS+=("$LAST_PID")
    log "sqlite N=$n: bench"
    run_bench sqlite "$n" "$dir" --api "http://127.0.0.1:$API_PORT" --ifmap "127.0.0.1:$IFMAP_PORT"
    stop_all
}

run_etcd() {
    local n=$1 dir=$WORK/etcd-$1 api1 api2
    API_LOGS=()
    API_PIDS=()
    start_etcd "$dir/etcd"
    start_rabbit "$dir/rmq"
    start_ifmap "$dir/ifmap1"
    start_api "$dir/api1" "$ETCD_SPEC" "$IFMAP_PORT" "$RABBIT"
    API_PIDS+=("$LAST_PID")
    api1=$API_PORT
    start_ifmap "$dir/ifmap2"
    start_api "$dir/api2" "$ETCD_SPEC" "$IFMAP_PORT" "$RABBIT"
    API_PIDS+=("$LAST_PID")
    api2=$API_PORT
    log "etcd N=$n: bench (probes on API 1, subscriber on IF-MAP server 2)"
    run_bench etcd "$n" "$dir" --api "http://127.0.0.1:$api1,http://127.0.0.1:$api2" \
        --ifmap "127.0.0.1:$IFMAP_PORT"
    stop_all
    stop_epmd
}

START=$SECONDS
for n in $SIZES; do
    for t in $TARGETS; do
        log "$t N=$n: starting the servers"
        "run_$t" "$n"
    done
done
ELAPSED=$((SECONDS - START))

if [[ -n ${BENCH_OUT:-} ]]; then
    cp "$RESULTS" "$BENCH_OUT"
fi

# --- the table ------------------------------------------------------------------------------
awk -v elapsed="$ELAPSED" -v conns="$CONNS" -v lconns="$LOAD_CONNS" '
function kv(line, key,    m) {
    if (match(line, " " key "=[^ ]*")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
    return ""
}
/^RESULT/ {
    t = kv($0, "label"); ph = kv($0, "phase"); n = kv($0, "n")
    if (ph == "subscriber") next
    if (ph == "conflicts") { conf[t SUBSEP kv($0, "n")] = kv($0, "retried"); next }
    ns[n] = 1; k = t SUBSEP ph SUBSEP n
    rate[k] = kv($0, "ops_per_s"); drain[k] = kv($0, "drain_secs")
    p50[k] = kv($0, "p50_ms"); p90[k] = kv($0, "p90_ms"); p99[k] = kv($0, "p99_ms")
    mx[k] = kv($0, "max_ms"); smp[k] = kv($0, "samples"); lrate[k] = kv($0, "load_ops_per_s")
}
/^SERVER/ {
    k = kv($0, "target") SUBSEP kv($0, "n")
    srv[++nsrv] = sprintf("  %-7s N=%-6s API peak RSS %-14s 409 retries %-6s %4ss", kv($0, "target"), kv($0, "n"),
        kv($0, "api_peak_rss"), (k in conf) ? conf[k] : "-", kv($0, "wall"))
}
function lat(t, ph, n,    k) {
    k = t SUBSEP ph SUBSEP n
    if (!(k in p50)) return sprintf("%-41s", "-")
    return sprintf("%7.2f %7.2f %7.2f %8.2f %5d", p50[k], p90[k], p99[k], mx[k], smp[k])
}
function r(t, ph, n,    k) { k = t SUBSEP ph SUBSEP n; return (k in rate) ? sprintf("%.0f/s", rate[k]) : "-" }
function ratio(ph, n,    a, b) {
    a = "etcd" SUBSEP ph SUBSEP n; b = "sqlite" SUBSEP ph SUBSEP n
    return (a in rate && b in rate && rate[b] > 0) ? sprintf("%.2f", rate[a] / rate[b]) : "-"
}
END {
    m = 0
    for (x in ns) sn[++m] = x + 0
    for (i = 2; i <= m; i++) { v = sn[i]; j = i - 1; while (j > 0 && sn[j] > v) { sn[j + 1] = sn[j]; j-- } sn[j + 1] = v }
    print ""
    print "Latency: create acknowledged by API 1 -> its id-perms delivered to a subscriber of IF-MAP server 2 (ms)"
    printf "%-7s %6s %-13s | %7s %7s %7s %8s %5s | %s\n", "store", "N", "phase", "p50", "p90", "p99", "max", "count", "note"
    print "------------------------------------------------------------------------------------------------"
    for (i = 1; i <= m; i++) {
        n = sn[i]
        split("latency latency-load dist-bulk", phs, " ")
        for (t2 = 1; t2 <= 2; t2++) {
            t = t2 == 1 ? "sqlite" : "etcd"
            for (q = 1; q <= 3; q++) {
                ph = phs[q]; k = t SUBSEP ph SUBSEP n
                if (!(k in p50)) continue
                note = ""
                if (ph == "latency") note = "one create at a time"
                if (ph == "latency-load") note = sprintf("under %.0f creates/s (%d conns)", lrate[k], lconns)
                if (ph == "dist-bulk") note = sprintf("during the create phase (%d conns); drained %.2f s after", conns, drain[t SUBSEP "create" SUBSEP n])
                printf "%-7s %6s %-13s | %s | %s\n", t, n, ph, lat(t, ph, n), note
            }
        }
    }
    print ""
    printf "Throughput (%d connections; etcd: 2 API servers, load split)\n", conns
    printf "%-8s %6s | %12s | %12s | %7s\n", "phase", "N", "sqlite", "etcd", "ratio"
    print "----------------------------------------------------"
    for (i = 1; i <= m; i++) {
        n = sn[i]
        printf "%-8s %6s | %12s | %12s | %7s\n", "create", n, r("sqlite", "create", n), r("etcd", "create", n), ratio("create", n)
        printf "%-8s %6s | %12s | %12s | %7s\n", "read", n, r("sqlite", "read", n), r("etcd", "read", n), ratio("read", n)
    }
    print ""
    print "ratio = etcd / sqlite (> 1: etcd is faster). sqlite: one API server, its own IF-MAP server, no RabbitMQ;"
    print "etcd: 3 etcd members, 2 API servers, RabbitMQ, 2 IF-MAP servers. All on this machine."
    print "\nruns:"
    for (i = 1; i <= nsrv; i++) print srv[i]
    printf "\ntotal run time: %d s\n", elapsed
}' "$RESULTS"
