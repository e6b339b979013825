# Tracing, compatibility profiles' hooks and fault injection (issue 5).
# The core's side: the observer interface and --inject, no JSON.
src_libusvcore_la_SOURCES += \
	src/core/inject.c src/core/inject.h \
	src/core/observer.h

# The trace format and recorder: the only code that knows json-c.
noinst_LTLIBRARIES += src/libusvtrace.la
src_libusvtrace_la_SOURCES = \
	src/trace/format.c src/trace/format.h \
	src/trace/payload.c src/trace/payload.h \
	src/trace/recorder.c src/trace/recorder.h
src_libusvtrace_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
src_libusvtrace_la_LIBADD = src/libusvcore.la $(JSONC_LIBS)

src_usvhostd_LDADD += src/libusvtrace.la src/libusvcore.la $(JSONC_LIBS)

# usvhost-trace: show, summary, diff and replay of traces.
bin_PROGRAMS += src/usvhost-trace
src_usvhost_trace_SOURCES = \
	src/tools/usvhost-trace.c src/tools/tool.h \
	src/tools/trace_load.c \
	src/tools/trace_show.c \
	src/tools/trace_summary.c \
	src/tools/trace_diff.c \
	src/tools/trace_replay.c
src_usvhost_trace_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
src_usvhost_trace_LDADD = src/libusvtrace.la src/libusvcore.la $(JSONC_LIBS) -lpthread

dist_man_MANS += man/usvhost-trace.1 man/usvhost-trace.5
