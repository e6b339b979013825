# Tests of tracing, replay, compatibility profiles and fault injection
# (issue 5). The unit test needs cmocka; the scripts need root, /dev/fuse and
# /dev/net/tun (and trace-qemu.sh qemu-system-x86), and skip loudly otherwise.
if ENABLE_TESTS
check_PROGRAMS += tests/trace/test_trace
TESTS += tests/trace/test_trace
tests_trace_test_trace_SOURCES = tests/trace/test_trace.c tests/lib/pidfd_emul.c
tests_trace_test_trace_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JSONC_CFLAGS) -pthread
tests_trace_test_trace_LDFLAGS = $(AM_LDFLAGS) -pthread -Wl,--wrap=syscall
tests_trace_test_trace_LDADD = src/libusvtrace.la src/libusvcore.la $(JSONC_LIBS) $(CMOCKA_LIBS)
endif

# trace-client.sh replays the integration client's trace (no QEMU, seconds);
# trace-qemu.sh boots QEMU four times (about 35 s).
TESTS += tests/trace/trace-client.sh tests/trace/trace-qemu.sh
EXTRA_DIST += tests/trace/trace-client.sh tests/trace/trace-qemu.sh

# test_schema: a row alone gets logs, traces, replay and injection, and
# usvhost-trace(5) lists what the table decodes.
if ENABLE_TESTS
check_PROGRAMS += tests/trace/test_schema
TESTS += tests/trace/test_schema
tests_trace_test_schema_SOURCES = tests/trace/test_schema.c
tests_trace_test_schema_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(JSONC_CFLAGS)
tests_trace_test_schema_LDADD = src/libusvtrace.la src/libusvcore.la $(JSONC_LIBS) $(CMOCKA_LIBS) -lpthread
endif
