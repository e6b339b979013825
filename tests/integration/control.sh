#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The control socket: usvhostd --control=PATH on a FUSE mount in a temp dir,
# a device kept busy by control_client (a tap named ctl0, 5 TX packets of
# 100 bytes, 3 RX frames of 200, QEMU's "-name guest=ctlvm" on its command
# line), and usvhostctl as a user runs it:
#   * list shows the owner's pid, guest name and tap; stats --json counts exactly the
#     packets and bytes moved; --prometheus is the text exposition format;
#   * trace on FILE records the next ioctls, trace off ends the file;
#   * log-level info silences the per-ioctl debug lines, debug brings them
#     back;
#   * uid nobody is refused (file mode, and the daemon's own SO_PEERCRED
#     check on a socket opened up by hand); a member of --control-group is
#     let in;
#   * control clients that send nothing or 1 MiB of garbage do not delay
#     another control client nor a device's ioctls;
#   * SIGTERM removes the socket.
#
# Environment: as ring-faults.sh (top_builddir, top_srcdir,
# USVHOST_CLIENT_WRAPPER for control_client, USVHOST_DAEMON_WRAPPER,
# USVHOST_TEST_TIMEOUT_SCALE).
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=control.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/control_client
ctl=$top_builddir/src/usvhostctl
log_lines=60
daemon_wrapper=${USVHOST_DAEMON_WRAPPER:-}
# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

[ -x "$ctl" ] || hard_error "$ctl not built"
command -v setpriv >/dev/null 2>&1 || skip "no setpriv(1) (util-linux)"
command -v mkfifo >/dev/null 2>&1 || skip "no mkfifo(1)"
enter_namespaces USVHOST_CONTROL_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------

setup_run control-daemon.log usvhost-control
ip link set lo up 2>/dev/null || true
# nobody must reach the socket's directory to be refused by its mode.
chmod 755 "$work"
sock=$work/ctl.sock
group=4242
out=$work/client.out

usvctl() { timeout -s KILL $((10 * scale)) "$ctl" --control="$sock" "$@"; }

start_daemon --control="$sock" --control-group=$group
[ -S "$sock" ] || fail "no socket at $sock"
mode=$(stat -c '%a %g' "$sock")
[ "$mode" = "660 $group" ] || fail "socket mode and group '$mode', expected '660 $group'"

mkfifo "$work/cmd"
# shellcheck disable=SC2086 # the wrapper is a word list
timeout -s KILL $((120 * scale)) ${USVHOST_CLIENT_WRAPPER:-} "$client" --dev="$mnt/vhost-net" --tap=ctl0 --tx=5 --rx=3 \
	-name guest=ctlvm,debug-threads=on \
	<"$work/cmd" >"$out" 2>&1 &
cpid=$!
exec 3>"$work/cmd"
wait_out '^ready ' || finish
grep -q 'failures=0' "$out" || fail "control_client could not move its packets: $(cat "$out")"
# The owner: control_client itself (cpid is timeout's pid).
opid=$(sed -n 's/^ready pid=\([0-9]*\) .*/\1/p' "$out")
txb=$(sed -n 's/^ready .* tx_bytes=\([0-9]*\) .*/\1/p' "$out")
rxb=$(sed -n 's/^ready .* rx_bytes=\([0-9]*\) .*/\1/p' "$out")

# ---- list ----------------------------------------------------------------
usvctl list >"$work/list" 2>&1 || fail "usvhostctl list failed: $(cat "$work/list")"
echo "$me: usvhostctl list:"
cat "$work/list"
awk -v p="$opid" 'NR > 1 && $2 == p && $4 == "ctlvm" && $6 == "ctl0" && $5 == 0 { f = 1 }
	END { exit !f }' "$work/list" ||
	fail "usvhostctl list shows no device owned by pid $opid (guest ctlvm, uid 0) with tap ctl0"
grep -q 'mmap' "$work/list" || fail "usvhostctl list: memory strategy is not mmap (memfd RAM)"
grep -q 'rx:256/started tx:256/started' "$work/list" ||
	fail "usvhostctl list: rings are not both started with 256 entries"
usvctl list --json | grep -qE "\"pid\": ?$opid," || fail "usvhostctl list --json lacks the owner pid"

# ---- stats -----------------------------------------------------------------
usvctl stats --json --watch --count=1 >"$work/stats.json" ||
	fail "usvhostctl stats --json failed"
for want in \
	"\"index\":0,\"dir\":\"rx\",\"state\":\"running\",\"backend\":\"tap:ctl0\",\"packets\":3,\"bytes\":$rxb," \
	"\"index\":1,\"dir\":\"tx\",\"state\":\"running\",\"backend\":\"tap:ctl0\",\"packets\":5,\"bytes\":$txb," \
	"\"owner\":{\"pid\":$opid,"; do
	grep -qF "$want" "$work/stats.json" || fail "stats --json lacks $want: $(cat "$work/stats.json")"
done
usvctl stats --prometheus >"$work/prom" || fail "usvhostctl stats --prometheus failed"
# Every line a comment (HELP/TYPE) or a sample: name{labels} integer.
bad=$(grep -vE '^# (HELP|TYPE) [a-z_]+ |^[a-z_]+\{([a-z]+="([^"\\]|\\.)*",?)*\} [0-9]+$' "$work/prom")
[ -z "$bad" ] || fail "not the Prometheus text format: $bad"
grep -qF "usvhost_ring_packets_total{device=\"0\",owner=\"$opid\",guest=\"ctlvm\",ring=\"1\",dir=\"tx\"} 5" \
	"$work/prom" || fail "--prometheus lacks the TX packet count: $(head -20 "$work/prom")"
grep -q '^# TYPE usvhost_ring_bytes_total counter$' "$work/prom" ||
	fail "--prometheus lacks the TYPE line of usvhost_ring_bytes_total"
# --watch: a second sample has rates.
echo "tx 20" >&3
usvctl stats --watch=1 --count=2 >"$work/watch" || fail "usvhostctl stats --watch failed"
grep -q 'PKTS/S' "$work/watch" || fail "stats --watch has no rate column"

# ---- trace on / off ----------------------------------------------------------
trace=$work/trace.json
usvctl trace on "$trace" >"$work/tr" 2>&1 || fail "trace on failed: $(cat "$work/tr")"
grep -qF "tracing every ioctl to $trace" "$work/tr" || fail "trace on said: $(cat "$work/tr")"
echo "ioctls 3" >&3
wait_out '^ioctls n=3 ' || finish
n=$(grep -c '"GET_FEATURES"' "$trace")
[ "$n" = 3 ] || fail "the trace holds $n GET_FEATURES records, expected 3"
grep -q '"type":"header"' "$trace" || fail "the trace has no header"
usvctl trace off >/dev/null || fail "trace off failed"
grep -q '"type":"end"' "$trace" || fail "the trace was not ended by trace off"
lines=$(wc -l <"$trace")
echo "ioctls 4" >&3
wait_out '^ioctls n=4 ' || finish
[ "$(wc -l <"$trace")" = "$lines" ] || fail "the trace grew after trace off"
"$top_builddir/src/usvhost-trace" summary "$trace" >/dev/null 2>&1 ||
	fail "usvhost-trace summary cannot read the runtime trace"

# ---- log-level -------------------------------------------------------------
usvctl log-level info | grep -q 'log level debug -> info' || fail "log-level info answer"
before=$(grep -c 'debug: dev 0: GET_FEATURES' "$log")
echo "ioctls 5" >&3
wait_out '^ioctls n=5 ' || finish
[ "$(grep -c 'debug: dev 0: GET_FEATURES' "$log")" = "$before" ] ||
	fail "debug lines still logged after log-level info"
usvctl log-level debug >/dev/null || fail "log-level debug failed"
echo "ioctls 6" >&3
wait_out '^ioctls n=6 ' || finish
[ "$(grep -c 'debug: dev 0: GET_FEATURES' "$log")" -ge $((before + 6)) ] ||
	fail "no debug lines after log-level debug"
usvctl log-level loud >"$work/ll" 2>&1 && fail "log-level loud accepted"
grep -q "unknown level 'loud'" "$work/ll" || fail "log-level loud said: $(cat "$work/ll")"

# ---- who may connect ---------------------------------------------------------
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$ctl" --control="$sock" version >"$work/nobody" 2>&1
rc=$?
{ [ $rc = 1 ] && grep -q 'permission denied' "$work/nobody"; } ||
	fail "nobody: exit $rc, '$(cat "$work/nobody")', expected 1 and permission denied"
setpriv --reuid=nobody --regid=nogroup --groups=$group \
	"$ctl" --control="$sock" version >"$work/member" 2>&1 ||
	fail "a member of group $group was refused: $(cat "$work/member")"
# The daemon's own check: the file opened to all, nobody still refused.
chmod 666 "$sock"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$ctl" --control="$sock" version >"$work/nobody2" 2>&1
rc=$?
{ [ $rc = 1 ] && grep -q 'permission denied' "$work/nobody2"; } ||
	fail "nobody on a 0666 socket: exit $rc, '$(cat "$work/nobody2")'"
grep -q 'control: refused uid 65534' "$log" || fail "the daemon did not log the refusal"
chmod 660 "$sock"
"$ctl" --control="$work/none.sock" version >"$work/absent" 2>&1
rc=$?
{ [ $rc = 1 ] && grep -qF "no usvhostd listening on $work/none.sock" "$work/absent"; } ||
	fail "no daemon: exit $rc, '$(cat "$work/absent")'"

# ---- hostile control clients -------------------------------------------------
echo "hog $sock 4" >&3
wait_out '^hog silent=4 ' || finish
t0=$(date +%s%N)
usvctl version >"$work/ver" || fail "usvhostctl version failed beside hostile clients"
dt=$((($(date +%s%N) - t0) / 1000000))
echo "$me: usvhostctl version took $dt ms beside hostile control clients"
[ "$dt" -lt $((2000 * scale)) ] || fail "usvhostctl version took $dt ms"
grep -q 'usvhostd 0.* (protocol 1, pid' "$work/ver" || fail "version said: $(cat "$work/ver")"
echo "ioctls 200" >&3
wait_out '^ioctls n=200 ' || finish
us=$(sed -n 's/^ioctls n=200 max_us=\([0-9]*\).*/\1/p' "$out")
echo "$me: slowest of 200 GET_FEATURES beside hostile control clients: $us us"
[ "$us" -lt $((100000 * scale)) ] || fail "a device ioctl took $us us beside hostile control clients"

# ---- sockets a daemon refuses -------------------------------------------------
# Each of these daemons stops before it mounts anything.
mkdir "$work/mnt2"
refused() { # WHAT EXPECTED-LOG-TEXT DAEMON-OPTION...
	what=$1 text=$2
	shift 2
	timeout -s KILL $((10 * scale)) "$daemon" --transport=fuse --mount="$work/mnt2" \
		--foreground "$@" 2>"$work/refused.log" </dev/null
	rc=$?
	[ $rc = 1 ] || fail "$what: usvhostd exited $rc, expected 1"
	grep -qF "$text" "$work/refused.log" ||
		fail "$what: the log lacks '$text': $(cat "$work/refused.log")"
}
refused "a second daemon on the same socket" "another usvhostd listens there" \
	--control="$sock"
[ -S "$sock" ] || fail "the second daemon removed the first one's socket"
usvctl version >/dev/null || fail "the first daemon no longer answers"
refused "a socket in the FUSE mount" "inside the FUSE mount" --control="$work/mnt2/ctl.sock"
refused "a socket in a missing directory" "control: cannot listen on" \
	--control="$work/no/such/ctl.sock"

# ---- --help and the manual page say the same ---------------------------------
for opt in $("$ctl" --help | grep -oE -- '--[a-z-]+' | sort -u); do
	grep -qF -- "$(echo "$opt" | sed 's/-/\\-/g')" "$top_srcdir/man/usvhostctl.1" ||
		fail "usvhostctl --help names $opt, man/usvhostctl.1 does not"
done
for cmd in $("$ctl" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p'); do
	grep -qE "^\.B $(echo "$cmd" | sed 's/-/\\\\-/g')( |$)" "$top_srcdir/man/usvhostctl.1" ||
		fail "usvhostctl --help lists command $cmd, man/usvhostctl.1 does not"
done
for opt in --control --control-group; do
	"$daemon" --help | grep -qF -- "$opt=" || fail "usvhostd --help lacks $opt"
	grep -qF -- "$(echo "$opt" | sed 's/-/\\-/g') =" "$top_srcdir/man/usvhostd.8" ||
		fail "man/usvhostd.8 lacks $opt"
done

# ---- the end ---------------------------------------------------------------
echo quit >&3
exec 3>&-
wait $cpid || fail "control_client failed: $(cat "$out")"
stop_daemon
[ -e "$sock" ] && fail "the socket $sock is still there after SIGTERM"
grep -q "control socket $sock (mode 0660)" "$log" || fail "the log does not name the socket"
check_daemon_log 'sanitizer|runtime error|segmentation|assert' \
	"the daemon log reports a crash or sanitizer error"
finish
