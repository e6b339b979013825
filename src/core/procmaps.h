/* SPDX-License-Identifier: MIT */
/*
 * What the owner's /proc files say about its address space and its fds:
 * /proc/<pid>/maps (which mappings, with which protections, of which file)
 * and /proc/<pid>/fdinfo (which of its fds hold a given inode).
 *
 * Read only while the owner is inside a request (it cannot exec or exit
 * then). What is parsed here may only ever narrow what the daemon does:
 * a mapping "rw" in maps never grants a write by itself; the access still
 * goes through the owner's pinned /proc/<pid>/mem or an fd the owner holds.
 */
#ifndef USV_CORE_PROCMAPS_H
#define USV_CORE_PROCMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct usv_vma {
	uint64_t start, end, offset, inode;
	unsigned dev_major, dev_minor;
	bool read, write, shared;
	char path[64]; /* what backs it, for logs (may be cut short) */
};

/* Every mapping of process tgid, in address order: the count, or -errno. */
int usv_maps_read(pid_t tgid, struct usv_vma **out);
/* The mapping holding addr, or -1. */
int usv_maps_find(const struct usv_vma *v, int n, uint64_t addr);
/* Do adjacent mappings cover [addr, addr+len), all readable, and writable
 * too when write? len 0 is covered. */
bool usv_maps_cover(const struct usv_vma *v, int n, uint64_t addr, uint64_t len,
		    bool write);

/* fd numbers of process tgid whose fdinfo says inode ino; each one's mount
 * id beside it. The count found (at most max), or -errno. */
int usv_fdinfo_find_ino(pid_t tgid, uint64_t ino, int *fds, int *mnt_ids, int max);
/* The filesystem type of mount mnt_id in process tgid's mount namespace:
 * 0, -ENOENT when it is not there (an internal mount: memfd, or one that
 * was detached), other -errno. */
int usv_mount_fstype(pid_t tgid, int mnt_id, char *fstype, size_t len);

/* Is fd number fd of process tgid a file on a FUSE mount (its fdinfo's
 * mnt_id in its mountinfo)? Such a file is never imported: closing it would
 * ask its server. false when unsure (the imported copy is checked again). */
bool usv_fd_on_fuse(pid_t tgid, int fd);

#endif
