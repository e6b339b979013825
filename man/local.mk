# The manual pages: the daemon (8), its control client (1), the trace tool
# (1), the trace format (5) and the benchmark (1).
dist_man_MANS += \
	man/usvhostd.8 \
	man/usvhostctl.1 \
	man/usvhost-trace.1 \
	man/usvhost-trace.5 \
	man/usvhost-bench.1
