/* SPDX-License-Identifier: MIT */
/*
 * usvhost-trace: reads the JSON traces usvhostd --trace writes
 * (usvhost-trace(5)): show, summary, diff, replay, export. See
 * usvhost-trace(1).
 */
#include <stdio.h>
#include <string.h>

#include "tools/tool.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: usvhost-trace COMMAND [OPTION]... FILE...\n"
		"Read the ioctl traces written by usvhostd --trace=FILE ('-': stdin).\n"
		"\n"
		"  show [--dev N] [--ioctl NAME[,NAME]] [--errors] [--no-events] [--absolute]\n"
		"       [--follow] FILE\n"
		"        a readable, aligned listing, like strace; --follow: like tail -f,\n"
		"        until the end record or SIGINT/SIGTERM\n"
		"  summary [--dev N] FILE\n"
		"        calls, errors and latency percentiles per ioctl\n"
		"  diff [--strict] [--events] A B\n"
		"        compare two sequences by ioctl and argument shape, ignoring\n"
		"        addresses and fd numbers; exit 1 when they differ\n"
		"  replay FILE --device PATH [--strict] [--json] [--verbose]\n"
		"        re-issue the recorded control sequence on a vhost-net device\n"
		"        (usvhostd's, or the kernel's /dev/vhost-net) with fresh eventfds,\n"
		"        memory and taps; report every answer that differs; exit 1 if any\n"
		"  export [--format=perfetto] [-o OUT] FILE\n"
		"        Chrome Trace Event JSON for Perfetto UI (ui.perfetto.dev) and\n"
		"        chrome://tracing: ioctls as slices on their caller's threads\n"
		"\n"
		"  -h, --help     this help;  -V, --version  the version\n"
		"Exit status: 0 fine/no difference, 1 differences, 2 trouble.\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("usvhost-trace " PACKAGE_VERSION " (trace format %d)\n", USV_TRACE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "show"))
		return cmd_show(argc - 1, argv + 1);
	if (!strcmp(cmd, "summary"))
		return cmd_summary(argc - 1, argv + 1);
	if (!strcmp(cmd, "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "export"))
		return cmd_export(argc - 1, argv + 1);
	fprintf(stderr, "usvhost-trace: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
