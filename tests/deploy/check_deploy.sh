#!/usr/bin/env bash
# Checks that what `cmake --install` puts on a machine stays true: installs the build into a
# throwaway DESTDIR (prefix /usr) and verifies the systemd unit (systemd-analyze verify and an
# exposure threshold), that its paths name the installed files, that sysusers.d/tmpfiles.d apply
# in that root, that the man pages render without warnings and document every configuration
# key, CLI command and option the code has, and that tenderpoold accepts the installed config.
# It writes only below its own temporary directory; systemd-tmpfiles and systemd-sysusers run
# with --root on it, and never with --remove or --clean.
# usage: check_deploy.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=${1:?usage: check_deploy.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: check_deploy.sh SOURCE_DIR BUILD_DIR}
max_exposure=15 # systemd-analyze security, in tenths (1.5); the unit scores 1.2 today

fail() {
    echo "check_deploy: FAIL: $*" >&2
    exit 1
}
ok() { echo "check_deploy: ok: $*"; }

for tool in cmake systemd-analyze systemd-sysusers systemd-tmpfiles groff; do
    command -v "$tool" >/dev/null ||
        fail "$tool not found (Debian: apt-get install systemd groff-base; deploy/quickstart.sh installs them)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tp-deploy.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
root=$work/root

# ---- install ----
if ! DESTDIR=$root cmake --install "$build" --prefix /usr >"$work/install.log" 2>&1; then
    cat "$work/install.log" >&2
    fail "cmake --install failed"
fi
for f in usr/bin/tenderpoold usr/bin/tenderpool usr/libexec/tenderpool/tenderpool-worker \
    usr/lib/sysusers.d/tenderpool.conf usr/lib/tmpfiles.d/tenderpool.conf \
    etc/tenderpool/tenderpoold.conf usr/share/man/man1/tenderpool.1 \
    usr/share/man/man5/tenderpoold.conf.5 usr/share/man/man8/tenderpoold.8 \
    usr/share/doc/tenderpool/tenderpoold.conf.example usr/share/doc/tenderpool/operations.md \
    usr/share/tenderpool/sql/001_intake.sql; do
    [ -e "$root/$f" ] || fail "not installed: /$f"
done
unit=$(find "$root" -path '*/systemd/system/tenderpoold.service' | head -n 1)
[ -n "$unit" ] || fail "tenderpoold.service not installed"
unitdir=$(dirname "${unit#"$root"}")
ok "installed into a DESTDIR (unit in $unitdir)"

# ---- the unit names what was installed ----
value() { sed -n "s/^$1=//p" "$unit"; }
for key in ExecStartPre ExecStart ExecReload; do
    cmd=$(value "$key" | head -n 1)
    [ -n "$cmd" ] || fail "$key= missing from the unit"
    exe=${cmd%% *}
    exe=${exe#[-+@!:]}
    case $exe in /*) ;; *) fail "$key= is not an absolute path: $exe" ;; esac
    if [ "$key" = ExecReload ]; then
        [ -x "$exe" ] || fail "$key=$exe does not exist on this machine"
    else
        [ -x "$root$exe" ] || fail "$key=$exe is not installed"
    fi
done
conf=$(value ExecStart | sed -n 's/.* -c \([^ ]*\).*/\1/p')
[ -n "$conf" ] && [ -f "$root$conf" ] || fail "ExecStart's -c '$conf' is not installed"
worker=$(value Environment | sed -n 's/^TENDERPOOL_WORKER=//p')
[ -n "$worker" ] && [ -x "$root$worker" ] || fail "TENDERPOOL_WORKER='$worker' is not installed"
key_cred=$(value LoadCredential | sed -n 's/^server\.key_secret://p')
[ "$(dirname "$key_cred")" = "$(dirname "$conf")" ] ||
    fail "LoadCredential server.key_secret ($key_cred) is not beside $conf"
ok "ExecStart*, ExecReload, -c, TENDERPOOL_WORKER and LoadCredential name installed paths"

# ---- systemd-analyze verify: the installed root, plus the host's own units (the targets the
# unit's default dependencies pull in) and ExecReload's kill; any message is a failure ----
vroot=$work/vroot
cp -a "$root" "$vroot"
mkdir -p "$vroot/usr/lib/systemd/system"
for d in /lib/systemd/system /usr/lib/systemd/system; do
    [ -d "$d" ] || continue
    find "$d" -maxdepth 1 \( -type f -o -type l \) ! -name 'tenderpoold*' \
        -exec cp -an {} "$vroot/usr/lib/systemd/system/" \; 2>/dev/null || true
done
kill_exe=$(value ExecReload | cut -d' ' -f1)
mkdir -p "$vroot$(dirname "$kill_exe")"
cp "$(readlink -f "$kill_exe")" "$vroot$kill_exe"
if ! MANPATH=$root/usr/share/man systemd-analyze verify --root="$vroot" tenderpoold.service \
    >"$work/verify.log" 2>&1 || [ -s "$work/verify.log" ]; then
    cat "$work/verify.log" >&2
    fail "systemd-analyze verify --root=DESTDIR tenderpoold.service"
fi
ok "systemd-analyze verify: no message"

if ! systemd-analyze security --offline=true --threshold=$max_exposure "$unit" >"$work/security.log" 2>&1; then
    grep -E '✗|Overall' "$work/security.log" >&2 || cat "$work/security.log" >&2
    fail "systemd-analyze security: exposure above $max_exposure/10"
fi
ok "$(grep -o 'Overall exposure level.*' "$work/security.log")"

# ---- the unit's promises that the daemon must keep ----
daemon=$root/usr/bin/tenderpoold
[ "$(value Type)" = notify ] && grep -aq 'READY=1' "$daemon" || fail "Type=notify but tenderpoold sends no READY=1"
if [ -n "$(value WatchdogSec)" ]; then
    grep -aq 'WATCHDOG=1' "$daemon" || fail "WatchdogSec= set but tenderpoold never sends WATCHDOG=1"
fi
grep -q '^RestrictAddressFamilies=.*AF_NETLINK' "$unit" ||
    fail "RestrictAddressFamilies= without AF_NETLINK: libzmq aborts binding tcp:// (getifaddrs)"

# ---- sysusers.d and tmpfiles.d apply in the root ----
systemd-sysusers --root="$root" tenderpool.conf >"$work/sysusers.log" 2>&1 ||
    { cat "$work/sysusers.log" >&2; fail "systemd-sysusers"; }
grep -q '^tenderpool:' "$root/etc/passwd" && grep -q '^tenderpool:' "$root/etc/group" ||
    fail "systemd-sysusers created no tenderpool user and group"
[ "$(value User)" = tenderpool ] || fail "User= is not the sysusers.d user"
if [ "$(id -u)" = 0 ]; then
    systemd-tmpfiles --root="$root" --create tenderpool.conf \
        >"$work/tmpfiles.log" 2>&1 || { cat "$work/tmpfiles.log" >&2; fail "systemd-tmpfiles"; }
    gid=$(awk -F: '$1 == "tenderpool" { print $3 }' "$root/etc/group")
    [ "$(stat -c '%a %u %g' "$root$(dirname "$conf")")" = "750 0 $gid" ] ||
        fail "$(dirname "$conf") is not 0750 root:tenderpool after tmpfiles"
    [ "$(stat -c '%a %u %g' "$root$conf")" = "640 0 $gid" ] ||
        fail "$conf is not 0640 root:tenderpool after tmpfiles"
    ok "sysusers.d and tmpfiles.d: $(dirname "$conf") 0750 root:tenderpool, $conf 0640"
else
    echo "check_deploy: note: not root: systemd-tmpfiles --create not run (it chowns)"
fi

# ---- the installed configuration ----
"$daemon" --check-config -c "$root$conf" >"$work/check.log" 2>&1 ||
    { cat "$work/check.log" >&2; fail "tenderpoold --check-config rejects the installed $conf"; }
grep -q '^secret_key_file = /run/credentials/tenderpoold.service/server.key_secret$' "$root$conf" ||
    fail "$conf does not name the unit's credential as secret_key_file"
rundir=/run/$(value RuntimeDirectory)
for key in endpoint runtime_dir; do # set lines (uncommented) must stay in the RuntimeDirectory
    sed -n "s/^$key = //p" "$root$conf" | while read -r v; do
        case $v in tcp://* | "ipc://$rundir"/* | "$rundir" | "$rundir"/*) ;;
        *) fail "$conf: $key = $v is outside the unit's RuntimeDirectory $rundir" ;;
        esac
    done
done
ok "tenderpoold --check-config accepts the installed $conf"

# ---- man pages: render without warnings, and document what the code has ----
for page in "$root"/usr/share/man/man*/tender*; do
    groff -ww -man -z -Tutf8 "$page" >"$work/groff.log" 2>&1 || true
    [ -s "$work/groff.log" ] && { cat "$work/groff.log" >&2; fail "groff warnings in $(basename "$page")"; }
    if command -v man >/dev/null; then
        MANWIDTH=80 man --warnings -l "$page" >/dev/null 2>"$work/man.log" || true
        [ -s "$work/man.log" ] && { cat "$work/man.log" >&2; fail "man warnings in $(basename "$page")"; }
    fi
done
ok "man pages render without warnings"

# Every key of common/config.c's table, and only those, under its section in tenderpoold.conf(5).
sed -n 's/^ *\(STR\|NUM\|ENUM\)("\([a-z]*\)", "\([a-z_]*\)".*/\2.\3/p' "$src/common/config.c" |
    sort >"$work/keys.code"
[ -s "$work/keys.code" ] || fail "no key found in common/config.c's table (its format changed?)"
awk '/^\.SS \[/ { s = substr($2, 2, length($2) - 2) }
     /^\.BR [a-z_]+ " = / && s != "" { print s "." $2 }' \
    "$src/man/tenderpoold.conf.5" | sort >"$work/keys.man"
diff "$work/keys.code" "$work/keys.man" >"$work/keys.diff" ||
    { sed 's/^</code only:/; s/^>/man only:/' "$work/keys.diff" >&2; fail "tenderpoold.conf.5 and common/config.c differ"; }
while read -r k; do
    grep -q "^#\?${k#*.} =" "$src/deploy/tenderpoold.conf" || fail "deploy/tenderpoold.conf lacks ${k}"
done <"$work/keys.code"
ok "tenderpoold.conf.5 and deploy/tenderpoold.conf: the $(wc -l <"$work/keys.code") keys of common/config.c"

# Every command path (`rounds close-current`, `member add`, ...) and every --option of the CLI's
# usage texts in tenderpool(1).
cli=$root/usr/bin/tenderpool
"$cli" --help >"$work/usage" 2>&1
for c in $(sed -n 's/^  tenderpool \([a-z-]*\).*/\1/p' "$work/usage" | sort -u); do
    "$cli" "$c" >>"$work/usage" 2>&1 || true
done
grep -o 'tenderpool [a-z][a-z-]*\( [a-z][a-z-]*\)*' "$work/usage" | sed 's/^tenderpool //' |
    sort -u >"$work/cmds"
man1=$src/man/tenderpool.1
while read -r c; do
    grep -q "^\.B $(sed 's/-/\\\\-/g' <<<"$c")\( \|\$\)" "$man1" || fail "tenderpool.1 has no entry for 'tenderpool $c'"
done <"$work/cmds"
for o in $(grep -o -- '--[a-z][a-z-]*' "$work/usage" | sort -u); do
    grep -q -- "$(sed 's/-/\\\\-/g' <<<"$o")" "$man1" || fail "tenderpool.1 does not document $o"
done
ok "tenderpool.1: $(wc -l <"$work/cmds") command paths and every --option of the usage texts"
echo "check_deploy: PASS"
