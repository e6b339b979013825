/* SPDX-License-Identifier: MIT */
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include "front/front.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "core/dispatch.h"
#include "core/log.h"
#include "core/vhost_chr.h"
#include "core/observer.h"
#include "front/loop.h"

int usv_front_open(struct usv_devlist *devs, pid_t tid, uid_t uid, unsigned *handle)
{
	int ret = usv_devlist_add_uid(devs, uid, handle);
	struct usv_obs_event ev = { .kind = USV_OBS_OPEN, .tid = tid };

	if (ret == -EMFILE) {
		usv_warn("open refused: uid %u holds %u devices (--max-devices-per-user=%u)",
			 (unsigned)uid, usv_devlist_count_uid(devs, uid), devs->max_per_uid);
		return ret;
	}
	if (ret) {
		usv_err("open by thread %d (uid %u) refused: %s", tid, (unsigned)uid,
			strerror(-ret));
		return ret;
	}
	ev.handle = *handle;
	ev.open_count = usv_devlist_count(devs);
	usv_info("dev %u: open by thread %d uid %u (%u open)", *handle, tid,
		 (unsigned)uid, ev.open_count);
	usv_devlist_observe(devs, &ev);
	return 0;
}

void usv_front_release(struct usv_devlist *devs, unsigned handle)
{
	if (usv_devlist_remove(devs, handle))
		usv_err("release of unknown device %u", handle);
	else
		usv_info("dev %u: release (%u open)", handle, usv_devlist_count(devs));
}

int usv_front_ioctl(struct usv_devlist *devs, unsigned handle, pid_t tid,
		    uint32_t cmd, uint64_t arg, const struct usv_uaccess *ua,
		    void *ua_ctx)
{
	struct usv_dev *dev = usv_devlist_get(devs, handle);
	struct usv_caller caller = { .tid = tid };
	struct usv_req req;

	if (!dev)
		return -EBADF;
	usv_req_init(&req, cmd, arg, &caller, ua, ua_ctx);
	return usv_ioctl_dispatch(dev, &req);
}

struct read_wait {
	struct fuse_req *req;
	const struct usv_front_loop *loop;
};

static bool req_interrupted(void *arg)
{
	const struct read_wait *w = arg;

	return fuse_req_interrupted(w->req) || atomic_load(&w->loop->stopping);
}

void usv_front_read(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		    size_t size, int flags, const struct usv_front_loop *loop)
{
	struct read_wait w = { .req = req, .loop = loop };
	struct usv_dev *dev = usv_devlist_get(devs, handle);
	uint8_t msg[USV_IOTLB_MSG_LEN];
	bool nonblock = flags & O_NONBLOCK, waiter = false;
	ssize_t ret = -EBADF;

	/* A blocking read waits in this request thread, where the kernel
	 * sleeps in the caller's own context. Past USV_CHR_READERS_MAX waiting
	 * daemon-wide it answers as a non-blocking one, so that no caller can
	 * hold every thread and stall other devices' requests. */
	if (dev && !nonblock) {
		pthread_mutex_lock(&devs->lock);
		waiter = devs->chr_readers < USV_CHR_READERS_MAX;
		devs->chr_readers += waiter;
		pthread_mutex_unlock(&devs->lock);
		if (!waiter)
			usv_dbg("dev %u: blocking IOTLB read answered as non-blocking: "
				"%u reads wait already", handle, USV_CHR_READERS_MAX);
	}
	if (dev)
		ret = usv_chr_read(dev, msg, size, nonblock || !waiter, req_interrupted, &w);
	if (waiter) {
		pthread_mutex_lock(&devs->lock);
		devs->chr_readers--;
		pthread_mutex_unlock(&devs->lock);
	}
	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_buf(req, (const char *)msg, (size_t)ret);
}

void usv_front_write(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		     const char *buf, size_t size)
{
	struct usv_dev *dev = usv_devlist_get(devs, handle);
	ssize_t ret = dev ? usv_chr_write(dev, buf, size) : -EBADF;

	if (ret < 0)
		fuse_reply_err(req, (int)-ret);
	else
		fuse_reply_write(req, (size_t)ret);
}

static void poll_notify(void *ph)
{
	fuse_lowlevel_notify_poll(ph);
}

static void poll_drop(void *ph)
{
	fuse_pollhandle_destroy(ph);
}

static const struct usv_poll_waker poll_waker = {
	.notify = poll_notify,
	.drop = poll_drop,
};

void usv_front_poll(struct fuse_req *req, struct usv_devlist *devs, unsigned handle,
		    struct fuse_pollhandle *ph)
{
	struct usv_dev *dev = usv_devlist_get(devs, handle);

	if (!dev) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_err(req, EBADF);
		return;
	}
	/* The device keeps the handle and wakes the poller when a MISS is
	 * queued (fuse_lowlevel_notify_poll). */
	fuse_reply_poll(req, usv_chr_poll(dev, &poll_waker, ph));
}
