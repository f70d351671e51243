#!/usr/bin/env bash
# tenderpool quick start: install what is missing, build, and run the demo, the tests or the bench.
#   deploy/quickstart.sh demo    build, start a throwaway PostgreSQL (unless TENDERPOOL_DSN is set),
#                                run the daemon fed by sample member ERPs, close the round, show
#                                its lots and the carried-over requests
#   deploy/quickstart.sh test    build and run the whole test suite (ctest), again in a sanitizer
#                                build (ASan + UBSan), fuzz the ClientMessage decoding and
#                                validation for 60 s (libFuzzer), then the format check
#   deploy/quickstart.sh bench   build and run tenderpool-bench against a throwaway PostgreSQL
# Works on a fresh Debian 12 as root or as a user with sudo.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
state=$top/.tp
shared=${TENDERPOOL_REFDATA:-$top/../shared}

packages=(build-essential cmake pkg-config clang clang-format protobuf-c-compiler protobuf-compiler
          libprotobuf-c-dev libzmq3-dev libpq-dev libcriterion-dev libinih-dev libjansson-dev
          libmicrohttpd-dev libsystemd-dev uthash-dev postgresql postgresql-client
          python3 python3-zmq python3-protobuf python3-jsonschema procps git libclang-rt-14-dev
          systemd groff-base man-db)

say() { printf '\n== %s\n' "$*"; }

install_missing() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing: ${missing[*]}"
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # Debian's postgresql package starts a cluster; tenderpool starts its own throwaway one.
}

build_all() {
    say "building into $build"
    cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j"$(nproc)"
}

# Start the demo's PostgreSQL under .tp/pg unless TENDERPOOL_DSN names one; prints the DSN.
demo_dsn() {
    if [ -n "${TENDERPOOL_DSN:-}" ]; then
        echo "$TENDERPOOL_DSN"
    else
        "$top/tests/support/pgtmp.sh" start "$state/pg" >&2
        cat "$state/pg/dsn"
    fi
}

write_config() { # FILE DSN PORT
    mkdir -p "$state/run"
    cat >"$1" <<CONF
# demo configuration written by deploy/quickstart.sh (see deploy/tenderpoold.conf for every key)
[intake]
endpoint = tcp://127.0.0.1:$3
[control]
endpoint = ipc://$state/run/control
[metrics]
listen = 127.0.0.1:$(($3 + 1))
[database]
dsn = $2
[workers]
count = 2
runtime_dir = $state/run
[rounds]
period = 1w
timezone = Europe/Paris
[security]
mode = none
CONF
}

demo() {
    install_missing
    build_all
    local dsn conf=$state/demo.conf port=55570
    mkdir -p "$state"
    dsn=$(demo_dsn)
    write_config "$conf" "$dsn" "$port"
    if [ -z "${TENDERPOOL_DSN:-}" ]; then # the throwaway server: every demo starts afresh
        psql "$dsn" -q -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS tenderpool CASCADE"
    fi
    say "migrating the schema"
    "$build/tenderpool" migrate -c "$conf"
    if [ -f "$shared/data/cpv2008.csv" ]; then
        "$build/tenderpool" cpv import -c "$conf" "$shared/data/cpv2008.csv"
    else
        echo "reference CPV list not found ($shared/data/cpv2008.csv): importing the demo's sample codes"
        "$build/tenderpool" cpv import -c "$conf" "$top/deploy/demo/cpv-sample.csv"
    fi
    say "starting tenderpoold (log: $state/daemon.log)"
    "$build/tenderpoold" -c "$conf" 2>"$state/daemon.log" &
    local pid=$!
    trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
        kill -0 $pid 2>/dev/null || { cat "$state/daemon.log"; exit 1; }
        sleep 0.1
    done
    local need_by
    need_by=$(date -d '+30 days' +%F)
    mkdir -p "$state/feeds"
    for f in "$top"/deploy/demo/*.csv "$top"/deploy/demo/*.jsonl; do
        case $f in *cpv-sample.csv) continue ;; esac
        sed "s/@NEED_BY@/$need_by/g" "$f" >"$state/feeds/$(basename "$f")"
    done
    for f in "$state"/feeds/*; do
        local member
        member=$(basename "${f%.*}")
        say "member ERP '$member' publishes $(basename "$f")"
        "$build/tenderpool" publish -c "$conf" --member "$member" "$f" || true
    done
    say "stored in PostgreSQL (tenderpool.requests: one row per request, its current revision)"
    psql "$dsn" -P pager=off -c "SELECT member_id, request_ref, revision, state, round_id
                                 FROM tenderpool.requests ORDER BY member_id, request_ref"
    psql "$dsn" -P pager=off -c "SELECT member_id, request_ref, revision, quantity, unit,
                                        base_quantity, server_seq
                                 FROM tenderpool.revision ORDER BY member_id, request_ref, revision"
    say "the coordinator closes the round now (tenderpool rounds close-current)"
    "$build/tenderpool" rounds close-current -c "$conf"
    say "lots of the closed round (tenderpool.lots; viable: at least [pooling] min_members members)"
    psql "$dsn" -P pager=off -c "SELECT l.lot_id, l.cpv, l.cpv_label, l.item_key,
                                        trim_scale(l.total_quantity) AS total, l.base_unit,
                                        l.member_count AS members, l.request_count AS lines,
                                        l.delivery_zone AS zone, l.status
                                 FROM tenderpool.lots l JOIN tenderpool.rounds r USING (round_id)
                                 WHERE r.status = 'closed' ORDER BY l.status DESC, l.cpv"
    say "requests after the close: pooled into a lot, or carried over to the next round"
    psql "$dsn" -P pager=off -c "SELECT member_id, request_ref, state, round_id, lot_id
                                 FROM tenderpool.requests ORDER BY state, member_id, request_ref"
    psql "$dsn" -P pager=off -c "SELECT round_id, opens_at, closes_at, status FROM tenderpool.rounds
                                 ORDER BY opens_at"
    say "stopping tenderpoold (SIGTERM drains: in-flight items are committed and acked first)"
    kill -TERM $pid
    wait $pid && echo "tenderpoold exited 0"
    trap - EXIT
    echo
    echo "The demo's PostgreSQL keeps running under $state/pg; stop it with:"
    echo "  $top/tests/support/pgtmp.sh stop $state/pg"
}

format_check() {
    say "format check (clang-format)"
    local bad=0
    while IFS= read -r f; do
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f"; bad=1; }
    done < <(cd "$top" && git ls-files '*.c' '*.h' 2>/dev/null | sed "s#^#$top/#")
    [ $bad = 0 ] && echo "all C sources formatted"
    return $bad
}

# libFuzzer over decode + validation of a ClientMessage (tests/fuzz), in build-fuzz/ (clang,
# ASan + UBSan), from the seed corpus written at build time; any crash, leak, sanitizer report
# or broken invariant fails the command and leaves the input in build-fuzz/tests/fuzz/artifacts.
fuzz_client_message() {
    local fb=$top/build-fuzz seconds=${TP_FUZZ_SECONDS:-60}
    local dir=$fb/tests/fuzz
    say "fuzzing ClientMessage decode + validation for ${seconds}s (libFuzzer, build-fuzz/)"
    CC=clang cmake -S "$top" -B "$fb" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTP_FUZZ=ON \
        -DTP_TESTS=OFF >/dev/null
    cmake --build "$fb" -j"$(nproc)" --target fuzz_client_message fuzz_seeds
    mkdir -p "$dir/corpus" "$dir/artifacts"
    "$dir/fuzz_client_message" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -dict="$top/tests/fuzz/client_message.dict" \
        -artifact_prefix="$dir/artifacts/" "$dir/corpus" "$dir/seeds" 2>"$dir/fuzz.log" || {
        tail -n 60 "$dir/fuzz.log"
        echo "the fuzzer found a problem: $dir/fuzz.log, input in $dir/artifacts/"
        return 1
    }
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::)' "$dir/fuzz.log" || true
}

run_tests() {
    install_missing
    build_all
    say "test suite (ctest; it starts its own PostgreSQL under $build/tests/pg)"
    (cd "$build" && ctest --output-on-failure --timeout 600)
    say "the same suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
    cmake -S "$top" -B "$top/build-asan" -DCMAKE_BUILD_TYPE=Debug -DTP_SANITIZE=ON >/dev/null
    cmake --build "$top/build-asan" -j"$(nproc)"
    (cd "$top/build-asan" && ctest --output-on-failure --timeout 600)
    fuzz_client_message
    format_check
}

bench() {
    install_missing
    build_all
    mkdir -p "$state"
    local dsn
    dsn=$(demo_dsn)
    "$build/tenderpool-bench" --dsn "$dsn" "$@"
}

case ${1:-} in
demo) demo ;;
test) run_tests ;;
bench) shift; bench "$@" ;;
*) echo "usage: $0 demo|test|bench [bench options]" >&2; exit 2 ;;
esac
