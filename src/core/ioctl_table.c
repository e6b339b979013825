/* SPDX-License-Identifier: MIT */
#include "core/ioctl_table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/caller.h"
#include "core/inject.h"
#include "core/log.h"
#include "core/observer.h"
#include "core/profile.h"
#include "core/vhost_ops.h"

/* Bounded appending to a buffer. */
static void app(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void app(char *buf, size_t n, const char *fmt, ...)
{
	size_t used = strnlen(buf, n);
	va_list ap;

	if (used + 1 >= n)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, n - used, fmt, ap);
	va_end(ap);
}

static void dec_u64(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 8)
		app(buf, n, "0x%" PRIx64, usv_get64(p));
}

static void dec_int(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 4)
		app(buf, n, "fd=%d", (int32_t)usv_get32(p));
}

static void dec_index(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 4)
		app(buf, n, "index=%u", usv_get32(p));
}

static void dec_state(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 8)
		app(buf, n, "index=%u num=%u", usv_get32(p), usv_get32(p + 4));
	else
		dec_index(p, len, buf, n);
}

static void dec_file(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len >= 8)
		app(buf, n, "index=%u fd=%d", usv_get32(p), (int32_t)usv_get32(p + 4));
	else
		dec_index(p, len, buf, n);
}

static void dec_addr(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len < sizeof(struct usv_vhost_vring_addr)) {
		dec_index(p, len, buf, n);
		return;
	}
	app(buf, n, "index=%u flags=0x%x desc=0x%" PRIx64 " used=0x%" PRIx64
		    " avail=0x%" PRIx64 " log=0x%" PRIx64,
	    usv_get32(p), usv_get32(p + 4), usv_get64(p + 8), usv_get64(p + 16), usv_get64(p + 24),
	    usv_get64(p + 32));
}

static void dec_mem(const uint8_t *p, size_t len, char *buf, size_t n)
{
	uint32_t nr;

	if (len < 8)
		return;
	nr = usv_get32(p);
	app(buf, n, "nregions=%u", nr);
	if (usv_get32(p + 4))
		app(buf, n, " padding=%u", usv_get32(p + 4));
	for (uint32_t i = 0; i < nr && 8 + (i + 1) * 32 <= len; i++) {
		const uint8_t *r = p + 8 + i * 32;

		app(buf, n, " {gpa=0x%" PRIx64 " size=0x%" PRIx64 " uaddr=0x%" PRIx64 "}",
		    usv_get64(r), usv_get64(r + 8), usv_get64(r + 16));
	}
}

static void dec_array(const uint8_t *p, size_t len, char *buf, size_t n)
{
	if (len < 8)
		return;
	app(buf, n, "count=%" PRIu64, usv_get64(p));
	for (size_t off = 8; off + 8 <= len && off <= 8 * USV_FEATURES_DWORDS; off += 8)
		app(buf, n, "%s0x%" PRIx64, off == 8 ? " [" : ",", usv_get64(p + off));
	if (len >= 16)
		app(buf, n, "]");
}

#define ROW(c, nm, pth, in, out, var, dfn, vfn, din, dout)                    \
	{ .cmd = (c), .name = (nm), .path = (pth), .in_size = (in),            \
	  .out_size = (out), .varlen = (var), .dev_fn = (dfn), .vq_fn = (vfn), \
	  .decode_in = (din), .decode_out = (dout) }

#define ST sizeof(struct usv_vhost_vring_state)
#define FL sizeof(struct usv_vhost_vring_file)
#define AD sizeof(struct usv_vhost_vring_addr)

static const struct usv_ioctl_desc rows[] = {
	ROW(USV_VHOST_GET_FEATURES, "GET_FEATURES", USV_PATH_NET, 0, 8, false,
	    usv_op_get_features, NULL, NULL, dec_u64),
	ROW(USV_VHOST_SET_FEATURES, "SET_FEATURES", USV_PATH_NET, 8, 0, false,
	    usv_op_set_features, NULL, dec_u64, NULL),
	ROW(USV_VHOST_SET_OWNER, "SET_OWNER", USV_PATH_NET, 0, 0, false,
	    usv_op_set_owner, NULL, NULL, NULL),
	ROW(USV_VHOST_RESET_OWNER, "RESET_OWNER", USV_PATH_NET, 0, 0, false,
	    usv_op_reset_owner, NULL, NULL, NULL),
	ROW(USV_VHOST_SET_MEM_TABLE, "SET_MEM_TABLE", USV_PATH_DEV, 8, 0, true,
	    usv_op_set_mem_table, NULL, dec_mem, NULL),
	ROW(USV_VHOST_SET_LOG_BASE, "SET_LOG_BASE", USV_PATH_DEV, 8, 0, false,
	    usv_op_set_log_base, NULL, dec_u64, NULL),
	ROW(USV_VHOST_SET_LOG_FD, "SET_LOG_FD", USV_PATH_DEV, 4, 0, false,
	    usv_op_set_log_fd, NULL, dec_int, NULL),
	ROW(USV_VHOST_SET_VRING_NUM, "SET_VRING_NUM", USV_PATH_VRING, ST, 0, false,
	    NULL, usv_op_set_vring_num, dec_state, NULL),
	ROW(USV_VHOST_SET_VRING_ADDR, "SET_VRING_ADDR", USV_PATH_VRING, AD, 0, false,
	    NULL, usv_op_set_vring_addr, dec_addr, NULL),
	ROW(USV_VHOST_SET_VRING_BASE, "SET_VRING_BASE", USV_PATH_VRING, ST, 0, false,
	    NULL, usv_op_set_vring_base, dec_state, NULL),
	ROW(USV_VHOST_GET_VRING_BASE, "GET_VRING_BASE", USV_PATH_VRING, 4, ST, false,
	    NULL, usv_op_get_vring_base, dec_index, dec_state),
	/* No cross-endian support (CONFIG_VHOST_CROSS_ENDIAN_LEGACY=n): ENOTTY. */
	ROW(USV_VHOST_SET_VRING_ENDIAN, "SET_VRING_ENDIAN", USV_PATH_VRING, 4, 0, false,
	    NULL, NULL, dec_state, NULL),
	ROW(USV_VHOST_GET_VRING_ENDIAN, "GET_VRING_ENDIAN", USV_PATH_VRING, 4, 0, false,
	    NULL, NULL, dec_index, NULL),
	ROW(USV_VHOST_SET_VRING_KICK, "SET_VRING_KICK", USV_PATH_VRING, FL, 0, false,
	    NULL, usv_op_set_vring_kick, dec_file, NULL),
	ROW(USV_VHOST_SET_VRING_CALL, "SET_VRING_CALL", USV_PATH_VRING, FL, 0, false,
	    NULL, usv_op_set_vring_call, dec_file, NULL),
	ROW(USV_VHOST_SET_VRING_ERR, "SET_VRING_ERR", USV_PATH_VRING, FL, 0, false,
	    NULL, usv_op_set_vring_err, dec_file, NULL),
	ROW(USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT, "SET_VRING_BUSYLOOP_TIMEOUT",
	    USV_PATH_VRING, ST, 0, false, NULL, usv_op_set_vring_busyloop, dec_state, NULL),
	/* Declared _IOW, but writes the state back. */
	ROW(USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT, "GET_VRING_BUSYLOOP_TIMEOUT",
	    USV_PATH_VRING, 4, ST, false, NULL, usv_op_get_vring_busyloop, dec_index,
	    dec_state),
	ROW(USV_VHOST_SET_BACKEND_FEATURES, "SET_BACKEND_FEATURES", USV_PATH_NET, 8, 0,
	    false, usv_op_set_backend_features, NULL, dec_u64, NULL),
	ROW(USV_VHOST_GET_BACKEND_FEATURES, "GET_BACKEND_FEATURES", USV_PATH_NET, 0, 8,
	    false, usv_op_get_backend_features, NULL, NULL, dec_u64),
	ROW(USV_VHOST_NET_SET_BACKEND, "NET_SET_BACKEND", USV_PATH_NET, FL, 0, false,
	    usv_op_net_set_backend, NULL, dec_file, NULL),
	ROW(USV_VHOST_GET_FEATURES_ARRAY, "GET_FEATURES_ARRAY", USV_PATH_NET, 8, 0, true,
	    usv_op_get_features_array, NULL, dec_array, dec_array),
	ROW(USV_VHOST_SET_FEATURES_ARRAY, "SET_FEATURES_ARRAY", USV_PATH_NET, 8, 0, true,
	    usv_op_set_features_array, NULL, dec_array, NULL),
	/* Other vhost devices' ioctls: vhost-net sends them down the unknown path. */
	ROW(USV_VHOST_NEW_WORKER, "NEW_WORKER", USV_PATH_VRING, 4, 0, false, NULL, NULL,
	    dec_index, NULL),
	ROW(USV_VHOST_FREE_WORKER, "FREE_WORKER", USV_PATH_VRING, 4, 0, false, NULL, NULL,
	    dec_index, NULL),
	ROW(USV_VHOST_ATTACH_VRING_WORKER, "ATTACH_VRING_WORKER", USV_PATH_VRING, 4, 0,
	    false, NULL, NULL, dec_index, NULL),
	ROW(USV_VHOST_GET_VRING_WORKER, "GET_VRING_WORKER", USV_PATH_VRING, 4, 0, false,
	    NULL, NULL, dec_index, NULL),
	ROW(USV_VHOST_SET_FORK_FROM_OWNER, "SET_FORK_FROM_OWNER", USV_PATH_VRING, 4, 0,
	    false, NULL, NULL, dec_index, NULL),
	ROW(USV_VHOST_GET_FORK_FROM_OWNER, "GET_FORK_FROM_OWNER", USV_PATH_VRING, 4, 0,
	    false, NULL, NULL, dec_index, NULL),
};

const struct usv_ioctl_desc *usv_ioctl_lookup(uint32_t cmd)
{
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (rows[i].cmd == cmd)
			return &rows[i];
	return NULL;
}

const struct usv_ioctl_desc *usv_ioctl_rows(unsigned *count)
{
	*count = sizeof(rows) / sizeof(rows[0]);
	return rows;
}

/* A profile may mimic a kernel that lacks an ioctl: it then takes the
 * unknown path, as it would there. */
static bool row_exists(const struct usv_ioctl_desc *d, const struct usv_profile *p)
{
	return usv_profile_has_ioctl(p, d->cmd);
}

/*
 * An injected answer (core/inject.h), where the handler would have run: the
 * payload the ioctl reads is read (so logs and traces show it) and nothing
 * else happens. -USV_ERETRY passes through (CUSE rounds).
 */
static int inject_answer(struct usv_req *req, const struct usv_ioctl_desc *d,
			 int err, bool *delivered)
{
	uint8_t buf[USV_REQ_CAPTURE];
	uint32_t n = d && d->in_size < sizeof(buf) ? d->in_size : 0;
	uint64_t more = 0;
	int ret = n ? usv_req_read(req, req->arg, buf, n) : 0;

	if (!ret && d && n >= 8 && d->cmd == USV_VHOST_SET_MEM_TABLE) {
		uint32_t nr;

		memcpy(&nr, buf, sizeof(nr));
		more = (uint64_t)nr * sizeof(struct usv_vhost_memory_region);
	} else if (!ret && d && n >= 8 && (d->cmd == USV_VHOST_SET_FEATURES_ARRAY ||
					   d->cmd == USV_VHOST_GET_FEATURES_ARRAY)) {
		memcpy(&more, buf, sizeof(more));
		more = more < USV_FEATURES_DWORDS ? more * 8 : USV_FEATURES_DWORDS * 8;
		if (d->cmd == USV_VHOST_GET_FEATURES_ARRAY)
			more = 0; /* that one writes them */
	}
	if (more > sizeof(buf) - n)
		more = (sizeof(buf) - n) / 32 * 32;
	if (more)
		ret = usv_req_read(req, req->arg + n, buf + n, (size_t)more);
	if (ret == -USV_ERETRY)
		return ret;
	*delivered = true;
	return -err;
}

static int dispatch(struct usv_dev *dev, struct usv_req *req,
		    const struct usv_ioctl_desc *d, int inj, bool *delivered)
{
	uint32_t idx;
	int ret;

	if (d && !row_exists(d, dev->profile))
		d = NULL;
	if (d && d->path == USV_PATH_NET) {
		if (inj)
			return inject_answer(req, d, inj, delivered);
		ret = usv_profile_gate(dev->profile, dev->handle, req);
		return ret ? ret : d->dev_fn(dev, req);
	}
	/* You must be the owner to do anything else. */
	if (!usv_dev_is_owner(dev, req->caller.tgid))
		return -EPERM;
	if (d && d->path == USV_PATH_DEV)
		return inj ? inject_answer(req, d, inj, delivered) : d->dev_fn(dev, req);
	ret = usv_req_read(req, req->arg, &idx, sizeof(idx));
	if (ret)
		return ret;
	if (idx >= USV_NET_NVQS)
		return -ENOBUFS;
	if (inj)
		return inject_answer(req, d, inj, delivered);
	if (!d || !d->vq_fn)
		return -ENOTTY;
	return d->vq_fn(dev, &dev->vqs[idx], req);
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* What the rings ran on before a request, to report attach/detach after it. */
struct ring_snap {
	int fd[USV_NET_NVQS];
	struct usv_fd_info info[USV_NET_NVQS];
};

static void snap_rings(const struct usv_dev *dev, struct ring_snap *s)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		s->fd[i] = dev->vqs[i].backend_fd;
		s->info[i] = dev->vqs[i].backend;
	}
}

/* Tells the observer about the answered request and what it changed. */
static void observe(struct usv_dev *dev, const struct usv_req *req, int ret,
		    int injected, uint64_t wall, uint64_t t0, const struct ring_snap *s)
{
	struct usv_obs_ioctl io = { .req = req, .ret = ret, .injected = injected,
				    .time_ns = wall };
	struct usv_obs_event ev = { .handle = dev->handle };

	io.latency_ns = now_ns(CLOCK_MONOTONIC) - t0;
	if (dev->obs->ioctl)
		dev->obs->ioctl(dev->obs_ctx, dev, &io);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		int fd = dev->vqs[i].backend_fd;

		if (fd == s->fd[i])
			continue;
		ev.index = i;
		if (s->fd[i] >= 0) {
			ev.kind = USV_OBS_DETACH;
			ev.backend = &s->info[i];
			ev.reason = req->cmd == USV_VHOST_RESET_OWNER ? "reset_owner" : "ioctl";
			usv_dev_observe(dev, &ev);
		}
		if (fd >= 0) {
			ev.kind = USV_OBS_ATTACH;
			ev.backend = &dev->vqs[i].backend;
			ev.reason = NULL;
			usv_dev_observe(dev, &ev);
		}
	}
	if (!ret && dev->mem && (req->cmd == USV_VHOST_SET_MEM_TABLE ||
				 (req->cmd == USV_VHOST_SET_OWNER && dev->mem->nregions))) {
		ev = (struct usv_obs_event){ .kind = USV_OBS_MEMORY, .handle = dev->handle,
					     .mem = dev->mem };
		usv_dev_observe(dev, &ev);
	}
}

void usv_ioctl_describe(const struct usv_req *req, char *buf, size_t n)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(req->cmd);

	buf[0] = '\0';
	if (d)
		app(buf, n, "%s", d->name);
	else
		app(buf, n, "0x%08x", req->cmd);
	if (d && d->decode_in && req->in.len) {
		app(buf, n, " ");
		d->decode_in(req->in.buf, req->in.len, buf, n);
	} else if (!d && req->in.len >= 4) {
		app(buf, n, " ");
		dec_index(req->in.buf, req->in.len, buf, n);
	}
}

int usv_ioctl_dispatch(struct usv_dev *dev, struct usv_req *req)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(req->cmd);
	char what[512], out[256] = "", ebuf[16];
	struct usv_inject_ticket ticket = { 0 };
	struct ring_snap snap;
	uint64_t t0 = 0, wall = 0;
	bool delivered = false;
	int ret, inj = 0, late;

	if (dev->obs) {
		wall = now_ns(CLOCK_REALTIME);
		t0 = now_ns(CLOCK_MONOTONIC);
	}
	pthread_mutex_lock(&dev->lock);
	if (dev->obs)
		snap_rings(dev, &snap);
	/* The owner's threads are the common callers: one stat proves them. */
	ret = req->caller.tgid ? 0 :
		usv_caller_tgid(req->caller.tid, dev->owner.tgid, &req->caller.tgid);
	if (ret == -ESRCH || ret == -ENOENT) {
		ret = -EPERM; /* the calling thread is gone already */
	} else if (ret) {
		/* Our own limits (EMFILE, ENFILE, ENOMEM): say so, never EPERM. */
		usv_warn("dev %u: cannot tell which process thread %d belongs to: %s",
			 dev->handle, req->caller.tid, strerror(-ret));
	} else {
		inj = usv_inject_begin(dev->inject, req->cmd, &ticket);
		ret = dispatch(dev, req, d, inj, &delivered);
		usv_inject_end(dev->inject, req->cmd, &ticket, ret != -USV_ERETRY, delivered);
	}
	if (ret != -USV_ERETRY) {
		dev->ioctls++;
		if (dev->obs)
			observe(dev, req, ret, delivered ? inj : 0, wall, t0, &snap);
	}
	late = dev->late_close;
	dev->late_close = -1;
	pthread_mutex_unlock(&dev->lock);
	if (late >= 0)
		close(late); /* a refused fd: its filesystem may take its time */
	if (ret == -USV_ERETRY)
		return ret;
	if (delivered)
		usv_info("dev %u: %s answered %s by --inject (%s)", dev->handle,
			 d ? d->name : "ioctl", usv_errname(ret, ebuf, sizeof(ebuf)),
			 ticket.rule ? ticket.rule->spec : "");
	if (!usv_log_enabled(USV_LOG_DEBUG))
		return ret;
	usv_ioctl_describe(req, what, sizeof(what));
	if (!ret && d && d->decode_out && req->out.len)
		d->decode_out(req->out.buf, req->out.len, out, sizeof(out));
	usv_dbg("dev %u: %s -> %s%s%s%s%s%s%s (tid %d pid %d)", dev->handle, what,
		ret ? "-" : "0", ret ? usv_errname(ret, ebuf, sizeof(ebuf)) : "",
		delivered ? " [injected]" : "",
		out[0] ? " " : "", out, req->note[0] ? " " : "", req->note,
		req->caller.tid, req->caller.tgid);
	return ret;
}
