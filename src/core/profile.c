/* SPDX-License-Identifier: MIT */
#include "core/profile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/ioctl_table.h"
#include "core/log.h"
#include "core/request.h"

/*
 * The feature sets, as bit masks. Linux's vhost-net offers
 *   VHOST_FEATURES  = NOTIFY_ON_EMPTY(24) | INDIRECT_DESC(28) | EVENT_IDX(29) |
 *                     LOG_ALL(26) | ANY_LAYOUT(27) | VERSION_1(32)
 * plus VHOST_NET_F_VIRTIO_NET_HDR (27, the same bit as ANY_LAYOUT),
 * MRG_RXBUF(15) and, from 4.8 on, IOMMU_PLATFORM (33, renamed
 * ACCESS_PLATFORM in 5.x): 0x33d008000 from 4.8 to 6.2. 6.3 adds RING_RESET
 * (40), 6.17 IN_ORDER (35) and the first bits past 64, UDP tunnel GSO
 * (65 guest, 67 host). docs/profiles.md says where each fact comes from.
 */
#define F_VHOST                                                                \
	(USV_BIT(USV_F_NOTIFY_ON_EMPTY) | USV_BIT(USV_F_LOG_ALL) |            \
	 USV_BIT(USV_F_ANY_LAYOUT) | USV_BIT(USV_F_RING_INDIRECT_DESC) |      \
	 USV_BIT(USV_F_RING_EVENT_IDX) | USV_BIT(USV_F_VERSION_1))
#define F_NET_BASE (F_VHOST | USV_BIT(USV_F_NET_MRG_RXBUF))
#define F_NET_4_8 (F_NET_BASE | USV_BIT(USV_F_ACCESS_PLATFORM))
#define F_NET_6_17 (F_NET_4_8 | USV_BIT(USV_F_RING_RESET) | USV_BIT(USV_F_IN_ORDER))
/* Word 1 of 6.17's array: VIRTIO_NET_F_GUEST_UDP_TUNNEL_GSO (65) and
 * VIRTIO_NET_F_HOST_UDP_TUNNEL_GSO (67). */
#define F1_UDP_TUNNEL_GSO (USV_BIT(65 - 64) | USV_BIT(67 - 64))

/*
 * usvhost offers what Linux 6.1's vhost-net offers, VIRTIO_F_ACCESS_PLATFORM
 * (the device IOTLB, vIOMMU) and IOTLB_MSG_V2 included. Beyond the kernel
 * it offers VIRTIO_F_RING_PACKED (the packed virtqueue, which QEMU's
 * vhost-net drives when a backend offers it; no kernel profile ever
 * does). It answers the 6.17 features-array ioctls as well.
 *
 * The kernel profiles offer exactly what that kernel offers in
 * GET_FEATURES; the bits usvhost cannot serve are listed in .unimplemented
 * and refused at SET_FEATURES (usv_profile_gate()).
 */
static const struct usv_profile profiles[] = {
	{
		.name = "usvhost",
		.description = "everything usvhost implements (default)",
		.features = { F_NET_4_8 | USV_BIT(USV_F_RING_PACKED), 0 },
		.backend_features = USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2),
		.max_mem_regions = USV_MAX_MEM_REGIONS,
		.kernel = USV_KERNEL_NEWEST,
		.source = "usvhost's own implementation",
	},
	{
		.name = "linux-4.14",
		.description = "Linux 4.14 LTS: no backend features, no features array",
		.features = { F_NET_4_8, 0 },
		.backend_features = 0,
		.max_mem_regions = USV_MAX_MEM_REGIONS,
		.kernel = USV_KVER(4, 14),
		.source = "v4.14 drivers/vhost/net.c (VHOST_NET_FEATURES, vhost_net_ioctl), "
			  "drivers/vhost/vhost.h (VHOST_FEATURES)",
	},
	{
		.name = "linux-5.10",
		.description = "Linux 5.10 LTS: backend features (IOTLB_MSG_V2)",
		.features = { F_NET_4_8, 0 },
		.backend_features = USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2),
		.max_mem_regions = USV_MAX_MEM_REGIONS,
		.kernel = USV_KVER(5, 10),
		.source = "v5.10 drivers/vhost/net.c (VHOST_NET_FEATURES, "
			  "VHOST_NET_BACKEND_FEATURES, vhost_net_ioctl)",
	},
	{
		.name = "linux-6.1",
		.description = "Linux 6.1 LTS (Debian 12): as 5.10",
		.features = { F_NET_4_8, 0 },
		.backend_features = USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2),
		.max_mem_regions = USV_MAX_MEM_REGIONS,
		.kernel = USV_KVER(6, 1),
		.source = "Debian 6.1.0 vhost_net.ko (GET_FEATURES constant 0x33d008000, "
			  "SET_FEATURES mask ~0x33d008000); v6.1 drivers/vhost/net.c",
	},
	{
		.name = "linux-6.17",
		.description = "Linux 6.17: features array, RING_RESET, IN_ORDER, UDP tunnel GSO",
		.features = { F_NET_6_17, F1_UDP_TUNNEL_GSO },
		.backend_features = USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2),
		.max_mem_regions = USV_MAX_MEM_REGIONS,
		.kernel = USV_KVER(6, 17),
		.unimplemented = { USV_BIT(USV_F_IN_ORDER), F1_UDP_TUNNEL_GSO },
		.source = "v6.17 drivers/vhost/net.c (vhost_net_features[], "
			  "VHOST_GET/SET_FEATURES_ARRAY): commits 333c515d1896, "
			  "bbca931fce26, 3f466fdc0b91",
	},
};

#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

const struct usv_profile *usv_profile_default(void)
{
	return &profiles[0];
}

const struct usv_profile *usv_profile_find(const char *name)
{
	for (unsigned i = 0; i < NPROFILES; i++)
		if (!strcmp(profiles[i].name, name))
			return &profiles[i];
	return NULL;
}

const struct usv_profile *usv_profile_list(unsigned *count)
{
	*count = NPROFILES;
	return profiles;
}

bool usv_profile_has_ioctl(const struct usv_profile *p, uint32_t cmd)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(cmd);

	return !d || usv_ioctl_in_kernel(d, p->kernel);
}

static const char *bit_name(unsigned bit)
{
	switch (bit) {
	case USV_F_ACCESS_PLATFORM:
		return "ACCESS_PLATFORM (IOTLB)";
	case USV_F_IN_ORDER:
		return "IN_ORDER";
	case USV_F_RING_RESET:
		return "RING_RESET";
	case 65:
		return "GUEST_UDP_TUNNEL_GSO";
	case 67:
		return "HOST_UDP_TUNNEL_GSO";
	default:
		return "feature";
	}
}

static int refuse(const struct usv_profile *p, unsigned handle, const char *what,
		  const uint64_t *f)
{
	char names[160] = "";
	size_t used = 0;

	for (unsigned w = 0; w < USV_FEATURES_DWORDS; w++) {
		uint64_t bad = f[w] & p->unimplemented[w];

		for (unsigned b = 0; b < 64 && used + 1 < sizeof(names); b++) {
			int n;

			if (!(bad >> b & 1))
				continue;
			n = snprintf(names + used, sizeof(names) - used, "%s%s(%u)",
				     used ? ", " : "", bit_name(w * 64 + b), w * 64 + b);
			if (n > 0)
				used += (size_t)n;
		}
	}
	usv_warn("dev %u: %s acks %s: profile %s offers it as that kernel does, "
		 "but usvhost does not implement it: EOPNOTSUPP", handle, what,
		 names, p->name);
	return -EOPNOTSUPP;
}

/* The feature words an ioctl's payload acks, read as the handler reads
 * them: 1 with f filled, 0 when the payload carries none, or -errno. */
static int acked_words(const struct usv_ioctl_payload *pl, struct usv_req *req,
		       uint64_t f[USV_FEATURES_DWORDS])
{
	const struct usv_ioctl_array *a = pl->array;
	uint64_t count;
	int ret;

	for (unsigned i = 0; i < pl->nfields; i++) {
		if (pl->fields[i].kind != USV_FK_FEATURES)
			continue;
		ret = usv_req_read(req, req->arg + pl->fields[i].off, &f[0], sizeof(f[0]));
		return ret ? ret : 1;
	}
	if (!a || a->elem_kind != USV_FK_FEATURES || a->nelem)
		return 0;
	ret = usv_req_read(req, req->arg + pl->fields[a->count_field].off, &count,
			   sizeof(count));
	if (ret)
		return ret;
	if (count > USV_FEATURES_DWORDS)
		count = USV_FEATURES_DWORDS;
	ret = usv_req_read(req, req->arg + a->off, f, count * 8);
	return ret ? ret : 1;
}

int usv_profile_gate(const struct usv_profile *p, unsigned handle,
		     struct usv_req *req)
{
	const struct usv_ioctl_desc *d = usv_ioctl_lookup(req->cmd);
	uint64_t f[USV_FEATURES_DWORDS] = { 0 };
	bool any = false;
	int ret;

	for (unsigned w = 0; w < USV_FEATURES_DWORDS; w++)
		any |= p->unimplemented[w] != 0;
	if (!any || !d || !usv_ioctl_in_kernel(d, p->kernel))
		return 0;
	ret = acked_words(&d->in, req, f);
	if (ret <= 0)
		return ret;
	for (unsigned w = 0; w < USV_FEATURES_DWORDS; w++)
		if (f[w] & p->unimplemented[w])
			return refuse(p, handle, d->name, f);
	return 0;
}
