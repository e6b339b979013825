/* SPDX-License-Identifier: MIT */
/* The datapath the daemon wires into the core: an io_uring worker per device. */
#ifndef USV_DATAPATH_URING_DP_H
#define USV_DATAPATH_URING_DP_H

#include <stdint.h>

#include "usvhost/dp_seam.h"

struct usv_dp;

struct usv_dp_config {
	const char *stats_path; /* NULL: no stats file */
};

/* Sets the datapath up (and starts the stats writer). Each device gets its
 * own worker thread at its first ring start. -errno on failure. */
int usv_dp_create(const struct usv_dp_config *cfg, struct usv_dp **out);
/* Every device must have been freed already. */
void usv_dp_destroy(struct usv_dp *dp);
/* The ops table to hand to usv_devlist_init() with dp as context. */
const struct usv_datapath_ops *usv_dp_ops(void);
/* One ring's counters, copied for a watcher (the control socket). */
struct usv_dp_ring_stats {
	unsigned handle;   /* the device's; UINT_MAX: totals of released devices */
	unsigned idx;      /* ring: 0 rx, 1 tx */
	char backend[32];  /* "tap:NAME", or "" */
	const char *state; /* "running", "stopped", "broken" */
	uint64_t packets, bytes, kicks, interrupts, drops, errors;
};

/* Every device's rings, then the released totals (two entries), in a new
 * array (*out, to free) of *n entries. The datapath's lock is held only to
 * copy. 0 or -ENOMEM. */
int usv_dp_stats_collect(struct usv_dp *dp, struct usv_dp_ring_stats **out, unsigned *n);
/* Adds the counters of *st (packets .. errors; the rest is ignored) to ring
 * idx of dev: another daemon's, handed over, so that the ring's counters go
 * on from there. A device whose datapath state is not made yet (no ring
 * started since it was restored) gets them at its first start, or the
 * released totals if it is released first. 0, -EINVAL (idx), -ENOMEM. */
int usv_dp_stats_seed(struct usv_dp *dp, const struct usv_dev *dev, unsigned idx,
		      const struct usv_dp_ring_stats *st);
/* Rewrites the stats file now (also done every second and on SIGUSR1). */
void usv_dp_write_stats(struct usv_dp *dp);

#endif
