/* SPDX-License-Identifier: MIT */
/* Device-wide ioctls of vhost_dev_ioctl(): memory table and dirty log. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "core/profile.h"
#include "core/vhost_ops.h"

static void log_regions(const struct usv_dev *dev, const struct usv_guestmem *m)
{
	usv_info("dev %u: memory table with %u region%s", dev->handle,
		 m->nregions, m->nregions == 1 ? "" : "s");
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct usv_mem_region *r = &m->regions[i];

		usv_info("dev %u: region %u: gpa=0x%llx size=0x%llx uaddr=0x%llx strategy=%s%s backing=%s%s%s%s",
			 dev->handle, i, (unsigned long long)r->gpa,
			 (unsigned long long)(r->last - r->gpa + 1),
			 (unsigned long long)r->uaddr,
			 usv_mem_strategy_name(r->strategy),
			 r->strategy == USV_MEM_MMAP && !r->writable ? " (read-only)" : "",
			 r->backing[0] ? r->backing : "unmapped",
			 r->why[0] ? " (" : "", r->why, r->why[0] ? ")" : "");
	}
}

int usv_op_set_mem_table(struct usv_dev *dev, struct usv_req *req)
{
	struct usv_vhost_memory hdr;
	struct usv_vhost_memory_region *regs = NULL;
	struct usv_guestmem *m = NULL, *old;
	int ret;

	ret = usv_req_read(req, req->arg, &hdr, sizeof(hdr));
	if (ret)
		return ret;
	if (hdr.padding)
		return -EOPNOTSUPP;
	if (hdr.nregions > dev->profile->max_mem_regions)
		return -E2BIG;
	regs = calloc(hdr.nregions ? hdr.nregions : 1, sizeof(*regs));
	if (!regs)
		return -ENOMEM;
	ret = usv_req_read(req, req->arg + sizeof(hdr), regs,
			   (size_t)hdr.nregions * sizeof(*regs));
	if (ret)
		goto out;
	ret = usv_guestmem_new(regs, hdr.nregions, &m);
	if (ret)
		goto out;
	if (!usv_dev_memory_access_ok(dev, m, false)) {
		ret = -EFAULT;
		goto out;
	}
	ret = usv_guestmem_bind(m, &dev->owner);
	if (ret)
		goto out;
	old = dev->mem;
	dev->mem = m;
	m = old; /* freed below, once no running ring uses it */
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		usv_ring_update(dev, i, USV_RING_MEM);
	log_regions(dev, dev->mem);
out:
	usv_guestmem_free(m);
	free(regs);
	return ret;
}

int usv_op_set_log_base(struct usv_dev *dev, struct usv_req *req)
{
	uint64_t base;
	int ret = usv_req_read(req, req->arg, &base, sizeof(base));

	if (ret)
		return ret;
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_vq *vq = &dev->vqs[i];

		/* An inactive ring is checked when it is started. */
		if (usv_vq_running(vq) &&
		    !(usv_vq_memory_access_ok(dev->mem, base,
					      usv_dev_has_feature(dev, USV_F_LOG_ALL)) &&
		      usv_vq_log_used_access_ok(dev, vq, base, vq->log_used, vq->log_addr))) {
			ret = -EFAULT;
			continue;
		}
		vq->log_base = base;
		usv_ring_update(dev, i, USV_RING_LOG);
	}
	return ret;
}

int usv_op_set_log_fd(struct usv_dev *dev, struct usv_req *req)
{
	int32_t remote;
	int fd = -1, old;
	int ret = usv_req_read(req, req->arg, &remote, sizeof(remote));

	if (ret)
		return ret;
	if (remote != USV_VHOST_FILE_UNBIND) {
		ret = usv_import_eventfd(dev, remote, &fd);
		if (ret)
			return ret;
	}
	old = dev->log_fd;
	dev->log_fd = fd;
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		usv_ring_update(dev, i, USV_RING_LOG);
	if (old >= 0)
		close(old);
	return 0;
}
