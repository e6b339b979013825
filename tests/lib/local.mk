# What the tests of several kinds share, built only for 'make check'.
# libusvtestclient: the test clients' library (client_lib.h): QEMU 7.2's side
# of a vhost-net device file, the guest driver's side of its rings, and a
# tap's host side. Used by the integration clients and the conformance table.
# libpidfdemul: with -Wl,--wrap=syscall, pidfd_open/pidfd_getfd where they
# answer ENOSYS (valgrind < 3.20); link it after the core.
check_LTLIBRARIES += tests/lib/libusvtestclient.la tests/lib/libpidfdemul.la
tests_lib_libusvtestclient_la_SOURCES = \
	tests/lib/client_lib.c tests/lib/client_lib.h \
	tests/lib/client_driver.c
tests_lib_libusvtestclient_la_CFLAGS = $(AM_CFLAGS) -pthread
tests_lib_libpidfdemul_la_SOURCES = tests/lib/pidfd_emul.c


# Shell harnesses: e2e-lib.sh (usvhostd on its FUSE front, taps, unmodified
# QEMU, checks and cleanup) for the e2e, conformance, integration
# (trace-client.sh) and VM tests and scripts/run-guest.sh; guest-lib.sh, what
# runs in their guests; tap-queues.py, e2e-lib.sh's multiqueue tap;
# qmp-plug.py, hot-plug over QMP (getfd with the fds, NICs, DIMMs); qmp.py,
# a QMP client (tests/e2e/migration.sh).
EXTRA_DIST += tests/lib/e2e-lib.sh tests/lib/guest-lib.sh tests/lib/tap-queues.py \
	tests/lib/qmp-plug.py tests/lib/qmp.py
