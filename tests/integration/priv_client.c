/* SPDX-License-Identifier: MIT */
/*
 * priv_client: what callers other than root see of usvhostd, for
 * privileges.sh. Runs as root and forks children that become other users.
 *
 *   priv_client --dev=PATH --log=DAEMON-LOG limit N
 *     uid 65534 opens N devices and its next open fails with EMFILE. Holding
 *     them, it serves one as QEMU does (init, start with a tap that root made
 *     for it, stop), its /proc files its own as an exec'd QEMU's are
 *     (dumpable): the daemon reaches another user's process with the rights
 *     it kept. Meanwhile uid 65533 and root still open. Once the daemon has
 *     logged every release, uid 65534 opens N devices again, and no more.
 *
 *   priv_client --dev=PATH group GID
 *     the file is mode 0660, group GID: uid 65534 without that group gets
 *     EACCES; uid 65533 with it as a supplementary group opens the file and
 *     its ioctls are served.
 *
 * Exit: 0 when every check passed, 1 otherwise, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_lib.h"

#define MiB (1024u * 1024u)
#define NOBODY 65534
#define OTHER 65533
#define MAX_LIMIT 64

static const char *dev_path;
static const char *log_path;

/* Becomes uid (group uid, plus supp when it is not -1). A process that
 * changes its uid is not dumpable and its /proc files are root's; QEMU
 * exec'd by that user is dumpable and its files are its own: be like it. */
static bool become(uid_t uid, gid_t supp)
{
	gid_t groups[1] = { supp };

	if (setgroups(supp == (gid_t)-1 ? 0 : 1, groups) ||
	    setresgid(uid, uid, uid) || setresuid(uid, uid, uid) ||
	    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)) {
		cl_setup_fail("become uid %u", (unsigned)uid);
		return false;
	}
	return true;
}

static const char *errname(int err)
{
	static char buf[32];

	return cl_errname(err, buf, sizeof(buf));
}

/* Opens the device n times (each must succeed), then once more, which must
 * fail with EMFILE. The fds go to fds[]. */
static bool open_to_the_limit(unsigned n, int *fds, const char *who)
{
	bool ok = true;
	int extra;

	for (unsigned i = 0; i < n; i++) {
		fds[i] = open(dev_path, O_RDWR | O_CLOEXEC);
		ok &= cl_check(fds[i] >= 0, "%s: open %u of %u: %s", who, i + 1, n,
			       fds[i] >= 0 ? "ok" : errname(errno));
	}
	extra = open(dev_path, O_RDWR | O_CLOEXEC);
	ok &= cl_check(extra < 0 && errno == EMFILE, "%s: open %u (beyond the limit) "
		       "fails with EMFILE: %s", who, n + 1,
		       extra >= 0 ? "it opened" : errname(errno));
	if (extra >= 0)
		close(extra);
	return ok;
}

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		cl_close(&fds[i]);
}

struct holder {
	unsigned limit;
	int ready; /* written once the devices are held */
	int go;    /* read: then release them */
};

static int hold_to_the_limit(void *arg)
{
	struct holder *h = arg;
	int fds[MAX_LIMIT];
	struct cl_ram ram;
	struct cl_dev d;
	char c = 0;
	int tap = cl_tap_open(); /* as root, as libvirt makes QEMU's taps */

	if (tap < 0 || !become(NOBODY, (gid_t)-1))
		return 1;
	open_to_the_limit(h->limit, fds, "uid 65534");
	if (fds[0] >= 0 && cl_ram_init(&ram, CL_RAM_MEMFD, 64 * MiB)) {
		memset(&d, 0, sizeof(d));
		d.tag = "uid 65534 as QEMU";
		d.ram = &ram;
		d.fd = fds[0];
		d.tap = tap;
		for (unsigned vq = 0; vq < USV_NET_NVQS; vq++)
			d.init_call[vq] = d.init_err[vq] = d.call[vq] = d.kick[vq] = -1;
		if (cl_qemu_init(&d) && cl_qemu_start(&d, 0))
			cl_qemu_stop(&d);
		fds[0] = -1; /* closed with the device */
		tap = -1;
		cl_dev_close(&d);
		cl_ram_fini(&ram);
	}
	cl_close(&tap);
	if (write(h->ready, &c, 1) != 1 || read(h->go, &c, 1) != 1)
		cl_setup_fail("uid 65534: handshake with the parent");
	close_all(fds, h->limit);
	return 0;
}

static int open_once_as_other(void *arg)
{
	uint64_t features = 0;
	int fd;

	(void)arg;
	if (!become(OTHER, (gid_t)-1))
		return 1;
	fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (!cl_check(fd >= 0, "uid 65533 opens while uid 65534 is at its limit: %s",
		      fd >= 0 ? "ok" : errname(errno)))
		return 0;
	cl_ioctl(fd, USV_VHOST_GET_FEATURES, &features, 0, "uid 65533: GET_FEATURES");
	close(fd);
	return 0;
}

static int reopen_to_the_limit(void *arg)
{
	struct holder *h = arg;
	int fds[MAX_LIMIT];

	if (!become(NOBODY, (gid_t)-1))
		return 1;
	open_to_the_limit(h->limit, fds, "uid 65534 after its releases");
	close_all(fds, h->limit);
	return 0;
}

/* Lines "dev H: release" in the daemon's log. */
static unsigned count_releases(void)
{
	char line[512];
	unsigned n = 0;
	FILE *f = fopen(log_path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, ": release (") != NULL;
	fclose(f);
	return n;
}

/* FUSE sends RELEASE after close() has returned: the daemon's log is where
 * the release is known to be done. */
static bool wait_releases(unsigned want)
{
	struct timespec ms10 = { 0, 10 * 1000 * 1000 };
	unsigned got = 0;

	for (unsigned i = 0; i < 1000 * cl_timeout_scale; i++) {
		got = count_releases();
		if (got >= want)
			break;
		nanosleep(&ms10, NULL);
	}
	return cl_check(got >= want, "the daemon logged %u releases (want %u)", got, want);
}

static int run_limit(unsigned limit)
{
	struct holder h = { .limit = limit };
	int ready[2], go[2];
	char c = 0;
	pid_t holder, other;
	int fd;

	if (pipe(ready) || pipe(go)) {
		cl_setup_fail("pipe");
		return 1;
	}
	h.ready = ready[1];
	h.go = go[0];
	holder = cl_spawn(hold_to_the_limit, &h, "uid 65534");
	if (read(ready[0], &c, 1) != 1)
		cl_setup_fail("uid 65534 did not get ready");
	other = cl_spawn(open_once_as_other, NULL, "uid 65533");
	cl_reap(other, 10000, "uid 65533");
	fd = open(dev_path, O_RDWR | O_CLOEXEC);
	cl_check(fd >= 0, "root opens while uid 65534 is at its limit: %s",
		 fd >= 0 ? "ok" : errname(errno));
	if (fd >= 0)
		close(fd);
	if (write(go[1], &c, 1) != 1)
		cl_setup_fail("releasing uid 65534");
	cl_reap(holder, 30000, "uid 65534");
	/* Every device opened so far: uid 65534's, uid 65533's and root's. */
	if (wait_releases(limit + 2))
		cl_reap(cl_spawn(reopen_to_the_limit, &h, "uid 65534 again"), 10000,
			"uid 65534 again");
	return 0;
}

static int open_without_the_group(void *arg)
{
	int fd;

	(void)arg;
	if (!become(NOBODY, (gid_t)-1))
		return 1;
	fd = open(dev_path, O_RDWR | O_CLOEXEC);
	cl_check(fd < 0 && errno == EACCES, "uid 65534 without the group: open fails "
		 "with EACCES: %s", fd >= 0 ? "it opened" : errname(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

static int open_with_the_group(void *arg)
{
	uint64_t features = 0;
	int fd;

	if (!become(OTHER, *(gid_t *)arg))
		return 1;
	fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (!cl_check(fd >= 0, "uid 65533 in the group: open: %s",
		      fd >= 0 ? "ok" : errname(errno)))
		return 0;
	cl_ioctl(fd, USV_VHOST_GET_FEATURES, &features, 0, "uid 65533: GET_FEATURES");
	close(fd);
	return 0;
}

static int run_group(gid_t gid)
{
	cl_reap(cl_spawn(open_without_the_group, NULL, "uid 65534"), 10000, "uid 65534");
	cl_reap(cl_spawn(open_with_the_group, &gid, "uid 65533"), 10000, "uid 65533");
	return 0;
}

int main(int argc, char **argv)
{
	const char *scale = getenv("USVHOST_TEST_TIMEOUT_SCALE");
	int i;

	if (scale && atoi(scale) > 0)
		cl_timeout_scale = (unsigned)atoi(scale);
	cl_verbose = true;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strncmp(argv[i], "--dev=", 6))
			dev_path = argv[i] + 6;
		else if (!strncmp(argv[i], "--log=", 6))
			log_path = argv[i] + 6;
		else
			break;
	}
	if (!dev_path || i + 2 != argc ||
	    (strcmp(argv[i], "limit") && strcmp(argv[i], "group")) ||
	    (!strcmp(argv[i], "limit") && (!log_path || atoi(argv[i + 1]) < 1 ||
					   atoi(argv[i + 1]) > MAX_LIMIT))) {
		fprintf(stderr, "usage: priv_client --dev=PATH --log=DAEMON-LOG limit N (1..%d)\n"
				"       priv_client --dev=PATH group GID\n", MAX_LIMIT);
		return 2;
	}
	if (geteuid() != 0) {
		printf("SKIP: priv_client needs root to become other users\n");
		return 77;
	}
	if (!strcmp(argv[i], "limit"))
		run_limit((unsigned)atoi(argv[i + 1]));
	else
		run_group((gid_t)atoi(argv[i + 1]));
	cl_print("# priv_client %s: %lu checks, %lu failed", argv[i], cl_checks(),
		 cl_failures());
	return cl_failures() ? 1 : 0;
}
