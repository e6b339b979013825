#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: readiness and stop notification for systemd (Type=notify).
# notify_listen serves the notification socket as systemd does; usvhostd runs
# on the FUSE front with NOTIFY_SOCKET pointing at it, once with a socket path
# and once with an abstract name (@...), and must:
#  * send READY=1 (with a STATUS= line naming the served file) from its own
#    pid (no fork, as Type=notify with NotifyAccess=main needs), only once
#    the file exists and its capabilities are dropped to the serving set
#    (its log says it dropped them before it notified; the listener sees
#    the reduced set and the file when the message arrives);
#  * serve an open of the file at that point;
#  * send STOPPING=1 at SIGTERM and exit 0.
# Then, without NOTIFY_SOCKET, nothing changes (no notification line logged).
#
# Runs inside private mount and network namespaces (daemon-lib.sh).
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=notify.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/notify_listen

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

enter_namespaces USVHOST_NOTIFY_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------

setup_run notify-daemon.log usvhost-notify
lpid=
# The daemon keeps CAP_SYS_PTRACE (19) and CAP_DAC_OVERRIDE (1) effective,
# or fewer if we lack them; CAP_SYS_ADMIN (21) only when io_uring needs it.
want_eff=$(( (1 << 19 | 1 << 1) & 0x$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status) ))
admin=$((1 << 21))

one_run() { # SOCKET-NAME LABEL
	out=$work/listen-$2.out
	: >"$out"
	"$client" "$1" "$mnt/vhost-net" $((30 * scale)) >"$out" 2>&1 &
	lpid=$!
	end=$(($(now) + 5 * scale))
	until grep -q '^listening' "$out"; do
		[ "$(now)" -le "$end" ] || { fail "$2: notify_listen did not start"; cat "$out"; return; }
		sleep 0.05
	done
	NOTIFY_SOCKET=$1
	export NOTIFY_SOCKET
	start_daemon
	unset NOTIFY_SOCKET
	end=$(($(now) + 10 * scale))
	until grep -q 'READY=1' "$out"; do
		[ "$(now)" -le "$end" ] || break
		sleep 0.05
	done
	ready=$(grep 'READY=1' "$out")
	echo "$me: $2: $ready"
	if [ -z "$ready" ]; then
		fail "$2: no READY=1 within $((10 * scale)) s of the mount"
	else
		case "$ready" in
		*" pid=$dpid "*) ;;
		*) fail "$2: READY=1 not from usvhostd's own pid $dpid (forked?): $ready" ;;
		esac
		case "$ready" in
		*" node=present "*) ;;
		*) fail "$2: READY=1 arrived before $mnt/vhost-net existed" ;;
		esac
		case "$ready" in
		*"STATUS=serving $mnt/vhost-net"*) ;;
		*) fail "$2: READY=1 without STATUS=serving $mnt/vhost-net" ;;
		esac
		eff=$(echo "$ready" | sed -n 's/.* capeff=\([0-9a-f]*\):.*/\1/p')
		if [ -z "$eff" ] || [ $((0x$eff & ~admin)) -ne "$want_eff" ]; then
			fail "$2: at READY=1 the daemon's effective set was '$eff', expected" \
			     "$(printf '%x' "$want_eff") (privileges not yet dropped?)"
		fi
		[ "$(grep -c 'READY=1' "$out")" -eq 1 ] || fail "$2: READY=1 sent more than once"
	fi
	# Ready means served: an open answers now.
	# shellcheck disable=SC2016 # $1 is the inner shell's
	timeout -s KILL $((5 * scale)) sh -c ': <>"$1"' sh "$mnt/vhost-net" ||
		fail "$2: cannot open $mnt/vhost-net after READY=1"
	stop_daemon
	end=$(($(now) + 5 * scale))
	while kill -0 "$lpid" 2>/dev/null && [ "$(now)" -le "$end" ]; do
		sleep 0.05
	done
	if kill -0 "$lpid" 2>/dev/null; then
		kill "$lpid"
		fail "$2: no STOPPING=1 after SIGTERM"
	fi
	wait "$lpid"
	lrc=$?
	lpid=
	stopping=$(grep 'STOPPING=1' "$out")
	echo "$me: $2: $stopping"
	if [ "$lrc" -ne 0 ] || [ -z "$stopping" ]; then
		fail "$2: notify_listen exited $lrc without STOPPING=1"
	fi
	# The daemon's own log is in order (one thread until then): READY=1 was
	# sent after the privileges were dropped and the datapath started.
	drop=$(grep -n 'privileges dropped' "$log" | head -n 1 | cut -d: -f1)
	told=$(grep -n 'told the service manager we are ready' "$log" | head -n 1 | cut -d: -f1)
	if [ -z "$told" ]; then
		fail "$2: the daemon did not log its readiness notification"
	elif [ -z "$drop" ] || [ "$told" -lt "$drop" ]; then
		fail "$2: READY=1 was sent before the privileges were dropped (log lines $told, ${drop:-none})"
	fi
	if grep -q 'cannot start the datapath' "$log"; then
		fail "$2: the datapath did not start"
	fi
	cat "$out"
}

one_run "$work/notify.sock" path
one_run "@usvhost-notify-test-$$" abstract

# Without NOTIFY_SOCKET: no notification, as before.
start_daemon
stop_daemon
check_daemon_log 'service manager' "without NOTIFY_SOCKET the daemon still spoke of a service manager"

[ -z "$lpid" ] || kill "$lpid" 2>/dev/null
finish
