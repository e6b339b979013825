/* SPDX-License-Identifier: MIT */
/*
 * hostile: usvhostd attacked as a security boundary. The guest (everything
 * in its rings and buffers) and the caller (any process that can open the
 * device) are both untrusted; each scenario is one attack and is named after
 * what it proves. Where the contract says so, a healthy device owned by
 * another process (the bystander) moves packets all through the attack and
 * its latency is measured: one device must never stall another.
 *
 *   hostile --dev=PATH --stats=FILE --log=FILE --daemon-pid=PID
 *           [--daemon=PATH --control=SOCKET] [--files=DIR]
 *           [--stall-dev=PATH --stall-pid=PID] [-q] SCENARIO...
 *   hostile --list
 *
 * --list prints one line per scenario: NAME, the daemon options it needs
 * ("-": none), whether it needs a second daemon to freeze ("stall"), ends
 * the daemon itself ("stops": hostile.sh then expects it to have exited 1)
 * or neither ("-"), and its title, separated by tabs. hostile.sh runs every
 * scenario against a fresh usvhostd (so a crash or a hang shows in that
 * scenario only).
 * --files: a directory every uid can read, for files the scenarios create
 * (default $TMPDIR or /tmp). --stall-dev: the vhost-net file of a second
 * usvhostd, --stall-pid its pid; the fuse-fd-hang scenario stops it with
 * SIGSTOP and resumes it (SIGCONT) before it ends. --daemon, --control: the
 * usvhostd binary and the running daemon's control socket, with which
 * owner-memory-hang tries a `usvhostd --takeover` while a request waits
 * (owner-memory-stop, a SIGTERM: the socket must then be gone).
 *
 * What they attack: the daemon's buffers (oversized TX chains and RX
 * frames); the caller's rights (a read-only file as guest RAM, also behind a
 * forged line of /proc/PID/maps, an owner that execs, a device limit per
 * uid); faults (guest RAM truncated under the daemon); one device stalling
 * others (full blocking eventfds, busy polling, zero-length indirect storms,
 * fds on a frozen FUSE server); and the rings (chains too long, buffers
 * outside memory or wrapping 2^64, lengths near 2^32, nested or bad indirect
 * tables, a read-only used ring). Rings broken in the ways ring_faults.c
 * covers (bad heads, loops, avail jumps, addresses outside memory) are not
 * repeated here.
 *
 * Frames reach the daemon through an AF_PACKET socket bound to each tap's
 * interface (see ring_faults.c). Needs root, /dev/net/tun and a network
 * namespace of its own (IPv6 is turned off in it). Every wait is bounded and
 * every scenario runs in a child process killed when it overruns, so a
 * wedged daemon costs time, never a hang. Prints one line per check and
 * "N passed, N failed"; exits 0 when every check passed, 1 otherwise, 77
 * when it cannot run here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "hostile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- driver ------------------------------------------------------------- */

static const struct scenario {
	const char *name;
	const char *daemon_opts; /* "-": none */
	/* "stall": needs a second daemon to freeze; "stops": ends the daemon
	 * itself (SIGTERM), which must then have exited 1; "-": neither. */
	const char *needs;
	const char *title;
	void (*fn)(void);
} scenarios[] = {
	{ "oversized-tx-anon", "-", "-",
	  "an oversized TX chain in anonymous RAM (70,000 bytes, then 1 MB) is dropped or "
	  "sent, never overflows; the ring and the daemon live", scenario_oversized_tx_anon },
	{ "oversized-tx-segments", "-", "-",
	  "a 90,000-byte TX chain of 300 segments in shared RAM is dropped or sent, never "
	  "overflows", scenario_oversized_tx_segments },
	{ "oversized-rx-frame", "-", "-",
	  "tap reads larger than the daemon's buffers (the caller set a 4096-byte vnet "
	  "header) are dropped or delivered, never overflow", scenario_oversized_rx },
	{ "readonly-file-root", "-", "-",
	  "a file mapped read-only as guest RAM is never written through the daemon",
	  scenario_readonly_root },
	{ "readonly-file-unprivileged", "--mode=0666", "-",
	  "an unprivileged caller cannot make the daemon write a root-owned file it may "
	  "only read", scenario_readonly_unprivileged },
	{ "readonly-file-forged-maps", "-", "-",
	  "a maps line over 512 bytes forging the read-only file's mapping as writable "
	  "gains the caller nothing", scenario_readonly_forged_maps },
	{ "owner-exec", "-", "-",
	  "after the owner execs, its rings never touch the new image and the new image is "
	  "not the owner", scenario_owner_exec },
	{ "truncated-ram", "-", "-",
	  "guest RAM truncated under the daemon stops that ring with a log line; the daemon "
	  "and other devices live", scenario_truncated_ram },
	{ "sealed-ram", "-", "-",
	  "sealed guest RAM cannot be truncated and traffic goes on", scenario_sealed_ram },
	{ "blocking-call-eventfd", "-", "-",
	  "a full blocking call eventfd stalls neither its device, other devices nor control "
	  "requests", scenario_blocking_call },
	{ "blocking-err-eventfd", "-", "-",
	  "a full blocking ERR eventfd stalls neither other devices nor control requests",
	  scenario_blocking_err },
	{ "busyloop", "-", "-",
	  "a 0xffffffff us BUSYLOOP_TIMEOUT on an idle ring does not delay another device",
	  scenario_busyloop },
	{ "indirect-storm", "-", "-",
	  "a storm of zero-length indirect entries stops that ring and does not delay "
	  "another device", scenario_indirect_storm },
	{ "fuse-fd-hang", "-", "stall",
	  "an fd on a frozen FUSE server passed as kick, call, err or backend is refused at "
	  "once; the daemon keeps serving", scenario_fuse_fd_hang },
	{ "owner-memory-hang", "-", "-",
	  "18 devices whose owner never lets the daemon read its memory, each with a ring stop "
	  "waiting and 20 more requests for one: another process's device and the bystander "
	  "are served", scenario_owner_memory_hang },
	{ "owner-memory-stop", "--stop-timeout=8", "stops",
	  "SIGTERM while devices wait on their owner's memory: the daemon ends within "
	  "--stop-timeout, unmounted, its control socket removed, and the owner's ioctls are "
	  "answered", scenario_owner_memory_stop },
	{ "iotlb-blocking-reads", "-", "-",
	  "20 blocking read()s of the IOTLB channel, more than the daemon's request threads, "
	  "stall no other caller", scenario_iotlb_blocking_reads },
	{ "device-limit", "--mode=0666 --max-devices-per-user=3", "-",
	  "one uid cannot open more than --max-devices-per-user devices (EMFILE, logged); "
	  "another uid still can", scenario_device_limit },
	{ "long-chain", "-", "-",
	  "a chain of more than 1024 descriptor reads through indirect tables stops that ring",
	  scenario_long_chain },
	{ "straddle-region", "-", "-",
	  "a TX buffer running past the end of a memory region stops that ring",
	  scenario_straddle },
	{ "wrap-2-64", "-", "-",
	  "a TX buffer wrapping past 2^64 stops that ring and never reaches address 0",
	  scenario_wrap },
	{ "huge-length", "-", "-", "a TX descriptor of length 0xffffffff stops that ring",
	  scenario_huge_len },
	{ "rx-over-4g", "-", "-", "RX buffers adding up to more than 4 GiB stop that ring",
	  scenario_rx_4g },
	{ "nested-indirect", "-", "-",
	  "an indirect descriptor inside an indirect table stops that ring", scenario_nested },
	{ "indirect-outside", "-", "-",
	  "an indirect table outside guest memory stops that ring", scenario_ind_outside },
	{ "indirect-bad-length", "-", "-",
	  "an indirect table whose length is not a multiple of 16 stops that ring",
	  scenario_ind_len },
	{ "rx-readable", "-", "-", "a readable descriptor in an RX chain stops that ring",
	  scenario_rx_readable },
	{ "used-readonly", "-", "-",
	  "a used ring in read-only memory is refused at attach (EFAULT) and never written",
	  scenario_used_readonly },
};

#define N_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static int run_scenario(void *arg)
{
	const struct scenario *s = arg;

	s->fn();
	return 0;
}

static int find_scenario(const char *s)
{
	for (size_t i = 0; i < N_SCENARIOS; i++)
		if (!strcmp(s, scenarios[i].name))
			return (int)i;
	return -1;
}

int main(int argc, char **argv)
{
	bool run[N_SCENARIOS], any = false;
	const char *scale = getenv("USVHOST_TEST_TIMEOUT_SCALE"), *victim = NULL;
	unsigned long checks, failures;
	ssize_t n;

	memset(run, 0, sizeof(run));
	if (scale && atoi(scale) > 0)
		cl_timeout_scale = (unsigned)atoi(scale);
	cl_verbose = true;
	hx.files = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--dev=", 6)) {
			hx.dev = argv[i] + 6;
		} else if (!strncmp(argv[i], "--stats=", 8)) {
			hx.stats = argv[i] + 8;
		} else if (!strncmp(argv[i], "--log=", 6)) {
			hx.log = argv[i] + 6;
		} else if (!strncmp(argv[i], "--daemon-pid=", 13)) {
			hx.daemon_pid = (pid_t)atoi(argv[i] + 13);
		} else if (!strncmp(argv[i], "--daemon=", 9)) {
			hx.daemon = argv[i] + 9;
		} else if (!strncmp(argv[i], "--control=", 10)) {
			hx.control = argv[i] + 10;
		} else if (!strncmp(argv[i], "--files=", 8)) {
			hx.files = argv[i] + 8;
		} else if (!strncmp(argv[i], "--stall-dev=", 12)) {
			hx.stall_dev = argv[i] + 12;
		} else if (!strncmp(argv[i], "--stall-pid=", 12)) {
			hx.stall_pid = (pid_t)atoi(argv[i] + 12);
		} else if (!strncmp(argv[i], "--victim=", 9)) {
			victim = argv[i] + 9;
		} else if (!strcmp(argv[i], "-q")) {
			cl_verbose = false;
		} else if (!strcmp(argv[i], "--list")) {
			for (size_t k = 0; k < N_SCENARIOS; k++)
				printf("%s\t%s\t%s\t%s\n", scenarios[k].name,
				       scenarios[k].daemon_opts, scenarios[k].needs,
				       scenarios[k].title);
			return 0;
		} else {
			int k = find_scenario(argv[i]);

			if (k < 0) {
				fprintf(stderr, "hostile: no scenario '%s'\n", argv[i]);
				return 2;
			}
			run[k] = any = true;
		}
	}
	if (victim) {
		/* The owner's new image (owner-exec): its failures are its status. */
		victim_main(victim);
		failures = cl_failures();
		return failures > 100 ? 100 : (int)failures;
	}
	if (!hx.dev || !hx.stats || !hx.log || hx.daemon_pid <= 0) {
		fprintf(stderr, "usage: hostile --dev=PATH --stats=FILE --log=FILE "
				"--daemon-pid=PID [--files=DIR] [--stall-dev=PATH "
				"--stall-pid=PID] [-q] [SCENARIO...] | --list\n");
		return 2;
	}
	if (!any)
		memset(run, 1, sizeof(run));
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("SKIP: hostile needs root and /dev/net/tun for its taps\n");
		return 77;
	}
	n = readlink("/proc/self/exe", hx.self_exe, sizeof(hx.self_exe) - 1);
	if (n <= 0) {
		printf("FAIL: readlink /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	hx.self_exe[n] = '\0';
	/* No IPv6 traffic from taps made from now on (this is our namespace). */
	cl_write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	cl_write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");

	cl_print("# hostile against %s (usvhostd pid %d)", hx.dev, (int)hx.daemon_pid);
	for (size_t k = 0; k < N_SCENARIOS; k++) {
		unsigned long f0 = cl_failures();
		char what[96];

		if (!run[k])
			continue;
		cl_print("# %s: %s", scenarios[k].name, scenarios[k].title);
		/* In a child: an ioctl stuck in a wedged daemon cannot stall us. */
		snprintf(what, sizeof(what), "scenario %s", scenarios[k].name);
		cl_reap(cl_spawn(run_scenario, (void *)&scenarios[k], scenarios[k].name),
			T_SCENARIO, what);
		cl_print("# %s: %s", scenarios[k].name, cl_failures() == f0 ? "ok" : "FAILED");
	}
	checks = cl_checks();
	failures = cl_failures();
	cl_print("%lu passed, %lu failed", checks - failures, failures);
	return failures ? 1 : 0;
}
