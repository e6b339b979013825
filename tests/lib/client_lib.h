/* SPDX-License-Identifier: MIT */
/*
 * The test clients' library (qemu_client, ring_faults, priv_client, hostile,
 * vhost_conformance): it plays QEMU 7.2 against a vhost-net device file and
 * the guest driver on its rings. Checks that count and explain failures,
 * child processes with bounded waits, "guest RAM" with split rings inside it,
 * taps, the ioctl sequences QEMU 7.2 sends (see docs/vhost-net-abi.md, "What
 * QEMU 7.2 sends"): client_lib.c. Time, eventfds, frames, the driver's side
 * of a ring and a tap's host side: client_driver.c.
 *
 * Every check goes through cl_check() or cl_ioctl(), so each one is counted and
 * a failing one prints what was expected and what came back.
 */
#ifndef USVHOST_TESTS_CLIENT_LIB_H
#define USVHOST_TESTS_CLIENT_LIB_H

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "usvhost/vhost_abi.h"

/* What QEMU 7.2 acked when offered the kernel's set: MRG_RXBUF,
 * INDIRECT_DESC, EVENT_IDX, VERSION_1. */
#define CL_QEMU_FEATURES 0x130008000ULL
#define CL_BACKEND_FEATURES (1ULL << USV_BACKEND_F_IOTLB_MSG_V2)
#define CL_RING_NUM 256u
/* Marker value scenario 6 stores with SET_VRING_BUSYLOOP_TIMEOUT on devices it
 * abandons, so qemu-sequence.sh can find them in the daemon log (it greps
 * for 606606 or 0x9418e: keep both in sync). */
#define CL_ABANDON_MARKER 606606u

/* ---- checks ---------------------------------------------------------- */

extern bool cl_verbose;

/* Counts one check; on failure prints "FAIL: <what>" and returns false. */
bool cl_check(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* ioctl(fd, cmd, arg) must return 0 (want == 0) or fail with errno == want. */
bool cl_ioctl(int fd, unsigned long cmd, void *arg, int want, const char *fmt,
	      ...) __attribute__((format(printf, 5, 6)));
/* A set-up step that is not itself under test failed (mmap, eventfd...):
 * counted as a failure, with errno text. */
void cl_setup_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints one whole line (single write(2), so lines from threads and child
 * processes do not interleave). */
void cl_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

unsigned long cl_checks(void);
unsigned long cl_failures(void);
void cl_add_failures(unsigned long n);
/* Checks made where the shared counter cannot reach (a program exec'ed by a
 * child reports its count another way). */
void cl_add_checks(unsigned long n);
/* Short name of an ioctl number ("SET_VRING_NUM") or its hex value. */
const char *cl_ioctl_name(unsigned long cmd, char *buf, size_t len);
/* "EPERM" for 1, "0" for 0. */
const char *cl_errname(int err, char *buf, size_t len);

/* Multiplies every timeout (valgrind runs slower); from the environment
 * USVHOST_TEST_TIMEOUT_SCALE. */
extern unsigned cl_timeout_scale;

/* ---- processes and threads --------------------------------------------- */

/* Runs fn(arg) in a forked child. The child starts with zeroed counters and
 * exits with its failure count (capped), so cl_reap() can add it up; it is
 * killed when the thread that forked it ends. */
pid_t cl_spawn(int (*fn)(void *arg), void *arg, const char *what);
/* Waits at most timeout_ms for the child (then SIGKILLs it, and waits at most
 * 2 s more: a child stuck in a request the daemon never answers is left
 * behind); counts one check that it exited 0 and adds its failures. Returns
 * true when it did. */
bool cl_reap(pid_t pid, unsigned timeout_ms, const char *what);
/* pthread_join bounded by timeout_ms; a thread that hangs inside an ioctl
 * cannot be cancelled, so that is fatal for the whole client. */
void cl_join(pthread_t t, unsigned timeout_ms, const char *what);

/* ---- file descriptors ---------------------------------------------------- */

int cl_eventfd(void);
/* A descriptor number that is not open in this process right now. */
int cl_closed_fd(void);
void cl_close(int *fd);
/* Creates a tap in the current network namespace the way QEMU's tap backend
 * does (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, 12-byte header, O_NONBLOCK). */
int cl_tap_open(void);

/* ---- guest RAM and rings ------------------------------------------------- */

/* Split ring layouts (virtio 1.x, little-endian host). */
struct cl_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct cl_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct cl_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct cl_vring_used_elem ring[];
};

enum cl_ram_kind {
	/* memory-backend-memfd,share=on with QEMU's default seal=on: a
	 * MAP_SHARED memfd sealed with F_SEAL_GROW, F_SEAL_SHRINK and
	 * F_SEAL_SEAL, so it can never be truncated (the daemon maps it). */
	CL_RAM_MEMFD,
	CL_RAM_ANON_PRIV, /* QEMU's default: MAP_PRIVATE | MAP_ANONYMOUS */
	/* seal=off: a memfd its owner may truncate (the daemon never maps it). */
	CL_RAM_MEMFD_UNSEALED,
};

/* RAM laid out like QEMU's PC machine, scaled down: the lower half is guest
 * physical [0, size/2) ("below the PCI hole"), the upper half sits at 4 GiB,
 * so a gpa is not simply an offset and the two regions differ. */
#define CL_HIGH_GPA 0x100000000ULL

struct cl_ram {
	uint8_t *base;
	size_t size;
	int memfd; /* -1 for anonymous RAM */
	enum cl_ram_kind kind;
	unsigned nregions;
	struct {
		uint64_t gpa, size, off; /* off: offset in the mapping */
	} reg[2];
};

bool cl_ram_init(struct cl_ram *ram, enum cl_ram_kind kind, size_t size);
void cl_ram_fini(struct cl_ram *ram);
/* Guest physical address of the byte at offset off of the mapping. */
uint64_t cl_ram_gpa(const struct cl_ram *ram, size_t off);
/* A SET_MEM_TABLE argument for the RAM (calloc'ed; free it). */
struct usv_vhost_memory *cl_ram_table(const struct cl_ram *ram);

/* Where one ring generation lives: vq 0 in low RAM, vq 1 in high RAM, each
 * driver (re)load in its own slot so addresses change like a reloaded guest. */
struct cl_ring {
	void *desc;
	struct cl_vring_avail *avail;
	struct cl_vring_used *used;
	uint64_t gpa_used;
};

void cl_ring_place(const struct cl_ram *ram, unsigned vq, unsigned gen,
		   struct cl_ring *r);
/* Puts a quiescent ring in place: avail->idx = base (nothing pending),
 * used->idx = used_idx and used->flags = 0xffff, so a write of the device's
 * used_flags at attach is visible. */
void cl_ring_prepare(struct cl_ring *r, uint16_t base, uint16_t used_idx);
uint16_t cl_load16(const uint16_t *p);

/* ---- one QEMU-driven device --------------------------------------------- */

struct cl_dev {
	const char *tag; /* names the device in failure lines */
	int fd;
	int tap;
	int init_call[USV_NET_NVQS], init_err[USV_NET_NVQS]; /* netdev init */
	int call[USV_NET_NVQS]; /* guest notifiers, per start */
	int kick[USV_NET_NVQS]; /* host notifiers, per start */
	struct cl_ram *ram;
	unsigned gen; /* ring generation: bumped at every start */
	uint16_t base[USV_NET_NVQS];
	struct cl_ring ring[USV_NET_NVQS];
	uint64_t offered; /* GET_FEATURES */
};

/* open(path, O_RDWR | O_CLOEXEC) as QEMU does, and a tap for the backend. */
bool cl_dev_open(struct cl_dev *d, const char *path, struct cl_ram *ram,
		 const char *tag);
/* Closes everything the device holds (fds, tap, eventfds). */
void cl_dev_close(struct cl_dev *d);
/* netdev init, main thread: SET_OWNER, GET_FEATURES (checked and kept in
 * d->offered), SET_VRING_CALL + SET_VRING_ERR for both rings. */
bool cl_qemu_init(struct cl_dev *d);
/* DRIVER_OK (QEMU: a vCPU thread): SET_VRING_CALL x2, SET_FEATURES,
 * GET/SET_BACKEND_FEATURES, SET_MEM_TABLE, per ring NUM/BASE/ADDR/KICK, then
 * NET_SET_BACKEND for both rings with the tap; checks used->flags became 0
 * and nothing else in the rings moved. Rings go to generation d->gen++. */
bool cl_qemu_start(struct cl_dev *d, uint16_t base);
/* Stop: NET_SET_BACKEND -1 for both, GET_VRING_BASE for both (checked
 * against the base of the start), SET_VRING_CALL back to the init eventfds. */
bool cl_qemu_stop(struct cl_dev *d);

/* ---- one ioctl each, checked (want: 0 or the expected errno) ------------ */

bool cl_set_features(int fd, uint64_t f, int want, const char *tag);
/* SET_MEM_TABLE with the RAM's regions, as QEMU sends them. */
bool cl_set_mem_table(int fd, const struct cl_ram *ram, const char *tag);
bool cl_set_num(int fd, unsigned vq, uint32_t num, int want, const char *tag);
bool cl_set_base(int fd, unsigned vq, uint32_t num, int want, const char *tag);
bool cl_set_addr(int fd, unsigned vq, uint32_t flags, uint64_t desc,
		 uint64_t avail, uint64_t used, uint64_t log, int want,
		 const char *tag, const char *what);
/* SET_VRING_ADDR with the ring's addresses, flags 0, log = gpa of used. */
bool cl_set_ring_addr(int fd, unsigned vq, const struct cl_ring *r, int want,
		      const char *tag, const char *what);
/* SET_VRING_KICK / CALL / ERR: cmd, {vq, efd}. */
bool cl_vring_file(int fd, unsigned long cmd, unsigned vq, int efd, int want,
		   const char *tag);
/* NET_SET_BACKEND {vq, backend}; what names the backend in messages. */
bool cl_attach(int fd, unsigned vq, int backend, int want, const char *tag,
	       const char *what);
/* GET_VRING_BASE must answer {vq, want}. */
bool cl_expect_base(int fd, unsigned vq, uint32_t want, const char *tag);
/* Sets one ring's NUM/BASE/ADDR(/KICK when kick >= 0) without attaching. */
bool cl_setup_ring(int fd, unsigned vq, const struct cl_ring *r, uint16_t base,
		   int kick, const char *tag);

/* ---- time, eventfds, files (client_driver.c) ---------------------------- */

uint64_t cl_now_us(void);
uint64_t cl_now_ms(void);
/* ms times cl_timeout_scale. */
unsigned cl_scaled(unsigned ms);
void cl_sleep_ms(unsigned ms);
/* Waits at most ms for an eventfd to be readable and reads its counter. */
bool cl_efd_wait(int fd, unsigned ms, uint64_t *count);
void cl_efd_drain(int fd);
/* A line of the file contains needle. */
bool cl_file_has(const char *path, const char *needle);
/* Best effort (a missing file is no error: no IPv6 here, say). */
void cl_write_sysctl(const char *path, const char *v);

/* ---- the guest driver's side of a ring (client_driver.c) ---------------- */

/* struct vring_desc as the guest driver writes it (little-endian host). */
struct cl_vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

#define CL_D_NEXT 1
#define CL_D_WRITE 2
#define CL_D_INDIRECT 4

void cl_put_desc(struct cl_vdesc *t, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next);
/* Makes head available after *avail and publishes the new avail idx. */
void cl_post(struct cl_ring *r, uint16_t *avail, uint16_t head);
/* used_event (EVENT_IDX): interrupt me once the used idx passes v. */
void cl_set_used_event(struct cl_ring *r, uint16_t v);
uint16_t cl_used_idx(const struct cl_ring *r);
struct cl_vring_used_elem cl_used_elem(const struct cl_ring *r, uint16_t idx);
/* Signals a kick eventfd; a failure is a set-up failure named by tag. */
void cl_kick(int efd, const char *tag, unsigned vq);

/* ---- frames and a tap's host side (client_driver.c) --------------------- */

/* Ethernet frame of len bytes from 02:..:01 to 02:..:02 with this ethertype:
 * seq in the 4 bytes after the header, then a pattern derived from seq. */
size_t cl_make_frame(uint8_t *f, size_t len, uint16_t type, uint32_t seq);

/* A tap seen from the host: its interface and an AF_PACKET socket bound to
 * it. A frame the daemon writes to the tap fd arrives on the socket; a frame
 * sent on the socket is what the daemon reads from the tap fd. */
struct cl_port {
	char ifname[IFNAMSIZ];
	int ifindex;
	int pkt; /* -1 when closed */
};

struct cl_port_opts {
	const char *name;  /* the interface's new name (unique: the kernel reuses tapN) */
	unsigned mtu;
	int rcvbuf;        /* SO_RCVBUFFORCE bytes, 0 to keep the default */
	bool no_ipv6;      /* nothing but our frames moves (no RS, no MLD) */
};

/* Renames the tap's interface (it is down), sets its MTU, brings it up and
 * binds p->pkt to it. */
bool cl_port_open(struct cl_port *p, int tap, const struct cl_port_opts *o, const char *tag);
void cl_port_close(struct cl_port *p);
/* Sends a frame out of the interface: what the daemon reads. */
bool cl_port_send(struct cl_port *p, const uint8_t *f, size_t len, const char *tag);
/* The next frame of this ethertype (and this sequence number, unless seq
 * is 0) the daemon wrote to the tap, at most ms: its length, or -1. */
ssize_t cl_port_recv(struct cl_port *p, uint16_t type, uint32_t seq, uint8_t *buf, size_t cap,
		     unsigned ms);
void cl_port_drain(struct cl_port *p);

#endif
