/* SPDX-License-Identifier: MIT */
/* The datapath the daemon wires into the core: io_uring worker threads. */
#ifndef USV_DATAPATH_DATAPATH_H
#define USV_DATAPATH_DATAPATH_H

#include "usvhost/datapath.h"

struct usv_dp;

struct usv_dp_config {
	unsigned workers;       /* 0: one per online CPU, at most 8 */
	const char *stats_path; /* NULL: no stats file */
};

/* Starts the workers (and the stats writer). -errno on failure. */
int usv_dp_create(const struct usv_dp_config *cfg, struct usv_dp **out);
/* Stops the workers; every ring must be stopped already. */
void usv_dp_destroy(struct usv_dp *dp);
/* The ops table to hand to usv_devlist_init() with dp as context. */
const struct usv_datapath_ops *usv_dp_ops(void);
/* Rewrites the stats file now (also done every second and on SIGUSR1). */
void usv_dp_write_stats(struct usv_dp *dp);
unsigned usv_dp_default_workers(void);

#endif
