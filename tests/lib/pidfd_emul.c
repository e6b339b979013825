/* SPDX-License-Identifier: MIT */
/*
 * Linked into the tests that reach the core's pidfd calls (with
 * -Wl,--wrap=syscall): pidfd_open and pidfd_getfd for tools that do not know
 * them yet, such as valgrind 3.19.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- pidfd_open / pidfd_getfd where the kernel interface is missing ----- */

/*
 * The tests link with -Wl,--wrap=syscall, so the core's syscall() calls land
 * here first. Every call goes to the kernel; only when pidfd_open or
 * pidfd_getfd answer ENOSYS (valgrind 3.19 does not know them) are they
 * emulated: pidfd_open(pid) opens /proc/<pid> (O_PATH: poll() finds nothing
 * to read, as on a pidfd whose process runs; the owner checks then rest on
 * their /proc/<pid>/mem probe), and pidfd_getfd, only on our own process,
 * duplicates our own fd, which is what the kernel would do.
 */
long __real_syscall(long number, ...);
long __wrap_syscall(long number, ...);

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static bool is_self_procdir(int fd)
{
	char path[64], target[64], want[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	snprintf(want, sizeof(want), "/proc/%d", (int)getpid());
	return !strcmp(target, want);
}

static void note_emulation(void)
{
	static bool said;

	if (!said)
		fprintf(stderr, "note: pidfd_open/pidfd_getfd answer ENOSYS here "
				"(valgrind < 3.20?): emulated for this process\n");
	said = true;
}

long __wrap_syscall(long number, ...)
{
	long a[6], ret;
	va_list ap;

	va_start(ap, number);
	for (unsigned i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	ret = __real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (ret != -1 || errno != ENOSYS)
		return ret;
	if (number == SYS_pidfd_open) {
		pid_t pid = (pid_t)a[0];
		char path[64];

		if (kill(pid, 0) < 0 && errno == ESRCH)
			return -1; /* errno ESRCH, as pidfd_open says */
		note_emulation();
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		/* O_PATH: poll() finds nothing to read, as on a live pidfd. */
		return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (number == SYS_pidfd_getfd && is_self_procdir((int)a[0])) {
		note_emulation();
		return fcntl((int)a[1], F_DUPFD_CLOEXEC, 0);
	}
	errno = ENOSYS;
	return -1;
}
