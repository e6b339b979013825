# Integration test: a C client that plays QEMU 7.2 against usvhostd's FUSE
# file, driven by qemu-sequence.sh inside private mount and network namespaces.
# The client needs no cmocka, so it builds with or without --disable-tests.

check_PROGRAMS += tests/integration/qemu_client
tests_integration_qemu_client_SOURCES = tests/integration/qemu_client.c
tests_integration_qemu_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_integration_qemu_client_CFLAGS = $(AM_CFLAGS) -pthread
tests_integration_qemu_client_LDFLAGS = $(AM_LDFLAGS) -pthread
tests_integration_qemu_client_LDADD = tests/lib/libusvtestclient.la

TESTS += tests/integration/qemu-sequence.sh
EXTRA_DIST += tests/integration/qemu-sequence.sh tests/integration/daemon-lib.sh
CLEANFILES += tests/integration/qemu-sequence-daemon.log

# ring-faults.sh: the datapath from the guest's side (TX, RX, corrupt rings,
# GET_VRING_BASE while running) with ring_faults, a client built on
# tests/lib's client library.
check_PROGRAMS += tests/integration/ring_faults
tests_integration_ring_faults_SOURCES = tests/integration/ring_faults.c
tests_integration_ring_faults_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_integration_ring_faults_CFLAGS = $(AM_CFLAGS) -pthread
tests_integration_ring_faults_LDFLAGS = $(AM_LDFLAGS) -pthread
tests_integration_ring_faults_LDADD = tests/lib/libusvtestclient.la
TESTS += tests/integration/ring-faults.sh
EXTRA_DIST += tests/integration/ring-faults.sh
CLEANFILES += tests/integration/ring-faults-daemon.log

# privileges.sh: limits and rights as other users see them (the per-user
# device limit, --mode/--group, the capability sets of every daemon thread),
# with priv_client, a client that becomes other uids.
check_PROGRAMS += tests/integration/priv_client
tests_integration_priv_client_SOURCES = tests/integration/priv_client.c
tests_integration_priv_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_integration_priv_client_CFLAGS = $(AM_CFLAGS) -pthread
tests_integration_priv_client_LDFLAGS = $(AM_LDFLAGS) -pthread
tests_integration_priv_client_LDADD = tests/lib/libusvtestclient.la
TESTS += tests/integration/privileges.sh
EXTRA_DIST += tests/integration/privileges.sh
CLEANFILES += tests/integration/privileges-daemon.log

# hostile.sh: usvhostd as a security boundary, attacked by the guest and by
# the caller (hostile, a client built on tests/lib's client library), one
# fresh daemon per scenario, a healthy device in another process watching for
# stalls.
check_PROGRAMS += tests/integration/hostile
tests_integration_hostile_SOURCES = \
	tests/integration/hostile.c \
	tests/integration/hostile.h \
	tests/integration/hostile_lib.c \
	tests/integration/hostile_bystander.c \
	tests/integration/hostile_guest.c \
	tests/integration/hostile_memory.c \
	tests/integration/hostile_stall.c \
	tests/integration/hostile_stop.c \
	tests/integration/hostile_frozen.c
tests_integration_hostile_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_integration_hostile_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) -pthread
tests_integration_hostile_LDFLAGS = $(AM_LDFLAGS) -pthread
tests_integration_hostile_LDADD = tests/lib/libusvtestclient.la $(FUSE3_LIBS)
TESTS += tests/integration/hostile.sh
EXTRA_DIST += tests/integration/hostile.sh
CLEANFILES += tests/integration/hostile-*.log

# trace-client.sh: record and replay without QEMU. qemu_client runs against
# usvhostd --trace, the trace replays against a fresh daemon; then --inject
# and the trace options (seconds).
TESTS += tests/integration/trace-client.sh
EXTRA_DIST += tests/integration/trace-client.sh

# notify.sh: readiness as systemd sees it. notify_listen plays the service
# manager's notification socket; usvhostd (FUSE front) must send READY=1
# from its main process once the file is served and privileges are dropped,
# and STOPPING=1 at SIGTERM.
check_PROGRAMS += tests/integration/notify_listen
tests_integration_notify_listen_SOURCES = tests/integration/notify_listen.c
TESTS += tests/integration/notify.sh
EXTRA_DIST += tests/integration/notify.sh
CLEANFILES += tests/integration/notify-daemon.log

# journal-log.sh: stderr lines in journald's "<N>text" form under systemd
# (JOURNAL_STREAM) or --log-format=journal, and unchanged otherwise.
TESTS += tests/integration/journal-log.sh
EXTRA_DIST += tests/integration/journal-log.sh

# unit-files.sh: dist/'s files as make install DESTDIR= puts them, the unit
# through systemd-analyze verify and security (score printed, bounded).
TESTS += tests/integration/unit-files.sh
EXTRA_DIST += tests/integration/unit-files.sh

# usvhost-node.sh: the unit's helper against a /dev and /sys/class of its own.
TESTS += tests/integration/usvhost-node.sh
EXTRA_DIST += tests/integration/usvhost-node.sh

# systemd-nspawn.sh: the unit (hardening and all, turned to the FUSE front)
# under a real systemd booted in a container: readiness, status, rights,
# journal priorities, a clean stop.
TESTS += tests/integration/systemd-nspawn.sh
EXTRA_DIST += tests/integration/systemd-nspawn.sh

# control.sh: usvhostd --control and usvhostctl (list, stats, --prometheus,
# trace on/off, log-level, who may connect, hostile control clients, the
# socket removed at exit) around a device control_client keeps busy.
check_PROGRAMS += tests/integration/control_client
tests_integration_control_client_SOURCES = tests/integration/control_client.c
tests_integration_control_client_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_integration_control_client_CFLAGS = $(AM_CFLAGS) -pthread
tests_integration_control_client_LDFLAGS = $(AM_LDFLAGS) -pthread
tests_integration_control_client_LDADD = tests/lib/libusvtestclient.la
TESTS += tests/integration/control.sh
EXTRA_DIST += tests/integration/control.sh
CLEANFILES += tests/integration/control-daemon.log

# seccomp.sh: the system call allow-list (--seccomp): ring_faults against a
# daemon in kill mode, every thread's filter, and a call off the list made
# by a daemon thread through gdb in each mode.
TESTS += tests/integration/seccomp.sh
EXTRA_DIST += tests/integration/seccomp.sh
CLEANFILES += tests/integration/seccomp-daemon.log

# trace-export.sh: usvhost-trace export --format=perfetto on a trace the
# client recorded, checked by trace_export_check (json-c), and show --follow
# on a file that grows.
check_PROGRAMS += tests/integration/trace_export_check
tests_integration_trace_export_check_SOURCES = tests/integration/trace_export_check.c
tests_integration_trace_export_check_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_integration_trace_export_check_LDADD = $(JSONC_LIBS)
TESTS += tests/integration/trace-export.sh
EXTRA_DIST += tests/integration/trace-export.sh

# bench.sh: usvhost-bench (src/bench) against a FUSE front for a second of
# each test: packets move, the taps' counters agree, --json parses, --raw works.
TESTS += tests/integration/bench.sh
EXTRA_DIST += tests/integration/bench.sh
CLEANFILES += tests/integration/bench-daemon.log

# handover.sh: the fronts' hand-over of a live FUSE session between two
# processes (handover_check plays both and the user), without the daemon.
check_PROGRAMS += tests/integration/handover_check
tests_integration_handover_check_SOURCES = tests/integration/handover_check.c
tests_integration_handover_check_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(JSONC_CFLAGS) -pthread
tests_integration_handover_check_LDFLAGS = $(AM_LDFLAGS) -pthread
tests_integration_handover_check_LDADD = src/libusvfront.la src/libusvcore.la \
	$(FUSE3_LIBS) $(JSONC_LIBS)
TESTS += tests/integration/handover.sh
EXTRA_DIST += tests/integration/handover.sh
# takeover.sh: usvhostd --takeover three times under a device control_client
# keeps busy (rings, ioctls in flight, counters), and refused takeovers.
TESTS += tests/integration/takeover.sh
EXTRA_DIST += tests/integration/takeover.sh
CLEANFILES += tests/integration/takeover-daemon*.log
CLEANFILES += tests/integration/handover-check.log
