/* SPDX-License-Identifier: MIT */
/*
 * usvhostd's system call allow-list. The list was taken from what the daemon
 * does once its privileges are dropped (strace -f over the integration
 * tests and the e2e traffic test: --trace, --stats, shutdown, on the FUSE
 * front), plus what libfuse's CUSE session and the NUMA paths do by reading
 * their code, and checked in kill mode over the same tests and the e2e
 * SIGKILL test. Each group says why it is there. Filters on
 * arguments where they are cheap and matter: clone for threads only, signals
 * to this process only, the ioctls, fcntl commands, prctl options, socket
 * family and socket options the daemon uses.
 *
 * A call off the list (enforce mode) traps: the SIGSYS handler makes it
 * return -EPERM, as a missing right would, and logs the first call of each
 * number. No thread of the daemon blocks SIGSYS (a blocked SIGSYS would turn
 * the trap into a kill), and glibc's windows with every signal blocked
 * (pthread_create) make only calls that are on the list.
 */
#include "daemon/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/log.h"

/* The SIGSYS handler can set the return value on these; elsewhere enforce
 * mode answers EPERM through SECCOMP_RET_ERRNO, unlogged. */
#if defined(__x86_64__) || defined(__aarch64__)
#define USV_SECCOMP_TRAP 1
#else
#define USV_SECCOMP_TRAP 0
#endif

/* si_code of a SIGSYS raised by SECCOMP_RET_TRAP (glibc does not name it). */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

#if defined(__SANITIZE_ADDRESS__)
#define USV_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USV_SANITIZED 1
#endif
#endif
#ifndef USV_SANITIZED
#define USV_SANITIZED 0
#endif

/* Calls allowed whatever their arguments. */
static const int allow_plain[] = {
	/* Memory: malloc (brk, mmap, mremap for realloc, madvise when glibc
	 * trims its arenas), thread stacks and their guard pages (mprotect),
	 * guest RAM mapped from the caller's own descriptor (MAP_SHARED), a
	 * device's state on its memory's NUMA node (mbind, get_mempolicy).
	 * PROT_EXEC cannot be refused: libfuse cancels its loop threads at
	 * exit, and glibc's first pthread_cancel dlopens libgcc_s. */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(mbind), SCMP_SYS(get_mempolicy),
	/* Threads: start (set_robust_list, rseq) and end (exit), mutexes and
	 * condition variables (futex), a worker pinned to its node's CPUs
	 * (sched_setaffinity), glibc's and libnuma's CPU counts. clone and
	 * clone3 are below. */
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(futex), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_setaffinity),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	/* Signals: libfuse's SIGINT/SIGTERM/SIGHUP handlers (removed at exit),
	 * the signal that interrupts a worker stuck in a call (tgkill below),
	 * SIGUSR1 read by the stats writer through a signalfd, and the return
	 * from any handler, this file's SIGSYS one included. */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall), SCMP_SYS(signalfd4),
	/* Time: log lines, timed waits (the vDSO, or these without one). */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	/* Files: FUSE and CUSE requests and answers (read, writev on
	 * /dev/fuse or /dev/cuse), the owner's pinned /proc/PID/mem (pread64, pwrite64 and the
	 * vector forms), /proc/PID/maps, fdinfo, mountinfo, status and the fd
	 * links (openat, read, getdents64, readlink, statx, newfstatat), log,
	 * stats and trace files (the stats file is written aside and renamed),
	 * eventfds (the worker's own; writes to the caller's), close. */
	SCMP_SYS(openat), SCMP_SYS(close), SCMP_SYS(read), SCMP_SYS(write),
	SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
	SCMP_SYS(preadv), SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
	SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getdents64),
	SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2),
	SCMP_SYS(eventfd2), SCMP_SYS(poll), SCMP_SYS(ppoll),
	/* The caller's process and descriptors: its pidfd (pinned at
	 * SET_OWNER), pidfd_getfd to import its fds with its own open mode,
	 * kcmp to tell whether two of its fds are one file. */
	SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_getfd), SCMP_SYS(kcmp),
	/* The datapath: one io_uring per device. What io_uring does for us
	 * (reads, writes, polls) is not seen by seccomp. */
	SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
	/* The FUSE unmount at exit: CAP_SYS_ADMIN, kept permitted, is raised
	 * around it (capget, capset), libfuse checks it runs as root (geteuid)
	 * and unmounts itself (umount2) rather than running fusermount3. */
	SCMP_SYS(capget), SCMP_SYS(capset), SCMP_SYS(umount2), SCMP_SYS(geteuid),
	/* syslog: glibc reconnects to /dev/log (socket below, connect) and
	 * sends each line; this file's SIGSYS reports use the same path. */
	SCMP_SYS(connect), SCMP_SYS(sendto),
	/* json-c seeds its hash tables (the trace recorder's objects). */
	SCMP_SYS(getrandom),
	/* The control socket (--control), bound before the drop: clients
	 * accepted, their requests and passed fds (recvmsg), a trace file
	 * opened on request (its header names the kernel: uname; its
	 * filesystem checked: fstatfs), the socket file removed at exit. */
	SCMP_SYS(accept4), SCMP_SYS(recvmsg), SCMP_SYS(uname), SCMP_SYS(fstatfs),
	SCMP_SYS(unlink),
	/* A hand-over (usvhostd --takeover): every descriptor goes to the new
	 * daemon as SCM_RIGHTS; then the FUSE-file front lets libfuse forget
	 * the mount without undoing it (a reader-less pipe put in the session
	 * fd's place: pipe2, dup3). */
	SCMP_SYS(sendmsg), SCMP_SYS(pipe2), SCMP_SYS(dup3),
};

#if USV_SANITIZED
/* Sanitizer builds only, found by running them in kill mode: ASan's
 * per-thread alternate signal stack (sigaltstack); LeakSanitizer at exit,
 * which reads /proc/self (open, getdents), lets a tracer task ptrace the
 * daemon (prctl PR_SET_PTRACER; the tracer: prctl PR_SET_PDEATHSIG,
 * getppid, ptrace, wait4) and reaps it (wait4). The tracer is a clone
 * without CLONE_THREAD, below. */
static const int allow_sanitizer[] = {
	SCMP_SYS(sigaltstack), SCMP_SYS(open), SCMP_SYS(getdents), SCMP_SYS(prctl),
	SCMP_SYS(getppid), SCMP_SYS(ptrace), SCMP_SYS(wait4),
};
#endif

#define NCALLS(a) (sizeof(a) / sizeof((a)[0]))
/* System call numbers whose names the SIGSYS handler can say. */
#define USV_SECCOMP_NAMED 512

#if USV_SECCOMP_TRAP
/* What the SIGSYS handler reads. A signal handler has no argument to carry
 * it: this one pointer is set once, before the filter exists, and the
 * handler only reads it and sets bits atomically. */
struct sigsys_state {
	_Atomic uint64_t seen[USV_SECCOMP_NAMED / 64];
	char name[USV_SECCOMP_NAMED][24];
	int log_fd; /* a datagram socket connected to /dev/log, or -1: stderr */
};
static struct sigsys_state *sigsys_state;
#endif

int usv_seccomp_parse_mode(const char *s, enum usv_seccomp_mode *mode)
{
	static const enum usv_seccomp_mode all[] = {
		USV_SECCOMP_ENFORCE, USV_SECCOMP_LOG, USV_SECCOMP_KILL, USV_SECCOMP_OFF,
	};

	for (size_t i = 0; i < NCALLS(all); i++) {
		if (!strcmp(s, usv_seccomp_mode_name(all[i]))) {
			*mode = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

const char *usv_seccomp_mode_name(enum usv_seccomp_mode mode)
{
	switch (mode) {
	case USV_SECCOMP_ENFORCE:
		return "enforce";
	case USV_SECCOMP_LOG:
		return "log";
	case USV_SECCOMP_KILL:
		return "kill";
	case USV_SECCOMP_OFF:
		break;
	}
	return "off";
}

/* ---- the SIGSYS handler: async-signal-safe calls only --------------------- */
#if USV_SECCOMP_TRAP

struct line {
	char buf[256];
	size_t len;
};

static void put_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void put_num(struct line *l, unsigned long v, int width)
{
	char d[24];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < (int)sizeof(d));
	while (n < width && n < (int)sizeof(d))
		d[n++] = '0';
	while (n && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = d[--n];
}

/* The same line usv_log() would write at error level, by write(2) or one
 * datagram to syslog ("<LOG_DAEMON|LOG_ERR>usvhostd[PID]: ..."). */
static void sigsys_report(const struct sigsys_state *st, int nr)
{
	struct line l = { .len = 0 };
	struct timespec ts;
	const char *name = nr >= 0 && nr < USV_SECCOMP_NAMED && st->name[nr][0] ?
		st->name[nr] : "unknown";

	if (st->log_fd >= 0) {
		put_str(&l, "<27>usvhostd[");
		put_num(&l, (unsigned long)getpid(), 0);
		put_str(&l, "]: ");
	} else {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		put_str(&l, "usvhostd[");
		put_num(&l, (unsigned long)ts.tv_sec, 0);
		put_str(&l, ".");
		put_num(&l, (unsigned long)ts.tv_nsec / 1000, 6);
		put_str(&l, "] error: ");
	}
	put_str(&l, "seccomp: refused system call ");
	put_str(&l, name);
	put_str(&l, " (");
	put_num(&l, (unsigned long)nr, 0);
	put_str(&l, ") in thread ");
	put_num(&l, (unsigned long)syscall(SYS_gettid), 0);
	put_str(&l, " with EPERM; not logged again (--seccomp=log allows it)");
	if (st->log_fd >= 0) {
		if (send(st->log_fd, l.buf, l.len, MSG_NOSIGNAL) >= 0)
			return;
		l.len = 0;
		put_str(&l, "usvhostd: error: seccomp: refused system call ");
		put_str(&l, name);
	}
	l.buf[l.len++] = '\n';
	if (write(STDERR_FILENO, l.buf, l.len) < 0)
		return; /* nowhere else to say it */
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	struct sigsys_state *st = sigsys_state;
	int saved = errno, nr = si->si_syscall;

	(void)sig;
	if (si->si_code != SYS_SECCOMP)
		return; /* sent by someone, not a refused call: nothing to answer */
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#else
	uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#endif
	if (st && nr >= 0 && nr < USV_SECCOMP_NAMED) {
		uint64_t bit = UINT64_C(1) << (nr % 64);

		if (!(atomic_fetch_or(&st->seen[nr / 64], bit) & bit))
			sigsys_report(st, nr);
	} else if (st) {
		sigsys_report(st, nr);
	}
	errno = saved;
}

/* The names of every call number, and the syslog socket, for the SIGSYS
 * handler (which may not allocate). */
static int sigsys_setup(bool to_syslog)
{
	struct sigsys_state *st = calloc(1, sizeof(*st));
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	struct sigaction sa = { .sa_flags = SA_SIGINFO };

	if (!st)
		return -ENOMEM;
	for (int nr = 0; nr < USV_SECCOMP_NAMED; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name) {
			snprintf(st->name[nr], sizeof(st->name[nr]), "%s", name);
			free(name);
		}
	}
	st->log_fd = -1;
	if (to_syslog) {
		st->log_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (st->log_fd >= 0 &&
		    connect(st->log_fd, (struct sockaddr *)&sun, sizeof(sun))) {
			close(st->log_fd);
			st->log_fd = -1;
		}
	}
	sigsys_state = st;
	sa.sa_sigaction = on_sigsys;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}
#endif

/* ---- building the filter ------------------------------------------------ */

static int add_plain(scmp_filter_ctx ctx, const int *nrs, size_t n, unsigned *count)
{
	for (size_t i = 0; i < n; i++) {
		int ret;

		if (nrs[i] < 0)
			continue; /* a pseudo number: no such call on this architecture */
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);
		if (ret)
			return ret;
		(*count)++;
	}
	return 0;
}

/* One rule per allowed value of argument arg (masked to 32 bits when
 * mask32: an ioctl request or an fcntl command is an int to the kernel). */
/* One argument comparison, every field set (libseccomp's SCMP_An macros
 * leave datum_b out, which clang's -Wmissing-field-initializers rejects). */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op, uint64_t a,
				   uint64_t b)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };

	return c;
}

static int add_values(scmp_filter_ctx ctx, int nr, unsigned arg, bool mask32,
		      const uint64_t *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp cmp = {
			.arg = arg,
			.op = SCMP_CMP_MASKED_EQ,
			.datum_a = mask32 ? UINT32_MAX : UINT64_MAX,
			.datum_b = vals[i],
		};
		int ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);

		if (ret)
			return ret;
	}
	return 0;
}

static int add_filtered(scmp_filter_ctx ctx, unsigned *count)
{
	/* TUNGETIFF: is an imported fd a tap, and which (only on tun and
	 * macvtap/ipvtap nodes). TCGETS: stdio asks whether stdout is a terminal
	 * (--trace=-). */
	static const uint64_t ioctls[] = { TUNGETIFF, TCGETS };
	/* F_GETFL: an fd's open mode and O_NONBLOCK; F_GET_SEALS: guest RAM
	 * sealed against shrinking; F_GETFD/F_SETFD: close-on-exec (libfuse);
	 * F_SETFL: a control client taking the devices over is served with
	 * blocking I/O. */
	static const uint64_t fcntls[] = { F_GETFL, F_GET_SEALS, F_GETFD, F_SETFD, F_SETFL };
	/* Thread names (pthread_setname_np on the calling thread). */
	static const uint64_t prctls[] = { PR_SET_NAME, PR_GET_NAME };
	/* What kind of socket an imported fd is (classify_socket); who a
	 * control client is (its credentials and groups). */
	static const uint64_t sockopts[] = { SO_TYPE, SO_DOMAIN, SO_PEERCRED, SO_PEERGROUPS };
	struct scmp_arg_cmp cmp[2];
	int ret;

	ret = add_values(ctx, SCMP_SYS(ioctl), 1, true, ioctls, NCALLS(ioctls));
	if (!ret)
		ret = add_values(ctx, SCMP_SYS(fcntl), 1, true, fcntls, NCALLS(fcntls));
	if (!ret && !USV_SANITIZED) /* there: any option */
		ret = add_values(ctx, SCMP_SYS(prctl), 0, true, prctls, NCALLS(prctls));
	/* getsockopt at SOL_SOCKET, for those options only. */
	for (size_t i = 0; !ret && i < NCALLS(sockopts); i++) {
		cmp[0] = arg_cmp(1, SCMP_CMP_EQ, SOL_SOCKET, 0);
		cmp[1] = arg_cmp(2, SCMP_CMP_EQ, sockopts[i], 0);
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2, cmp);
	}
	/* Threads only: a new process (fork, or clone without CLONE_THREAD)
	 * could exec or outlive the filter's checks on its parent. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				       arg_cmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* clone3 passes its flags in memory, which a filter cannot read:
	 * ENOSYS makes glibc fall back to clone, unlogged in every mode. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* Signals to threads of this process only: the worker interrupt,
	 * abort(). */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				       arg_cmp(0, SCMP_CMP_EQ, (uint64_t)getpid(), 0));
	/* syslog's socket is AF_UNIX; no other socket is ever made. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       arg_cmp(0, SCMP_CMP_EQ, AF_UNIX, 0));
#if USV_SANITIZED
	/* LeakSanitizer's tracer task shares memory and files, not the
	 * thread group. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				       arg_cmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD | CLONE_VM,
					       CLONE_VM));
	if (!ret)
		ret = add_plain(ctx, allow_sanitizer, NCALLS(allow_sanitizer), count);
#endif
	if (!ret) /* ioctl fcntl prctl getsockopt clone tgkill socket */
		*count += USV_SANITIZED ? 6 : 7;
	return ret;
}

int usv_seccomp_install(enum usv_seccomp_mode mode, bool to_syslog)
{
	uint32_t deflt;
	scmp_filter_ctx ctx = NULL;
	unsigned count = 0;
	const char *what;
	int ret = 0;

	switch (mode) {
	case USV_SECCOMP_OFF:
		usv_warn("--seccomp=off: no system call filter");
		return 0;
	case USV_SECCOMP_LOG:
		deflt = SCMP_ACT_LOG;
		what = "calls off the list are allowed and the kernel logs them (audit)";
		break;
	case USV_SECCOMP_KILL:
		deflt = SCMP_ACT_KILL_PROCESS;
		what = "a call off the list kills the daemon";
		break;
	case USV_SECCOMP_ENFORCE:
	default:
		deflt = USV_SECCOMP_TRAP ? SCMP_ACT_TRAP : SCMP_ACT_ERRNO(EPERM);
		what = USV_SECCOMP_TRAP ? "calls off the list fail with EPERM and are logged"
					: "calls off the list fail with EPERM";
#if USV_SECCOMP_TRAP
		ret = sigsys_setup(to_syslog);
		if (ret)
			goto fail;
#endif
		break;
	}
	ctx = seccomp_init(deflt);
	if (!ctx) {
		ret = -ENOMEM;
		goto fail;
	}
	/* A call of another ABI (i386's int 0x80 on x86_64) is never ours.
	 * no_new_privs is privileges.c's to set: --keep-privileges leaves it
	 * off, and then the filter needs CAP_SYS_ADMIN to load. TSYNC: any
	 * thread already running gets the filter too, or loading fails. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!ret)
		ret = add_plain(ctx, allow_plain, NCALLS(allow_plain), &count);
	if (!ret)
		ret = add_filtered(ctx, &count);
	if (!ret)
		ret = seccomp_load(ctx);
	if (ret)
		goto fail;
	seccomp_release(ctx);
	usv_info("seccomp: allow-list of %u system calls installed (--seccomp=%s; "
		 "clone3 answers ENOSYS): %s",
		 count, usv_seccomp_mode_name(mode), what);
	return 0;
fail:
	if (ctx)
		seccomp_release(ctx);
	usv_err("seccomp: cannot install the system call filter (--seccomp=%s): %s%s",
		usv_seccomp_mode_name(mode), strerror(-ret),
		ret == -EACCES ? " (no no_new_privs and no CAP_SYS_ADMIN; "
				 "--seccomp=off runs without it)" : "");
	return ret;
}
