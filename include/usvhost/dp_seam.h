/* SPDX-License-Identifier: MIT */
/*
 * The datapath seam: what the control plane (src/core) tells a datapath, and
 * all it tells it. The core never includes a datapath; whoever runs the core
 * (the daemon, a test, a library user) hands the device list one ops table
 * and its context. A datapath walks guest rings with usvhost/vringh.h and
 * learns everything else from the ring snapshot below: it never reads the
 * core's device structs. struct usv_dev is an opaque identity for it (the
 * key of its per-device state, and what it names when it reports an error).
 * Nothing here is a stable ABI: no shared library is shipped.
 *
 * What the core promises:
 *  - Every call is made with the device's lock held, from the thread serving
 *    the ioctl (or the release), and for one device never two at once.
 *  - ring_start() comes only for a stopped ring, ring_update() and
 *    ring_sync() only for a started one, ring_stop() at most once per start,
 *    dev_free() after every ring has stopped.
 *  - The fds and the memory table in a snapshot stay open/valid until the
 *    call that replaces them (ring_update() with that bit of what) or
 *    ring_stop() has returned; only then does the core close or free them.
 *    The memory table is the core's: SET_MEM_TABLE swaps in a new one, calls
 *    ring_update(USV_RING_MEM) for each running ring, then frees the old one.
 *  - The owner (its pinned /proc/<pid>/mem, owner_memfd) stays while a ring
 *    runs: RESET_OWNER and release stop the rings first.
 *
 * What the datapath must do:
 *  - Not return from a call before it has applied it: after ring_stop()
 *    returns, the ring's in-flight work is finished and published, and the
 *    indexes in *base are exact (GET_VRING_BASE); after ring_update()
 *    returns, it no longer uses the fds or memory table it was told are
 *    replaced.
 *  - Copy what it keeps from a snapshot: the snapshot itself lives only for
 *    the call. It may keep the fds and the memory pointer (borrowed, never
 *    closed or freed by it) under the rule above.
 *  - Answer even when the guest or the owner misbehaves: the caller's
 *    thread holds the device lock while it waits (usvhostd's datapath
 *    interrupts a worker stuck in a system call after 5 s).
 *  - Never take a device lock nor call into the core from its own threads,
 *    but for usv_ring_report_error(), which takes no lock.
 *  - Keep docs/security.md's guarantees: bounded copies and chains (the
 *    ring walker's limits), guest memory only through the memory table and
 *    the owner's pinned memfd, signals that never block.
 */
#ifndef USVHOST_DP_SEAM_H
#define USVHOST_DP_SEAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct usv_dev;       /* opaque to a datapath */
struct usv_guestmem;  /* the memory table, read through usvhost/vringh.h */
struct usv_iotlb;     /* the device IOTLB (core/iotlb.h) */

enum usv_ring_change {
	USV_RING_KICK = 1 << 0, /* kick eventfd replaced */
	USV_RING_CALL = 1 << 1, /* call eventfd replaced (interrupt mask/unmask) */
	USV_RING_ERR = 1 << 2,  /* error eventfd replaced */
	USV_RING_ADDR = 1 << 3, /* ring addresses or log flag changed */
	USV_RING_MEM = 1 << 4,  /* memory table replaced */
	USV_RING_LOG = 1 << 5,  /* log base or log fd changed */
	USV_RING_BUSYLOOP = 1 << 6,
	USV_RING_FEATURES = 1 << 7, /* acked features (and header lengths) changed */
	USV_RING_IOTLB = 1 << 8,    /* the device IOTLB changed: no cached translation holds */
	USV_RING_REQUEUE = 1 << 9,  /* a miss of this ring was answered: go again */
	USV_RING_SIGNAL = 1 << 10,  /* signal the call eventfd once (a resumed ring) */
};

/* Where a ring stands: set by SET_VRING_BASE and attach, handed to the
 * datapath at start, handed back by it at sync and stop. A packed ring
 * (VIRTIO_F_RING_PACKED in features) keeps its wrap counters in bit 15 of
 * last_avail_idx and last_used_idx, slots in bits 0-14, as QEMU encodes
 * them in VHOST_SET/GET_VRING_BASE (avail | used << 16). */
struct usv_ring_base {
	uint16_t last_avail_idx;
	uint16_t avail_idx;      /* the guest's avail->idx as last read */
	uint16_t last_used_idx;
	uint16_t used_flags;
};

/* One ring's configuration, as the core holds it at the call (the kernel's
 * vhost_virtqueue fields a handler reads). All fds are the core's. */
struct usv_ring_config {
	unsigned handle;          /* the device's number, for logs */
	unsigned index;           /* USV_VQ_RX or USV_VQ_TX */
	/* The ring: size and the owner's virtual addresses of its parts. */
	uint32_t num;
	uint64_t desc, avail, used;
	/* Dirty log: VHOST_VRING_F_LOG, the used ring's guest address, the
	 * bitmap's owner address, the log eventfd (-1 none). */
	bool log_used;
	uint64_t log_addr;
	uint64_t log_base;
	int log_fd;
	/* Eventfds (-1 unbound) and the backend (tap or AF_PACKET socket). */
	int kick_fd, call_fd, err_fd;
	int backend_fd;
	bool backend_packet;      /* an AF_PACKET socket, not a tap */
	char backend_name[32];    /* "tap:name", for logs */
	/* Negotiated features (first word) and backend features. */
	uint64_t features;
	uint64_t backend_features;
	/* Virtio-net header: added/stripped by us (vhost_hlen) or carried by
	 * the backend (sock_hlen). */
	uint32_t vhost_hlen, sock_hlen;
	uint32_t busyloop_us;     /* VHOST_SET_VRING_BUSYLOOP_TIMEOUT */
	/* The memory table and the owner it reads through. */
	const struct usv_guestmem *mem;
	/* The device IOTLB, NULL without ACCESS_PLATFORM: valid only during
	 * the call (the core changes it between calls), so a datapath keeps
	 * a copy (core/iotlb.h usv_iotlb_assign). */
	const struct usv_iotlb *iotlb;
	int owner_memfd;          /* the owner's pinned /proc/<pid>/mem */
	pid_t owner_tgid;         /* who owns the device (one dirty log each) */
	struct usv_ring_base base; /* where the ring starts (ring_start only) */
};

struct usv_datapath_ops {
	/* A backend was attached to ring cfg->index (NET_SET_BACKEND fd). 0 or
	 * -errno (the ring then stays stopped). */
	int (*ring_start)(void *ctx, struct usv_dev *dev,
			  const struct usv_ring_config *cfg);
	/* The ring is being stopped (NET_SET_BACKEND -1, RESET_OWNER,
	 * release): its indexes go back in *base. */
	void (*ring_stop)(void *ctx, struct usv_dev *dev, unsigned idx,
			  struct usv_ring_base *base);
	/* Something a running ring uses changed; what is a usv_ring_change
	 * mask, cfg the whole configuration now. */
	void (*ring_update)(void *ctx, struct usv_dev *dev, unsigned what,
			    const struct usv_ring_config *cfg);
	/* The running ring's indexes, into *base (GET_VRING_BASE). *base holds
	 * the core's values on entry. */
	void (*ring_sync)(void *ctx, struct usv_dev *dev, unsigned idx,
			  struct usv_ring_base *base);
	/* The device is being freed (release): drop per-device state. */
	void (*dev_free)(void *ctx, struct usv_dev *dev);
};

/* The core's side, for a datapath: ring idx of dev stopped on its own (the
 * guest broke it: vq_err()); why is one line. Tells the device's observer.
 * Callable from any thread, without the device lock; dev stays valid while
 * the ring runs. */
void usv_ring_report_error(struct usv_dev *dev, unsigned idx, const char *why);
/* Ring idx needs a translation of iova with access (1 read, 2 write) from
 * the owner (vhost_iotlb_miss()): a MISS message for read(), v2-framed when
 * v2. The ring waits for a ring_update with USV_RING_REQUEUE. Same calling
 * rules as usv_ring_report_error(). 0 or -ENOMEM. */
int usv_ring_report_miss(struct usv_dev *dev, unsigned idx, uint64_t iova, unsigned access,
			 bool v2);

#endif
