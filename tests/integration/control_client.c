/* SPDX-License-Identifier: MIT */
/*
 * control_client: a device for control.sh to look at. Plays QEMU 7.2
 * against a vhost-net device file with a tap named --tap, moves --tx TX
 * packets and --rx RX frames of known sizes, then prints
 *   ready pid=PID tap=NAME tx=N tx_bytes=B rx=M rx_bytes=C
 * (bytes as the datapath counts them: each packet with its 12-byte
 * virtio-net header)
 * and serves commands from stdin, one per line:
 *   ioctls K   K GET_FEATURES calls; prints "ioctls n=K max_us=U
 *              failures=F" (the slowest one: a bystander's latency)
 *   tx K       K more TX packets; prints "tx n=K failures=F"
 *   rx K       K more RX frames; prints "rx n=K failures=F"
 *   hog PATH N hostile control clients of the daemon's socket PATH: N that
 *              connect and send nothing, and one that sends 1 MiB of
 *              garbage (as much as the socket takes, never waiting) and
 *              never reads; held until quit; prints "hog silent=N sent=B"
 *   quit       closes the device and exits (also at end of input)
 * Exits 0 when every check passed, 1 otherwise, 77 when it cannot run.
 *
 *   control_client --dev=PATH --tap=NAME [--tx=N] [--rx=M]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "client_lib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MiB (1024u * 1024u)
#define RAM_SIZE (16 * MiB)
#define RX_AREA (4 * MiB)
#define TX_AREA (8 * MiB + 4 * MiB)
#define BUF 2048u
#define VNET_HDR 12u
#define ETH_TX 0x88b5
#define ETH_RX 0x88b6
#define TX_LEN 100u
#define RX_LEN 200u
#define NUM CL_RING_NUM

struct ctl_dev {
	struct cl_dev d;
	struct cl_ram ram;
	struct cl_port port;
	uint16_t avail[USV_NET_NVQS], used[USV_NET_NVQS];
	uint32_t seq;
};

/* Waits at most ms for vq's used idx to reach want. */
static bool wait_used(struct ctl_dev *x, unsigned vq, uint16_t want, unsigned ms)
{
	uint64_t end = cl_now_ms() + ms;

	while (cl_used_idx(&x->d.ring[vq]) != want) {
		if (cl_now_ms() > end)
			return false;
		cl_sleep_ms(1);
	}
	return true;
}

/* One TX packet: posted, kicked, out of the tap, used. */
static bool tx_one(struct ctl_dev *x)
{
	uint8_t frame[TX_LEN], got[BUF];
	uint16_t head = (uint16_t)(x->avail[USV_VQ_TX] % NUM);
	size_t off = TX_AREA + (size_t)head * BUF;
	uint32_t seq = ++x->seq;
	ssize_t n;

	cl_make_frame(frame, sizeof(frame), ETH_TX, seq);
	memset(x->ram.base + off, 0, VNET_HDR);
	memcpy(x->ram.base + off + VNET_HDR, frame, sizeof(frame));
	cl_put_desc(x->d.ring[USV_VQ_TX].desc, head, cl_ram_gpa(&x->ram, off),
		    VNET_HDR + TX_LEN, 0, 0);
	cl_post(&x->d.ring[USV_VQ_TX], &x->avail[USV_VQ_TX], head);
	cl_kick(x->d.kick[USV_VQ_TX], "control", USV_VQ_TX);
	n = cl_port_recv(&x->port, ETH_TX, seq, got, sizeof(got), cl_scaled(2000));
	x->used[USV_VQ_TX]++;
	return cl_check(n == TX_LEN, "TX %u: the tap delivered %zd bytes", seq, n) &&
	       cl_check(wait_used(x, USV_VQ_TX, x->used[USV_VQ_TX], cl_scaled(2000)),
			"TX %u: used", seq);
}

/* One RX frame: a buffer posted, the frame sent on the tap, used. */
static bool rx_one(struct ctl_dev *x)
{
	uint16_t head = (uint16_t)(x->avail[USV_VQ_RX] % NUM);
	size_t off = RX_AREA + (size_t)head * BUF;
	uint8_t frame[RX_LEN];

	cl_put_desc(x->d.ring[USV_VQ_RX].desc, head, cl_ram_gpa(&x->ram, off), BUF,
		    CL_D_WRITE, 0);
	cl_post(&x->d.ring[USV_VQ_RX], &x->avail[USV_VQ_RX], head);
	cl_kick(x->d.kick[USV_VQ_RX], "control", USV_VQ_RX);
	cl_make_frame(frame, sizeof(frame), ETH_RX, ++x->seq);
	if (!cl_port_send(&x->port, frame, sizeof(frame), "control"))
		return false;
	x->used[USV_VQ_RX]++;
	return cl_check(wait_used(x, USV_VQ_RX, x->used[USV_VQ_RX], cl_scaled(2000)),
			"RX %u: used", x->seq);
}

static bool dev_up(struct ctl_dev *x, const char *path, const char *tap)
{
	struct cl_port_opts o = { .name = tap, .mtu = 1500, .no_ipv6 = true };
	uint8_t b[64];

	x->port.pkt = -1;
	if (!cl_ram_init(&x->ram, CL_RAM_MEMFD, RAM_SIZE) ||
	    !cl_dev_open(&x->d, path, &x->ram, "control") ||
	    !cl_port_open(&x->port, x->d.tap, &o, "control") || !cl_qemu_init(&x->d))
		return false;
	while (read(x->d.tap, b, sizeof(b)) > 0)
		;
	cl_port_drain(&x->port);
	if (!cl_qemu_start(&x->d, 0))
		return false;
	/* client_lib starts the used idx at 7; no interrupts asked for. */
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		x->avail[vq] = 0;
		x->used[vq] = 7;
		cl_set_used_event(&x->d.ring[vq], 0x8000);
	}
	return true;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Opens the hostile connections into fds (n + 1 of them); bytes sent. */
static size_t hog(const char *path, unsigned n, int *fds)
{
	static char junk[1 << 20];
	size_t sent = 0;

	memset(junk, 'x', sizeof(junk));
	for (unsigned i = 0; i <= n; i++) {
		fds[i] = unix_connect(path);
		cl_check(fds[i] >= 0, "hog: connect %s", path);
	}
	while (fds[n] >= 0 && sent < sizeof(junk)) {
		ssize_t k = send(fds[n], junk + sent, sizeof(junk) - sent, MSG_NOSIGNAL);

		if (k <= 0)
			break;
		sent += (size_t)k;
	}
	return sent;
}

/* K GET_FEATURES calls; the slowest, in microseconds. */
static uint64_t ioctl_latency(struct ctl_dev *x, unsigned k)
{
	uint64_t worst = 0, f;

	for (unsigned i = 0; i < k; i++) {
		uint64_t t0 = cl_now_us(), dt;

		cl_ioctl(x->d.fd, USV_VHOST_GET_FEATURES, &f, 0, "GET_FEATURES");
		dt = cl_now_us() - t0;
		worst = dt > worst ? dt : worst;
	}
	return worst;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *tap = NULL;
	unsigned ntx = 0, nrx = 0;
	struct ctl_dev x;
	char line[512], hogpath[256];
	int hogfds[17];
	unsigned nhog = 0;

	memset(&x, 0, sizeof(x));
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--dev=", 6))
			path = argv[i] + 6;
		else if (!strncmp(argv[i], "--tap=", 6))
			tap = argv[i] + 6;
		else if (!strncmp(argv[i], "--tx=", 5))
			ntx = (unsigned)atoi(argv[i] + 5);
		else if (!strncmp(argv[i], "--rx=", 5))
			nrx = (unsigned)atoi(argv[i] + 5);
	}
	if (!path || !tap) {
		fprintf(stderr, "usage: control_client --dev=PATH --tap=NAME [--tx=N] [--rx=M]\n");
		return 2;
	}
	if (dev_up(&x, path, tap)) {
		for (unsigned i = 0; i < ntx; i++)
			tx_one(&x);
		for (unsigned i = 0; i < nrx; i++)
			rx_one(&x);
	}
	cl_print("ready pid=%d tap=%s tx=%u tx_bytes=%u rx=%u rx_bytes=%u failures=%lu",
		 (int)getpid(), tap, ntx, ntx * (VNET_HDR + TX_LEN), nrx, nrx * (VNET_HDR + RX_LEN),
		 cl_failures());
	while (fgets(line, sizeof(line), stdin)) {
		unsigned k;

		if (sscanf(line, "ioctls %u", &k) == 1) {
			uint64_t worst = ioctl_latency(&x, k);

			cl_print("ioctls n=%u max_us=%llu failures=%lu", k,
				 (unsigned long long)worst, cl_failures());
		} else if (sscanf(line, "tx %u", &k) == 1) {
			for (unsigned i = 0; i < k; i++)
				tx_one(&x);
			cl_print("tx n=%u failures=%lu", k, cl_failures());
		} else if (sscanf(line, "rx %u", &k) == 1) {
			for (unsigned i = 0; i < k; i++)
				rx_one(&x);
			cl_print("rx n=%u failures=%lu", k, cl_failures());
		} else if (sscanf(line, "hog %255s %u", hogpath, &k) == 2 && k < 16 && !nhog) {
			size_t sent = hog(hogpath, k, hogfds);

			nhog = k + 1;
			cl_print("hog silent=%u sent=%zu", k, sent);
		} else if (!strncmp(line, "quit", 4)) {
			break;
		}
	}
	for (unsigned i = 0; i < nhog; i++)
		if (hogfds[i] >= 0)
			close(hogfds[i]);
	cl_port_close(&x.port);
	cl_dev_close(&x.d);
	cl_ram_fini(&x.ram);
	cl_print("%lu passed, %lu failed", cl_checks() - cl_failures(), cl_failures());
	return cl_failures() ? 1 : 0;
}
