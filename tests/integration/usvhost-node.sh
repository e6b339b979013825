#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: dist/usvhost-node, what usvhostd.service runs before and
# after the daemon, against a /dev and a /sys/class of our own (tmpfs, in a
# private mount namespace; /dev/cuse is a node we make, so nothing is loaded):
#  * prepare with no /dev/vhost-net: nothing to do, exit 0;
#  * prepare with the static node kmod-static-nodes makes (char 10:238) and
#    the kernel's module not loaded: the node is removed, exit 0;
#  * the same with /sys/class/misc/vhost-net (the module loaded): refused,
#    exit 1, node kept; with /sys/class/cuse/vhost-net (served already):
#    refused; a regular file or another device there: refused, kept;
#  * settle without udev (/run/udev missing): exit 0 at once;
#  * bad usage: exit 2.
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me="usvhost-node.sh"
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
helper=$top_srcdir/dist/usvhost-node
[ -x "$helper" ] || { echo "ERROR: $me: $helper missing"; exit 99; }

if [ "${USVHOST_NODE_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIPPED: $me: needs root (mknod, mounts)"; exit 77; }
	unshare -m --propagation private true 2>/dev/null ||
		{ echo "SKIPPED: $me: cannot create a private mount namespace"; exit 77; }
	USVHOST_NODE_IN_NS=1 exec unshare -m --propagation private -- /bin/sh "$0" "$@"
fi

failed=0
fail() { echo "FAIL: $me: $*"; failed=1; }
ok() { echo "$me: ok: $*"; }
mount -t tmpfs -o mode=755 usvhost-test-dev /dev || exit 99
mknod -m 666 /dev/null c 1 3
mknod -m 600 /dev/cuse c 10 203
mount -t tmpfs -o mode=755 usvhost-test-class /sys/class || exit 99
mkdir /sys/class/misc /sys/class/cuse
# Not "/run/udev": settle must not wait for a udev that is not there.
mount -t tmpfs -o mode=755 usvhost-test-run /run || exit 99
out=$(mktemp /run/usvhost-node.XXXXXX)

run() { # EXPECTED-STATUS WHAT ARGS...
	want=$1
	what=$2
	shift 2
	"$helper" "$@" >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok "$what: exit $rc ($(tr '\n' ' ' <"$out"))"
	else
		fail "$what: exit $rc, expected $want: $(cat "$out")"
	fi
}

run 0 "no node" prepare vhost-net

mknod -m 600 /dev/vhost-net c 10 238
run 0 "static node, module not loaded" prepare vhost-net
[ ! -e /dev/vhost-net ] || fail "the static node is still there"
grep -q 'removing the static node' "$out" || fail "no message about the removal"

mknod -m 600 /dev/vhost-net c 10 238
mkdir /sys/class/misc/vhost-net
run 1 "kernel's vhost_net loaded" prepare vhost-net
[ -c /dev/vhost-net ] || fail "the kernel's node was removed"
grep -q "rmmod vhost_net" "$out" || fail "no advice to rmmod vhost_net"
rmdir /sys/class/misc/vhost-net
rm /dev/vhost-net

mknod -m 600 /dev/vhost-net c 240 0
mkdir /sys/class/cuse/vhost-net
run 1 "already served over CUSE" prepare vhost-net
[ -c /dev/vhost-net ] || fail "a served CUSE node was removed"
rmdir /sys/class/cuse/vhost-net
run 1 "another device" prepare vhost-net
[ -c /dev/vhost-net ] || fail "another device's node was removed"
rm /dev/vhost-net

: >/dev/vhost-net
run 1 "a regular file" prepare vhost-net
[ -f /dev/vhost-net ] || fail "a regular file was removed"
rm /dev/vhost-net

mknod -m 600 /dev/usvhost-net c 10 238
mkdir /sys/class/misc/vhost-net
run 1 "another name, 10:238 there, kernel's vhost_net loaded" prepare usvhost-net
[ -c /dev/usvhost-net ] || fail "a node of the loaded vhost_net was removed"
rmdir /sys/class/misc/vhost-net
run 0 "another name, 10:238 there, not loaded" prepare usvhost-net
[ ! -e /dev/usvhost-net ] || fail "the static node under another name is still there"

run 0 "settle without udev" settle vhost-net
run 2 "no name" prepare
run 2 "a name with a slash" prepare ../etc
run 2 "unknown command" remove vhost-net

[ "$failed" -eq 0 ] || exit 1
echo "$me: PASS"
