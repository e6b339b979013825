#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: usvhostd's limits and rights, as a user sees them.
#
#  1. --mode=0666 --max-devices-per-user=4, started with a low soft fd limit:
#     the soft limit was raised to the hard one; every thread of the daemon
#     has no_new_privs and exactly the capabilities serving needs
#     (CAP_SYS_PTRACE, CAP_DAC_OVERRIDE effective; CAP_SYS_ADMIN permitted
#     only, for the unmount) in its bounding, permitted and effective sets;
#     priv_client: uid 65534 gets EMFILE at its 5th open while uid 65533 and
#     root still open, serves a device as QEMU would from its own uid, and
#     opens 4 again after its releases; the refusal is logged. SIGTERM: the
#     daemon exits 0 and has unmounted (with the capability it kept).
#  2. --mode=0660 --group=4242 --keep-privileges: every capability kept, no
#     no_new_privs; only a member of group 4242 opens the file.
#  3. --transport=cuse with --mode is a usage error (udev owns CUSE nodes).
#
# Runs inside private mount and network namespaces (daemon-lib.sh).
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me=privileges.sh
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
daemon=$top_builddir/src/usvhostd
client=$top_builddir/tests/integration/priv_client
limit=4

# shellcheck source-path=SCRIPTDIR source=daemon-lib.sh
. "$here/daemon-lib.sh"

enter_namespaces USVHOST_PRIVS_IN_NS "$@"

# ---- inside the private namespaces ---------------------------------------

setup_run privileges-daemon.log usvhost-privs
# Other users must reach the mount point: mktemp made the work dir 0700.
chmod 755 "$work"

field() { # NAME STATUS-TEXT: one field of a /proc/.../status
	echo "$2" | awk -v f="$1:" '$1 == f { print $2 }'
}
cap() { # NAME [STATUS-TEXT]: a capability set, as a number (ours by default)
	echo $((0x$(field "$1" "${2:-$(cat /proc/self/status)}")))
}
hex() { printf '%016x' "$1"; }

# What the daemon should keep, from what we (root) hold: a capability we
# lack cannot be kept. CAP_SYS_PTRACE (19) and CAP_DAC_OVERRIDE (1)
# effective; CAP_SYS_ADMIN (21) reserved, effective too when io_uring needs it.
ptrace=$((1 << 19))
dac=$((1 << 1))
admin=$((1 << 21))
our_prm=$(cap CapPrm)
our_eff=$(cap CapEff)
our_bnd=$(cap CapBnd)
want_eff=$((ptrace | dac))
want_res=$admin
if [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null)" = 1 ]; then
	want_eff=$((want_eff | admin))
fi
exp_eff=$((want_eff & our_prm))
exp_prm=$(((want_eff | want_res) & our_prm))
# The bounding set can only shrink with CAP_SETPCAP (8).
if [ $((our_prm & (1 << 8))) -ne 0 ]; then exp_bnd=$exp_prm; else exp_bnd=$our_bnd; fi

check_task() { # TASK-DIR EFF PRM BND NNP
	# Read once: a thread that ends meanwhile is no longer there to check.
	st=$(cat "$1/status" 2>/dev/null) || return 0
	[ -n "$st" ] || return 0
	for f in CapEff:$2 CapPrm:$3 CapBnd:$4 CapInh:0 CapAmb:0; do
		got=$(cap "${f%%:*}" "$st")
		if [ "$got" -ne "${f#*:}" ]; then
			fail "$1: ${f%%:*} $(hex "$got"), expected $(hex "${f#*:}")"
		fi
	done
	nnp=$(field NoNewPrivs "$st")
	[ "$nnp" = "$5" ] || fail "$1: NoNewPrivs $nnp, expected $5"
	n=$((n + 1))
}

check_threads() { # EFF PRM BND NNP: every thread of the daemon
	n=0
	for t in /proc/"$dpid"/task/*; do
		check_task "$t" "$@"
	done
	# One thread would not show that the datapath's and libfuse's threads,
	# started after the drop, inherited it.
	[ "$n" -ge 2 ] || fail "usvhostd has $n thread(s); expected its datapath workers too"
	echo "$me: $n threads checked; main thread:"
	grep -E '^(Cap|NoNewPrivs)' "/proc/$dpid/status" | sed 's/^/    /'
}

# ---- 1. the drop, the fd limit, the per-user limit -------------------------
# A soft fd limit below the hard one, set by prlimit(1) as it execs the daemon.
command -v prlimit >/dev/null 2>&1 || skip "no prlimit(1) (util-linux)"
daemon_wrapper="prlimit --nofile=64:"
start_daemon --mode=0666 --max-devices-per-user=$limit
daemon_wrapper=

# shellcheck disable=SC2046 # two numbers, split on purpose
set -- $(awk '$1 == "Max" && $2 == "open" { print $4, $5 }' "/proc/$dpid/limits")
if [ "$1" != "$2" ]; then
	fail "the daemon's fd limit is $1 (soft), $2 (hard): not raised to the hard limit"
fi
grep -qF "descriptor limit (RLIMIT_NOFILE) $2 (was 64;" "$log" ||
	fail "no log line gives the fd limit $2, raised from 64"
check_threads "$exp_eff" "$exp_prm" "$exp_bnd" 1
grep -q 'privileges dropped: ' "$log" || fail "the kept capabilities are not logged"

mode=$(stat -c %a "$mnt/vhost-net")
[ "$mode" = 666 ] || fail "$mnt/vhost-net has mode $mode, expected 666 (--mode=0666)"

timeout -s KILL $((120 * scale)) "$client" --dev="$mnt/vhost-net" --log="$log" limit $limit
crc=$?
[ "$crc" -eq 0 ] || fail "priv_client limit $limit failed (exit $crc)"

refusal="open refused: uid 65534 holds $limit devices (--max-devices-per-user=$limit)"
n=$(grep -cF "$refusal" "$log")
[ "$n" -eq 2 ] || fail "expected 2 log lines '$refusal', found $n"
stop_daemon

# ---- 2. --keep-privileges, --group ----------------------------------------
start_daemon --mode=0660 --group=4242 --keep-privileges
check_threads "$our_eff" "$our_prm" "$our_bnd" 0
grep -q -- '--keep-privileges: every capability kept' "$log" ||
	fail "--keep-privileges is not logged"
group=$(stat -c '%a %g' "$mnt/vhost-net")
[ "$group" = "660 4242" ] || fail "$mnt/vhost-net: mode and group '$group', expected '660 4242'"
timeout -s KILL $((60 * scale)) "$client" --dev="$mnt/vhost-net" group 4242
crc=$?
[ "$crc" -eq 0 ] || fail "priv_client group 4242 failed (exit $crc)"
stop_daemon

# ---- 3. CUSE refuses --mode ------------------------------------------------
out=$("$daemon" --transport=cuse --name=usvhost-privs-test --mode=0666 --foreground 2>&1)
rc=$?
if [ "$rc" -ne 2 ] || ! echo "$out" | grep -q 'udev rule'; then
	fail "--transport=cuse --mode=0666: exit $rc, '$out'; expected exit 2 pointing to udev"
fi

check_daemon_log 'sanitizer|runtime error|segmentation|assert' \
	"the daemon log reports a crash or sanitizer error"
finish
