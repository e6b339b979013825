/* SPDX-License-Identifier: MIT */
/* A device's state out of one daemon and into another (core/devstate.h). */
#include "core/devstate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/profile.h"
#include "core/vhost_ops.h"

int usv_fdvec_push(struct usv_fdvec *v, int fd)
{
	if (v->n == v->cap) {
		unsigned cap = v->cap ? v->cap * 2 : 16;
		int *grown = cap > v->cap ? realloc(v->fd, (size_t)cap * sizeof(*grown)) : NULL;

		if (!grown)
			return -ENOMEM;
		v->fd = grown;
		v->cap = cap;
	}
	v->fd[v->n] = fd;
	return (int)v->n++;
}

void usv_fdvec_free(struct usv_fdvec *v, bool close_fds)
{
	for (unsigned i = 0; close_fds && i < v->n; i++)
		if (v->fd[i] >= 0)
			close(v->fd[i]);
	free(v->fd);
	*v = (struct usv_fdvec){ 0 };
}

void usv_devstate_clear(struct usv_devstate *st)
{
	free(st->regions);
	free(st->iotlb);
	free(st->miss);
	st->regions = NULL;
	st->iotlb = NULL;
	st->miss = NULL;
	st->nregions = st->niotlb = st->nmiss = 0;
}

/* With the device lock held: starts what the datapath does not run. */
static int resume_locked(struct usv_dev *dev)
{
	int ret = 0;

	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_vq *vq = &dev->vqs[i];
		int r;

		if (!usv_vq_running(vq) || !vq->dp_paused)
			continue;
		/* ring_start takes the ring from its saved indexes and goes
		 * once; the signal covers used entries published before the
		 * pause whose interrupt the guest may not have had. */
		r = usv_dev_dp_start(dev, i);
		if (r) {
			usv_err("dev %u: vq %u cannot resume: %s", dev->handle, i, strerror(-r));
			ret = ret ? ret : r;
			continue;
		}
		usv_dev_dp_update(dev, i, USV_RING_SIGNAL);
	}
	return ret;
}

int usv_devstate_resume(struct usv_devlist *devs, unsigned handle)
{
	struct usv_dev *dev = usv_devlist_get(devs, handle);
	int ret;

	if (!dev)
		return -ENOENT;
	pthread_mutex_lock(&dev->lock);
	ret = resume_locked(dev);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

/* The IOTLB's ranges in insertion order, so that re-adding them keeps which
 * of two equal starts a lookup finds. */
static int cmp_seq(const void *a, const void *b)
{
	const struct usv_iotlb_map *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int describe_iotlb(const struct usv_iotlb *tlb, struct usv_devstate *st)
{
	struct usv_iotlb_map *sorted;

	st->has_iotlb = tlb != NULL;
	if (!tlb || !tlb->n)
		return 0;
	sorted = malloc(tlb->n * sizeof(*sorted));
	st->iotlb = calloc(tlb->n, sizeof(*st->iotlb));
	if (!sorted || !st->iotlb) {
		free(sorted);
		return -ENOMEM;
	}
	memcpy(sorted, tlb->maps, tlb->n * sizeof(*sorted));
	qsort(sorted, tlb->n, sizeof(*sorted), cmp_seq);
	for (uint32_t i = 0; i < tlb->n; i++)
		st->iotlb[i] = (struct usv_devstate_iotlb){ .start = sorted[i].start,
							     .last = sorted[i].last,
							     .addr = sorted[i].addr,
							     .perm = sorted[i].perm };
	st->niotlb = tlb->n;
	free(sorted);
	return 0;
}

static int describe_mem(const struct usv_guestmem *m, struct usv_devstate *st)
{
	st->has_mem = m != NULL;
	if (!m || !m->nregions)
		return 0;
	st->regions = calloc(m->nregions, sizeof(*st->regions));
	if (!st->regions)
		return -ENOMEM;
	st->nregions = m->nregions;
	for (uint32_t i = 0; i < m->nregions; i++) {
		const struct usv_mem_region *r = &m->regions[i];
		struct usv_devstate_region *o = &st->regions[i];

		*o = (struct usv_devstate_region){ .gpa = r->gpa, .size = r->last - r->gpa + 1,
						   .uaddr = r->uaddr, .fd = -1 };
		/* A mapping whose fd was not kept cannot be passed on: the
		 * receiver reaches that region through the owner's memfd. */
		if (r->strategy == USV_MEM_MMAP && r->fd >= 0) {
			o->mapped = true;
			o->fd = r->fd;
			o->map_off = r->map_off;
			o->map_len = r->map_len;
			o->local_off = (uint64_t)(r->local - (uint8_t *)r->map_base);
			o->writable = r->writable;
		}
	}
	return 0;
}

static void describe_vq(const struct usv_vq *vq, struct usv_devstate_vq *o)
{
	*o = (struct usv_devstate_vq){
		.num = vq->num, .desc = vq->desc, .avail = vq->avail, .used = vq->used,
		.log_used = vq->log_used, .log_addr = vq->log_addr, .log_base = vq->log_base,
		.last_avail_idx = vq->last_avail_idx, .avail_idx = vq->avail_idx,
		.last_used_idx = vq->last_used_idx, .used_flags = vq->used_flags,
		.busyloop_timeout = vq->busyloop_timeout, .kick_fd = vq->kick_fd,
		.call_fd = vq->call_fd, .err_fd = vq->err_fd, .backend_fd = vq->backend_fd,
		.vhost_hlen = vq->vhost_hlen, .sock_hlen = vq->sock_hlen,
	};
}

int usv_devstate_capture(struct usv_devlist *devs, unsigned handle,
			 struct usv_devstate *st)
{
	struct usv_dev *dev = usv_devlist_get(devs, handle);
	int ret;

	memset(st, 0, sizeof(*st));
	if (!dev)
		return -ENOENT;
	pthread_mutex_lock(&devs->lock);
	st->uid = handle < devs->nopener ? devs->opener[handle] : 0;
	pthread_mutex_unlock(&devs->lock);
	pthread_mutex_lock(&dev->lock);
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_vq *vq = &dev->vqs[i];

		if (!usv_vq_running(vq) || vq->dp_paused)
			continue;
		/* In-flight work published, indexes exact (GET_VRING_BASE). */
		usv_dev_dp_stop(dev, i);
		vq->dp_paused = true;
	}
	st->handle = dev->handle;
	st->ioctls = dev->ioctls;
	st->tgid = dev->owner.tgid;
	st->pidfd = dev->owner.pidfd;
	st->memfd = dev->owner.memfd;
	st->probe = dev->owner.probe;
	memcpy(st->comm, dev->owner.comm, sizeof(st->comm));
	st->comm[sizeof(st->comm) - 1] = '\0';
	memcpy(st->features, dev->acked_features, sizeof(st->features));
	st->backend_features = dev->acked_backend_features;
	st->log_fd = dev->log_fd;
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		describe_vq(&dev->vqs[i], &st->vq[i]);
	ret = describe_mem(dev->mem, st);
	if (!ret)
		ret = describe_iotlb(dev->iotlb, st);
	if (!ret)
		ret = usv_msgq_list(&dev->msgq, &st->miss, &st->nmiss);
	if (ret)
		usv_devstate_clear(st); /* rings stay paused: resume restarts them */
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

/* ---- install: st is untrusted ------------------------------------------- */

static bool pow2_num(uint32_t num)
{
	return num && num <= 32768 && !(num & (num - 1));
}

static bool fd_kind(int fd, enum usv_fd_kind a, enum usv_fd_kind b,
		    enum usv_fd_kind c, struct usv_fd_info *info)
{
	struct usv_fd_info tmp;

	if (!info)
		info = &tmp;
	if (fd < 0)
		return true;
	usv_fd_classify(fd, info);
	return info->kind == a || info->kind == b || info->kind == c;
}

/* fd is a pidfd of process tgid (its fdinfo says so). */
static bool pidfd_of(int fd, pid_t tgid)
{
	char path[64], buf[1024], want[32];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	snprintf(want, sizeof(want), "\nPid:\t%d\n", (int)tgid);
	return strstr(buf, want) != NULL;
}

/* fd is /proc/<tgid>/mem (as usv_owner_pin opened it). */
static bool procmem_of(int fd, pid_t tgid)
{
	char path[64], link[64], want[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	snprintf(want, sizeof(want), "/proc/%d/mem", (int)tgid);
	return strcmp(link, want) == 0;
}

static bool eventfd_or_none(int fd)
{
	return fd_kind(fd, USV_FD_EVENTFD, USV_FD_EVENTFD, USV_FD_EVENTFD, NULL);
}

/* Every fd the state names, in one array: each at most once (but the
 * backend both rings share). fd numbers below -1 are malformed. */
static int check_fd_set(const struct usv_devstate *st)
{
	int fds[3 + 4 * USV_NET_NVQS], n = 0;

	fds[n++] = st->pidfd;
	fds[n++] = st->memfd;
	fds[n++] = st->log_fd;
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		const struct usv_devstate_vq *v = &st->vq[i];

		fds[n++] = v->kick_fd;
		fds[n++] = v->call_fd;
		fds[n++] = v->err_fd;
		if (i == 0 || v->backend_fd != st->vq[0].backend_fd)
			fds[n++] = v->backend_fd;
	}
	for (int i = 0; i < n; i++) {
		if (fds[i] < -1)
			return -EINVAL;
		for (int j = 0; j < i && fds[i] >= 0; j++)
			if (fds[j] == fds[i])
				return -EINVAL;
		for (uint32_t k = 0; k < st->nregions && fds[i] >= 0; k++)
			if (st->regions[k].fd == fds[i])
				return -EINVAL;
	}
	for (uint32_t k = 0; k < st->nregions; k++) {
		if (st->regions[k].fd < -1)
			return -EINVAL;
		for (uint32_t j = 0; j < k && st->regions[k].fd >= 0; j++)
			if (st->regions[j].fd == st->regions[k].fd)
				return -EINVAL;
	}
	return 0;
}

static bool has_any_fd(const struct usv_devstate *st)
{
	if (st->pidfd >= 0 || st->memfd >= 0 || st->log_fd >= 0)
		return true;
	for (unsigned i = 0; i < USV_NET_NVQS; i++)
		if (st->vq[i].kick_fd >= 0 || st->vq[i].call_fd >= 0 ||
		    st->vq[i].err_fd >= 0 || st->vq[i].backend_fd >= 0)
			return true;
	return false;
}

/* What a device could have been told: the profile's offer, the kernel's
 * header lengths, bounded tables. The kinds of fds are checked later. */
static int check_plain(const struct usv_devlist *devs, const struct usv_devstate *st)
{
	const struct usv_profile *p = devs->profile;
	uint64_t f0 = st->features[0];
	uint32_t hdr = f0 & (USV_BIT(USV_F_NET_MRG_RXBUF) | USV_BIT(USV_F_VERSION_1)) ? 12 : 10;
	bool nethdr = f0 & USV_BIT(USV_F_NET_VIRTIO_NET_HDR);

	if (st->handle >= USV_DEVSTATE_MAX_HANDLES || st->uid == (uid_t)-1 || st->tgid < 0 ||
	    memchr(st->comm, '\0', sizeof(st->comm)) == NULL)
		return -EINVAL;
	for (unsigned i = 0; i < USV_FEATURES_DWORDS; i++)
		if (st->features[i] & ~p->features[i])
			return -EINVAL;
	if (st->backend_features & ~p->backend_features)
		return -EINVAL;
	if (st->tgid == 0 ? has_any_fd(st) || st->nregions : st->pidfd < 0 || st->memfd < 0)
		return -EINVAL;
	if ((!st->has_mem && st->nregions) || st->nregions > p->max_mem_regions ||
	    (st->nregions && !st->regions))
		return -EINVAL;
	if ((!st->has_iotlb && (st->niotlb || st->nmiss)) ||
	    st->niotlb > USV_IOTLB_MAX_ENTRIES || st->nmiss > USV_IOTLB_MSGQ_MAX ||
	    (st->niotlb && !st->iotlb) || (st->nmiss && !st->miss))
		return -EINVAL;
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		const struct usv_devstate_vq *v = &st->vq[i];

		if (!pow2_num(v->num))
			return -EINVAL;
		/* Nothing set them, or SET_FEATURES did. */
		if ((v->vhost_hlen || v->sock_hlen) &&
		    (v->vhost_hlen != (nethdr ? hdr : 0) || v->sock_hlen != (nethdr ? 0 : hdr)))
			return -EINVAL;
	}
	for (uint32_t i = 0; i < st->niotlb; i++)
		if (st->iotlb[i].last < st->iotlb[i].start || !st->iotlb[i].perm ||
		    st->iotlb[i].perm > USV_IOTLB_RW)
			return -EINVAL;
	for (unsigned i = 0; i < st->nmiss; i++)
		if (st->miss[i].vq >= USV_NET_NVQS ||
		    (st->miss[i].perm != USV_IOTLB_RO && st->miss[i].perm != USV_IOTLB_WO))
			return -EINVAL;
	for (uint32_t i = 0; i < st->nregions; i++)
		if (st->regions[i].mapped != (st->regions[i].fd >= 0))
			return -EINVAL;
	return check_fd_set(st);
}

/* Forgets every fd of dev that came from st (they stay the caller's), then
 * frees it without telling the datapath, which never saw it. */
static void discard(struct usv_dev *dev)
{
	dev->owner.pidfd = dev->owner.memfd = -1;
	dev->log_fd = -1;
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		struct usv_vq *vq = &dev->vqs[i];

		vq->kick_fd = vq->call_fd = vq->err_fd = vq->backend_fd = -1;
		vq->dp_paused = false;
	}
	for (uint32_t i = 0; dev->mem && i < dev->mem->nregions; i++)
		dev->mem->regions[i].fd = -1;
	dev->dp = NULL;
	usv_dev_free(dev);
}

static int build_mem(struct usv_dev *dev, const struct usv_devstate *st)
{
	struct usv_vhost_memory_region *regs;
	struct usv_guestmem *m = NULL;
	int ret;

	if (!st->has_mem)
		return 0;
	regs = calloc(st->nregions ? st->nregions : 1, sizeof(*regs));
	if (!regs)
		return -ENOMEM;
	for (uint32_t i = 0; i < st->nregions; i++)
		regs[i] = (struct usv_vhost_memory_region){
			.guest_phys_addr = st->regions[i].gpa,
			.memory_size = st->regions[i].size,
			.userspace_addr = st->regions[i].uaddr,
		};
	ret = usv_guestmem_new(regs, st->nregions, &m);
	free(regs);
	if (ret)
		return ret == -ENOMEM ? ret : -EINVAL;
	/* Owned by the device from here: discard() forgets adopted fds. */
	dev->mem = m;
	m->memfd = st->nregions ? dev->owner.memfd : -1;
	if (!usv_dev_memory_access_ok(dev, m, usv_dev_has_feature(dev, USV_F_LOG_ALL)))
		return -EINVAL;
	for (uint32_t i = 0; i < st->nregions; i++) {
		const struct usv_devstate_region *r = &st->regions[i];

		if (!r->mapped)
			continue;
		ret = usv_guestmem_adopt(m, i, r->fd, r->map_off, r->map_len, r->local_off,
					 r->writable);
		if (ret)
			return ret == -ENOMEM ? ret : ret == -EBADF ? -EBADF : -EINVAL;
	}
	return 0;
}

static int build_iotlb(struct usv_dev *dev, const struct usv_devstate *st)
{
	int ret;

	if (!st->has_iotlb)
		return 0;
	dev->iotlb = usv_iotlb_new(USV_IOTLB_MAX_ENTRIES);
	if (!dev->iotlb)
		return -ENOMEM;
	for (uint32_t i = 0; i < st->niotlb; i++) {
		const struct usv_devstate_iotlb *t = &st->iotlb[i];

		ret = usv_iotlb_add(dev->iotlb, t->start, t->last, t->addr, t->perm);
		if (ret)
			return ret == -ENOMEM ? ret : -EINVAL;
	}
	for (unsigned i = 0; i < st->nmiss; i++) {
		ret = usv_msgq_put(&dev->msgq, &st->miss[i]);
		if (ret)
			return ret == -ENOMEM ? ret : -EINVAL;
	}
	usv_msgq_set_open(&dev->msgq, true);
	return 0;
}

/* The rings as SET_VRING_* left them; an attached one paused. */
static int build_vqs(struct usv_dev *dev, const struct usv_devstate *st)
{
	for (unsigned i = 0; i < USV_NET_NVQS; i++) {
		const struct usv_devstate_vq *v = &st->vq[i];
		struct usv_vq *vq = &dev->vqs[i];

		if (!eventfd_or_none(v->kick_fd) || !eventfd_or_none(v->call_fd) ||
		    !eventfd_or_none(v->err_fd))
			return -EBADF;
		vq->num = v->num;
		vq->desc = v->desc;
		vq->avail = v->avail;
		vq->used = v->used;
		vq->log_used = v->log_used;
		vq->log_addr = v->log_addr;
		vq->log_base = v->log_base;
		vq->last_avail_idx = v->last_avail_idx;
		vq->avail_idx = v->avail_idx;
		vq->last_used_idx = v->last_used_idx;
		vq->used_flags = v->used_flags;
		vq->busyloop_timeout = v->busyloop_timeout;
		vq->kick_fd = v->kick_fd;
		vq->call_fd = v->call_fd;
		vq->err_fd = v->err_fd;
		vq->vhost_hlen = v->vhost_hlen;
		vq->sock_hlen = v->sock_hlen;
		if (v->backend_fd < 0)
			continue;
		if (!fd_kind(v->backend_fd, USV_FD_TAP, USV_FD_TUN_DETACHED, USV_FD_PACKET,
			     &vq->backend))
			return -EBADF;
		/* What NET_SET_BACKEND checked before it started the ring. */
		if (!usv_vq_ready(dev, vq))
			return -EINVAL;
		vq->backend_fd = v->backend_fd;
		vq->dp_paused = true;
	}
	return 0;
}

int usv_devstate_install(struct usv_devlist *devs, const struct usv_devstate *st)
{
	struct usv_dev *dev;
	int ret = check_plain(devs, st);

	if (ret)
		return ret;
	if (usv_devlist_get(devs, st->handle))
		return -EEXIST;
	if (!eventfd_or_none(st->log_fd) ||
	    (st->tgid && (!pidfd_of(st->pidfd, st->tgid) || !procmem_of(st->memfd, st->tgid))))
		return -EBADF;
	dev = usv_dev_new(st->handle, devs->profile, devs->dp, devs->dp_ctx);
	if (!dev)
		return -ENOMEM;
	dev->ioctls = st->ioctls;
	dev->owner = (struct usv_owner){ .tgid = st->tgid, .pidfd = st->pidfd,
					 .memfd = st->memfd, .probe = st->probe };
	memcpy(dev->owner.comm, st->comm, sizeof(dev->owner.comm));
	memcpy(dev->acked_features, st->features, sizeof(dev->acked_features));
	dev->acked_backend_features = st->backend_features;
	dev->log_fd = st->log_fd;
	ret = build_mem(dev, st);
	if (!ret)
		ret = build_iotlb(dev, st);
	if (!ret)
		ret = build_vqs(dev, st);
	if (!ret)
		ret = usv_devlist_insert(devs, dev, st->uid);
	if (ret) {
		discard(dev);
		return ret;
	}
	usv_info("dev %u: taken over (uid %u, owner %d %s, %u region%s, rings %s/%s)",
		 st->handle, (unsigned)st->uid, (int)st->tgid, st->comm, st->nregions,
		 st->nregions == 1 ? "" : "s", st->vq[0].backend_fd >= 0 ? "attached" : "idle",
		 st->vq[1].backend_fd >= 0 ? "attached" : "idle");
	return 0;
}
