/* SPDX-License-Identifier: MIT */
#include "core/profile.h"

#include <string.h>

/*
 * usvhost offers what Linux 6.1's vhost-net offers, except
 * VIRTIO_F_ACCESS_PLATFORM: the IOTLB message channel (vIOMMU) is not
 * implemented yet, and offering a feature we cannot serve would be a lie.
 * It answers the 6.17 features-array ioctls as well.
 */
static const struct usv_profile profiles[] = {
	{
		.name = "usvhost",
		.description = "everything usvhost implements (default)",
		.features = {
			USV_BIT(USV_F_NET_MRG_RXBUF) | USV_BIT(USV_F_NOTIFY_ON_EMPTY) |
			USV_BIT(USV_F_LOG_ALL) | USV_BIT(USV_F_ANY_LAYOUT) |
			USV_BIT(USV_F_RING_INDIRECT_DESC) | USV_BIT(USV_F_RING_EVENT_IDX) |
			USV_BIT(USV_F_VERSION_1),
			0,
		},
		.backend_features = USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2),
		.max_mem_regions = USV_MAX_MEM_REGIONS,
		.has_backend_features = true,
		.has_features_array = true,
	},
};

const struct usv_profile *usv_profile_default(void)
{
	return &profiles[0];
}

const struct usv_profile *usv_profile_find(const char *name)
{
	for (unsigned i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (!strcmp(profiles[i].name, name))
			return &profiles[i];
	return NULL;
}
