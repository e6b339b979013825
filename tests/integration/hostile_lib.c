/* SPDX-License-Identifier: MIT */
/*
 * The hostile client's toolbox: what the daemon says (alive, log, stats
 * file), and a device played as QEMU and its guest driver: RAM, rings, a tap
 * reached through an AF_PACKET socket on its interface, one TX packet or RX
 * frame at a time. Time, eventfds, frames and the ring and tap primitives
 * are the clients' library's (client_lib.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "hostile.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>
#include <sys/prctl.h>

struct hx_env hx;
static unsigned tap_names;

/* ---- the daemon ----------------------------------------------------------- */

/* usvhostd still runs (not gone, not a zombie). */
bool hx_daemon_alive(void)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)hx.daemon_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

bool hx_check_daemon_alive(const char *when)
{
	return cl_check(hx_daemon_alive(), "usvhostd (pid %d) still runs %s", (int)hx.daemon_pid,
			when);
}

/* Lines of the daemon log that contain needle. */
unsigned hx_log_count(const char *needle)
{
	char line[1024];
	unsigned n = 0;
	FILE *f = fopen(hx.log, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

bool hx_log_wait(const char *needle, unsigned ms)
{
	uint64_t end = cl_now_ms() + ms;

	while (!cl_file_has(hx.log, needle) && cl_now_ms() < end)
		cl_sleep_ms(50);
	return cl_file_has(hx.log, needle);
}

/* ---- devices: RAM, rings, a tap and its interface ----------------------- */

/* Names the tap (unique over processes), sets its MTU, brings it up and
 * binds an AF_PACKET socket to it with room for the largest frame. */
bool hdev_tap_host_side(struct hdev *x, unsigned mtu)
{
	char name[IFNAMSIZ];
	struct cl_port_opts o = { .name = name, .mtu = mtu, .rcvbuf = 4 * (int)MiB };

	snprintf(name, sizeof(name), "h%dx%u", (int)getpid(), ++tap_names);
	return cl_port_open(&x->port, x->d.tap, &o, x->tag);
}

bool hdev_tap_send(struct hdev *x, const uint8_t *f, size_t len)
{
	return cl_port_send(&x->port, f, len, x->tag);
}

ssize_t hdev_tap_recv(struct hdev *x, uint16_t type, uint32_t seq, uint8_t *buf,
		      size_t cap, unsigned ms)
{
	return cl_port_recv(&x->port, type, seq, buf, cap, ms);
}

void hdev_tap_drain(struct hdev *x)
{
	cl_port_drain(&x->port);
}

uint8_t *hdev_ram(struct hdev *x, size_t off)
{
	return x->ram.base + off;
}

uint64_t hdev_gpa(struct hdev *x, size_t off)
{
	return cl_ram_gpa(&x->ram, off);
}

struct cl_vdesc *hdev_desc(struct hdev *x, unsigned vq)
{
	return x->d.ring[vq].desc;
}

void hdev_post(struct hdev *x, unsigned vq, uint16_t head)
{
	cl_post(&x->d.ring[vq], &x->avail[vq], head);
}

void hdev_kick(struct hdev *x, unsigned vq)
{
	cl_kick(x->d.kick[vq], x->tag, vq);
}

void hdev_set_used_event(struct hdev *x, unsigned vq, uint16_t v)
{
	cl_set_used_event(&x->d.ring[vq], v);
}

uint16_t hdev_used_idx(struct hdev *x, unsigned vq)
{
	return cl_used_idx(&x->d.ring[vq]);
}

struct cl_vring_used_elem hdev_used_elem(struct hdev *x, unsigned vq, uint16_t idx)
{
	return cl_used_elem(&x->d.ring[vq], idx);
}

/* Waits at most ms for the used idx to pass x->used[vq] by n; returns how
 * far it went. Sleeps on the call eventfd (used_event asks for each entry)
 * and looks at the index every millisecond whatever it says. */
uint16_t hdev_wait_used(struct hdev *x, unsigned vq, uint16_t n, unsigned ms)
{
	uint64_t end = cl_now_us() + (uint64_t)ms * 1000;
	uint16_t moved;

	for (;;) {
		struct pollfd p = { .fd = x->d.call[vq], .events = POLLIN };

		moved = (uint16_t)(hdev_used_idx(x, vq) - x->used[vq]);
		if (moved >= n || cl_now_us() > end)
			return moved;
		if (poll(&p, 1, 1) > 0)
			cl_efd_drain(x->d.call[vq]);
	}
}

void hdev_close(struct hdev *x)
{
	cl_port_close(&x->port);
	if (x->open)
		cl_dev_close(&x->d);
	x->open = false;
	if (x->ram_ok)
		cl_ram_fini(&x->ram);
	x->ram_ok = false;
}

/* RAM of this kind, the device, its tap (MTU mtu) and QEMU's netdev init. */
bool hdev_open(struct hdev *x, const char *tag, enum cl_ram_kind kind, unsigned mtu)
{
	memset(x, 0, sizeof(*x));
	x->tag = tag;
	x->port.pkt = -1;
	x->ram_ok = cl_ram_init(&x->ram, kind, RAM_SIZE);
	if (!x->ram_ok)
		return false;
	x->open = cl_dev_open(&x->d, hx.dev, &x->ram, tag);
	if (!x->open)
		return false;
	return hdev_tap_host_side(x, mtu) && cl_qemu_init(&x->d);
}

/* QEMU's DRIVER_OK sequence: both rings attached at base 0, used idx 7. */
bool hdev_start(struct hdev *x)
{
	uint8_t b[64];

	while (read(x->d.tap, b, sizeof(b)) > 0)
		;
	hdev_tap_drain(x);
	if (!cl_qemu_start(&x->d, 0))
		return false;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		x->avail[vq] = 0;
		x->used[vq] = 7;
		hdev_set_used_event(x, vq, 7);
	}
	return true;
}

bool hdev_up(struct hdev *x, const char *tag, enum cl_ram_kind kind, unsigned mtu)
{
	if (hdev_open(x, tag, kind, mtu) && hdev_start(x))
		return true;
	hdev_close(x);
	return false;
}

/* ---- TX and RX, one packet ---------------------------------------------- */

/* Puts [zeroed vnet header][frame] in the next TX slot as one descriptor. */
uint16_t hdev_tx_post(struct hdev *x, size_t len, uint32_t seq)
{
	size_t off = TX_AREA + (size_t)(x->tx_slot++ % TX_SLOTS) * TX_SLOT;
	uint16_t head = (uint16_t)(x->tx_desc++ % ODD_HEAD);
	uint8_t *p = hdev_ram(x, off);

	memset(p, 0, VNET_HDR);
	cl_make_frame(p + VNET_HDR, len, ETH_TX, seq);
	cl_put_desc(hdev_desc(x, VQ_TX), head, hdev_gpa(x, off), (uint32_t)(VNET_HDR + len), 0, 0);
	hdev_post(x, VQ_TX, head);
	return head;
}

/* One TX packet: it leaves through the tap with the guest's bytes and the
 * used ring gets its head. */
bool hdev_tx_one(struct hdev *x, size_t len, const char *what)
{
	static uint8_t got[MTU + 64];
	uint8_t want[MTU];
	uint32_t seq = ++x->seq;
	uint16_t moved;
	ssize_t n;
	bool ok = true;

	cl_make_frame(want, len, ETH_TX, seq);
	hdev_set_used_event(x, VQ_TX, x->used[VQ_TX]);
	hdev_tx_post(x, len, seq);
	hdev_kick(x, VQ_TX);
	n = hdev_tap_recv(x, ETH_TX, seq, got, sizeof(got), cl_scaled(T_PACKET));
	ok &= cl_check(n == (ssize_t)len && !memcmp(got, want, len),
		       "%s: TX %s: a %zu-byte packet left through the tap intact (got %zd bytes)",
		       x->tag, what, len, n);
	moved = hdev_wait_used(x, VQ_TX, 1, cl_scaled(T_PACKET));
	ok &= cl_check(moved == 1, "%s: TX %s: the used idx moved by %u, expected 1", x->tag,
		       what, moved);
	x->used[VQ_TX] = (uint16_t)(x->used[VQ_TX] + moved);
	return ok;
}

size_t hx_rx_buf_off(uint16_t head)
{
	return RX_AREA + (size_t)head * RX_BUF;
}

/* n more RX buffers of RX_BUF bytes, one writable descriptor each. */
void hdev_rx_post(struct hdev *x, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t head = (uint16_t)(x->avail[VQ_RX] % NUM);

		memset(hdev_ram(x, hx_rx_buf_off(head)), 0xaa, RX_BUF);
		cl_put_desc(hdev_desc(x, VQ_RX), head, hdev_gpa(x, hx_rx_buf_off(head)), RX_BUF,
			    CL_D_WRITE, 0);
		hdev_post(x, VQ_RX, head);
	}
}

/* Buffers posted and not used yet. */
uint16_t hdev_rx_ready(struct hdev *x)
{
	return (uint16_t)(x->avail[VQ_RX] - (x->used[VQ_RX] - 7));
}

/* One frame of len (at most RX_BUF - 12) sent to the tap lands in the next
 * buffer: the tap's header, then the frame. */
bool hdev_rx_one(struct hdev *x, size_t len, const char *what)
{
	uint8_t f[RX_BUF];
	uint32_t seq = ++x->seq;
	struct cl_vring_used_elem e;
	uint16_t moved;
	bool ok;

	if (hdev_rx_ready(x) == 0) {
		hdev_rx_post(x, 8);
		hdev_kick(x, VQ_RX);
	}
	cl_make_frame(f, len, ETH_RX, seq);
	hdev_set_used_event(x, VQ_RX, x->used[VQ_RX]);
	if (!hdev_tap_send(x, f, len))
		return false;
	moved = hdev_wait_used(x, VQ_RX, 1, cl_scaled(T_PACKET));
	ok = cl_check(moved >= 1, "%s: RX %s: a %zu-byte frame sent to the tap was used "
		      "(used idx moved by %u)", x->tag, what, len, moved);
	if (!ok)
		return false;
	e = hdev_used_elem(x, VQ_RX, x->used[VQ_RX]);
	x->used[VQ_RX]++;
	ok = cl_check(e.id < NUM && e.len == VNET_HDR + len &&
		      !memcmp(hdev_ram(x, hx_rx_buf_off((uint16_t)e.id)) + VNET_HDR, f, len),
		      "%s: RX %s: used entry {id %u, len %u} holds the frame (want len %zu)",
		      x->tag, what, e.id, e.len, VNET_HDR + len);
	return ok;
}

/* ---- what the daemon reports: stats file and log ------------------------ */

/* The stats line of this device's ring vq (found by its tap's name). */
static bool hdev_stats_line(struct hdev *x, unsigned vq, char *out, size_t n)
{
	char line[512], want_vq[16], want_be[64];
	bool found = false;
	FILE *f;

	if (!(f = fopen(hx.stats, "re")))
		return false;
	snprintf(want_vq, sizeof(want_vq), " vq=%u ", vq);
	snprintf(want_be, sizeof(want_be), " backend=tap:%s ", x->port.ifname);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, want_vq) && strstr(line, want_be)) {
			snprintf(out, n, "%s", line);
			out[strcspn(out, "\n")] = '\0';
			found = true;
		}
	}
	fclose(f);
	return found;
}

uint64_t hx_stats_num(const char *line, const char *key)
{
	const char *p = strstr(line, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
}

/* Waits (SIGUSR1 makes the daemon rewrite the file) at most ms for the
 * ring's stats line to satisfy ok(line, arg); leaves the last line seen. */
bool hdev_stats_wait(struct hdev *x, unsigned vq, bool (*ok)(const char *, uint64_t),
		     uint64_t arg, char *line, size_t n, unsigned ms)
{
	uint64_t end = cl_now_ms() + ms;
	bool have, good;

	line[0] = '\0';
	do {
		kill(hx.daemon_pid, SIGUSR1);
		cl_sleep_ms(30);
		have = hdev_stats_line(x, vq, line, n);
		good = have && ok(line, arg);
	} while (!good && cl_now_ms() < end);
	if (!have)
		snprintf(line, n, "none for tap %s", x->port.ifname);
	return good;
}

static bool hx_line_state(const char *line, uint64_t arg)
{
	return strstr(line, arg ? " state=broken " : " state=running ") != NULL;
}

bool hx_line_drops_at_least(const char *line, uint64_t arg)
{
	uint64_t d = hx_stats_num(line, " drops=");

	return d != UINT64_MAX && d >= arg;
}

static bool hx_line_any(const char *line, uint64_t arg)
{
	(void)line;
	(void)arg;
	return true;
}

unsigned hdev_handle(struct hdev *x)
{
	char line[512];

	if (!hdev_stats_wait(x, VQ_TX, hx_line_any, 0, line, sizeof(line), cl_scaled(3000)))
		return UINT_MAX;
	return (unsigned)hx_stats_num(line, "dev=");
}

/* The ring is reported stopped: state=broken in the stats file and
 * "dev H: vq N stopped" in the daemon log. */
bool hdev_check_broken(struct hdev *x, unsigned vq)
{
	char line[512], needle[64];
	bool ok;

	ok = cl_check(hdev_stats_wait(x, vq, hx_line_state, 1, line, sizeof(line), cl_scaled(3000)),
		      "%s: vq %u: stats say state=broken (%s)", x->tag, vq, line);
	snprintf(needle, sizeof(needle), "dev %u: vq %u stopped",
		 (unsigned)hx_stats_num(line, "dev="), vq);
	ok &= cl_check(hx_log_wait(needle, cl_scaled(3000)),
		       "%s: vq %u: the daemon log says \"%s\"", x->tag, vq, needle);
	return ok;
}

bool hdev_check_running(struct hdev *x, unsigned vq)
{
	char line[512];

	return cl_check(hdev_stats_wait(x, vq, hx_line_state, 0, line, sizeof(line),
					cl_scaled(3000)),
			"%s: vq %u: stats say state=running (%s)", x->tag, vq, line);
}

uint64_t hdev_drops(struct hdev *x, unsigned vq)
{
	char line[512];

	if (!hdev_stats_wait(x, vq, hx_line_any, 0, line, sizeof(line), cl_scaled(3000)))
		return UINT64_MAX;
	return hx_stats_num(line, " drops=");
}

uint64_t hdev_packets(struct hdev *x, unsigned vq)
{
	char line[512];

	if (!hdev_stats_wait(x, vq, hx_line_any, 0, line, sizeof(line), cl_scaled(3000)))
		return UINT64_MAX;
	return hx_stats_num(line, " packets=");
}

/* Drops root for uid (gid the same, no supplementary groups); stays
 * dumpable as a user's QEMU is. */
bool hx_drop_privileges(uid_t uid)
{
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		cl_setup_fail("drop privileges to uid %u", (unsigned)uid);
		return false;
	}
	/* As a user's QEMU: dumpable, its /proc files its own. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return true;
}

/* Two processes of a scenario talk over pipes, a byte at a time. */
bool hx_link_send(int fd, uint8_t v)
{
	return write(fd, &v, 1) == 1;
}

bool hx_link_recv(int fd, uint8_t *v, unsigned ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, (int)cl_scaled(ms)) == 1 && read(fd, v, 1) == 1;
}

/* Threads of the daemon in an uninterruptible (or killable) wait: a worker
 * waiting on a page of its owner's memory is one. */
unsigned hx_daemon_threads_waiting(void)
{
	char path[320], buf[512];
	unsigned n = 0;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)hx.daemon_pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char *p;
		ssize_t len;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)hx.daemon_pid,
			 e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "TID (comm) S ...": the state follows the last ')'. */
		p = strrchr(buf, ')');
		n += p && p[1] == ' ' && p[2] == 'D';
	}
	closedir(d);
	return n;
}
