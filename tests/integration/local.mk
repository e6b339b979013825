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
	tests/integration/hostile_stall.c
tests_integration_hostile_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_integration_hostile_CFLAGS = $(AM_CFLAGS) -pthread
tests_integration_hostile_LDFLAGS = $(AM_LDFLAGS) -pthread
tests_integration_hostile_LDADD = tests/lib/libusvtestclient.la
TESTS += tests/integration/hostile.sh
EXTRA_DIST += tests/integration/hostile.sh
CLEANFILES += tests/integration/hostile-*.log

# trace-client.sh: record and replay without QEMU. qemu_client runs against
# usvhostd --trace, the trace replays against a fresh daemon; then --inject
# and the trace options (seconds).
TESTS += tests/integration/trace-client.sh
EXTRA_DIST += tests/integration/trace-client.sh

# seccomp.sh: the system call allow-list (--seccomp): ring_faults against a
# daemon in kill mode, every thread's filter, and a call off the list made
# by a daemon thread through gdb in each mode.
TESTS += tests/integration/seccomp.sh
EXTRA_DIST += tests/integration/seccomp.sh
CLEANFILES += tests/integration/seccomp-daemon.log
