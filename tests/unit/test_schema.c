/* SPDX-License-Identifier: MIT */
/*
 * The ioctl table is the single source of what an ioctl carries:
 *  - a row alone (a hypothetical future ioctl, built here and nowhere in
 *    src/) gets log text, trace JSON both ways, replay's argument, the tail
 *    --inject reads, plausible errnos and the profiles' kernel check;
 *  - usvhost-trace(5)'s lists of what "in" and "out" hold name every row
 *    that decodes a payload, with the schema's field names, and nothing else.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/ioctl_table.h"
#include "core/profile.h"
#include "trace/format.h"
#include "trace/payload.h"

/* ---- a row that only this test has ------------------------------------------ */

/* A future VHOST_SET_VRING_STATS_AREA(struct { u32 index, flags; s32 fd;
 * u32 count; u64 area; u64 words[count]; }), in Linux 7.1 at the earliest. */
static const struct usv_ioctl_desc future = {
	.cmd = 0x4018afa0,
	.name = "SET_VRING_STATS_AREA",
	.path = USV_PATH_VRING,
	.in_size = 24,
	.varlen = true,
	.in = {
		.fields = (const struct usv_ioctl_field[]){
			{ .name = "index", .off = 0, .kind = USV_FK_INDEX },
			{ .name = "flags", .off = 4, .kind = USV_FK_FLAGS32 },
			{ .name = "fd", .off = 8, .kind = USV_FK_FD },
			{ .name = "count", .off = 12, .kind = USV_FK_U32 },
			{ .name = "area", .off = 16, .kind = USV_FK_UADDR },
		},
		.nfields = 5,
		.array = &(const struct usv_ioctl_array){
			.name = "words", .off = 24, .elem_size = 8, .max = 4,
			.count_field = 3, .elem_kind = USV_FK_HEX64,
		},
	},
	.errnos = (const int[]){ EPERM, EFAULT, ENOBUFS, EBADF, 0 },
	.since = USV_KVER(7, 1),
};

/* index 1, flags 0x3, fd 7, five words (one more than the kernel uses). */
static size_t future_bytes(uint8_t *p)
{
	const uint32_t head[4] = { 1, 3, 7, 5 };
	const uint64_t area = 0x7f0000001000ULL;

	memset(p, 0, 64);
	memcpy(p, head, sizeof(head));
	memcpy(p + 16, &area, sizeof(area));
	for (uint64_t i = 0; i < 5; i++) {
		uint64_t w = 0xa + i;

		memcpy(p + 24 + i * 8, &w, sizeof(w));
	}
	return 64;
}

static char *json_text(json_object *o)
{
	return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void a_new_row_is_logged_from_its_schema(void **state)
{
	uint8_t p[64];
	size_t len = future_bytes(p);
	char buf[256] = "";

	(void)state;
	usv_ioctl_decode(&future.in, p, len, buf, sizeof(buf));
	/* The log stops at the words the kernel uses (max 4). */
	assert_string_equal(buf, "index=1 flags=0x3 fd=7 count=5 area=0x7f0000001000 "
			    "[0xa,0xb,0xc,0xd]");
	/* A capture that stopped after the ring index shows the index. */
	buf[0] = '\0';
	usv_ioctl_decode(&future.in, p, 4, buf, sizeof(buf));
	assert_string_equal(buf, "index=1");
}

static void a_new_row_is_traced_and_read_back_from_its_schema(void **state)
{
	uint8_t p[64], back[64] = { 0 };
	size_t len = future_bytes(p);
	json_object *o = json_object_new_object();
	char *s;

	(void)state;
	usv_tj_payload_encode(o, &future.in, p, len, NULL, NULL);
	s = json_text(o);
	/* The trace keeps every word the ioctl read. */
	assert_string_equal(s, "{\"index\":1,\"flags\":3,\"fd\":7,\"count\":5,"
			    "\"area\":\"0x7f0000001000\",\"words\":[\"0xa\",\"0xb\","
			    "\"0xc\",\"0xd\",\"0xe\"]}");
	free(s);
	usv_tj_payload_build(&future.in, o, back, sizeof(back), NULL, NULL);
	assert_memory_equal(back, p, len);
	json_object_put(o);
}

/* Replay's fresh resources: a new fd number, addresses moved by 1 MiB. */
static uint64_t fresh(void *ctx, const struct usv_ioctl_field *f, uint64_t v,
		      uint64_t size, json_object *holder)
{
	(void)size;
	(void)holder;
	++*(unsigned *)ctx;
	return f->kind == USV_FK_FD ? 42 : v + 0x100000;
}

static void a_new_row_is_replayed_from_its_schema(void **state)
{
	uint8_t p[64], arg[64] = { 0 };
	size_t len = future_bytes(p);
	json_object *o = json_object_new_object();
	unsigned mapped = 0;
	uint64_t area;
	int32_t fd;

	(void)state;
	usv_tj_payload_encode(o, &future.in, p, len, NULL, NULL);
	usv_tj_payload_build(&future.in, o, arg, sizeof(arg), fresh, &mapped);
	assert_int_equal(mapped, 2); /* the fd and the address, nothing else */
	memcpy(&fd, arg + 8, sizeof(fd));
	memcpy(&area, arg + 16, sizeof(area));
	assert_int_equal(fd, 42);
	assert_true(area == 0x7f0000101000ULL);
	/* Everything else as recorded. */
	assert_memory_equal(arg, p, 8);
	assert_memory_equal(arg + 12, p + 12, 4);
	assert_memory_equal(arg + 24, p + 24, 40);
	json_object_put(o);
}

static void a_new_row_is_injected_and_gated_from_its_schema(void **state)
{
	uint8_t p[64];

	(void)state;
	future_bytes(p);
	/* --inject reads the tail the kernel reads: min(count, max) words. */
	assert_int_equal(usv_ioctl_tail_bytes(&future, p, 24), 4 * 8);
	assert_int_equal(usv_ioctl_tail_bytes(&future, p, 12), 0); /* no count yet */
	assert_true(usv_ioctl_errno_plausible(&future, EBADF));
	assert_false(usv_ioctl_errno_plausible(&future, E2BIG));
	/* A kernel before the row's version lacks it; usvhost's profile has all. */
	assert_false(usv_ioctl_in_kernel(&future, USV_KVER(6, 17)));
	assert_true(usv_ioctl_in_kernel(&future, USV_KVER(7, 1)));
	assert_true(usv_ioctl_in_kernel(&future, usv_profile_default()->kernel));
	for (unsigned i = 0, n; i < (usv_profile_list(&n), n); i++)
		if (usv_profile_list(&n)[i].kernel != USV_KERNEL_NEWEST)
			assert_false(usv_ioctl_in_kernel(&future, usv_profile_list(&n)[i].kernel));
}

/* ---- usvhost-trace(5) against the table ------------------------------------ */

/* A group of the man page: ioctl names, then the bold field names after them. */
struct group {
	char names[8][64];
	unsigned nnames;
	char fields[24][64];
	unsigned nfields;
};

struct section {
	struct group g[32];
	unsigned n;
};

static bool is_name(const char *w)
{
	size_t n = strlen(w);

	if (n < 4 || !strchr(w, '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((w[i] >= 'A' && w[i] <= 'Z') || w[i] == '_'))
			return false;
	return true;
}

/* Adds the words of one man line to the section's groups: an ioctl name
 * after fields starts a new group; bold lowercase words are fields. */
static void take_line(struct section *s, const char *line)
{
	bool bold = !strncmp(line, ".B ", 3) || !strncmp(line, ".BR ", 4) ||
		    !strncmp(line, ".RB ", 4);
	char word[64];
	size_t k = 0;

	if (!strcmp(line, ".TP") && s->n && s->n < 32 &&
	    (s->g[s->n - 1].nnames || s->g[s->n - 1].nfields))
		s->n++; /* an entry of its own: a new, empty group */
	if (line[0] == '.' && !bold)
		return;
	for (const char *c = line;; c++) {
		bool part = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_';
		struct group *g = s->n ? &s->g[s->n - 1] : NULL;

		if (part && k + 1 < sizeof(word)) {
			word[k++] = *c;
			continue;
		}
		word[k] = '\0';
		if (k && is_name(word)) {
			if ((!g || g->nfields) && s->n < 32)
				g = &s->g[s->n++];
			if (g->nnames < 8)
				snprintf(g->names[g->nnames++], sizeof(g->names[0]), "%s", word);
		} else if (k && bold && g && word[0] >= 'a' && word[0] <= 'z' && g->nfields < 24) {
			snprintf(g->fields[g->nfields++], sizeof(g->fields[0]), "%s", word);
		}
		k = 0;
		if (!*c)
			break;
	}
}

/* The "in" list (.B in ... .RE) and the "out" paragraph (.B out to .TP). */
static void read_man(struct section *in, struct section *out)
{
	const char *srcdir = getenv("srcdir");
	char path[512], line[512];
	struct section *cur = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/man/usvhost-trace.5", srcdir ? srcdir : ".");
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s (run from the build directory, or set srcdir)", path);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, ".B in"))
			cur = in;
		else if (!strcmp(line, ".B out"))
			cur = out;
		else if (cur == in && !strcmp(line, ".RE"))
			cur = NULL;
		else if (cur == out && !strcmp(line, ".TP"))
			cur = NULL;
		else if (cur)
			take_line(cur, line);
	}
	fclose(f);
}

static bool has(const char (*list)[64], unsigned n, const char *w)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(list[i], w))
			return true;
	return false;
}

/* The keys a trace uses for a payload: the fields, "names" of a feature
 * word, "file" of an fd, the array and its elements' fields. */
static unsigned keys(const struct usv_ioctl_payload *pl, char (*k)[64], unsigned n)
{
	unsigned c = 0;

#define KEY(s) do { if (c < n && !has((const char (*)[64])k, c, s)) snprintf(k[c++], 64, "%s", s); } while (0)
	for (unsigned i = 0; i < pl->nfields; i++) {
		KEY(pl->fields[i].name);
		if (pl->fields[i].kind == USV_FK_FEATURES)
			KEY("names");
		if (pl->fields[i].kind == USV_FK_FD)
			KEY("file");
	}
	if (pl->array) {
		KEY(pl->array->name);
		for (unsigned i = 0; i < pl->array->nelem; i++)
			KEY(pl->array->elem[i].name);
	}
#undef KEY
	return c;
}

static const struct group *group_of(const struct section *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		for (unsigned j = 0; j < s->g[i].nnames; j++)
			if (!strcmp(s->g[i].names[j], name))
				return &s->g[i];
	return NULL;
}

/* Every row named in sec with its keys; every name in sec is a row, and
 * every field it gives one of its rows' keys. */
static void check_section(const struct section *sec, const char *what, bool out)
{
	const struct usv_ioctl_desc *rows;
	unsigned nrows;

	rows = usv_ioctl_rows(&nrows);
	for (unsigned i = 0; i < nrows; i++) {
		const struct usv_ioctl_payload *pl = out ? &rows[i].out : &rows[i].in;
		const struct group *g = group_of(sec, rows[i].name);
		char k[24][64];
		unsigned nk = keys(pl, k, 24);
		/* What a trace decodes: in, a payload beyond the ring index; out,
		 * what a handler that can succeed writes back. */
		bool decoded = out ? pl->nfields && (rows[i].dev_fn || rows[i].vq_fn)
				   : !usv_ioctl_index_only(pl);

		if (decoded && !g)
			fail_msg("usvhost-trace(5) does not list %s under \"%s\"", rows[i].name, what);
		for (unsigned j = 0; decoded && j < nk; j++)
			if (!has(g->fields, g->nfields, k[j]))
				fail_msg("usvhost-trace(5) \"%s\": %s lacks the field %s", what,
					 rows[i].name, k[j]);
	}
	for (unsigned i = 0; i < sec->n; i++) {
		const struct group *g = &sec->g[i];

		for (unsigned j = 0; j < g->nnames; j++)
			if (!usv_ioctl_lookup_name(g->names[j]))
				fail_msg("usvhost-trace(5) \"%s\" names %s, which the table does "
					 "not have", what, g->names[j]);
		for (unsigned f = 0; g->nnames && f < g->nfields; f++) {
			bool known = false;

			for (unsigned j = 0; j < g->nnames && !known; j++) {
				const struct usv_ioctl_desc *d = usv_ioctl_lookup_name(g->names[j]);
				char k[24][64];
				unsigned nk = keys(out ? &d->out : &d->in, k, 24);

				known = has((const char (*)[64])k, nk, g->fields[f]);
			}
			if (!known)
				fail_msg("usvhost-trace(5) \"%s\": %s is no field of %s", what,
					 g->fields[f], g->names[0]);
		}
	}
}

static void the_man_page_lists_what_the_table_decodes(void **state)
{
	static struct section in, out;

	(void)state;
	read_man(&in, &out);
	assert_true(in.n >= 8);
	assert_true(out.n >= 3);
	check_section(&in, "in", false);
	check_section(&out, "out", true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_new_row_is_logged_from_its_schema),
		cmocka_unit_test(a_new_row_is_traced_and_read_back_from_its_schema),
		cmocka_unit_test(a_new_row_is_replayed_from_its_schema),
		cmocka_unit_test(a_new_row_is_injected_and_gated_from_its_schema),
		cmocka_unit_test(the_man_page_lists_what_the_table_decodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
