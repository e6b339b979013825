/* SPDX-License-Identifier: MIT */
/*
 * usvhost-trace diff A B: compares two ioctl sequences (two QEMU versions,
 * two guests) by ioctl and argument shape. Addresses (ring and region user
 * addresses, log bases, the argument pointer) and fd numbers naturally
 * differ between runs and are ignored; so are ring positions read back by
 * GET_VRING_BASE after the ring ran, and tap interface names, unless
 * --strict. Sequences are aligned per device (in order of appearance) on
 * the ioctl name and ring index, as diff(1) aligns lines.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tool.h"

struct item {
	const struct rec *r;
	char key[64];
	json_object *norm;
};

struct side {
	struct trace t;
	int64_t devs[256];
	unsigned ndevs;
};

static bool strict;
static bool with_events;
static unsigned ndiff;

static bool is_address_key(const char *k)
{
	static const char *const keys[] = { "desc", "used", "avail", "log", "uaddr",
					    "log_base", "arg", "path", NULL };

	for (unsigned i = 0; keys[i]; i++)
		if (!strcmp(k, keys[i]))
			return true;
	return false;
}

/* A copy of o without what naturally differs between runs. */
static json_object *normalise(json_object *o, const char *parent)
{
	json_object *n;

	switch (json_object_get_type(o)) {
	case json_type_object:
		n = json_object_new_object();
		json_object_object_foreach(o, k, v) {
			if (is_address_key(k))
				continue;
			if (!strict && !strcmp(k, "ifname"))
				continue;
			if (!strcmp(k, "fd")) {
				/* Bound or unbound matters, the number does not. */
				json_object_object_add(n, k, json_object_new_string(
					json_object_get_int64(v) == -1 ? "-1" : "fd"));
				continue;
			}
			json_object_object_add(n, k, normalise(v, k));
		}
		return n;
	case json_type_array:
		n = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(o); i++)
			json_object_array_add(n, normalise(json_object_array_get_idx(o, i), parent));
		return n;
	default:
		return json_object_get(o);
	}
}

static void make_item(struct item *it, const struct rec *r)
{
	int64_t idx;
	json_object *n = json_object_new_object();

	it->r = r;
	if (!strcmp(r->type, "ioctl")) {
		if (r->in && usv_tj_i64(r->in, "index", &idx))
			snprintf(it->key, sizeof(it->key), "%s index=%" PRId64,
				 r->ioctl ? r->ioctl : "?", idx);
		else
			snprintf(it->key, sizeof(it->key), "%s", r->ioctl ? r->ioctl : "?");
		if (r->in)
			json_object_object_add(n, "in", normalise(r->in, "in"));
		json_object_object_add(n, "ret", json_object_new_int64(r->ret));
		if (r->err)
			json_object_object_add(n, "errno", json_object_new_string(r->err));
		if (r->out) {
			json_object *out = normalise(r->out, "out");

			/* Where a ring stood when stopped depends on the traffic. */
			if (!strict && r->ioctl && !strcmp(r->ioctl, "GET_VRING_BASE"))
				json_object_object_del(out, "num");
			json_object_object_add(n, "out", out);
		}
		if (r->injected)
			json_object_object_add(n, "injected", json_object_new_boolean(true));
		if (strict && usv_tj_str(r->o, "note"))
			json_object_object_add(n, "note", json_object_new_string(
				usv_tj_str(r->o, "note")));
	} else {
		if (usv_tj_i64(r->o, "index", &idx))
			snprintf(it->key, sizeof(it->key), "-- %s index=%" PRId64, r->type, idx);
		else
			snprintf(it->key, sizeof(it->key), "-- %s", r->type);
		json_object_object_foreach(r->o, k, v) {
			if (strcmp(k, "type") && strcmp(k, "seq") && strcmp(k, "time_ns") &&
			    strcmp(k, "dev") && strcmp(k, "tid") && strcmp(k, "tgid") &&
			    strcmp(k, "thread"))
				json_object_object_add(n, k, normalise(v, k));
		}
	}
	it->norm = n;
}

static bool wanted(const struct rec *r)
{
	if (!strcmp(r->type, "ioctl"))
		return true;
	if (!with_events)
		return false;
	return strcmp(r->type, "end") != 0;
}

/*
 * While a ring runs, QEMU swaps its call eventfd to mask and unmask the
 * guest's interrupt, as often as the guest's timing makes it: such
 * SET_VRING_CALLs (between a ring's NET_SET_BACKEND fd and -1) are noise
 * unless --strict.
 */
static bool masking_noise(const struct rec *r, bool running[2])
{
	int64_t idx, fd;

	if (strcmp(r->type, "ioctl") || !r->ioctl || !r->in ||
	    !usv_tj_i64(r->in, "index", &idx) || idx < 0 || idx > 1)
		return false;
	if (!strcmp(r->ioctl, "NET_SET_BACKEND") && !r->ret && usv_tj_i64(r->in, "fd", &fd))
		running[idx] = fd != -1;
	return !strict && running[idx] && !strcmp(r->ioctl, "SET_VRING_CALL");
}

static unsigned nmasking;

static size_t items_of(const struct side *s, int64_t dev, struct item **out)
{
	struct item *items = calloc(s->t.n + 1, sizeof(*items));
	bool running[2] = { false, false };
	size_t n = 0;

	for (size_t i = 0; items && i < s->t.n; i++) {
		const struct rec *r = &s->t.recs[i];

		if (r->dev != dev || !wanted(r))
			continue;
		if (masking_noise(r, running)) {
			nmasking++;
			continue;
		}
		make_item(&items[n++], r);
	}
	*out = items;
	return n;
}

static void free_items(struct item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(items[i].norm);
	free(items);
}

static void value_str(json_object *v, char *buf, size_t len)
{
	if (!v)
		snprintf(buf, len, "(none)");
	else if (json_object_is_type(v, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(v));
	else
		snprintf(buf, len, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

/* "(+MRG_RXBUF -EVENT_IDX)" for two feature words. */
static void feature_delta(json_object *a, json_object *b, char *buf, size_t len)
{
	uint64_t x, y, d;
	size_t used = 0;
	json_object *wa = json_object_new_object(), *wb = json_object_new_object();

	buf[0] = '\0';
	json_object_object_add(wa, "v", json_object_get(a));
	json_object_object_add(wb, "v", json_object_get(b));
	if (usv_tj_u64(wa, "v", &x) && usv_tj_u64(wb, "v", &y) && (d = x ^ y)) {
		used += (size_t)snprintf(buf, len, " (");
		for (unsigned bit = 0; bit < 64 && used < len; bit++) {
			const char *name;

			if (!(d >> bit & 1))
				continue;
			name = usv_feature_name(bit);
			used += (size_t)snprintf(buf + used, len - used, "%s%c%s", used > 2 ? " " : "",
						 (y >> bit & 1) ? '+' : '-', name ? name : "?");
		}
		if (used < len)
			snprintf(buf + used, len - used, ")");
	}
	json_object_put(wa);
	json_object_put(wb);
}

/* Prints "path: a -> b" for every leaf that differs; returns how many. */
static unsigned leaf_diff(const char *path, json_object *a, json_object *b, char *out,
			  size_t len, size_t *used)
{
	char pa[256], pb[256], sub[256], delta[256] = "";
	unsigned n = 0;

	if (a && b && json_object_get_type(a) == json_object_get_type(b) &&
	    json_object_is_type(a, json_type_object)) {
		json_object_object_foreach(a, k, v) {
			json_object *w = NULL;

			json_object_object_get_ex(b, k, &w);
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
			n += leaf_diff(sub, v, w, out, len, used);
		}
		json_object_object_foreach(b, k2, v2) {
			if (!json_object_object_get_ex(a, k2, NULL)) {
				snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k2);
				n += leaf_diff(sub, NULL, v2, out, len, used);
			}
		}
		return n;
	}
	if (a && b && json_object_is_type(a, json_type_array) &&
	    json_object_is_type(b, json_type_array) &&
	    json_object_array_length(a) == json_object_array_length(b)) {
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			n += leaf_diff(sub, json_object_array_get_idx(a, i),
				       json_object_array_get_idx(b, i), out, len, used);
		}
		return n;
	}
	if (a && b && json_object_equal(a, b))
		return 0;
	/* "names" only restates "features". */
	if (strlen(path) >= 5 && !strcmp(path + strlen(path) - 5, "names"))
		return 0;
	value_str(a, pa, sizeof(pa));
	value_str(b, pb, sizeof(pb));
	if (a && b && strstr(path, "features"))
		feature_delta(a, b, delta, sizeof(delta));
	if (*used < len)
		*used += (size_t)snprintf(out + *used, len - *used, "%s%s %s -> %s%s",
					  *used ? ", " : "", path, pa, pb, delta);
	return 1;
}

static void print_only(char sign, const struct item *it)
{
	char args[2048] = "", res[128] = "";

	if (!strcmp(it->r->type, "ioctl")) {
		fmt_args(it->r->in, args, sizeof(args));
		fmt_result(it->r, res, sizeof(res));
		printf("%c #%" PRId64 " %s %s = %s%s\n", sign, it->r->seq,
		       it->r->ioctl ? it->r->ioctl : "?", args, res,
		       it->r->injected ? " [injected]" : "");
	} else {
		printf("%c #%" PRId64 " %s %s\n", sign, it->r->seq, it->key,
		       json_object_to_json_string_ext(it->norm, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	ndiff++;
}

static void compare_pair(const struct item *a, const struct item *b)
{
	char buf[4096];
	size_t used = 0;

	if (json_object_equal(a->norm, b->norm))
		return;
	buf[0] = '\0';
	if (!leaf_diff("", a->norm, b->norm, buf, sizeof(buf), &used))
		return;
	printf("~ #%" PRId64 "/#%" PRId64 " %s: %s\n", a->r->seq, b->r->seq, a->key, buf);
	ndiff++;
}

/* Aligns two sequences on their keys (longest common subsequence). */
static void diff_seq(struct item *a, size_t na, struct item *b, size_t nb)
{
	size_t pre = 0, suf = 0, n, m;
	uint32_t *L;

	while (pre < na && pre < nb && !strcmp(a[pre].key, b[pre].key))
		pre++;
	while (suf < na - pre && suf < nb - pre &&
	       !strcmp(a[na - 1 - suf].key, b[nb - 1 - suf].key))
		suf++;
	for (size_t i = 0; i < pre; i++)
		compare_pair(&a[i], &b[i]);
	n = na - pre - suf;
	m = nb - pre - suf;
	L = (n + 1) * (m + 1) <= (64u << 20) / sizeof(uint32_t)
		    ? calloc((n + 1) * (m + 1), sizeof(uint32_t)) : NULL;
	if (!L && n && m) {
		/* Too long to align: compare position by position. */
		fprintf(stderr, "usvhost-trace diff: %zu x %zu records differ; comparing by "
			"position\n", n, m);
		for (size_t i = 0; i < n || i < m; i++) {
			if (i < n && i < m && !strcmp(a[pre + i].key, b[pre + i].key))
				compare_pair(&a[pre + i], &b[pre + i]);
			else {
				if (i < n)
					print_only('-', &a[pre + i]);
				if (i < m)
					print_only('+', &b[pre + i]);
			}
		}
	} else {
#define AT(i, j) L[(size_t)(i) * (m + 1) + (j)]
		for (size_t i = n; i-- > 0;)
			for (size_t j = m; j-- > 0;)
				AT(i, j) = !strcmp(a[pre + i].key, b[pre + j].key)
						   ? AT(i + 1, j + 1) + 1
						   : (AT(i + 1, j) > AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1));
		{
			size_t i = 0, j = 0;

			while (i < n || j < m) {
				if (i < n && j < m && !strcmp(a[pre + i].key, b[pre + j].key)) {
					compare_pair(&a[pre + i], &b[pre + j]);
					i++;
					j++;
				} else if (j == m || (i < n && AT(i + 1, j) >= AT(i, j + 1))) {
					print_only('-', &a[pre + i]);
					i++;
				} else {
					print_only('+', &b[pre + j]);
					j++;
				}
			}
		}
#undef AT
	}
	free(L);
	for (size_t i = 0; i < suf; i++)
		compare_pair(&a[na - suf + i], &b[nb - suf + i]);
}

static void collect_devs(struct side *s)
{
	for (size_t i = 0; i < s->t.n; i++) {
		int64_t d = s->t.recs[i].dev;
		unsigned k;

		if (d < 0)
			continue;
		for (k = 0; k < s->ndevs && s->devs[k] != d; k++)
			;
		if (k == s->ndevs && s->ndevs < 256)
			s->devs[s->ndevs++] = d;
	}
}

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "strict", no_argument, NULL, 's' },
		{ "events", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct side *s = calloc(2, sizeof(*s));
	int c, ret = 2;

	strict = with_events = false;
	ndiff = nmasking = 0;
	optind = 1;
	if (!s)
		return 2;
	while ((c = getopt_long(argc, argv, "seh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			strict = true;
			break;
		case 'e':
			with_events = true;
			break;
		case 'h':
			printf("Usage: usvhost-trace diff [--strict] [--events] A B\n");
			free(s);
			return 0;
		default:
			free(s);
			return 2;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, "usvhost-trace diff: two trace files expected\n");
		free(s);
		return 2;
	}
	if (trace_load(argv[optind], &s[0].t))
		goto out_free;
	if (trace_load(argv[optind + 1], &s[1].t))
		goto out_a;
	collect_devs(&s[0]);
	collect_devs(&s[1]);
	printf("--- %s (%s, profile %s)\n", s[0].t.path,
	       usv_tj_str(s[0].t.header, "producer") ?: "?", trace_profile_name(&s[0].t));
	printf("+++ %s (%s, profile %s)\n", s[1].t.path,
	       usv_tj_str(s[1].t.header, "producer") ?: "?", trace_profile_name(&s[1].t));
	for (unsigned k = 0; k < s[0].ndevs || k < s[1].ndevs; k++) {
		struct item *a = NULL, *b = NULL;
		size_t na = 0, nb = 0;

		if (k < s[0].ndevs)
			na = items_of(&s[0], s[0].devs[k], &a);
		if (k < s[1].ndevs)
			nb = items_of(&s[1], s[1].devs[k], &b);
		if (k < s[0].ndevs && k < s[1].ndevs)
			printf("@@ dev %" PRId64 " / dev %" PRId64 " (%zu / %zu records)\n",
			       s[0].devs[k], s[1].devs[k], na, nb);
		else
			printf("@@ dev %" PRId64 " only in %s\n",
			       k < s[0].ndevs ? s[0].devs[k] : s[1].devs[k],
			       k < s[0].ndevs ? "A" : "B");
		diff_seq(a, na, b, nb);
		free_items(a, na);
		free_items(b, nb);
	}
	printf("%u difference%s", ndiff, ndiff == 1 ? "" : "s");
	if (nmasking)
		printf(" (%u interrupt mask/unmask SET_VRING_CALL%s on running rings "
		       "not compared; --strict compares them)", nmasking, nmasking == 1 ? "" : "s");
	printf("\n");
	ret = ndiff ? 1 : 0;
	trace_free(&s[1].t);
out_a:
	trace_free(&s[0].t);
out_free:
	free(s);
	return ret;
}
