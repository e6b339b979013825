/* SPDX-License-Identifier: MIT */
/*
 * Guest memory: the region table of SET_MEM_TABLE and access to it.
 *
 * Two strategies behind one interface, chosen per region when the table is
 * bound to its owner process:
 *   mmap    - QEMU's RAM is a shared file (memfd, /dev/shm, hugetlbfs): the
 *             file is mapped MAP_SHARED here, and access is a memcpy;
 *   procmem - otherwise (anonymous private RAM): pread/pwrite on
 *             /proc/<pid>/mem at QEMU's virtual address.
 * Ring structures are addressed by QEMU virtual address (as the kernel
 * reaches them with copy_to_user()); outside a mapped region those accesses
 * use process_vm_readv/writev, which honour QEMU's page protections as
 * copy_to_user() does (a read-only used ring is EFAULT), where /proc/<pid>/mem
 * would not.
 * Every access is bounds-checked against the regions: a guest address never
 * reaches outside what QEMU declared.
 */
#ifndef USV_CORE_GUESTMEM_H
#define USV_CORE_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
	char backing[64]; /* what backs it in the owner (maps path), for logs */
};

struct usv_guestmem {
	int memfd; /* owner's /proc/<pid>/mem, owned here; -1 before bind */
	pid_t tgid; /* owner, for process_vm_readv/writev */
	uint32_t nregions;
	struct usv_mem_region regions[];
};

/* Builds a table with the kernel's rules (vhost_iotlb_add_range): a region
 * whose last address is below its first (size 0 or a wrapping range) is
 * -EFAULT; size 0 at guest address 0 covers the whole space, as there. */
int usv_guestmem_new(const struct usv_vhost_memory_region *regs, uint32_t n,
		     struct usv_guestmem **out);
/* Chooses each region's strategy from the owner's /proc/<tgid>/maps and maps
 * shared RAM. procmem_fd is duplicated. Failing to map is not an error: the
 * region falls back to procmem. */
int usv_guestmem_bind(struct usv_guestmem *m, pid_t tgid, int procmem_fd);
void usv_guestmem_free(struct usv_guestmem *m);

/* The region holding gpa, or NULL. */
const struct usv_mem_region *usv_guestmem_find(const struct usv_guestmem *m,
					       uint64_t gpa);
/* gpa..gpa+len-1 inside one region: its owner virtual address. -EFAULT if not. */
int usv_gpa_to_uva(const struct usv_guestmem *m, uint64_t gpa, uint64_t len,
		   uint64_t *uva);
/* Copies that may cross adjacent regions; -EFAULT outside guest RAM. */
int usv_gpa_read(const struct usv_guestmem *m, uint64_t gpa, void *buf,
		 size_t len);
int usv_gpa_write(const struct usv_guestmem *m, uint64_t gpa, const void *buf,
		  size_t len);
/* Access by owner virtual address (rings): through a mapped region when one
 * covers the range, else process_vm_readv/writev. */
int usv_uva_read(const struct usv_guestmem *m, uint64_t uva, void *buf,
		 size_t len);
int usv_uva_write(const struct usv_guestmem *m, uint64_t uva, const void *buf,
		  size_t len);
/* Our pointer for uva..uva+len-1 when one mapped region covers it, else NULL. */
void *usv_uva_local(const struct usv_guestmem *m, uint64_t uva, size_t len);
const char *usv_mem_strategy_name(enum usv_mem_strategy s);

#endif
