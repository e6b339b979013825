# libFuzzer targets (configure CC=clang --enable-fuzzing): the ioctl
# dispatcher and the core, the ring walker, the datapath's net handlers,
# usvhost-trace's loader and commands, the live upgrade's state parsers. The core, datapath and trace code is
# compiled again for them with coverage and ASan/UBSan (FUZZ_CFLAGS); the
# daemon and tools of the build are not.
# make fuzz-check replays tests/fuzz/regressions, then runs each target for
# FUZZ_SECONDS (default 60). See docs/fuzzing.md.
FUZZ_CC_FLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
FUZZ_LINK_FLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

if ENABLE_FUZZING
noinst_LTLIBRARIES += tests/fuzz/libfuzzcore.la tests/fuzz/libfuzztrace.la \
	tests/fuzz/libfuzzdp.la
tests_fuzz_libfuzzcore_la_SOURCES = $(src_libusvcore_la_SOURCES)
tests_fuzz_libfuzzcore_la_CFLAGS = $(FUZZ_CC_FLAGS)
tests_fuzz_libfuzzcore_la_LIBADD = -lpthread
tests_fuzz_libfuzztrace_la_SOURCES = $(src_libusvtrace_la_SOURCES)
tests_fuzz_libfuzztrace_la_CFLAGS = $(FUZZ_CC_FLAGS) $(JSONC_CFLAGS)
tests_fuzz_libfuzztrace_la_LIBADD = $(JSONC_LIBS)
tests_fuzz_libfuzzdp_la_SOURCES = $(src_libusvdp_la_SOURCES)
tests_fuzz_libfuzzdp_la_CFLAGS = $(FUZZ_CC_FLAGS) $(URING_CFLAGS) $(NUMA_CFLAGS)
tests_fuzz_libfuzzdp_la_LIBADD = $(URING_LIBS) $(NUMA_LIBS)

noinst_PROGRAMS += tests/fuzz/fuzz_ioctl tests/fuzz/fuzz_vring tests/fuzz/fuzz_net \
	tests/fuzz/fuzz_trace_load tests/fuzz/fuzz_devstate

tests_fuzz_fuzz_ioctl_SOURCES = tests/fuzz/fuzz_ioctl.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_ioctl_CFLAGS = $(FUZZ_CC_FLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_ioctl_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_ioctl_LDADD = tests/fuzz/libfuzztrace.la tests/fuzz/libfuzzcore.la \
	$(JSONC_LIBS) -lpthread

tests_fuzz_fuzz_vring_SOURCES = tests/fuzz/fuzz_vring.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_vring_CFLAGS = $(FUZZ_CC_FLAGS)
tests_fuzz_fuzz_vring_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_vring_LDADD = tests/fuzz/libfuzzcore.la -lpthread

# The datapath with its real worker, driven through the seam's ops; the
# ring walker's pop/unpop/push, the handlers and the error report are
# wrapped (ld --wrap) so that the target sees each call the datapath makes.
FUZZ_NET_WRAP = -Wl,--wrap=usv_vringh_pop,--wrap=usv_vringh_unpop,--wrap=usv_vringh_push \
	-Wl,--wrap=usv_dp_handle_tx,--wrap=usv_dp_handle_rx,--wrap=usv_ring_report_error
tests_fuzz_fuzz_net_SOURCES = tests/fuzz/fuzz_net.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_net_CFLAGS = $(FUZZ_CC_FLAGS) $(URING_CFLAGS)
tests_fuzz_fuzz_net_LDFLAGS = $(FUZZ_LINK_FLAGS) $(FUZZ_NET_WRAP)
tests_fuzz_fuzz_net_LDADD = tests/fuzz/libfuzzdp.la tests/fuzz/libfuzzcore.la \
	$(URING_LIBS) $(NUMA_LIBS) -lpthread

# usvhost-trace's commands without its main().
tests_fuzz_fuzz_trace_load_SOURCES = tests/fuzz/fuzz_trace_load.c tests/fuzz/fuzz.h \
	src/tools/tool.h src/tools/trace_load.c src/tools/trace_show.c src/tools/trace_print.c \
	src/tools/trace_follow.c src/tools/trace_summary.c src/tools/trace_diff.c \
	src/tools/trace_export.c
tests_fuzz_fuzz_trace_load_CFLAGS = $(FUZZ_CC_FLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_trace_load_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_trace_load_LDADD = tests/fuzz/libfuzztrace.la tests/fuzz/libfuzzcore.la \
	$(JSONC_LIBS) -lpthread

# The hand-over's state parsers: devstate_json.c (src/daemon) and
# front_state.c (src/front) compiled in, over the core.
tests_fuzz_fuzz_devstate_SOURCES = tests/fuzz/fuzz_devstate.c tests/fuzz/fuzz.h \
	src/daemon/devstate_json.c src/daemon/devstate_json.h src/front/front_state.c
tests_fuzz_fuzz_devstate_CFLAGS = $(FUZZ_CC_FLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_devstate_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_devstate_LDADD = tests/fuzz/libfuzzcore.la $(JSONC_LIBS) -lpthread

fuzz-check: tests/fuzz/fuzz_ioctl tests/fuzz/fuzz_vring tests/fuzz/fuzz_net \
		tests/fuzz/fuzz_trace_load tests/fuzz/fuzz_devstate
	$(SHELL) $(srcdir)/tests/fuzz/run-fuzzers.sh --builddir '$(abs_top_builddir)' \
		--seconds "$${FUZZ_SECONDS:-60}"
else
fuzz-check:
	@echo "fuzz-check: configure with CC=clang --enable-fuzzing (docs/fuzzing.md)" >&2; exit 1
endif
.PHONY: fuzz-check

EXTRA_DIST += tests/fuzz/run-fuzzers.sh tests/fuzz/gen-corpus.py tests/fuzz/trace.dict \
	tests/fuzz/devstate.dict \
	tests/fuzz/corpus tests/fuzz/regressions
