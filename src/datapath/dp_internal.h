/* SPDX-License-Identifier: MIT */
/*
 * The datapath's inside, in the kernel's shape: a generic worker per device
 * (worker.c, as vhost.c's vhost_worker: one thread, one io_uring, polls,
 * messages), ring helpers (ring.c: start, stop, used ring, errors, busy
 * polling; signal.c: eventfds), and the net device (net_tx.c, net_rx.c as
 * net.c's handle_tx/handle_rx; dev.c: per-device state and the ops table).
 *
 * Ownership: while a ring runs, only its worker touches its usv_dp_ring. The
 * control plane changes it only through a message the worker applies
 * (start, stop, update, sync: a function dev.c sends with the core's ring
 * snapshot, usvhost/dp_seam.h), waiting for the answer with the device lock
 * held. The datapath never reads the core's device structs.
 *
 * Calls flow one way: dev.c (the ops) -> ring.c (ring helpers) -> signal.c
 * (eventfds) -> worker.c (the generic loop); the net handlers (net_tx.c,
 * net_rx.c) use ring.c, signal.c and worker.c, and reach the worker only as
 * the ring's handle function pointer.
 *
 * Each device has its own worker thread ("usv-devN", as the kernel's
 * "vhost-PID"): a device that blocks or spins stalls only itself.
 */
#ifndef USV_DATAPATH_DP_INTERNAL_H
#define USV_DATAPATH_DP_INTERNAL_H

#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "datapath/uring_dp.h"
#include "usvhost/dp_seam.h"
#include "usvhost/vhost_abi.h"
#include "usvhost/vringh.h"

/* Fairness, as vhost_exceeds_weight(): a ring yields after this much work in
 * one go. Descriptor reads count too (ring and indirect entries): a walk
 * over zero-length entries moves no bytes but costs. */
#define USV_DP_WEIGHT_PKTS 256
#define USV_DP_WEIGHT_BYTES 0x80000
#define USV_DP_WEIGHT_DESCS 4096
/* Used entries and TX writes gathered before publishing / submitting. */
#define USV_DP_BATCH 64
/* Largest frame the datapath stages, either way: 64 KiB GSO plus a vnet
 * header, the most a tap accepts. Longer ones are dropped and counted. */
#define USV_DP_FRAME_MAX (65536 + 64)
/* Room before an RX frame read into scratch for the vnet header we write
 * (at most 12 bytes): header and frame then go to the guest in one copy. */
#define USV_DP_RX_HEADROOM 16
/* Chains one RX frame may spread over: 64 KiB in buffers as small as 512. */
#define USV_DP_MAX_CHAINS 256
/* Segments (and iovecs) per ring for the chains of one batch. */
#define USV_DP_SEG_POOL 4096
/* TX bounce arena (guest memory not mapped here): a few frames per batch. */
#define USV_DP_TX_ARENA (4 * USV_DP_FRAME_MAX)
/* io_uring size of a device's worker: 4 polls, a batch of TX writes, and
 * up to 6 eventfd writes. */
#define USV_DP_URING_ENTRIES 128
/* io-wq threads a worker's io_uring may start: its blocked eventfd writes
 * (3 per ring) and a TX write that cannot be done without blocking. */
#define USV_DP_IOWQ_MAX 8

struct usv_worker;
struct usv_dp_ring;

struct usv_dp_stats {
	uint64_t packets, bytes, kicks, interrupts, drops, errors;
};

/* An io_uring request whose completion the worker hands back to its owner
 * (user_data points at it). */
struct usv_dp_op {
	void (*done)(struct usv_dp_op *op, const struct io_uring_cqe *cqe);
};

/* An eventfd the worker signals: call, err, or the dirty log's. */
struct usv_dp_sig {
	struct usv_dp_op op;     /* the io_uring write, when one is needed */
	struct usv_dp_ring *ring;
	int fd;                  /* owned by the core; -1: none */
	bool inflight;           /* that write is pending (at most one) */
	uint64_t val;            /* its buffer */
};

/* One TX write: a packet handed to the tap through io_uring. */
struct usv_dp_txslot {
	struct usv_dp_op op;
	struct usv_dp_ring *ring;
	int res;
	bool inflight;
};

/* TX: the batch being sent. Its chains stay in r->chains until the writes
 * have completed and the used entries are published, in order. */
struct usv_dp_tx {
	unsigned n;                    /* chains in the batch */
	unsigned inflight;             /* writes not completed */
	size_t arena_used;             /* bytes bounced for the batch */
	bool retried;                  /* the writes that could not go at once went again */
	uint32_t len[USV_DP_BATCH];    /* payload bytes (header skipped) */
	bool queued[USV_DP_BATCH];     /* a write was queued (else dropped) */
	const struct iovec *iov[USV_DP_BATCH]; /* what it writes, for a retry */
	unsigned iovcnt[USV_DP_BATCH];
	struct usv_dp_txslot slot[USV_DP_BATCH];
};

struct usv_dp_ring {
	struct usv_dp_ring *next_work;
	struct usv_worker *w;
	struct usv_dp *dp;
	struct usv_dev *dev; /* the core's, opaque: named in error reports */
	unsigned devno;      /* the device's number (handle), for logs */
	unsigned idx;
	/* The device's handler (vq->handle_kick): one go at the ring, true
	 * when work is left; and what finishes its I/O in flight at a stop or
	 * a change of memory (NULL: none). Set before the ring starts. */
	bool (*handle)(struct usv_dp_ring *r);
	void (*quiesce)(struct usv_dp_ring *r);
	bool running, broken, queued;
	unsigned polls; /* polls armed: 1 << USV_TAG_KICK, 1 << USV_TAG_TAP */
	unsigned cancelling; /* polls (1 << tag) whose cancel is in flight: never re-armed */
	uint64_t kick_tag, tap_tag; /* user_data of those polls */
	struct usv_vringh vr;
	/* The walker's descriptor table snapshots (anonymous RAM): one read
	 * per batch of chains instead of one per descriptor. */
	uint8_t desc_snap[USV_VRING_DESC_SIZE * USV_VRING_SNAP_MAX_NUM];
	/* The device IOTLB as the core last handed it: our copy, which the
	 * walker reads (NULL before the first). */
	struct usv_iotlb *tlb;
	bool iotlb_v2;     /* MISS messages in the v2 framing */
	bool iotlb_nomem;  /* the copy could not be made: the ring stops */
	bool iotlb_wait;   /* this go stopped at a miss: wait for its answer */
	int kick_fd, backend_fd; /* owned by the core */
	struct usv_dp_sig call, err, log;
	uint32_t vhost_hlen, sock_hlen;
	bool mergeable, nowait_unsupported, read_err_logged;
	bool backend_sock;       /* an AF_PACKET socket, not a tap */
	bool tx_linked;          /* the backend refuses RWF_NOWAIT: TX batches
				  * go hard-linked */
	bool tx_direct;          /* ... and is non-blocking: TX writes are made
				  * by the worker itself, as vhost's sendmsg(),
				  * not punted to io-wq threads */
	uint32_t busyloop_us;
	struct usv_dp_loglock *loglock; /* the owner's, while running */
	struct usv_dp_stats st;  /* written by the worker, read by stats */
	char backend_name[32];
	/* Buffers, allocated at the first start, all or none (usv_dp_ring_alloc). */
	struct usv_seg *segs;     /* USV_DP_SEG_POOL */
	struct iovec *iov;        /* USV_DP_SEG_POOL */
	struct usv_chain *chains; /* USV_DP_MAX_CHAINS */
	uint8_t *arena;           /* TX: USV_DP_TX_ARENA */
	uint8_t *scratch;         /* RX: USV_DP_RX_HEADROOM, then USV_DP_FRAME_MAX + 1
				   * for a frame's tail (usv_dp_rx_tail) */
	uint8_t *pending;         /* RX: USV_DP_FRAME_MAX, a held frame */
	uint32_t pending_len;
	/* Used entries not yet published: a batch plus one frame's chains. */
	uint32_t heads[USV_DP_BATCH + USV_DP_MAX_CHAINS];
	uint32_t lens[USV_DP_BATCH + USV_DP_MAX_CHAINS];
	struct usv_dp_tx tx;
};

/* A message from the control plane: fn(arg) runs in the worker, between two
 * goes at the rings; the sender waits until it has. */
struct usv_dp_msg {
	struct usv_dp_msg *next;
	void (*fn)(void *arg);
	void *arg;
	bool done;
};

/* A device's worker thread and its io_uring. */
struct usv_worker {
	unsigned handle;         /* the device's, for names and logs */
	int node;                /* NUMA node to run on, or -1 */
	pthread_t thread;
	bool thread_started;
	struct io_uring uring;
	int ctl_fd;              /* eventfd: messages waiting */
	pthread_mutex_t mlock;
	pthread_cond_t mcond;
	struct usv_dp_msg *mhead, **mtail;
	struct usv_dp_ring *work_head, **work_tail;
	bool quit;
	bool msgs;               /* the control eventfd fired: apply messages */
	bool eventfd_nowait_unsupported; /* pwritev2(RWF_NOWAIT) said EOPNOTSUPP */
};

/* Per device: its worker, its two rings, on the node of its memory. */
struct usv_dp_dev {
	struct usv_dp_dev *next; /* the datapath's list, for lookup and stats */
	const struct usv_dev *key; /* the core's device this state is for */
	struct usv_dp *dp;
	unsigned handle;
	int node;
	bool numa_alloc;
	struct usv_worker w;
	struct usv_dp_ring ring[USV_NET_NVQS];
};

/* One writer at a time over an owner's dirty bitmap: QEMU shares one log
 * among its vhost devices (queue pairs), and our read-modify-write of its
 * bytes is not atomic. Per owner, so that a log access that blocks (the
 * owner's memory is its own) stalls no other owner's devices. */
struct usv_dp_loglock {
	struct usv_dp_loglock *next;
	pid_t tgid;
	unsigned refs;
	pthread_mutex_t lock;
};

struct usv_dp {
	pthread_mutex_t lock;     /* the lists below, retired */
	struct usv_dp_dev *devs;
	struct usv_dp_loglock *loglocks;
	struct usv_dp_stats retired[USV_NET_NVQS]; /* totals of released devices */
	bool numa;
	char *stats_path;
	pthread_t stats_thread;
	bool stats_started;
	int stats_sigfd, stats_stop_fd;
	/* Counters handed over for devices whose state is not made yet
	 * (usv_dp_stats_seed), added when it is. */
	struct usv_dp_seed *seeds;
};

/* user_data tags (low bits of 8-aligned pointers). */
#define USV_TAG_KICK 1u
#define USV_TAG_TAP 2u
#define USV_TAG_CTL 3u
#define USV_TAG_OP 4u
#define USV_TAG_CANCEL 5u
#define USV_TAG_MASK 7u

/* worker.c: the generic worker. */
int usv_dp_worker_start(struct usv_worker *w, unsigned handle, int node);
void usv_dp_worker_stop(struct usv_worker *w);
/* Installs the handler of the signal that interrupts a stuck worker's
 * system call (once per process). */
int usv_dp_kick_setup(void);
/* Runs fn(arg) in the worker and waits until it has (control plane). */
void usv_dp_send(struct usv_worker *w, void (*fn)(void *arg), void *arg);
/* Puts r at the back of its worker's queue, or takes it off (worker
 * context). */
void usv_dp_queue(struct usv_dp_ring *r);
void usv_dp_unqueue(struct usv_dp_ring *r);
/* A free submission entry (submitting what is queued if the ring is full),
 * or NULL. */
struct io_uring_sqe *usv_dp_get_sqe(struct usv_worker *w);
/* Prepares an op's request's user_data. */
void usv_dp_sqe_op(struct io_uring_sqe *sqe, struct usv_dp_op *op);
/* Asks the kernel to cancel the op's request (its completion still comes). */
void usv_dp_cancel_op(struct usv_worker *w, struct usv_dp_op *op);
/* Submits and routes the completions there are, without sleeping. */
void usv_dp_reap(struct usv_worker *w);
/* Submits, sleeps until a completion or timeout_ms (-1: none), routes what
 * came. 0, -ETIME, or -errno. */
int usv_dp_wait(struct usv_worker *w, int timeout_ms);
/* Waits (routing completions) until done(arg) or timeout_ms passed. */
void usv_dp_wait_until(struct usv_worker *w, bool (*done)(void *), void *arg,
		       int timeout_ms);
/* POLLIN on a ring's kick eventfd (multishot) or backend (one-shot: RX
 * arms it once it found the tap empty, as the kernel's
 * vhost_net_enable_vq, so that a frame arriving while RX drains the tap,
 * or while the guest has no buffers, wakes nobody). */
void usv_dp_poll_arm(struct usv_dp_ring *r, unsigned tag);
/* RX found the tap empty (or failing): the tap's poll is armed if it is
 * not, so that its next frame queues the ring. */
void usv_dp_tap_wait(struct usv_dp_ring *r);
void usv_dp_poll_cancel(struct usv_dp_ring *r, unsigned tag);
/* Waits until the polls of r in tag_bits (1 << tag) have ended (after
 * cancellation). */
void usv_dp_poll_drain(struct usv_dp_ring *r, unsigned tag_bits);
/* Has something new come for the worker (completions, control messages)?
 * For busy polling; rings already queued are not new. */
bool usv_dp_worker_has_work(struct usv_worker *w);

/* ring.c: the ring helpers (vhost.c's share of a vq), in worker context.
 * start and update copy what they keep of cfg; stop and sync write the
 * indexes into *base; stop also takes r off the worker's queue. */
void usv_dp_ring_start(struct usv_dp_ring *r, const struct usv_ring_config *cfg);
void usv_dp_ring_stop(struct usv_dp_ring *r, struct usv_ring_base *base);
void usv_dp_ring_update(struct usv_dp_ring *r, unsigned what,
			const struct usv_ring_config *cfg);
void usv_dp_ring_sync(struct usv_dp_ring *r, struct usv_ring_base *base);
/* vq_err(): logs (device, vq, reason), signals ERR, stops the ring. */
void usv_dp_ring_error(struct usv_dp_ring *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Publishes n used entries from r->heads/lens, signals if needed. 0, or
 * -EFAULT with the ring stopped. */
int usv_dp_flush_used(struct usv_dp_ring *r, unsigned *n);
/* vq_meta_prefetch() at the start of a go: false when the ring must wait
 * for an IOTLB answer (the miss is asked for) or stopped. */
bool usv_dp_iotlb_ready(struct usv_dp_ring *r);
/* The walker stopped at a miss: ask the owner for it. */
void usv_dp_iotlb_miss(struct usv_dp_ring *r);
/* BUSYLOOP_TIMEOUT: spin up to r->busyloop_us for new work (guest buffers,
 * or tap data for RX) before sleeping. FOUND: some arrived; NONE: none (or
 * no busy polling); YIELD: the worker has something else to do first: the
 * handler returns "more" and polls again on its next turn. */
enum usv_dp_busy { USV_DP_BUSY_NONE, USV_DP_BUSY_FOUND, USV_DP_BUSY_YIELD };
enum usv_dp_busy usv_dp_busy_poll(struct usv_dp_ring *r);
/* vhost_exceeds_weight(): has a go used its share? */
bool usv_dp_exceeds_weight(unsigned pkts, uint64_t bytes, uint64_t descs);

/* signal.c: eventfd signals that never block the worker. */
void usv_dp_sig_init(struct usv_dp_sig *s, struct usv_dp_ring *r);
/* A new fd for s (-1: none); the old one's pending write is cancelled. */
void usv_dp_sig_set(struct usv_dp_sig *s, int fd);
/* Signals s; false only when the signal could not be delivered. */
bool usv_dp_sig_raise(struct usv_dp_sig *s);
/* Cancels s's pending write and waits for it (ring stop). */
void usv_dp_sig_quiesce(struct usv_dp_sig *s);
/* The guest's interrupt (call eventfd), counted. */
void usv_dp_signal(struct usv_dp_ring *r);
/* The dirty log's eventfd, when the ring logged since the last time. */
void usv_dp_signal_log(struct usv_dp_ring *r);

/* node.c: a NUMA node's memory and CPUs, with system calls only (libnuma's
 * allocating calls exit the process when memory runs out). */
/* size bytes of zeroes placed on node if it can be, or NULL (no memory). */
void *usv_dp_node_zalloc(size_t size, int node);
void usv_dp_node_free(void *p, size_t size);
/* The node's CPUs (sysfs cpulist) into *set. 0 or -errno. */
int usv_dp_node_cpus(int node, cpu_set_t *set);

/* dev.c: per-device state and the ops table. */
/* The ring's buffers for its direction, all or none: on failure nothing is
 * kept and every pointer is NULL, so a later start retries. zalloc is
 * calloc's shape (a seam for tests). 0 or -ENOMEM. */
int usv_dp_ring_alloc(struct usv_dp_ring *r, void *(*zalloc)(size_t, size_t));
void usv_dp_ring_free(struct usv_dp_ring *r);
/* The log lock of owner tgid, shared by its rings; NULL without memory. */
struct usv_dp_loglock *usv_dp_loglock_get(struct usv_dp *dp, pid_t tgid);
void usv_dp_loglock_put(struct usv_dp *dp, struct usv_dp_loglock *l);

/* net_tx.c, net_rx.c: one go at the ring; true when more work is left. */
bool usv_dp_handle_tx(struct usv_dp_ring *r);
bool usv_dp_handle_rx(struct usv_dp_ring *r);
/* TX writes in flight at a stop: cancelled, waited for, published. */
void usv_dp_tx_quiesce(struct usv_dp_ring *r);

/* stats.c */
int usv_dp_stats_start(struct usv_dp *dp);
void usv_dp_stats_stop(struct usv_dp *dp);
void usv_dp_stats_line(const struct usv_dp_ring *r, char *buf, size_t n);
/* With dp->lock held: adds the seeds waiting for d's handle to its rings. */
void usv_dp_stats_take_seeds(struct usv_dp *dp, struct usv_dp_dev *d);
/* A device released before any ring of it started (so before it took its
 * seeds): they go to the released totals, and a later device with the same
 * handle (or address) starts at zero. */
void usv_dp_stats_retire_seeds(struct usv_dp *dp, const struct usv_dev *dev);
void usv_dp_stats_free_seeds(struct usv_dp *dp);

/* Where an RX read puts the bytes that do not go straight to the guest. */
static inline uint8_t *usv_dp_rx_tail(const struct usv_dp_ring *r)
{
	return r->scratch + USV_DP_RX_HEADROOM;
}

static inline void usv_dp_count(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

/* Copies between a chain and our buffers: the one place that says how the
 * datapath reaches guest memory not mapped here. */
static inline int usv_dp_chain_read(const struct usv_dp_ring *r, const struct usv_chain *c,
				    uint32_t off, void *buf, uint32_t len)
{
	return usv_chain_read(c, off, buf, len, r->vr.mem);
}

static inline int usv_dp_chain_write(const struct usv_dp_ring *r, const struct usv_chain *c,
				     uint32_t off, const void *buf, uint32_t len)
{
	return usv_chain_write(c, off, buf, len, r->vr.mem);
}

static inline int usv_dp_chain_read_in(const struct usv_dp_ring *r, const struct usv_chain *c,
				       uint32_t off, void *buf, uint32_t len)
{
	return usv_chain_read_in(c, off, buf, len, r->vr.mem);
}

#endif
