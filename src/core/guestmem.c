/* SPDX-License-Identifier: MIT */
#include "core/guestmem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/caller.h"
#include "core/procmaps.h"

int usv_guestmem_new(const struct usv_vhost_memory_region *regs, uint32_t n,
		     struct usv_guestmem **out)
{
	struct usv_guestmem *m;

	m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->regions[0]));
	if (!m)
		return -ENOMEM;
	m->memfd = -1;
	m->nregions = n;
	for (uint32_t i = 0; i < n; i++) {
		struct usv_mem_region *r = &m->regions[i];

		r->gpa = regs[i].guest_phys_addr;
		r->last = regs[i].guest_phys_addr + regs[i].memory_size - 1;
		r->uaddr = regs[i].userspace_addr;
		r->strategy = USV_MEM_PROCMEM;
		r->fd = -1;
		if (r->last < r->gpa) {
			free(m);
			return -EFAULT;
		}
	}
	*out = m;
	return 0;
}

/* Why a region stays on procmem, for the log ("region N: procmem (why)"). */
static void why(struct usv_mem_region *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void why(struct usv_mem_region *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* The run of adjacent shared mappings of one file holding [uaddr, uaddr+size):
 * the first of them in *first; writable only if every one is. */
static bool shared_run(struct usv_mem_region *r, const struct usv_vma *v, int nv,
		       uint64_t size, int *first, bool *writable)
{
	int i = usv_maps_find(v, nv, r->uaddr), j;

	if (i < 0) {
		why(r, "not mapped in the owner");
		return false;
	}
	snprintf(r->backing, sizeof(r->backing), "%s", v[i].path[0] ? v[i].path : "[anon]");
	if (!v[i].shared || v[i].inode == 0) {
		why(r, "private memory");
		return false;
	}
	*writable = v[i].write;
	for (j = i; v[j].end - r->uaddr < size; j++) {
		if (j + 1 == nv || v[j + 1].start != v[j].end || !v[j + 1].shared ||
		    v[j + 1].inode != v[i].inode || v[j + 1].dev_major != v[i].dev_major ||
		    v[j + 1].dev_minor != v[i].dev_minor ||
		    v[j + 1].offset != v[i].offset + (v[j + 1].start - v[i].start)) {
			why(r, "not one shared mapping of one file");
			return false;
		}
		*writable = *writable && v[j + 1].write;
	}
	*first = i;
	return true;
}

/* Filesystems whose files have no server behind their pages. */
static bool memory_fs(const char *fstype)
{
	return !strcmp(fstype, "tmpfs") || !strcmp(fstype, "hugetlbfs");
}

/*
 * The owner's own fd for the file of mapping vma, imported (pidfd_getfd) and
 * proven to be that file (statx: same device and inode). Only files of a
 * memory filesystem are imported: a file in the owner's mount namespace on
 * another filesystem is never touched (closing a FUSE file would ask its
 * server); one on no visible mount must be a memfd. -1 and why otherwise.
 */
static int owner_file(struct usv_mem_region *r, const struct usv_owner *o,
		      const struct usv_vma *vma, struct statx *stx)
{
	int fds[8], mnt[8], n;

	n = usv_fdinfo_find_ino(o->tgid, vma->inode, fds, mnt, 8);
	if (n < 0) {
		why(r, "cannot read the owner's fdinfo: %s", strerror(-n));
		return n;
	}
	why(r, "the owner holds no fd for that file");
	for (int i = 0; i < n; i++) {
		char fstype[64], link[96];
		int ret = usv_mount_fstype(o->tgid, mnt[i], fstype, sizeof(fstype));
		int fd;

		if (ret == 0 && !memory_fs(fstype)) {
			why(r, "a file on %.40s, not shared memory", fstype);
			continue;
		}
		if (ret == -ENOENT && (usv_fd_peek(o->tgid, fds[i], link, sizeof(link)) !=
				       USV_PEEK_PATH || strncmp(link, "/memfd:", 7))) {
			why(r, "a file on no visible mount, not a memfd");
			continue;
		}
		if (ret && ret != -ENOENT) {
			why(r, "cannot read the owner's mountinfo: %s", strerror(-ret));
			return ret;
		}
		fd = usv_pidfd_getfd(o->pidfd, fds[i]);
		if (fd < 0) {
			why(r, "cannot import the owner's fd %d: %s", fds[i], strerror(-fd));
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM)
				return fd;
			continue;
		}
		/* The fd may have been replaced since fdinfo was read: only
		 * what statx says of our copy counts. */
		if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC,
			  STATX_TYPE | STATX_INO | STATX_SIZE, stx) == 0 &&
		    (stx->stx_mask & (STATX_TYPE | STATX_INO | STATX_SIZE)) ==
			    (STATX_TYPE | STATX_INO | STATX_SIZE) &&
		    S_ISREG(stx->stx_mode) && stx->stx_ino == vma->inode &&
		    stx->stx_dev_major == vma->dev_major &&
		    stx->stx_dev_minor == vma->dev_minor)
			return fd;
		why(r, "the owner's fd %d is another file", fds[i]);
		close(fd);
	}
	return -1;
}

/* Maps region r through the owner's fd when its RAM is a shared, sealed
 * memory file; otherwise r stays on procmem with the reason in r->why. */
static void map_region(struct usv_mem_region *r, const struct usv_owner *o,
		       const struct usv_vma *v, int nv)
{
	uint64_t size = r->last - r->gpa + 1, foff, map_off, map_end, align;
	struct statx stx;
	bool writable;
	int first, fd, seals, prot;
	void *base;

	if (r->map_base)
		return; /* mapped by an earlier bind */
	if (size == 0 || r->uaddr + size < r->uaddr) {
		why(r, "the whole address space");
		return;
	}
	if (!shared_run(r, v, nv, size, &first, &writable))
		return;
	fd = owner_file(r, o, &v[first], &stx);
	if (fd < 0)
		return;
	/* Sealed against shrinking: the file can never be cut under our
	 * mapping (no SIGBUS). F_GET_SEALS works only on shmem and hugetlbfs,
	 * so there is no filesystem server behind the pages either. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		why(r, "not a memfd (no seals)");
		goto close_fd;
	}
	if (!(seals & F_SEAL_SHRINK)) {
		why(r, "%s not sealed against shrinking",
		    strncmp(r->backing, "/memfd:", 7) ? "file" : "memfd");
		goto close_fd;
	}
	foff = v[first].offset + (r->uaddr - v[first].start);
	if (foff + size < foff || foff + size > stx.stx_size) {
		why(r, "beyond the end of its file");
		goto close_fd;
	}
	/* hugetlbfs maps whole huge pages: its block size. */
	align = stx.stx_blksize >= 4096 && !(stx.stx_blksize & (stx.stx_blksize - 1)) ?
			stx.stx_blksize : 4096;
	map_off = foff & ~(align - 1);
	map_end = (foff + size + align - 1) & ~(align - 1);
	if (map_end < foff + size || map_end - map_off > SIZE_MAX) {
		why(r, "too large to map");
		goto close_fd;
	}
	/* Never more than the owner itself may do with the file. */
	writable = writable && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR;
	prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
	base = mmap(NULL, (size_t)(map_end - map_off), prot, MAP_SHARED, fd, (off_t)map_off);
	if (base == MAP_FAILED) {
		why(r, "mmap: %s", strerror(errno));
		goto close_fd;
	}
	r->map_base = base;
	r->map_len = (size_t)(map_end - map_off);
	r->map_off = map_off;
	r->local = (uint8_t *)base + (foff - map_off);
	r->writable = writable;
	r->strategy = USV_MEM_MMAP;
	r->why[0] = '\0';
	r->fd = fd; /* kept for a hand-over */
	return;
close_fd:
	close(fd);
}

int usv_guestmem_bind(struct usv_guestmem *m, const struct usv_owner *o)
{
	struct usv_vma *v = NULL;
	int nv;

	if (o->memfd < 0)
		return -EBADF;
	m->memfd = o->memfd;
	nv = usv_maps_read(o->tgid, &v);
	if (nv == -EMFILE || nv == -ENFILE || nv == -ENOMEM)
		return nv;
	for (uint32_t i = 0; i < m->nregions; i++) {
		if (nv < 0)
			why(&m->regions[i], "cannot read the owner's maps: %s", strerror(-nv));
		else
			map_region(&m->regions[i], o, v, nv);
	}
	free(v);
	return 0;
}

void usv_guestmem_free(struct usv_guestmem *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nregions; i++) {
		if (m->regions[i].map_base)
			munmap(m->regions[i].map_base, m->regions[i].map_len);
		if (m->regions[i].fd >= 0)
			close(m->regions[i].fd);
	}
	free(m);
}

int usv_guestmem_adopt(struct usv_guestmem *m, uint32_t i, int fd, uint64_t map_off,
		       uint64_t map_len, uint64_t local_off, bool writable)
{
	struct usv_mem_region *r;
	struct statx stx;
	uint64_t size;
	int seals, fl;
	void *base;

	if (i >= m->nregions || fd < 0)
		return -EINVAL;
	r = &m->regions[i];
	size = r->last - r->gpa + 1;
	if (r->map_base || size == 0 || map_len == 0 || map_len > SIZE_MAX ||
	    (map_off & 4095) || local_off >= map_len || size > map_len - local_off ||
	    map_off + map_len < map_off || map_off > INT64_MAX)
		return -EINVAL;
	/* The same rules as a mapping made from the owner's fd: a regular
	 * file that cannot shrink under us (no SIGBUS), never more access
	 * than the fd gives. */
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_SIZE,
		  &stx) || !S_ISREG(stx.stx_mode))
		return -EBADF;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK) || map_off + map_len > stx.stx_size)
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -EBADF;
	if (writable && (fl & O_ACCMODE) != O_RDWR)
		return -EACCES;
	base = mmap(NULL, (size_t)map_len, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		    MAP_SHARED, fd, (off_t)map_off);
	if (base == MAP_FAILED)
		return -errno;
	r->map_base = base;
	r->map_len = (size_t)map_len;
	r->map_off = map_off;
	r->local = (uint8_t *)base + local_off;
	r->writable = writable;
	r->strategy = USV_MEM_MMAP;
	r->why[0] = '\0';
	r->fd = fd;
	return 0;
}

const struct usv_mem_region *usv_guestmem_find(const struct usv_guestmem *m,
					       uint64_t gpa)
{
	for (uint32_t i = 0; m && i < m->nregions; i++)
		if (gpa >= m->regions[i].gpa && gpa <= m->regions[i].last)
			return &m->regions[i];
	return NULL;
}

const struct usv_mem_region *usv_guestmem_find_uva(const struct usv_guestmem *m,
						   uint64_t uva)
{
	for (uint32_t i = 0; m && i < m->nregions; i++) {
		const struct usv_mem_region *r = &m->regions[i];

		if (uva >= r->uaddr && uva - r->uaddr <= r->last - r->gpa)
			return r;
	}
	return NULL;
}

int usv_gpa_to_uva(const struct usv_guestmem *m, uint64_t gpa, uint64_t len,
		   uint64_t *uva)
{
	const struct usv_mem_region *r = usv_guestmem_find(m, gpa);

	if (!r || len == 0 || len - 1 > r->last - gpa)
		return -EFAULT;
	*uva = r->uaddr + (gpa - r->gpa);
	return 0;
}

/* One step of a gpa copy: the bytes available in gpa's region. */
static int gpa_step(const struct usv_guestmem *m, uint64_t gpa, size_t len,
		    const struct usv_mem_region **rp, size_t *n)
{
	const struct usv_mem_region *r = usv_guestmem_find(m, gpa);
	uint64_t avail;

	if (!r)
		return -EFAULT;
	avail = r->last - gpa; /* bytes after gpa in the region, minus one */
	*n = (uint64_t)len - 1 > avail ? (size_t)avail + 1 : len;
	*rp = r;
	return 0;
}

int usv_gpa_read(const struct usv_guestmem *m, uint64_t gpa, void *buf,
		 size_t len)
{
	uint8_t *p = buf;

	while (len) {
		const struct usv_mem_region *r;
		size_t n;
		int ret = gpa_step(m, gpa, len, &r, &n);

		if (ret)
			return ret;
		if (r->local)
			memcpy(p, r->local + (gpa - r->gpa), n);
		else if ((ret = usv_procmem_read(m->memfd, r->uaddr + (gpa - r->gpa), p, n)))
			return ret;
		p += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int usv_gpa_write(const struct usv_guestmem *m, uint64_t gpa, const void *buf,
		  size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		const struct usv_mem_region *r;
		size_t n;
		int ret = gpa_step(m, gpa, len, &r, &n);

		if (ret)
			return ret;
		if (r->local && r->writable)
			memcpy(r->local + (gpa - r->gpa), p, n);
		else if ((ret = usv_procmem_write(m->memfd, r->uaddr + (gpa - r->gpa), p, n)))
			return ret;
		p += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

/* Our pointer for uva..uva+len-1 in one mapped region (writable when write). */
static void *uva_mapped(const struct usv_guestmem *m, uint64_t uva, size_t len,
			bool write)
{
	for (uint32_t i = 0; m && len && i < m->nregions; i++) {
		const struct usv_mem_region *r = &m->regions[i];
		uint64_t span = r->last - r->gpa; /* region bytes minus one */

		if (!r->local || (write && !r->writable) || uva < r->uaddr)
			continue;
		if (uva - r->uaddr <= span && len - 1 <= span - (uva - r->uaddr))
			return r->local + (uva - r->uaddr);
	}
	return NULL;
}

void *usv_uva_local(const struct usv_guestmem *m, uint64_t uva, size_t len)
{
	return uva_mapped(m, uva, len, true);
}

int usv_uva_read(const struct usv_guestmem *m, uint64_t uva, void *buf,
		 size_t len)
{
	void *p = uva_mapped(m, uva, len, false);

	if (p) {
		memcpy(buf, p, len);
		return 0;
	}
	if (!m || m->memfd < 0)
		return -EFAULT;
	return usv_procmem_read(m->memfd, uva, buf, len);
}

int usv_uva_write(const struct usv_guestmem *m, uint64_t uva, const void *buf,
		  size_t len)
{
	void *p = uva_mapped(m, uva, len, true);

	if (p) {
		memcpy(p, buf, len);
		return 0;
	}
	if (!m || m->memfd < 0)
		return -EFAULT;
	return usv_procmem_write(m->memfd, uva, buf, len);
}

const char *usv_mem_strategy_name(enum usv_mem_strategy s)
{
	return s == USV_MEM_MMAP ? "mmap" : "procmem";
}
