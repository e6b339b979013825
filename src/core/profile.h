/* SPDX-License-Identifier: MIT */
/*
 * What a device offers and how it answers where kernels differ. The default
 * profile is usvhost's own; compatibility profiles can mimic other kernels.
 */
#ifndef USV_CORE_PROFILE_H
#define USV_CORE_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "usvhost/vhost_abi.h"

struct usv_profile {
	const char *name;
	const char *description;
	uint64_t features[USV_FEATURES_DWORDS]; /* GET_FEATURES(_ARRAY) */
	uint64_t backend_features;               /* GET_BACKEND_FEATURES */
	uint32_t max_mem_regions;                /* E2BIG above this */
	bool has_backend_features; /* GET/SET_BACKEND_FEATURES exist (4.19+) */
	bool has_features_array;   /* GET/SET_FEATURES_ARRAY exist (6.17+) */
};

/* The default: what usvhost implements. */
const struct usv_profile *usv_profile_default(void);
/* By name, or NULL. */
const struct usv_profile *usv_profile_find(const char *name);

#endif
