/* SPDX-License-Identifier: MIT */
/* usvhost-trace summary: counts, errors and latency percentiles per ioctl. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tool.h"

struct stat_row {
	const char *name;
	size_t calls, failed, injected;
	int64_t *lat;
	size_t nlat;
	struct { const char *name; size_t n; } errs[8];
	unsigned nerrs;
	size_t first; /* order of first appearance */
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static int64_t pct(const int64_t *v, size_t n, unsigned p)
{
	size_t rank;

	if (!n)
		return -1;
	rank = (p * n + 99) / 100;
	return v[rank ? rank - 1 : 0];
}

int cmd_summary(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stat_row *rows = NULL;
	size_t nrows = 0, ioctls = 0, failed = 0, injected = 0;
	struct { const char *type; size_t n; } ev[16];
	unsigned nev = 0;
	int64_t devmask_dev = -1, last = 0, maxdev = -1;
	struct trace t;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			devmask_dev = strtoll(optarg, NULL, 0);
			break;
		case 'h':
			printf("Usage: usvhost-trace summary [--dev N] FILE\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usvhost-trace summary: one trace file expected\n");
		return 2;
	}
	if (trace_load(argv[optind], &t))
		return 2;
	rows = calloc(t.n + 1, sizeof(*rows));
	if (!rows) {
		trace_free(&t);
		return 2;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct rec *r = &t.recs[i];
		struct stat_row *s = NULL;

		if (devmask_dev >= 0 && r->dev != devmask_dev)
			continue;
		if (r->time_ns > last)
			last = r->time_ns;
		if (r->dev > maxdev)
			maxdev = r->dev;
		if (strcmp(r->type, "ioctl")) {
			unsigned k;

			if (!strcmp(r->type, "end"))
				continue;
			for (k = 0; k < nev && strcmp(ev[k].type, r->type); k++)
				;
			if (k == nev && nev < 16)
				ev[nev++] = (typeof(ev[0])){ r->type, 0 };
			if (k < 16)
				ev[k].n++;
			continue;
		}
		for (size_t k = 0; k < nrows; k++)
			if (!strcmp(rows[k].name, r->ioctl ? r->ioctl : "?"))
				s = &rows[k];
		if (!s) {
			s = &rows[nrows++];
			s->name = r->ioctl ? r->ioctl : "?";
			s->lat = calloc(t.n, sizeof(int64_t));
			s->first = i;
		}
		s->calls++;
		ioctls++;
		if (r->latency_ns >= 0 && s->lat)
			s->lat[s->nlat++] = r->latency_ns;
		if (r->injected) {
			s->injected++;
			injected++;
		}
		if (r->ret) {
			unsigned k;

			s->failed++;
			failed++;
			for (k = 0; k < s->nerrs && strcmp(s->errs[k].name, r->err ? r->err : "?"); k++)
				;
			if (k == s->nerrs && s->nerrs < 8)
				s->errs[s->nerrs++].name = r->err ? r->err : "?";
			if (k < 8)
				s->errs[k].n++;
		}
	}
	printf("trace:    %s\n", t.path);
	printf("producer: %s, format %s, profile %s%s\n",
	       usv_tj_str(t.header, "producer") ? usv_tj_str(t.header, "producer") : "?",
	       json_object_get_string(json_object_object_get(t.header, "version")),
	       trace_profile_name(&t), t.ended ? "" : " (no end record: cut short?)");
	/* Handles are the lowest free numbers: the highest one counts them. */
	printf("span:     %.3f s, %" PRIu64 " device%s, %zu ioctls, %zu failed (%zu injected)\n",
	       last > t.t0 ? trace_seconds(t.t0, last) : 0.0, (uint64_t)maxdev + 1,
	       maxdev == 0 ? "" : "s", ioctls, failed, injected);
	printf("\n%-28s %6s %6s %-34s %9s %9s %9s %9s\n", "IOCTL", "CALLS", "FAILED",
	       "ERRNOS", "p50", "p90", "p99", "max");
	for (size_t k = 0; k < nrows; k++) {
		struct stat_row *s = &rows[k];
		char e[128] = "", p50[16], p90[16], p99[16], mx[16];
		size_t used = 0;

		for (unsigned j = 0; j < s->nerrs && used < sizeof(e); j++) {
			char count[24] = "";

			if (s->errs[j].n > 1)
				snprintf(count, sizeof(count), "x%zu", s->errs[j].n);
			used += (size_t)snprintf(e + used, sizeof(e) - used, "%s%s%s",
						 j ? "," : "", s->errs[j].name, count);
		}
		if (s->injected && used < sizeof(e))
			snprintf(e + used, sizeof(e) - used, " (%zu inj)", s->injected);
		qsort(s->lat, s->nlat, sizeof(int64_t), cmp_i64);
		fmt_duration(pct(s->lat, s->nlat, 50), p50, sizeof(p50));
		fmt_duration(pct(s->lat, s->nlat, 90), p90, sizeof(p90));
		fmt_duration(pct(s->lat, s->nlat, 99), p99, sizeof(p99));
		fmt_duration(s->nlat ? s->lat[s->nlat - 1] : -1, mx, sizeof(mx));
		printf("%-28s %6zu %6zu %-34s %9s %9s %9s %9s\n", s->name, s->calls, s->failed,
		       e[0] ? e : "-", p50, p90, p99, mx);
	}
	if (nev) {
		printf("\nevents:  ");
		for (unsigned k = 0; k < nev; k++)
			printf("%s %s %zu", k ? "," : "", ev[k].type, ev[k].n);
		printf("\n");
	}
	for (size_t k = 0; k < nrows; k++)
		free(rows[k].lat);
	free(rows);
	trace_free(&t);
	return 0;
}
