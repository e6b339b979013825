/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: the region table of SET_MEM_TABLE and access to it.
 *
 * Two strategies behind one interface, chosen per region when the table is
 * bound to its owner:
 *   mmap    - QEMU's RAM is a shared shmem or hugetlbfs file (a memfd) sealed
 *             against shrinking: mapped here MAP_SHARED through the owner's
 *             own fd for it (pidfd_getfd), writable only if that fd is
 *             O_RDWR and the owner's mapping is writable and shared;
 *             access is a memcpy;
 *   procmem - anything else: pread/pwrite on the owner's /proc/<pid>/mem,
 *             pinned at SET_OWNER.
 * Ring structures are addressed by QEMU virtual address (as the kernel
 * reaches them with copy_to_user()): through a mapped region when one
 * covers them, else through the same pinned /proc/<pid>/mem. That fd stays
 * bound to the owner's address space as it was at SET_OWNER: after an exec
 * or exit it reads and writes nothing (-EFAULT). It writes with the rights
 * of a debugger (FOLL_FORCE): a private read-only page gets the write in
 * the owner's own copy, a shared read-only one never does; the control
 * plane checks the ring's protections where the kernel would fault (attach).
 * Every access is bounds-checked against the regions: a guest address never
 * reaches outside what QEMU declared.
 */
#ifndef USV_CORE_GUESTMEM_H
#define USV_CORE_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/caller.h"
#include "usvhost/vhost_abi.h"

enum usv_mem_strategy {
	USV_MEM_PROCMEM = 0,
	USV_MEM_MMAP,
};

struct usv_mem_region {
	uint64_t gpa;   /* first guest physical address */
	uint64_t last;  /* last guest physical address (inclusive) */
	uint64_t uaddr; /* owner's virtual address of gpa */
	enum usv_mem_strategy strategy;
	uint8_t *local; /* mmap: our address of gpa */
	void *map_base; /* mmap: what to munmap */
	size_t map_len;
	/* mmap: the owner's file it maps (ours, kept so that a hand-over can
	 * pass it on, core/devstate.h) and the file offset of map_base; -1
	 * otherwise. */
	int fd;
	uint64_t map_off;
	bool writable;  /* mmap: the local mapping takes writes */
	char backing[64]; /* what backs it in the owner (maps path), for logs */
	char why[64];   /* procmem: why it is not mapped, for logs */
};

struct usv_guestmem {
	/* The owner's pinned /proc/<pid>/mem (usv_owner.memfd), borrowed, not
	 * owned: the device frees its table before it releases its owner, so
	 * the fd outlives every use. -1 before bind. */
	int memfd;
	uint32_t nregions;
	struct usv_mem_region regions[];
};

/* Builds a table with the kernel's rules (vhost_iotlb_add_range): a region
 * whose last address is below its first (size 0 or a wrapping range) is
 * -EFAULT; size 0 at guest address 0 covers the whole space, as there. */
int usv_guestmem_new(const struct usv_vhost_memory_region *regs, uint32_t n,
		     struct usv_guestmem **out);
/* Chooses each region's strategy from the owner's /proc/<tgid>/maps and
 * fdinfo and maps shared RAM; the owner must be inside a request (pinned).
 * Borrows o->memfd. Failing to map is not an error: the region stays on
 * procmem and says why (region->why). */
int usv_guestmem_bind(struct usv_guestmem *m, const struct usv_owner *o);
void usv_guestmem_free(struct usv_guestmem *m);
/* Maps region i of a table from usv_guestmem_new() as another daemon had it
 * (a hand-over): map_len bytes of fd from file offset map_off, gpa at
 * local_off in the mapping, writable or read-only. Only a regular file
 * sealed against shrinking, large enough, opened for writing if writable,
 * is mapped; the region must fit. On success the region keeps fd; on
 * failure (-EINVAL, -EBADF, -EACCES, -errno of mmap) fd stays the caller's. */
int usv_guestmem_adopt(struct usv_guestmem *m, uint32_t i, int fd, uint64_t map_off,
		       uint64_t map_len, uint64_t local_off, bool writable);

/* The region holding gpa, or NULL. */
const struct usv_mem_region *usv_guestmem_find(const struct usv_guestmem *m,
					       uint64_t gpa);
/* gpa..gpa+len-1 inside one region: its owner virtual address. -EFAULT if not. */
/* The region holding owner virtual address uva, or NULL (an IOTLB entry
 * names owner addresses: their guest address and our mapping come from
 * here). */
const struct usv_mem_region *usv_guestmem_find_uva(const struct usv_guestmem *m,
						   uint64_t uva);
int usv_gpa_to_uva(const struct usv_guestmem *m, uint64_t gpa, uint64_t len,
		   uint64_t *uva);
/* Copies that may cross adjacent regions; -EFAULT outside guest RAM. */
int usv_gpa_read(const struct usv_guestmem *m, uint64_t gpa, void *buf,
		 size_t len);
int usv_gpa_write(const struct usv_guestmem *m, uint64_t gpa, const void *buf,
		  size_t len);
/* Access by owner virtual address (rings): through a mapped region when one
 * covers the range (for writes, a writable one), else the pinned
 * /proc/<pid>/mem. */
int usv_uva_read(const struct usv_guestmem *m, uint64_t uva, void *buf,
		 size_t len);
int usv_uva_write(const struct usv_guestmem *m, uint64_t uva, const void *buf,
		  size_t len);
/* Our pointer for uva..uva+len-1 when one writable mapped region covers it,
 * else NULL (rings: the used ring is written through it). */
void *usv_uva_local(const struct usv_guestmem *m, uint64_t uva, size_t len);
const char *usv_mem_strategy_name(enum usv_mem_strategy s);

#endif
