/* SPDX-License-Identifier: MIT */
#include "trace/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/caller.h"
#include "core/errno_name.h"
#include "core/ioctl_table.h"
#include "core/log.h"
#include "core/procmaps.h"
#include "trace/format.h"
#include "trace/payload.h"

struct usv_trace {
	pthread_mutex_t lock;
	FILE *f;
	bool own; /* close f at the end */
	uint64_t seq;
	bool failed; /* a write failed: said once */
};

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Adds seq and writes one line; takes rec. */
static void emit(struct usv_trace *t, json_object *rec, bool with_seq)
{
	const char *s;

	pthread_mutex_lock(&t->lock);
	/* Replaces new_record()'s placeholder in place: seq stays second. */
	if (with_seq)
		json_object_object_add(rec, "seq", json_object_new_int64((int64_t)++t->seq));
	s = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
						JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((fputs(s, t->f) == EOF || fputc('\n', t->f) == EOF || fflush(t->f)) &&
	    !t->failed) {
		t->failed = true;
		usv_err("trace: write failed: %s (records from now on are lost)",
			strerror(errno));
	}
	pthread_mutex_unlock(&t->lock);
	json_object_put(rec);
}

static void add(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

/* {"type": type, "seq": (set by emit)} */
static json_object *new_record(const char *type)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "seq", json_object_new_int64(0));
	return o;
}

static void add_int(json_object *o, const char *k, int64_t v)
{
	add(o, k, json_object_new_int64(v));
}

static void add_str(json_object *o, const char *k, const char *v)
{
	add(o, k, json_object_new_string(v));
}

static json_object *profile_json(const struct usv_profile *p)
{
	json_object *o = json_object_new_object(), *f = json_object_new_array();

	add_str(o, "name", p->name);
	for (unsigned i = 0; i < USV_FEATURES_DWORDS; i++)
		json_object_array_add(f, usv_tj_hex(p->features[i]));
	add(o, "features", f);
	add(o, "backend_features", usv_tj_hex(p->backend_features));
	add(o, "has_backend_features", json_object_new_boolean(
		    usv_profile_has_ioctl(p, USV_VHOST_GET_BACKEND_FEATURES)));
	add(o, "has_features_array", json_object_new_boolean(
		    usv_profile_has_ioctl(p, USV_VHOST_GET_FEATURES_ARRAY)));
	add_int(o, "max_mem_regions", p->max_mem_regions);
	return o;
}

static struct usv_trace *start(FILE *f, bool own, const struct usv_trace_info *info)
{
	struct usv_trace *t = calloc(1, sizeof(*t));
	json_object *h;
	struct utsname u;

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->f = f;
	t->own = own;
	h = json_object_new_object();
	add_str(h, "type", "header");
	add_str(h, "format", USV_TRACE_FORMAT);
	add_int(h, "version", USV_TRACE_VERSION);
	add_str(h, "producer", info->producer ? info->producer : "usvhost");
	add_int(h, "time_ns", (int64_t)wall_ns());
	add_int(h, "pid", getpid());
	if (uname(&u) == 0)
		add_str(h, "host_kernel", u.release);
	if (info->transport)
		add_str(h, "transport", info->transport);
	if (info->device)
		add_str(h, "device", info->device);
	if (info->profile)
		add(h, "profile", profile_json(info->profile));
	if (info->inject && info->inject->nrules) {
		json_object *r = json_object_new_array();

		for (unsigned i = 0; i < info->inject->nrules; i++)
			json_object_array_add(r, json_object_new_string(info->inject->rules[i].spec));
		add(h, "inject", r);
	}
	emit(t, h, false);
	return t;
}

struct usv_trace *usv_trace_open(const char *path, const struct usv_trace_info *info,
				 int *err)
{
	struct usv_trace *t;
	FILE *f;
	int fd;

	if (!strcmp(path, "-"))
		return usv_trace_open_stream(stdout, info);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	t = start(f, true, info);
	if (!t) {
		*err = -ENOMEM;
		fclose(f);
	}
	return t;
}

struct usv_trace *usv_trace_open_stream(FILE *f, const struct usv_trace_info *info)
{
	return start(f, false, info);
}

void usv_trace_close(struct usv_trace *t)
{
	json_object *e;

	if (!t)
		return;
	e = new_record("end");
	add_int(e, "time_ns", (int64_t)wall_ns());
	add_int(e, "records", (int64_t)t->seq);
	emit(t, e, true);
	if (t->own)
		fclose(t->f);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* ---- decoding ------------------------------------------------------------ */

static json_object *raw_hex(const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *s = malloc(len * 2 + 1);
	json_object *o;

	if (!s)
		return json_object_new_string("");
	for (size_t i = 0; i < len; i++) {
		s[2 * i] = hex[p[i] >> 4];
		s[2 * i + 1] = hex[p[i] & 15];
	}
	s[len * 2] = '\0';
	o = json_object_new_string(s);
	free(s);
	return o;
}

static json_object *fd_info_json(const struct usv_fd_info *info)
{
	json_object *o = json_object_new_object();
	char flags[96];

	add_str(o, "kind", usv_fd_kind_name(info->kind));
	if (info->kind == USV_FD_TAP) {
		add_str(o, "ifname", info->ifname);
		add(o, "flags", usv_tj_hex(info->tun_flags));
		add_str(o, "flag_names", usv_tun_flags_str(info->tun_flags, flags, sizeof(flags)));
	}
	return o;
}

/* What fd number fd of the caller is, looked at through a pidfd now (the
 * caller is still inside its ioctl, so it is the fd it passed). A file that
 * is no eventfd, socket or device candidate is described from its /proc link
 * alone, never imported (closing a FUSE file would ask its server). */
static json_object *remote_fd_json(struct usv_dev *dev, const struct usv_req *req, int fd)
{
	struct usv_fd_info info = { 0 };
	json_object *o;
	char path[64], target[256], ebuf[16];
	enum usv_fd_peek peek;
	int pidfd, local;
	bool own = false;
	ssize_t n;

	if (fd == -1)
		return NULL; /* unbind */
	peek = usv_fd_peek(req->caller.tgid, fd, target, sizeof(target));
	if (peek == USV_PEEK_OTHER ||
	    (peek == USV_PEEK_PATH && usv_fd_on_fuse(req->caller.tgid, fd))) {
		o = fd_info_json(&info);
		add_str(o, "path", target);
		return o;
	}
	if (usv_dev_is_owner(dev, req->caller.tgid)) {
		pidfd = dev->owner.pidfd;
	} else {
		pidfd = usv_pidfd_open(req->caller.tgid);
		own = true;
	}
	local = pidfd < 0 ? pidfd : usv_pidfd_getfd(pidfd, fd);
	if (own && pidfd >= 0)
		close(pidfd);
	if (local < 0) {
		o = json_object_new_object();
		add_str(o, "kind", "bad");
		add_str(o, "error", usv_errname(local, ebuf, sizeof(ebuf)));
		return o;
	}
	usv_fd_classify(local, &info);
	o = fd_info_json(&info);
	if (info.kind == USV_FD_MEMFD || info.kind == USV_FD_OTHER) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", local);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			add_str(o, "path", target);
		}
	}
	close(local);
	return o;
}

struct fd_ctx {
	struct usv_dev *dev;
	const struct usv_req *req;
};

/* The payload's fds: what file each was in the caller. */
static json_object *file_of(void *ctx, int fd)
{
	struct fd_ctx *c = ctx;

	return remote_fd_json(c->dev, c->req, fd);
}

/* The decoded input of req, or NULL when it read nothing. */
static json_object *decode_in(struct usv_dev *dev, const struct usv_req *req,
			      const struct usv_ioctl_desc *d)
{
	struct fd_ctx ctx = { .dev = dev, .req = req };
	const uint8_t *p = req->in.buf;
	size_t len = req->in.len;
	json_object *o;
	/* An ioctl the profile's kernel lacks took the unknown path: it read
	 * a ring index, whatever the ioctl's own payload is. */
	bool known = d && usv_profile_has_ioctl(dev->profile, req->cmd);

	if (!len)
		return NULL;
	o = json_object_new_object();
	if (known && !usv_ioctl_index_only(&d->in)) {
		usv_tj_payload_encode(o, &d->in, p, len, file_of, &ctx);
		return o;
	}
	/* A ring index alone (the unknown path, other devices' ioctls): the
	 * index, and the raw bytes where no handler read them. */
	if (len >= 4)
		add_int(o, "index", usv_get32(p));
	if (!known || !d->vq_fn)
		add(o, "raw", raw_hex(p, len));
	return o;
}

static json_object *decode_out(struct usv_dev *dev, const struct usv_req *req,
			       const struct usv_ioctl_desc *d)
{
	const struct usv_ioctl_array *a = d ? d->out.array : NULL;
	json_object *o = json_object_new_object(), *w;
	uint64_t count;

	if (a && a->profile_words) {
		/* The words land at arg + a->off, past what the request captures
		 * contiguously: they are the profile's, as the handler wrote, and
		 * the count is the caller's, as it was read. */
		usv_tj_payload_encode(o, &(struct usv_ioctl_payload){ d->out.fields,
								      d->out.nfields, NULL },
				      req->in.buf, req->in.len, NULL, NULL);
		if (usv_ioctl_array_count(&d->out, req->in.buf, req->in.len, &count)) {
			w = json_object_new_array();
			for (uint64_t i = 0; i < count && i < a->max && i < USV_FEATURES_DWORDS; i++)
				json_object_array_add(w, usv_tj_hex(dev->profile->features[i]));
			add(o, a->name, w);
		}
	} else if (d && d->out.nfields) {
		usv_tj_payload_encode(o, &d->out, req->out.buf, req->out.len, NULL, NULL);
	} else if (req->out.len) {
		add(o, "raw", raw_hex(req->out.buf, req->out.len));
	}
	if (!json_object_object_length(o)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static const char *path_name(const struct usv_ioctl_desc *d, const struct usv_profile *p)
{
	if (!d || !usv_profile_has_ioctl(p, d->cmd))
		return "unknown";
	switch (d->path) {
	case USV_PATH_NET:
		return "net";
	case USV_PATH_DEV:
		return "dev";
	case USV_PATH_VRING:
		break;
	}
	return d->vq_fn ? "vring" : "unknown";
}

static void add_caller(json_object *o, struct usv_dev *dev, pid_t tid, pid_t tgid)
{
	char comm[32] = "", path[64];
	ssize_t n = -1;
	int fd;

	add_int(o, "tid", tid);
	add_int(o, "tgid", tgid);
	if (dev && tgid && tgid == dev->owner.tgid && dev->owner.comm[0])
		snprintf(comm, sizeof(comm), "%s", dev->owner.comm);
	else if (tgid)
		usv_caller_comm(tgid, comm, sizeof(comm));
	add_str(o, "comm", comm[0] ? comm : "?");
	if (tid && tgid && tid != tgid) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", tgid, tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, comm, sizeof(comm) - 1);
			close(fd);
		}
		if (n > 0) {
			comm[n] = '\0';
			comm[strcspn(comm, "\n")] = '\0';
			add_str(o, "thread", comm);
		}
	}
}

static void on_ioctl(void *ctx, struct usv_dev *dev, const struct usv_obs_ioctl *ev)
{
	const struct usv_req *req = ev->req;
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(req->cmd);
	json_object *o = new_record("ioctl"), *in, *out;
	char cmd[16], ebuf[16];

	add_int(o, "time_ns", (int64_t)ev->time_ns);
	add_int(o, "dev", dev->handle);
	add_caller(o, dev, req->caller.tid, req->caller.tgid);
	snprintf(cmd, sizeof(cmd), "0x%08" PRIx32, req->cmd);
	add_str(o, "ioctl", d ? d->name : "UNKNOWN");
	add_str(o, "cmd", cmd);
	add_str(o, "path", path_name(d, dev->profile));
	add(o, "arg", usv_tj_hex(req->arg));
	in = decode_in(dev, req, d);
	if (in)
		add(o, "in", in);
	/* Bytes read at arg: an EFAULT after them was the next byte failing. */
	add_int(o, "in_bytes", (int64_t)req->in.len);
	add_int(o, "ret", ev->ret ? -1 : 0);
	if (ev->ret) {
		add_str(o, "errno", usv_errname(ev->ret, ebuf, sizeof(ebuf)));
		add_int(o, "errno_num", -ev->ret);
	} else if ((out = decode_out(dev, req, d))) {
		add(o, "out", out);
	}
	if (req->note[0])
		add_str(o, "note", req->note);
	if (ev->injected)
		add(o, "injected", json_object_new_boolean(true));
	add_int(o, "latency_ns", (int64_t)ev->latency_ns);
	emit(ctx, o, true);
}

/* An IOTLB channel message: who moved it, its framing and fields by name. */
static void iotlb_json(json_object *o, const struct usv_obs_iotlb *m)
{
	static const char *const types[] = { [1] = "miss", [2] = "update", [3] = "invalidate",
					     [4] = "access_fail", [5] = "batch_begin",
					     [6] = "batch_end" };
	static const char *const perms[] = { "none", "ro", "wo", "rw" };

	if (!m)
		return;
	add_str(o, "dir", m->read ? "read" : "write");
	if (m->framing == 1 || m->framing == 2)
		add_str(o, "msg", m->framing == 1 ? "v1" : "v2");
	else
		add_int(o, "msg", m->framing);
	if (m->type < sizeof(types) / sizeof(types[0]) && types[m->type])
		add_str(o, "iotlb_type", types[m->type]);
	else
		add_int(o, "iotlb_type", m->type);
	add(o, "iova", usv_tj_hex(m->iova));
	add(o, "size", usv_tj_hex(m->size));
	add(o, "uaddr", usv_tj_hex(m->uaddr));
	if (m->perm < 4)
		add_str(o, "perm", perms[m->perm]);
	else
		add_int(o, "perm", m->perm);
	if (!m->read) {
		char ebuf[16];

		/* As the ioctl records: the call's return, errno apart. */
		add_int(o, "ret", m->answer ? -1 : 72);
		if (m->answer)
			add_str(o, "errno", usv_errname(m->answer, ebuf, sizeof(ebuf)));
	}
}

static void on_event(void *ctx, struct usv_dev *dev, const struct usv_obs_event *ev)
{
	static const char *const kinds[] = {
		[USV_OBS_OPEN] = "open", [USV_OBS_RELEASE] = "release",
		[USV_OBS_ATTACH] = "attach", [USV_OBS_DETACH] = "detach",
		[USV_OBS_RING_ERROR] = "ring_error", [USV_OBS_MEMORY] = "memory",
		[USV_OBS_IOTLB] = "iotlb",
	};
	json_object *o;

	if (ev->kind < USV_OBS_OPEN || ev->kind > USV_OBS_IOTLB)
		return;
	o = new_record(kinds[ev->kind]);
	add_int(o, "time_ns", (int64_t)wall_ns());
	add_int(o, "dev", ev->handle);
	switch (ev->kind) {
	case USV_OBS_OPEN: {
		pid_t tgid = 0;

		if (usv_caller_tgid(ev->tid, 0, &tgid))
			tgid = 0;
		add_caller(o, NULL, ev->tid, tgid);
		add_int(o, "open_devices", ev->open_count);
		break;
	}
	case USV_OBS_RELEASE:
		add_int(o, "open_devices", ev->open_count);
		break;
	case USV_OBS_ATTACH:
	case USV_OBS_DETACH:
		add_int(o, "index", ev->index);
		if (ev->backend)
			add(o, "backend", fd_info_json(ev->backend));
		if (dev && ev->index < USV_NET_NVQS) {
			add_int(o, "last_avail_idx", dev->vqs[ev->index].last_avail_idx);
			if (ev->kind == USV_OBS_ATTACH)
				add_int(o, "last_used_idx", dev->vqs[ev->index].last_used_idx);
		}
		if (ev->reason)
			add_str(o, "reason", ev->reason);
		break;
	case USV_OBS_RING_ERROR:
		add_int(o, "index", ev->index);
		add_str(o, "reason", ev->reason ? ev->reason : "");
		break;
	case USV_OBS_MEMORY: {
		json_object *regs = json_object_new_array();

		for (uint32_t i = 0; ev->mem && i < ev->mem->nregions; i++) {
			const struct usv_mem_region *r = &ev->mem->regions[i];
			json_object *ro = json_object_new_object();

			add(ro, "gpa", usv_tj_hex(r->gpa));
			add(ro, "size", usv_tj_hex(r->last - r->gpa + 1));
			add(ro, "uaddr", usv_tj_hex(r->uaddr));
			add_str(ro, "strategy", usv_mem_strategy_name(r->strategy));
			add_str(ro, "backing", r->backing[0] ? r->backing : "anonymous");
			json_object_array_add(regs, ro);
		}
		add(o, "regions", regs);
		break;
	}
	case USV_OBS_IOTLB:
		iotlb_json(o, ev->iotlb);
		break;
	}
	emit(ctx, o, true);
}

const struct usv_observer usv_trace_observer = {
	.ioctl = on_ioctl,
	.event = on_event,
};
