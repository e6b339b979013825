/* SPDX-License-Identifier: MIT */
/*
 * What the hostile client's files share (hostile.c and hostile_*.c): where
 * things live in a device's RAM, the bounds every wait uses, a device with
 * its tap (hostile_lib.c), the bystander and control checks
 * (hostile_bystander.c), and the scenarios (hostile_guest.c: the rings and
 * the daemon's buffers; hostile_memory.c: the caller's memory and process;
 * hostile_stall.c: one device stalling others, and limits).
 */
#ifndef USVHOST_TESTS_HOSTILE_H
#define USVHOST_TESTS_HOSTILE_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "client_lib.h"

#define MiB (1024u * 1024u)
#define RAM_SIZE (16 * MiB)
#define HALF (RAM_SIZE / 2)          /* low region [0, HALF), high at 4 GiB */
/* Where things live in the RAM (offsets; rings are at 1-2 MiB of each half). */
#define RX_AREA (4 * MiB)            /* low: RX buffers, RX_BUF per head */
#define TX_AREA (HALF + 4 * MiB)     /* high: TX_SLOTS slots of TX_SLOT */
#define BIG_AREA (HALF + 5 * MiB)    /* high: 1 MiB, one oversized buffer */
#define TABLE_AREA (HALF + 6 * MiB)  /* high: 1 MiB, indirect tables */
#define SPARE_AREA (HALF + 7 * MiB)  /* high: 1 MiB, segments and pieces */
#define TX_SLOT 0x4000u
#define TX_SLOTS 64u
#define RX_BUF 1536u
#define VNET_HDR 12u                 /* struct virtio_net_hdr_mrg_rxbuf */
#define ETH_TX 0x88b5                /* IEEE local experimental ethertypes */
#define ETH_RX 0x88b6
#define MTU 9000u
#define TAP_MTU_MAX 65521u           /* the largest MTU a tap takes */
#define BIG_RECV (1100u * 1000u)     /* receive buffer: a 1 MB frame fits */
#define ODD_HEAD 200u                /* descriptors of bad chains start here */

#define VQ_RX USV_VQ_RX
#define VQ_TX USV_VQ_TX
#define NUM CL_RING_NUM

#define UID_NOBODY 65534u
/* Bounds (ms, before USVHOST_TEST_TIMEOUT_SCALE). */
#define T_PACKET 2000u     /* a packet through a healthy device */
#define T_CONTROL 2000u    /* a control request on a healthy device */
#define T_LATENCY 100u     /* the bystander's 90th percentile during attacks */
#define T_SCENARIO 90000u  /* a whole scenario */

/* The command line, set once by main(). */
struct hx_env {
	const char *dev, *stats, *log, *files, *stall_dev;
	const char *daemon, *control; /* usvhostd and its control socket, or NULL */
	pid_t daemon_pid, stall_pid;
	char self_exe[PATH_MAX];
};

extern struct hx_env hx;

/* ---- the daemon (hostile_lib.c; time, eventfds, frames: client_lib.h) -- */

bool hx_daemon_alive(void);
bool hx_check_daemon_alive(const char *when);
/* Lines of the daemon log that contain needle. */
unsigned hx_log_count(const char *needle);
bool hx_log_wait(const char *needle, unsigned ms);
size_t hx_rx_buf_off(uint16_t head);
uint64_t hx_stats_num(const char *line, const char *key);
bool hx_line_drops_at_least(const char *line, uint64_t arg);
bool hx_drop_privileges(uid_t uid);
/* Threads of the daemon in an uninterruptible (or killable) wait. */
unsigned hx_daemon_threads_waiting(void);
/* A byte over a pipe; the receive waits at most ms (scaled). */
bool hx_link_send(int fd, uint8_t v);
bool hx_link_recv(int fd, uint8_t *v, unsigned ms);

/* ---- one device: RAM, rings, a tap and its interface (hostile_lib.c) ---- */

struct hdev {
	struct cl_dev d;
	struct cl_ram ram;
	const char *tag;
	bool ram_ok, open;
	struct cl_port port;          /* the tap's interface and a socket on it */
	uint16_t avail[USV_NET_NVQS]; /* the driver's avail idx */
	uint16_t used[USV_NET_NVQS];  /* used entries seen */
	unsigned tx_desc, tx_slot;    /* next TX descriptor and slot, cycling */
	uint32_t seq;
};

bool hdev_tap_host_side(struct hdev *x, unsigned mtu);
bool hdev_tap_send(struct hdev *x, const uint8_t *f, size_t len);
/* The next frame the daemon wrote to the tap with this ethertype (and this
 * sequence number, unless seq is 0), at most ms: its length, or -1. */
ssize_t hdev_tap_recv(struct hdev *x, uint16_t type, uint32_t seq, uint8_t *buf, size_t cap,
		      unsigned ms);
void hdev_tap_drain(struct hdev *x);
uint8_t *hdev_ram(struct hdev *x, size_t off);
uint64_t hdev_gpa(struct hdev *x, size_t off);
struct cl_vdesc *hdev_desc(struct hdev *x, unsigned vq);
void hdev_post(struct hdev *x, unsigned vq, uint16_t head);
void hdev_kick(struct hdev *x, unsigned vq);
void hdev_set_used_event(struct hdev *x, unsigned vq, uint16_t v);
uint16_t hdev_used_idx(struct hdev *x, unsigned vq);
struct cl_vring_used_elem hdev_used_elem(struct hdev *x, unsigned vq, uint16_t idx);
uint16_t hdev_wait_used(struct hdev *x, unsigned vq, uint16_t n, unsigned ms);
void hdev_close(struct hdev *x);
bool hdev_open(struct hdev *x, const char *tag, enum cl_ram_kind kind, unsigned mtu);
bool hdev_start(struct hdev *x);
bool hdev_up(struct hdev *x, const char *tag, enum cl_ram_kind kind, unsigned mtu);
uint16_t hdev_tx_post(struct hdev *x, size_t len, uint32_t seq);
bool hdev_tx_one(struct hdev *x, size_t len, const char *what);
void hdev_rx_post(struct hdev *x, unsigned n);
uint16_t hdev_rx_ready(struct hdev *x);
bool hdev_rx_one(struct hdev *x, size_t len, const char *what);
bool hdev_stats_wait(struct hdev *x, unsigned vq, bool (*ok)(const char *, uint64_t),
		     uint64_t arg, char *line, size_t n, unsigned ms);
unsigned hdev_handle(struct hdev *x);
bool hdev_check_broken(struct hdev *x, unsigned vq);
bool hdev_check_running(struct hdev *x, unsigned vq);
uint64_t hdev_drops(struct hdev *x, unsigned vq);
uint64_t hdev_packets(struct hdev *x, unsigned vq);

/* ---- the bystander and control checks (hostile_bystander.c) ------------ */

#define BY_MAX 4096u
#define BY_LOST UINT32_MAX
#define BY_ROUND 1000u   /* ms a round may take before it counts as lost */
#define BY_MIN_ROUNDS 5u

struct by_shm {
	int ready;               /* 1 running, -1 could not start */
	int stop;
	unsigned rounds;         /* lat_us[] below this is set */
	uint32_t lat_us[BY_MAX]; /* per round: the slower of TX and RX, or BY_LOST */
};

struct bystander {
	struct by_shm *shm;
	pid_t pid;
};

bool bystander_start(struct bystander *b);
unsigned bystander_mark(struct bystander *b);
/*
 * The bystander moved packets both ways in the rounds since mark `from`
 * (waiting, bounded, for at least BY_MIN_ROUNDS of them): none lost, the
 * 90th percentile of their latency under bound_ms. Prints the figures.
 */
bool bystander_check(struct bystander *b, unsigned from, const char *during,
		     unsigned bound_ms);
void bystander_stop(struct bystander *b);

/* A pipe a child waits on: a byte (or the end of the pipe) lets it go on. */
struct gate {
	int r, w;
};

bool gate_open(struct gate *g);
/* In the child: no byte, or the parent gone, within ms: false. */
bool gate_wait(struct gate *g, unsigned ms);
void gate_close(struct gate *g);
/* The control check's child, started now, runs once released. */
pid_t control_prepare(struct gate *g);
/* Another process opens a device, runs QEMU's init and start and stops it:
 * every request answers, all of them within T_CONTROL. With a prepared
 * child (pid > 0), releases it; else starts one. */
bool control_check(pid_t pid, struct gate *g, const char *during);
bool control_answers(const char *during);

/* ---- scenarios ---------------------------------------------------------- */

/* hostile_guest.c */
void scenario_oversized_tx_anon(void);
void scenario_oversized_tx_segments(void);
void scenario_oversized_rx(void);
void scenario_indirect_storm(void);
void scenario_long_chain(void);
void scenario_straddle(void);
void scenario_wrap(void);
void scenario_huge_len(void);
void scenario_rx_4g(void);
void scenario_nested(void);
void scenario_ind_outside(void);
void scenario_ind_len(void);
void scenario_rx_readable(void);
void scenario_used_readonly(void);
/* hostile_memory.c */
void scenario_readonly_root(void);
void scenario_readonly_unprivileged(void);
void scenario_readonly_forged_maps(void);
void scenario_owner_exec(void);
/* The owner's new image (owner-exec): returns when done; its failures are
 * the process's exit status. */
int victim_main(const char *spec);
void scenario_truncated_ram(void);
void scenario_sealed_ram(void);
/* hostile_stall.c */
void scenario_blocking_call(void);
void scenario_blocking_err(void);
void scenario_busyloop(void);
void scenario_fuse_fd_hang(void);
void scenario_owner_memory_hang(void);
/* hostile_stop.c */
void scenario_owner_memory_stop(void);

/* ---- a FUSE file system to freeze (hostile_frozen.c) ------------------- */

struct frozen_fs {
	pid_t pid;      /* its server; SIGSTOP freezes it */
	char mnt[256];  /* mounted under --files */
	char file[280]; /* one regular file of zeros */
};

/* Mounts it with a file of size bytes (as root). */
bool frozen_fs_start(struct frozen_fs *fz, size_t size);
/* Lets the server go on, ends it and unmounts. */
void frozen_fs_stop(struct frozen_fs *fz);
/* The checker's side of an owner whose memory freezes (pipes up, down):
 * the owner says 'r' once its devices are up; the server is stopped and
 * 'f' sent; the owner posts a packet per device and says 'k'. True once n
 * daemon threads wait on the owner's memory (each step a check). */
bool frozen_fs_freeze_owner(struct frozen_fs *fz, int up, int down, const char *who,
			    unsigned n);
/* The owner's device i (hdev_up, anonymous RAM), the page of its guest RAM
 * at off replaced by page i of the frozen file (opened as ffd); tag is
 * kept by the device (static storage). */
bool frozen_fs_owner_device(struct hdev *x, const char *tag, int ffd, unsigned i, size_t off);
/* Each of the n devices sends a 100-byte packet from its frozen page (at
 * off): its worker then waits on the page. */
void frozen_fs_owner_post(struct hdev *x, unsigned n, size_t off);
void scenario_iotlb_blocking_reads(void);
void scenario_device_limit(void);

#endif
