/* SPDX-License-Identifier: MIT */
/* The datapath the daemon wires into the core: an io_uring worker per device. */
#ifndef USV_DATAPATH_URING_DP_H
#define USV_DATAPATH_URING_DP_H

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
/* Rewrites the stats file now (also done every second and on SIGUSR1). */
void usv_dp_write_stats(struct usv_dp *dp);

#endif
