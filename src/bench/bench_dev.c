/* SPDX-License-Identifier: MIT */
/*
 * QEMU's side of one device: guest RAM (a sealed memfd as
 * memory-backend-memfd,share=on makes it, or anonymous memory as QEMU's
 * default), two rings (split, or packed with --layout=packed) and their
 * buffers in it, the eventfds, and the ioctls QEMU sends at DRIVER_OK;
 * teardown detaches the tap and closes all. With --iommu, QEMU's side of a
 * guest vIOMMU too: ACCESS_PLATFORM and IOTLB_MSG_V2 acked, the device
 * IOTLB filled with UPDATE messages before the rings start (the misses a
 * warm guest no longer makes), and every ring and buffer address an IOVA.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "usvhost/vhost_abi.h"

/* What Linux's virtio-net driver keeps of the kernel's offer here. */
#define BENCH_FEATURES (USV_BIT(USV_F_NET_MRG_RXBUF) | USV_BIT(USV_F_RING_EVENT_IDX) | \
			USV_BIT(USV_F_VERSION_1))
/* The kernel's default max_iotlb_entries, and usvhostd's. */
#define BENCH_IOTLB_ENTRIES 2048
#define RING_AREA 0x10000 /* per ring: desc, avail, used for up to 1024 entries */
/* Packed: the descriptor ring (16 KiB at most), then the driver's and the
 * device's event suppression structures, each on its own cache line. */
#define PACKED_DRIVER_EVENT 0x8000
#define PACKED_DEVICE_EVENT 0x8040

size_t bench_bufsz(const struct bench_opts *o)
{
	return ((size_t)BENCH_HDR + o->size + 63) & ~(size_t)63;
}

/* RX buffers as Linux's virtio-net sizes its mergeable ones: the header and
 * the average frame, cache-line aligned, never shorter than a frame of a
 * 1500-byte MTU (1536) nor longer than a page; a longer frame spans several
 * (num_buffers). A backend cannot count on one small frame per buffer. */
static size_t rx_bufsz(const struct bench_opts *o)
{
	size_t n = bench_bufsz(o);

	return n < BENCH_RX_BUF_MIN ? BENCH_RX_BUF_MIN : n > BENCH_RX_BUF_MAX ? BENCH_RX_BUF_MAX : n;
}

static int xioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(fd, cmd, arg) < 0) {
		int e = errno;

		bench_note("%s: %s", what, strerror(e));
		return -e;
	}
	return 0;
}

static int ram_init(struct bench_dev *d)
{
	size_t bufs = (size_t)d->o->ring * (rx_bufsz(d->o) + bench_bufsz(d->o));
	size_t size = (2 * RING_AREA + bufs + 0xfffff) & ~(size_t)0xfffff;
	void *p;

	d->ram_size = size;
	if (d->o->ram == BENCH_RAM_MEMFD) {
		d->memfd = memfd_create("usvhost-bench-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (d->memfd < 0 || ftruncate(d->memfd, (off_t)size) < 0 ||
		    fcntl(d->memfd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
			bench_note("guest RAM: memfd of %zu bytes: %s", size, strerror(errno));
			return -errno;
		}
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd, 0);
	} else {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (p == MAP_FAILED) {
		bench_note("guest RAM: mmap %zu bytes: %s", size, strerror(errno));
		return -errno;
	}
	d->ram = p;
	memset(d->ram, 0, size); /* fault it all in before measuring */
	return 0;
}

static int vring_init(struct bench_dev *d, unsigned q)
{
	struct bench_vring *r = &d->vq[q];
	size_t off = (size_t)q * RING_AREA;
	/* RX buffers first, then TX's. */
	size_t bufoff = 2 * RING_AREA + (size_t)q * d->o->ring * rx_bufsz(d->o);

	r->num = d->o->ring;
	r->packed = d->o->packed;
	r->bufsz = q == 0 ? rx_bufsz(d->o) : bench_bufsz(d->o);
	r->desc = (struct bench_vdesc *)(d->ram + off);
	if (r->packed) {
		/* The avail and used addresses QEMU hands over for a packed ring. */
		r->avail = (uint16_t *)(d->ram + off + PACKED_DRIVER_EVENT);
		r->used = (uint16_t *)(d->ram + off + PACKED_DEVICE_EVENT);
		r->driver_event = (uint32_t *)r->avail;
		r->device_event = (uint32_t *)r->used;
		/* Both wrap counters start at 1 (virtio 1.1, 2.8.1). */
		r->next_avail = r->next_used = BENCH_PACKED_WRAP;
	} else {
		r->avail = (uint16_t *)(d->ram + off + 16 * r->num);
		r->used = (uint16_t *)(d->ram + off +
				       ((16 * r->num + 6 + 2 * r->num + 4095) & ~4095u));
	}
	r->bufs = d->ram + bufoff;
	r->bufs_gpa = bufoff; /* one region at guest physical 0 */
	r->free_ids = calloc(r->num, sizeof(*r->free_ids));
	if (!r->free_ids)
		return -ENOMEM;
	for (unsigned i = 0; i < r->num; i++)
		r->free_ids[r->free_top++] = (uint16_t)(r->num - 1 - i);
	return 0;
}

/* The address the device is given for p in guest RAM: QEMU's own address,
 * or with a vIOMMU the IOVA, which the guest chose equal to the guest
 * address (RAM is one region at guest physical 0). */
static uint64_t ring_addr(const struct bench_dev *d, const void *p)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - d->ram);

	return d->o->iommu == BENCH_IOMMU_NONE ? (uintptr_t)d->ram + off : off;
}

static int vring_attach(struct bench_dev *d, unsigned q)
{
	struct bench_vring *r = &d->vq[q];
	struct usv_vhost_vring_state st = { .index = q, .num = r->num };
	struct usv_vhost_vring_addr a = {
		.index = q,
		.desc_user_addr = ring_addr(d, r->desc),
		.avail_user_addr = ring_addr(d, r->avail),
		.used_user_addr = ring_addr(d, r->used),
	};
	struct usv_vhost_vring_file kick = { .index = q, .fd = d->kick[q] };
	struct usv_vhost_vring_file call = { .index = q, .fd = d->call[q] };
	int rc;

	if ((rc = xioctl(d->fd, USV_VHOST_SET_VRING_NUM, &st, "SET_VRING_NUM")) < 0)
		return rc;
	/* Packed: the next avail and used positions, wrap counter in bit 15
	 * of each, used in the high half (QEMU's encoding). */
	st.num = r->packed ? (uint32_t)BENCH_PACKED_WRAP << 16 | BENCH_PACKED_WRAP : 0;
	if ((rc = xioctl(d->fd, USV_VHOST_SET_VRING_BASE, &st, "SET_VRING_BASE")) < 0 ||
	    (rc = xioctl(d->fd, USV_VHOST_SET_VRING_ADDR, &a, "SET_VRING_ADDR")) < 0 ||
	    (rc = xioctl(d->fd, USV_VHOST_SET_VRING_KICK, &kick, "SET_VRING_KICK")) < 0 ||
	    (rc = xioctl(d->fd, USV_VHOST_SET_VRING_CALL, &call, "SET_VRING_CALL")) < 0)
		return rc;
	return 0;
}

/* struct vhost_msg_v2 of <linux/vhost_types.h>: the message QEMU writes to
 * a vhost device that acked IOTLB_MSG_V2 (72 bytes, the body a union
 * padded to 64). */
struct iotlb_msg_v2 {
	uint32_t type;  /* VHOST_IOTLB_MSG_V2: 2 */
	uint32_t asid;
	uint64_t iova, size, uaddr;
	uint8_t perm;   /* VHOST_ACCESS_RW: 3 */
	uint8_t kind;   /* VHOST_IOTLB_UPDATE: 2 */
	uint8_t pad[64 - 26];
};
_Static_assert(sizeof(struct iotlb_msg_v2) == 72, "vhost_msg_v2 layout");

/* One IOTLB UPDATE: IOVA [iova, iova+size) to guest RAM there, read-write. */
static int iotlb_update(struct bench_dev *d, uint64_t iova, uint64_t size)
{
	struct iotlb_msg_v2 m = { .type = 2, .perm = 3, .kind = 2 };
	ssize_t n;

	m.iova = iova;
	m.size = size;
	m.uaddr = (uintptr_t)d->ram + iova;
	n = write(d->fd, &m, sizeof(m));
	if (n == (ssize_t)sizeof(m))
		return 0;
	bench_note("IOTLB UPDATE [0x%llx, +0x%llx): %s", (unsigned long long)iova,
		   (unsigned long long)size, n < 0 ? strerror(errno) : "short write");
	return n < 0 ? -errno : -EIO;
}

/* The guest's vIOMMU as QEMU's vhost code serves it: the backend features
 * with IOTLB_MSG_V2, then the translations of guest RAM (identity IOVAs). */
static int iommu_start(struct bench_dev *d)
{
	uint64_t bf = 0, page = 4096;
	int rc;

	if ((rc = xioctl(d->fd, USV_VHOST_GET_BACKEND_FEATURES, &bf, "GET_BACKEND_FEATURES")) < 0)
		return rc;
	if (!(bf & USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2))) {
		bench_note("%s offers backend features 0x%llx, without IOTLB_MSG_V2", d->o->dev,
			   (unsigned long long)bf);
		return -EPROTONOSUPPORT;
	}
	bf = USV_BIT(USV_BACKEND_F_IOTLB_MSG_V2);
	if ((rc = xioctl(d->fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, "SET_BACKEND_FEATURES")) < 0)
		return rc;
	if (d->o->iommu == BENCH_IOMMU_PT)
		return iotlb_update(d, 0, d->ram_size);
	/* Past the device IOTLB's size the oldest entries would be retired
	 * and missed for, which this QEMU does not answer. */
	if (d->ram_size / page > BENCH_IOTLB_ENTRIES) {
		bench_note("--iommu=pages: %zu KiB of guest RAM is %zu pages, more than the %u "
			   "entries of a device IOTLB (the kernel's max_iotlb_entries); use a "
			   "smaller --size or --ring", d->ram_size / 1024, d->ram_size / 4096,
			   BENCH_IOTLB_ENTRIES);
		return -E2BIG;
	}
	for (uint64_t iova = 0; iova < d->ram_size && !rc; iova += page)
		rc = iotlb_update(d, iova, page);
	return rc;
}

static int vhost_start(struct bench_dev *d)
{
	uint64_t f = 0;
	struct usv_vhost_memory *m;
	int rc;

	if ((rc = xioctl(d->fd, USV_VHOST_SET_OWNER, NULL, "SET_OWNER")) < 0 ||
	    (rc = xioctl(d->fd, USV_VHOST_GET_FEATURES, &f, "GET_FEATURES")) < 0)
		return rc;
	if ((f & BENCH_FEATURES) != BENCH_FEATURES) {
		bench_note("%s offers features 0x%llx, without 0x%llx", d->o->dev,
			   (unsigned long long)f, (unsigned long long)(BENCH_FEATURES & ~f));
		return -ENOTSUP;
	}
	if (d->o->packed && !(f & USV_BIT(USV_F_RING_PACKED))) {
		bench_note("%s offers features 0x%llx, without VIRTIO_F_RING_PACKED (bit 34): "
			   "no packed ring there (the kernel's vhost_net never offers it; "
			   "usvhostd's profile usvhost does); use --layout=split",
			   d->o->dev, (unsigned long long)f);
		return -EPROTONOSUPPORT;
	}
	if (d->o->iommu != BENCH_IOMMU_NONE && !(f & USV_BIT(USV_F_ACCESS_PLATFORM))) {
		bench_note("%s offers features 0x%llx, without VIRTIO_F_ACCESS_PLATFORM (bit "
			   "33): no device IOTLB there; leave --iommu out", d->o->dev,
			   (unsigned long long)f);
		return -EPROTONOSUPPORT;
	}
	f = BENCH_FEATURES | (d->o->packed ? USV_BIT(USV_F_RING_PACKED) : 0) |
	    (d->o->iommu != BENCH_IOMMU_NONE ? USV_BIT(USV_F_ACCESS_PLATFORM) : 0);
	if ((rc = xioctl(d->fd, USV_VHOST_SET_FEATURES, &f, "SET_FEATURES")) < 0)
		return rc;
	if (d->o->iommu != BENCH_IOMMU_NONE && (rc = iommu_start(d)) < 0)
		return rc;
	m = calloc(1, sizeof(*m) + sizeof(m->regions[0]));
	if (!m)
		return -ENOMEM;
	m->nregions = 1;
	m->regions[0].guest_phys_addr = 0;
	m->regions[0].memory_size = d->ram_size;
	m->regions[0].userspace_addr = (uintptr_t)d->ram;
	rc = xioctl(d->fd, USV_VHOST_SET_MEM_TABLE, m, "SET_MEM_TABLE");
	free(m);
	for (unsigned q = 0; rc == 0 && q < 2; q++)
		rc = vring_attach(d, q);
	for (unsigned q = 0; rc == 0 && q < 2; q++) {
		struct usv_vhost_vring_file b = { .index = q, .fd = d->tap };

		rc = xioctl(d->fd, USV_VHOST_NET_SET_BACKEND, &b, "NET_SET_BACKEND");
	}
	return rc;
}

int bench_dev_open(struct bench_dev *d)
{
	int rc;

	d->fd = -1;
	d->memfd = -1;
	for (unsigned q = 0; q < 2; q++) {
		d->kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		d->call[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick[q] < 0 || d->call[q] < 0)
			return -errno;
	}
	if ((rc = ram_init(d)) < 0 || (rc = vring_init(d, 0)) < 0 || (rc = vring_init(d, 1)) < 0)
		return rc;
	d->fd = open(d->o->dev, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		rc = -errno;
		bench_note("open %s: %s", d->o->dev, strerror(errno));
		return rc;
	}
	return vhost_start(d);
}

void bench_dev_close(struct bench_dev *d)
{
	if (d->fd >= 0) {
		for (unsigned q = 0; q < 2; q++) {
			struct usv_vhost_vring_file b = { .index = q, .fd = -1 };

			(void)ioctl(d->fd, USV_VHOST_NET_SET_BACKEND, &b);
		}
		close(d->fd);
		d->fd = -1;
	}
	for (unsigned q = 0; q < 2; q++) {
		if (d->kick[q] > 0)
			close(d->kick[q]);
		if (d->call[q] > 0)
			close(d->call[q]);
		d->kick[q] = d->call[q] = -1;
		free(d->vq[q].free_ids);
		d->vq[q].free_ids = NULL;
	}
	if (d->ram)
		munmap(d->ram, d->ram_size);
	d->ram = NULL;
	if (d->memfd >= 0)
		close(d->memfd);
	d->memfd = -1;
}

/* The kick Linux's driver sends with EVENT_IDX: only when the device asked
 * for one between the old avail idx and the new one. */
void bench_vring_kick(struct bench_dev *d, unsigned q, uint16_t old)
{
	struct bench_vring *r = &d->vq[q];
	uint16_t event, new = r->avail_idx;
	uint64_t one = 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = __atomic_load_n(&r->used[2 + 4 * r->num], __ATOMIC_ACQUIRE);
	if ((uint16_t)(new - event - 1) < (uint16_t)(new - old) &&
	    write(d->kick[q], &one, sizeof(one)) != sizeof(one))
		d->err = d->err ? d->err : -errno;
}
