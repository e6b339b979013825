/* SPDX-License-Identifier: MIT */
/*
 * Attacks from the guest's side: chains and frames larger than the daemon's
 * buffers, zero-length indirect storms, and rings broken in ways that must
 * stop that ring only (ring_faults.c covers bad heads, loops, avail jumps
 * and addresses outside memory).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "hostile.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- oversized TX chains ------------------------------------------------ */

/* The oversized chain at head was consumed and either dropped and counted
 * or sent whole; never a stopped ring or a dead daemon. */
static void check_oversized_tx(struct hdev *x, uint64_t drops0, uint32_t seq, size_t len,
			       const uint8_t *want, const char *what)
{
	static uint8_t got[BIG_RECV];
	uint16_t moved = hdev_wait_used(x, VQ_TX, 1, cl_scaled(T_PACKET));
	ssize_t n;
	uint64_t drops;

	x->used[VQ_TX] = (uint16_t)(x->used[VQ_TX] + moved);
	hx_check_daemon_alive(what);
	cl_check(moved == 1, "%s: %s: consumed (used idx moved by %u, expected 1)", x->tag, what,
		 moved);
	n = hdev_tap_recv(x, ETH_TX, seq, got, sizeof(got), cl_scaled(300));
	drops = hdev_drops(x, VQ_TX);
	if (n < 0 && drops != UINT64_MAX && drops < drops0 + 1) {
		char line[512];

		hdev_stats_wait(x, VQ_TX, hx_line_drops_at_least, drops0 + 1, line, sizeof(line),
				cl_scaled(2000));
		drops = hx_stats_num(line, " drops=");
	}
	if (n >= 0)
		cl_print("    %s: %s: the tap got %zd bytes of it", x->tag, what, n);
	cl_check((n < 0 && drops == drops0 + 1) ||
		 (n == (ssize_t)len && !memcmp(got, want, len) && drops == drops0),
		 "%s: %s: dropped and counted (drops %llu -> %llu, nothing on the tap) or sent "
		 "whole (the tap got %zd of %zu bytes)", x->tag, what,
		 (unsigned long long)drops0, (unsigned long long)drops, n, len);
}

/* Posts [vnet header][frame of len] at BIG_AREA as one descriptor; kicks. */
static void post_big(struct hdev *x, size_t len, uint32_t seq)
{
	uint8_t *p = hdev_ram(x, BIG_AREA);

	memset(p, 0, VNET_HDR);
	cl_make_frame(p + VNET_HDR, len, ETH_TX, seq);
	cl_put_desc(hdev_desc(x, VQ_TX), ODD_HEAD, hdev_gpa(x, BIG_AREA),
		    (uint32_t)(VNET_HDR + len), 0, 0);
	hdev_set_used_event(x, VQ_TX, x->used[VQ_TX]);
	hdev_post(x, VQ_TX, ODD_HEAD);
	hdev_kick(x, VQ_TX);
}

void scenario_oversized_tx_anon(void)
{
	static const size_t lens[] = { 70000 - VNET_HDR, 1000000 - VNET_HDR };
	struct bystander b;
	struct hdev x;
	unsigned from;

	if (!bystander_start(&b) ||
	    !hdev_up(&x, "attacker (anonymous RAM)", CL_RAM_ANON_PRIV, MTU))
		goto out;
	hdev_tx_one(&x, 100, "before");
	from = bystander_mark(&b);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		char what[96];
		uint64_t drops0 = hdev_drops(&x, VQ_TX);
		uint32_t seq = ++x.seq;

		snprintf(what, sizeof(what), "a TX chain of %zu readable bytes",
			 lens[i] + VNET_HDR);
		post_big(&x, lens[i], seq);
		check_oversized_tx(&x, drops0, seq, lens[i], hdev_ram(&x, BIG_AREA + VNET_HDR),
				   what);
	}
	hdev_check_running(&x, VQ_TX);
	cl_check(!cl_efd_wait(x.d.init_err[VQ_TX], 0, NULL), "%s: the TX ERR eventfd stayed quiet",
		 x.tag);
	hdev_tx_one(&x, 100, "after the oversized chains");
	hdev_rx_one(&x, 100, "after the oversized chains");
	bystander_check(&b, from, "oversized TX chains", T_LATENCY);
	hx_check_daemon_alive("after oversized TX chains");
	hdev_close(&x);
out:
	bystander_stop(&b);
}

void scenario_oversized_tx_segments(void)
{
	const unsigned nseg = 300, seglen = 300;
	const size_t len = (size_t)nseg * seglen - VNET_HDR;
	struct bystander b;
	struct cl_vdesc *table;
	struct hdev x;
	unsigned from;
	uint64_t drops0;
	uint32_t seq;

	if (!bystander_start(&b) ||
	    !hdev_up(&x, "attacker (shared RAM)", CL_RAM_MEMFD, MTU))
		goto out;
	hdev_tx_one(&x, 100, "before");
	from = bystander_mark(&b);
	drops0 = hdev_drops(&x, VQ_TX);
	seq = ++x.seq;
	/* One contiguous packet at SPARE_AREA, described as 300 pieces. */
	memset(hdev_ram(&x, SPARE_AREA), 0, VNET_HDR);
	cl_make_frame(hdev_ram(&x, SPARE_AREA + VNET_HDR), len, ETH_TX, seq);
	table = (struct cl_vdesc *)hdev_ram(&x, TABLE_AREA);
	for (unsigned i = 0; i < nseg; i++)
		cl_put_desc(table, i, hdev_gpa(&x, SPARE_AREA + (size_t)i * seglen), seglen,
			    i + 1 < nseg ? CL_D_NEXT : 0, (uint16_t)(i + 1));
	cl_put_desc(hdev_desc(&x, VQ_TX), ODD_HEAD, hdev_gpa(&x, TABLE_AREA),
		    nseg * (uint32_t)sizeof(struct cl_vdesc), CL_D_INDIRECT, 0);
	hdev_set_used_event(&x, VQ_TX, x.used[VQ_TX]);
	hdev_post(&x, VQ_TX, ODD_HEAD);
	hdev_kick(&x, VQ_TX);
	check_oversized_tx(&x, drops0, seq, len, hdev_ram(&x, SPARE_AREA + VNET_HDR),
			   "a 90,000-byte TX chain of 300 segments");
	hdev_check_running(&x, VQ_TX);
	cl_check(!cl_efd_wait(x.d.init_err[VQ_TX], 0, NULL), "%s: the TX ERR eventfd stayed quiet",
		 x.tag);
	hdev_tx_one(&x, 100, "after the oversized chain");
	bystander_check(&b, from, "an oversized segmented TX chain", T_LATENCY);
	hx_check_daemon_alive("after an oversized segmented TX chain");
	hdev_close(&x);
out:
	bystander_stop(&b);
}

/* ---- RX frames larger than the daemon's buffers ------------------------- */

void scenario_oversized_rx(void)
{
	const unsigned nframes = 4, flen = 14 + TAP_MTU_MAX, hdr = 4096;
	static uint8_t f[14 + TAP_MTU_MAX];
	struct bystander b;
	struct hdev x;
	unsigned from, delivered = 0;
	uint64_t drops0, pkts0, drops1, pkts1;
	uint16_t first, moved;
	int hsz = (int)hdr;

	if (!bystander_start(&b) ||
	    !hdev_up(&x, "attacker (shared RAM, vnet header 4096)", CL_RAM_MEMFD,
		     TAP_MTU_MAX))
		goto out;
	/* One buffer for it: none is left posted after it. */
	hdev_rx_post(&x, 1);
	hdev_rx_one(&x, 100, "before");
	drops0 = hdev_drops(&x, VQ_RX);
	pkts0 = hdev_packets(&x, VQ_RX);
	from = bystander_mark(&b);
	/* tun checks only that the header is at least 10 bytes: each read now
	 * returns 4096 + 65535 bytes. */
	if (!cl_check(ioctl(x.d.tap, TUNSETVNETHDRSZ, &hsz) == 0,
		      "the caller sets its tap's vnet header to %u bytes", hdr))
		goto close;
	/* One small buffer for a 69,631-byte read. */
	first = x.used[VQ_RX];
	hdev_rx_post(&x, 1);
	hdev_kick(&x, VQ_RX);
	for (unsigned i = 0; i < nframes; i++) {
		cl_make_frame(f, flen, ETH_RX, ++x.seq);
		hdev_tap_send(&x, f, flen);
	}
	cl_sleep_ms(cl_scaled(500));
	hx_check_daemon_alive("after 65,535-byte frames read with a 4096-byte vnet header");
	/* Room for all of them now: each needs 46 buffers of 1536. */
	hdev_rx_post(&x, 200);
	hdev_kick(&x, VQ_RX);
	cl_sleep_ms(cl_scaled(1000));
	hx_check_daemon_alive("once the guest posted room for the big frames");
	moved = (uint16_t)(hdev_used_idx(&x, VQ_RX) - first);
	for (uint16_t i = 0; i < moved; i++) {
		struct cl_vring_used_elem e = hdev_used_elem(&x, VQ_RX, (uint16_t)(first + i));

		if (!cl_check(e.id < NUM && e.len <= RX_BUF, "%s: used entry {id %u, len %u} "
			      "within its %u-byte buffer", x.tag, e.id, e.len, RX_BUF))
			break;
	}
	x.used[VQ_RX] = (uint16_t)(first + moved);
	drops1 = hdev_drops(&x, VQ_RX);
	pkts1 = hdev_packets(&x, VQ_RX);
	delivered = pkts1 != UINT64_MAX && pkts0 != UINT64_MAX ? (unsigned)(pkts1 - pkts0) : 0;
	cl_print("    %s: %u big frames sent: %u delivered, %llu dropped, %u buffers used",
		 x.tag, nframes, delivered, (unsigned long long)(drops1 - drops0), moved);
	cl_check(drops1 != UINT64_MAX && delivered + (drops1 - drops0) == nframes,
		 "%s: each of the %u frames larger than the daemon's buffers was delivered or "
		 "dropped and counted (packets +%u, drops +%llu)", x.tag, nframes, delivered,
		 (unsigned long long)(drops1 - drops0));
	hdev_check_running(&x, VQ_RX);
	/* Back to the header QEMU sets: a normal frame lands normally. */
	hsz = VNET_HDR;
	cl_check(ioctl(x.d.tap, TUNSETVNETHDRSZ, &hsz) == 0, "the caller sets its tap's vnet "
		 "header back to 12 bytes");
	hdev_rx_one(&x, 100, "after the big frames");
	hdev_tx_one(&x, 100, "after the big frames");
	bystander_check(&b, from, "frames larger than the daemon's buffers", T_LATENCY);
close:
	hdev_close(&x);
out:
	bystander_stop(&b);
}

/* ---- chain lengths: indirect tables ------------------------------------- */

#define STORM_ENTRIES 65536u

void scenario_indirect_storm(void)
{
	struct bystander b;
	struct hdev x;
	struct cl_vdesc *table, *t;
	unsigned from;
	uint64_t t0;

	if (!bystander_start(&b) || !hdev_up(&x, "attacker", CL_RAM_MEMFD, MTU))
		goto out;
	hdev_tx_one(&x, 100, "before");
	from = bystander_mark(&b);
	cl_sleep_ms(300);
	bystander_check(&b, from, "no attack (reference)", T_LATENCY);
	/* A 65,536-entry table of zero-length entries and one real piece. */
	table = (struct cl_vdesc *)hdev_ram(&x, TABLE_AREA);
	for (unsigned i = 0; i + 1 < STORM_ENTRIES; i++)
		cl_put_desc(table, i, 0, 0, CL_D_NEXT, 0);
	memset(hdev_ram(&x, SPARE_AREA), 0, 64);
	cl_put_desc(table, STORM_ENTRIES - 1, hdev_gpa(&x, SPARE_AREA), 64, 0, 0);
	/* A chain through the whole ring, each descriptor that table. */
	t = hdev_desc(&x, VQ_TX);
	for (unsigned i = 0; i < NUM; i++)
		cl_put_desc(t, i, hdev_gpa(&x, TABLE_AREA), STORM_ENTRIES * (uint32_t)sizeof(*t),
			    CL_D_INDIRECT | (i + 1 < NUM ? CL_D_NEXT : 0), (uint16_t)(i + 1));
	from = bystander_mark(&b);
	t0 = cl_now_ms();
	for (unsigned i = 0; i < 64; i++)
		hdev_post(&x, VQ_TX, 0);
	hdev_kick(&x, VQ_TX);
	cl_check(cl_efd_wait(x.d.init_err[VQ_TX], cl_scaled(2000), NULL),
		 "attacker: a chain of %u descriptors x %u zero-length indirect entries: the "
		 "TX ERR eventfd fired within %u ms", NUM, STORM_ENTRIES, cl_scaled(2000));
	cl_print("    attacker: ERR eventfd after %llu ms", (unsigned long long)(cl_now_ms() - t0));
	hdev_check_broken(&x, VQ_TX);
	if (cl_now_ms() - t0 < 1500)
		cl_sleep_ms((unsigned)(1500 - (cl_now_ms() - t0)));
	bystander_check(&b, from, "a zero-length indirect storm", T_LATENCY);
	hdev_rx_one(&x, 100, "on the attacker's other ring");
	hx_check_daemon_alive("after a zero-length indirect storm");
	hdev_close(&x);
out:
	bystander_stop(&b);
}

/* ---- malicious-guest classes -------------------------------------------- */

enum fault {
	FT_LONG_CHAIN,
	FT_STRADDLE,
	FT_WRAP,
	FT_HUGE_LEN,
	FT_RX_4G,
	FT_NESTED,
	FT_IND_OUTSIDE,
	FT_IND_LEN,
	FT_RX_READABLE,
};

static const struct {
	unsigned vq;
	const char *what;
} faults[] = {
	[FT_LONG_CHAIN] = { VQ_TX, "a TX chain of 3 indirect tables of 1000 entries "
				   "(3003 descriptor reads, 3 pieces)" },
	[FT_STRADDLE] = { VQ_TX, "a TX buffer running past the end of a memory region" },
	[FT_WRAP] = { VQ_TX, "a TX buffer from 2^64 - 16 wrapping to address 0" },
	[FT_HUGE_LEN] = { VQ_TX, "a TX descriptor of length 0xffffffff" },
	[FT_RX_4G] = { VQ_RX, "an RX chain of 600 x 8 MiB (more than 4 GiB)" },
	[FT_NESTED] = { VQ_TX, "an indirect descriptor inside an indirect table" },
	[FT_IND_OUTSIDE] = { VQ_TX, "an indirect table outside guest memory" },
	[FT_IND_LEN] = { VQ_TX, "an indirect table of 20 bytes (not a multiple of 16)" },
	[FT_RX_READABLE] = { VQ_RX, "a readable (device-read) descriptor in an RX chain" },
};

/* Writes the bad chain at ODD_HEAD (the frame it would send carries seq). */
static void build_fault(struct hdev *x, enum fault f, uint32_t seq)
{
	struct cl_vdesc *t = hdev_desc(x, faults[f].vq);
	struct cl_vdesc *tab = (struct cl_vdesc *)hdev_ram(x, TABLE_AREA);
	uint8_t frame[64];

	memset(frame, 0, VNET_HDR);
	cl_make_frame(frame + VNET_HDR, sizeof(frame) - VNET_HDR, ETH_TX, seq);
	switch (f) {
	case FT_LONG_CHAIN:
		/* Each table: 999 zero-length entries, then 64 real bytes. */
		for (unsigned k = 0; k < 3; k++) {
			struct cl_vdesc *tk = (struct cl_vdesc *)hdev_ram(x, TABLE_AREA + k * 0x4000u);
			size_t piece = SPARE_AREA + k * 0x1000u;

			for (unsigned i = 0; i < 999; i++)
				cl_put_desc(tk, i, 0, 0, CL_D_NEXT, 0);
			memcpy(hdev_ram(x, piece), frame, sizeof(frame));
			cl_put_desc(tk, 999, hdev_gpa(x, piece), sizeof(frame), 0, 0);
			cl_put_desc(t, ODD_HEAD + k, hdev_gpa(x, TABLE_AREA + k * 0x4000u),
				    1000 * (uint32_t)sizeof(struct cl_vdesc),
				    CL_D_INDIRECT | (k < 2 ? CL_D_NEXT : 0),
				    (uint16_t)(ODD_HEAD + k + 1));
		}
		break;
	case FT_STRADDLE:
		memcpy(hdev_ram(x, HALF - 32), frame, 32);
		cl_put_desc(t, ODD_HEAD, hdev_gpa(x, HALF - 32), sizeof(frame), 0, 0);
		break;
	case FT_WRAP:
		/* The last 16 bytes of the top region, then gpa 0 onwards. */
		memcpy(hdev_ram(x, RAM_SIZE - 16), frame, 16);
		memcpy(hdev_ram(x, 0), frame + 16, sizeof(frame) - 16);
		cl_put_desc(t, ODD_HEAD, UINT64_MAX - 15, sizeof(frame), 0, 0);
		break;
	case FT_HUGE_LEN:
		memcpy(hdev_ram(x, SPARE_AREA), frame, sizeof(frame));
		cl_put_desc(t, ODD_HEAD, hdev_gpa(x, SPARE_AREA), 0xffffffffu, 0, 0);
		break;
	case FT_RX_4G:
		/* Every entry: all of the low region, writable. */
		for (unsigned i = 0; i < 600; i++)
			cl_put_desc(tab, i, 0, HALF, CL_D_WRITE | (i + 1 < 600 ? CL_D_NEXT : 0), 0);
		cl_put_desc(t, ODD_HEAD, hdev_gpa(x, TABLE_AREA), 600 * (uint32_t)sizeof(*tab),
			    CL_D_INDIRECT, 0);
		break;
	case FT_NESTED:
		memcpy(hdev_ram(x, SPARE_AREA), frame, sizeof(frame));
		cl_put_desc(tab, 0, hdev_gpa(x, SPARE_AREA), sizeof(frame), CL_D_NEXT, 0);
		cl_put_desc(tab, 1, hdev_gpa(x, TABLE_AREA + 0x1000), 16, CL_D_INDIRECT, 0);
		cl_put_desc((struct cl_vdesc *)hdev_ram(x, TABLE_AREA + 0x1000), 0,
			    hdev_gpa(x, SPARE_AREA), sizeof(frame), 0, 0);
		cl_put_desc(t, ODD_HEAD, hdev_gpa(x, TABLE_AREA), 2 * sizeof(*tab), CL_D_INDIRECT, 0);
		break;
	case FT_IND_OUTSIDE:
		cl_put_desc(t, ODD_HEAD, 0x300000000ULL, 2 * sizeof(*tab), CL_D_INDIRECT, 0);
		break;
	case FT_IND_LEN:
		memcpy(hdev_ram(x, SPARE_AREA), frame, sizeof(frame));
		cl_put_desc(tab, 0, hdev_gpa(x, SPARE_AREA), sizeof(frame), 0, 0);
		cl_put_desc(t, ODD_HEAD, hdev_gpa(x, TABLE_AREA), 20, CL_D_INDIRECT, 0);
		break;
	case FT_RX_READABLE:
		cl_put_desc(t, ODD_HEAD, hdev_gpa(x, hx_rx_buf_off(ODD_HEAD)), RX_BUF, 0, 0);
		break;
	}
	hdev_post(x, faults[f].vq, ODD_HEAD);
}

/*
 * A guest breaks one ring: its ERR eventfd fires, the ring stops (stats,
 * log naming the device), takes nothing more and sends nothing of the bad
 * chain; the device's other ring and the bystander keep moving packets.
 */
static void ring_fault(enum fault f)
{
	unsigned vq = faults[f].vq, other = vq == VQ_TX ? VQ_RX : VQ_TX, from;
	const char *what = faults[f].what;
	struct bystander b;
	struct hdev x;
	uint32_t seq;
	uint16_t u0;

	if (!bystander_start(&b) || !hdev_open(&x, "guest", CL_RAM_MEMFD, MTU))
		goto out;
	if (f == FT_WRAP) /* the high region ends at 2^64 */
		x.ram.reg[1].gpa = 0 - (uint64_t)HALF;
	if (!hdev_start(&x))
		goto close;
	if (vq == VQ_TX) {
		hdev_tx_one(&x, 100, "before the fault");
	} else {
		/* Exactly one buffer: the bad chain is the next one taken. */
		hdev_rx_post(&x, 1);
		hdev_rx_one(&x, 100, "before the fault");
	}
	cl_check(!cl_efd_wait(x.d.init_err[vq], 0, NULL), "guest: vq %u ERR eventfd quiet before "
		 "the fault", vq);
	from = bystander_mark(&b);
	seq = ++x.seq;
	build_fault(&x, f, seq);
	hdev_kick(&x, vq);
	cl_check(cl_efd_wait(x.d.init_err[vq], cl_scaled(2000), NULL), "guest: %s: the vq %u ERR "
		 "eventfd fired within %u ms", what, vq, cl_scaled(2000));
	hdev_check_broken(&x, vq);
	if (vq == VQ_TX) {
		static uint8_t got[BIG_RECV];
		ssize_t n = hdev_tap_recv(&x, ETH_TX, seq, got, sizeof(got), 0);

		cl_check(n < 0, "guest: nothing of the bad chain left through the tap (%zd bytes "
			 "did)", n);
	}
	/* The stopped ring takes nothing more, not even a good chain. */
	u0 = hdev_used_idx(&x, vq);
	if (vq == VQ_TX)
		hdev_tx_post(&x, 100, ++x.seq);
	else
		hdev_rx_post(&x, 2);
	hdev_kick(&x, vq);
	if (vq == VQ_RX) {
		uint8_t fr[100];

		hdev_tap_send(&x, fr, cl_make_frame(fr, sizeof(fr), ETH_RX, ++x.seq));
	}
	cl_sleep_ms(cl_scaled(300));
	cl_check(hdev_used_idx(&x, vq) == u0, "guest: the stopped vq %u used nothing more "
		 "(used idx %u, was %u)", vq, hdev_used_idx(&x, vq), u0);
	if (other == VQ_TX)
		hdev_tx_one(&x, 150, "on the device's other ring");
	else
		hdev_rx_one(&x, 150, "on the device's other ring");
	bystander_check(&b, from, what, T_LATENCY);
	hx_check_daemon_alive(what);
close:
	hdev_close(&x);
out:
	bystander_stop(&b);
}

void scenario_long_chain(void) { ring_fault(FT_LONG_CHAIN); }
void scenario_straddle(void) { ring_fault(FT_STRADDLE); }
void scenario_wrap(void) { ring_fault(FT_WRAP); }
void scenario_huge_len(void) { ring_fault(FT_HUGE_LEN); }
void scenario_rx_4g(void) { ring_fault(FT_RX_4G); }
void scenario_nested(void) { ring_fault(FT_NESTED); }
void scenario_ind_outside(void) { ring_fault(FT_IND_OUTSIDE); }
void scenario_ind_len(void) { ring_fault(FT_IND_LEN); }
void scenario_rx_readable(void) { ring_fault(FT_RX_READABLE); }

/* A used ring in a page the caller made read-only: the attach answers
 * EFAULT, as the kernel's vhost_vq_init_access(), and nothing is written. */
void scenario_used_readonly(void)
{
	struct hdev x;
	uint64_t bf = CL_BACKEND_FEATURES;
	struct cl_ring *r;
	bool ok = true;

	if (!hdev_open(&x, "caller (anonymous RAM, read-only used ring)", CL_RAM_ANON_PRIV, MTU))
		goto close;
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		x.d.call[vq] = cl_eventfd();
		x.d.kick[vq] = cl_eventfd();
		ok &= cl_vring_file(x.d.fd, USV_VHOST_SET_VRING_CALL, vq, x.d.call[vq], 0, x.tag);
	}
	ok &= cl_set_features(x.d.fd, CL_QEMU_FEATURES, 0, x.tag);
	ok &= cl_ioctl(x.d.fd, USV_VHOST_SET_BACKEND_FEATURES, &bf, 0, "%s: SET_BACKEND_FEATURES",
		       x.tag);
	ok &= cl_set_mem_table(x.d.fd, &x.ram, x.tag);
	for (unsigned vq = 0; vq < USV_NET_NVQS; vq++) {
		cl_ring_place(&x.ram, vq, 0, &x.d.ring[vq]);
		cl_ring_prepare(&x.d.ring[vq], 0, 7);
		ok &= cl_setup_ring(x.d.fd, vq, &x.d.ring[vq], 0, x.d.kick[vq], x.tag);
		x.used[vq] = 7;
	}
	if (!ok)
		goto close;
	r = &x.d.ring[VQ_RX];
	if (mprotect(r->used, 0x1000, PROT_READ) < 0) {
		cl_setup_fail("mprotect the used ring read-only");
		goto close;
	}
	cl_attach(x.d.fd, VQ_RX, x.d.tap, EFAULT, x.tag, "tap, used ring read-only");
	cl_check(cl_load16(&r->used->flags) == 0xffff && cl_load16(&r->used->idx) == 7,
		 "%s: the read-only used ring is untouched (flags 0x%x, idx %u)", x.tag,
		 cl_load16(&r->used->flags), cl_load16(&r->used->idx));
	cl_attach(x.d.fd, VQ_TX, x.d.tap, 0, x.tag, "tap");
	hdev_tx_one(&x, 100, "on the other ring");
	hx_check_daemon_alive("after a read-only used ring");
close:
	hdev_close(&x);
}
