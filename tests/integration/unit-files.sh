#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: the shipped integration files (dist/), as installed.
#  1. make install DESTDIR=TMP puts the unit, its helper, the udev rule and
#     the modules-load.d and modprobe.d snippets where configure said
#     (make dist-installdirs), with what each must say; the unit names the
#     installed daemon and helper.
#  2. systemd-analyze verify accepts the installed unit (its Exec paths
#     pointed into TMP) and says nothing.
#  3. systemd-analyze security: the exposure score is printed and must be at
#     most 2.5 (the unit scores 1.9 with systemd 252), and every exposure
#     it reports must be one docs/deploy.md ("Hardening") explains: root,
#     CAP_SYS_PTRACE and CAP_DAC_OVERRIDE over other users' processes,
#     /proc and /dev/cuse, AF_UNIX, and the system calls of @system-service
#     plus pidfd_getfd and seccomp. A new one fails until it is justified here and there.
# Needs systemd-analyze (Debian: systemd), not systemd as PID 1.
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me="unit-files.sh"
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
threshold=2.5
failed=0
fail() { echo "FAIL: $me: $*"; failed=1; }
ok() { echo "$me: ok: $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/usvhost-unit.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
dest=$work/dest

dirs=$(${MAKE:-make} -s --no-print-directory -C "$top_builddir" dist-installdirs) ||
	{ echo "ERROR: $me: make dist-installdirs failed"; exit 99; }
dir() { echo "$dirs" | sed -n "s|^$1=||p"; }
${MAKE:-make} -s --no-print-directory -C "$top_builddir" install DESTDIR="$dest" \
	>"$work/install.log" 2>&1 ||
	{ cat "$work/install.log"; echo "ERROR: $me: make install DESTDIR=$dest failed"; exit 99; }
echo "$me: make install DESTDIR=\$dest installed:"
(cd "$dest" && find . -type f | sort | sed 's|^\.|  |')

# ---- 1. where each file went, and what it says -----------------------------
has() { # FILE REGEX WHAT
	if grep -qE "$2" "$1"; then ok "$3"; else fail "$3: $1 lacks /$2/"; fi
}
sbin=$(dir sbindir)
helper=$(dir pkglibexecdir)/usvhost-node
[ -x "$dest$sbin/usvhostd" ] || fail "no $sbin/usvhostd"
if [ -x "$dest$helper" ]; then ok "$helper installed, executable"; else fail "no executable $helper"; fi
unit=
if [ -n "$(dir systemdsystemunitdir)" ]; then
	unit=$dest$(dir systemdsystemunitdir)/usvhostd.service
	if [ -f "$unit" ]; then
		ok "unit installed in $(dir systemdsystemunitdir)"
		has "$unit" '^Type=notify$' "Type=notify"
		has "$unit" "^ExecStart=$sbin/usvhostd --transport=cuse --name=vhost-net --foreground\$" \
			"ExecStart names the installed daemon, CUSE, no fork"
		has "$unit" "^ExecStartPre=\\+$helper prepare vhost-net\$" "ExecStartPre clears the static node"
		has "$unit" "^ExecStartPost=-\\+$helper settle vhost-net\$" \
			"ExecStartPost waits for udev, outside the sandbox"
		has "$unit" '^Restart=on-failure$' "Restart=on-failure"
		! grep -q '@[a-z]*@' "$unit" || fail "unsubstituted @...@ in the unit"
	else
		fail "no usvhostd.service in $(dir systemdsystemunitdir)"
	fi
else
	echo "$me: note: configured --without-systemdsystemunitdir: unit not installed"
	[ -z "$(find "$dest" -name usvhostd.service)" ] || fail "unit installed although disabled"
fi
if [ -n "$(dir udevrulesdir)" ]; then
	f=$dest$(dir udevrulesdir)/60-usvhost.rules
	if [ -f "$f" ]; then
		has "$f" '^ACTION=="add", SUBSYSTEM=="cuse", KERNEL=="vhost-net\|usvhost-net", OWNER="root", GROUP="kvm", MODE="0660"$' \
			"udev rule: the CUSE node root:kvm 0660"
	else
		fail "no 60-usvhost.rules"
	fi
fi
if [ -n "$(dir modulesloaddir)" ]; then
	f=$dest$(dir modulesloaddir)/usvhost.conf
	if [ -f "$f" ]; then has "$f" '^cuse$' "modules-load.d loads cuse"; else fail "no modules-load.d/usvhost.conf"; fi
fi
if [ -n "$(dir modprobedir)" ]; then
	f=$dest$(dir modprobedir)/usvhost.conf
	if [ -f "$f" ]; then
		has "$f" '^install vhost_net /bin/false$' "modprobe.d keeps vhost_net out"
	else
		fail "no modprobe.d/usvhost.conf"
	fi
fi

# ---- 2 and 3: systemd-analyze ----------------------------------------------
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIPPED: $me: systemd-analyze missing (apt-get install systemd):" \
	     "the unit is NOT verified" >&2
	[ "$failed" -eq 0 ] || exit 1
	echo "SKIPPED: $me: systemd-analyze missing: the unit is NOT verified"
	exit 77
fi
if [ -z "$unit" ]; then
	unit=$work/usvhostd.service.in-build
	sed -e "s|@sbindir@|$sbin|g" -e "s|@pkglibexecdir@|$(dir pkglibexecdir)|g" \
		"$top_srcdir/dist/usvhostd.service.in" >"$unit"
fi
# The unit as installed, its programs looked up under DESTDIR.
mkdir "$work/verify"
sed -E "s#^(Exec[A-Za-z]*=[-+@!:]*)/#\\1$dest/#" "$unit" >"$work/verify/usvhostd.service"
systemd-analyze --version | head -n 1
if systemd-analyze verify --man=no "$work/verify/usvhostd.service" >"$work/verify.out" 2>&1; then
	if [ -s "$work/verify.out" ]; then
		fail "systemd-analyze verify warns:"
		cat "$work/verify.out"
	else
		ok "systemd-analyze verify: no complaint"
	fi
else
	fail "systemd-analyze verify failed:"
	cat "$work/verify.out"
fi

if ! systemd-analyze security --offline=true "$work/verify/usvhostd.service" \
	>"$work/security.out" 2>&1; then
	cat "$work/security.out"
	fail "systemd-analyze security --offline=true failed (systemd older than 250?)"
else
	cat "$work/security.out"
	score=$(sed -n 's/.*Overall exposure level for usvhostd.service: \([0-9.]*\).*/\1/p' \
		"$work/security.out")
	echo "$me: exposure score $score (threshold $threshold)"
	if [ -z "$score" ]; then
		fail "no exposure score in systemd-analyze security's output"
	elif awk -v s="$score" -v t="$threshold" 'BEGIN { exit !(s <= t) }'; then
		ok "exposure $score <= $threshold"
	else
		fail "exposure $score > $threshold"
	fi
	# Each exposure the unit keeps, and why (docs/deploy.md, Hardening).
	justified='SystemCallFilter=~@resources
SystemCallFilter=~@privileged
SystemCallFilter=~@debug
RootDirectory=/RootImage=
User=/DynamicUser=
PrivateDevices=
CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)
RestrictAddressFamilies=~AF_UNIX
CapabilityBoundingSet=~CAP_SYS_PTRACE
ProtectProc=
ProcSubset=
PrivateUsers=
DeviceAllow='
	sed -n 's/^✗ \([^ ]*\) .*/\1/p' "$work/security.out" >"$work/exposed"
	while read -r e; do
		if echo "$justified" | grep -qxF -- "$e"; then
			:
		else
			fail "exposure not justified in docs/deploy.md: $e"
		fi
	done <"$work/exposed"
	[ -s "$work/exposed" ] || fail "no exposure line (✗) parsed from the output"
	for want in NoNewPrivileges= PrivateNetwork= SystemCallFilter=~@mount \
		SystemCallFilter=~@module 'CapabilityBoundingSet=~CAP_SYS_ADMIN' \
		'CapabilityBoundingSet=~CAP_SYS_MODULE' ProtectSystem= ProtectHome=; do
		grep -qF "✓ $want " "$work/security.out" || fail "$want is not ✓"
	done
fi

[ "$failed" -eq 0 ] || exit 1
echo "$me: PASS"
