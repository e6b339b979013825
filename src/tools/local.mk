# usvhost-trace: show (and --follow), summary, diff, replay and export of
# traces.
bin_PROGRAMS += src/usvhost-trace
src_usvhost_trace_SOURCES = \
	src/tools/usvhost-trace.c src/tools/tool.h \
	src/tools/trace_load.c \
	src/tools/trace_show.c src/tools/trace_print.c \
	src/tools/trace_follow.c \
	src/tools/trace_summary.c \
	src/tools/trace_diff.c \
	src/tools/trace_replay.c \
	src/tools/trace_export.c
src_usvhost_trace_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
src_usvhost_trace_LDADD = src/libusvtrace.la src/libusvcore.la $(JSONC_LIBS) -lpthread

# usvhostctl: the client of usvhostd's control socket (--control=PATH).
bin_PROGRAMS += src/usvhostctl
src_usvhostctl_SOURCES = \
	src/tools/usvhostctl.c src/tools/usvhostctl.h \
	src/tools/usvhostctl_client.c \
	src/tools/usvhostctl_stats.c
src_usvhostctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
src_usvhostctl_LDADD = $(JSONC_LIBS)
