/* SPDX-License-Identifier: MIT */
/*
 * The datapath's inside: worker threads with one io_uring each, the per-ring
 * state they own while a ring runs, and the net handlers (TX: guest to tap,
 * RX: tap to guest), as drivers/vhost/net.c's worker does them.
 *
 * Ownership: while a ring runs, only its worker touches its usv_dp_ring. The
 * control plane changes it only through a message the worker applies
 * (start, stop, update, sync), waiting for the answer with the device lock
 * held; so the worker may read usv_dev/usv_vq fields while applying one.
 */
#ifndef USV_DATAPATH_DP_H
#define USV_DATAPATH_DP_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/device.h"
#include "core/vring.h"
#include "datapath/datapath.h"

/* Fairness, as vhost-net: yield after this much work in one go. */
#define USV_DP_WEIGHT_PKTS 256
#define USV_DP_WEIGHT_BYTES 0x80000
/* Used entries and TX writes gathered before publishing / submitting. */
#define USV_DP_BATCH 64
/* Largest frame a tap delivers: 64 KiB GSO plus a vnet header. */
#define USV_DP_FRAME_MAX (65536 + 64)
/* Chains one RX frame may spread over: 64 KiB in buffers as small as 512. */
#define USV_DP_MAX_CHAINS 256
/* Segments per ring for the chains of one batch. */
#define USV_DP_SEG_POOL 4096

struct usv_worker;

struct usv_dp_stats {
	uint64_t packets, bytes, kicks, interrupts, drops, errors;
};

struct usv_dp_txslot {
	struct usv_dp_ring *ring;
	int res;
};

struct usv_dp_ring {
	struct usv_dp_ring *next_work;
	struct usv_worker *w;
	struct usv_dev *dev;
	unsigned idx;
	bool running, broken, queued, want_work;
	unsigned polls; /* multishot polls armed (kick, tap) */
	uint64_t kick_tag, tap_tag; /* user_data of those polls */
	struct usv_vring vr;
	int kick_fd, call_fd, err_fd, backend_fd; /* owned by the core */
	uint32_t vhost_hlen, sock_hlen;
	bool mergeable, nowait_unsupported;
	uint32_t busyloop_us;
	pid_t tgid;
	struct usv_dp_stats st;  /* written by the worker, read by stats */
	char backend_name[32];
	struct usv_seg *segs;    /* USV_DP_SEG_POOL */
	struct usv_chain *chains; /* USV_DP_MAX_CHAINS */
	/* Used entries not yet published: a batch plus one frame's chains. */
	uint32_t heads[USV_DP_BATCH + USV_DP_MAX_CHAINS];
	uint32_t lens[USV_DP_BATCH + USV_DP_MAX_CHAINS];
	struct usv_dp_txslot slots[USV_DP_BATCH];
	uint8_t *scratch;        /* USV_DP_FRAME_MAX: bounce and overflow */
	uint8_t *pending;        /* RX: a frame read before the guest had room */
	uint32_t pending_len;
};

/* Per device: its two rings, on one worker, on the node of its memory. */
struct usv_dp_dev {
	struct usv_dp_dev *next; /* the datapath's list, for stats */
	struct usv_dp *dp;
	struct usv_worker *w;
	unsigned handle;
	int node;
	bool numa_alloc;
	struct usv_dp_ring ring[USV_NET_NVQS];
};

enum usv_dp_msg_type {
	USV_DP_START,
	USV_DP_STOP,
	USV_DP_UPDATE,
	USV_DP_SYNC,
	USV_DP_QUIT,
};

struct usv_dp_msg {
	struct usv_dp_msg *next;
	enum usv_dp_msg_type type;
	struct usv_dp_ring *ring;
	unsigned what;
	int result;
	bool done;
};

struct usv_worker {
	struct usv_dp *dp;
	unsigned id;
	int node;
	pthread_t thread;
	struct io_uring uring;
	int ctl_fd; /* eventfd: messages waiting */
	pthread_mutex_t mlock;
	pthread_cond_t mcond;
	struct usv_dp_msg *mhead, **mtail;
	unsigned nrings; /* attached devices, for placement */
	struct usv_dp_ring *work_head, **work_tail;
	bool quit;
	bool msgs; /* the control eventfd fired: apply messages */
};

struct usv_dp {
	struct usv_worker *workers;
	unsigned nworkers;
	pthread_mutex_t lock;     /* the device list below, placement */
	struct usv_dp_dev *devs;
	pthread_mutex_t log_lock; /* one writer at a time over dirty bitmaps */
	struct usv_dp_stats retired[USV_NET_NVQS]; /* totals of released devices */
	bool numa;
	char *stats_path;
	pthread_t stats_thread;
	bool stats_started;
	int stats_sigfd, stats_stop_fd;
};

/* user_data tags (low bits of 8-aligned pointers). */
#define USV_TAG_KICK 1u
#define USV_TAG_TAP 2u
#define USV_TAG_CTL 3u
#define USV_TAG_TXW 4u
#define USV_TAG_CANCEL 5u
#define USV_TAG_MASK 7u

/* worker.c */
void usv_dp_queue(struct usv_dp_ring *r);
/* Waits for one completion and routes it; used by handlers that wait for
 * their own writes. 0 or -errno. */
int usv_dp_wait_one(struct usv_worker *w);
void usv_dp_ring_broken(struct usv_dp_ring *r);
/* BUSYLOOP_TIMEOUT: spin up to r->busyloop_us for new work (guest buffers,
 * or tap data for RX) before sleeping; true when some arrived. */
bool usv_dp_busy_poll(struct usv_dp_ring *r);
void usv_dp_signal(struct usv_dp_ring *r);
/* Publishes n used entries from r->heads/lens and signals if needed. */
int usv_dp_flush_used(struct usv_dp_ring *r, unsigned *n);

/* net_tx.c, net_rx.c: one go at the ring; true when more work is left. */
bool usv_dp_handle_tx(struct usv_dp_ring *r);
bool usv_dp_handle_rx(struct usv_dp_ring *r);

/* stats.c */
int usv_dp_stats_start(struct usv_dp *dp);
void usv_dp_stats_stop(struct usv_dp *dp);
void usv_dp_stats_line(const struct usv_dp_ring *r, char *buf, size_t n);

static inline void usv_dp_count(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

#endif
