/* SPDX-License-Identifier: MIT */
/*
 * Watching the engine: whoever runs the core (the daemon's trace recorder,
 * a test) can hand the device list an observer, as it hands it a datapath.
 * The core calls it for every answered ioctl and for lifecycle events; it
 * knows nothing of what the observer does with them (src/trace writes JSON).
 *
 * Calls are made with the device's lock held, from the thread that served
 * the request, while the caller is still blocked in its ioctl: the caller's
 * fds are still the ones it passed. OPEN comes from the fronts with no lock;
 * RELEASE (and the DETACHes of rings still running at release) with the
 * device list's lock held, before the handle can be reused; IOTLB from the
 * thread serving the read() or write(), with no lock; RING_ERROR from
 * a datapath thread, with no lock (the device stays valid: rings stop before
 * a device is freed). An observer must not call back into the device list
 * or take a device lock.
 */
#ifndef USV_CORE_OBSERVER_H
#define USV_CORE_OBSERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/device.h"
#include "core/request.h"

enum usv_obs_kind {
	USV_OBS_OPEN = 1,   /* handle, tid, open_count */
	USV_OBS_RELEASE,    /* handle, open_count */
	USV_OBS_ATTACH,     /* index, backend: a ring started on a backend */
	USV_OBS_DETACH,     /* index, backend, reason: a ring stopped */
	USV_OBS_RING_ERROR, /* index, reason: the datapath stopped a bad ring */
	USV_OBS_MEMORY,     /* mem: a memory table took effect (strategies) */
	USV_OBS_IOTLB,      /* iotlb: a message written or read on the channel */
};

/* One IOTLB channel message (struct vhost_iotlb_msg and its framing). */
struct usv_obs_iotlb {
	bool read;         /* read() by the owner (a MISS), else write() */
	uint32_t framing;  /* 1: struct vhost_msg, 2: vhost_msg_v2, else the header */
	uint8_t type, perm;
	uint64_t iova, size, uaddr;
	int answer;        /* write(): 0 or -errno as answered */
};

struct usv_obs_event {
	enum usv_obs_kind kind;
	unsigned handle;
	pid_t tid;                         /* OPEN: the opening thread */
	unsigned open_count;               /* OPEN/RELEASE: devices open after */
	unsigned index;                    /* ring events */
	const struct usv_fd_info *backend; /* ATTACH/DETACH */
	const char *reason;                /* DETACH ("ioctl", "release"), RING_ERROR */
	const struct usv_guestmem *mem;    /* MEMORY */
	const struct usv_obs_iotlb *iotlb; /* IOTLB */
};

struct usv_obs_ioctl {
	const struct usv_req *req; /* cmd, arg, caller, captured payloads, note */
	int ret;                   /* 0 or -errno, as answered */
	int injected;              /* the errno injected (--inject), 0 if real */
	uint64_t time_ns;          /* CLOCK_REALTIME when the request arrived */
	uint64_t latency_ns;       /* service time of the answering round */
};

struct usv_observer {
	void (*ioctl)(void *ctx, struct usv_dev *dev, const struct usv_obs_ioctl *ev);
	/* dev is NULL for RELEASE (the device is gone). */
	void (*event)(void *ctx, struct usv_dev *dev, const struct usv_obs_event *ev);
};

/* For the datapath and the core: report ev on dev, if anyone watches. */
static inline void usv_dev_observe(struct usv_dev *dev, const struct usv_obs_event *ev)
{
	if (dev->obs && dev->obs->event)
		dev->obs->event(dev->obs_ctx, dev, ev);
}

/* A ring error (the datapath stopped ring idx), as the datapath reports it
 * through usv_ring_report_error() (usvhost/dp_seam.h). */
static inline void usv_dev_observe_ring_error(struct usv_dev *dev, unsigned idx,
					      const char *reason)
{
	struct usv_obs_event ev = { .kind = USV_OBS_RING_ERROR, .handle = dev->handle,
				    .index = idx, .reason = reason };

	usv_dev_observe(dev, &ev);
}

#endif
