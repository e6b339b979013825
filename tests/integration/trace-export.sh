#!/usr/bin/env bash
# What people look at: usvhost-trace export --format=perfetto on a trace the
# integration client recorded against usvhostd --trace (valid JSON, one "X"
# event per ioctl on its caller's thread, times in order on each track, ring
# spans paired), then show --follow on a file that grows (a record written
# in two pieces, the end record, SIGTERM).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source-path=SCRIPTDIR source=../lib/e2e-lib.sh
. "$top_srcdir/tests/lib/e2e-lib.sh"
: "${TRACE_TOOL:=$top_builddir/src/usvhost-trace}"
CLIENT=$top_builddir/tests/integration/qemu_client
CHECK=$top_builddir/tests/integration/trace_export_check

[ "$(id -u)" = 0 ] || e2e_skip "needs root (FUSE mount, taps, namespaces)"
[ -c /dev/fuse ] || e2e_skip "/dev/fuse missing"
[ -c /dev/net/tun ] || e2e_skip "/dev/net/tun missing"
command -v unshare >/dev/null 2>&1 || e2e_skip "unshare missing (util-linux)"
for b in "$USVHOSTD" "$TRACE_TOOL" "$CLIENT" "$CHECK"; do
	[ -x "$b" ] || e2e_die "$b missing (make check builds it)"
done
if [ -z "${USVHOST_E2E_NS:-}" ] && ! unshare -m -n --propagation private true 2>/dev/null; then
	e2e_skip "cannot create mount+network namespaces"
fi
e2e_enter_namespaces "$@"
e2e_setup

check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then e2e_pass "$what"; else e2e_fail "$what"; fi
}

# ---- export a recorded trace ---------------------------------------------------
e2e_run_begin export
e2e_start_daemon --trace="$E2E_RUN_DIR/trace.json"
rc=0
timeout -k 5 120 "$CLIENT" --dev="$E2E_MNT/vhost-net" qemu72-memfd qemu72-anon \
	driver-reload >"$E2E_RUN_DIR/client.log" 2>&1 || rc=$?
e2e_check_daemon_stop
T=$E2E_RUN_DIR/trace.json
J=$E2E_RUN_DIR/trace.perfetto.json
check "the client passed against usvhostd --trace (exit $rc)" [ "$rc" = 0 ]
n=$(grep -c '"type":"ioctl"' "$T" || true)
check "the trace has the client's ioctls ($n) and ring attaches" \
	bash -c "[ $n -gt 50 ] && grep -q '\"type\":\"attach\"' '$T' && grep -q '\"type\":\"detach\"' '$T'"
check "export --format=perfetto -o writes the file" \
	"$TRACE_TOOL" export --format=perfetto -o "$J" "$T"
# shellcheck disable=SC2317 # called through check
checked() { # CHECK
	local out=$E2E_RUN_DIR/check-$1.out
	"$CHECK" "$1" "$T" "$J" >"$out" 2>&1 || { e2e_show_file "$out" 10; return 1; }
}
check "the export is JSON whose events have ph, name, pid, tid and a numeric ts" checked json
check "every ioctl record is one X event with its name, tid and pid ($n)" checked ioctls
check "times never go back on a thread's track" checked monotonic
check "ring attach..detach spans pair up, one per attach" checked spans
# shellcheck disable=SC2016 # expanded by the inner bash
check "export to stdout is the same document" \
	bash -c '"$1" export "$2" | cmp -s - "$3"' _ "$TRACE_TOOL" "$T" "$J"
check "the caller's command name names its process" \
	grep -q '"name":"process_name","ph":"M","pid":[0-9]*,"tid":0,"args":{"name":"qemu_client"}' "$J"
# shellcheck disable=SC2016 # expanded by the inner bash
check "an unknown format is refused (exit 2)" \
	bash -c '"$1" export --format=svg "$2" >/dev/null 2>&1; [ $? = 2 ]' _ "$TRACE_TOOL" "$T"
e2e_run_end

# ---- show --follow on a growing trace ------------------------------------------
e2e_run_begin follow
F=$E2E_RUN_DIR/growing.json
OUT=$E2E_RUN_DIR/follow.out
# The recorded trace without its end record, and its end record.
grep -v '"type":"end"' "$T" >"$E2E_RUN_DIR/body.json"
grep '"type":"end"' "$T" >"$E2E_RUN_DIR/end.json"
head -n 5 "$E2E_RUN_DIR/body.json" >"$F"
"$TRACE_TOOL" show --follow "$F" >"$OUT" 2>"$E2E_RUN_DIR/follow.err" &
pid=$!
# Waits up to 5 s for $1 lines of output (2 of them the heading).
shown() { for _ in $(seq 50); do [ "$(wc -l <"$OUT")" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }
# Exit status of $1 if it ends within $2 tenths of a second, else 255.
ends_within() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return; }
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 255
}
check "the 4 records already in the file are shown" shown 6
line=$(sed -n 6p "$E2E_RUN_DIR/body.json")
printf '%s' "${line:0:60}" >>"$F"
sleep 0.5
before=$(wc -l <"$OUT")
printf '%s\n' "${line:60}" >>"$F"
sleep 0.5
check "a half-written line waits for its newline, then shows ($before -> $(wc -l <"$OUT") lines)" \
	[ "$(wc -l <"$OUT")" = $((before + 1)) ]
sed -n '7,$p' "$E2E_RUN_DIR/body.json" >>"$F"
cat "$E2E_RUN_DIR/end.json" >>"$F"
rc=0
ends_within "$pid" 50 || rc=$?
check "follow exits 0 within 5 s of the end record (exit $rc; 255: still running)" [ "$rc" = 0 ]
"$TRACE_TOOL" show "$F" >"$E2E_RUN_DIR/show.out"
check "what follow printed is what show prints of the whole file" \
	cmp -s "$OUT" "$E2E_RUN_DIR/show.out"

head -n 5 "$E2E_RUN_DIR/body.json" >"$F"
"$TRACE_TOOL" show --follow "$F" >"$OUT" 2>&1 &
pid=$!
shown 6 || true
kill -TERM "$pid"
rc=0
ends_within "$pid" 20 || rc=$?
check "SIGTERM stops follow cleanly within 2 s (exit $rc; 255: still running)" [ "$rc" = 0 ]
check "... after it showed the 4 records there were" [ "$(wc -l <"$OUT")" = 6 ]
e2e_run_end

# ---- --help and the man page agree -------------------------------------------
e2e_run_begin help
missing=
for o in $("$TRACE_TOOL" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
	case $o in --help | --version) continue ;; esac
	grep -qF -- "${o//-/\\-}" "$top_srcdir/man/usvhost-trace.1" || missing="$missing $o"
done
for c in $("$TRACE_TOOL" --help | sed -nE 's/^  ([a-z]+) .*/\1/p'); do
	grep -qE "^\.B $c( |\$)" "$top_srcdir/man/usvhost-trace.1" || missing="$missing $c"
done
check "every command and option of --help is in usvhost-trace(1) (missing:${missing:- none})" \
	[ -z "$missing" ]
e2e_run_end
e2e_finish
