/* SPDX-License-Identifier: MIT */
/* usvhost-trace: shared pieces of the subcommands. */
#ifndef USV_TOOLS_TOOL_H
#define USV_TOOLS_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace/format.h"

/* One record of a loaded trace, with its common fields looked up. */
struct rec {
	json_object *o;
	const char *type;   /* "ioctl", "open", ... */
	int64_t seq;
	int64_t time_ns;
	int64_t dev;        /* -1: none */
	const char *ioctl;  /* ioctl records: the name */
	json_object *in, *out;
	int64_t ret;        /* ioctl records: 0 or -1 */
	const char *err;    /* errno name when ret is -1 */
	bool injected;
	int64_t latency_ns;
};

struct trace {
	const char *path;
	json_object *header;
	struct rec *recs;
	size_t n;
	bool ended;         /* an "end" record was seen */
	int64_t t0;         /* time_ns of the header */
};

/* Loads a whole trace ("-": stdin). 0, or -1 with a message on stderr. */
int trace_load(const char *path, struct trace *t);
void trace_free(struct trace *t);
const char *trace_profile_name(const struct trace *t);

/* "{index=0, fd=31<eventfd>}" for an "in"/"out" object, into buf. */
void fmt_args(json_object *o, char *buf, size_t len);
/* "0", "-1 EPERM (Operation not permitted)". */
void fmt_result(const struct rec *r, char *buf, size_t len);
/* Seconds from t0 to t (nanoseconds as recorded, any values: exact while
 * the difference fits in 64 bits). */
double trace_seconds(int64_t t0, int64_t t);
/* "12.3us", "1.20ms", "2.00s". */
void fmt_duration(int64_t ns, char *buf, size_t len);
/* Is name in a comma-separated list (names with or without VHOST_)? */
bool name_in_list(const char *name, const char *list);

/* Looks up the common fields of r->o. */
void rec_fill(struct rec *r);

/* show's filters and form. */
#define SHOW_MAX_DEVS 64
struct show_opts {
	int64_t devs[SHOW_MAX_DEVS];
	unsigned ndevs;
	char ioctls[1024];
	bool errors, events, absolute;
};
/* The lines above the records (suffix: after the profile name). */
void show_header(const struct show_opts *o, const char *path, json_object *header,
		 const char *profile, const char *suffix);
/* One record's line, if the filters keep it; t0: the header's time. */
void show_rec(const struct show_opts *o, int64_t t0, const struct rec *r);
/* show --follow: records as they are appended, until the end record or
 * SIGINT/SIGTERM. */
int show_follow(const struct show_opts *o, const char *path);

int cmd_show(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
