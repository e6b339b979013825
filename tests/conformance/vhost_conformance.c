/* SPDX-License-Identifier: MIT */
/*
 * vhost_conformance: a table of vhost-net ioctl scenarios (valid sequences,
 * every documented error, wrong owner, wrong order, bad indexes, sizes and
 * fds, 65 regions, unaligned rings, features the kernel does not offer,
 * unknown ioctl numbers), each run on a fresh open of a vhost-net device,
 * and the answers (return value, errno, the argument as the call left it,
 * the rings' words it may write) compared.
 *
 *   vhost_conformance --kernel=DEV --usvhost=DEV [--front=cuse|fuse]
 *       side by side: every scenario on both devices (the kernel's
 *       /dev/vhost-net and usvhostd's node), one table line each: scenario,
 *       kernel answer, usvhost answer, same or not. The kernel's answers are
 *       also checked against the ones recorded in the table.
 *   vhost_conformance --dev=DEV --as=kernel|cuse|fuse
 *       one device, checked against the answers recorded in the table from
 *       runs on Linux 6.1's vhost_net: what the kernel gives, or, where
 *       usvhostd (or its FUSE-file front) differs on purpose, the answer it
 *       is meant to give (docs/conformance.md says why).
 *   vhost_conformance --list
 *
 * Options: --front=cuse|fuse (side-by-side: which usvhostd front), -v (show
 * every scenario, not only the differences, in single mode),
 * --markdown=FILE (side by side: the table as markdown too), SCENARIO...
 * (names or prefixes: run only those).
 *
 * Needs root (taps, packet sockets). Exit: 0 when every answer is the
 * kernel's or a documented deliberate difference, 1 otherwise, 2 usage,
 * 77 cannot run here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "client_lib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096u
#define MiB (1024u * 1024u)
#define RAM_SIZE (16 * MiB)
#define ARG_CAP 48 /* bytes of an argument kept and compared */
#define ERR_HUNG 100000 /* "errno" of an ioctl that never returned */
#define HANG_MS 20000

/* ---- the answers recorded in the table ----------------------------------- */

/* Linux 6.1's vhost_net offers ACCESS_PLATFORM (bit 33), and so does
 * usvhostd, which also offers RING_PACKED (bit 34), which no kernel does. */
#define K_FEATURES 0x33d008000ULL
#define U_FEATURES 0x73d008000ULL
/* What QEMU 7.2 acks. */
#define QEMU_F 0x130008000ULL
#define PAT 0xa5a5a5a5a5a5a5a5ULL
#define B(n) (1ULL << (n))

/* Ioctl numbers that are not vhost-net's, or are vhost-net's with the wrong
 * direction or size: all take the kernel's unknown path. */
#define UNKNOWN_IOCTL _IO(USV_VHOST_VIRTIO, 0x7f)
#define VDPA_GET_DEVICE_ID _IOR(USV_VHOST_VIRTIO, 0x70, uint32_t)
#define NUM_AS_U32 _IOW(USV_VHOST_VIRTIO, 0x10, uint32_t)
#define GET_FEATURES_IOWR _IOWR(USV_VHOST_VIRTIO, 0x00, uint64_t)
#define BACKEND_AS_IO _IO(USV_VHOST_VIRTIO, 0x30)
#define MEM_TABLE_256 _IOC(_IOC_WRITE, USV_VHOST_VIRTIO, 0x03, 256)
#define GET_VRING_BASE_IOR _IOR(USV_VHOST_VIRTIO, 0x12, struct usv_vhost_vring_state)
/* Not ioctls: the IOTLB message channel, read()/write()/poll() on the device
 * (vhost_chr_read_iter, vhost_chr_write_iter, vhost_chr_poll). No valid
 * ioctl number has these values (direction bits 3 with type 0xff). */
#define CHR_READ 0xffff0001UL  /* read v0 bytes; v1: O_NONBLOCK */
#define CHR_WRITE 0xffff0002UL /* write v0 bytes: message v1, iotlb type v2, size v3 */
#define CHR_POLL 0xffff0003UL  /* poll(POLLIN | POLLOUT, 0): the answer is revents */
#define VHOST_MSG_LEN 72       /* sizeof(struct vhost_msg) == sizeof(struct vhost_msg_v2) */

/* ---- scenario description ------------------------------------------------ */

/* How the argument is built from op.v[]. */
enum kind {
	A_NONE,   /* arg = 0 */
	A_U64,    /* u64 v0 */
	A_INT,    /* int v0 (fd) */
	A_U32,    /* u32 v0 (the index the unknown path reads) */
	A_STATE,  /* vring_state {v0, v1} */
	A_FILE,   /* vring_file {v0, fd v1} */
	A_ADDR,   /* vring_addr {v0, flags v1, desc v2, avail v3, used v4, log v5} */
	A_MEM,    /* memory table: nregions v0, padding v1, layout v2 */
	A_FARRAY, /* features array {count v0, v1, v2, v3} */
};

/* Where the argument is placed. */
enum where {
	W_NORMAL,
	W_UNMAPPED, /* arg points at an unmapped page */
	W_STRADDLE, /* only the first 4 bytes are mapped (the index) */
	W_STRADDLE2, /* only the first 2 bytes are mapped */
	W_TAIL8,    /* only the first 8 bytes are mapped (a header) */
	W_RO,       /* in a read-only page */
};

enum who {
	BY_OWNER,  /* the test process (the owner once it sent SET_OWNER) */
	BY_CHILD,  /* a forked child: another process sharing the file */
	BY_THREAD, /* another thread of the owner */
};

/* Tokens in op.v[] stand for things made at run time. */
#define TOK 0x7ead000000000000ULL
#define TOKMASK 0xffff000000000000ULL
#define TA(t, off) (TOK | (uint64_t)(t) | ((uint64_t)(off) << 16))
enum token {
	/* descriptors */
	T_EVENTFD = 1, T_EVENTFD2, T_PIPE, T_DEVNULL, T_CLOSED, T_TAP, T_TAP2,
	T_TUN, T_TAP_NOVNET, T_UDP, T_UNIX, T_PACKET_RAW, T_PACKET_DGRAM,
	T_MEMFD, T_SELF, T_NFDS,
	/* addresses: the op's vq ring (+off), special pages */
	T_DESC = 0x40, T_AVAIL, T_USED, T_USED_GPA, T_RO_PAGE, T_UNMAPPED,
	T_LOGBUF,
};
#define TEVENT TA(T_EVENTFD, 0)
#define KADDR 0xffff800000000000ULL /* access_ok() refuses it */

/* Memory table layouts (A_MEM v2). */
enum layout {
	M_RAM,       /* the RAM's two regions, QEMU's way (header count v0) */
	M_SLICES,    /* v0 regions of 64 KiB of RAM */
	M_ZERO_SIZE, /* second region of size 0 */
	M_WRAP_GPA,  /* second region wraps the guest-physical space */
	M_WRAP_UADDR, /* second region's user range wraps */
	M_OVERLAP,   /* both regions at guest-physical 0 */
	M_KERNEL,    /* first region at a kernel address */
	M_KZERO,     /* first region at a kernel address, second of size 0 */
	M_LOW,       /* only the first region (vq 1's rings lie outside) */
};

/* Setup: what is done (and must succeed) before the scenario's ops. */
enum {
	SU_OWNER = 1 << 0,   /* SET_OWNER */
	SU_FEAT = 1 << 1,    /* SET_FEATURES QEMU's set */
	SU_MEM = 1 << 2,     /* SET_MEM_TABLE, the RAM's two regions */
	SU_RINGS = 1 << 3,   /* NUM 256, BASE 0, ADDR, KICK, CALL on both */
	SU_ATTACH0 = 1 << 4, /* NET_SET_BACKEND vq 0 tap */
	SU_ATTACH1 = 1 << 5, /* NET_SET_BACKEND vq 1 tap */
	SU_DETACH = 1 << 6,  /* NET_SET_BACKEND -1 on both */
};
#define S_OPEN 0
#define S_OWNED SU_OWNER
#define S_FEAT (SU_OWNER | SU_FEAT)
#define S_MEM (S_FEAT | SU_MEM)
#define S_RINGS (S_MEM | SU_RINGS)
#define S_NOMEM_RINGS (S_FEAT | SU_RINGS)
#define S_RUN0 (S_RINGS | SU_ATTACH0)
#define S_RUN (S_RINGS | SU_ATTACH0 | SU_ATTACH1)
#define S_STOPPED (S_RUN | SU_DETACH)

/* What the answer's output is checked for (single-device mode). */
enum out {
	OUT_NONE,
	OUT_U64,    /* the u64 at arg == v0 */
	OUT_STATE,  /* vring_state at arg == {v0, v1} */
	OUT_USED,   /* vq v0's used->flags == v1, used->idx == v2 */
	OUT_FARRAY, /* {count, w0, w1, w2} at arg == v0..v3 */
	OUT_SAME,   /* the argument is as it was written */
	OUT_RET,    /* read()/write() returned v0 bytes */
};

/* Why usvhostd answers differently on purpose (docs/conformance.md). */
enum reason {
	R_NONE,
	R_PACKED,    /* RING_PACKED offered, beyond the kernel */
	R_FARRAY,    /* the 6.17 features-array ioctls are served */
	R_FUSE_EARLY, /* FUSE-file front: payload copied before the server runs */
	R_FUSE_VFS,  /* FUSE-file front: a regular file; the VFS answers */
	R_CUSE_FIXED, /* CUSE front: the whole fixed payload fetched at once */
	R_NREASONS,
};

static const struct {
	const char *key, *text;
} reasons[R_NREASONS] = {
	[R_NONE] = { "", "" },
	[R_PACKED] = { "packed-ring",
		       "VIRTIO_F_RING_PACKED (bit 34) is offered and taken: usvhost "
		       "serves the packed virtqueue, which no kernel vhost-net does" },
	[R_FARRAY] = { "features-array",
		       "GET/SET_FEATURES_ARRAY (Linux 6.17) are served; 6.1 sends "
		       "them down the unknown path" },
	[R_FUSE_EARLY] = { "fuse-restricted",
			   "FUSE-file front: the kernel copies _IOC_SIZE bytes in "
			   "before usvhostd sees the request: EFAULT first" },
	[R_FUSE_VFS] = { "fuse-regular-file",
			 "FUSE-file front: the node is a regular file, so the VFS "
			 "answers FIONREAD itself" },
	[R_CUSE_FIXED] = { "fixed-payload",
			   "the ioctl's whole fixed payload is fetched in one retry "
			   "before any check: EFAULT where the kernel checks the "
			   "index or the state first" },
};

struct op {
	unsigned long cmd;
	uint8_t kind, where, who;
	int16_t want; /* steps before the last: the answer needed to go on */
	/* A step that, answered otherwise, ends the scenario with that answer
	 * (a feature a device refuses on purpose) instead of failing it. */
	bool stop;
	uint64_t v[6];
};

struct expect {
	bool set;
	int err; /* errno, or ERR_HUNG */
	uint8_t out;
	uint64_t v[4];
};

#define MAX_OPS 4

struct row {
	const char *name;
	const char *what;
	unsigned setup;
	struct op ops[MAX_OPS];
	struct expect k;      /* the kernel's answer (Linux 6.1 vhost_net) */
	struct expect u;      /* usvhostd, where it differs on purpose */
	struct expect f;      /* the FUSE-file front, where it differs too */
	uint8_t ur, fr;       /* reasons for u and f */
};

#define R(n, w, s) .name = (n), .what = (w), .setup = (s)
#define OP(c, k, ...) { .cmd = (c), .kind = (k), .v = { __VA_ARGS__ } }
#define OPW(c, k, w, ...) { .cmd = (c), .kind = (k), .where = (w), .v = { __VA_ARGS__ } }
#define OPC(c, k, ...) { .cmd = (c), .kind = (k), .who = BY_CHILD, .v = { __VA_ARGS__ } }
#define OPCW(c, k, w, ...) \
	{ .cmd = (c), .kind = (k), .where = (w), .who = BY_CHILD, .v = { __VA_ARGS__ } }
#define OPT(c, k, ...) { .cmd = (c), .kind = (k), .who = BY_THREAD, .v = { __VA_ARGS__ } }
/* A step whose expected answer is an error. */
#define OPE(e, c, k, ...) { .cmd = (c), .kind = (k), .want = (e), .v = { __VA_ARGS__ } }
#define OPCE(e, c, k, ...) \
	{ .cmd = (c), .kind = (k), .who = BY_CHILD, .want = (e), .v = { __VA_ARGS__ } }
#define OPS(c, k, ...) { .cmd = (c), .kind = (k), .stop = true, .v = { __VA_ARGS__ } }
/* The IOTLB rows' first step: a device that does not offer ACCESS_PLATFORM
 * (a profile of a kernel without it) ends the row with its answer. */
#define IOTLB_ON OPS(SF, A_U64, QEMU_F | B(33))
#define PERM(p) (0x100 | (p)) /* an explicit perm byte for build_msg() */
#define K(e) .k = { .set = true, .err = (e) }
#define KO(e, o, ...) .k = { .set = true, .err = (e), .out = (o), .v = { __VA_ARGS__ } }
#define U(r, e) .ur = (r), .u = { .set = true, .err = (e) }
#define UO(r, e, o, ...) .ur = (r), .u = { .set = true, .err = (e), .out = (o), .v = { __VA_ARGS__ } }
#define F(r, e) .fr = (r), .f = { .set = true, .err = (e) }
#define FO(r, e, o, ...) .fr = (r), .f = { .set = true, .err = (e), .out = (o), .v = { __VA_ARGS__ } }

#define GF USV_VHOST_GET_FEATURES
#define SF USV_VHOST_SET_FEATURES
#define GBF USV_VHOST_GET_BACKEND_FEATURES
#define SBF USV_VHOST_SET_BACKEND_FEATURES
#define GFA USV_VHOST_GET_FEATURES_ARRAY
#define SFA USV_VHOST_SET_FEATURES_ARRAY
#define OWN USV_VHOST_SET_OWNER
#define RST USV_VHOST_RESET_OWNER
#define MEM USV_VHOST_SET_MEM_TABLE
#define LBASE USV_VHOST_SET_LOG_BASE
#define LFD USV_VHOST_SET_LOG_FD
#define NUM USV_VHOST_SET_VRING_NUM
#define ADDR USV_VHOST_SET_VRING_ADDR
#define SBASE USV_VHOST_SET_VRING_BASE
#define GBASE USV_VHOST_GET_VRING_BASE
#define SEND USV_VHOST_SET_VRING_ENDIAN
#define GEND USV_VHOST_GET_VRING_ENDIAN
#define KICK USV_VHOST_SET_VRING_KICK
#define CALL USV_VHOST_SET_VRING_CALL
#define ERR USV_VHOST_SET_VRING_ERR
#define SBUSY USV_VHOST_SET_VRING_BUSYLOOP_TIMEOUT
#define GBUSY USV_VHOST_GET_VRING_BUSYLOOP_TIMEOUT
#define BACKEND USV_VHOST_NET_SET_BACKEND

/* Valid ring addresses of vq N, flags 0, log = gpa of its used ring. */
#define RING_ADDR(vq) OP(ADDR, A_ADDR, vq, 0, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0))
#define ADDR_WITH(vq, fl, d, a, u, l) OP(ADDR, A_ADDR, vq, fl, d, a, u, l)
#define ATTACH(vq) OP(BACKEND, A_FILE, vq, TA(T_TAP, 0))
#define DETACH(vq) OP(BACKEND, A_FILE, vq, (uint64_t)-1)

static const struct row rows[] = {
	/* ---- features: no owner needed ---- */
	{ R("features.get", "GET_FEATURES on a fresh device", S_OPEN),
	  .ops = { OP(GF, A_U64, PAT) }, KO(0, OUT_U64, K_FEATURES),
	  UO(R_PACKED, 0, OUT_U64, U_FEATURES) },
	{ R("features.get-non-owner", "GET_FEATURES from another process", S_OWNED),
	  .ops = { OPC(GF, A_U64, PAT) }, KO(0, OUT_U64, K_FEATURES),
	  UO(R_PACKED, 0, OUT_U64, U_FEATURES) },
	{ R("features.set-before-owner", "SET_FEATURES QEMU's set before SET_OWNER", S_OPEN),
	  .ops = { OP(SF, A_U64, QEMU_F) }, K(0) },
	{ R("features.set-qemu", "SET_FEATURES 0x130008000 (what QEMU 7.2 acks)", S_OWNED),
	  .ops = { OP(SF, A_U64, QEMU_F) }, KO(0, OUT_SAME) },
	{ R("features.set-zero", "SET_FEATURES 0", S_OWNED), .ops = { OP(SF, A_U64, 0) }, K(0) },
	{ R("features.set-offered", "SET_FEATURES everything both offer", S_OWNED),
	  .ops = { OP(SF, A_U64, U_FEATURES & K_FEATURES) }, K(0) },
	{ R("features.set-with-ap", "SET_FEATURES everything the kernel offers", S_OWNED),
	  .ops = { OP(SF, A_U64, K_FEATURES) }, K(0) },
	{ R("features.set-ap-only", "SET_FEATURES ACCESS_PLATFORM (33) alone", S_OWNED),
	  .ops = { OP(SF, A_U64, B(33)) }, K(0) },
	{ R("features.set-packed", "SET_FEATURES RING_PACKED (34)", S_OWNED),
	  .ops = { OP(SF, A_U64, B(34)) }, K(EOPNOTSUPP), U(R_PACKED, 0) },
	{ R("features.set-in-order", "SET_FEATURES IN_ORDER (35)", S_OWNED),
	  .ops = { OP(SF, A_U64, B(35)) }, K(EOPNOTSUPP) },
	{ R("features.set-ring-reset", "SET_FEATURES RING_RESET (40)", S_OWNED),
	  .ops = { OP(SF, A_U64, B(40)) }, K(EOPNOTSUPP) },
	{ R("features.set-bit63", "SET_FEATURES bit 63", S_OWNED),
	  .ops = { OP(SF, A_U64, B(63)) }, K(EOPNOTSUPP) },
	{ R("features.set-csum", "SET_FEATURES NET_F_CSUM (0): a tap feature", S_OWNED),
	  .ops = { OP(SF, A_U64, B(0)) }, K(EOPNOTSUPP) },
	{ R("features.set-guest-csum", "SET_FEATURES NET_F_GUEST_CSUM (1)", S_OWNED),
	  .ops = { OP(SF, A_U64, B(1)) }, K(EOPNOTSUPP) },
	{ R("features.set-ctrl-vq", "SET_FEATURES NET_F_CTRL_VQ (17)", S_OWNED),
	  .ops = { OP(SF, A_U64, B(17)) }, K(EOPNOTSUPP) },
	{ R("features.set-mq", "SET_FEATURES NET_F_MQ (22)", S_OWNED),
	  .ops = { OP(SF, A_U64, B(22)) }, K(EOPNOTSUPP) },
	{ R("features.set-qemu-packed", "SET_FEATURES QEMU's set plus RING_PACKED", S_OWNED),
	  .ops = { OP(SF, A_U64, QEMU_F | B(34)) }, K(EOPNOTSUPP), U(R_PACKED, 0) },
	{ R("features.set-non-owner", "SET_FEATURES from another process", S_OWNED),
	  .ops = { OPC(SF, A_U64, QEMU_F) }, K(0) },
	{ R("features.set-running", "SET_FEATURES again while both rings run", S_RUN),
	  .ops = { OP(SF, A_U64, QEMU_F) }, K(0) },
	{ R("features.set-log-all", "SET_FEATURES with LOG_ALL, no log base", S_OWNED),
	  .ops = { OP(SF, A_U64, QEMU_F | B(26)) }, K(0) },
	{ R("features.set-log-all-running", "SET_FEATURES with LOG_ALL while running, no log base", S_RUN),
	  .ops = { OP(SF, A_U64, QEMU_F | B(26)) }, K(0) },
	{ R("features.get-unmapped", "GET_FEATURES into an unmapped page", S_OPEN),
	  .ops = { OPW(GF, A_U64, W_UNMAPPED, 0) }, K(EFAULT) },
	{ R("features.get-read-only", "GET_FEATURES into a read-only page", S_OPEN),
	  .ops = { OPW(GF, A_U64, W_RO, PAT) }, KO(EFAULT, OUT_SAME) },
	{ R("features.set-unmapped", "SET_FEATURES from an unmapped page", S_OWNED),
	  .ops = { OPW(SF, A_U64, W_UNMAPPED, 0) }, K(EFAULT) },

	/* ---- backend features ---- */
	{ R("backend-features.get", "GET_BACKEND_FEATURES", S_OPEN),
	  .ops = { OP(GBF, A_U64, PAT) }, KO(0, OUT_U64, 0x2) },
	{ R("backend-features.set-msg-v2", "SET_BACKEND_FEATURES IOTLB_MSG_V2 (0x2)", S_OWNED),
	  .ops = { OP(SBF, A_U64, 0x2) }, K(0) },
	{ R("backend-features.set-zero", "SET_BACKEND_FEATURES 0", S_OWNED),
	  .ops = { OP(SBF, A_U64, 0) }, K(0) },
	{ R("backend-features.set-bit0", "SET_BACKEND_FEATURES 0x1", S_OWNED),
	  .ops = { OP(SBF, A_U64, 0x1) }, K(EOPNOTSUPP) },
	{ R("backend-features.set-batch", "SET_BACKEND_FEATURES IOTLB_BATCH (0x4)", S_OWNED),
	  .ops = { OP(SBF, A_U64, 0x4) }, K(EOPNOTSUPP) },
	{ R("backend-features.set-asid", "SET_BACKEND_FEATURES IOTLB_ASID (0x8)", S_OWNED),
	  .ops = { OP(SBF, A_U64, 0x8) }, K(EOPNOTSUPP) },
	{ R("backend-features.set-all", "SET_BACKEND_FEATURES ~0", S_OWNED),
	  .ops = { OP(SBF, A_U64, ~0ULL) }, K(EOPNOTSUPP) },
	{ R("backend-features.set-non-owner", "SET_BACKEND_FEATURES 0x2 from another process", S_OWNED),
	  .ops = { OPC(SBF, A_U64, 0x2) }, K(0) },
	{ R("backend-features.set-get", "SET_BACKEND_FEATURES 0x2, then GET", S_OWNED),
	  .ops = { OP(SBF, A_U64, 0x2), OP(GBF, A_U64, PAT) }, KO(0, OUT_U64, 0x2) },

	/* ---- features array (Linux 6.17; 6.1: the unknown path) ---- */
	{ R("features-array.get-2", "GET_FEATURES_ARRAY count 2", S_OWNED),
	  .ops = { OP(GFA, A_FARRAY, 2, PAT, PAT, PAT) }, K(ENOBUFS),
	  UO(R_FARRAY, 0, OUT_FARRAY, 2, U_FEATURES, 0, PAT) },
	{ R("features-array.get-1", "GET_FEATURES_ARRAY count 1", S_OWNED),
	  .ops = { OP(GFA, A_FARRAY, 1, PAT, PAT, PAT) }, K(ENOTTY),
	  UO(R_FARRAY, 0, OUT_FARRAY, 1, U_FEATURES, PAT, PAT) },
	{ R("features-array.get-0", "GET_FEATURES_ARRAY count 0", S_OWNED),
	  .ops = { OP(GFA, A_FARRAY, 0, PAT, PAT, PAT) }, K(ENOTTY),
	  UO(R_FARRAY, 0, OUT_FARRAY, 0, PAT, PAT, PAT) },
	{ R("features-array.get-3", "GET_FEATURES_ARRAY count 3: the tail zero-filled", S_OWNED),
	  .ops = { OP(GFA, A_FARRAY, 3, PAT, PAT, PAT) }, K(ENOBUFS),
	  UO(R_FARRAY, 0, OUT_FARRAY, 3, U_FEATURES, 0, 0) },
	{ R("features-array.set-2", "SET_FEATURES_ARRAY {2, [QEMU's, 0]}", S_OWNED),
	  .ops = { OP(SFA, A_FARRAY, 2, QEMU_F, 0, 0) }, K(ENOBUFS), U(R_FARRAY, 0) },
	{ R("features-array.set-1-packed", "SET_FEATURES_ARRAY {1, [QEMU's | RING_PACKED]}", S_OWNED),
	  .ops = { OP(SFA, A_FARRAY, 1, QEMU_F | B(34), 0, 0) }, K(ENOTTY),
	  U(R_FARRAY, 0) },
	{ R("features-array.set-bit127", "SET_FEATURES_ARRAY {2, [QEMU's, bit 63]}", S_OWNED),
	  .ops = { OP(SFA, A_FARRAY, 2, QEMU_F, B(63), 0) }, K(ENOBUFS),
	  U(R_FARRAY, EOPNOTSUPP) },
	{ R("features-array.set-3-tail", "SET_FEATURES_ARRAY count 3, third word 1", S_OWNED),
	  .ops = { OP(SFA, A_FARRAY, 3, QEMU_F, 0, 1) }, K(ENOBUFS), U(R_FARRAY, EOPNOTSUPP) },
	{ R("features-array.get-before-owner", "GET_FEATURES_ARRAY count 2 before SET_OWNER", S_OPEN),
	  .ops = { OP(GFA, A_FARRAY, 2, PAT, PAT, PAT) }, K(EPERM),
	  UO(R_FARRAY, 0, OUT_FARRAY, 2, U_FEATURES, 0, PAT) },
	{ R("features-array.get-non-owner", "GET_FEATURES_ARRAY count 2 from another process", S_OWNED),
	  .ops = { OPC(GFA, A_FARRAY, 2, PAT, PAT, PAT) }, K(EPERM),
	  UO(R_FARRAY, 0, OUT_FARRAY, 2, U_FEATURES, 0, PAT) },

	/* ---- owner ---- */
	{ R("owner.set", "SET_OWNER on a fresh device", S_OPEN), .ops = { OP(OWN, A_NONE, 0) }, K(0) },
	{ R("owner.set-twice", "SET_OWNER twice", S_OWNED), .ops = { OP(OWN, A_NONE, 0) }, K(EBUSY) },
	{ R("owner.set-non-owner", "SET_OWNER from another process", S_OWNED),
	  .ops = { OPC(OWN, A_NONE, 0) }, K(EBUSY) },
	{ R("owner.set-thread", "SET_OWNER from another thread of the owner", S_OWNED),
	  .ops = { OPT(OWN, A_NONE, 0) }, K(EBUSY) },
	{ R("owner.first-from-thread", "SET_OWNER from a thread; the main thread then passes", S_OPEN),
	  .ops = { OPT(OWN, A_NONE, 0), OP(NUM, A_STATE, 0, 256) }, K(0) },
	{ R("owner.thread-passes", "SET_VRING_NUM from another thread of the owner", S_OWNED),
	  .ops = { OPT(NUM, A_STATE, 1, 256) }, K(0) },
	{ R("owner.reset", "RESET_OWNER by the owner", S_OWNED), .ops = { OP(RST, A_NONE, 0) }, K(0) },
	{ R("owner.reset-running", "RESET_OWNER while both rings run", S_RUN),
	  .ops = { OP(RST, A_NONE, 0) }, K(0) },
	{ R("owner.reset-before-owner", "RESET_OWNER before SET_OWNER", S_OPEN),
	  .ops = { OP(RST, A_NONE, 0) }, K(EPERM) },
	{ R("owner.reset-non-owner", "RESET_OWNER from another process", S_OWNED),
	  .ops = { OPC(RST, A_NONE, 0) }, K(EPERM) },
	{ R("owner.reset-then-set", "RESET_OWNER, then SET_OWNER again", S_RUN),
	  .ops = { OP(RST, A_NONE, 0), OP(OWN, A_NONE, 0) }, K(0) },
	{ R("owner.reset-old-owner", "RESET_OWNER, then GET_VRING_BASE (no owner now)", S_RUN),
	  .ops = { OP(RST, A_NONE, 0), OP(GBASE, A_STATE, 0, 0xdeadbeef) }, KO(EPERM, OUT_SAME) },
	{ R("owner.reset-clears-base", "SET_VRING_BASE 1000, RESET_OWNER, SET_OWNER, GET_VRING_BASE", S_OWNED),
	  .ops = { OP(SBASE, A_STATE, 1, 1000), OP(RST, A_NONE, 0), OP(OWN, A_NONE, 0),
		   OP(GBASE, A_STATE, 1, 0xdeadbeef) }, KO(0, OUT_STATE, 1, 0) },
	{ R("owner.reset-clears-busyloop", "busyloop 50, RESET_OWNER, SET_OWNER, GET busyloop", S_OWNED),
	  .ops = { OP(SBUSY, A_STATE, 0, 50), OP(RST, A_NONE, 0), OP(OWN, A_NONE, 0),
		   OP(GBUSY, A_STATE, 0, 0xdeadbeef) }, KO(0, OUT_STATE, 0, 0) },
	{ R("owner.reset-forgets-rings", "RESET_OWNER, SET_OWNER, NET_SET_BACKEND tap", S_RUN),
	  .ops = { OP(RST, A_NONE, 0), OP(OWN, A_NONE, 0), ATTACH(0) }, K(EFAULT) },
	{ R("owner.reset-new-process", "RESET_OWNER, then another process takes it", S_OWNED),
	  .ops = { OP(RST, A_NONE, 0), OPC(OWN, A_NONE, 0) }, K(0) },
	{ R("owner.exited-owner-busy", "the new owner exited: SET_OWNER", S_OWNED),
	  .ops = { OP(RST, A_NONE, 0), OPC(OWN, A_NONE, 0), OP(OWN, A_NONE, 0) }, K(EBUSY) },
	{ R("owner.exited-owner-eperm", "the new owner exited: SET_VRING_NUM", S_OWNED),
	  .ops = { OP(RST, A_NONE, 0), OPC(OWN, A_NONE, 0), OP(NUM, A_STATE, 0, 256) }, K(EPERM) },

	/* ---- before SET_OWNER: EPERM (the unknown path too) ---- */
	{ R("no-owner.set-vring-num", "SET_VRING_NUM before SET_OWNER", S_OPEN),
	  .ops = { OP(NUM, A_STATE, 0, 256) }, K(EPERM) },
	{ R("no-owner.get-vring-base", "GET_VRING_BASE before SET_OWNER", S_OPEN),
	  .ops = { OP(GBASE, A_STATE, 0, 0xdeadbeef) }, KO(EPERM, OUT_SAME) },
	{ R("no-owner.set-vring-addr", "SET_VRING_ADDR before SET_OWNER", S_OPEN),
	  .ops = { RING_ADDR(0) }, K(EPERM) },
	{ R("no-owner.set-vring-kick", "SET_VRING_KICK before SET_OWNER", S_OPEN),
	  .ops = { OP(KICK, A_FILE, 0, TEVENT) }, K(EPERM) },
	{ R("no-owner.set-vring-call", "SET_VRING_CALL before SET_OWNER", S_OPEN),
	  .ops = { OP(CALL, A_FILE, 0, TEVENT) }, K(EPERM) },
	{ R("no-owner.set-mem-table", "SET_MEM_TABLE (0 regions) before SET_OWNER", S_OPEN),
	  .ops = { OP(MEM, A_MEM, 0, 0, M_RAM) }, K(EPERM) },
	{ R("no-owner.set-log-base", "SET_LOG_BASE before SET_OWNER", S_OPEN),
	  .ops = { OP(LBASE, A_U64, TA(T_LOGBUF, 0)) }, K(EPERM) },
	{ R("no-owner.set-log-fd", "SET_LOG_FD -1 before SET_OWNER", S_OPEN),
	  .ops = { OP(LFD, A_INT, (uint64_t)-1) }, K(EPERM) },
	{ R("no-owner.net-set-backend", "NET_SET_BACKEND -1 before SET_OWNER", S_OPEN),
	  .ops = { DETACH(0) }, K(EPERM) },
	{ R("no-owner.net-set-backend-2", "NET_SET_BACKEND index 2 before SET_OWNER (owner first)", S_OPEN),
	  .ops = { OP(BACKEND, A_FILE, 2, (uint64_t)-1) }, K(EPERM) },
	{ R("no-owner.unknown", "unknown ioctl 0xaf7f before SET_OWNER", S_OPEN),
	  .ops = { OP(UNKNOWN_IOCTL, A_U32, 0) }, K(EPERM) },
	{ R("no-owner.set-vring-endian", "SET_VRING_ENDIAN before SET_OWNER (EPERM, not ENOTTY)", S_OPEN),
	  .ops = { OP(SEND, A_STATE, 0, 0) }, K(EPERM) },
	{ R("no-owner.get-busyloop", "GET_VRING_BUSYLOOP_TIMEOUT before SET_OWNER", S_OPEN),
	  .ops = { OP(GBUSY, A_STATE, 0, 0xdeadbeef) }, KO(EPERM, OUT_SAME) },
	{ R("no-owner.unknown-unmapped", "unknown ioctl, arg unmapped, before SET_OWNER", S_OPEN),
	  .ops = { OPW(UNKNOWN_IOCTL, A_U32, W_UNMAPPED, 0) }, K(EPERM) },
	{ R("no-owner.mem-table-unmapped", "SET_MEM_TABLE from an unmapped page before SET_OWNER", S_OPEN),
	  .ops = { OPW(MEM, A_MEM, W_UNMAPPED, 0, 0, M_RAM) }, K(EPERM),
	  F(R_FUSE_EARLY, EFAULT) },

	/* ---- another process sharing the file: EPERM ---- */
	{ R("other-process.set-vring-num", "SET_VRING_NUM from another process", S_RUN),
	  .ops = { OPC(NUM, A_STATE, 0, 256) }, K(EPERM) },
	{ R("other-process.get-vring-base", "GET_VRING_BASE from another process", S_RUN),
	  .ops = { OPC(GBASE, A_STATE, 0, 0xdeadbeef) }, KO(EPERM, OUT_SAME) },
	{ R("other-process.set-vring-call", "SET_VRING_CALL from another process", S_RUN),
	  .ops = { OPC(CALL, A_FILE, 1, TEVENT) }, K(EPERM) },
	{ R("other-process.set-mem-table", "SET_MEM_TABLE from another process", S_RUN),
	  .ops = { OPC(MEM, A_MEM, 2, 0, M_RAM) }, K(EPERM) },
	{ R("other-process.set-log-fd", "SET_LOG_FD -1 from another process", S_RUN),
	  .ops = { OPC(LFD, A_INT, (uint64_t)-1) }, K(EPERM) },
	{ R("other-process.detach", "NET_SET_BACKEND -1 from another process", S_RUN),
	  .ops = { OPC(BACKEND, A_FILE, 0, (uint64_t)-1) }, K(EPERM) },
	{ R("other-process.detach-ignored", "after another process's NET_SET_BACKEND -1: still running", S_RUN),
	  .ops = { OPCE(EPERM, BACKEND, A_FILE, 0, (uint64_t)-1), OP(NUM, A_STATE, 0, 256) }, K(EBUSY) },
	{ R("other-process.backend-2", "NET_SET_BACKEND index 2 from another process (owner first)", S_RUN),
	  .ops = { OPC(BACKEND, A_FILE, 2, (uint64_t)-1) }, K(EPERM) },
	{ R("other-process.unknown", "unknown ioctl from another process", S_RUN),
	  .ops = { OPC(UNKNOWN_IOCTL, A_U32, 0) }, K(EPERM) },
	{ R("other-process.num-unmapped", "SET_VRING_NUM, arg unmapped, from another process", S_RUN),
	  .ops = { OPCW(NUM, A_STATE, W_UNMAPPED, 0, 256) }, K(EPERM),
	  F(R_FUSE_EARLY, EFAULT) },
	{ R("other-process.backend-unmapped", "NET_SET_BACKEND, arg unmapped, from another process", S_RUN),
	  .ops = { OPCW(BACKEND, A_FILE, W_UNMAPPED, 0, 0) }, K(EFAULT) },

	/* ---- order ---- */
	{ R("order.attach-before-mem-table", "NET_SET_BACKEND tap before SET_MEM_TABLE", S_NOMEM_RINGS),
	  .ops = { ATTACH(0) }, K(EFAULT) },
	{ R("order.detach-before-mem-table", "NET_SET_BACKEND -1 before SET_MEM_TABLE", S_NOMEM_RINGS),
	  .ops = { DETACH(0) }, K(EFAULT) },
	{ R("order.attach-without-addresses", "NET_SET_BACKEND tap before SET_VRING_ADDR", S_MEM),
	  .ops = { ATTACH(0) }, K(EFAULT) },
	{ R("order.num-while-running", "SET_VRING_NUM while the ring runs", S_RUN),
	  .ops = { OP(NUM, A_STATE, 0, 256) }, K(EBUSY) },
	{ R("order.base-while-running", "SET_VRING_BASE while the ring runs", S_RUN),
	  .ops = { OP(SBASE, A_STATE, 1, 1) }, K(EBUSY) },
	{ R("order.get-base-while-running", "GET_VRING_BASE while the ring runs", S_RUN),
	  .ops = { OP(GBASE, A_STATE, 1, 0xdeadbeef) }, KO(0, OUT_STATE, 1, 0) },
	{ R("order.num-after-detach", "SET_VRING_NUM after NET_SET_BACKEND -1", S_STOPPED),
	  .ops = { OP(NUM, A_STATE, 0, 256) }, K(0) },
	{ R("order.num-other-ring-running", "SET_VRING_NUM vq 1 while only vq 0 runs", S_RUN0),
	  .ops = { OP(NUM, A_STATE, 1, 128) }, K(0) },
	{ R("order.addr-running-same", "SET_VRING_ADDR, same addresses, while running", S_RUN),
	  .ops = { RING_ADDR(0) }, K(0) },
	{ R("order.addr-running-kernel", "SET_VRING_ADDR desc at a kernel address while running", S_RUN),
	  .ops = { ADDR_WITH(0, 0, KADDR, TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0)) }, K(EINVAL) },
	{ R("order.addr-stopped-kernel", "SET_VRING_ADDR desc at a kernel address, stopped", S_RINGS),
	  .ops = { ADDR_WITH(0, 0, KADDR, TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0)) }, K(0) },
	{ R("order.attach-desc-kernel", "NET_SET_BACKEND with desc at a kernel address", S_RINGS),
	  .ops = { ADDR_WITH(0, 0, KADDR, TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0)), ATTACH(0) },
	  KO(EFAULT, OUT_USED, 0, 0xffff, 7) },
	{ R("order.mem-kernel-stopped", "SET_MEM_TABLE region at a kernel address, rings stopped", S_RINGS),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_KERNEL) }, K(0) },
	{ R("order.mem-kernel-running", "SET_MEM_TABLE region at a kernel address, ring running", S_RUN),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_KERNEL) }, K(EFAULT) },
	{ R("order.attach-mem-kernel", "NET_SET_BACKEND with a region at a kernel address", S_RINGS),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_KERNEL), ATTACH(0) }, KO(EFAULT, OUT_USED, 0, 0xffff, 7) },
	{ R("order.attach-outside-table", "NET_SET_BACKEND vq 1 whose rings lie outside the table", S_NOMEM_RINGS),
	  .ops = { OP(MEM, A_MEM, 1, 0, M_LOW), ATTACH(1) }, KO(0, OUT_USED, 1, 0, 7) },
	{ R("order.refused-table-kept", "a refused SET_MEM_TABLE leaves the old table", S_RINGS),
	  .ops = { OPE(EFAULT, MEM, A_MEM, 2, 0, M_KZERO), ATTACH(0) }, KO(0, OUT_USED, 0, 0, 7) },
	{ R("order.call-running", "SET_VRING_CALL (QEMU's mask/unmask) while running", S_RUN),
	  .ops = { OP(CALL, A_FILE, 1, TA(T_EVENTFD2, 0)) }, K(0) },
	{ R("order.kick-running", "SET_VRING_KICK while running", S_RUN),
	  .ops = { OP(KICK, A_FILE, 0, TA(T_EVENTFD2, 0)) }, K(0) },
	{ R("order.kick-before-addr", "SET_VRING_KICK before any ring address", S_OWNED),
	  .ops = { OP(KICK, A_FILE, 0, TEVENT) }, K(0) },
	{ R("order.mem-twice", "SET_MEM_TABLE again", S_MEM),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_RAM) }, K(0) },
	{ R("order.mem-running", "SET_MEM_TABLE again while running", S_RUN),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_RAM) }, K(0) },
	{ R("order.reattach-same-tap", "NET_SET_BACKEND the same tap again", S_RUN),
	  .ops = { ATTACH(0) }, K(0) },
	{ R("order.detach-twice", "NET_SET_BACKEND -1 on a stopped ring", S_STOPPED),
	  .ops = { DETACH(0) }, K(0) },
	{ R("order.failed-switch-runs", "after a refused backend switch the ring still runs", S_RUN),
	  .ops = { OPE(ENOTSOCK, BACKEND, A_FILE, 0, TA(T_PIPE, 0)), OP(NUM, A_STATE, 0, 256) }, K(EBUSY) },
	{ R("order.log-base-running", "SET_LOG_BASE while running", S_RUN),
	  .ops = { OP(LBASE, A_U64, TA(T_LOGBUF, 0)) }, K(0) },
	{ R("order.get-base-after-detach", "GET_VRING_BASE after the QEMU stop sequence", S_STOPPED),
	  .ops = { OP(GBASE, A_STATE, 0, 0xdeadbeef) }, KO(0, OUT_STATE, 0, 0) },

	/* ---- ring indexes ---- */
	{ R("index.set-vring-num-2", "SET_VRING_NUM index 2", S_OWNED),
	  .ops = { OP(NUM, A_STATE, 2, 256) }, K(ENOBUFS) },
	{ R("index.set-vring-base-2", "SET_VRING_BASE index 2", S_OWNED),
	  .ops = { OP(SBASE, A_STATE, 2, 0) }, K(ENOBUFS) },
	{ R("index.get-vring-base-2", "GET_VRING_BASE index 2", S_OWNED),
	  .ops = { OP(GBASE, A_STATE, 2, 0xdeadbeef) }, KO(ENOBUFS, OUT_SAME) },
	{ R("index.set-vring-addr-2", "SET_VRING_ADDR index 2", S_OWNED),
	  .ops = { ADDR_WITH(2, 0, 0, 0, 0, 0) }, K(ENOBUFS) },
	{ R("index.set-vring-kick-2", "SET_VRING_KICK index 2", S_OWNED),
	  .ops = { OP(KICK, A_FILE, 2, (uint64_t)-1) }, K(ENOBUFS) },
	{ R("index.set-vring-call-2", "SET_VRING_CALL index 2", S_OWNED),
	  .ops = { OP(CALL, A_FILE, 2, (uint64_t)-1) }, K(ENOBUFS) },
	{ R("index.set-vring-err-2", "SET_VRING_ERR index 2", S_OWNED),
	  .ops = { OP(ERR, A_FILE, 2, (uint64_t)-1) }, K(ENOBUFS) },
	{ R("index.set-vring-endian-2", "SET_VRING_ENDIAN index 2 (index before ENOTTY)", S_OWNED),
	  .ops = { OP(SEND, A_STATE, 2, 0) }, K(ENOBUFS) },
	{ R("index.get-vring-endian-2", "GET_VRING_ENDIAN index 2", S_OWNED),
	  .ops = { OP(GEND, A_STATE, 2, 0) }, K(ENOBUFS) },
	{ R("index.set-busyloop-2", "SET_VRING_BUSYLOOP_TIMEOUT index 2", S_OWNED),
	  .ops = { OP(SBUSY, A_STATE, 2, 5) }, K(ENOBUFS) },
	{ R("index.get-busyloop-2", "GET_VRING_BUSYLOOP_TIMEOUT index 2", S_OWNED),
	  .ops = { OP(GBUSY, A_STATE, 2, 0xdeadbeef) }, KO(ENOBUFS, OUT_SAME) },
	{ R("index.net-set-backend-2", "NET_SET_BACKEND index 2, fd -1", S_OWNED),
	  .ops = { OP(BACKEND, A_FILE, 2, (uint64_t)-1) }, K(ENOBUFS) },
	{ R("index.net-set-backend-max", "NET_SET_BACKEND index 0xffffffff", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0xffffffff, TA(T_TAP, 0)) }, K(ENOBUFS) },
	{ R("index.set-vring-num-max", "SET_VRING_NUM index 0xffffffff", S_OWNED),
	  .ops = { OP(NUM, A_STATE, 0xffffffff, 256) }, K(ENOBUFS) },
	{ R("index.get-vring-base-high", "GET_VRING_BASE index 0x80000000", S_OWNED),
	  .ops = { OP(GBASE, A_STATE, 0x80000000, 0xdeadbeef) }, KO(ENOBUFS, OUT_SAME) },
	{ R("index.unknown-5", "unknown ioctl, u32 5 at arg", S_OWNED),
	  .ops = { OP(UNKNOWN_IOCTL, A_U32, 5) }, K(ENOBUFS) },

	/* ---- SET_VRING_NUM / BASE / BUSYLOOP / ENDIAN values ---- */
	{ R("num.zero", "SET_VRING_NUM 0", S_OWNED), .ops = { OP(NUM, A_STATE, 0, 0) }, K(EINVAL) },
	{ R("num.three", "SET_VRING_NUM 3 (not a power of two)", S_OWNED),
	  .ops = { OP(NUM, A_STATE, 0, 3) }, K(EINVAL) },
	{ R("num.65536", "SET_VRING_NUM 65536", S_OWNED), .ops = { OP(NUM, A_STATE, 0, 65536) }, K(EINVAL) },
	{ R("num.max", "SET_VRING_NUM 0xffffffff", S_OWNED),
	  .ops = { OP(NUM, A_STATE, 1, 0xffffffff) }, K(EINVAL) },
	{ R("num.32768", "SET_VRING_NUM 32768", S_OWNED), .ops = { OP(NUM, A_STATE, 0, 32768) }, K(0) },
	{ R("num.one", "SET_VRING_NUM 1", S_OWNED), .ops = { OP(NUM, A_STATE, 1, 1) }, K(0) },
	{ R("num.256", "SET_VRING_NUM 256", S_OWNED), .ops = { OP(NUM, A_STATE, 0, 256) }, KO(0, OUT_SAME) },
	{ R("base.fresh", "GET_VRING_BASE on a fresh ring", S_OWNED),
	  .ops = { OP(GBASE, A_STATE, 1, 0xdeadbeef) }, KO(0, OUT_STATE, 1, 0) },
	{ R("base.set-get", "SET_VRING_BASE 1000, GET_VRING_BASE", S_OWNED),
	  .ops = { OP(SBASE, A_STATE, 1, 1000), OP(GBASE, A_STATE, 1, 0xdeadbeef) },
	  KO(0, OUT_STATE, 1, 1000) },
	{ R("base.ffff", "SET_VRING_BASE 0xffff, GET_VRING_BASE", S_OWNED),
	  .ops = { OP(SBASE, A_STATE, 0, 0xffff), OP(GBASE, A_STATE, 0, 0xdeadbeef) },
	  KO(0, OUT_STATE, 0, 0xffff) },
	{ R("base.10000", "SET_VRING_BASE 0x10000", S_OWNED),
	  .ops = { OP(SBASE, A_STATE, 0, 0x10000) }, K(EINVAL) },
	{ R("base.max", "SET_VRING_BASE 0xffffffff", S_OWNED),
	  .ops = { OP(SBASE, A_STATE, 0, 0xffffffff) }, K(EINVAL) },
	{ R("base.get-read-only", "GET_VRING_BASE into a read-only page", S_OWNED),
	  .ops = { OPW(GBASE, A_STATE, W_RO, 0, 0xdeadbeef) }, KO(EFAULT, OUT_SAME) },
	{ R("base.attach-detach", "attach at base 0, detach, GET_VRING_BASE", S_RINGS),
	  .ops = { OP(SBASE, A_STATE, 1, 77), ATTACH(1), DETACH(1), OP(GBASE, A_STATE, 1, 0xdeadbeef) },
	  KO(0, OUT_STATE, 1, 77) },
	{ R("busyloop.set-get", "SET_VRING_BUSYLOOP_TIMEOUT 50, GET", S_OWNED),
	  .ops = { OP(SBUSY, A_STATE, 1, 50), OP(GBUSY, A_STATE, 1, 0xdeadbeef) },
	  KO(0, OUT_STATE, 1, 50) },
	{ R("busyloop.fresh", "GET_VRING_BUSYLOOP_TIMEOUT on a fresh ring", S_OWNED),
	  .ops = { OP(GBUSY, A_STATE, 0, 0xdeadbeef) }, KO(0, OUT_STATE, 0, 0) },
	{ R("busyloop.max", "SET_VRING_BUSYLOOP_TIMEOUT 0xffffffff, GET", S_OWNED),
	  .ops = { OP(SBUSY, A_STATE, 0, 0xffffffff), OP(GBUSY, A_STATE, 0, 0) },
	  KO(0, OUT_STATE, 0, 0xffffffff) },
	{ R("busyloop.running", "SET_VRING_BUSYLOOP_TIMEOUT while running", S_RUN),
	  .ops = { OP(SBUSY, A_STATE, 1, 20) }, K(0) },
	{ R("endian.set", "SET_VRING_ENDIAN (no cross-endian support)", S_OWNED),
	  .ops = { OP(SEND, A_STATE, 0, 0) }, K(ENOTTY) },
	{ R("endian.get", "GET_VRING_ENDIAN", S_OWNED),
	  .ops = { OP(GEND, A_STATE, 0, 0xdeadbeef) }, KO(ENOTTY, OUT_SAME) },

	/* ---- SET_MEM_TABLE ---- */
	{ R("mem-table.qemu", "SET_MEM_TABLE: 2 regions, as QEMU", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_RAM) }, KO(0, OUT_SAME) },
	{ R("mem-table.empty", "SET_MEM_TABLE: 0 regions", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 0, 0, M_RAM) }, K(0) },
	{ R("mem-table.64", "SET_MEM_TABLE: 64 regions (the limit)", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 64, 0, M_SLICES) }, K(0) },
	{ R("mem-table.65", "SET_MEM_TABLE: 65 regions", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 65, 0, M_SLICES) }, K(E2BIG) },
	{ R("mem-table.65-header-only", "SET_MEM_TABLE: 65 regions, only the header readable", S_OWNED),
	  .ops = { OPW(MEM, A_MEM, W_TAIL8, 65, 0, M_RAM) }, K(E2BIG) },
	{ R("mem-table.max", "SET_MEM_TABLE: nregions 0xffffffff", S_OWNED),
	  .ops = { OPW(MEM, A_MEM, W_TAIL8, 0xffffffff, 0, M_RAM) }, K(E2BIG) },
	{ R("mem-table.padding", "SET_MEM_TABLE: padding 1", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 2, 1, M_RAM) }, K(EOPNOTSUPP) },
	{ R("mem-table.padding-65", "SET_MEM_TABLE: padding 1 and 65 regions (padding first)", S_OWNED),
	  .ops = { OPW(MEM, A_MEM, W_TAIL8, 65, 1, M_RAM) }, K(EOPNOTSUPP) },
	{ R("mem-table.regions-unmapped", "SET_MEM_TABLE: 1 region in unmapped memory", S_OWNED),
	  .ops = { OPW(MEM, A_MEM, W_TAIL8, 1, 0, M_RAM) }, K(EFAULT) },
	{ R("mem-table.header-unmapped", "SET_MEM_TABLE from an unmapped page", S_OWNED),
	  .ops = { OPW(MEM, A_MEM, W_UNMAPPED, 0, 0, M_RAM) }, K(EFAULT) },
	{ R("mem-table.zero-size", "SET_MEM_TABLE: a region of size 0", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_ZERO_SIZE) }, K(EFAULT) },
	{ R("mem-table.wrap-gpa", "SET_MEM_TABLE: a region wrapping guest-physical space", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_WRAP_GPA) }, K(EFAULT) },
	{ R("mem-table.wrap-uaddr", "SET_MEM_TABLE: a region whose user range wraps", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_WRAP_UADDR) }, K(0) },
	{ R("mem-table.overlap", "SET_MEM_TABLE: two regions at the same guest address", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_OVERLAP) }, K(0) },
	{ R("mem-table.kernel-uaddr", "SET_MEM_TABLE: a region at a kernel address, no ring", S_OWNED),
	  .ops = { OP(MEM, A_MEM, 2, 0, M_KERNEL) }, K(0) },

	/* ---- SET_VRING_ADDR ---- */
	{ R("vring-addr.valid", "SET_VRING_ADDR, aligned addresses in RAM", S_MEM),
	  .ops = { RING_ADDR(1) }, KO(0, OUT_SAME) },
	{ R("vring-addr.log-flag", "SET_VRING_ADDR with VHOST_VRING_F_LOG", S_MEM),
	  .ops = { ADDR_WITH(0, 1, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0)) }, K(0) },
	{ R("vring-addr.flags-2", "SET_VRING_ADDR flags 0x2", S_MEM),
	  .ops = { ADDR_WITH(0, 2, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0)) },
	  K(EOPNOTSUPP) },
	{ R("vring-addr.flags-high", "SET_VRING_ADDR flags 0x80000000", S_MEM),
	  .ops = { ADDR_WITH(0, 0x80000000, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0)) },
	  K(EOPNOTSUPP) },
	{ R("vring-addr.flags-first", "SET_VRING_ADDR flags 0x2 and avail odd (flags first)", S_MEM),
	  .ops = { ADDR_WITH(0, 2, TA(T_DESC, 0), TA(T_AVAIL, 1), TA(T_USED, 0), TA(T_USED_GPA, 0)) },
	  K(EOPNOTSUPP) },
	{ R("vring-addr.avail-odd", "SET_VRING_ADDR avail not 2-aligned", S_MEM),
	  .ops = { ADDR_WITH(0, 0, TA(T_DESC, 0), TA(T_AVAIL, 1), TA(T_USED, 0), TA(T_USED_GPA, 0)) },
	  K(EINVAL) },
	{ R("vring-addr.used-2", "SET_VRING_ADDR used 2 bytes off 4-alignment", S_MEM),
	  .ops = { ADDR_WITH(0, 0, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_USED, 2), TA(T_USED_GPA, 0)) },
	  K(EINVAL) },
	{ R("vring-addr.used-1", "SET_VRING_ADDR used odd", S_MEM),
	  .ops = { ADDR_WITH(1, 0, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_USED, 1), TA(T_USED_GPA, 0)) },
	  K(EINVAL) },
	{ R("vring-addr.desc-8", "SET_VRING_ADDR desc 8-aligned (not 16)", S_MEM),
	  .ops = { ADDR_WITH(0, 0, TA(T_DESC, 8), TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0)) }, K(0) },
	{ R("vring-addr.desc-1", "SET_VRING_ADDR desc odd", S_MEM),
	  .ops = { ADDR_WITH(0, 0, TA(T_DESC, 1), TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 0)) }, K(0) },
	{ R("vring-addr.log-unaligned", "SET_VRING_ADDR log_guest_addr not 4-aligned, no log flag", S_MEM),
	  .ops = { ADDR_WITH(0, 0, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 2)) },
	  K(EINVAL) },
	{ R("vring-addr.log-unaligned-flag", "SET_VRING_ADDR log_guest_addr not 4-aligned, log flag", S_MEM),
	  .ops = { ADDR_WITH(0, 1, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_USED, 0), TA(T_USED_GPA, 2)) },
	  K(EINVAL) },
	{ R("vring-addr.zero", "SET_VRING_ADDR all zero", S_MEM),
	  .ops = { ADDR_WITH(0, 0, 0, 0, 0, 0) }, K(0) },
	{ R("vring-addr.unmapped-arg", "SET_VRING_ADDR from an unmapped page", S_MEM),
	  .ops = { OPW(ADDR, A_ADDR, W_UNMAPPED, 0, 0, 0, 0, 0, 0) }, K(EFAULT) },
	{ R("vring-addr.straddle", "SET_VRING_ADDR, only the index readable", S_MEM),
	  .ops = { OPW(ADDR, A_ADDR, W_STRADDLE, 0, 0, 0, 0, 0, 0) }, K(EFAULT) },

	/* ---- NET_SET_BACKEND ---- */
	{ R("backend.attach-rx", "NET_SET_BACKEND vq 0 tap: used->flags written", S_RINGS),
	  .ops = { ATTACH(0) }, KO(0, OUT_USED, 0, 0, 7) },
	{ R("backend.attach-tx", "NET_SET_BACKEND vq 1 tap", S_RINGS),
	  .ops = { ATTACH(1) }, KO(0, OUT_USED, 1, 0, 7) },
	{ R("backend.detach", "NET_SET_BACKEND -1 on a running ring", S_RUN),
	  .ops = { DETACH(1) }, K(0) },
	{ R("backend.used-read-only", "NET_SET_BACKEND, used ring read-only", S_RINGS),
	  .ops = { ADDR_WITH(0, 0, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_RO_PAGE, 0), TA(T_USED_GPA, 0)),
		   ATTACH(0) }, K(EFAULT) },
	{ R("backend.used-unmapped", "NET_SET_BACKEND, used ring unmapped", S_RINGS),
	  .ops = { ADDR_WITH(0, 0, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_UNMAPPED, 0), TA(T_USED_GPA, 0)),
		   ATTACH(0) }, K(EFAULT) },
	{ R("backend.failed-attach-stopped", "after a failed attach the ring is stopped", S_RINGS),
	  .ops = { ADDR_WITH(0, 0, TA(T_DESC, 0), TA(T_AVAIL, 0), TA(T_UNMAPPED, 0), TA(T_USED_GPA, 0)),
		   OPE(EFAULT, BACKEND, A_FILE, 0, TA(T_TAP, 0)), OP(NUM, A_STATE, 0, 256) }, K(0) },
	{ R("backend.packet-socket", "NET_SET_BACKEND an AF_PACKET raw socket", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, TA(T_PACKET_RAW, 0)) }, KO(0, OUT_USED, 0, 0, 7) },
	{ R("backend.tun", "NET_SET_BACKEND a tun (IFF_TUN) device", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 1, TA(T_TUN, 0)) }, K(0) },
	{ R("backend.tap-no-vnet-hdr", "NET_SET_BACKEND a tap without IFF_VNET_HDR", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, TA(T_TAP_NOVNET, 0)) }, K(0) },
	{ R("backend.two-taps", "NET_SET_BACKEND vq 1 on another tap than vq 0", S_RUN0),
	  .ops = { OP(BACKEND, A_FILE, 1, TA(T_TAP2, 0)) }, K(0) },
	{ R("backend.switch-tap", "NET_SET_BACKEND another tap while running", S_RUN),
	  .ops = { OP(BACKEND, A_FILE, 0, TA(T_TAP2, 0)) }, K(0) },

	/* ---- bad descriptors ---- */
	{ R("fd.backend-pipe", "NET_SET_BACKEND a pipe", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, TA(T_PIPE, 0)) }, KO(ENOTSOCK, OUT_USED, 0, 0xffff, 7) },
	{ R("fd.backend-closed", "NET_SET_BACKEND a closed fd", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, TA(T_CLOSED, 0)) }, K(ENOTSOCK) },
	{ R("fd.backend-minus-2", "NET_SET_BACKEND fd -2", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, (uint64_t)-2) }, K(ENOTSOCK) },
	{ R("fd.backend-udp", "NET_SET_BACKEND a UDP socket", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, TA(T_UDP, 0)) }, K(ENOTSOCK) },
	{ R("fd.backend-unix", "NET_SET_BACKEND a unix socket", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, TA(T_UNIX, 0)) }, K(ENOTSOCK) },
	{ R("fd.backend-packet-dgram", "NET_SET_BACKEND an AF_PACKET SOCK_DGRAM socket", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, TA(T_PACKET_DGRAM, 0)) }, K(ENOTSOCK) },
	{ R("fd.backend-eventfd", "NET_SET_BACKEND an eventfd", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 0, TEVENT) }, K(ENOTSOCK) },
	{ R("fd.backend-self", "NET_SET_BACKEND the vhost fd itself", S_RINGS),
	  .ops = { OP(BACKEND, A_FILE, 1, TA(T_SELF, 0)) }, K(ENOTSOCK) },
	{ R("fd.kick-closed", "SET_VRING_KICK a closed fd", S_OWNED),
	  .ops = { OP(KICK, A_FILE, 0, TA(T_CLOSED, 0)) }, K(EBADF) },
	{ R("fd.kick-minus-2", "SET_VRING_KICK fd -2", S_OWNED),
	  .ops = { OP(KICK, A_FILE, 0, (uint64_t)-2) }, K(EBADF) },
	{ R("fd.kick-pipe", "SET_VRING_KICK a pipe", S_OWNED),
	  .ops = { OP(KICK, A_FILE, 0, TA(T_PIPE, 0)) }, K(EINVAL) },
	{ R("fd.kick-devnull", "SET_VRING_KICK /dev/null", S_OWNED),
	  .ops = { OP(KICK, A_FILE, 1, TA(T_DEVNULL, 0)) }, K(EINVAL) },
	{ R("fd.kick-tap", "SET_VRING_KICK a tap", S_OWNED),
	  .ops = { OP(KICK, A_FILE, 0, TA(T_TAP, 0)) }, K(EINVAL) },
	{ R("fd.kick-unbind", "SET_VRING_KICK -1", S_RINGS),
	  .ops = { OP(KICK, A_FILE, 0, (uint64_t)-1) }, K(0) },
	{ R("fd.call-closed", "SET_VRING_CALL a closed fd", S_OWNED),
	  .ops = { OP(CALL, A_FILE, 0, TA(T_CLOSED, 0)) }, K(EBADF) },
	{ R("fd.call-pipe", "SET_VRING_CALL a pipe", S_OWNED),
	  .ops = { OP(CALL, A_FILE, 1, TA(T_PIPE, 0)) }, K(EINVAL) },
	{ R("fd.call-memfd", "SET_VRING_CALL a memfd", S_OWNED),
	  .ops = { OP(CALL, A_FILE, 0, TA(T_MEMFD, 0)) }, K(EINVAL) },
	{ R("fd.call-unbind", "SET_VRING_CALL -1 twice", S_RINGS),
	  .ops = { OP(CALL, A_FILE, 0, (uint64_t)-1), OP(CALL, A_FILE, 0, (uint64_t)-1) }, K(0) },
	{ R("fd.err-closed", "SET_VRING_ERR a closed fd", S_OWNED),
	  .ops = { OP(ERR, A_FILE, 0, TA(T_CLOSED, 0)) }, K(EBADF) },
	{ R("fd.err-self", "SET_VRING_ERR the vhost fd itself", S_OWNED),
	  .ops = { OP(ERR, A_FILE, 1, TA(T_SELF, 0)) }, K(EINVAL) },
	{ R("fd.err-eventfd", "SET_VRING_ERR an eventfd, then -1", S_OWNED),
	  .ops = { OP(ERR, A_FILE, 0, TEVENT), OP(ERR, A_FILE, 0, (uint64_t)-1) }, K(0) },
	{ R("fd.log-closed", "SET_LOG_FD a closed fd", S_OWNED),
	  .ops = { OP(LFD, A_INT, TA(T_CLOSED, 0)) }, K(EBADF) },
	{ R("fd.log-minus-2", "SET_LOG_FD -2", S_OWNED),
	  .ops = { OP(LFD, A_INT, (uint64_t)-2) }, K(EBADF) },
	{ R("fd.log-pipe", "SET_LOG_FD a pipe", S_OWNED),
	  .ops = { OP(LFD, A_INT, TA(T_PIPE, 0)) }, K(EINVAL) },
	{ R("fd.log-eventfd", "SET_LOG_FD an eventfd", S_OWNED),
	  .ops = { OP(LFD, A_INT, TEVENT) }, K(0) },
	{ R("fd.log-unbind", "SET_LOG_FD -1", S_OWNED),
	  .ops = { OP(LFD, A_INT, (uint64_t)-1) }, K(0) },

	/* ---- SET_LOG_BASE ---- */
	{ R("log-base.valid", "SET_LOG_BASE a buffer", S_RINGS),
	  .ops = { OP(LBASE, A_U64, TA(T_LOGBUF, 0)) }, K(0) },
	{ R("log-base.unmapped-arg", "SET_LOG_BASE from an unmapped page", S_OWNED),
	  .ops = { OPW(LBASE, A_U64, W_UNMAPPED, 0) }, K(EFAULT) },
	{ R("log-base.kernel-stopped", "SET_LOG_BASE a kernel address, rings stopped", S_RINGS),
	  .ops = { OP(LBASE, A_U64, KADDR) }, K(0) },

	/* ---- straddling arguments: the order of checks against reads ---- */
	{ R("straddle.num-running", "SET_VRING_NUM on a running ring, only the index readable", S_RUN),
	  .ops = { OPW(NUM, A_STATE, W_STRADDLE, 0, 256) }, K(EBUSY),
	  U(R_CUSE_FIXED, EFAULT), F(R_FUSE_EARLY, EFAULT) },
	{ R("straddle.num-index-2", "SET_VRING_NUM index 2, only the index readable", S_OWNED),
	  .ops = { OPW(NUM, A_STATE, W_STRADDLE, 2, 256) }, K(ENOBUFS),
	  U(R_CUSE_FIXED, EFAULT), F(R_FUSE_EARLY, EFAULT) },
	{ R("straddle.kick", "SET_VRING_KICK, only the index readable", S_OWNED),
	  .ops = { OPW(KICK, A_FILE, W_STRADDLE, 0, 0) }, K(EFAULT) },
	{ R("straddle.unknown", "unknown ioctl, u32 straddling into unmapped memory", S_OWNED),
	  .ops = { OPW(UNKNOWN_IOCTL, A_U32, W_STRADDLE2, 0) }, K(EFAULT) },

	/* ---- unknown ioctl numbers: the vring path, index, then ENOTTY ---- */
	{ R("unknown.af7f-0", "ioctl 0xaf7f, u32 0 at arg", S_OWNED),
	  .ops = { OP(UNKNOWN_IOCTL, A_U32, 0) }, KO(ENOTTY, OUT_SAME) },
	{ R("unknown.af7f-1", "ioctl 0xaf7f, u32 1 at arg", S_OWNED),
	  .ops = { OP(UNKNOWN_IOCTL, A_U32, 1) }, K(ENOTTY) },
	{ R("unknown.af7f-unmapped", "ioctl 0xaf7f, arg unmapped", S_OWNED),
	  .ops = { OPW(UNKNOWN_IOCTL, A_U32, W_UNMAPPED, 0) }, K(EFAULT) },
	{ R("unknown.af7f-null", "ioctl 0xaf7f, arg NULL", S_OWNED),
	  .ops = { OP(UNKNOWN_IOCTL, A_NONE, 0) }, K(EFAULT) },
	{ R("unknown.new-worker", "VHOST_NEW_WORKER (vhost-scsi's)", S_OWNED),
	  .ops = { OP(USV_VHOST_NEW_WORKER, A_U32, 0) }, K(ENOTTY) },
	{ R("unknown.free-worker", "VHOST_FREE_WORKER", S_OWNED),
	  .ops = { OP(USV_VHOST_FREE_WORKER, A_U32, 0) }, K(ENOTTY) },
	{ R("unknown.attach-vring-worker", "VHOST_ATTACH_VRING_WORKER", S_OWNED),
	  .ops = { OP(USV_VHOST_ATTACH_VRING_WORKER, A_STATE, 0, 0) }, K(ENOTTY) },
	{ R("unknown.get-vring-worker", "VHOST_GET_VRING_WORKER", S_OWNED),
	  .ops = { OP(USV_VHOST_GET_VRING_WORKER, A_STATE, 1, 0) }, K(ENOTTY) },
	{ R("unknown.set-fork-from-owner", "VHOST_SET_FORK_FROM_OWNER (6.17)", S_OWNED),
	  .ops = { OP(USV_VHOST_SET_FORK_FROM_OWNER, A_U32, 1) }, K(ENOTTY) },
	{ R("unknown.get-fork-from-owner", "VHOST_GET_FORK_FROM_OWNER (6.17)", S_OWNED),
	  .ops = { OP(USV_VHOST_GET_FORK_FROM_OWNER, A_U32, 0) }, K(ENOTTY) },
	{ R("unknown.vdpa-get-device-id", "VHOST_VDPA_GET_DEVICE_ID", S_OWNED),
	  .ops = { OP(VDPA_GET_DEVICE_ID, A_U32, 0) }, K(ENOTTY) },
	{ R("unknown.tunsetiff", "TUNSETIFF on the vhost fd", S_OWNED),
	  .ops = { OP(TUNSETIFF, A_U32, 0) }, K(ENOTTY) },
	{ R("unknown.zero", "ioctl number 0", S_OWNED), .ops = { OP(0, A_U32, 0) }, K(ENOTTY) },
	{ R("unknown.fionread", "FIONREAD", S_OWNED),
	  .ops = { OP(FIONREAD, A_U32, 0) }, K(ENOTTY), F(R_FUSE_VFS, 0) },
	{ R("unknown.fionbio", "FIONBIO (the VFS answers)", S_OWNED),
	  .ops = { OP(FIONBIO, A_U32, 0) }, K(0) },
	{ R("unknown.num-size-4", "SET_VRING_NUM's number with a 4-byte size", S_OWNED),
	  .ops = { OP(NUM_AS_U32, A_U32, 0) }, K(ENOTTY) },
	{ R("unknown.get-features-iowr", "GET_FEATURES's number declared _IOWR", S_OWNED),
	  .ops = { OP(GET_FEATURES_IOWR, A_U64, 0) }, K(ENOTTY) },
	{ R("unknown.backend-io", "NET_SET_BACKEND's number without a size", S_OWNED),
	  .ops = { OP(BACKEND_AS_IO, A_U32, 0) }, K(ENOTTY) },
	{ R("unknown.mem-table-256", "SET_MEM_TABLE's number with size 256", S_OWNED),
	  .ops = { OP(MEM_TABLE_256, A_MEM, 0, 0, M_RAM) }, K(ENOTTY) },
	{ R("unknown.get-vring-base-ior", "GET_VRING_BASE's number declared _IOR", S_OWNED),
	  .ops = { OP(GET_VRING_BASE_IOR, A_STATE, 0, 0) }, K(ENOTTY) },

	/* ---- the IOTLB message channel without an IOTLB (no ACCESS_PLATFORM) ---- */
	{ R("chr.read-short", "read() of 8 bytes, less than one message", S_OWNED),
	  .ops = { OP(CHR_READ, A_NONE, 8, 1) }, K(0) },
	{ R("chr.read-short-unowned", "read() of 8 bytes on a fresh device", S_OPEN),
	  .ops = { OP(CHR_READ, A_NONE, 8, 1) }, K(0) },
	{ R("chr.read-nonblock", "O_NONBLOCK read() of one message, none queued", S_OWNED),
	  .ops = { OP(CHR_READ, A_NONE, VHOST_MSG_LEN, 1) }, K(EAGAIN) },
	{ R("chr.read-block", "blocking read() of one message without an IOTLB", S_OWNED),
	  .ops = { OPT(CHR_READ, A_NONE, VHOST_MSG_LEN, 0) }, K(EBADFD) },
	{ R("chr.poll-idle", "poll() for POLLIN|POLLOUT on an idle device", S_OWNED),
	  .ops = { OP(CHR_POLL, A_NONE, 0) }, K(0) },
	{ R("chr.poll-running", "poll() for POLLIN|POLLOUT with both rings running", S_RUN),
	  .ops = { OP(CHR_POLL, A_NONE, 0) }, K(0) },
	{ R("chr.write-short", "write() of 2 bytes", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, 2, 2, 2, 4096) }, K(EINVAL) },
	{ R("chr.write-bad-header", "write() of a message with header type 3", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 3, 2, 4096) }, K(EINVAL) },
	{ R("chr.write-truncated", "write() of a v2 UPDATE cut at 24 bytes", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, 24, 2, 2, 4096) }, K(EINVAL) },
	{ R("chr.write-update-size0", "write() of a v2 UPDATE of size 0", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 0) }, K(EINVAL) },
	{ R("chr.write-update", "write() of a v2 UPDATE without an IOTLB", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096) }, K(EFAULT) },
	{ R("chr.write-update-v1", "write() of a v1 UPDATE without an IOTLB", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 1, 2, 4096) }, K(EFAULT) },
	{ R("chr.write-invalidate", "write() of a v2 INVALIDATE without an IOTLB", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 3, 4096) }, K(EFAULT) },
	{ R("chr.write-batch-begin", "write() of a v2 BATCH_BEGIN (vhost-net has no batching)", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 5, 0) }, K(EFAULT) },
	{ R("chr.write-miss", "write() of a v2 MISS, a message only the device sends", S_OWNED),
	  .ops = { OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 1, 4096) }, K(EFAULT) },

	/* ---- the IOTLB message channel with an IOTLB (ACCESS_PLATFORM acked) ----
	 * Answers derived from drivers/vhost/vhost.c (vhost_chr_*_iter,
	 * vhost_process_iotlb_msg, umem_access_ok, vhost_init_device_iotlb) and
	 * iotlb.c. */
	{ R("iotlb.update", "SET_FEATURES with ACCESS_PLATFORM, write() a v2 UPDATE", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.update-v1", "with an IOTLB, write() a v1 UPDATE", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 1, 2, 4096) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.update-asid", "with an IOTLB, a v2 UPDATE with asid 7 (not read)", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2 | (7ULL << 32), 2, 4096) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.update-unowned", "no owner: SET_FEATURES with ACCESS_PLATFORM, UPDATE", S_OPEN),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.update-other-process", "with an IOTLB, UPDATE from another process", S_OWNED),
	  .ops = { IOTLB_ON, OPC(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.kept-without-ap", "IOTLB, SET_FEATURES without ACCESS_PLATFORM, UPDATE", S_OWNED),
	  .ops = { IOTLB_ON, OP(SF, A_U64, QEMU_F), OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.gone-after-reset", "IOTLB, RESET_OWNER, then an UPDATE", S_OWNED),
	  .ops = { IOTLB_ON, OP(USV_VHOST_RESET_OWNER, A_NONE),
		   OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096) },
	  K(EFAULT) },
	{ R("iotlb.truncated", "with an IOTLB, a v2 UPDATE cut at 39 bytes", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, 39, 2, 2, 4096) },
	  K(EINVAL) },
	{ R("iotlb.update-size0", "with an IOTLB, a v2 UPDATE of size 0", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 0) },
	  K(EINVAL) },
	{ R("iotlb.invalidate", "with an IOTLB, a v2 INVALIDATE of nothing mapped", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 3, 4096) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.invalidate-size0", "with an IOTLB, a v1 INVALIDATE of size 0", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 1, 3, 0) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.update-kernel-uaddr", "with an IOTLB, UPDATE RW of a kernel address", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096, KADDR) },
	  K(EFAULT) },
	{ R("iotlb.update-kernel-uaddr-ro", "with an IOTLB, UPDATE RO of a kernel address", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096, KADDR, PERM(1)) },
	  K(EFAULT) },
	{ R("iotlb.update-kernel-uaddr-wo", "with an IOTLB, UPDATE WO of a kernel address", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096, KADDR, PERM(2)) },
	  K(EFAULT) },
	{ R("iotlb.update-kernel-uaddr-noperm", "UPDATE with no access of a kernel address", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 4096, KADDR, PERM(0)) },
	  KO(0, OUT_RET, VHOST_MSG_LEN) },
	{ R("iotlb.update-uaddr-wrap", "UPDATE with no access whose owner range wraps", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, 0x2000,
				0xfffffffffffff000ULL, PERM(0)) },
	  K(EFAULT) },
	{ R("iotlb.update-size-max", "with an IOTLB, UPDATE of size 2^64-1", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 2, UINT64_MAX) },
	  K(EFAULT) },
	{ R("iotlb.write-miss", "with an IOTLB, write() a MISS", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 1, 4096) },
	  K(EFAULT) },
	{ R("iotlb.write-access-fail", "with an IOTLB, write() an ACCESS_FAIL", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 4, 4096) },
	  K(EFAULT) },
	{ R("iotlb.batch-begin", "with an IOTLB, BATCH_BEGIN (vhost-net has no batching)", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 5, 0) },
	  K(EFAULT) },
	{ R("iotlb.batch-end", "with an IOTLB, BATCH_END", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 6, 0) },
	  K(EFAULT) },
	{ R("iotlb.type-unknown", "with an IOTLB, a message of type 9", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_WRITE, A_NONE, VHOST_MSG_LEN, 2, 9, 4096) },
	  K(EFAULT) },
	{ R("iotlb.read-short", "with an IOTLB, read() of 8 bytes", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_READ, A_NONE, 8, 1) }, K(0) },
	{ R("iotlb.read-nonblock", "with an IOTLB, O_NONBLOCK read(), nothing queued", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_READ, A_NONE, VHOST_MSG_LEN, 1) },
	  K(EAGAIN) },
	{ R("iotlb.poll-idle", "with an IOTLB, poll() with nothing queued", S_OWNED),
	  .ops = { IOTLB_ON, OP(CHR_POLL, A_NONE, 0) }, K(0) },
	{ R("iotlb.read-block", "with an IOTLB, a blocking read() waits (never returns)", S_OWNED),
	  .ops = { IOTLB_ON, OPC(CHR_READ, A_NONE, VHOST_MSG_LEN, 0) },
	  K(ERR_HUNG) },
	{ R("iotlb.read-block-after-reset", "IOTLB, RESET_OWNER, blocking read()", S_OWNED),
	  .ops = { IOTLB_ON, OP(USV_VHOST_RESET_OWNER, A_NONE),
		   OPT(CHR_READ, A_NONE, VHOST_MSG_LEN, 0) },
	  K(EBADFD) },
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

/* ---- running one scenario on one device --------------------------------- */

struct obs {
	bool setup_failed;
	char msg[200]; /* why the setup failed */
	int r, err;
	unsigned len;  /* bytes of arg kept */
	uint8_t arg[ARG_CAP];
	uint8_t before[ARG_CAP];
	uint16_t ring[USV_NET_NVQS][3]; /* used->flags, used->idx, avail->idx */
};

struct ctx {
	const char *path;
	int fd;
	struct cl_ram *ram;
	struct cl_ring ring[USV_NET_NVQS];
	int fds[T_NFDS];
	int setup_kick[USV_NET_NVQS], setup_call[USV_NET_NVQS];
	uint8_t *hole;    /* two pages, the second unmapped */
	uint8_t *ro_arg;  /* a page made read-only for W_RO */
	uint8_t *ro_ring; /* a read-only page for a used ring */
	uint8_t *logbuf;
	uint8_t *argspace;
};

static int raw_tap(short flags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = flags;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int make_fd(struct ctx *c, unsigned t)
{
	int p[2];

	if (t == T_SELF)
		return c->fd;
	if (c->fds[t] >= 0)
		return c->fds[t];
	switch (t) {
	case T_EVENTFD:
	case T_EVENTFD2:
		c->fds[t] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		break;
	case T_PIPE:
		if (pipe2(p, O_CLOEXEC) == 0) {
			c->fds[t] = p[0];
			close(p[1]);
		}
		break;
	case T_DEVNULL:
		c->fds[t] = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case T_CLOSED:
		return cl_closed_fd();
	case T_TAP:
	case T_TAP2:
		c->fds[t] = cl_tap_open();
		break;
	case T_TUN:
		c->fds[t] = raw_tap(IFF_TUN | IFF_NO_PI);
		break;
	case T_TAP_NOVNET:
		c->fds[t] = raw_tap(IFF_TAP | IFF_NO_PI);
		break;
	case T_UDP:
		c->fds[t] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		break;
	case T_UNIX:
		c->fds[t] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		break;
	case T_PACKET_RAW:
		c->fds[t] = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
		break;
	case T_PACKET_DGRAM:
		c->fds[t] = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
		break;
	case T_MEMFD:
		c->fds[t] = memfd_create("conformance", MFD_CLOEXEC);
		break;
	}
	if (c->fds[t] < 0)
		cl_setup_fail("making descriptor kind %u", t);
	return c->fds[t];
}

/* A value from the table: a literal, or a token made real here. */
static uint64_t resolve(struct ctx *c, const struct op *op, uint64_t v)
{
	unsigned t, vq = op->v[0] < USV_NET_NVQS ? (unsigned)op->v[0] : 0;
	uint64_t off;
	const struct cl_ring *r = &c->ring[vq];

	if ((v & TOKMASK) != TOK)
		return v;
	t = (unsigned)(v & 0xffff);
	off = (v >> 16) & 0xffffffffULL;
	if (t < T_NFDS)
		return (uint64_t)(int64_t)make_fd(c, t);
	switch (t) {
	case T_DESC:
		return (uint64_t)(uintptr_t)r->desc + off;
	case T_AVAIL:
		return (uint64_t)(uintptr_t)r->avail + off;
	case T_USED:
		return (uint64_t)(uintptr_t)r->used + off;
	case T_USED_GPA:
		return r->gpa_used + off;
	case T_RO_PAGE:
		return (uint64_t)(uintptr_t)c->ro_ring + off;
	case T_UNMAPPED:
		return (uint64_t)(uintptr_t)(c->hole + PAGE) + off;
	case T_LOGBUF:
		return (uint64_t)(uintptr_t)c->logbuf + off;
	}
	return v;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Builds the argument into buf; returns its length. */
static size_t build_arg(struct ctx *c, const struct op *op, uint8_t *buf, size_t cap)
{
	uint64_t v[6];
	size_t len = 0;

	for (unsigned i = 0; i < 6; i++)
		v[i] = resolve(c, op, op->v[i]);
	memset(buf, 0, cap);
	switch (op->kind) {
	case A_NONE:
		break;
	case A_U64:
		put64(buf, v[0]);
		len = 8;
		break;
	case A_INT:
	case A_U32:
		put32(buf, (uint32_t)v[0]);
		len = 4;
		break;
	case A_STATE:
	case A_FILE:
		put32(buf, (uint32_t)v[0]);
		put32(buf + 4, (uint32_t)v[1]);
		len = 8;
		break;
	case A_ADDR:
		/* {index, flags, desc, used, avail, log}: the table lists desc,
		 * avail, used in ring order. */
		put32(buf, (uint32_t)v[0]);
		put32(buf + 4, (uint32_t)v[1]);
		put64(buf + 8, v[2]);
		put64(buf + 16, v[4]);
		put64(buf + 24, v[3]);
		put64(buf + 32, v[5]);
		len = 40;
		break;
	case A_FARRAY:
		for (unsigned i = 0; i < 4; i++)
			put64(buf + 8 * i, v[i]);
		len = 32;
		break;
	case A_MEM: {
		uint32_t n = (uint32_t)v[0], fill = n > 70 ? 1 : n;
		struct usv_vhost_memory_region *reg;
		const struct cl_ram *ram = c->ram;

		put32(buf, n);
		put32(buf + 4, (uint32_t)v[1]);
		len = 8 + (size_t)fill * sizeof(*reg);
		if (len > cap)
			len = cap;
		reg = (struct usv_vhost_memory_region *)(buf + 8);
		for (uint32_t i = 0; i < fill && 8 + (i + 1) * sizeof(*reg) <= cap; i++) {
			if (op->v[2] == M_SLICES || i >= ram->nregions) {
				reg[i].guest_phys_addr = (uint64_t)i * MiB;
				reg[i].memory_size = 0x10000;
				reg[i].userspace_addr = (uint64_t)(uintptr_t)ram->base + (uint64_t)i * 0x10000;
			} else {
				reg[i].guest_phys_addr = ram->reg[i].gpa;
				reg[i].memory_size = ram->reg[i].size;
				reg[i].userspace_addr = (uint64_t)(uintptr_t)(ram->base + ram->reg[i].off);
			}
		}
		switch (op->v[2]) {
		case M_ZERO_SIZE:
			reg[1].memory_size = 0;
			break;
		case M_WRAP_GPA:
			reg[1].guest_phys_addr = 0xfffffffffffff000ULL;
			reg[1].memory_size = 0x2000;
			break;
		case M_WRAP_UADDR:
			reg[1].userspace_addr = 0xfffffffffffff000ULL;
			reg[1].memory_size = 0x2000;
			break;
		case M_OVERLAP:
			reg[1].guest_phys_addr = 0;
			break;
		case M_KERNEL:
			reg[0].userspace_addr = KADDR;
			break;
		case M_KZERO:
			reg[0].userspace_addr = KADDR;
			reg[1].memory_size = 0;
			break;
		case M_LOW:
			put32(buf, 1);
			break;
		}
		break;
	}
	}
	return len;
}

/* Places the argument where the op says; returns the pointer to pass and
 * sets *keep to where the kept bytes can be read back (NULL: nowhere). */
static void *place_arg(struct ctx *c, const struct op *op, const uint8_t *buf, size_t len,
		       uint8_t **keep, unsigned *keep_len)
{
	uint8_t *p;

	*keep = NULL;
	*keep_len = 0;
	if (op->kind == A_NONE)
		return NULL;
	switch (op->where) {
	case W_UNMAPPED:
		return c->hole + PAGE;
	case W_STRADDLE:
	case W_STRADDLE2:
	case W_TAIL8: {
		unsigned n = op->where == W_STRADDLE ? 4 : op->where == W_STRADDLE2 ? 2 : 8;

		p = c->hole + PAGE - n;
		memcpy(p, buf, n);
		*keep = p;
		*keep_len = n;
		return p;
	}
	case W_RO:
		mprotect(c->ro_arg, PAGE, PROT_READ | PROT_WRITE);
		memcpy(c->ro_arg, buf, len);
		mprotect(c->ro_arg, PAGE, PROT_READ);
		*keep = c->ro_arg;
		*keep_len = (unsigned)(len < ARG_CAP ? len : ARG_CAP);
		return c->ro_arg;
	default:
		memcpy(c->argspace, buf, len);
		*keep = c->argspace;
		*keep_len = (unsigned)(len < ARG_CAP ? len : ARG_CAP);
		return c->argspace;
	}
}

struct call {
	int fd;
	unsigned long cmd;
	void *arg;
	size_t len; /* read()/write() length */
	int r, err;
};

/* The call itself: an ioctl, or read/write/poll on the message channel.
 * For poll the answer is the revents seen (0 when nothing is ready). */
static void do_call(struct call *k)
{
	struct pollfd pf = { .fd = k->fd, .events = POLLIN | POLLOUT };

	errno = 0;
	switch (k->cmd) {
	case CHR_READ:
		k->r = (int)read(k->fd, k->arg, k->len);
		break;
	case CHR_WRITE:
		k->r = (int)write(k->fd, k->arg, k->len);
		break;
	case CHR_POLL:
		k->r = poll(&pf, 1, 0);
		if (k->r > 0)
			k->r = pf.revents;
		break;
	default:
		k->r = ioctl(k->fd, k->cmd, k->arg);
		break;
	}
	k->err = k->r < 0 ? errno : 0;
}

static void *thread_call(void *p)
{
	do_call(p);
	return NULL;
}

/* Runs the ioctl in a forked child; the child sends back its answer and
 * the bytes at arg as it saw them. */
static void child_call(struct call *k, uint8_t *keep, unsigned keep_len)
{
	int p[2];
	pid_t pid;
	struct {
		int r, err;
		uint8_t arg[ARG_CAP];
	} m;

	if (pipe2(p, O_CLOEXEC) < 0) {
		k->r = -1;
		k->err = EIO;
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		do_call(k);
		m.r = k->r;
		m.err = k->err;
		if (keep)
			memcpy(m.arg, keep, keep_len);
		if (write(p[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	k->r = -1;
	k->err = EIO;
	if (pid > 0) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };
		int st;

		if (poll(&pf, 1, HANG_MS * (int)cl_timeout_scale) == 1 &&
		    read(p[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
			k->r = m.r;
			k->err = m.err;
			if (keep)
				memcpy(keep, m.arg, keep_len);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
		} else {
			/* A request the server has read but never answers keeps
			 * its caller in the kernel even after SIGKILL: do not
			 * wait for it. */
			kill(pid, SIGKILL);
			k->err = ERR_HUNG;
		}
	}
	close(p[0]);
}

/* A message for write(): the header (v1: 1 = vhost_msg, 2 = vhost_msg_v2;
 * bits 32-63 of v1: the v2 asid word), then struct vhost_iotlb_msg at offset
 * 8 in both: iova, size v3, uaddr v4 (0: a user address), perm v5 (0: RW;
 * PERM(p) for p, 0 included), type v2. */
static size_t build_msg(const struct op *op, uint8_t *buf, size_t cap)
{
	size_t len = op->v[0] < cap ? (size_t)op->v[0] : cap;

	memset(buf, 0, cap);
	put32(buf, (uint32_t)op->v[1]);
	put32(buf + 4, (uint32_t)(op->v[1] >> 32));
	put64(buf + 8, 0x100000);
	put64(buf + 16, op->v[3]);
	put64(buf + 24, op->v[4] ? op->v[4] : 0x7f0000000000ULL);
	buf[32] = op->v[5] ? (uint8_t)op->v[5] : 3;
	buf[33] = (uint8_t)op->v[2];
	return len;
}

static bool is_chr(unsigned long cmd)
{
	return cmd == CHR_READ || cmd == CHR_WRITE || cmd == CHR_POLL;
}

static void exec_op(struct ctx *c, const struct op *op, struct obs *o)
{
	uint8_t buf[8 + 72 * sizeof(struct usv_vhost_memory_region)];
	uint8_t *keep = NULL;
	unsigned keep_len = 0;
	size_t len = 0;
	struct call k = { .fd = c->fd, .cmd = op->cmd };
	int fl = fcntl(c->fd, F_GETFL);

	if (is_chr(op->cmd)) {
		k.arg = buf;
		if (op->cmd == CHR_WRITE)
			k.len = build_msg(op, buf, sizeof(buf));
		else
			k.len = op->v[0] < sizeof(buf) ? (size_t)op->v[0] : sizeof(buf);
		if (op->cmd == CHR_READ && fl >= 0)
			fcntl(c->fd, F_SETFL, op->v[1] ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
	} else {
		len = build_arg(c, op, buf, sizeof(buf));
		k.arg = place_arg(c, op, buf, len, &keep, &keep_len);
	}
	memset(o->before, 0, sizeof(o->before));
	memcpy(o->before, buf, len < ARG_CAP ? len : ARG_CAP);
	if (op->kind == A_MEM && keep_len > 8)
		keep_len = 8; /* the header; the regions are never written */
	switch (op->who) {
	case BY_CHILD:
		child_call(&k, keep, keep_len);
		break;
	case BY_THREAD: {
		pthread_t t;

		if (pthread_create(&t, NULL, thread_call, &k) == 0) {
			/* Fatal for this scenario's process only. */
			cl_join(t, HANG_MS, "ioctl thread");
		} else {
			k.r = -1;
			k.err = EIO;
		}
		break;
	}
	default:
		do_call(&k);
		break;
	}
	if (fl >= 0)
		fcntl(c->fd, F_SETFL, fl);
	o->r = k.r;
	o->err = k.err;
	memset(o->arg, 0, sizeof(o->arg));
	o->len = keep_len;
	if (keep)
		memcpy(o->arg, keep, keep_len);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		o->ring[vq][0] = cl_load16(&c->ring[vq].used->flags);
		o->ring[vq][1] = cl_load16(&c->ring[vq].used->idx);
		o->ring[vq][2] = cl_load16(&c->ring[vq].avail->idx);
	}
}

static bool setup_ioctl(struct ctx *c, struct obs *o, unsigned long cmd, void *arg,
			const char *what)
{
	char e[32];

	if (ioctl(c->fd, cmd, arg) == 0)
		return true;
	o->setup_failed = true;
	snprintf(o->msg, sizeof(o->msg), "setup: %s -> %s", what,
		 cl_errname(errno, e, sizeof(e)));
	return false;
}

static bool do_setup(struct ctx *c, unsigned s, struct obs *o)
{
	uint64_t f = QEMU_F;

	if ((s & SU_OWNER) && !setup_ioctl(c, o, USV_VHOST_SET_OWNER, NULL, "SET_OWNER"))
		return false;
	if ((s & SU_FEAT) && !setup_ioctl(c, o, USV_VHOST_SET_FEATURES, &f, "SET_FEATURES"))
		return false;
	if (s & SU_MEM) {
		struct usv_vhost_memory *m = cl_ram_table(c->ram);
		bool ok = m && setup_ioctl(c, o, USV_VHOST_SET_MEM_TABLE, m, "SET_MEM_TABLE");

		free(m);
		if (!ok)
			return false;
	}
	for (unsigned vq = 0; (s & SU_RINGS) && vq < USV_NET_NVQS; vq++) {
		struct usv_vhost_vring_state st = { .index = vq, .num = CL_RING_NUM };
		struct usv_vhost_vring_addr a = {
			.index = vq,
			.desc_user_addr = (uint64_t)(uintptr_t)c->ring[vq].desc,
			.used_user_addr = (uint64_t)(uintptr_t)c->ring[vq].used,
			.avail_user_addr = (uint64_t)(uintptr_t)c->ring[vq].avail,
			.log_guest_addr = c->ring[vq].gpa_used,
		};
		struct usv_vhost_vring_file kick = { .index = vq, .fd = c->setup_kick[vq] };
		struct usv_vhost_vring_file call = { .index = vq, .fd = c->setup_call[vq] };

		if (!setup_ioctl(c, o, USV_VHOST_SET_VRING_NUM, &st, "SET_VRING_NUM"))
			return false;
		st.num = 0;
		if (!setup_ioctl(c, o, USV_VHOST_SET_VRING_BASE, &st, "SET_VRING_BASE") ||
		    !setup_ioctl(c, o, USV_VHOST_SET_VRING_ADDR, &a, "SET_VRING_ADDR") ||
		    !setup_ioctl(c, o, USV_VHOST_SET_VRING_KICK, &kick, "SET_VRING_KICK") ||
		    !setup_ioctl(c, o, USV_VHOST_SET_VRING_CALL, &call, "SET_VRING_CALL"))
			return false;
	}
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		struct usv_vhost_vring_file b = { .index = vq, .fd = make_fd(c, T_TAP) };

		if (!(s & (vq ? SU_ATTACH1 : SU_ATTACH0)))
			continue;
		if (!setup_ioctl(c, o, USV_VHOST_NET_SET_BACKEND, &b, "NET_SET_BACKEND tap"))
			return false;
	}
	for (unsigned vq = 0; (s & SU_DETACH) && vq < USV_NET_NVQS; vq++) {
		struct usv_vhost_vring_file b = { .index = vq, .fd = -1 };

		if (!setup_ioctl(c, o, USV_VHOST_NET_SET_BACKEND, &b, "NET_SET_BACKEND -1"))
			return false;
	}
	return true;
}

static void ctx_fini(struct ctx *c)
{
	for (unsigned t = 0; t < T_NFDS; t++)
		cl_close(&c->fds[t]);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		cl_close(&c->setup_kick[vq]);
		cl_close(&c->setup_call[vq]);
	}
	cl_close(&c->fd);
}

static void run_row(const struct row *row, const char *path, struct cl_ram *ram,
		    struct ctx *pages, struct obs *o)
{
	struct ctx c = *pages;
	unsigned last = 0;
	char e1[32], e2[32], nb[32];

	memset(o, 0, sizeof(*o));
	c.path = path;
	c.ram = ram;
	for (unsigned t = 0; t < T_NFDS; t++)
		c.fds[t] = -1;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		c.setup_kick[vq] = cl_eventfd();
		c.setup_call[vq] = cl_eventfd();
		cl_ring_place(ram, vq, 0, &c.ring[vq]);
		cl_ring_prepare(&c.ring[vq], 0, 7);
	}
	memset(c.logbuf, 0, 64 * 1024);
	c.fd = open(path, O_RDWR | O_CLOEXEC);
	if (c.fd < 0) {
		o->setup_failed = true;
		snprintf(o->msg, sizeof(o->msg), "open %s: %s", path, strerror(errno));
		ctx_fini(&c);
		return;
	}
	if (!do_setup(&c, row->setup, o)) {
		ctx_fini(&c);
		return;
	}
	for (unsigned i = 0; i < MAX_OPS; i++)
		if (row->ops[i].kind || row->ops[i].cmd)
			last = i;
	for (unsigned i = 0; i <= last; i++) {
		exec_op(&c, &row->ops[i], o);
		if (i < last && o->err != row->ops[i].want) {
			if (row->ops[i].stop)
				break;
			o->setup_failed = true;
			snprintf(o->msg, sizeof(o->msg), "step %u: %s -> %s, needed %s", i + 1,
				 cl_ioctl_name(row->ops[i].cmd, nb, sizeof(nb)),
				 cl_errname(o->err, e1, sizeof(e1)),
				 cl_errname(row->ops[i].want, e2, sizeof(e2)));
			break;
		}
	}
	ctx_fini(&c);
}

/* Each scenario runs in a process of its own (which owns the device): a
 * device that never answers costs that process, not the whole table. */
static void run_row_isolated(const struct row *row, const char *path, struct cl_ram *ram,
			     struct ctx *pages, struct obs *o)
{
	struct pollfd pf;
	int p[2], st;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		o->setup_failed = true;
		snprintf(o->msg, sizeof(o->msg), "pipe/fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(p[0]);
		run_row(row, path, ram, pages, o);
		_exit(write(p[1], o, sizeof(*o)) == (ssize_t)sizeof(*o) ? 0 : 1);
	}
	close(p[1]);
	pf.fd = p[0];
	pf.events = POLLIN;
	if (poll(&pf, 1, 2 * HANG_MS * (int)cl_timeout_scale) != 1 ||
	    read(p[0], o, sizeof(*o)) != (ssize_t)sizeof(*o)) {
		/* The scenario's process may be stuck in the kernel for good
		 * (a request the server read and never answers): kill it and
		 * go on without waiting for it. */
		kill(pid, SIGKILL);
		memset(o, 0, sizeof(*o));
		o->setup_failed = true;
		snprintf(o->msg, sizeof(o->msg), "HUNG: no answer within %u s",
			 2 * HANG_MS / 1000 * cl_timeout_scale);
		close(p[0]);
		return;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	close(p[0]);
}

/* ---- judging and printing ------------------------------------------------ */

static const char *errtxt(int err, char *buf, size_t n)
{
	if (err == ERR_HUNG)
		return "HUNG";
	return cl_errname(err, buf, n);
}

/* The answer in words: errno, and the output the row looks at. */
static void render(const struct row *row, const struct expect *x, const struct obs *o,
		   char *buf, size_t n)
{
	char e[32];
	uint8_t out = x && x->set ? x->out : row->k.out;

	if (o->setup_failed) {
		snprintf(buf, n, "(%.120s)", o->msg);
		return;
	}
	if (o->r > 0)
		snprintf(buf, n, "ret %d", o->r);
	else
		snprintf(buf, n, "%s", errtxt(o->err, e, sizeof(e)));
	if (o->err && out != OUT_USED)
		return;
	switch (out) {
	case OUT_U64:
		if (o->len >= 8)
			snprintf(buf + strlen(buf), n - strlen(buf), " 0x%llx",
				 (unsigned long long)get64(o->arg));
		else if (o->len >= 4)
			snprintf(buf + strlen(buf), n - strlen(buf), " 0x%x", get32(o->arg));
		break;
	case OUT_STATE:
		if (o->len >= 8)
			snprintf(buf + strlen(buf), n - strlen(buf), " {%u, %u}",
				 get32(o->arg), get32(o->arg + 4));
		break;
	case OUT_USED: {
		unsigned vq = (unsigned)(row->k.v[0] & 1);

		snprintf(buf + strlen(buf), n - strlen(buf), " used{0x%x,%u}",
			 o->ring[vq][0], o->ring[vq][1]);
		break;
	}
	case OUT_FARRAY:
		if (o->len >= 32)
			snprintf(buf + strlen(buf), n - strlen(buf), " {%llu: 0x%llx,0x%llx,0x%llx}",
				 (unsigned long long)get64(o->arg),
				 (unsigned long long)get64(o->arg + 8),
				 (unsigned long long)get64(o->arg + 16),
				 (unsigned long long)get64(o->arg + 24));
		break;
	default:
		break;
	}
}

/* Does the observation match the expectation (errno and declared output)? */
static bool matches(const struct expect *x, const struct obs *o)
{
	if (o->setup_failed || (o->r > 0 && x->out != OUT_RET) || o->err != x->err)
		return false;
	switch (x->out) {
	case OUT_U64:
		return o->len >= 8 && get64(o->arg) == x->v[0];
	case OUT_STATE:
		return o->len >= 8 && get32(o->arg) == (uint32_t)x->v[0] &&
		       get32(o->arg + 4) == (uint32_t)x->v[1];
	case OUT_USED: {
		unsigned vq = (unsigned)(x->v[0] & 1);

		return o->ring[vq][0] == (uint16_t)x->v[1] && o->ring[vq][1] == (uint16_t)x->v[2];
	}
	case OUT_FARRAY:
		return o->len >= 32 && get64(o->arg) == x->v[0] && get64(o->arg + 8) == x->v[1] &&
		       get64(o->arg + 16) == x->v[2] && get64(o->arg + 24) == x->v[3];
	case OUT_SAME:
		return !memcmp(o->arg, o->before, o->len);
	case OUT_RET:
		return o->r == (int)x->v[0];
	default:
		return true;
	}
}

/* Two devices gave exactly the same answer: return value, errno, the
 * argument as left behind, the rings' words. */
static bool same(const struct obs *a, const struct obs *b)
{
	if (a->setup_failed || b->setup_failed)
		return a->setup_failed && b->setup_failed && !strcmp(a->msg, b->msg);
	return a->r == b->r && a->err == b->err && a->len == b->len &&
	       !memcmp(a->arg, b->arg, a->len) && !memcmp(a->ring, b->ring, sizeof(a->ring));
}

enum mode { MODE_SINGLE, MODE_PAIR };
enum as { AS_KERNEL, AS_CUSE, AS_FUSE };

/* What a device is meant to answer for a row. */
static const struct expect *expected(const struct row *row, enum as as, uint8_t *reason)
{
	*reason = R_NONE;
	if (as == AS_FUSE && row->f.set) {
		*reason = row->fr;
		return &row->f;
	}
	if (as != AS_KERNEL && row->u.set) {
		/* The CUSE-only reason does not hold for the FUSE front's own
		 * early fault, which has its own row. */
		*reason = row->ur;
		return &row->u;
	}
	return &row->k;
}

/* An observation that is exactly what the expectation describes. */
static void expect_obs(const struct expect *x, struct obs *o)
{
	memset(o, 0, sizeof(*o));
	o->err = x->err;
	switch (x->out) {
	case OUT_STATE:
		o->len = 8;
		put32(o->arg, (uint32_t)x->v[0]);
		put32(o->arg + 4, (uint32_t)x->v[1]);
		break;
	case OUT_U64:
		o->len = 8;
		put64(o->arg, x->v[0]);
		break;
	case OUT_FARRAY:
		o->len = 32;
		for (unsigned i = 0; i < 4; i++)
			put64(o->arg + 8 * i, x->v[i]);
		break;
	case OUT_USED:
		o->ring[x->v[0] & 1][0] = (uint16_t)x->v[1];
		o->ring[x->v[0] & 1][1] = (uint16_t)x->v[2];
		break;
	case OUT_RET:
		o->r = (int)x->v[0];
		break;
	default:
		break;
	}
}

/* SCENARIO arguments: a full name, or a prefix ("mem-table." or "mem"). */
static bool selected(const struct row *row, int argc, char **argv, int first)
{
	if (first >= argc)
		return true;
	for (int i = first; i < argc; i++)
		if (!strncmp(row->name, argv[i], strlen(argv[i])))
			return true;
	return false;
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: vhost_conformance --kernel=DEV --usvhost=DEV [--front=cuse|fuse] [SCENARIO...]\n"
		"       vhost_conformance --dev=DEV --as=kernel|cuse|fuse [-v] [SCENARIO...]\n"
		"       vhost_conformance --list\n"
		"options: --markdown=FILE (side by side: the table in markdown too), -v\n");
}

static void print_legend(FILE *to, bool used[R_NREASONS], bool markdown)
{
	bool any = false;

	for (unsigned r = 1; r < R_NREASONS; r++)
		any |= used[r];
	if (!any)
		return;
	fprintf(to, "%s", markdown ? "\nDeliberate differences (docs/conformance.md):\n\n" :
				     "\nDeliberate differences (docs/conformance.md):\n");
	for (unsigned r = 1; r < R_NREASONS; r++) {
		if (!used[r])
			continue;
		if (markdown)
			fprintf(to, "* `%s`: %s\n", reasons[r].key, reasons[r].text);
		else
			fprintf(to, "  %-18s %s\n", reasons[r].key, reasons[r].text);
	}
}

int main(int argc, char **argv)
{
	const char *kdev = NULL, *udev = NULL, *dev = NULL;
	enum as as = AS_KERNEL, front = AS_CUSE;
	bool have_as = false, used_reason[R_NREASONS] = { false };
	FILE *md = NULL;
	const char *scale = getenv("USVHOST_TEST_TIMEOUT_SCALE");
	unsigned n_same = 0, n_delib = 0, n_diff = 0, n_drift = 0, n_run = 0, n_ok = 0, n_fail = 0;
	struct cl_ram ram;
	struct ctx pages;
	int first = argc;
	enum mode mode;

	if (scale && atoi(scale) > 0)
		cl_timeout_scale = (unsigned)atoi(scale);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "--kernel=", 9)) {
			kdev = a + 9;
		} else if (!strncmp(a, "--usvhost=", 10)) {
			udev = a + 10;
		} else if (!strncmp(a, "--dev=", 6)) {
			dev = a + 6;
		} else if (!strncmp(a, "--as=", 5) || !strncmp(a, "--front=", 8)) {
			const char *v = strchr(a, '=') + 1;
			enum as *dst = a[2] == 'a' ? &as : &front;

			if (!strcmp(v, "kernel") && dst == &as)
				*dst = AS_KERNEL;
			else if (!strcmp(v, "cuse"))
				*dst = AS_CUSE;
			else if (!strcmp(v, "fuse"))
				*dst = AS_FUSE;
			else {
				usage(stderr);
				return 2;
			}
			have_as |= dst == &as;
		} else if (!strncmp(a, "--markdown=", 11)) {
			md = fopen(a + 11, "we");
			if (!md) {
				fprintf(stderr, "vhost_conformance: %s: %s\n", a + 11, strerror(errno));
				return 2;
			}
		} else if (!strcmp(a, "-v")) {
			cl_verbose = true;
		} else if (!strcmp(a, "--list")) {
			for (size_t k = 0; k < N_ROWS; k++)
				printf("%-36s %s\n", rows[k].name, rows[k].what);
			printf("%zu scenarios\n", N_ROWS);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-') {
			usage(stderr);
			return 2;
		} else {
			first = i;
			break;
		}
	}
	if (kdev && udev && !dev) {
		mode = MODE_PAIR;
	} else if (dev && !kdev && !udev && have_as) {
		mode = MODE_SINGLE;
	} else {
		usage(stderr);
		return 2;
	}
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("SKIP: vhost_conformance needs root and /dev/net/tun\n");
		return 77;
	}
	if (!cl_ram_init(&ram, CL_RAM_ANON_PRIV, RAM_SIZE))
		return 1;
	memset(&pages, 0, sizeof(pages));
	pages.hole = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pages.ro_arg = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pages.ro_ring = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pages.logbuf = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pages.argspace = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages.hole == MAP_FAILED || pages.ro_arg == MAP_FAILED || pages.ro_ring == MAP_FAILED ||
	    pages.logbuf == MAP_FAILED || pages.argspace == MAP_FAILED) {
		cl_setup_fail("mmap");
		return 1;
	}
	munmap(pages.hole + PAGE, PAGE);

	if (mode == MODE_PAIR) {
		if (md)
			fprintf(md, "| scenario | kernel (%s) | usvhost (%s, %s) | same |\n"
				    "|---|---|---|---|\n", kdev, udev,
				front == AS_FUSE ? "FUSE file" : "CUSE");
		printf("# vhost-net conformance: kernel %s, usvhost %s (%s front)\n", kdev, udev,
		       front == AS_FUSE ? "FUSE-file" : "CUSE");
		printf("%-36s %-30s %-30s %s\n", "scenario", "kernel", "usvhost", "same?");
	} else {
		printf("# vhost-net conformance: %s as %s; the kernel's answers are the ones "
		       "recorded from Linux 6.1's vhost_net\n", dev,
		       as == AS_KERNEL ? "the kernel" : as == AS_CUSE ? "usvhostd (CUSE)" :
									 "usvhostd (FUSE file)");
		printf("%-36s %-30s %-30s %s\n", "scenario", "kernel (recorded)", "this device",
		       "verdict");
	}
	fflush(stdout);

	for (size_t k = 0; k < N_ROWS; k++) {
		const struct row *row = &rows[k];
		struct obs ko, uo;
		char kt[160], ut[160], xt[160], verdict[64];
		uint8_t reason;
		const struct expect *x;

		if (!selected(row, argc, argv, first))
			continue;
		n_run++;
		if (mode == MODE_SINGLE) {
			struct obs kw;

			x = expected(row, as, &reason);
			run_row_isolated(row, dev, &ram, &pages, &uo);
			render(row, x, &uo, ut, sizeof(ut));
			expect_obs(&row->k, &kw);
			render(row, &row->k, &kw, kt, sizeof(kt));
			if (matches(x, &uo)) {
				n_ok++;
				if (reason) {
					used_reason[reason] = true;
					snprintf(verdict, sizeof(verdict), "deliberate: %s",
						 reasons[reason].key);
				} else {
					snprintf(verdict, sizeof(verdict), "as the kernel");
				}
			} else {
				struct obs want;

				n_fail++;
				expect_obs(x, &want);
				render(row, x, &want, xt, sizeof(xt));
				snprintf(verdict, sizeof(verdict), "FAIL: expected %.40s", xt);
			}
			printf("%-36s %-30s %-30s %s\n", row->name, kt, ut, verdict);
			fflush(stdout);
			continue;
		}

		/* Side by side. */
		run_row_isolated(row, kdev, &ram, &pages, &ko);
		run_row_isolated(row, udev, &ram, &pages, &uo);
		x = expected(row, front, &reason);
		render(row, &row->k, &ko, kt, sizeof(kt));
		render(row, x, &uo, ut, sizeof(ut));
		if (same(&ko, &uo) && !ko.setup_failed) {
			n_same++;
			snprintf(verdict, sizeof(verdict), "same");
		} else if (reason && matches(x, &uo) && matches(&row->k, &ko)) {
			n_delib++;
			used_reason[reason] = true;
			snprintf(verdict, sizeof(verdict), "deliberate: %s", reasons[reason].key);
		} else {
			n_diff++;
			snprintf(verdict, sizeof(verdict), "DIFFERENT");
		}
		if (md)
			fprintf(md, "| `%s` | %s | %s | %s |\n", row->name, kt, ut, verdict);
		printf("%-36s %-30s %-30s %s\n", row->name, kt, ut, verdict);
		if (!matches(&row->k, &ko)) {
			n_drift++;
			struct obs kw;

			expect_obs(&row->k, &kw);
			render(row, &row->k, &kw, xt, sizeof(xt));
			printf("    table: the kernel answered %s, the table records %s (%s)\n", kt,
			       xt, row->what);
		}
		fflush(stdout);
	}
	print_legend(stdout, used_reason, false);
	if (mode == MODE_PAIR) {
		printf("\n%u scenarios: %u same, %u deliberately different, %u DIFFERENT; "
		       "%u kernel answers not as the table records\n",
		       n_run, n_same, n_delib, n_diff, n_drift);
		if (md) {
			print_legend(md, used_reason, true);
			fprintf(md, "\n%u scenarios: %u same, %u deliberately different, "
				    "%u DIFFERENT\n", n_run, n_same, n_delib, n_diff);
			fclose(md);
		}
		cl_ram_fini(&ram);
		return n_diff || n_drift ? 1 : 0;
	}
	printf("%u scenarios: %u as expected, %u not\n", n_run, n_ok, n_fail);
	cl_ram_fini(&ram);
	return n_fail ? 1 : 0;
}
