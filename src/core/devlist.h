/* SPDX-License-Identifier: MIT */
/*
 * The device configuration engine's list: one entry per open of the vhost
 * device, identified by a handle (the lowest free number), looked up by
 * handle on every request and removed on release, as in the CUSE-era DPDK
 * vhost library's config_ll list.
 *
 * Each device remembers the uid that opened it, so that one user's opens can
 * be bounded (max_per_uid) as the kernel bounds them with each opener's own
 * RLIMIT_NOFILE: one user cannot use up the daemon's descriptors for others.
 *
 * Lifetime: the transports guarantee that release comes after every request
 * on that open has been answered, so a looked-up device stays valid for the
 * request that looked it up.
 */
#ifndef USV_CORE_DEVLIST_H
#define USV_CORE_DEVLIST_H

#include <pthread.h>
#include <sys/types.h>

#include "core/device.h"

struct usv_observer;
struct usv_obs_event;
struct usv_inject;

struct usv_devlist {
	pthread_mutex_t lock;
	struct usv_dev *head; /* sorted by handle */
	unsigned count;
	uid_t *opener;      /* by handle: the uid that opened that device */
	unsigned nopener;   /* entries allocated in opener */
	unsigned max_per_uid; /* devices one uid may hold; 0: no limit */
	const struct usv_profile *profile;
	const struct usv_datapath_ops *dp;
	void *dp_ctx;
	const struct usv_observer *obs; /* core/observer.h; NULL: none */
	void *obs_ctx;
	struct usv_inject *inject;       /* core/inject.h; NULL: none */
	/* Blocking read()s of the IOTLB channel waiting now, daemon-wide: each
	 * holds one of the front's request threads (USV_CHR_READERS_MAX). */
	unsigned chr_readers;
};

/* Most blocking IOTLB-channel reads that may wait at once: a quarter of the
 * fronts' 16 request threads, so callers cannot take them all. */
#define USV_CHR_READERS_MAX 4

int usv_devlist_init(struct usv_devlist *list, const struct usv_profile *profile,
		     const struct usv_datapath_ops *dp, void *dp_ctx);
/* Releases every remaining device, then the list itself. */
void usv_devlist_destroy(struct usv_devlist *list);
/* New device with the lowest free handle, opened by uid: -EMFILE when uid
 * already holds max_per_uid devices (what an opener sees at its own fd
 * limit), -ENFILE when every handle is taken, -ENOMEM. */
int usv_devlist_add_uid(struct usv_devlist *list, uid_t uid, unsigned *handle);
/* The same, opened by uid 0. */
int usv_devlist_add(struct usv_devlist *list, unsigned *handle);
/* Inserts dev (made with usv_dev_new() for this list's profile and
 * datapath) under its own handle, opened by uid, as another daemon had it (a
 * hand-over): no per-uid limit applies, later adds still take the lowest
 * free handle. -EEXIST when the handle is taken (dev stays the caller's). */
int usv_devlist_insert(struct usv_devlist *list, struct usv_dev *dev, uid_t uid);
struct usv_dev *usv_devlist_get(struct usv_devlist *list, unsigned handle);
/* Unlinks and releases the device; -ENOENT for an unknown handle. */
int usv_devlist_remove(struct usv_devlist *list, unsigned handle);
unsigned usv_devlist_count(struct usv_devlist *list);
/* Calls fn on every device, in handle order, with the list locked: fn must
 * not add or remove devices, nor block. */
void usv_devlist_for_each(struct usv_devlist *list, void (*fn)(struct usv_dev *dev, void *arg),
			  void *arg);
/* Devices currently open by uid. */
unsigned usv_devlist_count_uid(struct usv_devlist *list, uid_t uid);
/* Devices one uid may hold from now on; 0: no limit (the default). */
void usv_devlist_set_max_per_uid(struct usv_devlist *list, unsigned max);
/* The datapath that devices created from now on use (call before serving). */
void usv_devlist_set_datapath(struct usv_devlist *list,
			      const struct usv_datapath_ops *dp, void *dp_ctx);
/* Hooks handed to every device created from now on (call before serving). */
void usv_devlist_set_observer(struct usv_devlist *list,
			      const struct usv_observer *obs, void *obs_ctx);
void usv_devlist_set_inject(struct usv_devlist *list, struct usv_inject *inject);
/* Reports a device-list event (OPEN from the fronts) to the observer. */
void usv_devlist_observe(struct usv_devlist *list, const struct usv_obs_event *ev);

#endif
