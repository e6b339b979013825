/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: usvhost-trace reading a trace it did not write. The input
 * is the trace file (JSON lines, usvhost-trace(5)); a form feed splits it in
 * two for diff (without one, the trace is compared with itself).
 *
 * Runs what a user runs on a trace someone sent them: the loader
 * (trace_load), the formatting of every record, then show (plain, with
 * every filter, and --follow when the end record's line is whole),
 * summary, diff and export; their output goes to /dev/null.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "tools/tool.h"

struct side {
	int fd;
	char path[64];
};

static struct side sides[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The commands print to stdout; libFuzzer reports on stderr. */
	if (!freopen("/dev/null", "w", stdout))
		abort();
	for (unsigned i = 0; i < 2; i++) {
		sides[i].fd = memfd_create("fuzz-trace", MFD_CLOEXEC);
		if (sides[i].fd < 0)
			abort();
		snprintf(sides[i].path, sizeof(sides[i].path), "/proc/self/fd/%d",
			 sides[i].fd);
	}
	return 0;
}

static void put(struct side *s, const uint8_t *p, size_t n)
{
	if (ftruncate(s->fd, 0) || (n && pwrite(s->fd, p, n, 0) != (ssize_t)n))
		abort();
}

/* Runs a subcommand with its argv (getopt may permute it: a fresh copy). */
static void run(int (*cmd)(int, char **), const char *const *args, int n)
{
	char *argv[16];

	for (int i = 0; i < n; i++)
		argv[i] = (char *)args[i];
	argv[n] = NULL;
	cmd(n, argv);
}

static void format_all(const struct trace *t)
{
	char buf[4096], res[128], lat[32];

	trace_profile_name(t);
	for (size_t i = 0; i < t->n; i++) {
		const struct rec *r = &t->recs[i];

		fmt_args(r->in, buf, sizeof(buf));
		fmt_args(r->out, buf, sizeof(buf));
		fmt_args(r->in, buf, 8); /* truncation */
		fmt_result(r, res, sizeof(res));
		fmt_duration(r->latency_ns, lat, sizeof(lat));
		name_in_list(r->ioctl, "SET_OWNER,vhost_get_features,,X");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *ff = memchr(data, '\f', size);
	const char *a = sides[0].path, *b = sides[1].path;
	struct trace t;
	bool follow;

	if (ff) {
		put(&sides[0], data, (size_t)(ff - data));
		put(&sides[1], ff + 1, size - (size_t)(ff - data) - 1);
	} else {
		put(&sides[0], data, size);
		b = a;
	}
	if (trace_load(a, &t))
		return 0; /* refused: the commands would refuse it too */
	format_all(&t);
	/* --follow waits for more until an end record's newline: only then. */
	follow = t.ended && (ff ? ff > data && ff[-1] == '\n' : data[size - 1] == '\n');
	trace_free(&t);
	{
		const char *show[] = { "show", a };
		const char *filtered[] = { "show", "--dev", "0", "--dev", "1",
					   "--ioctl", "SET_OWNER,VHOST_SET_MEM_TABLE",
					   "--ioctl", "net_set_backend", "--errors",
					   "--absolute", a };
		const char *events[] = { "show", "--no-events", a };
		const char *summary[] = { "summary", a };
		const char *summary_dev[] = { "summary", "--dev", "0", a };
		const char *diff[] = { "diff", a, b };
		const char *diff_all[] = { "diff", "--strict", "--events", a, b };
		const char *export[] = { "export", "--format=perfetto", a };
		const char *export_out[] = { "export", "-o", "/dev/null", a };
		const char *followed[] = { "show", "--follow", "--errors", a };

		run(cmd_show, show, 2);
		run(cmd_show, filtered, 12);
		run(cmd_show, events, 3);
		run(cmd_summary, summary, 2);
		run(cmd_summary, summary_dev, 4);
		run(cmd_diff, diff, 3);
		run(cmd_diff, diff_all, 5);
		run(cmd_export, export, 3);
		run(cmd_export, export_out, 4);
		if (follow)
			run(cmd_show, followed, 4);
	}
	return 0;
}
