/* SPDX-License-Identifier: MIT */
/*
 * Dispatch: serves one request with the row the table gives for it, on the
 * path the row names (see core/ioctl_table.h), with the profile's gate,
 * --inject and the observer around the handler.
 */
#include "core/dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/caller.h"
#include "core/inject.h"
#include "core/ioctl_table.h"
#include "core/log.h"
#include "core/observer.h"
#include "core/profile.h"

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

	if (!ret && d)
		more = usv_ioctl_tail_bytes(d, buf, n);
	if (more > sizeof(buf) - n) /* whole elements that fit the capture */
		more = (sizeof(buf) - n) / d->in.array->elem_size * d->in.array->elem_size;
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
	if (!ret)
		usv_ioctl_describe_out(req, out, sizeof(out));
	usv_dbg("dev %u: %s -> %s%s%s%s%s%s%s (tid %d pid %d)", dev->handle, what,
		ret ? "-" : "0", ret ? usv_errname(ret, ebuf, sizeof(ebuf)) : "",
		delivered ? " [injected]" : "",
		out[0] ? " " : "", out, req->note[0] ? " " : "", req->note,
		req->caller.tid, req->caller.tgid);
	return ret;
}
