/* SPDX-License-Identifier: MIT */
#include "daemon/privileges.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"

static const struct {
	int cap;
	const char *name;
} cap_names[] = {
	{ CAP_CHOWN, "CAP_CHOWN" },
	{ CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE" },
	{ CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH" },
	{ CAP_FOWNER, "CAP_FOWNER" },
	{ CAP_KILL, "CAP_KILL" },
	{ CAP_SETGID, "CAP_SETGID" },
	{ CAP_SETUID, "CAP_SETUID" },
	{ CAP_SETPCAP, "CAP_SETPCAP" },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
	{ CAP_NET_RAW, "CAP_NET_RAW" },
	{ CAP_IPC_LOCK, "CAP_IPC_LOCK" },
	{ CAP_SYS_PTRACE, "CAP_SYS_PTRACE" },
	{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
	{ CAP_SYS_NICE, "CAP_SYS_NICE" },
	{ CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE" },
};

void usv_priv_names(uint64_t set, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (int c = 0; c < 64; c++) {
		const char *name = NULL;
		char num[16];

		if (!(set & USV_CAP(c)))
			continue;
		for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
			if (cap_names[i].cap == c)
				name = cap_names[i].name;
		if (!name) {
			snprintf(num, sizeof(num), "cap%d", c);
			name = num;
		}
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used ? "," : "", name);
	}
	if (!set && len)
		snprintf(buf, len, "none");
}

/* The calling thread's sets, as capget(2) gives them (pid 0: this thread). */
static int caps_get(uint64_t *permitted, uint64_t *effective)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, d))
		return -errno;
	*permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	*effective = (uint64_t)d[1].effective << 32 | d[0].effective;
	return 0;
}

/* Sets the calling thread's permitted and effective sets; inheritable: none. */
static int caps_set(uint64_t permitted, uint64_t effective)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = {
		{ .permitted = (uint32_t)permitted, .effective = (uint32_t)effective },
		{ .permitted = (uint32_t)(permitted >> 32),
		  .effective = (uint32_t)(effective >> 32) },
	};

	return syscall(SYS_capset, &hdr, d) ? -errno : 0;
}

/* Drops from the bounding set every capability not in keep: PR_CAPBSET_DROP
 * needs CAP_SETPCAP, so this runs before the permitted set loses it. */
static int drop_bounding(uint64_t keep)
{
	for (int c = 0; c < 64; c++) {
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (in < 0)
			break; /* past the kernel's last capability */
		if (in && !(keep & USV_CAP(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
			return -errno;
	}
	return 0;
}

static int count_threads(void)
{
	char line[128];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n < 0 ? -EIO : n;
}

/* "1" in /proc/sys/kernel/io_uring_disabled: only CAP_SYS_ADMIN (or the
 * io_uring_group) may create rings. */
static bool io_uring_needs_admin(void)
{
	char c = '0';
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");

	if (!f)
		return false;
	if (fread(&c, 1, 1, f) != 1)
		c = '0';
	fclose(f);
	return c == '1';
}

void usv_priv_plan_for(bool fuse, struct usv_priv_plan *plan)
{
	/* pidfd_getfd, /proc/PID/mem and process_vm_readv of another user's
	 * process (ptrace access mode ATTACH), and reading /proc/PID/fdinfo and
	 * the links in /proc/PID/fd. Also needed for a root QEMU once our own
	 * sets are smaller than its: commoncap asks CAP_SYS_PTRACE then. */
	plan->effective = USV_CAP(CAP_SYS_PTRACE);
	/* /proc/PID/mem is mode 0600 and /proc/PID/fd 0500, owned by QEMU's
	 * uid: opening the one read-write and searching the other as root of
	 * another uid is a DAC check that CAP_SYS_PTRACE does not pass. */
	plan->effective |= USV_CAP(CAP_DAC_OVERRIDE);
	/* umount2() at exit (libfuse's fuse_session_unmount as root). */
	plan->reserved = fuse ? USV_CAP(CAP_SYS_ADMIN) : 0;
	if (io_uring_needs_admin()) {
		usv_warn("kernel.io_uring_disabled is 1: keeping CAP_SYS_ADMIN effective "
			 "so that the datapath can create its io_urings");
		plan->effective |= USV_CAP(CAP_SYS_ADMIN);
		plan->reserved &= ~USV_CAP(CAP_SYS_ADMIN);
	}
}

int usv_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	was = rl.rlim_cur;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			int ret = -errno;

			usv_err("cannot raise the descriptor limit to %llu: %s",
				(unsigned long long)rl.rlim_max, strerror(-ret));
			return ret;
		}
	}
	usv_info("descriptor limit (RLIMIT_NOFILE) %llu (was %llu; the hard limit)",
		 (unsigned long long)rl.rlim_cur, (unsigned long long)was);
	return 0;
}

int usv_priv_drop(const struct usv_priv_plan *plan)
{
	uint64_t want = plan->effective | plan->reserved;
	uint64_t permitted, effective, keep;
	char kept[256], reserved[256], lacking[256];
	bool bounding = true;
	int threads = count_threads();
	int ret;

	if (threads != 1) {
		usv_err("cannot drop privileges with %d threads running: capabilities "
			"belong to each thread", threads);
		return threads < 0 ? threads : -EBUSY;
	}
	ret = caps_get(&permitted, &effective);
	if (ret)
		goto fail;
	keep = want & permitted;
	if (want & ~permitted) {
		usv_priv_names(want & ~permitted, lacking, sizeof(lacking));
		usv_warn("started without %s: serving other users' QEMU will fail", lacking);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		ret = -errno;
		goto fail;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		ret = -errno;
		goto fail;
	}
	ret = drop_bounding(keep);
	if (ret == -EPERM && !(permitted & USV_CAP(CAP_SETPCAP)))
		bounding = false; /* an unprivileged run: nothing there to drop */
	else if (ret)
		goto fail;
	ret = caps_set(keep, plan->effective & keep);
	if (ret)
		goto fail;
	usv_priv_names(plan->effective & keep, kept, sizeof(kept));
	usv_priv_names(plan->reserved & keep, reserved, sizeof(reserved));
	usv_info("privileges dropped: effective %s; permitted but not effective %s; "
		 "bounding set %s; no_new_privs", kept, reserved,
		 bounding ? "the same" : "left (no CAP_SETPCAP)");
	return 0;
fail:
	usv_err("cannot drop privileges: %s", strerror(-ret));
	return ret;
}

int usv_priv_set_effective(int cap, bool on)
{
	uint64_t permitted, effective;
	int ret = caps_get(&permitted, &effective);

	if (ret)
		return ret;
	if (on)
		effective |= USV_CAP(cap) & permitted;
	else
		effective &= ~USV_CAP(cap);
	return caps_set(permitted, effective);
}
