/* SPDX-License-Identifier: MIT */
/* usvhost-trace: one record as show prints it (aligned, like strace), used by
 * show and by show --follow. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/tool.h"

static void show_event(const struct rec *r, char *buf, size_t len)
{
	json_object *b = usv_tj_obj(r->o, "backend");
	const char *s;
	int64_t v;
	size_t used;

	buf[0] = '\0';
	if (!strcmp(r->type, "open")) {
		const char *comm = usv_tj_str(r->o, "comm");
		int64_t tgid = 0, n = 0;

		usv_tj_i64(r->o, "tgid", &tgid);
		usv_tj_i64(r->o, "open_devices", &n);
		snprintf(buf, len, "open by %" PRId64 " (%s), %" PRId64 " open", tgid,
			 comm ? comm : "?", n);
	} else if (!strcmp(r->type, "release")) {
		int64_t n = 0;

		usv_tj_i64(r->o, "open_devices", &n);
		snprintf(buf, len, "release, %" PRId64 " open", n);
	} else if (!strcmp(r->type, "attach") || !strcmp(r->type, "detach")) {
		char ring[32] = "";

		if (usv_tj_i64(r->o, "index", &v))
			snprintf(ring, sizeof(ring), "vq %" PRId64, v);
		snprintf(buf, len, "%s %s %s %s", r->type, ring,
			 !strcmp(r->type, "attach") ? "to" : "from",
			 usv_tj_str(b, "kind") ? usv_tj_str(b, "kind") : "?");
		used = strlen(buf);
		if ((s = usv_tj_str(b, "ifname")))
			used += (size_t)snprintf(buf + used, len - used, " %s", s);
		if ((s = usv_tj_str(b, "flag_names")) && used < len)
			used += (size_t)snprintf(buf + used, len - used, " (%s)", s);
		if (usv_tj_i64(r->o, "last_avail_idx", &v) && used < len)
			used += (size_t)snprintf(buf + used, len - used, " last_avail_idx=%" PRId64, v);
		if (usv_tj_i64(r->o, "last_used_idx", &v) && used < len)
			used += (size_t)snprintf(buf + used, len - used, " last_used_idx=%" PRId64, v);
		if ((s = usv_tj_str(r->o, "reason")) && used < len)
			snprintf(buf + used, len - used, " (%s)", s);
	} else if (!strcmp(r->type, "ring_error")) {
		usv_tj_i64(r->o, "index", &v);
		snprintf(buf, len, "ring error on vq %" PRId64 ": %s", v,
			 usv_tj_str(r->o, "reason") ? usv_tj_str(r->o, "reason") : "");
	} else if (!strcmp(r->type, "memory")) {
		json_object *regs = usv_tj_arr(r->o, "regions");

		used = (size_t)snprintf(buf, len, "memory table:");
		for (size_t i = 0; regs && i < json_object_array_length(regs) && used < len; i++) {
			json_object *g = json_object_array_get_idx(regs, i);

			used += (size_t)snprintf(buf + used, len - used, "%s gpa=%s size=%s %s (%s)",
						 i ? ";" : "", usv_tj_str(g, "gpa"),
						 usv_tj_str(g, "size"), usv_tj_str(g, "strategy"),
						 usv_tj_str(g, "backing"));
		}
	} else if (!strcmp(r->type, "iotlb")) {
		const char *t = usv_tj_str(r->o, "iotlb_type");
		const char *d = usv_tj_str(r->o, "dir");

		used = (size_t)snprintf(buf, len, "iotlb %s %s %s iova=%s size=%s uaddr=%s perm=%s",
					d ? d : "?", usv_tj_str(r->o, "msg") ? usv_tj_str(r->o, "msg") : "?",
					t ? t : "?", usv_tj_str(r->o, "iova"), usv_tj_str(r->o, "size"),
					usv_tj_str(r->o, "uaddr"),
					usv_tj_str(r->o, "perm") ? usv_tj_str(r->o, "perm") : "?");
		if (d && !strcmp(d, "write") && used < len)
			snprintf(buf + used, len - used, " -> %s",
				 usv_tj_str(r->o, "errno") ? usv_tj_str(r->o, "errno") : "0");
	} else if (!strcmp(r->type, "end")) {
		usv_tj_i64(r->o, "records", &v);
		snprintf(buf, len, "end of trace (%" PRId64 " records)", v);
	} else {
		snprintf(buf, len, "%s", json_object_to_json_string_ext(r->o, JSON_C_TO_STRING_PLAIN));
	}
}

static bool keep_rec(const struct show_opts *o, const struct rec *r)
{
	bool is_ioctl = !strcmp(r->type, "ioctl");
	bool keep = o->ndevs == 0;

	for (unsigned k = 0; k < o->ndevs; k++)
		keep |= o->devs[k] == r->dev;
	if (!keep)
		return false;
	if (!is_ioctl && (!o->events || o->ioctls[0] || o->errors))
		return false;
	if (is_ioctl && o->ioctls[0] && !name_in_list(r->ioctl, o->ioctls))
		return false;
	if (is_ioctl && o->errors && r->ret == 0)
		return false;
	return true;
}

void show_header(const struct show_opts *o, const char *path, json_object *header,
		 const char *profile, const char *suffix)
{
	printf("# %s: %s, format %s, profile %s%s\n", path,
	       usv_tj_str(header, "producer") ? usv_tj_str(header, "producer") : "?",
	       json_object_get_string(json_object_object_get(header, "version")),
	       profile, suffix);
	if (usv_tj_arr(header, "inject"))
		printf("# inject: %s\n", json_object_to_json_string_ext(
			       usv_tj_arr(header, "inject"), JSON_C_TO_STRING_PLAIN));
	printf("%-12s %-4s %-7s %-26s %s\n", o->absolute ? "TIME" : "+SECONDS", "DEV", "TID",
	       "IOCTL", "ARGUMENTS = RESULT <LATENCY>");
}

void show_rec(const struct show_opts *o, int64_t t0, const struct rec *r)
{
	char args[4096], res[128], lat[32], when[40], what[2048];
	char devs_s[24] = "-";

	if (!keep_rec(o, r))
		return;
	if (o->absolute)
		snprintf(when, sizeof(when), "%" PRId64 ".%06" PRId64, r->time_ns / 1000000000,
			 r->time_ns % 1000000000 / 1000);
	else
		snprintf(when, sizeof(when), "%+.6f", trace_seconds(t0, r->time_ns));
	if (r->dev >= 0)
		snprintf(devs_s, sizeof(devs_s), "%" PRId64, r->dev);
	if (!strcmp(r->type, "ioctl")) {
		int64_t tid = 0;
		char tids[24];

		usv_tj_i64(r->o, "tid", &tid);
		snprintf(tids, sizeof(tids), "%" PRId64, tid);
		fmt_args(r->in, args, sizeof(args));
		fmt_result(r, res, sizeof(res));
		fmt_duration(r->latency_ns, lat, sizeof(lat));
		snprintf(what, sizeof(what), "%s", "");
		if (r->out) {
			fmt_args(r->out, what, sizeof(what));
		}
		printf("%-12s %-4s %-7s %-26s %s = %s%s%s%s%s%s%s <%s>\n", when, devs_s, tids,
		       r->ioctl ? r->ioctl : "?", args, res, what[0] ? " " : "", what,
		       usv_tj_str(r->o, "note") ? " (" : "",
		       usv_tj_str(r->o, "note") ? usv_tj_str(r->o, "note") : "",
		       usv_tj_str(r->o, "note") ? ")" : "",
		       r->injected ? " [injected]" : "", lat);
	} else {
		show_event(r, what, sizeof(what));
		printf("%-12s %-4s %-7s -- %s\n", when, devs_s, "", what);
	}
}
