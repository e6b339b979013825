/* SPDX-License-Identifier: MIT */
/*
 * What every client that plays the guest driver needs (ring_faults,
 * hostile): time and eventfds, the driver's side of a split ring, Ethernet
 * frames, and a tap reached from the host through an AF_PACKET socket on
 * its interface. Writing to the tap fd ourselves would inject into the
 * host's stack, not towards the daemon.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "client_lib.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const uint8_t mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

/* ---- time, eventfds, files ----------------------------------------------- */

uint64_t cl_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t cl_now_ms(void)
{
	return cl_now_us() / 1000;
}

unsigned cl_scaled(unsigned ms)
{
	return ms * cl_timeout_scale;
}

void cl_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool cl_efd_wait(int fd, unsigned ms, uint64_t *count)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;
	int r;

	do
		r = poll(&p, 1, (int)ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0 || read(fd, &v, sizeof(v)) != sizeof(v))
		return false;
	if (count)
		*count = v;
	return true;
}

void cl_efd_drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

bool cl_file_has(const char *path, const char *needle)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

void cl_write_sysctl(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, v, strlen(v)) < 0)
		cl_print("# note: cannot write %s: %s", path, strerror(errno));
	close(fd);
}

/* ---- the guest driver's side of a ring ----------------------------------- */

void cl_put_desc(struct cl_vdesc *t, unsigned i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	struct cl_vdesc v = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(&t[i], &v, sizeof(v));
}

void cl_post(struct cl_ring *r, uint16_t *avail, uint16_t head)
{
	r->avail->ring[*avail % CL_RING_NUM] = head;
	(*avail)++;
	__atomic_store_n(&r->avail->idx, *avail, __ATOMIC_RELEASE);
}

void cl_set_used_event(struct cl_ring *r, uint16_t v)
{
	__atomic_store_n(&r->avail->ring[CL_RING_NUM], v, __ATOMIC_RELEASE);
}

uint16_t cl_used_idx(const struct cl_ring *r)
{
	return cl_load16(&r->used->idx);
}

struct cl_vring_used_elem cl_used_elem(const struct cl_ring *r, uint16_t idx)
{
	struct cl_vring_used_elem e;

	memcpy(&e, &r->used->ring[idx % CL_RING_NUM], sizeof(e));
	return e;
}

void cl_kick(int efd, const char *tag, unsigned vq)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		cl_setup_fail("%s: kick vq %u", tag, vq);
}

/* ---- frames and a tap's host side ---------------------------------------- */

size_t cl_make_frame(uint8_t *f, size_t len, uint16_t type, uint32_t seq)
{
	memcpy(f, mac_dst, 6);
	memcpy(f + 6, mac_src, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq * 31 + i * 7 + (i >> 8));
	memcpy(f + 14, &seq, sizeof(seq));
	return len;
}

bool cl_port_open(struct cl_port *p, int tap, const struct cl_port_opts *o, const char *tag)
{
	struct ifreq ifr;
	struct sockaddr_ll sll;
	char path[128];
	int s, rcv = o->rcvbuf;
	bool ok = false;

	p->pkt = -1;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(tap, TUNGETIFF, &ifr) < 0) {
		cl_setup_fail("%s: TUNGETIFF", tag);
		return false;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		cl_setup_fail("%s: socket for interface ioctls", tag);
		return false;
	}
	/* Renaming needs the interface down, as a new tap is. */
	snprintf(p->ifname, sizeof(p->ifname), "%s", o->name);
	snprintf(ifr.ifr_newname, sizeof(ifr.ifr_newname), "%s", p->ifname);
	if (ioctl(s, SIOCSIFNAME, &ifr) < 0) {
		cl_setup_fail("%s: rename %s to %s", tag, ifr.ifr_name, p->ifname);
		goto out;
	}
	if (o->no_ipv6) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", p->ifname);
		cl_write_sysctl(path, "1");
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", p->ifname);
	ifr.ifr_mtu = (int)o->mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0) {
		cl_setup_fail("%s: MTU %u on %s", tag, o->mtu, p->ifname);
		goto out;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		cl_setup_fail("%s: SIOCGIFFLAGS %s", tag, p->ifname);
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		cl_setup_fail("%s: bring %s up", tag, p->ifname);
		goto out;
	}
	p->ifindex = (int)if_nametoindex(p->ifname);
	p->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (p->pkt < 0) {
		cl_setup_fail("%s: AF_PACKET socket", tag);
		goto out;
	}
	if (rcv > 0 && setsockopt(p->pkt, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		cl_print("# note: %s: SO_RCVBUFFORCE: %s", tag, strerror(errno));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	if (bind(p->pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		cl_setup_fail("%s: bind AF_PACKET to %s", tag, p->ifname);
		goto out;
	}
	ok = true;
out:
	close(s);
	return ok;
}

void cl_port_close(struct cl_port *p)
{
	if (p->pkt >= 0)
		close(p->pkt);
	p->pkt = -1;
}

bool cl_port_send(struct cl_port *p, const uint8_t *f, size_t len, const char *tag)
{
	struct sockaddr_ll sll;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = p->ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, mac_dst, 6);
	if (sendto(p->pkt, f, len, 0, (struct sockaddr *)&sll, sizeof(sll)) != (ssize_t)len) {
		cl_setup_fail("%s: send %zu bytes on %s", tag, len, p->ifname);
		return false;
	}
	return true;
}

ssize_t cl_port_recv(struct cl_port *p, uint16_t type, uint32_t seq, uint8_t *buf, size_t cap,
		     unsigned ms)
{
	uint64_t end = cl_now_ms() + ms;

	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct pollfd pf = { .fd = p->pkt, .events = POLLIN };
		uint64_t now = cl_now_ms();
		uint32_t got;
		ssize_t n;

		if (now > end)
			return -1;
		if (poll(&pf, 1, (int)(end - now)) <= 0)
			continue;
		n = recvfrom(p->pkt, buf, cap, MSG_TRUNC, (struct sockaddr *)&from, &fl);
		/* Our own sends show up as outgoing: not the daemon's. */
		if (n < 14 || from.sll_pkttype == PACKET_OUTGOING ||
		    buf[12] != (uint8_t)(type >> 8) || buf[13] != (uint8_t)type)
			continue;
		if (!seq)
			return n;
		if (n < 18)
			continue;
		memcpy(&got, buf + 14, sizeof(got));
		if (got == seq)
			return n;
	}
}

void cl_port_drain(struct cl_port *p)
{
	uint8_t b[64];

	while (recv(p->pkt, b, sizeof(b), MSG_TRUNC) >= 0)
		;
}
