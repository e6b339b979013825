/* SPDX-License-Identifier: MIT */
/*
 * The host side of a split virtqueue (virtio 1.x, 2.7), as drivers/vhost
 * walks it: descriptor chains with indirect tables, the used ring,
 * notification suppression (VRING_USED_F_NO_NOTIFY, EVENT_IDX,
 * NOTIFY_ON_EMPTY) and the dirty log. With VIRTIO_F_RING_PACKED the same
 * calls walk a packed virtqueue (virtio 1.1+, 2.8; core/vringh_packed.c).
 *
 * Nothing the guest wrote is trusted: every index is checked against the ring
 * size, every chain is bounded (a loop is an error), every buffer address is
 * translated through the memory table, and each descriptor is read once into
 * a local copy before it is checked and used.
 *
 * Ring memory is reached through our own mapping when QEMU's RAM is mapped
 * here, else through QEMU's /proc/<pid>/mem pinned at SET_OWNER, at QEMU's
 * virtual addresses (core/guestmem.h); so is the dirty log.
 *
 * Named after the kernel's host-side ring helpers (drivers/vhost/vringh.c),
 * apart from vhost_vring.c (the VHOST_*_VRING_* ioctls). Part of the
 * datapath seam: any datapath walks guest rings with it.
 */
#ifndef USVHOST_VRINGH_H
#define USVHOST_VRINGH_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The memory table (core/guestmem.h): read only through these calls. */
struct usv_guestmem;
/* The device IOTLB (core/iotlb.h), the datapath's own copy. */
struct usv_iotlb;

/* A call stopped at an IOVA the IOTLB does not map (vr->miss says which,
 * when it is to be asked for: a range without the access needed is not
 * asked for, as the kernel's prefetch). Nothing was taken: the ring waits
 * until an UPDATE requeues it (the kernel's -EAGAIN from translate_desc). */
#define USV_VRING_MISS (-ENOENT)

/* Most iovec entries one chain may produce (UIO_MAXIOV, as the kernel). */
#define USV_VRING_MAX_SEGS 1024

#define USV_VRING_DESC_F_NEXT 1
#define USV_VRING_DESC_F_WRITE 2
#define USV_VRING_DESC_F_INDIRECT 4
#define USV_VRING_USED_F_NO_NOTIFY 1
#define USV_VRING_AVAIL_F_NO_INTERRUPT 1

/* One piece of a guest buffer: our pointer when mapped (writable for the
 * writable part), else QEMU's virtual address (for its pinned
 * /proc/<pid>/mem). */
struct usv_seg {
	void *local;
	uint64_t uva;
	uint64_t gpa; /* for the dirty log */
	uint32_t len;
	/* An IOTLB piece outside guest RAM: no gpa, no page to log (every
	 * gpa value, 2^64 - 1 included, may be a guest byte). */
	bool no_gpa;
};

struct usv_chain {
	uint16_t head;
	unsigned nout, nin;      /* readable segments first, then writable */
	uint32_t out_len, in_len;
	unsigned ndesc;          /* descriptors read: ring and indirect entries */
	struct usv_seg *seg;     /* caller-provided, max_segs entries */
	unsigned max_segs;
};

/* Longest chain taken: the queue size, at least 1024 (UIO_MAXIOV), counting
 * an indirect table's entries in place of the descriptor that points at it.
 * The virtio spec forbids chains longer than the queue size (2.7.5.3.1); the
 * kernel bounds only segments, so a chain of zero-length entries may cost it
 * num * 65536 reads. */
#define USV_VRING_MIN_CHAIN_DESCS 1024

struct usv_vringh_log {
	pthread_mutex_t *lock; /* one writer at a time over QEMU's bitmap */
	int memfd;             /* the owner's pinned /proc/<pid>/mem */
	uint64_t base;         /* QEMU virtual address of the bitmap */
	int fd;                /* eventfd to signal after logging, or -1 */
	bool written;          /* logged since the last signal: the datapath
				* signals fd (without blocking) and clears it */
};

/* Avail ring entries read in one go when the ring is not mapped here: one
 * /proc/<pid>/mem read for up to this many heads instead of one each. */
#define USV_VRING_AVAIL_BULK 64
/* Descriptor table snapshots (below) are taken for rings of at most this
 * many entries, and only when at least USV_VRING_SNAP_MIN_CHAINS chains
 * wait: for fewer, reading their descriptors one by one costs less. */
#define USV_VRING_SNAP_MAX_NUM 1024
#define USV_VRING_SNAP_MIN_CHAINS 4

/*
 * Packed ring (2.8): desc is the descriptor ring, avail the driver event
 * suppression structure, used the device's (QEMU hands them over in these
 * three addresses). last_avail_idx and last_used_idx hold the slot in bits
 * 0-14 and the wrap counter in bit 15, as QEMU encodes them for vhost
 * backends (GET/SET_VRING_BASE); avail_idx mirrors last_avail_idx and
 * used_flags' USV_VRING_USED_F_NO_NOTIFY says that kicks are disabled.
 * A chain takes one or more ring slots and its used element must skip as
 * many: pop records each chain's slot count until push (or unpop) consumes
 * it, in order. A datapath pushes chains in the order it popped them and
 * holds at most USV_VRING_PACKED_INFLIGHT popped but not pushed.
 */
#define USV_VRING_PACKED_INFLIGHT 512
#define USV_VRING_PACKED_WRAP 0x8000
#define USV_VRING_PACKED_DESC_F_AVAIL (1u << 7)
#define USV_VRING_PACKED_DESC_F_USED (1u << 15)
#define USV_VRING_PACKED_EVENT_ENABLE 0
#define USV_VRING_PACKED_EVENT_DISABLE 1
#define USV_VRING_PACKED_EVENT_DESC 2

struct usv_vringh {
	const struct usv_guestmem *mem;
	uint32_t num;
	uint64_t desc, avail, used;    /* QEMU virtual addresses */
	uint8_t *ldesc, *lavail, *lused; /* ours when mapped, else NULL */
	uint16_t last_avail_idx;
	uint16_t avail_idx;            /* cached avail->idx */
	/* Heads of entries [heads_idx, heads_idx + heads_n), read in bulk
	 * (ring not mapped here). Only entries the guest made available are
	 * read, and each head is still checked when taken. */
	uint16_t heads_idx, heads_n;
	uint16_t heads[USV_VRING_AVAIL_BULK];
	/* Split ring not mapped here, without an IOTLB: the descriptor table
	 * read whole, once for every chain made available up to desc_snap_for
	 * (read after that avail->idx, so their descriptors are in it). Each
	 * descriptor is still copied out of it and checked; a snapshot is
	 * never used for a chain made available after it. desc_snap is the
	 * caller's buffer of desc_snap_cap bytes (NULL: no snapshots). */
	uint8_t *desc_snap;
	uint32_t desc_snap_cap;
	bool desc_snap_valid;
	uint16_t desc_snap_for;
	uint16_t last_used_idx;
	uint16_t used_flags;
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool event_idx, indirect, notify_on_empty, log_all;
	bool packed;                   /* VIRTIO_F_RING_PACKED */
	/* Packed ring: slot counts of the chains popped and not yet pushed,
	 * oldest at inflight_head; their sum is inflight_slots. */
	uint16_t inflight_head, inflight_n;
	uint32_t inflight_slots;
	uint16_t inflight[USV_VRING_PACKED_INFLIGHT];
	bool log_used;                 /* VHOST_VRING_F_LOG */
	uint64_t log_addr;             /* guest address of the used ring */
	struct usv_vringh_log log;
	/* The device IOTLB, NULL without ACCESS_PLATFORM. With one, the ring
	 * addresses and every descriptor address are IOVAs, translated to
	 * QEMU virtual addresses through it with its permissions. */
	const struct usv_iotlb *iotlb;
	bool meta_ok;                  /* ring parts translated (prefetch) */
	uint64_t used_gpa;             /* the used ring's guest address (log) */
	bool miss;                     /* the IOVA to ask QEMU for: */
	uint64_t miss_iova;
	uint8_t miss_access;           /* USV_IOTLB_RO or _WO */
	char err[128];                 /* why the ring broke, for the log */
};

/* Fills the ring from the control plane's view (usvhost/dp_seam.h). */
void usv_vringh_setup(struct usv_vringh *vr, const struct usv_guestmem *mem,
		      uint32_t num, uint64_t desc, uint64_t avail, uint64_t used,
		     uint64_t features);
/* Recomputes our pointers after the memory table or addresses changed. */
void usv_vringh_remap(struct usv_vringh *vr, const struct usv_guestmem *mem);
/* Sets the IOTLB (NULL: none) after it changed: every translation made
 * through the old one is dropped. */
void usv_vringh_set_iotlb(struct usv_vringh *vr, const struct usv_iotlb *iotlb);
/* vq_meta_prefetch(): with an IOTLB, translates the three ring parts once
 * after each change. 0, or USV_VRING_MISS (the ring waits). Call before the
 * ring is used in a go; without an IOTLB it does nothing. */
int usv_vringh_prefetch(struct usv_vringh *vr);

/*
 * Takes the next available chain. 0 and *c filled; -EAGAIN when the guest
 * has nothing; USV_VRING_MISS when an IOVA is not in the IOTLB (nothing
 * taken); -EFAULT, -EINVAL, -E2BIG or -ENOBUFS (with an IOTLB also -EPERM,
 * a range without the access) when the guest broke the ring (vr->err says
 * how; the caller stops the ring and signals its ERR eventfd). c->ndesc
 * counts the descriptors read, also on failure, so that the caller can
 * charge the walk; a chain reading more than max(num,
 * USV_VRING_MIN_CHAIN_DESCS) descriptors is -EINVAL.
 */
int usv_vringh_pop(struct usv_vringh *vr, struct usv_chain *c);
/* Gives back the last n popped chains (vhost_discard_vq_desc). */
void usv_vringh_unpop(struct usv_vringh *vr, unsigned n);
/* Writes used entries {head, len} at the used ring's tail and then publishes
 * the new used index (with the dirty log when asked). 0 or -EFAULT (packed:
 * -EINVAL for more entries than chains popped). */
int usv_vringh_push(struct usv_vringh *vr, const uint32_t *heads,
		    const uint32_t *lens, unsigned n);
/* Should the guest be interrupted now (vhost_notify)? */
bool usv_vringh_need_signal(struct usv_vringh *vr);
/* Notification control (vhost_enable_notify/vhost_disable_notify).
 * enable returns true when the guest added buffers meanwhile. */
bool usv_vringh_enable_notify(struct usv_vringh *vr);
void usv_vringh_disable_notify(struct usv_vringh *vr);
/* Are there chains we have not taken (re-reads avail->idx)? */
bool usv_vringh_has_avail(struct usv_vringh *vr);
/* Publishes used_flags once, as at attach (vhost_vq_init_access). */
int usv_vringh_write_used_flags(struct usv_vringh *vr);
/* Where the device is and what the guest's ring says (indexes, EVENT_IDX
 * words), for a log line: tells a missed kick from a missed interrupt. */
void usv_vringh_describe(struct usv_vringh *vr, char *buf, size_t n);

/* Copies between a chain's segments and a flat buffer. The readable part for
 * TX, the writable part for RX; off counts from the part's start. Pieces not
 * mapped here go through m's pinned /proc/<pid>/mem; -EFAULT when short. */
int usv_chain_read(const struct usv_chain *c, uint32_t off, void *buf,
		   uint32_t len, const struct usv_guestmem *m);
int usv_chain_write(const struct usv_chain *c, uint32_t off, const void *buf,
		    uint32_t len, const struct usv_guestmem *m);
/* Reads back the writable part (RX bytes placed before a frame is held). */
int usv_chain_read_in(const struct usv_chain *c, uint32_t off, void *buf,
		      uint32_t len, const struct usv_guestmem *m);
/* Marks guest pages [gpa, gpa+len) dirty when LOG_ALL is on. */
int usv_vringh_log_write(struct usv_vringh *vr, uint64_t gpa, uint64_t len);
/* Logs the written part of a chain (the first len bytes of its in part). */
int usv_vringh_log_chain(struct usv_vringh *vr, const struct usv_chain *c, uint32_t len);

#endif
