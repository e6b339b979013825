/* SPDX-License-Identifier: MIT */
/*
 * What the control plane tells a datapath. The core never includes a
 * datapath; whoever runs the core (the daemon, a test, a library user) hands
 * it one of these, as the CUSE-era vhost library was handed its notify_ops.
 *
 * Every call is made with the device's lock held, from the thread serving the
 * ioctl, and must not return before the datapath has applied it: after
 * ring_stop() returns, the ring's in-flight work is finished and published,
 * so GET_VRING_BASE is exact; after ring_update() returns, the datapath no
 * longer uses the fds or memory table that the core is about to close/free.
 */
#ifndef USVHOST_DP_SEAM_H
#define USVHOST_DP_SEAM_H

struct usv_dev;

enum usv_ring_change {
	USV_RING_KICK = 1 << 0, /* kick eventfd replaced */
	USV_RING_CALL = 1 << 1, /* call eventfd replaced (interrupt mask/unmask) */
	USV_RING_ERR = 1 << 2,  /* error eventfd replaced */
	USV_RING_ADDR = 1 << 3, /* ring addresses or log flag changed */
	USV_RING_MEM = 1 << 4,  /* memory table replaced */
	USV_RING_LOG = 1 << 5,  /* log base or log fd changed */
	USV_RING_BUSYLOOP = 1 << 6,
	USV_RING_FEATURES = 1 << 7, /* acked features (and header lengths) changed */
};

struct usv_datapath_ops {
	/* A backend was attached to ring idx (NET_SET_BACKEND fd). */
	int (*ring_start)(void *ctx, struct usv_dev *dev, unsigned idx);
	/* The ring is being stopped (NET_SET_BACKEND -1, RESET_OWNER, release). */
	void (*ring_stop)(void *ctx, struct usv_dev *dev, unsigned idx);
	/* Something a running ring uses changed; what is a usv_ring_change mask. */
	void (*ring_update)(void *ctx, struct usv_dev *dev, unsigned idx,
			    unsigned what);
	/* Publish the running ring's indexes into usv_vq (GET_VRING_BASE). */
	void (*ring_sync)(void *ctx, struct usv_dev *dev, unsigned idx);
	/* The device is being freed (release): drop per-device state. */
	void (*dev_free)(void *ctx, struct usv_dev *dev);
};

#endif
