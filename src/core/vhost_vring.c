/* SPDX-License-Identifier: MIT */
/* Per-ring ioctls of vhost_vring_ioctl(). The table has already checked the
 * owner and the index (EPERM, EFAULT, ENOBUFS) before these run. */
#include <errno.h>
#include <unistd.h>

#include "core/log.h"
#include "core/vhost_ops.h"

int usv_op_set_vring_num(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	struct usv_vhost_vring_state s;
	int ret;

	/* Resizing a ring with an active backend is refused. */
	if (usv_vq_running(vq))
		return -EBUSY;
	ret = usv_req_read(req, req->arg, &s, sizeof(s));
	if (ret)
		return ret;
	if (!s.num || s.num > USV_MAX_VRING_NUM || (s.num & (s.num - 1)))
		return -EINVAL;
	vq->num = s.num;
	return 0;
}

int usv_op_set_vring_addr(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	struct usv_vhost_vring_addr a;
	bool log = false;
	int ret = usv_req_read(req, req->arg, &a, sizeof(a));

	if (ret)
		return ret;
	if (a.flags & ~(1u << USV_VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	if ((a.avail_user_addr & (USV_VRING_AVAIL_ALIGN - 1)) ||
	    (a.used_user_addr & (USV_VRING_USED_ALIGN - 1)) ||
	    (a.log_guest_addr & (USV_VRING_USED_ALIGN - 1)))
		return -EINVAL;
	/* Packed: the descriptor ring 16-byte aligned, the event structures
	 * 4 (virtio 1.1 2.8.10.1), which the walker reads as one word. */
	if (usv_dev_has_feature(dev, USV_F_RING_PACKED) &&
	    ((a.desc_user_addr & (USV_VRING_PACKED_DESC_ALIGN - 1)) ||
	     (a.avail_user_addr & (USV_VRING_PACKED_EVENT_ALIGN - 1))))
		return -EINVAL;
	log = a.flags & (1u << USV_VHOST_VRING_F_LOG);
	/* Addresses are only checked while running; otherwise the ring size
	 * may not be known yet, and NET_SET_BACKEND checks them. */
	if (usv_vq_running(vq)) {
		if (!usv_vq_access_ok(dev, vq, vq->num, a.desc_user_addr,
				      a.avail_user_addr, a.used_user_addr))
			return -EINVAL;
		if (!usv_vq_log_used_access_ok(dev, vq, vq->log_base, log,
					       a.log_guest_addr))
			return -EINVAL;
	}
	vq->log_used = log;
	vq->desc = a.desc_user_addr;
	vq->avail = a.avail_user_addr;
	vq->log_addr = a.log_guest_addr;
	vq->used = a.used_user_addr;
	usv_ring_update(dev, vq->index, USV_RING_ADDR);
	return 0;
}

int usv_op_set_vring_base(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	struct usv_vhost_vring_state s;
	int ret;

	/* Moving the base under an active backend is refused. */
	if (usv_vq_running(vq))
		return -EBUSY;
	ret = usv_req_read(req, req->arg, &s, sizeof(s));
	if (ret)
		return ret;
	/* Packed: both positions, each with its wrap counter in bit 15, as
	 * QEMU encodes them (virtio_queue_get_last_avail_idx) and Linux's
	 * vhost takes them since 6.5. The walker checks the slots. */
	if (usv_dev_has_feature(dev, USV_F_RING_PACKED)) {
		vq->last_avail_idx = (uint16_t)s.num;
		vq->last_used_idx = (uint16_t)(s.num >> 16);
	} else {
		if (s.num > 0xffff)
			return -EINVAL;
		vq->last_avail_idx = (uint16_t)s.num;
	}
	vq->avail_idx = vq->last_avail_idx; /* forget the cached index */
	return 0;
}

int usv_op_get_vring_base(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	struct usv_vhost_vring_state s = { .index = vq->index };

	/* A running ring's position lives in the datapath: fetch it. */
	usv_dev_dp_sync(dev, vq->index);
	s.num = vq->last_avail_idx;
	if (usv_dev_has_feature(dev, USV_F_RING_PACKED))
		s.num |= (uint32_t)vq->last_used_idx << 16;

	return usv_req_write(req, req->arg, &s, sizeof(s));
}

/* Reads {index, fd} and imports fd as an eventfd; *local = -1 for unbind. */
static int read_eventfd(struct usv_dev *dev, struct usv_req *req, int *local)
{
	struct usv_vhost_vring_file f;
	int ret = usv_req_read(req, req->arg, &f, sizeof(f));

	*local = -1;
	if (ret)
		return ret;
	if (f.fd == USV_VHOST_FILE_UNBIND)
		return 0;
	return usv_import_eventfd(dev, f.fd, local);
}

/* Installs fd in *slot, tells a running ring, then closes the old one: the
 * datapath has let go of it when ring_update() returns. */
static void swap_fd(struct usv_dev *dev, struct usv_vq *vq, int *slot, int fd,
		    unsigned what)
{
	int old = *slot;

	*slot = fd;
	usv_ring_update(dev, vq->index, what);
	if (old >= 0)
		close(old);
}

int usv_op_set_vring_kick(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	int fd, ret = read_eventfd(dev, req, &fd);

	if (ret)
		return ret;
	/* The same file again changes nothing (no poll restart). */
	if (usv_same_file(fd, vq->kick_fd)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	swap_fd(dev, vq, &vq->kick_fd, fd, USV_RING_KICK);
	return 0;
}

int usv_op_set_vring_call(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	int fd, ret = read_eventfd(dev, req, &fd);

	if (ret)
		return ret;
	swap_fd(dev, vq, &vq->call_fd, fd, USV_RING_CALL);
	return 0;
}

int usv_op_set_vring_err(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	int fd, ret = read_eventfd(dev, req, &fd);

	if (ret)
		return ret;
	swap_fd(dev, vq, &vq->err_fd, fd, USV_RING_ERR);
	return 0;
}

int usv_op_set_vring_busyloop(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	struct usv_vhost_vring_state s;
	int ret = usv_req_read(req, req->arg, &s, sizeof(s));

	if (ret)
		return ret;
	vq->busyloop_timeout = s.num;
	usv_ring_update(dev, vq->index, USV_RING_BUSYLOOP);
	return 0;
}

int usv_op_get_vring_busyloop(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req)
{
	struct usv_vhost_vring_state s = { .index = vq->index, .num = vq->busyloop_timeout };

	return usv_req_write(req, req->arg, &s, sizeof(s));
}
