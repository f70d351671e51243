#!/usr/bin/env bash
# Instructions per request in each intake stage: callgrind on tenderpoold and its workers during tenderpool-bench.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bench/callgrind-stages.sh [options] BUILD_DIR
       bench/callgrind-stages.sh --analyze OUT_DIR [--src SOURCE_DIR]

Runs BUILD_DIR/tenderpool-bench (small workload) with the first tenderpoold it starts, and
that daemon's workers, under valgrind --tool=callgrind, then prints a markdown table of the
instructions per request in each stage (decode, validate, route, persist, pool, ack, libzmq,
other, process start/exit) for the supervisor and the workers. BUILD_DIR must hold
tenderpoold, tenderpool-worker, tenderpool and tenderpool-bench built by the project's CMake
(Release or RelWithDebInfo: the mapping needs symbols and line tables).

Only the daemon of the ingest and latency phases is profiled: it serves the readiness
StatusQueries, the --requests ingest requests (batches of 100) and one single-request latency
message, then drains and exits. The later phases (round-close data set, restart, close) run
unprofiled with 30 requests.

  --requests N     ingest requests (default 100000)
  --out DIR        where callgrind files, the bench output and the table go
                   (default: ./callgrind-stages.YYYYmmdd-HHMMSS)
  --dsn DSN        database for tenderpool-bench (default: the bench starts a throwaway
                   PostgreSQL; never a database with real data: the bench truncates it)
  --src DIR        source tree the binaries were built from (default: CMAKE_HOME_DIRECTORY
                   of BUILD_DIR/CMakeCache.txt); the stage mapping reads its .c files
  --analyze DIR    only (re)compute the table from the files of an earlier run in DIR
  -h, --help       this help

Needs valgrind (callgrind) and python3. About a minute for 300,000 requests here.
EOF
}

requests=100000
out=""
dsn=""
src=""
analyze=""
build=""
while [ $# -gt 0 ]; do
    case $1 in
    --requests) requests=${2:?--requests needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    --dsn) dsn=${2:?--dsn needs a value}; shift 2 ;;
    --src) src=${2:?--src needs a value}; shift 2 ;;
    --analyze) analyze=${2:?--analyze needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "callgrind-stages: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$build" ] || { usage >&2; exit 2; }; build=$1; shift ;;
    esac
done
case $requests in '' | *[!0-9]*) echo "callgrind-stages: --requests must be a number" >&2; exit 2 ;; esac
command -v python3 >/dev/null || { echo "callgrind-stages: python3 is required" >&2; exit 2; }

if [ -n "$analyze" ]; then
    out=$(cd "$analyze" && pwd)
    [ -n "$src" ] || src=$(cat "$out/source-dir" 2>/dev/null || true)
else
    [ -n "$build" ] || { usage >&2; exit 2; }
    command -v valgrind >/dev/null || { echo "callgrind-stages: valgrind is required" >&2; exit 2; }
    build=$(cd "$build" && pwd)
    for b in tenderpoold tenderpool-worker tenderpool tenderpool-bench; do
        [ -x "$build/$b" ] || { echo "callgrind-stages: $build/$b not found (build it first)" >&2; exit 2; }
    done
    if [ -z "$src" ]; then
        src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
    fi
    [ -n "$out" ] || out=./callgrind-stages.$(date +%Y%m%d-%H%M%S)
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    if compgen -G "$out/callgrind.*" >/dev/null; then
        echo "callgrind-stages: $out already holds callgrind files: use another --out" >&2
        exit 2
    fi
    echo "$src" >"$out/source-dir"
    wrap=$out/wrap
    mkdir -p "$wrap"
    # The bench runs BIN/tenderpoold and sets TENDERPOOL_WORKER=BIN/tenderpool-worker. Only the
    # first daemon (ingest + latency) and the workers it forks are profiled.
    cat >"$wrap/tenderpoold" <<EOF
#!/usr/bin/env bash
if mkdir '$out/.first-daemon' 2>/dev/null; then
    echo \$\$ >'$out/daemon.pid'
    echo \$\$ >>'$out/pids'
    exec valgrind --tool=callgrind --callgrind-out-file='$out/callgrind.%p.tenderpoold' \\
        --log-file='$out/valgrind.%p.log' '$build/tenderpoold' "\$@"
fi
exec '$build/tenderpoold' "\$@"
EOF
    cat >"$wrap/tenderpool-worker" <<EOF
#!/usr/bin/env bash
if [ "\$PPID" = "\$(cat '$out/daemon.pid' 2>/dev/null)" ]; then
    echo \$\$ >>'$out/pids'
    exec valgrind --tool=callgrind --callgrind-out-file='$out/callgrind.%p.tenderpool-worker' \\
        --log-file='$out/valgrind.%p.log' '$build/tenderpool-worker' "\$@"
fi
exec '$build/tenderpool-worker' "\$@"
EOF
    chmod +x "$wrap/tenderpoold" "$wrap/tenderpool-worker"
    ln -sf "$build/tenderpool" "$wrap/tenderpool"
    args=(--quick --bin "$wrap" --requests "$requests" --latency-rate 1 --latency-seconds 1
        --close-requests 30 --close-lots 10)
    [ -z "$dsn" ] || args+=(--dsn "$dsn")
    echo "callgrind-stages: $build/tenderpool-bench ${args[*]}" | tee "$out/bench.cmd" >&2
    rc=0
    "$build/tenderpool-bench" "${args[@]}" >"$out/bench.txt" 2>&1 || rc=$?
    # callgrind writes its file when the process exits: wait for the profiled ones
    for pid in $(cat "$out/pids" 2>/dev/null); do
        for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    if [ "$rc" != 0 ]; then
        tail -n 30 "$out/bench.txt" >&2
        echo "callgrind-stages: tenderpool-bench failed (status $rc); output in $out/bench.txt" >&2
        exit 1
    fi
    rm -rf "$wrap" "$out/.first-daemon"
fi
[ -n "$src" ] && [ -d "$src" ] || { echo "callgrind-stages: source tree unknown: pass --src" >&2; exit 2; }

python3 - "$out" "$(cd "$src" && pwd)" <<'PY'
"""Callgrind files -> instructions per request per stage.

Every cost of the profiled processes goes to exactly one row. Costs are located by source
line, so a static function the compiler inlined is still told apart from its caller. Own code
(common/, workers/, daemon/) is either ASSIGNED to a stage (its own instructions plus
everything it calls that is not itself assigned) or transparent (counted in whichever assigned
function called it: shared helpers such as the hash, malloc wrappers, the request index).
Calls into libzmq from any assigned function, and libzmq's I/O threads, form the libzmq row.
What runs outside main() (dynamic loader, libc start and exit) joins 'start/exit'.
"""
import collections, json, os, re, sys

out, src = sys.argv[1], sys.argv[2]
OWN = tuple(os.path.join(src, d) + '/' for d in ('common', 'workers', 'daemon'))
STAGES = ['decode', 'validate', 'route', 'persist', 'pool', 'ack', 'zmq', 'other', 'start']
LABEL = {
    'decode': 'decode (protobuf-c unpack, NUL check, freeing the decoded message)',
    'validate': 'validate (fields, units, decimals, content hash, decide against the index)',
    'route': 'route (split by (member, ref), pending table, forward to the workers)',
    'persist': 'persist (COPY encoding, libpq, commit handling)',
    'pool': 'pool (aggregate after commit)',
    'ack': 'ack (reply encode and send; supervisor: decode and merge worker acks, reply)',
    'zmq': 'libzmq (every call into libzmq, and its I/O threads)',
    'other': 'other (event loops, timers, heartbeats, status queries)',
    'start': 'process start and exit (fixed cost, spread over the run)',
}
# Functions assigned to a stage, as 'file: names; file: names' (paths under the source tree);
# every other own function is transparent.
ASSIGN = {
    'tenderpool-worker': {
        'decode': 'common/wire.c: tp_wire_nul_fields tp_wire_batch_items tp_wire_envelope_nul; '
                  'workers/intake.c: decode_owned',
        'validate': 'workers/intake.c: tp_worker_handle_batch fill_validate_ctx '
                    'tp_worker_refresh_round accept_item content_hash hash_field decide group_add '
                    'apply_write older_revision reject_item; common/validate.c: tp_validate_envelope',
        'persist': 'workers/intake.c: tp_worker_maybe_commit tp_worker_gather_us '
                   'tp_worker_encode_item ensure_rounds '
                   'tp_worker_commit_done tp_worker_undo_group tp_worker_fail_group '
                   'tp_worker_fail_all; workers/worker.c: on_db_ready; workers/store.c: '
                   'tp_store_commit_begin tp_store_commit_poll tp_store_idle tp_store_next_seq '
                   'tp_store_ensure_round tp_store_revision_lookup; workers/isolate.c: '
                   'tp_worker_isolate',
        'pool': 'workers/pooling.c: tp_worker_pool_committed tp_worker_pool_prefetch',
        'ack': 'workers/intake.c: reply_new echo_ref tp_worker_reply_set reply_send reply_free '
               'resolve_ok group_resolve_ok group_reset; workers/worker.c: tp_worker_send',
        'other': 'workers/worker.c: tp_worker_run on_sup_message on_signal send_heartbeat '
                 'open_round_row refresh_cpv idle reload_config; workers/close.c: '
                 'tp_worker_close_tick tp_worker_close_progress tp_worker_handle_control '
                 'tp_worker_handle_close; workers/status.c: tp_worker_handle_status send_reply',
        'start': 'workers/main.c: main; workers/worker.c: setup db_retry db_connect '
                 'tp_worker_reload_state load_cpv load_open_round',
    },
    'tenderpoold': {
        'decode': 'common/wire.c: tp_wire_batch_items tp_wire_envelope_route; daemon/route.c: '
                  'pending_batch',
        'route': 'daemon/route.c: tp_route_client_message route_batch route_status send_worker '
                 'route_plain dispatch admit pending_batch_new '
                 'pending_new fail_part own_ack refuse_message drain_frames; '
                 'common/ipc.c: tp_route_worker tp_route_worker_n; daemon/ratelimit.c: tp_rate_take',
        'ack': 'daemon/route.c: tp_route_worker_message on_worker_answer merge_part '
               'pending_complete pending_find pending_free send_batch_ack send_server_message '
               'send_client',
        'other': 'daemon/supervisor.c: tp_supervisor_run poll_once drain_socket on_signals '
                 'check_heartbeats notify_status drain_step start_drain wait_workers_ready; '
                 'daemon/metrics.c: tp_metrics_publish; daemon/auth.c: tp_auth_tick tp_auth_zap; '
                 'daemon/workerproc.c: tp_wproc_restart_due tp_wproc_reap; daemon/control.c: '
                 'tp_control_message',
        'start': 'daemon/main.c: main; daemon/supervisor.c: setup_signals setup_worker_socket '
                 'setup_intake mkdir_p shutdown_all; daemon/workerproc.c: tp_wproc_spawn; '
                 'daemon/control.c: tp_control_setup; daemon/metrics.c: tp_metrics_start',
    },
}
# (caller, callee) pairs that go to another stage than the caller's: the protobuf-c decode and
# free, and the arena the decoded message lives in (the arena functions are shared, so they are
# not assigned to a stage themselves).
DEC = 'tenderpool__v1__client_message__'
ARENA = 'common/arena.c:tp_arena_'
ARC = {
    'tenderpool-worker': {
        ('workers/intake.c:' + caller, callee): 'decode'
        for caller, callee in [('tp_worker_handle_batch', DEC + 'unpack'),
                               ('tp_worker_handle_batch', ARENA + 'init'),
                               ('tp_worker_handle_batch', ARENA + 'pb'),
                               ('reply_free', DEC + 'free_unpacked'),
                               ('reply_free', ARENA + 'release')]
    },
    'tenderpoold': {
        ('daemon/route.c:' + caller, callee): 'decode'
        for caller in ['tp_route_client_message', 'route_batch', 'route_status', 'pending_free']
        for callee in [DEC + 'unpack', DEC + 'free_unpacked', ARENA + 'init', ARENA + 'pb',
                       ARENA + 'release']
    },
}
# Call counts reported next to the table: (caller or None, callee).
COUNTS = {
    'tenderpool-worker': [('envelopes validated', 'tp_validate_envelope'),
                          ('batch parts decoded', 'tp_worker_handle_batch'),
                          ('status queries', 'tp_worker_handle_status'),
                          ('group commits', 'tp_store_commit_begin'),
                          ('lots created', 'agg_new')],
    'tenderpoold': [('client messages', 'tp_route_client_message'),
                    ('worker answers', 'on_worker_answer')],
}


def source_functions(path, cache={}):
    """[(first line, last line, name)] of the function definitions of a C file (clang-format
    layout: the body's braces alone in column 0)."""
    if path in cache:
        return cache[path]
    ranges = []
    try:
        lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
    except OSError:
        lines = []
    i = 0
    while i < len(lines):
        if lines[i] == '{':
            j = i - 1
            while j >= 0 and not (lines[j][:1] not in ('', ' ', '\t', '#', '/', '*', '}')
                                  and '(' in lines[j]):
                j -= 1
            m = re.search(r'(\w+)\s*\(', lines[j]) if j >= 0 else None
            k = i + 1
            while k < len(lines) and lines[k] != '}':
                k += 1
            if m:
                ranges.append((j + 1, k + 1, m.group(1)))
            i = k
        i += 1
    cache[path] = ranges
    return ranges


def norm(fn):
    fn = re.sub(r"'\d+$", '', fn)                                  # callgrind recursion level
    return re.sub(r'\.(isra|part|constprop|cold)\b.*$', '', fn)    # gcc clones


def rel(path):
    return path[len(src) + 1:]


def parse(path):
    """Self costs keyed by location (own source function 'file:name' or None, physical function
    'file:name' or name), call arcs keyed by (caller location, callee name, callee file or None,
    callee object); the own physical functions, name -> files."""
    names = {'fl': {}, 'fn': {}, 'ob': {}}

    def uname(kind, s):
        m = re.match(r'^\((\d+)\)\s*(.*)$', s.strip())
        if not m:
            return s.strip()
        if m.group(2):
            names[kind][m.group(1)] = m.group(2)
        return names[kind][m.group(1)]

    where = {}
    own_syms = collections.defaultdict(set)

    def locate(file, line, fl, fn):
        key = (file, line, fl, fn)
        r = where.get(key)
        if r is None:
            own_phys = fl.startswith(OWN)
            phys = rel(fl) + ':' + norm(fn) if own_phys else norm(fn)
            s = None
            if file.startswith(OWN):
                for a, b, n in source_functions(file):
                    if a <= line <= b:
                        s = rel(file) + ':' + n
                        break
                s = s or (phys if own_phys else None)
            elif own_phys:
                s = phys  # a libc or compiler header inlined into own code
            if own_phys:
                own_syms[norm(fn)].add(rel(fl))
            r = where[key] = (s, phys)
        return r

    selfc = collections.Counter()
    arcs = collections.Counter()
    ncalls = collections.Counter()
    total = 0
    ob = fl = file = fn = ''
    cob = cfile = cfn = None
    pending = 0
    cur = 0
    with open(path, encoding='utf-8', errors='replace') as f:
        for raw in f:
            c0 = raw[:1]
            if c0.isdigit() or c0 in '+-*':
                parts = raw.split()
                p = parts[0]
                if c0 == '+':
                    cur += int(p[1:])
                elif c0 == '-':
                    cur -= int(p[1:])
                elif c0 != '*':
                    cur = int(p, 0)
                v = int(parts[1]) if len(parts) > 1 else 0
                loc = locate(file, cur, fl, fn)
                if pending:
                    # no cfi/cfl: the callee is in the caller's file (same object only), which
                    # tells apart static functions of the same name in two files
                    cf = cfile if cfile is not None else (fl if cob is None or cob == ob else None)
                    key = (loc, norm(cfn), cf, cob if cob is not None else ob)
                    arcs[key] += v
                    ncalls[key] += pending
                    pending = 0
                    cob = cfile = None
                else:
                    selfc[loc] += v
                    total += v
                continue
            k, eq, rest = raw.rstrip('\n').partition('=')
            if not eq:
                continue
            if k == 'fn':
                fn = uname('fn', rest)
            elif k == 'fl':
                fl = file = uname('fl', rest)
            elif k in ('fi', 'fe'):
                file = uname('fl', rest)
            elif k == 'ob':
                ob = uname('ob', rest)
            elif k == 'cob':
                cob = uname('ob', rest)
            elif k in ('cfi', 'cfl'):
                cfile = uname('fl', rest)
            elif k == 'cfn':
                cfn = uname('fn', rest)
            elif k == 'calls':
                pending = int(rest.split()[0])
            elif k == 'jfi':
                uname('fl', rest)
            elif k == 'jfn':
                uname('fn', rest)
    # callee identity: 'file:name' for own code (its file as callgrind names it, else the only
    # own file defining that name), else the bare name
    out_arcs = collections.Counter()
    out_calls = collections.Counter()
    for (loc, callee, cfile, cob), v in arcs.items():
        if cfile and cfile.startswith(OWN) and cfile.endswith('.c'):
            cid = rel(cfile) + ':' + callee
        elif len(own_syms.get(callee, ())) == 1:
            cid = next(iter(own_syms[callee])) + ':' + callee
        else:
            cid = callee
        out_arcs[(loc, cid, cob)] += v
        out_calls[(loc, cid, cob)] += ncalls[(loc, callee, cfile, cob)]
    return selfc, out_arcs, out_calls, total


def attribute(kind, path):
    stage_of = {}
    for st, spec in ASSIGN[kind].items():
        for part in spec.split(';'):
            file, _, fns = part.partition(':')
            for n in fns.split():
                stage_of[file.strip() + ':' + n] = st
    arcmap = ARC[kind]
    selfc, arcs, ncalls, total = parse(path)
    cost = collections.Counter()
    warn = collections.Counter()

    def owner(loc):
        s, phys = loc
        if s is None:
            return None           # foreign code: counted in the arc that called it
        if s in stage_of:
            return s
        if phys in stage_of:
            return phys           # transparent code inlined into an assigned function
        return None               # transparent: counted in the arc that called it

    for loc, v in selfc.items():
        o = owner(loc)
        if o:
            cost[stage_of[o]] += v
    into_main = threads = 0
    for (loc, callee, cob), v in arcs.items():
        if callee.endswith(':main'):
            into_main += v
        if loc[0] is None and loc[1] == 'start_thread':
            threads += v  # libzmq's I/O threads (the only threads of these processes)
        o = owner(loc)
        if callee in stage_of:
            if not o and not callee.endswith(':main'):
                warn['%s calls assigned %s' % (loc[0] or loc[1], callee)] += v
            continue              # the callee counts itself
        if not o or loc[0] == callee:
            continue              # recursion: already inside this cost
        if 'libzmq' in (cob or ''):
            cost['zmq'] += v
        elif (o, callee) in arcmap:
            cost[arcmap[(o, callee)]] += v
        else:
            cost[stage_of[o]] += v
    cost['zmq'] += threads
    attributed = sum(cost.values())
    outside = total - into_main - threads
    cost['start'] += outside
    counts = {}
    for label, callee in COUNTS[kind]:
        counts[label] = sum(n for (loc, c, cob), n in ncalls.items()
                            if c.endswith(':' + callee))
    return dict(cost=cost, total=total, check=total - attributed - outside,
                warn={k: v for k, v in warn.items() if v > total // 10000}, counts=counts)


files = sorted(f for f in os.listdir(out) if f.startswith('callgrind.'))
if not files:
    sys.exit('callgrind-stages: no callgrind files in %s' % out)
res = {'tenderpoold': [], 'tenderpool-worker': []}
for f in files:
    kind = f.split('.', 2)[2]
    res[kind].append(attribute(kind, os.path.join(out, f)))

bench = open(os.path.join(out, 'bench.txt'), encoding='utf-8', errors='replace').read()
m = re.search(r'^BENCH_JSON (.*)$', bench, re.M)
bj = json.loads(m.group(1)) if m else {}
lat = re.search(r'latency statuses: accepted (\d+)', bench)
ingest = int(bj.get('ingest_accepted', 0))
latency = int(lat.group(1)) if lat else 0
nreq = ingest + latency
if nreq <= 0:
    sys.exit('callgrind-stages: no accepted requests in %s/bench.txt' % out)


def summed(kind):
    c = collections.Counter()
    counts = collections.Counter()
    for r in res[kind]:
        c.update(r['cost'])
        counts.update(r['counts'])
        for w, v in r['warn'].items():
            print('callgrind-stages: warning (%s): %s: %d Ir counted twice' % (kind, w, v),
                  file=sys.stderr)
        if abs(r['check']) > r['total'] // 1000:
            print('callgrind-stages: warning (%s): %d Ir unattributed' % (kind, r['check']),
                  file=sys.stderr)
    return c, counts, sum(r['total'] for r in res[kind])


sup, supn, suptot = summed('tenderpoold')
wrk, wrkn, wrktot = summed('tenderpool-worker')
lines = []
P = lines.append
P('| stage | supervisor | workers | total | share |')
P('|---|---:|---:|---:|---:|')
grand = (suptot + wrktot) / nreq


def fmt(x):
    return '{:,.0f}'.format(x) if x else '-'


for st in STAGES:
    s, w = sup[st] / nreq, wrk[st] / nreq
    if not s and not w:
        continue
    P('| %s | %s | %s | %s | %.1f %% |' % (LABEL[st], fmt(s), fmt(w), fmt(s + w),
                                          100 * (s + w) / grand))
P('| **total** | **%s** | **%s** | **%s** | 100 %% |' % (fmt(suptot / nreq), fmt(wrktot / nreq),
                                                       fmt(grand)))
P('')
P('Instructions (Ir) per request = process totals / %d requests (%d ingest + %d latency-phase, '
  'accepted per the bench); %d supervisor and %d worker profiles; %d envelopes validated, %d '
  'batch parts decoded, %d group commits, %d lots created (pool aggregates), %d status queries '
  '(readiness probes) in the workers; %d client messages in the supervisor.' % (
      nreq, ingest, latency, len(res['tenderpoold']), len(res['tenderpool-worker']),
      wrkn['envelopes validated'], wrkn['batch parts decoded'], wrkn['group commits'],
      wrkn['lots created'], wrkn['status queries'], supn['client messages']))
table = '\n'.join(lines)
print(table)
with open(os.path.join(out, 'stages.md'), 'w') as f:
    f.write(table + '\n')
with open(os.path.join(out, 'stages.json'), 'w') as f:
    json.dump({'requests': nreq, 'ingest': ingest, 'latency': latency,
               'supervisor': dict(sup), 'workers': dict(wrk), 'supervisor_total': suptot,
               'workers_total': wrktot, 'worker_counts': dict(wrkn),
               'supervisor_counts': dict(supn)}, f, indent=1)
PY
