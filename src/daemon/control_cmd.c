/* SPDX-License-Identifier: MIT */
#include "daemon/control_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "core/devsummary.h"
#include "core/errno_name.h"
#include "core/log.h"
#include "daemon/takeover.h"
#include "datapath/uring_dp.h"
#include "trace/format.h"
#include "usvhost/control.h"

/* Bytes of /proc/PID/cmdline looked at for QEMU's -name. */
#define CMDLINE_MAX 65536
#define FUSE_SUPER_MAGIC 0x65735546

/* A command's outcome: 0 with *result, or -errno with msg. */
struct answer {
	json_object *result;
	char msg[256];
};

static int fail(struct answer *a, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct answer *a, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof(a->msg), fmt, ap);
	va_end(ap);
	return err;
}

/* QEMU's -name [guest=]NAME[,opts] from a NUL-separated command line. */
static void guest_from_cmdline(const char *p, size_t len, char *out, size_t outlen)
{
	const char *end = p + len;

	out[0] = '\0';
	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));
		const char *v = p + n + 1;

		if ((!strcmp(p, "-name") || !strcmp(p, "--name")) && v < end) {
			size_t vn = strnlen(v, (size_t)(end - v)), k;

			if (vn > 6 && !strncmp(v, "guest=", 6)) {
				v += 6;
				vn -= 6;
			}
			for (k = 0; k < vn && v[k] != ','; k++)
				;
			snprintf(out, outlen, "%.*s", (int)k, v);
			return;
		}
		p += n + 1;
	}
}

/* The guest name of process pid, read with no lock held. */
static void guest_name(pid_t pid, char *out, size_t outlen)
{
	char path[64], *buf = malloc(CMDLINE_MAX);
	ssize_t n = -1;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = buf && pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		n = read(fd, buf, CMDLINE_MAX);
		close(fd);
	}
	if (n > 0)
		guest_from_cmdline(buf, (size_t)n, out, outlen);
	free(buf);
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static const char *dir_name(unsigned idx)
{
	return idx == USV_VQ_RX ? "rx" : "tx";
}

/* {"pid":..,"comm":..,"guest":..}, or null without an owner. */
static json_object *owner_json(const struct usv_dev_summary *s)
{
	json_object *o;
	char guest[128];

	if (!s->owner)
		return NULL;
	o = json_object_new_object();
	guest_name(s->owner, guest, sizeof(guest));
	add_int(o, "pid", s->owner);
	add_str(o, "comm", s->comm);
	if (guest[0])
		add_str(o, "guest", guest);
	return o;
}

static const char *mem_strategy(const struct usv_dev_summary *s)
{
	if (!s->has_mem || !s->nregions)
		return "none";
	if (s->nmapped == s->nregions)
		return "mmap";
	return s->nmapped ? "mixed" : "procmem";
}

static json_object *device_json(const struct usv_dev_summary *s)
{
	json_object *d = json_object_new_object(), *rings = json_object_new_array();
	json_object *taps = json_object_new_array(), *feat = json_object_new_array();
	json_object *mem = json_object_new_object();

	add_int(d, "handle", s->handle);
	add_int(d, "uid", s->uid);
	json_object_object_add(d, "busy", json_object_new_boolean(s->busy));
	json_object_object_add(d, "owner", owner_json(s));
	for (unsigned i = 0; i < USV_FEATURES_DWORDS; i++)
		json_object_array_add(feat, usv_tj_hex(s->features[i]));
	json_object_object_add(d, "features", feat);
	json_object_object_add(d, "feature_names", usv_tj_feature_names(s->features[0], 0));
	json_object_object_add(d, "backend_features", usv_tj_hex(s->backend_features));
	add_u64(d, "ioctls", s->ioctls);
	add_str(mem, "strategy", mem_strategy(s));
	add_int(mem, "regions", s->nregions);
	add_int(mem, "mapped", s->nmapped);
	json_object_object_add(d, "memory", mem);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		const struct usv_vq_summary *q = &s->vq[i];
		json_object *r = json_object_new_object();

		add_int(r, "index", i);
		add_str(r, "dir", dir_name(i));
		add_int(r, "num", q->num);
		add_str(r, "state", q->running ? "started" : "stopped");
		if (q->running) {
			add_str(r, "backend", usv_fd_kind_name(q->backend.kind));
			if (q->backend.ifname[0])
				add_str(r, "ifname", q->backend.ifname);
		}
		json_object_array_add(rings, r);
		if (q->running && q->backend.ifname[0] &&
		    (i == 0 || !s->vq[0].running ||
		     strcmp(s->vq[0].backend.ifname, q->backend.ifname)))
			json_object_array_add(taps, json_object_new_string(q->backend.ifname));
	}
	json_object_object_add(d, "taps", taps);
	json_object_object_add(d, "rings", rings);
	return d;
}

static json_object *trace_json(struct usv_trace_switch *sw)
{
	json_object *t = json_object_new_object();
	char name[256];
	bool on = usv_trace_switch_state(sw, name, sizeof(name));

	json_object_object_add(t, "on", json_object_new_boolean(on));
	if (on)
		add_str(t, "name", name);
	return t;
}

static int cmd_list(const struct usv_control_ctx *ctx, json_object *args, int *fds,
		    unsigned nfds, struct answer *a)
{
	struct usv_dev_summary *s;
	json_object *devs;
	unsigned n;
	int ret;

	(void)args, (void)fds, (void)nfds;
	ret = usv_devlist_summarize(ctx->devs, &s, &n);
	if (ret)
		return fail(a, ret, "cannot list the devices");
	a->result = json_object_new_object();
	devs = json_object_new_array();
	for (unsigned i = 0; i < n; i++)
		json_object_array_add(devs, device_json(&s[i]));
	free(s);
	json_object_object_add(a->result, "devices", devs);
	json_object_object_add(a->result, "trace", trace_json(ctx->trace));
	add_str(a->result, "log_level", usv_log_level_name(usv_log_get_level()));
	json_object_object_add(a->result, "stats", json_object_new_boolean(ctx->dp != NULL));
	return 0;
}

static json_object *ring_stats_json(const struct usv_dp_ring_stats *r)
{
	json_object *o = json_object_new_object();

	add_int(o, "index", r->idx);
	add_str(o, "dir", dir_name(r->idx));
	add_str(o, "state", r->state);
	if (r->backend[0])
		add_str(o, "backend", r->backend);
	add_u64(o, "packets", r->packets);
	add_u64(o, "bytes", r->bytes);
	add_u64(o, "kicks", r->kicks);
	add_u64(o, "interrupts", r->interrupts);
	add_u64(o, "drops", r->drops);
	add_u64(o, "errors", r->errors);
	return o;
}

static const struct usv_dev_summary *find_dev(const struct usv_dev_summary *s, unsigned n,
					      unsigned handle)
{
	for (unsigned i = 0; i < n; i++)
		if (s[i].handle == handle)
			return &s[i];
	return NULL;
}

/* One object per device with its rings, in the datapath's order; the owner
 * from the device list (a device the datapath has not seen has no rings
 * yet and is left out). */
static int cmd_stats(const struct usv_control_ctx *ctx, json_object *args, int *fds,
		     unsigned nfds, struct answer *a)
{
	struct usv_dp_ring_stats *r = NULL;
	struct usv_dev_summary *s = NULL;
	json_object *devs, *released, *cur = NULL, *rings = NULL;
	unsigned nr = 0, ns = 0;
	struct timespec ts;
	int ret;

	(void)args, (void)fds, (void)nfds;
	if (!ctx->dp)
		return fail(a, -EAGAIN, "the datapath is not running yet");
	if ((ret = usv_dp_stats_collect(ctx->dp, &r, &nr)) ||
	    (ret = usv_devlist_summarize(ctx->devs, &s, &ns))) {
		free(r);
		return fail(a, ret, "cannot collect the counters");
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	a->result = json_object_new_object();
	add_int(a->result, "time_ns", (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	devs = json_object_new_array();
	released = json_object_new_array();
	for (unsigned i = 0; i < nr; i++) {
		if (r[i].handle == UINT_MAX) {
			json_object_array_add(released, ring_stats_json(&r[i]));
			continue;
		}
		if (i == 0 || r[i - 1].handle != r[i].handle) {
			const struct usv_dev_summary *d = find_dev(s, ns, r[i].handle);

			cur = json_object_new_object();
			rings = json_object_new_array();
			add_int(cur, "handle", r[i].handle);
			json_object_object_add(cur, "owner", d ? owner_json(d) : NULL);
			json_object_object_add(cur, "rings", rings);
			json_object_array_add(devs, cur);
		}
		json_object_array_add(rings, ring_stats_json(&r[i]));
	}
	json_object_object_add(a->result, "devices", devs);
	json_object_object_add(a->result, "released", released);
	free(r);
	free(s);
	return 0;
}

/* The trace goes to a file the client opened with its own rights and
 * passed: the daemon never opens a path for a client. It must be a regular
 * file not on a FUSE filesystem, so that a trace write (made while a device
 * is locked) cannot wait on someone's server. */
static int check_trace_fd(int fd, struct answer *a)
{
	struct statfs sfs;
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fstat(fd, &st) || fstatfs(fd, &sfs))
		return fail(a, -EBADF, "the trace descriptor is unusable");
	if (!S_ISREG(st.st_mode))
		return fail(a, -EINVAL, "the trace must go to a regular file");
	if ((fl & O_ACCMODE) == O_RDONLY)
		return fail(a, -EBADF, "the trace file is not open for writing");
	if (sfs.f_type == FUSE_SUPER_MAGIC)
		return fail(a, -EINVAL, "the trace file may not be on a FUSE filesystem");
	return 0;
}

static int cmd_trace(const struct usv_control_ctx *ctx, json_object *args, int *fds,
		     unsigned nfds, struct answer *a)
{
	const char *state = args ? usv_tj_str(args, "state") : NULL;
	const char *name = args ? usv_tj_str(args, "name") : NULL;
	int ret;

	if (!state || (strcmp(state, "on") && strcmp(state, "off")))
		return fail(a, -EINVAL, "trace: \"state\" must be \"on\" or \"off\"");
	if (!strcmp(state, "off")) {
		usv_trace_switch_off(ctx->trace);
		usv_info("control: tracing off (uid %u pid %d)", (unsigned)ctx->uid,
			 (int)ctx->pid);
	} else {
		if (nfds != 1 || fds[0] < 0)
			return fail(a, -EINVAL, "trace on: pass the file's descriptor "
				    "(one, as SCM_RIGHTS)");
		if ((ret = check_trace_fd(fds[0], a)))
			return ret;
		ret = usv_trace_switch_on(ctx->trace, fds[0], name ? name : "(passed fd)");
		fds[0] = -1;
		if (ret)
			return fail(a, ret, "cannot start the trace");
		usv_info("control: tracing every ioctl to %s (uid %u pid %d)",
			 name ? name : "a passed fd", (unsigned)ctx->uid, (int)ctx->pid);
	}
	a->result = trace_json(ctx->trace);
	return 0;
}

static int cmd_log_level(const struct usv_control_ctx *ctx, json_object *args, int *fds,
			 unsigned nfds, struct answer *a)
{
	const char *s = args ? usv_tj_str(args, "level") : NULL;
	enum usv_log_level old = usv_log_get_level(), lvl;

	(void)fds, (void)nfds;
	if (!s || usv_log_parse_level(s, &lvl))
		return fail(a, -EINVAL, "log-level: unknown level '%s' "
			    "(error, warn, info or debug)", s ? s : "");
	/* Said at info in whichever of the two levels lets it through. */
	if (lvl < USV_LOG_INFO)
		usv_info("control: log level %s -> %s (uid %u pid %d)", usv_log_level_name(old),
			 usv_log_level_name(lvl), (unsigned)ctx->uid, (int)ctx->pid);
	usv_log_set_level(lvl);
	if (lvl >= USV_LOG_INFO)
		usv_info("control: log level %s -> %s (uid %u pid %d)", usv_log_level_name(old),
			 usv_log_level_name(lvl), (unsigned)ctx->uid, (int)ctx->pid);
	a->result = json_object_new_object();
	add_str(a->result, "old", usv_log_level_name(old));
	add_str(a->result, "level", usv_log_level_name(lvl));
	return 0;
}

static int cmd_version(const struct usv_control_ctx *ctx, json_object *args, int *fds,
		       unsigned nfds, struct answer *a)
{
	(void)ctx, (void)args, (void)fds, (void)nfds;
	a->result = json_object_new_object();
	add_str(a->result, "daemon", "usvhostd");
	add_str(a->result, "version", PACKAGE_VERSION);
	add_int(a->result, "proto", USV_CONTROL_PROTO);
	add_int(a->result, "pid", getpid());
	if (ctx->front)
		usv_front_identity_to_json(ctx->front, a->result);
	if (ctx->profile)
		add_str(a->result, "profile", ctx->profile);
	return 0;
}

/* Another usvhostd asks for every device (usvhostd --takeover). Only root
 * or the daemon's own user: the answer carries every VM's descriptors. */
static int cmd_takeover(const struct usv_control_ctx *ctx, json_object *args, int *fds,
			unsigned nfds, struct answer *a)
{
	json_object *versions = args ? usv_tj_arr(args, "versions") : NULL;
	bool understood = false;
	char said[128] = "";
	size_t n;

	(void)fds, (void)nfds;
	if (ctx->uid != 0 && ctx->uid != geteuid())
		return fail(a, -EPERM, "takeover: only root or the daemon's user may take "
			    "its devices over");
	if (!ctx->takeover)
		return fail(a, -EOPNOTSUPP, "takeover: this daemon cannot hand its devices "
			    "over now");
	n = versions ? json_object_array_length(versions) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(versions, i);
		size_t used = strlen(said);

		if (!json_object_is_type(v, json_type_int))
			continue;
		understood |= json_object_get_int64(v) == USV_TAKEOVER_VERSION;
		snprintf(said + used, sizeof(said) - used, "%s%lld", used ? ", " : "",
			 (long long)json_object_get_int64(v));
	}
	if (!understood)
		return fail(a, -EPROTONOSUPPORT, "takeover: the new daemon reads state "
			    "version(s) [%s], this one writes version %d", said,
			    USV_TAKEOVER_VERSION);
	usv_info("control: uid %u pid %d takes the devices over", (unsigned)ctx->uid,
		 (int)ctx->pid);
	a->result = json_object_new_object();
	add_int(a->result, "version", USV_TAKEOVER_VERSION);
	add_int(a->result, "pid", getpid());
	*ctx->takeover = true;
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(const struct usv_control_ctx *ctx, json_object *args, int *fds,
		  unsigned nfds, struct answer *a);
} commands[] = {
	{ "list", cmd_list },
	{ "stats", cmd_stats },
	{ "trace", cmd_trace },
	{ "log-level", cmd_log_level },
	{ "version", cmd_version },
	{ "takeover", cmd_takeover },
};

static char *to_line(json_object *o, size_t *outlen)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);
	char *line = malloc(n + 2);

	if (line) {
		memcpy(line, s, n);
		line[n] = '\n';
		line[n + 1] = '\0';
		*outlen = n + 1;
	}
	json_object_put(o);
	return line;
}

static json_object *envelope(json_object *id)
{
	json_object *o = json_object_new_object();

	add_int(o, "proto", USV_CONTROL_PROTO);
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	return o;
}

static void set_error(json_object *o, const char *code, const char *message)
{
	json_object *e = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(false));
	add_str(e, "code", code);
	add_str(e, "message", message);
	json_object_object_add(o, "error", e);
}

char *usv_control_error_line(const char *code, const char *message, size_t *outlen)
{
	json_object *o = envelope(NULL);

	set_error(o, code, message);
	return to_line(o, outlen);
}

/* Parses and checks the request; 0, or -errno with a->msg. */
static int parse(const char *line, size_t len, json_object **req, struct answer *a)
{
	json_tokener *tok = json_tokener_new();
	int64_t proto;

	*req = NULL;
	if (!tok)
		return fail(a, -ENOMEM, "out of memory");
	*req = json_tokener_parse_ex(tok, line, (int)len);
	if (!*req || json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != (int)len) {
		json_tokener_free(tok);
		return fail(a, -EINVAL, "not one JSON object");
	}
	json_tokener_free(tok);
	if (!json_object_is_type(*req, json_type_object))
		return fail(a, -EINVAL, "not one JSON object");
	if (!usv_tj_i64(*req, "proto", &proto))
		return fail(a, -EPROTO, "protocol version mismatch: the request says no "
			    "\"proto\"");
	if (proto != USV_CONTROL_PROTO) {
		snprintf(a->msg, sizeof(a->msg), "protocol version mismatch: request %lld, "
			 "daemon %d", (long long)proto, USV_CONTROL_PROTO);
		return -EPROTO;
	}
	return 0;
}

/* Runs cmd with the want descriptors the request says it carries. */
static int dispatch(const struct usv_control_ctx *ctx, const char *cmd, json_object *args,
		    int *fds, unsigned nfds, struct answer *a, int64_t want)
{
	if (want < 0 || want > (int64_t)nfds)
		return fail(a, -EBADF, "the request's descriptors did not arrive");
	for (size_t i = 0; cmd && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(ctx, args, fds, (unsigned)want, a);
	return fail(a, -EINVAL, "unknown command '%s'", cmd ? cmd : "");
}

char *usv_control_answer(const struct usv_control_ctx *ctx, const char *line, size_t len,
			 int *fds, unsigned nfds, size_t *outlen)
{
	struct answer a = { 0 };
	json_object *req, *out, *args;
	const char *cmd = NULL;
	int64_t want = 0;
	char ebuf[16];
	int ret;

	ret = parse(line, len, &req, &a);
	out = envelope(req && json_object_is_type(req, json_type_object) ?
		       json_object_object_get(req, "id") : NULL);
	if (!ret) {
		cmd = usv_tj_str(req, "cmd");
		args = usv_tj_obj(req, "args");
		ret = dispatch(ctx, cmd, args, fds, nfds, &a,
			       usv_tj_i64(req, "fds", &want) ? want : 0);
	}
	usv_dbg("control: uid %u pid %d: %s -> %s", (unsigned)ctx->uid, (int)ctx->pid,
		cmd ? cmd : "?", ret ? usv_errname(ret, ebuf, sizeof(ebuf)) : "0");
	if (ret) {
		set_error(out, usv_errname(ret, ebuf, sizeof(ebuf)), a.msg);
		json_object_put(a.result);
	} else {
		json_object_object_add(out, "ok", json_object_new_boolean(true));
		json_object_object_add(out, "result", a.result);
	}
	json_object_put(req);
	return to_line(out, outlen);
}
