#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Integration test: usvhostd.service under a real systemd. systemd-nspawn
# boots this host's systemd in a container (--volatile=yes: a tmpfs root
# with the host's /usr), to a target of its own that starts only a probe.
# The unit is the shipped one with every hardening setting, turned to the
# FUSE front (no /dev/cuse here): ExecStart serves /run/usvhost/fuse, the
# bounding set, device list and system-call filter gain what a FUSE mount
# needs (CAP_SYS_ADMIN, /dev/fuse, @mount), ExecStartPre/Post go. The probe
# checks, as systemd sees them:
#  * systemctl start returns 0 once the daemon is ready: active (running),
#    StatusText "serving /run/usvhost/fuse/vhost-net", the file served (seen
#    through the daemon's own root: the unit's mount namespace is private);
#  * the daemon runs with no_new_privs, a seccomp filter, effective
#    CAP_SYS_PTRACE and CAP_DAC_OVERRIDE, bounding set as the unit says;
#  * its journal lines carry their priorities (a warning is PRIORITY 4) and
#    no "<N>" prefix or clock of the daemon's;
#  * systemctl stop: Result=success, exit status 0.
# Needs root, /dev/fuse and systemd-nspawn (Debian: systemd-container).
# Exit: 0 pass, 1 fail, 77 skipped (with the reason), 99 hard error.

set -u

me="systemd-nspawn.sh"
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
scale=${USVHOST_TEST_TIMEOUT_SCALE:-1}
daemon=$top_builddir/src/usvhostd
skip() { echo "SKIPPED: $me: $*" >&2; echo "SKIPPED: $me: $*"; exit 77; }
failed=0
fail() { echo "FAIL: $me: $*"; failed=1; }
ok() { echo "$me: ok: $*"; }

[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn)"
[ -c /dev/fuse ] || skip "no /dev/fuse"
command -v systemd-nspawn >/dev/null 2>&1 ||
	skip "systemd-nspawn missing (apt-get install systemd-container): the unit is NOT run under systemd"
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd to boot"
[ -x "$daemon" ] || { echo "ERROR: $me: $daemon not built"; exit 99; }

work=$(mktemp -d "${TMPDIR:-/tmp}/usvhost-nspawn.XXXXXX") || exit 99
machine=usvhost-test-$$
cleanup() {
	rm -rf "$work"
	rmdir "/run/systemd/nspawn/propagate/$machine" 2>/dev/null || true
}
trap cleanup EXIT
mkdir "$work/out" "$work/units"

sed -e '/^ExecStartPre=/d; /^ExecStartPost=/d' \
	-e 's|^ExecStart=.*|ExecStart=/opt/usvhost/usvhostd --transport=fuse --mount=/run/usvhost/fuse --foreground --workers=2|' \
	-e 's|^CapabilityBoundingSet=.*|& CAP_SYS_ADMIN|' \
	-e 's|^DeviceAllow=/dev/cuse rw$|&\nDeviceAllow=/dev/fuse rw|' \
	-e 's|^SystemCallFilter=.*|& @mount|' \
	"$top_srcdir/dist/usvhostd.service.in" >"$work/units/usvhostd-fuse.service"
grep -q '@[a-z]*@' "$work/units/usvhostd-fuse.service" &&
	{ echo "ERROR: $me: unsubstituted @...@ left"; exit 99; }

cat >"$work/units/usvtest.target" <<'EOF2'
[Unit]
Description=usvhost test: the probe only
Requires=basic.target probe.service
After=basic.target probe.service
AllowIsolate=yes
EOF2
cat >"$work/units/probe.service" <<'EOF2'
[Unit]
Description=usvhost test probe
After=basic.target
[Service]
Type=oneshot
ExecStart=/bin/sh /opt/usvhost/probe.sh
EOF2
cat >"$work/probe.sh" <<'EOF2'
#!/bin/sh
exec >/out/probe.txt 2>&1
u=usvhostd-fuse.service
systemctl start "$u"; echo "start rc=$?"
systemctl show -p ActiveState -p SubState -p StatusText -p MainPID "$u"
pid=$(systemctl show -p MainPID --value "$u")
[ -e "/proc/$pid/root/run/usvhost/fuse/vhost-net" ] && echo "node-present"
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$pid/status"
systemctl stop "$u"; echo "stop rc=$?"
systemctl show -p Result -p ExecMainStatus "$u"
echo "--- journal"
journalctl -u "$u" _PID="$pid" -o json --output-fields=PRIORITY,MESSAGE --no-pager |
	sed -n 's/.*"PRIORITY":"\([0-7]\)".*"MESSAGE":"\([^"]*\)".*/\1 \2/p; s/.*"MESSAGE":"\([^"]*\)".*"PRIORITY":"\([0-7]\)".*/\2 \1/p'
echo "PROBE-DONE"
systemctl poweroff
EOF2

set -- -q --register=no --keep-unit --machine="$machine" -D / --volatile=yes \
	--bind=/dev/fuse --bind="$work/out:/out" \
	--bind-ro="$daemon:/opt/usvhost/usvhostd" \
	--bind-ro="$work/probe.sh:/opt/usvhost/probe.sh"
for u in usvhostd-fuse.service usvtest.target probe.service; do
	set -- "$@" --bind-ro="$work/units/$u:/etc/systemd/system/$u"
done
echo "$me: systemd-nspawn $*"
timeout -k 5 $((120 * scale)) systemd-nspawn "$@" --boot systemd.unit=usvtest.target \
	systemd.firstboot=off >"$work/boot.log" 2>&1 </dev/null
rc=$?
if [ ! -s "$work/out/probe.txt" ]; then
	tail -n 30 "$work/boot.log"
	grep -q 'running in system mode' "$work/boot.log" ||
		skip "systemd-nspawn could not boot a container here (status $rc): the unit is NOT run under systemd"
	fail "systemd booted but the probe wrote nothing (nspawn status $rc)"
	exit 1
fi
cat "$work/out/probe.txt"
p=$work/out/probe.txt
has() { # REGEX WHAT
	if grep -qE "$1" "$p"; then ok "$2"; else fail "$2 (no /$1/)"; fi
}
has '^PROBE-DONE$' "the probe ran to the end"
has '^start rc=0$' "systemctl start returned 0 (READY=1 received)"
has '^ActiveState=active$' "active"
has '^SubState=running$' "running"
has '^StatusText=serving /run/usvhost/fuse/vhost-net$' "STATUS= from the daemon"
has '^node-present$' "the file is served when start returns"
has '^NoNewPrivs:[[:space:]]+1$' "no_new_privs"
has '^Seccomp:[[:space:]]+2$' "a seccomp filter (SystemCallFilter=)"
eff=$(sed -n 's/^CapEff:[[:space:]]*//p' "$p")
bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' "$p")
# CAP_DAC_OVERRIDE (1), CAP_SYS_PTRACE (19); the bounding set adds
# CAP_SYS_ADMIN (21) for the FUSE unmount.
if [ -n "$eff" ] && [ $((0x$eff)) -eq $((1 << 1 | 1 << 19)) ]; then
	ok "effective set $eff"
else
	fail "effective set '$eff', expected CAP_DAC_OVERRIDE and CAP_SYS_PTRACE"
fi
if [ -n "$bnd" ] && [ $((0x$bnd)) -eq $((1 << 1 | 1 << 19 | 1 << 21)) ]; then
	ok "bounding set $bnd"
else
	fail "bounding set '$bnd', expected the unit's"
fi
has '^4 --workers is ignored' "a warning is journal priority 4"
has '^6 privileges dropped' "info is journal priority 6"
has '^6 told the service manager we are ready' "the daemon notified"
if sed -n '/^--- journal/,$p' "$p" | grep -qE '^[0-7] (<[0-7]>|usvhostd\[)'; then
	fail "journal messages still carry a <N> prefix or the daemon's clock"
else
	ok "journal messages without prefix or clock"
fi
has '^stop rc=0$' "systemctl stop returned 0"
has '^Result=success$' "Result=success"
has '^ExecMainStatus=0$' "the daemon exited 0"

[ "$failed" -eq 0 ] || exit 1
echo "$me: PASS"
