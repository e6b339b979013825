/* SPDX-License-Identifier: MIT */
/*
 * One handler per vhost-net ioctl, each with the kernel's checks, in the
 * kernel's order, with the kernel's errno values. Split like drivers/vhost:
 * vhost_net.c (net.c's own ioctls), vhost_dev.c and vhost_vring.c (vhost.c).
 * Called by the ioctl table with the device lock held.
 */
#ifndef USV_CORE_VHOST_OPS_H
#define USV_CORE_VHOST_OPS_H

#include "core/device.h"
#include "core/request.h"

/* net.c */
int usv_op_get_features(struct usv_dev *dev, struct usv_req *req);
int usv_op_set_features(struct usv_dev *dev, struct usv_req *req);
int usv_op_get_features_array(struct usv_dev *dev, struct usv_req *req);
int usv_op_set_features_array(struct usv_dev *dev, struct usv_req *req);
int usv_op_get_backend_features(struct usv_dev *dev, struct usv_req *req);
int usv_op_set_backend_features(struct usv_dev *dev, struct usv_req *req);
int usv_op_set_owner(struct usv_dev *dev, struct usv_req *req);
int usv_op_reset_owner(struct usv_dev *dev, struct usv_req *req);
int usv_op_net_set_backend(struct usv_dev *dev, struct usv_req *req);

/* vhost.c, device ioctls */
int usv_op_set_mem_table(struct usv_dev *dev, struct usv_req *req);
int usv_op_set_log_base(struct usv_dev *dev, struct usv_req *req);
int usv_op_set_log_fd(struct usv_dev *dev, struct usv_req *req);

/* vhost.c, vring ioctls */
int usv_op_set_vring_num(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
int usv_op_set_vring_addr(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
int usv_op_set_vring_base(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
int usv_op_get_vring_base(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
int usv_op_set_vring_kick(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
int usv_op_set_vring_call(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
int usv_op_set_vring_err(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
int usv_op_set_vring_busyloop(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);
int usv_op_get_vring_busyloop(struct usv_dev *dev, struct usv_vq *vq, struct usv_req *req);

/* Shared checks (vhost.c's access_ok family), in vhost_access.c. */
bool usv_access_ok(uint64_t addr, uint64_t size);
bool usv_log_access_ok(uint64_t log_base, uint64_t addr, uint64_t size);
bool usv_vq_memory_access_ok(const struct usv_guestmem *mem, uint64_t log_base,
			     bool log_all);
bool usv_vq_log_used_access_ok(const struct usv_dev *dev, const struct usv_vq *vq,
			       uint64_t log_base, bool log_used, uint64_t log_addr);
bool usv_vq_access_ok(const struct usv_dev *dev, const struct usv_vq *vq,
		      uint32_t num, uint64_t desc, uint64_t avail, uint64_t used);
/* vhost_vq_access_ok(): the ring's memory, log and addresses. */
bool usv_vq_ready(const struct usv_dev *dev, const struct usv_vq *vq);
/* memory_access_ok(): every running ring accepts mem. */
bool usv_dev_memory_access_ok(const struct usv_dev *dev,
			      const struct usv_guestmem *mem, bool log_all);
/* Imports an eventfd from the owner: -EBADF bad fd, -EINVAL not an eventfd. */
int usv_import_eventfd(struct usv_dev *dev, int remote_fd, int *local);
/* Tells the datapath that running ring idx must pick up a change. */
void usv_ring_update(struct usv_dev *dev, unsigned idx, unsigned what);
/* Are two local fds the same open file (kcmp)? */
bool usv_same_file(int a, int b);

#endif
