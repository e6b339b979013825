/* SPDX-License-Identifier: MIT */
#include "core/guestmem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/caller.h"

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
		if (r->last < r->gpa) {
			free(m);
			return -EFAULT;
		}
	}
	*out = m;
	return 0;
}

struct vma {
	uint64_t start, end, offset, inode;
	unsigned dev_major, dev_minor;
	bool shared;
	char path[64];
};

/* Reads the owner's maps; returns the count or -errno. */
static int read_maps(pid_t tgid, struct vma **out)
{
	char path[64], line[512];
	struct vma *v = NULL;
	int n = 0, cap = 0, ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", tgid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct vma cur = { 0 };
		char perms[5] = "";
		int pos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &cur.start, &cur.end, perms, &cur.offset,
			   &cur.dev_major, &cur.dev_minor, &cur.inode, &pos) < 7)
			continue;
		cur.shared = perms[3] == 's';
		snprintf(cur.path, sizeof(cur.path), "%s", line + pos);
		cur.path[strcspn(cur.path, "\n")] = '\0';
		if (n == cap) {
			struct vma *nv;

			cap = cap ? cap * 2 : 256;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				ret = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[n++] = cur;
	}
out:
	fclose(f);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	return n;
}

/* Maps region r when a run of adjacent shared VMAs of one file covers it. */
static void map_region(struct usv_mem_region *r, pid_t tgid,
		       const struct vma *v, int nv)
{
	uint64_t size = r->last - r->gpa + 1;
	uint64_t run_end;
	char path[96];
	void *base;
	int i, j, fd;

	if (size == 0 || r->uaddr + size < r->uaddr)
		return; /* the whole 64-bit space: nothing can map it */
	for (i = 0; i < nv; i++)
		if (r->uaddr >= v[i].start && r->uaddr < v[i].end)
			break;
	if (i == nv)
		return;
	snprintf(r->backing, sizeof(r->backing), "%s",
		 v[i].path[0] ? v[i].path : "[anon]");
	if (!v[i].shared || v[i].inode == 0)
		return;
	run_end = v[i].end;
	for (j = i + 1; j < nv && run_end < r->uaddr + size; j++) {
		if (v[j].start != run_end || !v[j].shared ||
		    v[j].inode != v[i].inode || v[j].dev_major != v[i].dev_major ||
		    v[j].dev_minor != v[i].dev_minor ||
		    v[j].offset != v[i].offset + (v[j].start - v[i].start))
			break;
		run_end = v[j].end;
	}
	if (r->uaddr + size > run_end)
		return;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 tgid, v[i].start, v[i].end);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	base = mmap(NULL, run_end - v[i].start, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, (off_t)v[i].offset);
	close(fd);
	if (base == MAP_FAILED)
		return;
	r->map_base = base;
	r->map_len = run_end - v[i].start;
	r->local = (uint8_t *)base + (r->uaddr - v[i].start);
	r->strategy = USV_MEM_MMAP;
}

int usv_guestmem_bind(struct usv_guestmem *m, pid_t tgid, int procmem_fd)
{
	struct vma *v = NULL;
	int nv;

	if (m->memfd >= 0)
		close(m->memfd);
	m->memfd = fcntl(procmem_fd, F_DUPFD_CLOEXEC, 0);
	if (m->memfd < 0)
		return -errno;
	m->tgid = tgid;
	nv = read_maps(tgid, &v);
	if (nv < 0)
		return 0; /* every region stays on procmem */
	for (uint32_t i = 0; i < m->nregions; i++)
		map_region(&m->regions[i], tgid, v, nv);
	free(v);
	return 0;
}

void usv_guestmem_free(struct usv_guestmem *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nregions; i++)
		if (m->regions[i].map_base)
			munmap(m->regions[i].map_base, m->regions[i].map_len);
	if (m->memfd >= 0)
		close(m->memfd);
	free(m);
}

const struct usv_mem_region *usv_guestmem_find(const struct usv_guestmem *m,
					       uint64_t gpa)
{
	for (uint32_t i = 0; m && i < m->nregions; i++)
		if (gpa >= m->regions[i].gpa && gpa <= m->regions[i].last)
			return &m->regions[i];
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
		if (r->local)
			memcpy(r->local + (gpa - r->gpa), p, n);
		else if ((ret = usv_procmem_write(m->memfd, r->uaddr + (gpa - r->gpa), p, n)))
			return ret;
		p += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

void *usv_uva_local(const struct usv_guestmem *m, uint64_t uva, size_t len)
{
	for (uint32_t i = 0; m && len && i < m->nregions; i++) {
		const struct usv_mem_region *r = &m->regions[i];
		uint64_t span = r->last - r->gpa; /* region bytes minus one */

		if (!r->local || uva < r->uaddr)
			continue;
		if (uva - r->uaddr <= span && len - 1 <= span - (uva - r->uaddr))
			return r->local + (uva - r->uaddr);
	}
	return NULL;
}

int usv_uva_read(const struct usv_guestmem *m, uint64_t uva, void *buf,
		 size_t len)
{
	void *p = usv_uva_local(m, uva, len);

	if (p) {
		memcpy(buf, p, len);
		return 0;
	}
	if (!m || !m->tgid)
		return -EFAULT;
	return usv_vm_read(m->tgid, uva, buf, len);
}

int usv_uva_write(const struct usv_guestmem *m, uint64_t uva, const void *buf,
		  size_t len)
{
	void *p = usv_uva_local(m, uva, len);

	if (p) {
		memcpy(p, buf, len);
		return 0;
	}
	if (!m || !m->tgid)
		return -EFAULT;
	return usv_vm_write(m->tgid, uva, buf, len);
}

const char *usv_mem_strategy_name(enum usv_mem_strategy s)
{
	return s == USV_MEM_MMAP ? "mmap" : "procmem";
}
