# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# What scripts/bench.sh and scripts/bench-scale.sh share (sourced, not run):
# the binaries of a build, the private mount and network namespaces they
# run in, and one usvhostd serving a FUSE file there, stopped on exit.
# The caller defines die() and sets prog.

# Sets daemon and bench from BUILD-DIR; dies when either is missing.
bench_host_binaries() { # BUILD-DIR
	daemon=$1/src/usvhostd bench=$1/src/usvhost-bench
	if ! [ -x "$daemon" ] || ! [ -x "$bench" ]; then
		die "$daemon or $bench missing: build first (or --build-dir=DIR)"
	fi
	command -v python3 >/dev/null || die "needs python3 (the report)"
}

# Outside the namespaces: runs the calling script again inside fresh ones
# with ARGS (its options, normalised). Inside: returns.
bench_host_enter_ns() { # ARGS...
	[ "${USVHOST_BENCH_IN_NS:-}" != 1 ] || return 0
	[ "$(id -u)" = 0 ] || die "needs root (FUSE mount, taps, namespaces); try: sudo $0"
	export USVHOST_BENCH_IN_NS=1
	exec unshare -m -n --propagation private -- bash "$0" "$@"
}

# A work directory (work, removed on exit) and usvhostd serving
# $mnt/vhost-net (pid in dpid, stopped on exit; its log in $work).
bench_host_start_daemon() { # WORK-DIR-PREFIX
	work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	mnt=$work/mnt dpid=""
	mkdir "$mnt"
	trap bench_host_cleanup EXIT
	ip link set lo up 2>/dev/null || true
	"$daemon" --transport=fuse --mount="$mnt" --foreground --log-level=info \
		2>"$work/daemon.log" </dev/null &
	dpid=$!
	for _ in $(seq 100); do
		[ -e "$mnt/vhost-net" ] && break
		sleep 0.1
	done
	if ! [ -e "$mnt/vhost-net" ]; then
		cat "$work/daemon.log" >&2
		die "usvhostd did not serve $mnt/vhost-net"
	fi
}

bench_host_cleanup() {
	if [ -n "$dpid" ]; then
		kill -TERM "$dpid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$dpid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$dpid" 2>/dev/null || true
	fi
	umount -l "$mnt" 2>/dev/null || true
	rm -rf "$work"
}

# One usvhost-bench run (ARGS, --json), killed after SECS: its JSON line
# goes to $results as {KEYS,"r":LINE}, or {KEYS,"failed":true,FAILED} when it
# printed none. Exit 1 with a line means it ran but the counters did not
# match (the report says so); anything else is a failed run.
# shellcheck disable=SC2154 # results and prog are the caller's
bench_host_record() { # SECS KEYS FAILED ARGS...
	local limit=$1 keys=$2 failed=$3 line rc=0
	shift 3
	line=$(timeout -s KILL "$limit" "$bench" "$@" --json) || rc=$?
	case $line in
	'{'*) echo "{$keys,\"r\":$line}" >>"$results" ;;
	*)
		echo "$prog: that run failed (exit $rc)" >&2
		echo "{$keys,\"failed\":true,$failed}" >>"$results"
		;;
	esac
}
