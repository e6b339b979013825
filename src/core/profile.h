/* SPDX-License-Identifier: MIT */
/*
 * What a device offers and how it answers where kernels differ. The default
 * profile is usvhost's own; compatibility profiles answer as a given Linux
 * generation's vhost-net does (docs/profiles.md has the table and where each
 * fact comes from).
 */
#ifndef USV_CORE_PROFILE_H
#define USV_CORE_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "usvhost/vhost_abi.h"

struct usv_req;

#define USV_KERNEL_NEWEST UINT32_MAX

struct usv_profile {
	const char *name;
	const char *description;
	uint64_t features[USV_FEATURES_DWORDS]; /* GET_FEATURES(_ARRAY) */
	uint64_t backend_features;               /* GET_BACKEND_FEATURES */
	uint32_t max_mem_regions;                /* E2BIG above this */
	/* The Linux version it answers as (USV_KVER), USV_KERNEL_NEWEST for
	 * every ioctl the table has: an ioctl whose row says it came later
	 * takes the unknown path (usv_profile_has_ioctl()). */
	uint32_t kernel;
	/*
	 * Bits the mimicked kernel offers (so they are in features[]) that
	 * usvhost does not implement: SET_FEATURES(_ARRAY) acking one answers
	 * EOPNOTSUPP and logs why (usv_profile_gate()). Zero for "usvhost".
	 */
	uint64_t unimplemented[USV_FEATURES_DWORDS];
	/* Where the facts come from, for --profile=help and the docs. */
	const char *source;
};

/* The default: what usvhost implements. */
const struct usv_profile *usv_profile_default(void);
/* By name, or NULL. */
const struct usv_profile *usv_profile_find(const char *name);
/* Every profile, the default first. */
const struct usv_profile *usv_profile_list(unsigned *count);

/* Does the mimicked kernel have ioctl cmd (its row's .since against
 * .kernel; a number the table does not know: yes, it takes the unknown path
 * anyway)? Missing ones take the unknown path: EPERM / EFAULT / ENOBUFS /
 * ENOTTY. */
bool usv_profile_has_ioctl(const struct usv_profile *p, uint32_t cmd);

/*
 * Where a profile answers differently from the handlers: called by dispatch
 * just before a handler runs. 0 lets the handler run; -EOPNOTSUPP refuses an
 * ioctl whose payload acks (a feature word field, or an array of them) a bit
 * of profile->unimplemented (logged with handle in the message);
 * -EFAULT/-USV_ERETRY as reading the payload answers.
 */
int usv_profile_gate(const struct usv_profile *p, unsigned handle,
		     struct usv_req *req);

#endif
