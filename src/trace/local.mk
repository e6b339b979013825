# The trace format and recorder (the core's observer): the only code that
# knows json-c. Programs link src/libusvcore.la after it.
noinst_LTLIBRARIES += src/libusvtrace.la
src_libusvtrace_la_SOURCES = \
	src/trace/format.c src/trace/format.h \
	src/trace/payload.c src/trace/payload.h \
	src/trace/payload.c src/trace/payload.h \
	src/trace/recorder.c src/trace/recorder.h
src_libusvtrace_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
src_libusvtrace_la_LIBADD = $(JSONC_LIBS)
