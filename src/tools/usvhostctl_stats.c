/* SPDX-License-Identifier: MIT */
/* usvhostctl stats: the rings' counters as a table, JSON or the Prometheus
 * text exposition format, once or every few seconds with rates. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/usvhostctl.h"

static const char *const counters[] = { "packets", "bytes", "kicks", "interrupts",
					"drops", "errors" };
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (o)
		json_object_object_get_ex(o, k, &v);
	return v;
}

static uint64_t u64(json_object *o, const char *k)
{
	json_object *v = member(o, k);

	return v ? (uint64_t)json_object_get_uint64(v) : 0;
}

static const char *str(json_object *o, const char *k, const char *dflt)
{
	json_object *v = member(o, k);

	return v ? json_object_get_string(v) : dflt;
}

/* The same ring in the previous sample: same handle, owner and index. */
static json_object *prev_ring(json_object *prev, json_object *dev, json_object *ring)
{
	json_object *devs = member(prev, "devices");

	for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
		json_object *d = json_object_array_get_idx(devs, i), *rings;

		if (u64(d, "handle") != u64(dev, "handle") ||
		    u64(member(d, "owner"), "pid") != u64(member(dev, "owner"), "pid"))
			continue;
		rings = member(d, "rings");
		for (size_t k = 0; rings && k < json_object_array_length(rings); k++) {
			json_object *r = json_object_array_get_idx(rings, k);

			if (u64(r, "index") == u64(ring, "index"))
				return r;
		}
	}
	return NULL;
}

/* Adds "rates" (per second since prev) to every ring of cur found in prev. */
static void add_rates(json_object *cur, json_object *prev)
{
	json_object *devs = member(cur, "devices");
	double dt;

	if (!prev)
		return;
	dt = (double)(u64(cur, "time_ns") - u64(prev, "time_ns")) / 1e9;
	if (dt <= 0)
		return;
	for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
		json_object *d = json_object_array_get_idx(devs, i), *rings = member(d, "rings");

		for (size_t k = 0; rings && k < json_object_array_length(rings); k++) {
			json_object *r = json_object_array_get_idx(rings, k);
			json_object *p = prev_ring(prev, d, r), *rates;

			if (!p)
				continue;
			rates = json_object_new_object();
			for (size_t c = 0; c < NCOUNTERS; c++) {
				uint64_t a = u64(r, counters[c]), b = u64(p, counters[c]);

				json_object_object_add(rates, counters[c], json_object_new_double(
					a >= b ? (double)(a - b) / dt : 0.0));
			}
			json_object_object_add(r, "rates", rates);
		}
	}
}

static void print_table(json_object *res, bool rates)
{
	json_object *devs = member(res, "devices");

	printf("%-4s %-8s %-16s %-4s %-3s %-8s %12s %14s %10s %10s %8s %8s", "DEV", "OWNER",
	       "GUEST", "RING", "DIR", "STATE", "PACKETS", "BYTES", "KICKS", "IRQS", "DROPS",
	       "ERRORS");
	printf(rates ? " %10s %12s\n" : "\n", "PKTS/S", "BYTES/S");
	for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
		json_object *d = json_object_array_get_idx(devs, i), *rings = member(d, "rings");
		json_object *own = member(d, "owner");

		for (size_t k = 0; rings && k < json_object_array_length(rings); k++) {
			json_object *r = json_object_array_get_idx(rings, k), *rt = member(r, "rates");

			printf("%-4s %-8s %-16s %-4s %-3s %-8s %12" PRIu64 " %14" PRIu64
			       " %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64,
			       str(d, "handle", "?"), str(own, "pid", "-"), str(own, "guest", "-"),
			       str(r, "index", "?"), str(r, "dir", "?"), str(r, "state", "?"),
			       u64(r, "packets"), u64(r, "bytes"), u64(r, "kicks"),
			       u64(r, "interrupts"), u64(r, "drops"), u64(r, "errors"));
			if (rates && rt)
				printf(" %10.1f %12.1f\n",
				       json_object_get_double(member(rt, "packets")),
				       json_object_get_double(member(rt, "bytes")));
			else
				printf(rates ? " %10s %12s\n" : "\n", "-", "-");
		}
	}
}

/* A label value with \, " and newline escaped, as the format asks. */
static void label(const char *k, const char *v, bool comma)
{
	printf("%s=\"", k);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			printf("\\%c", *v);
		else if (*v == '\n')
			printf("\\n");
		else
			putchar(*v);
	}
	printf("\"%s", comma ? "," : "");
}

static void print_prometheus(json_object *res)
{
	json_object *devs = member(res, "devices"), *rel = member(res, "released");

	for (size_t c = 0; c < NCOUNTERS; c++) {
		printf("# HELP usvhost_ring_%s_total %s counted by a ring of an open device.\n",
		       counters[c], counters[c]);
		printf("# TYPE usvhost_ring_%s_total counter\n", counters[c]);
		for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
			json_object *d = json_object_array_get_idx(devs, i);
			json_object *rings = member(d, "rings"), *own = member(d, "owner");

			for (size_t k = 0; rings && k < json_object_array_length(rings); k++) {
				json_object *r = json_object_array_get_idx(rings, k);

				printf("usvhost_ring_%s_total{", counters[c]);
				label("device", str(d, "handle", ""), true);
				label("owner", str(own, "pid", ""), true);
				label("guest", str(own, "guest", ""), true);
				label("ring", str(r, "index", ""), true);
				label("dir", str(r, "dir", ""), false);
				printf("} %" PRIu64 "\n", u64(r, counters[c]));
			}
		}
		printf("# HELP usvhost_released_%s_total %s counted by devices since released.\n",
		       counters[c], counters[c]);
		printf("# TYPE usvhost_released_%s_total counter\n", counters[c]);
		for (size_t k = 0; rel && k < json_object_array_length(rel); k++) {
			json_object *r = json_object_array_get_idx(rel, k);

			printf("usvhost_released_%s_total{", counters[c]);
			label("dir", str(r, "dir", ""), false);
			printf("} %" PRIu64 "\n", u64(r, counters[c]));
		}
	}
}

int ctl_stats(const char *path, int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_WATCH, OPT_COUNT, OPT_PROM };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "watch", optional_argument, NULL, OPT_WATCH },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "prometheus", no_argument, NULL, OPT_PROM },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, prom = false, watch = false;
	unsigned long count = 0, secs = 1;
	json_object *prev = NULL;
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_PROM:
			prom = true;
			break;
		case OPT_WATCH:
			watch = true;
			if (optarg) {
				secs = strtoul(optarg, &end, 10);
				if (!*optarg || *end || secs < 1 || secs > 86400) {
					fprintf(stderr, "usvhostctl: --watch takes seconds "
						"from 1 to 86400\n");
					return 2;
				}
			}
			break;
		case OPT_COUNT:
			count = strtoul(optarg, &end, 10);
			if (!*optarg || *end || !count) {
				fprintf(stderr, "usvhostctl: --count takes a positive number\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usvhostctl: usage: stats [--json] [--prometheus] "
				"[--watch[=SECS]] [--count=N]\n");
			return 2;
		}
	}
	if (optind < argc || (json && prom)) {
		fprintf(stderr, "usvhostctl: usage: stats [--json | --prometheus] "
			"[--watch[=SECS]] [--count=N]\n");
		return 2;
	}
	if (!watch && !count)
		count = 1;
	for (unsigned long n = 0; !count || n < count; n++) {
		struct timespec pause = { (time_t)secs, 0 };
		json_object *res;

		if (n)
			nanosleep(&pause, NULL);
		res = ctl_call(path, "stats", NULL, -1);
		if (!res) {
			json_object_put(prev);
			return 1;
		}
		add_rates(res, prev);
		if (json)
			printf("%s\n", json_object_to_json_string_ext(res,
				(watch ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY) |
				JSON_C_TO_STRING_NOSLASHESCAPE));
		else if (prom)
			print_prometheus(res);
		else
			print_table(res, watch);
		if (watch && !json)
			printf("\n");
		fflush(stdout);
		json_object_put(prev);
		prev = res;
	}
	json_object_put(prev);
	return 0;
}
