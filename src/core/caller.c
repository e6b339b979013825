/* SPDX-License-Identifier: MIT */
#include "core/caller.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "usvhost/vhost_abi.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int usv_caller_tgid(pid_t tid, pid_t hint, pid_t *tgid)
{
	char path[64], line[128];
	FILE *f;
	int ret = -ESRCH;

	if (tid <= 0)
		return -ESRCH;
	if (hint > 0) {
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%d/task/%d", hint, tid);
		if (stat(path, &st) == 0) {
			*tgid = hint;
			return 0;
		}
	}
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return errno ? -errno : -ENOMEM;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Tgid:", 5)) {
			*tgid = (pid_t)strtol(line + 5, NULL, 10);
			ret = *tgid > 0 ? 0 : -ESRCH;
			break;
		}
	}
	fclose(f);
	return ret;
}

void usv_caller_comm(pid_t tgid, char *buf, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

int usv_pidfd_open(pid_t tgid)
{
	long fd = syscall(SYS_pidfd_open, tgid, 0);

	return fd < 0 ? -errno : (int)fd;
}

int usv_pidfd_getfd(int pidfd, int remote_fd)
{
	long fd;

	if (remote_fd < 0)
		return -EBADF;
	fd = syscall(SYS_pidfd_getfd, pidfd, remote_fd, 0);
	return fd < 0 ? -errno : (int)fd;
}

int usv_procmem_open(pid_t tgid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", tgid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Whole transfers through /proc/<pid>/mem; the kernel's copy_from_user()
 * refuses what lies beyond user space, and so do these. */
static int procmem_xfer(int memfd, uint64_t addr, void *buf, size_t len, bool write)
{
	uint8_t *p = buf;

	if (addr + len < addr || addr + len > USV_TASK_SIZE_MAX)
		return -EFAULT;
	while (len) {
		ssize_t n = write ? pwrite(memfd, p, len, (off_t)addr)
				  : pread(memfd, p, len, (off_t)addr);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EFAULT;
		p += n;
		addr += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int usv_procmem_read(int memfd, uint64_t addr, void *buf, size_t len)
{
	return procmem_xfer(memfd, addr, buf, len, false);
}

int usv_procmem_write(int memfd, uint64_t addr, const void *buf, size_t len)
{
	return procmem_xfer(memfd, addr, (void *)buf, len, true);
}

/* mm->start_stack of process tgid: field 28 of /proc/<tgid>/stat, counted
 * after the last ')' (the command name may hold spaces and parentheses). */
static int read_start_stack(pid_t tgid, uint64_t *out)
{
	char path[64], buf[2048], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -ESRCH;
	/* After ')': field 3 (state) onwards, one space before each. */
	for (field = 2; field < 28 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -ESRCH;
	*out = strtoull(p + 1, NULL, 10);
	return *out ? 0 : -ESRCH;
}

int usv_owner_pin(pid_t tgid, struct usv_owner *o)
{
	uint8_t b;
	int ret;

	*o = (struct usv_owner){ .tgid = tgid, .pidfd = -1, .memfd = -1 };
	o->pidfd = usv_pidfd_open(tgid);
	if (o->pidfd < 0) {
		ret = o->pidfd;
		goto release;
	}
	o->memfd = usv_procmem_open(tgid);
	if (o->memfd < 0) {
		ret = o->memfd;
		goto release;
	}
	ret = read_start_stack(tgid, &o->probe);
	if (ret)
		goto release;
	/* The probe must answer now, or usv_owner_alive() never would. */
	if (pread(o->memfd, &b, 1, (off_t)o->probe) != 1) {
		ret = -EFAULT;
		goto release;
	}
	usv_caller_comm(tgid, o->comm, sizeof(o->comm));
	return 0;
release:
	usv_owner_release(o);
	return ret;
}

void usv_owner_release(struct usv_owner *o)
{
	if (o->pidfd >= 0)
		close(o->pidfd);
	if (o->memfd >= 0)
		close(o->memfd);
	*o = (struct usv_owner){ .pidfd = -1, .memfd = -1 };
}

bool usv_owner_alive(const struct usv_owner *o)
{
	struct pollfd pfd = { .fd = o->pidfd, .events = POLLIN };
	uint8_t b;

	if (!o->tgid || o->pidfd < 0 || o->memfd < 0)
		return false;
	/* A pidfd is readable once its process has exited. */
	if (poll(&pfd, 1, 0) != 0 && (pfd.revents & POLLIN))
		return false;
	/* After an exec the pinned address space has no users left and
	 * /proc/<pid>/mem reads 0 bytes from it. */
	return pread(o->memfd, &b, 1, (off_t)o->probe) == 1;
}
/* The target of a /proc/.../fd/N link; -errno when there is none. */
static int fd_link(const char *path, char *target, size_t len)
{
	ssize_t n = readlink(path, target, len - 1);

	if (n < 0)
		return -errno;
	target[n] = '\0';
	return 0;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* /dev/net/tun (10:200), or a macvtap/ipvtap node (dynamic major, known by
 * its sysfs class). */
static bool is_tap_chrdev(unsigned maj, unsigned min)
{
	char path[64], target[256];
	const char *cls;

	if (maj == 10 && min == 200)
		return true;
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/subsystem", maj, min);
	if (fd_link(path, target, sizeof(target)))
		return false;
	cls = strrchr(target, '/');
	cls = cls ? cls + 1 : target;
	return !strcmp(cls, "macvtap") || !strcmp(cls, "ipvtap");
}

static void classify_socket(int fd, struct usv_fd_info *info)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);

	info->kind = USV_FD_SOCKET;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    (len = sizeof(domain),
	     getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0) &&
	    type == SOCK_RAW && domain == AF_PACKET)
		info->kind = USV_FD_PACKET;
}

/* A tun or macvtap/ipvtap node: attached (interface name) or a detached tun. */
static void classify_chrdev(int fd, struct usv_fd_info *info)
{
	struct statx stx;
	struct ifreq ifr;

	/* Cached attributes only: no request reaches a filesystem server. */
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) ||
	    !(stx.stx_mask & STATX_TYPE) || !S_ISCHR(stx.stx_mode))
		return;
	/* Only a tun or macvtap/ipvtap node gets TUNGETIFF: an ioctl on any
	 * other device could land anywhere, our own CUSE node included (a
	 * request to ourselves, under the device lock). */
	if (!is_tap_chrdev(stx.stx_rdev_major, stx.stx_rdev_minor))
		return;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) == 0) {
		info->kind = USV_FD_TAP;
		memcpy(info->ifname, ifr.ifr_name, sizeof(info->ifname) - 1);
		info->tun_flags = (unsigned short)ifr.ifr_flags;
	} else if (errno == EBADFD && stx.stx_rdev_major == 10 &&
		   stx.stx_rdev_minor == 200) {
		info->kind = USV_FD_TUN_DETACHED;
	}
}

void usv_fd_classify(int fd, struct usv_fd_info *info)
{
	char path[64], target[256];

	memset(info, 0, sizeof(*info));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (fd_link(path, target, sizeof(target)))
		return;
	if (!strcmp(target, "anon_inode:[eventfd]"))
		info->kind = USV_FD_EVENTFD;
	else if (starts_with(target, "socket:["))
		classify_socket(fd, info);
	else if (starts_with(target, "/memfd:"))
		info->kind = USV_FD_MEMFD;
	else if (target[0] == '/')
		classify_chrdev(fd, info);
}

enum usv_fd_peek usv_fd_peek(pid_t tgid, int remote_fd, char *target, size_t len)
{
	char path[64];

	if (tgid <= 0 || remote_fd < 0 || len < 2)
		return USV_PEEK_GONE;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", tgid, remote_fd);
	if (fd_link(path, target, len)) {
		target[0] = '\0';
		return USV_PEEK_GONE;
	}
	if (!strcmp(target, "anon_inode:[eventfd]"))
		return USV_PEEK_EVENTFD;
	if (starts_with(target, "socket:["))
		return USV_PEEK_SOCKET;
	return target[0] == '/' ? USV_PEEK_PATH : USV_PEEK_OTHER;
}

const char *usv_fd_kind_name(enum usv_fd_kind kind)
{
	switch (kind) {
	case USV_FD_EVENTFD:
		return "eventfd";
	case USV_FD_TAP:
		return "tap";
	case USV_FD_TUN_DETACHED:
		return "tun-detached";
	case USV_FD_PACKET:
		return "packet";
	case USV_FD_SOCKET:
		return "socket";
	case USV_FD_MEMFD:
		return "memfd";
	case USV_FD_OTHER:
		break;
	}
	return "other";
}
