#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: log lines journald understands. usvhostd is started so
# that it logs a warning, some info and an error and exits (--workers is
# ignored with a warning; the FUSE mount directory cannot be created), with
# stderr in a file:
#  * plain (no JOURNAL_STREAM, or one naming another stream, or
#    --log-format=plain): "usvhostd[SECONDS.MICROS] LEVEL: text", as before;
#  * journal (--log-format=journal, or JOURNAL_STREAM naming that file's
#    device and inode, as systemd sets it): "<N>text" with sd-daemon(3)
#    priorities (3 error, 4 warning, 6 info) and no timestamp of our own.
# Needs no privileges. Exit: 0 pass, 1 fail, 99 hard error.

set -u

me=journal-log.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
daemon=$top_builddir/src/usvhostd
[ -x "$daemon" ] || { echo "ERROR: $me: $daemon not built"; exit 99; }
work=$(mktemp -d "${TMPDIR:-/tmp}/usvhost-jlog.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
failed=0
fail() { echo "FAIL: $me: $*"; failed=1; }

# LABEL STREAM [OPTION...]: stderr to $work/LABEL.err; JOURNAL_STREAM unset
# (STREAM "-"), naming that file (STREAM "self", as systemd would), or STREAM.
run() {
	label=$1
	stream=$2
	shift 2
	err=$work/$label.err
	: >"$err"
	case "$stream" in
	-) unset JOURNAL_STREAM ;;
	self) JOURNAL_STREAM=$(stat -c '%d:%i' "$err"); export JOURNAL_STREAM ;;
	*) JOURNAL_STREAM=$stream; export JOURNAL_STREAM ;;
	esac
	"$daemon" --transport=fuse --mount="$work/missing/mnt" --foreground \
		--workers=2 "$@" 2>>"$err" </dev/null
	rc=$?
	unset JOURNAL_STREAM
	[ "$rc" -eq 1 ] || fail "$label: exit status $rc, expected 1 (mount directory error)"
}

expect_plain() { # LABEL
	err=$work/$1.err
	grep -qE '^usvhostd\[[0-9]+\.[0-9]{6}\] warn: --workers is ignored' "$err" ||
		fail "$1: no plain warning line"
	grep -qE '^usvhostd\[[0-9]+\.[0-9]{6}\] info: usvhostd [^ ]+ starting' "$err" ||
		fail "$1: no plain info line"
	grep -qE '^usvhostd\[[0-9]+\.[0-9]{6}\] error: cannot create mount directory' "$err" ||
		fail "$1: no plain error line"
	! grep -q '^<[0-7]>' "$err" || fail "$1: priority prefixes in plain format"
}

expect_journal() { # LABEL
	err=$work/$1.err
	grep -qE '^<4>--workers is ignored' "$err" || fail "$1: no <4> warning line"
	grep -qE '^<6>usvhostd [^ ]+ starting' "$err" || fail "$1: no <6> info line"
	grep -qE '^<3>cannot create mount directory' "$err" || fail "$1: no <3> error line"
	# Every line of ours carries a priority and no clock (libfuse prints
	# nothing here).
	if grep -vE '^<[0-7]>' "$err" | grep -q .; then
		fail "$1: lines without a priority prefix:"
		grep -vE '^<[0-7]>' "$err"
	fi
	! grep -q 'usvhostd\[' "$err" || fail "$1: the daemon's own timestamp is still there"
}

run default -
expect_plain default
run journal-option - --log-format=journal
expect_journal journal-option
run journal-stream self
expect_journal journal-stream
run other-stream 1:1
expect_plain other-stream
run stream-but-plain self --log-format=plain
expect_plain stream-but-plain

for f in default journal-option journal-stream; do
	echo "---- $f ----"
	cat "$work/$f.err"
done
[ "$failed" -eq 0 ] || exit 1
echo "$me: PASS"
