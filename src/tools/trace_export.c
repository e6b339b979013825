/* SPDX-License-Identifier: MIT */
/*
 * usvhost-trace export --format=perfetto: the trace as Chrome Trace Event
 * Format JSON, which Perfetto UI and chrome://tracing open. Each ioctl is a
 * complete event on its caller's thread; device events are instants and ring
 * attach..detach async spans on a track per device under the daemon's pid.
 * Events are written one by one as the records are read: memory stays that
 * of the loaded trace plus small, capped tables.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tool.h"

/* Caps on the tables a hostile trace could grow: past them, threads go
 * unnamed and further rings are shown as instants only. */
#define MAX_NAMES 4096
#define MAX_SPANS 1024
/* The first thread id of the device tracks. */
#define DEV_TRACK_BASE 0x40000000

struct name {
	int64_t pid, tid;   /* tid -1: the process's name */
	const char *name;   /* owned by the loaded trace */
};

struct span {
	int64_t dev, index;
	int64_t since;      /* time_ns of the attach */
	bool open;
};

struct exporter {
	FILE *out;
	const struct trace *t;
	int64_t daemon_pid;
	bool first;
	struct name *names;
	size_t nnames;
	struct span *spans;
	size_t nspans;
	int64_t last_ns;    /* latest time seen: where open spans close */
};

/* Microseconds from the header's time, with the nanoseconds kept. */
static json_object *ts_us(const struct exporter *x, int64_t ns)
{
	char s[48];
	int64_t d;

	double us;

	if (__builtin_sub_overflow(ns, x->t->t0, &d)) {
		us = trace_seconds(x->t->t0, ns) * 1e6;
		snprintf(s, sizeof(s), "%.3f", us);
	} else {
		us = (double)d / 1e3;
		/* Exact decimal text; the sign apart (d may be INT64_MIN). */
		snprintf(s, sizeof(s), "%s%" PRIu64 ".%03" PRIu64, d < 0 ? "-" : "",
			 (d < 0 ? -(uint64_t)d : (uint64_t)d) / 1000,
			 (d < 0 ? -(uint64_t)d : (uint64_t)d) % 1000);
	}
	return json_object_new_double_s(us, s);
}

static void emit(struct exporter *x, json_object *ev)
{
	fprintf(x->out, "%s%s", x->first ? "\n" : ",\n",
		json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
	x->first = false;
	json_object_put(ev);
}

static json_object *event(const char *ph, const char *name, const char *cat, int64_t pid,
			  int64_t tid)
{
	json_object *ev = json_object_new_object();

	json_object_object_add(ev, "name", json_object_new_string(name));
	if (cat)
		json_object_object_add(ev, "cat", json_object_new_string(cat));
	json_object_object_add(ev, "ph", json_object_new_string(ph));
	json_object_object_add(ev, "pid", json_object_new_int64(pid));
	json_object_object_add(ev, "tid", json_object_new_int64(tid));
	return ev;
}

/* Remembers the first name seen for a process (tid -1) or thread. */
static void learn_name(struct exporter *x, int64_t pid, int64_t tid, const char *name)
{
	if (!name || !*name)
		return;
	for (size_t i = 0; i < x->nnames; i++)
		if (x->names[i].pid == pid && x->names[i].tid == tid)
			return;
	if (x->nnames == MAX_NAMES)
		return;
	x->names[x->nnames++] = (struct name){ .pid = pid, .tid = tid, .name = name };
}

/* Copies member key of o into args, if there. */
static void copy(json_object *args, json_object *o, const char *key)
{
	json_object *v;

	if (json_object_object_get_ex(o, key, &v))
		json_object_object_add(args, key, json_object_get(v));
}

/* The track of a device's events: a thread of the daemon, named "dev N". */
static int64_t dev_tid(const struct exporter *x, int64_t dev)
{
	/* Above any Linux thread id (at most 2^22): no real daemon thread,
	 * which shares the pid, can have it. */
	return dev >= 0 && dev < DEV_TRACK_BASE ? DEV_TRACK_BASE + dev : x->daemon_pid;
}

static void export_ioctl(struct exporter *x, const struct rec *r)
{
	int64_t tid = 0, tgid = 0;
	json_object *ev, *args = json_object_new_object();
	char dur[32];

	usv_tj_i64(r->o, "tid", &tid);
	if (!usv_tj_i64(r->o, "tgid", &tgid))
		tgid = tid;
	learn_name(x, tgid, -1, usv_tj_str(r->o, "comm"));
	learn_name(x, tgid, tid, usv_tj_str(r->o, "thread") ? usv_tj_str(r->o, "thread")
			     : tid == tgid ? usv_tj_str(r->o, "comm") : NULL);
	ev = event("X", r->ioctl ? r->ioctl : "?", "ioctl", tgid, tid);
	json_object_object_add(ev, "ts", ts_us(x, r->time_ns));
	if (r->latency_ns > 0) {
		snprintf(dur, sizeof(dur), "%" PRId64 ".%03" PRId64, r->latency_ns / 1000,
			 r->latency_ns % 1000);
		json_object_object_add(ev, "dur",
				       json_object_new_double_s((double)r->latency_ns / 1e3, dur));
	} else {
		json_object_object_add(ev, "dur", json_object_new_int(0));
	}
	json_object_object_add(args, "seq", json_object_new_int64(r->seq));
	if (r->dev >= 0)
		json_object_object_add(args, "dev", json_object_new_int64(r->dev));
	copy(args, r->o, "cmd");
	copy(args, r->o, "path");
	copy(args, r->o, "in");
	copy(args, r->o, "out");
	json_object_object_add(args, "ret", json_object_new_int64(r->ret));
	if (r->err)
		json_object_object_add(args, "errno", json_object_new_string(r->err));
	if (r->injected)
		json_object_object_add(args, "injected_errno",
				       json_object_new_string(r->err ? r->err : "?"));
	copy(args, r->o, "note");
	json_object_object_add(ev, "args", args);
	emit(x, ev);
}

static void export_instant(struct exporter *x, const struct rec *r, const char *name)
{
	json_object *ev = event("i", name, "device", x->daemon_pid, dev_tid(x, r->dev));
	json_object *args = json_object_new_object();

	json_object_object_add(ev, "ts", ts_us(x, r->time_ns));
	/* Without a device, the event concerns the whole daemon. */
	json_object_object_add(ev, "s", json_object_new_string(r->dev >= 0 ? "t" : "p"));
	json_object_object_foreach(r->o, k, v) {
		if (strcmp(k, "type") && strcmp(k, "time_ns"))
			json_object_object_add(args, k, json_object_get(v));
	}
	json_object_object_add(ev, "args", args);
	emit(x, ev);
}

static void span_event(struct exporter *x, const char *ph, int64_t dev, int64_t index,
		       int64_t ns, json_object *args)
{
	char name[48], id[64];
	json_object *ev;

	snprintf(name, sizeof(name), "vq %" PRId64 "%s", index,
		 index == 0 ? " RX" : index == 1 ? " TX" : "");
	snprintf(id, sizeof(id), "dev%" PRId64 ".vq%" PRId64, dev, index);
	ev = event(ph, name, "ring", x->daemon_pid, dev_tid(x, dev));
	json_object_object_add(ev, "id", json_object_new_string(id));
	json_object_object_add(ev, "ts", ts_us(x, ns));
	if (args)
		json_object_object_add(ev, "args", args);
	emit(x, ev);
}

static struct span *find_span(struct exporter *x, int64_t dev, int64_t index, bool add)
{
	for (size_t i = 0; i < x->nspans; i++)
		if (x->spans[i].dev == dev && x->spans[i].index == index)
			return &x->spans[i];
	if (!add || x->nspans == MAX_SPANS)
		return NULL;
	x->spans[x->nspans] = (struct span){ .dev = dev, .index = index };
	return &x->spans[x->nspans++];
}

static json_object *ring_args(const struct rec *r)
{
	json_object *args = json_object_new_object();

	copy(args, r->o, "seq");
	copy(args, r->o, "backend");
	copy(args, r->o, "last_avail_idx");
	copy(args, r->o, "last_used_idx");
	copy(args, r->o, "reason");
	return args;
}

/* attach opens a span for its ring, detach closes it; an attach over an
 * open span closes that first. What cannot be paired is an instant. */
static void export_ring(struct exporter *x, const struct rec *r, bool attach)
{
	int64_t index;
	struct span *s;

	if (!usv_tj_i64(r->o, "index", &index) || r->dev < 0 ||
	    !(s = find_span(x, r->dev, index, attach)) || (!attach && !s->open)) {
		export_instant(x, r, attach ? "attach" : "detach");
		return;
	}
	if (attach && s->open)
		span_event(x, "e", r->dev, index, r->time_ns, NULL);
	s->open = attach;
	s->since = r->time_ns;
	span_event(x, attach ? "b" : "e", r->dev, index, r->time_ns, ring_args(r));
}

static void export_names(struct exporter *x)
{
	json_object *ev;

	if (x->daemon_pid) {
		const char *p = usv_tj_str(x->t->header, "producer");

		ev = event("M", "process_name", NULL, x->daemon_pid, 0);
		json_object_object_add(ev, "args", json_object_new_object());
		json_object_object_add(json_object_object_get(ev, "args"), "name",
				       json_object_new_string(p ? p : "usvhostd"));
		emit(x, ev);
	}
	for (size_t i = 0; i < x->nnames; i++) {
		const struct name *n = &x->names[i];
		json_object *args = json_object_new_object();

		ev = event("M", n->tid < 0 ? "process_name" : "thread_name", NULL, n->pid,
			   n->tid < 0 ? 0 : n->tid);
		json_object_object_add(args, "name", json_object_new_string(n->name));
		json_object_object_add(ev, "args", args);
		emit(x, ev);
	}
}

static void export_dev_names(struct exporter *x)
{
	/* One "dev N" name per device track, for the devices that had events. */
	int64_t seen[64];
	unsigned nseen = 0;

	for (size_t i = 0; i < x->t->n && nseen < 64; i++) {
		const struct rec *r = &x->t->recs[i];
		bool known = false;
		char name[32];
		json_object *ev, *args;

		if (r->dev < 0 || !strcmp(r->type, "ioctl"))
			continue;
		for (unsigned k = 0; k < nseen; k++)
			known |= seen[k] == r->dev;
		if (known)
			continue;
		seen[nseen++] = r->dev;
		snprintf(name, sizeof(name), "dev %" PRId64, r->dev);
		ev = event("M", "thread_name", NULL, x->daemon_pid, dev_tid(x, r->dev));
		args = json_object_new_object();
		json_object_object_add(args, "name", json_object_new_string(name));
		json_object_object_add(ev, "args", args);
		emit(x, ev);
	}
}

static void export_trace(struct exporter *x)
{
	json_object *other = json_object_new_object();

	fprintf(x->out, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
	for (size_t i = 0; i < x->t->n; i++) {
		const struct rec *r = &x->t->recs[i];

		if (r->time_ns > x->last_ns)
			x->last_ns = r->time_ns;
		if (!strcmp(r->type, "ioctl")) {
			export_ioctl(x, r);
		} else if (!strcmp(r->type, "attach") || !strcmp(r->type, "detach")) {
			export_ring(x, r, !strcmp(r->type, "attach"));
		} else {
			export_instant(x, r, r->type[0] ? r->type : "?");
		}
	}
	/* An opener's comm names it only if it made no ioctl: QEMU's device is
	 * often opened by the shell that then execs it. */
	for (size_t i = 0; i < x->t->n; i++) {
		const struct rec *r = &x->t->recs[i];
		int64_t tgid;

		if (!strcmp(r->type, "open") && usv_tj_i64(r->o, "tgid", &tgid))
			learn_name(x, tgid, -1, usv_tj_str(r->o, "comm"));
	}
	/* Rings still attached when the trace stops end with it. */
	for (size_t i = 0; i < x->nspans; i++)
		if (x->spans[i].open)
			span_event(x, "e", x->spans[i].dev, x->spans[i].index,
				   x->last_ns > x->spans[i].since ? x->last_ns : x->spans[i].since,
				   NULL);
	export_names(x);
	export_dev_names(x);
	copy(other, x->t->header, "producer");
	copy(other, x->t->header, "transport");
	copy(other, x->t->header, "device");
	copy(other, x->t->header, "host_kernel");
	json_object_object_add(other, "profile", json_object_new_string(trace_profile_name(x->t)));
	json_object_object_add(other, "ended", json_object_new_boolean(x->t->ended));
	fprintf(x->out, "\n],\"otherData\":%s}\n",
		json_object_to_json_string_ext(other, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(other);
}

int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *format = "perfetto", *output = NULL;
	struct exporter x = { .first = true };
	struct trace t;
	int c, rc = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			printf("Usage: usvhost-trace export [--format=perfetto] [-o OUT] FILE\n");
			return 0;
		default:
			return 2;
		}
	}
	if (strcmp(format, "perfetto") && strcmp(format, "chrome")) {
		fprintf(stderr, "usvhost-trace export: unknown format '%s' (perfetto)\n", format);
		return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usvhost-trace export: one trace file expected (see --help)\n");
		return 2;
	}
	if (trace_load(argv[optind], &t))
		return 2;
	x.t = &t;
	if (!usv_tj_i64(t.header, "pid", &x.daemon_pid))
		x.daemon_pid = 0;
	x.names = calloc(MAX_NAMES, sizeof(*x.names));
	x.spans = calloc(MAX_SPANS, sizeof(*x.spans));
	x.out = output && strcmp(output, "-") ? fopen(output, "we") : stdout;
	if (!x.names || !x.spans) {
		fprintf(stderr, "usvhost-trace export: out of memory\n");
		goto out;
	}
	if (!x.out) {
		fprintf(stderr, "usvhost-trace export: %s: %s\n", output, strerror(errno));
		goto out;
	}
	export_trace(&x);
	rc = 0;
	if (fflush(x.out) || ferror(x.out)) {
		fprintf(stderr, "usvhost-trace export: %s: write error\n",
			output ? output : "stdout");
		rc = 2;
	}
out:
	if (x.out && x.out != stdout)
		fclose(x.out);
	free(x.names);
	free(x.spans);
	trace_free(&t);
	return rc;
}
