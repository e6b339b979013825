/* SPDX-License-Identifier: MIT */
/*
 * A device's whole state for a live upgrade (usvhostd --takeover): taken
 * from one daemon's device list with its rings stopped in the datapath,
 * rebuilt in another daemon's list from the fds handed over, and resumed.
 *
 * struct usv_devstate is the plain description; daemon/devstate_json.c
 * turns it into JSON and back. Its fds are numbers: in a captured state
 * they are borrowed from the device (still open in it), in a state given to
 * usv_devstate_install() they are the receiver's and are taken on success.
 * Nothing is re-derived from the owner: mappings are made from the fds
 * handed over, with the offsets and access they had.
 */
#ifndef USV_CORE_DEVSTATE_H
#define USV_CORE_DEVSTATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/devlist.h"
#include "core/iotlb_msgq.h"

/* The state format's version (the JSON's "version"). */
#define USV_DEVSTATE_VERSION 1

/* Handles a state may name: below this. The list's opener table grows to
 * the largest handle (4 bytes each), so an untrusted handle near UINT_MAX
 * would ask for 16 GiB; handles are the lowest free at open, so handle h
 * means h + 1 devices open at once, each with its worker thread. */
#define USV_DEVSTATE_MAX_HANDLES (1u << 20)

/* fds to pass along with a state, referred to by index. */
struct usv_fdvec {
	int *fd;
	unsigned n, cap;
};
/* Appends fd: its index >= 0, or -ENOMEM. */
int usv_fdvec_push(struct usv_fdvec *v, int fd);
/* Frees the array (closing every fd >= 0 in it when close_fds). */
void usv_fdvec_free(struct usv_fdvec *v, bool close_fds);

struct usv_devstate_region {
	uint64_t gpa, size, uaddr;
	bool mapped;      /* else procmem: through the owner's memfd */
	int fd;           /* mapped: the file, -1 otherwise */
	uint64_t map_off; /* mapped: file offset of the mapping */
	uint64_t map_len; /* mapped: its length */
	uint64_t local_off; /* mapped: where gpa is in the mapping */
	bool writable;
};

struct usv_devstate_vq {
	uint32_t num;
	uint64_t desc, avail, used;
	bool log_used;
	uint64_t log_addr, log_base;
	/* The indexes (usv_ring_base): exact, the ring stopped. */
	uint16_t last_avail_idx, avail_idx, last_used_idx, used_flags;
	uint32_t busyloop_timeout;
	int kick_fd, call_fd, err_fd; /* -1 unbound */
	int backend_fd;               /* -1 none; both rings may share one */
	uint32_t vhost_hlen, sock_hlen;
};

struct usv_devstate_iotlb {
	uint64_t start, last, addr;
	uint8_t perm;
};

struct usv_devstate {
	unsigned handle;
	uid_t uid;           /* the opener */
	uint64_t ioctls;     /* served so far */
	/* The owner; tgid 0: none (then no fds). */
	pid_t tgid;
	int pidfd, memfd;
	uint64_t probe;
	char comm[16];
	uint64_t features[USV_FEATURES_DWORDS];
	uint64_t backend_features;
	bool has_mem;        /* a memory table, maybe empty (RESET_OWNER's) */
	uint32_t nregions;
	struct usv_devstate_region *regions;
	int log_fd;
	struct usv_devstate_vq vq[USV_NET_NVQS];
	bool has_iotlb;      /* a device IOTLB, maybe empty */
	uint32_t niotlb;     /* in insertion order */
	struct usv_devstate_iotlb *iotlb;
	unsigned nmiss;      /* queued MISS messages */
	struct usv_msgq_entry *miss;
};

/* Frees the arrays of a state (never its fds). */
void usv_devstate_clear(struct usv_devstate *st);

/* Under the device lock: stops every ring the datapath runs (indexes back
 * as GET_VRING_BASE has them; the backend stays attached in the core, the
 * ring paused) and describes the device into *st, fds borrowed. -ENOENT
 * unknown handle, -ENOMEM (the rings paused all the same). The device
 * serves no request until resumed or released: the caller has stopped its
 * front. */
int usv_devstate_capture(struct usv_devlist *devs, unsigned handle,
			 struct usv_devstate *st);
/* Checks st as untrusted input and builds its device in devs under its
 * handle and uid, rings attached but paused (not started). On success the
 * device owns every fd st names; on failure nothing is added and no fd is
 * closed. -EEXIST handle in use, -EINVAL malformed (a handle from
 * USV_DEVSTATE_MAX_HANDLES on among them), -EBADF an fd that is not
 * what its place needs, -ENOMEM. */
int usv_devstate_install(struct usv_devlist *devs, const struct usv_devstate *st);
/* Starts, through the datapath, every ring of the device that has a backend
 * the datapath does not run; each started ring then goes once at once
 * (buffers posted during the pause are seen) and signals its call eventfd
 * once (a lost interrupt would stall the guest, a spurious one is harmless).
 * -ENOENT unknown handle; the first failing start's -errno (that ring stays
 * paused, the others are started). */
int usv_devstate_resume(struct usv_devlist *devs, unsigned handle);

#endif
