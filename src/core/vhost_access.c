/* SPDX-License-Identifier: MIT */
/*
 * The access checks of drivers/vhost/vhost.c. The kernel validates owner
 * virtual addresses with access_ok() (inside the user address space), not by
 * touching them; these do the same, so the answers match.
 */
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "core/vhost_ops.h"

#ifndef SYS_kcmp
#define SYS_kcmp 312
#endif
#define KCMP_FILE 0

bool usv_access_ok(uint64_t addr, uint64_t size)
{
	return size <= USV_TASK_SIZE_MAX && addr <= USV_TASK_SIZE_MAX - size;
}

/* The bitmap bytes covering guest range [addr, addr+size) are user memory. */
bool usv_log_access_ok(uint64_t log_base, uint64_t addr, uint64_t size)
{
	uint64_t a = addr / USV_VHOST_PAGE_SIZE / 8;
	uint64_t bytes = (size + USV_VHOST_PAGE_SIZE * 8 - 1) / USV_VHOST_PAGE_SIZE / 8;

	if (a > UINT64_MAX - log_base)
		return false;
	return usv_access_ok(log_base + a, bytes);
}

bool usv_vq_memory_access_ok(const struct usv_guestmem *mem, uint64_t log_base,
			     bool log_all)
{
	if (!mem)
		return false;
	for (uint32_t i = 0; i < mem->nregions; i++) {
		const struct usv_mem_region *r = &mem->regions[i];
		uint64_t size = r->last - r->gpa + 1;

		/* vhost_overflow(); a whole-space region (size wraps to 0)
		 * is two maps in the kernel, each of which overflows too. */
		if (size == 0 || r->uaddr > UINT64_MAX - size + 1)
			return false;
		if (!usv_access_ok(r->uaddr, size))
			return false;
		if (log_all && !usv_log_access_ok(log_base, r->gpa, size))
			return false;
	}
	return true;
}

bool usv_vq_log_used_access_ok(const struct usv_dev *dev, const struct usv_vq *vq,
			       uint64_t log_base, bool log_used, uint64_t log_addr)
{
	if (!log_used)
		return true;
	return usv_log_access_ok(log_base, log_addr,
				 usv_vring_used_size(dev, vq->num));
}

bool usv_vq_access_ok(const struct usv_dev *dev, const struct usv_vq *vq,
		      uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	(void)vq;
	return usv_access_ok(desc, usv_vring_desc_size(num)) &&
	       usv_access_ok(avail, usv_vring_avail_size(dev, num)) &&
	       usv_access_ok(used, usv_vring_used_size(dev, num));
}

bool usv_vq_ready(const struct usv_dev *dev, const struct usv_vq *vq)
{
	if (!usv_vq_memory_access_ok(dev->mem, vq->log_base,
				     usv_dev_has_feature(dev, USV_F_LOG_ALL)))
		return false;
	if (!usv_vq_log_used_access_ok(dev, vq, vq->log_base, vq->log_used,
				       vq->log_addr))
		return false;
	/* With an IOTLB the addresses are IOVAs, checked as they are used. */
	if (dev->iotlb)
		return true;
	return usv_vq_access_ok(dev, vq, vq->num, vq->desc, vq->avail, vq->used);
}

bool usv_dev_memory_access_ok(const struct usv_dev *dev,
			      const struct usv_guestmem *mem, bool log_all)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		const struct usv_vq *vq = &dev->vqs[i];
		bool log = log_all || usv_dev_has_feature(dev, USV_F_LOG_ALL);

		/* An inactive ring is checked when it is started. */
		if (usv_vq_running(vq) &&
		    !usv_vq_memory_access_ok(mem, vq->log_base, log))
			return false;
	}
	return true;
}

/* eventfd_fget(): EBADF for no fd, EINVAL for another file. Anything but
 * an eventfd is refused from its /proc link, never imported; our copy is
 * checked again (the owner's other threads may have replaced it), and a
 * refused copy is closed out of the device lock. */
int usv_import_eventfd(struct usv_dev *dev, int remote_fd, int *local)
{
	struct usv_fd_info info;
	char link[128];
	enum usv_fd_peek peek = usv_fd_peek(dev->owner.tgid, remote_fd, link, sizeof(link));
	int fd;

	if (peek != USV_PEEK_EVENTFD && peek != USV_PEEK_GONE)
		return -EINVAL;
	fd = usv_pidfd_getfd(dev->owner.pidfd, remote_fd);
	if (fd < 0)
		return fd == -EPERM || fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ?
			       fd : -EBADF;
	usv_fd_classify(fd, &info);
	if (info.kind != USV_FD_EVENTFD) {
		usv_dev_close_later(dev, fd);
		return -EINVAL;
	}
	*local = fd;
	return 0;
}

void usv_ring_update(struct usv_dev *dev, unsigned idx, unsigned what)
{
	usv_dev_dp_update(dev, idx, what);
}

bool usv_same_file(int a, int b)
{
	pid_t self = getpid();

	if (a < 0 || b < 0)
		return a == b;
	return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}
