/* SPDX-License-Identifier: MIT */
/* Loading a trace and formatting its records for people. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/tool.h"

void rec_fill(struct rec *r)
{
	json_object *m;

	r->type = usv_tj_str(r->o, "type");
	if (!r->type)
		r->type = "";
	if (!usv_tj_i64(r->o, "seq", &r->seq))
		r->seq = 0;
	if (!usv_tj_i64(r->o, "time_ns", &r->time_ns))
		r->time_ns = 0;
	if (!usv_tj_i64(r->o, "dev", &r->dev))
		r->dev = -1;
	r->ioctl = usv_tj_str(r->o, "ioctl");
	r->in = usv_tj_obj(r->o, "in");
	r->out = usv_tj_obj(r->o, "out");
	if (!usv_tj_i64(r->o, "ret", &r->ret))
		r->ret = 0;
	r->err = usv_tj_str(r->o, "errno");
	r->injected = json_object_object_get_ex(r->o, "injected", &m) &&
		      json_object_get_boolean(m);
	if (!usv_tj_i64(r->o, "latency_ns", &r->latency_ns))
		r->latency_ns = -1;
}

int trace_load(const char *path, struct trace *t)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	unsigned lineno = 0;
	size_t cap = 0;
	char err[256];

	memset(t, 0, sizeof(*t));
	t->path = path;
	if (!f) {
		fprintf(stderr, "usvhost-trace: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		json_object *o;

		if (usv_trace_read_line(f, &o, &lineno, err, sizeof(err))) {
			fprintf(stderr, "usvhost-trace: %s: %s\n", path, err);
			goto fail;
		}
		if (!o)
			break;
		if (!t->header) {
			if (usv_trace_check_header(o, err, sizeof(err))) {
				fprintf(stderr, "usvhost-trace: %s: %s\n", path, err);
				json_object_put(o);
				goto fail;
			}
			t->header = o;
			if (!usv_tj_i64(o, "time_ns", &t->t0))
				t->t0 = 0;
			continue;
		}
		if (t->n == cap) {
			struct rec *nr;

			cap = cap ? cap * 2 : 256;
			nr = realloc(t->recs, cap * sizeof(*nr));
			if (!nr) {
				json_object_put(o);
				fprintf(stderr, "usvhost-trace: out of memory\n");
				goto fail;
			}
			t->recs = nr;
		}
		memset(&t->recs[t->n], 0, sizeof(t->recs[t->n]));
		t->recs[t->n].o = o;
		rec_fill(&t->recs[t->n]);
		if (!strcmp(t->recs[t->n].type, "end"))
			t->ended = true;
		t->n++;
	}
	if (!t->header) {
		fprintf(stderr, "usvhost-trace: %s: empty (no header record)\n", path);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	return 0;
fail:
	if (f != stdin)
		fclose(f);
	trace_free(t);
	return -1;
}

void trace_free(struct trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		json_object_put(t->recs[i].o);
	free(t->recs);
	json_object_put(t->header);
	memset(t, 0, sizeof(*t));
}

const char *trace_profile_name(const struct trace *t)
{
	const char *n = usv_tj_str(usv_tj_obj(t->header, "profile"), "name");

	return n ? n : "?";
}

/* ---- formatting ---------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, used;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->used + 1 >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->used = b->used + (size_t)n < b->len ? b->used + (size_t)n : b->len - 1;
}

static void put_value(struct sbuf *b, json_object *v);

static void put_file(struct sbuf *b, json_object *file)
{
	const char *kind = usv_tj_str(file, "kind"), *s;

	put(b, "<%s", kind ? kind : "?");
	if ((s = usv_tj_str(file, "ifname")))
		put(b, " %s", s);
	if ((s = usv_tj_str(file, "flag_names")))
		put(b, " %s", s);
	if ((s = usv_tj_str(file, "error")))
		put(b, " %s", s);
	if ((s = usv_tj_str(file, "path")))
		put(b, " %s", s);
	put(b, ">");
}

static void put_object(struct sbuf *b, json_object *o)
{
	bool first = true;
	json_object *file = NULL;

	put(b, "{");
	json_object_object_foreach(o, k, v) {
		if (!strcmp(k, "file")) /* shown with the fd */
			continue;
		if (!strcmp(k, "names") && json_object_is_type(v, json_type_array)) {
			/* "features=0x.. MRG_RXBUF|..." */
			put(b, " ");
			for (size_t i = 0; i < json_object_array_length(v); i++)
				put(b, "%s%s", i ? "|" : "",
				    json_object_get_string(json_object_array_get_idx(v, i)));
			continue;
		}
		put(b, "%s%s=", first ? "" : ", ", k);
		first = false;
		put_value(b, v);
		if (!strcmp(k, "fd") && (file = usv_tj_obj(o, "file")))
			put_file(b, file);
	}
	put(b, "}");
}

static void put_value(struct sbuf *b, json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_object:
		put_object(b, v);
		break;
	case json_type_array:
		put(b, "[");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i)
				put(b, ", ");
			put_value(b, json_object_array_get_idx(v, i));
		}
		put(b, "]");
		break;
	case json_type_string:
		put(b, "%s", json_object_get_string(v));
		break;
	case json_type_null:
		put(b, "null");
		break;
	default:
		put(b, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		break;
	}
}

void fmt_args(json_object *o, char *buf, size_t len)
{
	struct sbuf b = { .p = buf, .len = len };

	buf[0] = '\0';
	if (!o) {
		put(&b, "()");
		return;
	}
	put_object(&b, o);
}

void fmt_result(const struct rec *r, char *buf, size_t len)
{
	if (r->ret == 0) {
		snprintf(buf, len, "0");
		return;
	}
	{
		int64_t num = 0;
		const char *msg = "";

		if (usv_tj_i64(r->o, "errno_num", &num) && num > 0)
			msg = strerror((int)num);
		snprintf(buf, len, "-1 %s (%s)", r->err ? r->err : "?", msg);
	}
}

double trace_seconds(int64_t t0, int64_t t)
{
	int64_t d;

	/* A trace is input: its times may be anything, even far apart. */
	if (__builtin_sub_overflow(t, t0, &d))
		return ((double)t - (double)t0) / 1e9;
	return (double)d / 1e9;
}

void fmt_duration(int64_t ns, char *buf, size_t len)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2fms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", (double)ns / 1e9);
}

bool name_in_list(const char *name, const char *list)
{
	const char *p = list;

	if (!name)
		return false;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *item = p;

		if (n > 6 && !strncasecmp(item, "VHOST_", 6)) {
			item += 6;
			n -= 6;
		}
		if (strlen(name) == n && !strncasecmp(name, item, n))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}
