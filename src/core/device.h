/* SPDX-License-Identifier: MIT */
/*
 * One vhost-net device: what one open() of /dev/vhost-net holds in the
 * kernel (struct vhost_net with its vhost_dev and two vhost_virtqueues).
 */
#ifndef USV_CORE_DEVICE_H
#define USV_CORE_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/caller.h"
#include "core/guestmem.h"
#include "core/iotlb.h"
#include "core/iotlb_msgq.h"
#include "usvhost/dp_seam.h"
#include "usvhost/vhost_abi.h"

struct usv_profile;
struct usv_observer;
struct usv_inject;

struct usv_vq {
	unsigned index;
	uint32_t num;
	uint64_t desc, avail, used; /* owner virtual addresses */
	uint64_t log_addr;          /* guest address of the used ring, for the log */
	uint64_t log_base;          /* owner virtual address of the dirty bitmap */
	bool log_used;
	uint16_t last_avail_idx;
	uint16_t avail_idx;
	uint16_t last_used_idx;
	uint16_t used_flags;
	uint32_t busyloop_timeout;
	int kick_fd, call_fd, err_fd; /* imported from the owner; -1 unbound */
	/* Imported tap/socket; -1: not running. Both rings of one tap share
	 * one fd (the same number): closed when the last ring lets it go. */
	int backend_fd;
	/* Attached, but the datapath does not run it now (a hand-over paused
	 * it, core/devstate.h): stop, sync and update skip the datapath,
	 * usv_dev_dp_start() clears it. */
	bool dp_paused;
	struct usv_fd_info backend;
	uint32_t vhost_hlen, sock_hlen;
};

struct usv_dev {
	struct usv_dev *next; /* device list link */
	unsigned handle;
	pthread_mutex_t lock;
	struct usv_owner owner;   /* core/caller.h */
	uint64_t acked_features[USV_FEATURES_DWORDS];
	uint64_t acked_backend_features;
	struct usv_guestmem *mem; /* NULL until SET_MEM_TABLE */
	/* The device IOTLB, from a SET_FEATURES with ACCESS_PLATFORM until
	 * cleanup (vhost_init_device_iotlb); NULL: addresses are not IOVAs. */
	struct usv_iotlb *iotlb;
	struct usv_iotlb_msgq msgq; /* MISS messages for read() */
	int log_fd;               /* eventfd, -1 unbound */
	struct usv_vq vqs[USV_NET_NVQS];
	const struct usv_profile *profile;
	const struct usv_datapath_ops *dp;
	void *dp_ctx;
	uint64_t ioctls; /* served, for logs */
	/* Set by the device list (core/observer.h, core/inject.h); NULL: none. */
	const struct usv_observer *obs;
	void *obs_ctx;
	struct usv_inject *inject;
	/* An fd a request refused, closed once the device lock is dropped
	 * (closing a file may ask its filesystem); -1 none. */
	int late_close;
};

static inline bool usv_vq_running(const struct usv_vq *vq)
{
	return vq->backend_fd >= 0;
}

static inline bool usv_dev_has_feature(const struct usv_dev *dev, unsigned bit)
{
	return bit < 64 * USV_FEATURES_DWORDS &&
	       (dev->acked_features[bit / 64] >> (bit % 64)) & 1;
}

/* Is process tgid the owner, and is the owner still the address space it
 * was at SET_OWNER (not exited, not exec'd)? The kernel compares mm. */
bool usv_dev_is_owner(const struct usv_dev *dev, pid_t tgid);
/* Closes fd after the request, outside the device lock. */
void usv_dev_close_later(struct usv_dev *dev, int fd);
/* Drops ring idx's hold on its backend fd (closing it unless the other
 * ring shares it). */
void usv_dev_put_backend(struct usv_dev *dev, unsigned idx, int fd);

/* Sizes of the split ring parts for num entries (vhost_get_*_size). */
uint64_t usv_vring_desc_size(uint32_t num);
uint64_t usv_vring_avail_size(const struct usv_dev *dev, uint32_t num);
uint64_t usv_vring_used_size(const struct usv_dev *dev, uint32_t num);

struct usv_dev *usv_dev_new(unsigned handle, const struct usv_profile *profile,
			    const struct usv_datapath_ops *dp, void *dp_ctx);
/* Stops the rings, drops fds, memory and owner: RESET_OWNER's work. The
 * kernel then leaves an empty memory table (empty), not none. */
void usv_dev_reset_owner(struct usv_dev *dev, struct usv_guestmem *empty);
/* Everything of usv_dev_reset_owner(), then frees the device (release). */
void usv_dev_free(struct usv_dev *dev);
/* Detaches ring idx from its backend: tells the datapath, drops the fd. */
void usv_dev_stop_ring(struct usv_dev *dev, unsigned idx);

/* The datapath seam's core side (usvhost/dp_seam.h): the snapshot of ring
 * idx as it stands, its indexes, and the calls that hand them over. start
 * answers the datapath's 0 or -errno (0 without a datapath); stop and sync
 * take the indexes back; update and sync do nothing for a stopped ring, and
 * stop, sync and update nothing for a paused one (dp_paused). */
void usv_dev_ring_config(const struct usv_dev *dev, unsigned idx,
			 struct usv_ring_config *cfg);
void usv_dev_ring_base(const struct usv_dev *dev, unsigned idx, struct usv_ring_base *b);
int usv_dev_dp_start(struct usv_dev *dev, unsigned idx);
void usv_dev_dp_stop(struct usv_dev *dev, unsigned idx);
void usv_dev_dp_sync(struct usv_dev *dev, unsigned idx);
void usv_dev_dp_update(struct usv_dev *dev, unsigned idx, unsigned what);

#endif
