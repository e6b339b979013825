/* SPDX-License-Identifier: MIT */
/* The ioctls drivers/vhost/net.c serves itself, before vhost_dev_ioctl(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/procmaps.h"
#include "core/profile.h"
#include "core/vhost_chr.h"
#include "core/vhost_ops.h"

/* Largest zero-fill or zero-check past the known feature words: what one
 * CUSE request can move. The kernel has no such bound; a caller asking for
 * more gets EFAULT (docs/conformance.md). */
#define FEATURES_ARRAY_TAIL_MAX (64u * 1024)

int usv_op_get_features(struct usv_dev *dev, struct usv_req *req)
{
	uint64_t f = dev->profile->features[0];

	return usv_req_write(req, req->arg, &f, sizeof(f));
}

/* vhost_net_set_features(): header lengths, log and IOTLB checks, then ack. */
static int set_features(struct usv_dev *dev, const uint64_t *features)
{
	uint64_t f0 = features[0];
	uint32_t hdr_len, vhost_hlen, sock_hlen;
	unsigned what = USV_RING_FEATURES;

	hdr_len = f0 & (USV_BIT(USV_F_NET_MRG_RXBUF) | USV_BIT(USV_F_VERSION_1)) ? 12 : 10;
	if (f0 & USV_BIT(USV_F_NET_VIRTIO_NET_HDR)) {
		vhost_hlen = hdr_len; /* vhost adds and strips the header */
		sock_hlen = 0;
	} else {
		vhost_hlen = 0; /* the tap carries it */
		sock_hlen = hdr_len;
	}
	if ((f0 & USV_BIT(USV_F_LOG_ALL)) && !usv_dev_memory_access_ok(dev, dev->mem, true))
		return -EFAULT;
	/* vhost_init_device_iotlb(): every SET_FEATURES with ACCESS_PLATFORM
	 * starts an empty IOTLB in place of the one before; without it, an
	 * IOTLB the device has stays. */
	if (f0 & USV_BIT(USV_F_ACCESS_PLATFORM)) {
		struct usv_iotlb *tlb = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);

		if (!tlb)
			return -EFAULT;
		usv_iotlb_free(dev->iotlb);
		dev->iotlb = tlb;
		usv_msgq_set_open(&dev->msgq, true);
		what |= USV_RING_IOTLB; /* rings drop what they translated */
	}
	memcpy(dev->acked_features, features, sizeof(dev->acked_features));
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		dev->vqs[i].vhost_hlen = vhost_hlen;
		dev->vqs[i].sock_hlen = sock_hlen;
		usv_ring_update(dev, i, what);
	}
	return 0;
}

int usv_op_set_features(struct usv_dev *dev, struct usv_req *req)
{
	uint64_t f[USV_FEATURES_DWORDS] = { 0 };
	int ret = usv_req_read(req, req->arg, &f[0], sizeof(f[0]));

	if (ret)
		return ret;
	if (f[0] & ~dev->profile->features[0])
		return -EOPNOTSUPP;
	return set_features(dev, f);
}

int usv_op_get_features_array(struct usv_dev *dev, struct usv_req *req)
{
	uint64_t count, copied, tail;
	int ret = usv_req_read(req, req->arg, &count, sizeof(count));

	if (ret)
		return ret;
	copied = count < USV_FEATURES_DWORDS ? count : USV_FEATURES_DWORDS;
	ret = usv_req_write(req, req->arg + 8, dev->profile->features, copied * 8);
	if (ret)
		return ret;
	/* Zero what the caller provided past the words we know. (Linux 6.17's
	 * clear_user() starts at features[0] instead of features[copied];
	 * usvhost zeroes the tail, as that commit says it means to.) */
	tail = count - copied;
	if (tail > FEATURES_ARRAY_TAIL_MAX / 8)
		return -EFAULT;
	return usv_req_clear(req, req->arg + 8 + copied * 8, tail * 8);
}

int usv_op_set_features_array(struct usv_dev *dev, struct usv_req *req)
{
	uint64_t f[USV_FEATURES_DWORDS] = { 0 };
	uint64_t count, copied, word[64];
	int ret = usv_req_read(req, req->arg, &count, sizeof(count));

	if (ret)
		return ret;
	copied = count < USV_FEATURES_DWORDS ? count : USV_FEATURES_DWORDS;
	ret = usv_req_read(req, req->arg + 8, f, copied * 8);
	if (ret)
		return ret;
	/* Words past VIRTIO_FEATURES_MAX are unsupported by definition. */
	if (count - copied > FEATURES_ARRAY_TAIL_MAX / 8)
		return -EFAULT;
	for (uint64_t i = copied; i < count;) {
		uint64_t n = count - i < 64 ? count - i : 64;

		ret = usv_req_read(req, req->arg + 8 + i * 8, word, n * 8);
		if (ret == -EFAULT) {
			/* The kernel reads word by word: a nonzero word before
			 * an unreadable one is EOPNOTSUPP, not EFAULT. */
			for (uint64_t j = 0; j < n; j++) {
				ret = usv_req_read(req, req->arg + 8 + (i + j) * 8, &word[j], 8);
				if (ret)
					return ret;
				if (word[j])
					return -EOPNOTSUPP;
			}
		}
		if (ret)
			return ret;
		for (uint64_t j = 0; j < n; j++)
			if (word[j])
				return -EOPNOTSUPP;
		i += n;
	}
	for (unsigned i = 0; i < USV_FEATURES_DWORDS; i++)
		if (f[i] & ~dev->profile->features[i])
			return -EOPNOTSUPP;
	return set_features(dev, f);
}

int usv_op_get_backend_features(struct usv_dev *dev, struct usv_req *req)
{
	uint64_t f = dev->profile->backend_features;

	return usv_req_write(req, req->arg, &f, sizeof(f));
}

int usv_op_set_backend_features(struct usv_dev *dev, struct usv_req *req)
{
	uint64_t f;
	int ret = usv_req_read(req, req->arg, &f, sizeof(f));

	if (ret)
		return ret;
	if (f & ~dev->profile->backend_features)
		return -EOPNOTSUPP;
	dev->acked_backend_features = f;
	return 0;
}

int usv_op_set_owner(struct usv_dev *dev, struct usv_req *req)
{
	struct usv_owner o;
	int ret;

	if (dev->owner.tgid)
		return -EBUSY;
	/* Pinned now, not at open(): the opener may be a shell that execs
	 * QEMU. The caller is inside this request: it cannot exec or exit. */
	ret = usv_owner_pin(req->caller.tgid, &o);
	if (ret)
		goto fail;
	if (dev->mem) {
		ret = usv_guestmem_bind(dev->mem, &o);
		if (ret)
			goto release;
	}
	dev->owner = o;
	usv_info("dev %u: owner %d (%s)", dev->handle, o.tgid, o.comm);
	return 0;
release:
	usv_owner_release(&o);
fail:
	if (ret == -EMFILE || ret == -ENFILE || ret == -ENOMEM)
		usv_warn("dev %u: cannot pin process %d: %s (the daemon's own limit)",
			 dev->handle, req->caller.tgid, strerror(-ret));
	else
		usv_warn("dev %u: cannot reach process %d: %s (the daemon needs "
			 "ptrace-level rights over QEMU)", dev->handle,
			 req->caller.tgid, strerror(-ret));
	return ret;
}

int usv_op_reset_owner(struct usv_dev *dev, struct usv_req *req)
{
	struct usv_guestmem *empty;

	if (!usv_dev_is_owner(dev, req->caller.tgid))
		return -EPERM;
	if (usv_guestmem_new(NULL, 0, &empty))
		return -ENOMEM;
	usv_info("dev %u: reset by owner %d", dev->handle, dev->owner.tgid);
	usv_dev_reset_owner(dev, empty);
	return 0;
}

/*
 * The ring's protections in the owner, where the kernel's copy_to_user()
 * and get_user() would fault: the used ring writable, desc and avail
 * readable. Our writes go through /proc/<pid>/mem, which would write even a
 * read-only private page (the owner's own copy): this keeps the kernel's
 * EFAULT at attach for a ring QEMU cannot write.
 */
static int ring_prot_ok(struct usv_dev *dev, struct usv_vq *vq)
{
	struct usv_vma *v = NULL;
	int nv = usv_maps_read(dev->owner.tgid, &v), ret = 0;

	if (nv < 0) {
		usv_warn("dev %u: vq %u: cannot read the owner's maps: %s",
			 dev->handle, vq->index, strerror(-nv));
		return nv == -EMFILE || nv == -ENFILE || nv == -ENOMEM ? nv : -EFAULT;
	}
	/* A packed ring's used elements are written in the descriptor ring. */
	if (usv_dev_has_feature(dev, USV_F_RING_PACKED) &&
	    !usv_maps_cover(v, nv, vq->desc, usv_vring_desc_size(vq->num), true)) {
		usv_warn("dev %u: vq %u: packed descriptor ring at 0x%llx is not writable memory",
			 dev->handle, vq->index, (unsigned long long)vq->desc);
		ret = -EFAULT;
	} else if (!usv_maps_cover(v, nv, vq->used, usv_vring_used_size(dev, vq->num), true)) {
		usv_warn("dev %u: vq %u: used ring at 0x%llx is not writable memory",
			 dev->handle, vq->index, (unsigned long long)vq->used);
		ret = -EFAULT;
	} else if (!usv_maps_cover(v, nv, vq->desc, usv_vring_desc_size(vq->num), false) ||
		   !usv_maps_cover(v, nv, vq->avail, usv_vring_avail_size(dev, vq->num),
				   false)) {
		usv_warn("dev %u: vq %u: descriptor table or avail ring is not "
			 "readable memory", dev->handle, vq->index);
		ret = -EFAULT;
	}
	free(v);
	return ret;
}

/* The used ring's word at off as QEMU's address, through the IOTLB: a miss
 * is asked for and, as vhost_put_user/get_user there, the access fails. */
static int used_word_uva(struct usv_dev *dev, struct usv_vq *vq, uint64_t off,
			 unsigned access, uint64_t *uva)
{
	struct usv_iotlb_seg seg;
	uint64_t miss;
	int n = usv_iotlb_translate(dev->iotlb, vq->used + off, 2, access, &seg, 1, &miss);

	if (n == -EAGAIN)
		usv_chr_miss(dev, vq->index, miss, access,
			     dev->acked_backend_features & USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2));
	if (n != 1)
		return -EFAULT;
	*uva = seg.addr;
	return 0;
}

/* vhost_vq_init_access() with an IOTLB: the ring addresses are IOVAs. */
static int vq_init_access_iotlb(struct usv_dev *dev, struct usv_vq *vq)
{
	uint16_t flags = vq->used_flags, idx;
	uint64_t uva;

	/* Packed: no used flags nor index (below); the walker reaches its
	 * ring through the IOTLB once it runs. */
	if (usv_dev_has_feature(dev, USV_F_RING_PACKED))
		return 0;
	if (used_word_uva(dev, vq, 0, USV_IOTLB_WO, &uva) ||
	    usv_uva_write(dev->mem, uva, &flags, sizeof(flags)))
		return -EFAULT;
	if (used_word_uva(dev, vq, 2, USV_IOTLB_RO, &uva) ||
	    usv_uva_read(dev->mem, uva, &idx, sizeof(idx))) {
		usv_warn("dev %u: vq %u: cannot read used idx at IOVA 0x%llx",
			 dev->handle, vq->index, (unsigned long long)vq->used + 2);
		return -EFAULT;
	}
	vq->last_used_idx = idx;
	return 0;
}

/* vhost_vq_init_access(): publish our used flags, learn the used index. */
static int vq_init_access(struct usv_dev *dev, struct usv_vq *vq)
{
	uint16_t flags = vq->used_flags, idx;
	int ret;

	if (dev->iotlb)
		return vq_init_access_iotlb(dev, vq);
	ret = ring_prot_ok(dev, vq);

	if (ret)
		return ret;
	/* Packed: no used flags nor index; both positions came with
	 * SET_VRING_BASE and the walker publishes the device event. */
	if (usv_dev_has_feature(dev, USV_F_RING_PACKED))
		return 0;
	if (usv_uva_write(dev->mem, vq->used, &flags, sizeof(flags)))
		return -EFAULT;
	if (usv_uva_read(dev->mem, vq->used + 2, &idx, sizeof(idx))) {
		usv_warn("dev %u: vq %u: cannot read used idx at 0x%llx",
			 dev->handle, vq->index, (unsigned long long)vq->used + 2);
		return -EFAULT;
	}
	vq->last_used_idx = idx;
	return 0;
}

/*
 * get_socket(): a tap/macvtap or an AF_PACKET raw socket, else ENOTSOCK.
 * The owner's fd is looked at before it is imported (its /proc link, its
 * mount's filesystem) so that an obviously wrong one is never imported; our
 * copy is then classified again (the owner's other threads may have
 * replaced it meanwhile). A refused copy is closed after the request, out
 * of the device lock.
 */
static int import_backend(struct usv_dev *dev, int remote_fd, int *local,
			  struct usv_fd_info *info)
{
	char link[128];
	enum usv_fd_peek peek = usv_fd_peek(dev->owner.tgid, remote_fd, link, sizeof(link));
	int fd;

	if (peek != USV_PEEK_SOCKET && peek != USV_PEEK_PATH)
		return -ENOTSOCK;
	if (peek == USV_PEEK_PATH && usv_fd_on_fuse(dev->owner.tgid, remote_fd))
		return -ENOTSOCK;
	fd = usv_pidfd_getfd(dev->owner.pidfd, remote_fd);
	if (fd < 0)
		return fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ? fd : -ENOTSOCK;
	usv_fd_classify(fd, info);
	if (info->kind != USV_FD_TAP && info->kind != USV_FD_TUN_DETACHED &&
	    info->kind != USV_FD_PACKET) {
		usv_dev_close_later(dev, fd);
		return -ENOTSOCK;
	}
	*local = fd;
	return 0;
}

/* The other ring's fd when it runs on the same tap (the kernel holds one
 * file for both): one fd per tap, not one per ring. */
static int share_backend(struct usv_dev *dev, unsigned idx, int fd)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		int other = dev->vqs[i].backend_fd;

		if (i != idx && fd >= 0 && other >= 0 && usv_same_file(fd, other)) {
			close(fd);
			return other;
		}
	}
	return fd;
}

static int start_ring(struct usv_dev *dev, struct usv_vq *vq, int fd,
		      const struct usv_fd_info *info)
{
	int ret;

	vq->backend_fd = fd;
	vq->backend = *info;
	ret = vq_init_access(dev, vq);
	if (!ret)
		ret = usv_dev_dp_start(dev, vq->index);
	if (ret) {
		vq->backend_fd = -1;
		memset(&vq->backend, 0, sizeof(vq->backend));
	}
	return ret;
}

int usv_op_net_set_backend(struct usv_dev *dev, struct usv_req *req)
{
	struct usv_vhost_vring_file b;
	struct usv_fd_info info = { 0 }, old_info;
	struct usv_vq *vq;
	int ret, fd = -1, old_fd;

	ret = usv_req_read(req, req->arg, &b, sizeof(b));
	if (ret)
		return ret;
	if (!usv_dev_is_owner(dev, req->caller.tgid))
		return -EPERM;
	if (b.index >= USV_NET_NVQS)
		return -ENOBUFS;
	vq = &dev->vqs[b.index];
	if (!usv_vq_ready(dev, vq))
		return -EFAULT;
	if (b.fd != -1) {
		ret = import_backend(dev, b.fd, &fd, &info);
		if (ret)
			return ret;
	}
	if (usv_same_file(fd, vq->backend_fd)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	fd = share_backend(dev, vq->index, fd);
	/* Quiesce the old backend, then try the new one; on failure the old
	 * one runs again, as the kernel restores its socket. */
	old_fd = vq->backend_fd;
	old_info = vq->backend;
	if (old_fd >= 0)
		usv_dev_dp_stop(dev, vq->index);
	vq->backend_fd = -1;
	if (fd >= 0) {
		ret = start_ring(dev, vq, fd, &info);
		if (ret) {
			usv_dev_put_backend(dev, vq->index, fd);
			if (old_fd >= 0 && start_ring(dev, vq, old_fd, &old_info))
				usv_dev_put_backend(dev, vq->index, old_fd);
			return ret;
		}
		snprintf(req->note, sizeof(req->note), "%s%s%s",
			 usv_fd_kind_name(info.kind), info.ifname[0] ? " " : "",
			 info.ifname);
		usv_info("dev %u: vq %u attached to %s%s%s, last_avail_idx=%u last_used_idx=%u",
			 dev->handle, vq->index, usv_fd_kind_name(info.kind),
			 info.ifname[0] ? " " : "", info.ifname,
			 vq->last_avail_idx, vq->last_used_idx);
	} else {
		usv_info("dev %u: vq %u detached from %s%s%s, last_avail_idx=%u",
			 dev->handle, vq->index, usv_fd_kind_name(old_info.kind),
			 old_info.ifname[0] ? " " : "", old_info.ifname,
			 vq->last_avail_idx);
	}
	usv_dev_put_backend(dev, vq->index, old_fd);
	return 0;
}
