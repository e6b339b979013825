/* SPDX-License-Identifier: MIT */
/*
 * The tap and its host side. The tap is made as QEMU makes it (IFF_TAP |
 * IFF_NO_PI | IFF_VNET_HDR, 12-byte header, O_NONBLOCK); what the backend
 * writes to the tap fd arrives on an AF_PACKET socket bound to the
 * interface, and a frame sent on that socket is what the backend reads.
 * Raw mode replaces the device and the guest by one thread doing write()
 * or read() on the tap fd itself: the reference a backend cannot beat.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64

static const uint8_t mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

size_t bench_frame(uint8_t *f, size_t len, uint32_t seq)
{
	memcpy(f, mac_dst, 6);
	memcpy(f + 6, mac_src, 6);
	f[12] = BENCH_ETHERTYPE >> 8;
	f[13] = BENCH_ETHERTYPE & 0xff;
	for (size_t i = 18; i < len; i++)
		f[i] = (uint8_t)(i * 7);
	memcpy(f + 14, &seq, sizeof(seq));
	return len;
}

static int ifreq_ioctl(int s, unsigned long cmd, struct ifreq *ifr, const char *what)
{
	if (ioctl(s, cmd, ifr) < 0) {
		bench_note("%s %s: %s", what, ifr->ifr_name, strerror(errno));
		return -errno;
	}
	return 0;
}

static int port_up(struct bench_dev *d, int s)
{
	struct ifreq ifr;
	char path[96];
	unsigned mtu = d->o->size > 1514 ? d->o->size - 14 : 1500;
	int rc, fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", d->port.ifname);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) { /* only our frames on the link: no router solicitations */
		(void)!write(fd, "1", 1);
		close(fd);
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", d->port.ifname);
	ifr.ifr_mtu = (int)mtu;
	if ((rc = ifreq_ioctl(s, SIOCSIFMTU, &ifr, "MTU of")) < 0 ||
	    (rc = ifreq_ioctl(s, SIOCGIFFLAGS, &ifr, "flags of")) < 0)
		return rc;
	ifr.ifr_flags |= IFF_UP;
	return ifreq_ioctl(s, SIOCSIFFLAGS, &ifr, "bring up");
}

static int port_open(struct bench_dev *d)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int buf = 16 << 20;

	d->port.ifindex = (int)if_nametoindex(d->port.ifname);
	d->port.pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (d->port.pkt < 0) {
		bench_note("AF_PACKET socket: %s", strerror(errno));
		return -errno;
	}
	/* Bounded waits: every blocking call returns within 100 ms. */
	struct timeval tv = { .tv_usec = 100000 };

	(void)setsockopt(d->port.pkt, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(d->port.pkt, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(d->port.pkt, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	(void)setsockopt(d->port.pkt, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	sll.sll_ifindex = d->port.ifindex;
	if (bind(d->port.pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		bench_note("bind AF_PACKET to %s: %s", d->port.ifname, strerror(errno));
		return -errno;
	}
	return 0;
}

int bench_tap_open(struct bench_dev *d)
{
	struct ifreq ifr;
	int hdr = BENCH_HDR, s = -1, rc;

	d->port.pkt = -1;
	d->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (d->tap < 0) {
		bench_note("open /dev/net/tun: %s", strerror(errno));
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "usvb%d.%u", (int)getpid() % 100000, d->index);
	if ((rc = ifreq_ioctl(d->tap, TUNSETIFF, &ifr, "TUNSETIFF")) < 0)
		return rc;
	snprintf(d->port.ifname, sizeof(d->port.ifname), "%s", ifr.ifr_name);
	if (ioctl(d->tap, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    fcntl(d->tap, F_SETFL, fcntl(d->tap, F_GETFL) | O_NONBLOCK) < 0) {
		bench_note("tap %s: vnet header or O_NONBLOCK: %s", d->port.ifname, strerror(errno));
		return -errno;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	rc = port_up(d, s);
	close(s);
	return rc < 0 ? rc : port_open(d);
}

void bench_tap_close(struct bench_dev *d)
{
	if (d->port.pkt >= 0)
		close(d->port.pkt);
	if (d->tap >= 0)
		close(d->tap); /* the interface goes with its last fd */
	d->port.pkt = d->tap = -1;
}

/* The tap's counters as the kernel keeps them (dev_get_stats(), what
 * /sys/class/net/TAP/statistics shows), read from /proc/self/net/dev: it
 * always shows our own network namespace, which /sys shows only when it was
 * mounted from inside that namespace. */
int bench_tap_stats(const char *ifname, struct bench_tapstat *s)
{
	char line[512];
	size_t len = strlen(ifname);
	FILE *f = fopen("/proc/self/net/dev", "re");
	int rc = -ENOENT;

	if (!f) {
		bench_note("/proc/self/net/dev: %s", strerror(errno));
		return -errno;
	}
	while (rc < 0 && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " ");
		unsigned long long v[16];

		if (strncmp(p, ifname, len) || p[len] != ':')
			continue;
		if (sscanf(p + len + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
			   &v[10], &v[11]) != 12)
			break;
		s->rx_packets = v[1];
		s->rx_dropped = v[3];
		s->tx_packets = v[9];
		s->tx_dropped = v[11];
		rc = 0;
	}
	fclose(f);
	if (rc < 0)
		bench_note("no counters for %s in /proc/self/net/dev", ifname);
	return rc;
}

static bool ours(const uint8_t *f, ssize_t n, const struct sockaddr_ll *from)
{
	return n >= 18 && from->sll_pkttype != PACKET_OUTGOING &&
	       f[12] == BENCH_ETHERTYPE >> 8 && f[13] == (BENCH_ETHERTYPE & 0xff);
}

/* TX: counts our frames as they leave the tap towards the host. */
int bench_port_sink(struct bench_dev *d, struct bench_clock *c)
{
	static __thread uint8_t bufs[BATCH][64];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll from[BATCH];
	struct tpacket_stats st;
	socklen_t sl = sizeof(st);

	while (atomic_load(&c->phase) < 2) {
		int n;

		memset(m, 0, sizeof(m));
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
			m[i].msg_hdr.msg_name = &from[i];
			m[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(d->port.pkt, m, BATCH, MSG_WAITFORONE | MSG_TRUNC, NULL);
		for (int i = 0; i < n; i++)
			d->port_frames += ours(bufs[i], (ssize_t)m[i].msg_len, &from[i]);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			bench_note("receive on %s: %s", d->port.ifname, strerror(errno));
			return -errno;
		}
	}
	if (getsockopt(d->port.pkt, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0)
		d->port_drops += st.tp_drops;
	return 0;
}

static void fill_batch(struct bench_dev *d, struct mmsghdr *m, struct iovec *iov,
		       struct sockaddr_ll *to, uint8_t *f)
{
	memset(m, 0, BATCH * sizeof(*m));
	memset(to, 0, sizeof(*to));
	to->sll_family = AF_PACKET;
	to->sll_ifindex = d->port.ifindex;
	to->sll_halen = 6;
	memcpy(to->sll_addr, mac_dst, 6);
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){ f, d->o->size };
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = to;
		m[i].msg_hdr.msg_namelen = sizeof(*to);
	}
}

/* RX: sends frames out of the interface as fast as it takes them, until
 * the clock says stop posting; the tap drops what its queue cannot hold. */
int bench_port_inject(struct bench_dev *d, struct bench_clock *c)
{
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll to;
	uint8_t *f = malloc(d->o->size);
	int rc = 0;

	if (!f)
		return -ENOMEM;
	bench_frame(f, d->o->size, 0);
	fill_batch(d, m, iov, &to, f);
	while (atomic_load(&c->phase) == 0) {
		int n = sendmmsg(d->port.pkt, m, BATCH, 0);

		if (n > 0) {
			d->port_frames += (unsigned)n;
		} else if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
			bench_note("send on %s: %s", d->port.ifname, strerror(errno));
			rc = -errno;
			break;
		}
	}
	free(f);
	return rc;
}

/* rr: sends every frame of ours that arrives straight back. */
int bench_port_echo(struct bench_dev *d, struct bench_clock *c)
{
	uint8_t *f = malloc(d->o->size + 64);
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };
	int rc = 0;

	if (!f)
		return -ENOMEM;
	to.sll_ifindex = d->port.ifindex;
	memcpy(to.sll_addr, mac_dst, 6);
	while (atomic_load(&c->phase) < 2) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(d->port.pkt, f, d->o->size + 64, 0, (struct sockaddr *)&from, &fl);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (!ours(f, n, &from))
			continue;
		if (sendto(d->port.pkt, f, (size_t)n, 0, (struct sockaddr *)&to, sizeof(to)) == n)
			d->port_frames++;
	}
	free(f);
	return rc;
}

static bool tap_wait(struct bench_dev *d, short ev)
{
	struct pollfd p = { .fd = d->tap, .events = ev };

	return poll(&p, 1, 50) >= 0 || errno == EINTR;
}

int bench_raw_tx(struct bench_dev *d, struct bench_clock *c)
{
	size_t len = BENCH_HDR + d->o->size;
	uint8_t *b = calloc(1, len);

	if (!b)
		return -ENOMEM;
	bench_frame(b + BENCH_HDR, d->o->size, 0);
	while (atomic_load(&c->phase) == 0) {
		if (write(d->tap, b, len) == (ssize_t)len)
			d->frames_window++;
		else if (errno == EAGAIN)
			tap_wait(d, POLLOUT);
		else if (errno != EINTR) {
			d->err = -errno;
			break;
		}
	}
	free(b);
	d->frames_total = d->frames_window;
	return d->err;
}

static int raw_read(struct bench_dev *d, uint8_t *b, size_t len, uint64_t *frames)
{
	ssize_t n = read(d->tap, b, len);

	if (n > BENCH_HDR + 13 && b[BENCH_HDR + 12] == BENCH_ETHERTYPE >> 8) {
		(*frames)++;
		return 1;
	}
	if (n >= 0 || errno == EINTR)
		return 1;
	if (errno != EAGAIN)
		return -errno;
	if (!d->o->poll)
		tap_wait(d, POLLIN);
	return 0;
}

int bench_raw_rx(struct bench_dev *d, struct bench_clock *c)
{
	size_t len = BENCH_HDR + d->o->size + 64;
	uint8_t *b = malloc(len);
	uint64_t quiet;
	int rc = 0;

	if (!b)
		return -ENOMEM;
	while (atomic_load(&c->phase) == 0 && rc >= 0)
		rc = raw_read(d, b, len, &d->frames_window);
	d->frames_total = d->frames_window;
	quiet = bench_now_ns();
	while (rc >= 0 && bench_now_ns() - quiet < 200000000ull)
		if ((rc = raw_read(d, b, len, &d->frames_total)) > 0)
			quiet = bench_now_ns();
	free(b);
	return d->err = rc < 0 ? rc : 0;
}

int bench_raw_rr(struct bench_dev *d, struct bench_clock *c)
{
	size_t len = BENCH_HDR + d->o->size + 64;
	uint8_t *b = calloc(1, len), *in = malloc(len);
	int rc = 0;

	d->samples = calloc(BENCH_MAX_SAMPLES, sizeof(*d->samples));
	if (!b || !in || !d->samples) {
		free(b);
		free(in);
		return -ENOMEM;
	}
	for (uint32_t seq = 1; atomic_load(&c->phase) == 0 && rc >= 0; seq++) {
		uint64_t t0 = bench_now_ns(), before = d->frames_window;

		bench_frame(b + BENCH_HDR, d->o->size, seq);
		if (write(d->tap, b, BENCH_HDR + d->o->size) < 0) {
			rc = -errno;
			break;
		}
		while (d->frames_window == before && rc >= 0) {
			if (bench_now_ns() - t0 > 1000000000ull) {
				d->lost++;
				break;
			}
			rc = raw_read(d, in, len, &d->frames_window);
		}
		if (d->frames_window != before && d->nsamples < BENCH_MAX_SAMPLES)
			d->samples[d->nsamples++] = bench_now_ns() - t0;
	}
	d->frames_total = d->frames_window;
	free(b);
	free(in);
	return d->err = rc < 0 ? rc : 0;
}
