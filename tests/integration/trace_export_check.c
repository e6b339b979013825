/* SPDX-License-Identifier: MIT */
/*
 * Checks usvhost-trace export --format=perfetto against the trace it came
 * from, as trace-export.sh asks:
 *   trace_export_check CHECK TRACE EXPORT
 * CHECK: json (the export parses, every event has the members the viewers
 * need), ioctls (each ioctl record is one "X" event with its name, tid and
 * pid), monotonic (times never go back on a thread's track), spans (each
 * ring's "b"/"e" events pair up, one span per attach record). Prints what is
 * wrong; exit 0 when fine, 1 when not, 2 on trouble.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define MAX_ITEMS 65536

struct ioctl_rec {
	int64_t seq, tid, tgid;
	const char *name;
	bool seen;
};

static int64_t get_i64(json_object *o, const char *key, int64_t dflt)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : dflt;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* The trace's records, as one array. */
static json_object *load_trace(const char *path)
{
	json_object *recs = json_object_new_array();
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;

	if (!f) {
		perror(path);
		exit(2);
	}
	while (getline(&line, &cap, f) > 0) {
		json_object *o = json_tokener_parse(line);

		if (!o) {
			fprintf(stderr, "%s: a line that does not parse\n", path);
			exit(2);
		}
		json_object_array_add(recs, o);
	}
	free(line);
	fclose(f);
	return recs;
}

static int check_json(json_object *events)
{
	int bad = 0;

	for (size_t i = 0; i < json_object_array_length(events); i++) {
		json_object *e = json_object_array_get_idx(events, i), *v;
		const char *ph = get_str(e, "ph");

		if (!ph || !get_str(e, "name") || !json_object_object_get_ex(e, "pid", &v) ||
		    !json_object_object_get_ex(e, "tid", &v) ||
		    (strcmp(ph, "M") && (!json_object_object_get_ex(e, "ts", &v) ||
					 !json_object_is_type(v, json_type_double)))) {
			printf("event %zu lacks ph, name, pid, tid or a numeric ts: %s\n", i,
			       json_object_to_json_string(e));
			bad = 1;
		}
		if (ph && !strcmp(ph, "X") && !json_object_object_get_ex(e, "dur", &v)) {
			printf("X event %zu without dur\n", i);
			bad = 1;
		}
	}
	return bad;
}

static int check_ioctls(json_object *recs, json_object *events)
{
	static struct ioctl_rec r[MAX_ITEMS];
	size_t n = 0, nx = 0;
	int bad = 0;

	for (size_t i = 0; i < json_object_array_length(recs) && n < MAX_ITEMS; i++) {
		json_object *o = json_object_array_get_idx(recs, i);

		if (get_str(o, "type") && !strcmp(get_str(o, "type"), "ioctl"))
			r[n++] = (struct ioctl_rec){ .seq = get_i64(o, "seq", -1),
						     .tid = get_i64(o, "tid", -1),
						     .tgid = get_i64(o, "tgid", -1),
						     .name = get_str(o, "ioctl") };
	}
	for (size_t i = 0; i < json_object_array_length(events); i++) {
		json_object *e = json_object_array_get_idx(events, i), *args;
		int64_t seq;
		size_t k;

		if (strcmp(get_str(e, "ph") ? get_str(e, "ph") : "", "X"))
			continue;
		nx++;
		if (!json_object_object_get_ex(e, "args", &args)) {
			printf("X event without args\n");
			bad = 1;
			continue;
		}
		seq = get_i64(args, "seq", -1);
		for (k = 0; k < n && r[k].seq != seq; k++)
			;
		if (k == n) {
			printf("X event for seq %" PRId64 ": no such ioctl record\n", seq);
			bad = 1;
			continue;
		}
		if (r[k].seen || !r[k].name || strcmp(r[k].name, get_str(e, "name")) ||
		    r[k].tid != get_i64(e, "tid", -2) || r[k].tgid != get_i64(e, "pid", -2)) {
			printf("seq %" PRId64 ": %s tid %" PRId64 " pid %" PRId64
			       " exported as %s (again: %d) tid %" PRId64 " pid %" PRId64 "\n",
			       seq, r[k].name, r[k].tid, r[k].tgid, get_str(e, "name"), r[k].seen,
			       get_i64(e, "tid", -2), get_i64(e, "pid", -2));
			bad = 1;
		}
		r[k].seen = true;
	}
	if (nx != n) {
		printf("%zu ioctl records, %zu X events\n", n, nx);
		bad = 1;
	}
	return bad;
}

static int check_monotonic(json_object *events)
{
	static struct { int64_t pid, tid; double ts; } tr[MAX_ITEMS];
	size_t ntr = 0;
	int bad = 0;

	for (size_t i = 0; i < json_object_array_length(events); i++) {
		json_object *e = json_object_array_get_idx(events, i), *v;
		int64_t pid = get_i64(e, "pid", 0), tid = get_i64(e, "tid", 0);
		double ts;
		size_t k;

		if (!get_str(e, "ph") || !strcmp(get_str(e, "ph"), "M") ||
		    !json_object_object_get_ex(e, "ts", &v))
			continue;
		ts = json_object_get_double(v);
		for (k = 0; k < ntr && (tr[k].pid != pid || tr[k].tid != tid); k++)
			;
		if (k == ntr) {
			if (ntr == MAX_ITEMS)
				return 2;
			tr[ntr++] = (typeof(tr[0])){ .pid = pid, .tid = tid, .ts = ts };
		}
		if (ts < tr[k].ts) {
			printf("track %" PRId64 "/%" PRId64 ": %s at %.3f after %.3f\n", pid, tid,
			       get_str(e, "name"), ts, tr[k].ts);
			bad = 1;
		}
		tr[k].ts = ts;
	}
	return bad;
}

static int check_spans(json_object *recs, json_object *events)
{
	static struct { char id[64]; bool open; double since; } sp[MAX_ITEMS];
	size_t nsp = 0, attaches = 0, begins = 0;
	int bad = 0;

	for (size_t i = 0; i < json_object_array_length(recs); i++) {
		const char *t = get_str(json_object_array_get_idx(recs, i), "type");

		attaches += t && !strcmp(t, "attach");
	}
	for (size_t i = 0; i < json_object_array_length(events); i++) {
		json_object *e = json_object_array_get_idx(events, i), *v;
		const char *ph = get_str(e, "ph"), *id = get_str(e, "id");
		bool b;
		size_t k;

		if (!ph || (strcmp(ph, "b") && strcmp(ph, "e")))
			continue;
		b = !strcmp(ph, "b");
		if (!id || strcmp(get_str(e, "cat") ? get_str(e, "cat") : "", "ring") ||
		    strlen(id) >= sizeof(sp[0].id) || !json_object_object_get_ex(e, "ts", &v)) {
			printf("async event %zu without cat ring, id or ts\n", i);
			bad = 1;
			continue;
		}
		for (k = 0; k < nsp && strcmp(sp[k].id, id); k++)
			;
		if (k == nsp) {
			if (nsp == MAX_ITEMS)
				return 2;
			snprintf(sp[nsp++].id, sizeof(sp[0].id), "%s", id);
		}
		if (sp[k].open == b || (!b && json_object_get_double(v) < sp[k].since)) {
			printf("%s: '%s' event %s\n", id, ph,
			       b ? "while the span is open" : "without an open span, or before it");
			bad = 1;
		}
		sp[k].open = b;
		sp[k].since = json_object_get_double(v);
		begins += b;
	}
	for (size_t k = 0; k < nsp; k++)
		if (sp[k].open) {
			printf("%s: span never ended\n", sp[k].id);
			bad = 1;
		}
	if (begins != attaches || !attaches) {
		printf("%zu attach records, %zu spans\n", attaches, begins);
		bad = 1;
	}
	return bad;
}

int main(int argc, char **argv)
{
	json_object *recs, *doc, *events;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s json|ioctls|monotonic|spans TRACE EXPORT\n", argv[0]);
		return 2;
	}
	recs = load_trace(argv[2]);
	doc = json_object_from_file(argv[3]);
	if (!doc || !json_object_object_get_ex(doc, "traceEvents", &events) ||
	    !json_object_is_type(events, json_type_array)) {
		printf("%s: not JSON with a traceEvents array\n", argv[3]);
		return 1;
	}
	if (!strcmp(argv[1], "json"))
		rc = check_json(events);
	else if (!strcmp(argv[1], "ioctls"))
		rc = check_ioctls(recs, events);
	else if (!strcmp(argv[1], "monotonic"))
		rc = check_monotonic(events);
	else if (!strcmp(argv[1], "spans"))
		rc = check_spans(recs, events);
	else
		rc = 2;
	json_object_put(doc);
	json_object_put(recs);
	return rc;
}
