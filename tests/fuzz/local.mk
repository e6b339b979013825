# libFuzzer targets (configure CC=clang --enable-fuzzing): the ioctl
# dispatcher and the core, the ring walker, usvhost-trace's loader and
# commands. The core and trace code is compiled again for them with coverage
# and ASan/UBSan (FUZZ_CFLAGS); the daemon and tools of the build are not.
# make fuzz-check replays tests/fuzz/regressions, then runs each target for
# FUZZ_SECONDS (default 60). See docs/fuzzing.md.
FUZZ_CC_FLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
FUZZ_LINK_FLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

if ENABLE_FUZZING
noinst_LTLIBRARIES += tests/fuzz/libfuzzcore.la tests/fuzz/libfuzztrace.la
tests_fuzz_libfuzzcore_la_SOURCES = $(src_libusvcore_la_SOURCES)
tests_fuzz_libfuzzcore_la_CFLAGS = $(FUZZ_CC_FLAGS)
tests_fuzz_libfuzzcore_la_LIBADD = -lpthread
tests_fuzz_libfuzztrace_la_SOURCES = $(src_libusvtrace_la_SOURCES)
tests_fuzz_libfuzztrace_la_CFLAGS = $(FUZZ_CC_FLAGS) $(JSONC_CFLAGS)
tests_fuzz_libfuzztrace_la_LIBADD = $(JSONC_LIBS)

noinst_PROGRAMS += tests/fuzz/fuzz_ioctl tests/fuzz/fuzz_vring tests/fuzz/fuzz_trace_load

tests_fuzz_fuzz_ioctl_SOURCES = tests/fuzz/fuzz_ioctl.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_ioctl_CFLAGS = $(FUZZ_CC_FLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_ioctl_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_ioctl_LDADD = tests/fuzz/libfuzztrace.la tests/fuzz/libfuzzcore.la \
	$(JSONC_LIBS) -lpthread

tests_fuzz_fuzz_vring_SOURCES = tests/fuzz/fuzz_vring.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_vring_CFLAGS = $(FUZZ_CC_FLAGS)
tests_fuzz_fuzz_vring_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_vring_LDADD = tests/fuzz/libfuzzcore.la -lpthread

# usvhost-trace's commands without its main().
tests_fuzz_fuzz_trace_load_SOURCES = tests/fuzz/fuzz_trace_load.c tests/fuzz/fuzz.h \
	src/tools/tool.h src/tools/trace_load.c src/tools/trace_show.c \
	src/tools/trace_follow.c src/tools/trace_summary.c src/tools/trace_diff.c \
	src/tools/trace_export.c
tests_fuzz_fuzz_trace_load_CFLAGS = $(FUZZ_CC_FLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_trace_load_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_trace_load_LDADD = tests/fuzz/libfuzztrace.la tests/fuzz/libfuzzcore.la \
	$(JSONC_LIBS) -lpthread

fuzz-check: tests/fuzz/fuzz_ioctl tests/fuzz/fuzz_vring tests/fuzz/fuzz_trace_load
	$(SHELL) $(srcdir)/tests/fuzz/run-fuzzers.sh --builddir '$(abs_top_builddir)' \
		--seconds "$${FUZZ_SECONDS:-60}"
else
fuzz-check:
	@echo "fuzz-check: configure with CC=clang --enable-fuzzing (docs/fuzzing.md)" >&2; exit 1
endif
.PHONY: fuzz-check

EXTRA_DIST += tests/fuzz/run-fuzzers.sh tests/fuzz/gen-corpus.py tests/fuzz/trace.dict \
	tests/fuzz/corpus tests/fuzz/regressions
