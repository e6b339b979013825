/* SPDX-License-Identifier: MIT */
/*
 * Reaching the calling process: thread id to process id, the owner pinned at
 * SET_OWNER (a pidfd and its /proc/<pid>/mem), fds imported with
 * pidfd_getfd(), and what an fd is, found without any filesystem call.
 */
#ifndef USV_CORE_CALLER_H
#define USV_CORE_CALLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Resolve the process of thread tid. hint is a likely answer (the device's
 * owner) checked first with one stat of /proc/<hint>/task/<tid>.
 * -ESRCH or -ENOENT: the thread is gone; anything else (-EMFILE, -ENFILE,
 * -ENOMEM) is the daemon's own trouble. */
int usv_caller_tgid(pid_t tid, pid_t hint, pid_t *tgid);
/* The process' command name (comm), for logs; "?" when gone. */
void usv_caller_comm(pid_t tgid, char *buf, size_t len);
int usv_pidfd_open(pid_t tgid);
/* Duplicates fd number remote_fd of the pidfd's process into ours. */
int usv_pidfd_getfd(int pidfd, int remote_fd);
int usv_procmem_open(pid_t tgid);
/* Whole transfers through /proc/<pid>/mem; -EFAULT on a short or failed one
 * (0 bytes once the mm it was opened on has no users: exec or exit). */
int usv_procmem_read(int memfd, uint64_t addr, void *buf, size_t len);
int usv_procmem_write(int memfd, uint64_t addr, const void *buf, size_t len);

/*
 * The owner: the process that sent SET_OWNER, pinned while it was inside
 * that request (it cannot exec or exit then). The pidfd names the process
 * (no pid reuse); memfd is /proc/<tgid>/mem opened then, which stays bound
 * to that address space: after an exec or exit it reads and writes nothing.
 * probe is an address that address space always has (the start of its
 * stack), read to tell whether it is still the one in use.
 */
struct usv_owner {
	pid_t tgid; /* 0: no owner */
	int pidfd;
	int memfd;
	uint64_t probe;
	char comm[16];
};

/* Pins process tgid (the caller of the request being served) into *o. */
int usv_owner_pin(pid_t tgid, struct usv_owner *o);
/* Closes what usv_owner_pin() opened; *o is then "no owner". */
void usv_owner_release(struct usv_owner *o);
/* Has the owner neither exited nor exec'd? No signal, no privilege needed:
 * the pidfd is not readable and one byte at probe reads back. */
bool usv_owner_alive(const struct usv_owner *o);

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

/* Classifies a local fd; never fails (USV_FD_OTHER when unsure). No
 * filesystem call reaches the file's filesystem: the kind comes from the
 * /proc/self/fd link, statx(AT_STATX_DONT_SYNC) and socket options; only a
 * tun or macvtap/ipvtap node gets TUNGETIFF. */
void usv_fd_classify(int fd, struct usv_fd_info *info);
const char *usv_fd_kind_name(enum usv_fd_kind kind);

/* What fd number remote_fd of process tgid looks like from its
 * /proc/<tgid>/fd link, before anything is imported. */
enum usv_fd_peek {
	USV_PEEK_GONE = 0, /* no such fd (or no such process) */
	USV_PEEK_EVENTFD,  /* anon_inode:[eventfd] */
	USV_PEEK_SOCKET,   /* socket:[...] */
	USV_PEEK_PATH,     /* a file with a path: may be a device node */
	USV_PEEK_OTHER,    /* another anonymous inode, a pipe, ... */
};
enum usv_fd_peek usv_fd_peek(pid_t tgid, int remote_fd, char *target, size_t len);

#endif
