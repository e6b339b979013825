/* SPDX-License-Identifier: MIT */
/*
 * What a watcher may know of the open devices (the daemon's control socket):
 * a copy of each device's state, taken under the device list's rules so that
 * the caller can then do slow work (socket I/O, /proc reads) holding no lock.
 */
#ifndef USV_CORE_DEVSUMMARY_H
#define USV_CORE_DEVSUMMARY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/caller.h"
#include "core/devlist.h"
#include "usvhost/vhost_abi.h"

struct usv_vq_summary {
	uint32_t num;
	bool running;                  /* attached to a backend */
	struct usv_fd_info backend;    /* when running */
};

struct usv_dev_summary {
	unsigned handle;
	uid_t uid;          /* the opener */
	bool busy;          /* its lock stayed held: only handle and uid are known */
	pid_t owner;        /* tgid of the owner, 0: none */
	char comm[16];      /* the owner's comm at SET_OWNER */
	uint64_t features[USV_FEATURES_DWORDS];
	uint64_t backend_features;
	uint64_t ioctls;
	bool has_mem;       /* a memory table is set */
	unsigned nregions, nmapped; /* regions, of which mapped (the rest: procmem) */
	struct usv_vq_summary vq[USV_NET_NVQS];
};

/* A copy of every open device, sorted by handle, in a new array (*out, to
 * free) of *n entries. Never waits for a device lock: the list lock is held
 * only to copy, a device whose lock is taken is tried again for a short
 * while (its ioctl ends) with the list lock dropped, then reported busy.
 * 0 or -ENOMEM. */
int usv_devlist_summarize(struct usv_devlist *list, struct usv_dev_summary **out,
			  unsigned *n);

#endif
