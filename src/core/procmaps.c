/* SPDX-License-Identifier: MIT */
#include "core/procmaps.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line of /proc/<pid>/maps. The kernel escapes a newline in a path, so
 * a whole line is one mapping; a line that does not parse fully is an
 * error, never skipped (its tail could pass for a mapping otherwise). */
static int parse_vma(const char *line, struct usv_vma *v)
{
	char perms[8] = "";
	int pos = 0;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 "%n",
		   &v->start, &v->end, perms, &v->offset, &v->dev_major,
		   &v->dev_minor, &v->inode, &pos) < 7 || strlen(perms) != 4 ||
	    v->end <= v->start)
		return -EINVAL;
	v->read = perms[0] == 'r';
	v->write = perms[1] == 'w';
	v->shared = perms[3] == 's';
	line += pos;
	line += strspn(line, " \t");
	snprintf(v->path, sizeof(v->path), "%.*s", (int)strcspn(line, "\n"), line);
	return 0;
}

int usv_maps_read(pid_t tgid, struct usv_vma **out)
{
	char path[64], *line = NULL;
	struct usv_vma *v = NULL;
	size_t cap_line = 0;
	int n = 0, cap = 0, ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", tgid);
	f = fopen(path, "re");
	if (!f)
		return errno ? -errno : -ENOMEM;
	errno = 0;
	while (getline(&line, &cap_line, f) > 0) {
		struct usv_vma cur;

		ret = parse_vma(line, &cur);
		if (ret)
			goto free_v;
		if (n && cur.start < v[n - 1].end) {
			ret = -EINVAL; /* not in address order */
			goto free_v;
		}
		if (n == cap) {
			struct usv_vma *nv;

			cap = cap ? cap * 2 : 256;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				ret = -ENOMEM;
				goto free_v;
			}
			v = nv;
		}
		v[n++] = cur;
	}
	if (ferror(f) || errno == ENOMEM) {
		ret = errno ? -errno : -EIO;
		goto free_v;
	}
	free(line);
	fclose(f);
	*out = v;
	return n;
free_v:
	free(v);
	free(line);
	fclose(f);
	return ret;
}

int usv_maps_find(const struct usv_vma *v, int n, uint64_t addr)
{
	for (int i = 0; i < n; i++)
		if (addr >= v[i].start && addr < v[i].end)
			return i;
	return -1;
}

bool usv_maps_cover(const struct usv_vma *v, int n, uint64_t addr, uint64_t len,
		    bool write)
{
	uint64_t end = addr + len;
	int i;

	if (len == 0)
		return true;
	if (end < addr)
		return false;
	i = usv_maps_find(v, n, addr);
	if (i < 0)
		return false;
	for (;; i++) {
		if (!v[i].read || (write && !v[i].write))
			return false;
		if (end <= v[i].end)
			return true;
		if (i + 1 == n || v[i + 1].start != v[i].end)
			return false;
	}
}

/* The value of "key" in an fdinfo text, or -1. */
static int64_t fdinfo_value(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen))
			return (int64_t)strtoull(p + klen, NULL, 10);
	return -1;
}

static int read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return errno ? -errno : -ENOMEM;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

int usv_fdinfo_find_ino(pid_t tgid, uint64_t ino, int *fds, int *mnt_ids, int max)
{
	char path[64], text[512];
	struct dirent *de;
	int found = 0, ret;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", tgid);
	d = opendir(path);
	if (!d)
		return errno ? -errno : -ENOMEM;
	while (found < max && (de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || fd > INT32_MAX)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%ld", tgid, fd);
		ret = read_small(path, text, sizeof(text));
		if (ret == -EMFILE || ret == -ENFILE || ret == -ENOMEM) {
			closedir(d);
			return ret;
		}
		if (ret || fdinfo_value(text, "ino:") != (int64_t)ino)
			continue; /* closed meanwhile, or another file */
		fds[found] = (int)fd;
		mnt_ids[found] = (int)fdinfo_value(text, "mnt_id:");
		found++;
	}
	closedir(d);
	return found;
}

int usv_mount_fstype(pid_t tgid, int mnt_id, char *fstype, size_t len)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", tgid);
	f = fopen(path, "re");
	if (!f)
		return errno ? -errno : -ENOMEM;
	while (getline(&line, &cap, f) > 0) {
		const char *sep;
		char type[64];

		/* "ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - TYPE SOURCE ..." */
		if (atoi(line) != mnt_id)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%63s", type) != 1) {
			ret = -EINVAL;
			break;
		}
		snprintf(fstype, len, "%s", type);
		ret = 0;
		break;
	}
	free(line);
	fclose(f);
	return ret;
}

bool usv_fd_on_fuse(pid_t tgid, int fd)
{
	char path[64], text[512], fstype[64];
	int64_t mnt;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", tgid, fd);
	if (read_small(path, text, sizeof(text)))
		return false;
	mnt = fdinfo_value(text, "mnt_id:");
	if (mnt < 0 || mnt > INT32_MAX ||
	    usv_mount_fstype(tgid, (int)mnt, fstype, sizeof(fstype)))
		return false;
	return !strcmp(fstype, "fuse") || !strcmp(fstype, "fuseblk") ||
	       !strncmp(fstype, "fuse.", 5);
}
