/* SPDX-License-Identifier: MIT */
#include "core/caller.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/sysmacros.h>
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
		return -errno;
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

/* Whole transfers: a partial one means a fault part way. */
static int vm_xfer(pid_t pid, uint64_t addr, void *buf, size_t len, bool write)
{
	while (len) {
		struct iovec local = { .iov_base = buf, .iov_len = len };
		struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
		ssize_t n = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0)
				  : process_vm_readv(pid, &local, 1, &remote, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 && errno == ESRCH ? -ESRCH : -EFAULT;
		buf = (uint8_t *)buf + n;
		addr += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int usv_vm_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	if (addr + len < addr || addr + len > USV_TASK_SIZE_MAX)
		return -EFAULT;
	return vm_xfer(pid, addr, buf, len, false);
}

int usv_vm_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	if (addr + len < addr || addr + len > USV_TASK_SIZE_MAX)
		return -EFAULT;
	return vm_xfer(pid, addr, (void *)buf, len, true);
}

static bool fd_link_is(int fd, const char *prefix)
{
	char path[64], target[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return !strncmp(target, prefix, strlen(prefix));
}

/* /dev/net/tun (10:200), or a macvtap/ipvtap node (dynamic major, known by
 * its sysfs class). */
static bool is_tap_chrdev(dev_t rdev)
{
	char path[64], target[256];
	const char *cls;
	ssize_t n;

	if (major(rdev) == 10 && minor(rdev) == 200)
		return true;
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/subsystem", major(rdev),
		 minor(rdev));
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	cls = strrchr(target, '/');
	cls = cls ? cls + 1 : target;
	return !strcmp(cls, "macvtap") || !strcmp(cls, "ipvtap");
}

void usv_fd_classify(int fd, struct usv_fd_info *info)
{
	struct stat st;
	struct ifreq ifr;

	memset(info, 0, sizeof(*info));
	if (fstat(fd, &st) < 0)
		return;
	if (S_ISSOCK(st.st_mode)) {
		int type = 0, domain = 0;
		socklen_t len = sizeof(type);

		info->kind = USV_FD_SOCKET;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    (len = sizeof(domain),
		     getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0) &&
		    type == SOCK_RAW && domain == AF_PACKET)
			info->kind = USV_FD_PACKET;
		return;
	}
	if (S_ISCHR(st.st_mode)) {
		/* Only a tun or macvtap/ipvtap node gets TUNGETIFF: an ioctl on
		 * any other device could land anywhere, our own CUSE node
		 * included (a request to ourselves, under the device lock). */
		if (!is_tap_chrdev(st.st_rdev))
			return;
		memset(&ifr, 0, sizeof(ifr));
		if (ioctl(fd, TUNGETIFF, &ifr) == 0) {
			info->kind = USV_FD_TAP;
			memcpy(info->ifname, ifr.ifr_name, sizeof(info->ifname) - 1);
			info->tun_flags = (unsigned short)ifr.ifr_flags;
		} else if (errno == EBADFD && major(st.st_rdev) == 10 &&
			   minor(st.st_rdev) == 200) {
			info->kind = USV_FD_TUN_DETACHED;
		}
		return;
	}
	if (fd_link_is(fd, "anon_inode:[eventfd]")) {
		info->kind = USV_FD_EVENTFD;
		return;
	}
	if (fd_link_is(fd, "/memfd:"))
		info->kind = USV_FD_MEMFD;
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
