/* SPDX-License-Identifier: MIT */
/*
 * Reaching the calling process: thread id to process id, a pidfd, fds imported
 * with pidfd_getfd(), /proc/<pid>/mem, and what an imported fd is.
 */
#ifndef USV_CORE_CALLER_H
#define USV_CORE_CALLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Resolve the process of thread tid. hint is a likely answer (the device's
 * owner) checked first with one stat of /proc/<hint>/task/<tid>. */
int usv_caller_tgid(pid_t tid, pid_t hint, pid_t *tgid);
/* The process' command name (comm), for logs; "?" when gone. */
void usv_caller_comm(pid_t tgid, char *buf, size_t len);
int usv_pidfd_open(pid_t tgid);
/* Duplicates fd number remote_fd of the pidfd's process into ours. */
int usv_pidfd_getfd(int pidfd, int remote_fd);
int usv_procmem_open(pid_t tgid);
/* Whole transfers through /proc/<pid>/mem; -EFAULT on a short or failed one. */
int usv_procmem_read(int memfd, uint64_t addr, void *buf, size_t len);
int usv_procmem_write(int memfd, uint64_t addr, const void *buf, size_t len);
/* The same through process_vm_readv/writev: page protections apply. */
int usv_vm_read(pid_t pid, uint64_t addr, void *buf, size_t len);
int usv_vm_write(pid_t pid, uint64_t addr, const void *buf, size_t len);

enum usv_fd_kind {
	USV_FD_OTHER = 0,
	USV_FD_EVENTFD,
	USV_FD_TAP,        /* tun/tap or macvtap attached to an interface */
	USV_FD_TUN_DETACHED, /* /dev/net/tun not yet attached (TUNSETIFF) */
	USV_FD_PACKET,     /* AF_PACKET SOCK_RAW socket */
	USV_FD_SOCKET,     /* any other socket */
	USV_FD_MEMFD,
};

struct usv_fd_info {
	enum usv_fd_kind kind;
	char ifname[16]; /* tap: interface name */
	unsigned short tun_flags; /* tap: IFF_* flags */
};

/* Classifies a local fd; never fails (USV_FD_OTHER when unsure). */
void usv_fd_classify(int fd, struct usv_fd_info *info);
const char *usv_fd_kind_name(enum usv_fd_kind kind);

#endif
