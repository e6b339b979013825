/* SPDX-License-Identifier: MIT */
/*
 * The backend's CPU time: utime + stime of every thread of usvhostd
 * (--backend-pid, else the one process named usvhostd), or of the kernel's
 * vhost-PID workers for our own pid (threads of this process since Linux
 * 6.4, kernel threads before: one per device, each its own /proc entry).
 * In clock ticks, or in nanoseconds from schedstat: a tick (10 ms at
 * HZ=100) is coarser than what an idle thread costs, and /proc truncates
 * each thread's time to whole ticks.
 */
#include "bench.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

static bool comm_is(pid_t pid, pid_t tid, const char *want)
{
	char path[64], comm[64];

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_small(path, comm, sizeof(comm)) < 0)
		return false;
	comm[strcspn(comm, "\n")] = 0;
	return strcmp(comm, want) == 0;
}

/* utime + stime of one /proc/.../stat line (fields 14 and 15). */
static long long stat_ticks(const char *path)
{
	char buf[1024], *p;
	unsigned long long ut = 0, st = 0;

	if (read_small(path, buf, sizeof(buf)) < 0 || !(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* Run time of one task in ns (schedstat's first field), or its ticks
 * converted when the kernel keeps no schedstat. dir: /proc/PID or
 * /proc/PID/task/TID. */
static long long stat_ns(const char *dir)
{
	char path[96], buf[128];
	unsigned long long ns;
	long long t;

	snprintf(path, sizeof(path), "%s/schedstat", dir);
	if (read_small(path, buf, sizeof(buf)) == 0 && sscanf(buf, "%llu", &ns) == 1 && ns)
		return (long long)ns;
	snprintf(path, sizeof(path), "%s/stat", dir);
	t = stat_ticks(path);
	return t < 0 ? -1 : t * (1000000000ll / sysconf(_SC_CLK_TCK));
}

/* One task's CPU time, in ticks or ns. */
static long long task_time(const char *dir, bool ns)
{
	char path[96];

	if (ns)
		return stat_ns(dir);
	snprintf(path, sizeof(path), "%s/stat", dir);
	return stat_ticks(path);
}

/* Sums the threads of pid (only those named only, when only is set). */
static long long task_ticks(pid_t pid, const char *only, bool ns)
{
	char path[64];
	long long sum = 0;
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		long long t;

		if (tid <= 0 || (only && !comm_is(pid, tid, only)))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
		if ((t = task_time(path, ns)) > 0)
			sum += t;
	}
	closedir(dir);
	return sum;
}

static bool same_link(const char *a, const char *b)
{
	char x[128], y[128];
	ssize_t n = readlink(a, x, sizeof(x) - 1), m = readlink(b, y, sizeof(y) - 1);

	return n > 0 && n == m && memcmp(x, y, (size_t)n) == 0;
}

/* Whether pid's command line has an argument naming the device's
 * directory (usvhostd --mount=DIR) or the device itself (--cuse-name). */
static bool cmdline_names(pid_t pid, const char *dev)
{
	char path[64], buf[4096], dir[1024];
	const char *base = strrchr(dev, '/');
	size_t dlen;
	ssize_t n;
	int fd;

	snprintf(dir, sizeof(dir), "%s", dev);
	dlen = base ? (size_t)(base - dev) : 0;
	dir[dlen] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
		const char *arg = buf + i, *eq = strchr(arg, '=');

		buf[n] = 0;
		if (eq && ((dlen && !strcmp(eq + 1, dir)) || (base && !strcmp(eq + 1, base + 1))))
			return true;
	}
	return false;
}

/* The one process named want; with several, the one in our mount namespace
 * whose command line names the device (dev may be NULL: any). */
static pid_t find_comm(const char *want, const char *dev)
{
	struct dirent *e;
	pid_t found = 0;
	unsigned count = 0, best = 0;
	DIR *dir = opendir("/proc");

	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		pid_t pid = (pid_t)atoi(e->d_name);
		char ns[64];
		unsigned score;

		if (pid <= 0 || !comm_is(pid, 0, want))
			continue;
		snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int)pid);
		score = 1 + (dev && same_link(ns, "/proc/self/ns/mnt")) +
			2 * (dev && cmdline_names(pid, dev));
		if (score > best) {
			best = score;
			found = pid;
			count = 1;
		} else if (score == best) {
			count++;
		}
	}
	closedir(dir);
	return count == 1 ? found : 0;
}

/* Before Linux 6.4 each device's worker is a kernel thread named vhost-PID
 * (PID: its owner, us): the first one found and how many there are. */
static unsigned count_kthreads(const char *name, pid_t *first)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *dir = opendir("/proc");

	while (dir && (e = readdir(dir))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid > 0 && comm_is(pid, 0, name) && !n++)
			*first = pid;
	}
	if (dir)
		closedir(dir);
	return n;
}

/* Sums every kernel thread named name (they may come and go: one that is
 * gone counts nothing). */
static long long kthread_ticks(const char *name, bool ns)
{
	char path[64];
	struct dirent *e;
	long long sum = 0, t;
	DIR *dir = opendir("/proc");

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 0 || !comm_is(pid, 0, name))
			continue;
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if ((t = task_time(path, ns)) > 0)
			sum += t;
	}
	closedir(dir);
	return sum;
}

static bool has_thread(pid_t pid, const char *name)
{
	char path[64];
	struct dirent *e;
	bool found = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	while (dir && !found && (e = readdir(dir)))
		found = atoi(e->d_name) > 0 && comm_is(pid, (pid_t)atoi(e->d_name), name);
	if (dir)
		closedir(dir);
	return found;
}

void bench_backend_find(const struct bench_opts *o, struct bench_backend *b)
{
	char name[32];
	pid_t pid = 0;
	unsigned n;

	memset(b, 0, sizeof(*b));
	snprintf(name, sizeof(name), "vhost-%d", (int)getpid());
	if (o->backend_pid) {
		b->pid = o->backend_pid;
		snprintf(b->what, sizeof(b->what), "pid %d", (int)b->pid);
	} else if (has_thread(getpid(), name)) {
		/* vhost_task workers: threads of ours named vhost-PID */
		b->pid = getpid();
		b->kernel = true;
		snprintf(b->what, sizeof(b->what), "kernel %s threads", name);
	} else if ((n = count_kthreads(name, &pid))) {
		b->pid = pid;
		b->kernel = true;
		b->kthreads = true;
		snprintf(b->what, sizeof(b->what), "kernel thread%s %s%s", n > 1 ? "s" : "", name,
			 n > 1 ? " (all of them)" : "");
	} else if ((pid = find_comm("usvhostd", o->dev))) {
		b->pid = pid;
		snprintf(b->what, sizeof(b->what), "usvhostd pid %d", (int)pid);
	}
}

static long long backend_time(const struct bench_backend *b, bool ns)
{
	char name[32];

	if (!b->pid)
		return -1;
	snprintf(name, sizeof(name), "vhost-%d", (int)getpid());
	if (b->kthreads)
		return kthread_ticks(name, ns);
	return task_ticks(b->pid, b->kernel ? name : NULL, ns);
}

long long bench_backend_ticks(const struct bench_backend *b)
{
	return backend_time(b, false);
}

long long bench_backend_ns(const struct bench_backend *b)
{
	return backend_time(b, true);
}
