/* SPDX-License-Identifier: MIT */
/*
 * The bystander: a healthy device owned by another process, moving a packet
 * each way every 10 ms and recording how long each round took, so a
 * scenario can show that an attack on one device did not stall another.
 * And the control check: another process opens, starts and stops a device
 * within a bound while an attack runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the bystander: a healthy device in another process ----------------- */

/* One round: a TX packet from kick to used (and out of the tap), then an RX
 * frame from the tap to used; the slower of the two, or BY_LOST. */
static uint32_t by_round(struct hdev *x)
{
	static uint8_t got[256];
	uint8_t f[128];
	uint32_t seq = ++x->seq, tx, rx;
	uint64_t t0;
	uint16_t moved;

	hdev_set_used_event(x, VQ_TX, x->used[VQ_TX]);
	hdev_tx_post(x, 100, seq);
	t0 = cl_now_us();
	hdev_kick(x, VQ_TX);
	moved = hdev_wait_used(x, VQ_TX, 1, cl_scaled(BY_ROUND));
	tx = (uint32_t)(cl_now_us() - t0);
	x->used[VQ_TX] = (uint16_t)(x->used[VQ_TX] + moved);
	if (!moved || hdev_tap_recv(x, ETH_TX, seq, got, sizeof(got), cl_scaled(BY_ROUND)) != 100)
		return BY_LOST;
	if (hdev_rx_ready(x) < 4) {
		hdev_rx_post(x, 32);
		hdev_kick(x, VQ_RX);
	}
	seq = ++x->seq;
	cl_make_frame(f, sizeof(f), ETH_RX, seq);
	hdev_set_used_event(x, VQ_RX, x->used[VQ_RX]);
	t0 = cl_now_us();
	if (!hdev_tap_send(x, f, sizeof(f)))
		return BY_LOST;
	moved = hdev_wait_used(x, VQ_RX, 1, cl_scaled(BY_ROUND));
	rx = (uint32_t)(cl_now_us() - t0);
	if (!moved)
		return BY_LOST;
	{
		struct cl_vring_used_elem e = hdev_used_elem(x, VQ_RX, x->used[VQ_RX]);

		x->used[VQ_RX] = (uint16_t)(x->used[VQ_RX] + moved);
		if (e.id >= NUM || e.len != VNET_HDR + sizeof(f) ||
		    memcmp(hdev_ram(x, hx_rx_buf_off((uint16_t)e.id)) + VNET_HDR, f, sizeof(f)))
			return BY_LOST;
	}
	return tx > rx ? tx : rx;
}

static int bystander_main(void *arg)
{
	struct by_shm *s = arg;
	struct hdev x;

	if (!hdev_up(&x, "bystander", CL_RAM_MEMFD, MTU)) {
		__atomic_store_n(&s->ready, -1, __ATOMIC_RELEASE);
		return 1;
	}
	hdev_rx_post(&x, 32);
	hdev_kick(&x, VQ_RX);
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		unsigned i = __atomic_load_n(&s->rounds, __ATOMIC_RELAXED);
		uint32_t lat = by_round(&x);

		if (i < BY_MAX) {
			s->lat_us[i] = lat;
			__atomic_store_n(&s->rounds, i + 1, __ATOMIC_RELEASE);
		}
		if (lat == BY_LOST) {
			/* Start the next round from where the rings are. */
			x.used[VQ_TX] = hdev_used_idx(&x, VQ_TX);
			x.used[VQ_RX] = hdev_used_idx(&x, VQ_RX);
			hdev_tap_drain(&x);
		}
		cl_sleep_ms(10);
	}
	hdev_close(&x);
	return 0;
}

bool bystander_start(struct bystander *b)
{
	uint64_t end;
	int r = 0;

	b->pid = -1;
	b->shm = mmap(NULL, sizeof(*b->shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (b->shm == MAP_FAILED) {
		b->shm = NULL;
		cl_setup_fail("bystander: shared memory");
		return false;
	}
	b->pid = cl_spawn(bystander_main, b->shm, "bystander");
	end = cl_now_ms() + cl_scaled(5000);
	while (b->pid > 0 && !(r = __atomic_load_n(&b->shm->ready, __ATOMIC_ACQUIRE)) &&
	       cl_now_ms() < end)
		cl_sleep_ms(5);
	return cl_check(r == 1, "the bystander (a healthy device in another process) is up");
}

unsigned bystander_mark(struct bystander *b)
{
	return b->shm ? __atomic_load_n(&b->shm->rounds, __ATOMIC_ACQUIRE) : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The bystander moved packets both ways in the rounds since mark `from`
 * (waiting, bounded, for at least BY_MIN_ROUNDS of them): none lost, the
 * 90th percentile of their latency under bound_ms. Prints the figures.
 */
bool bystander_check(struct bystander *b, unsigned from, const char *during,
		     unsigned bound_ms)
{
	uint32_t *lat, p50 = 0, p90 = 0, max = 0;
	unsigned to, n, lost = 0;
	uint64_t end = cl_now_ms() + cl_scaled(3 * BY_ROUND);
	bool ok = true;

	if (!b->shm)
		return cl_check(false, "no bystander during %s", during);
	while ((to = bystander_mark(b)) < from + BY_MIN_ROUNDS && to < BY_MAX && cl_now_ms() < end)
		cl_sleep_ms(10);
	n = to - from;
	lat = calloc(n + 1, sizeof(*lat));
	if (!lat) {
		cl_setup_fail("calloc");
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		lat[i] = b->shm->lat_us[from + i];
		lost += lat[i] == BY_LOST;
	}
	qsort(lat, n, sizeof(*lat), cmp_u32);
	if (n > lost) {
		p50 = lat[(n - lost) / 2];
		p90 = lat[(n - lost) * 9 / 10];
		max = lat[n - lost - 1];
	}
	free(lat);
	if (n > lost)
		cl_print("    bystander during %s: %u rounds, %u lost; latency of those done: "
			 "median %.2f ms, p90 %.2f ms, max %.2f ms", during, n, lost,
			 p50 / 1000.0, p90 / 1000.0, max / 1000.0);
	else
		cl_print("    bystander during %s: %u rounds, all lost (none done within %u ms)",
			 during, n, cl_scaled(BY_ROUND));
	ok &= cl_check(n >= BY_MIN_ROUNDS, "bystander (another process) kept moving packets "
		       "during %s: %u rounds (want >= %u)", during, n, BY_MIN_ROUNDS);
	ok &= cl_check(lost == 0, "bystander: no round during %s took more than %u ms (%u did)",
		       during, cl_scaled(BY_ROUND), lost);
	ok &= cl_check(n > lost && p90 < (uint32_t)cl_scaled(bound_ms) * 1000,
		       "bystander: 90%% of its rounds during %s within %u ms (p90 %.2f ms of %u "
		       "completed)", during, cl_scaled(bound_ms), p90 / 1000.0, n - lost);
	return ok;
}

void bystander_stop(struct bystander *b)
{
	if (b->shm)
		__atomic_store_n(&b->shm->stop, 1, __ATOMIC_RELEASE);
	if (b->pid > 0)
		cl_reap(b->pid, 5000, "bystander");
	if (b->shm)
		munmap(b->shm, sizeof(*b->shm));
	b->shm = NULL;
	b->pid = -1;
}

/* ---- control requests on a fresh device, from another process ----------- */

bool gate_open(struct gate *g)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0) {
		cl_setup_fail("pipe");
		g->r = g->w = -1;
		return false;
	}
	g->r = p[0];
	g->w = p[1];
	return true;
}

/* In the child: no byte, or the parent gone, within ms: false. */
bool gate_wait(struct gate *g, unsigned ms)
{
	struct pollfd p = { .fd = g->r, .events = POLLIN };
	char c;

	cl_close(&g->w); /* else the end of the pipe never comes */
	return poll(&p, 1, (int)ms) == 1 && read(g->r, &c, 1) >= 0;
}

void gate_close(struct gate *g)
{
	cl_close(&g->r);
	cl_close(&g->w);
}

static int control_main(void *arg)
{
	struct gate *g = arg;
	struct hdev y;

	if (g && !gate_wait(g, cl_scaled(T_SCENARIO)))
		return 1;
	if (!hdev_up(&y, "device Y", CL_RAM_MEMFD, MTU))
		return 1;
	cl_qemu_stop(&y.d);
	hdev_close(&y);
	return 0;
}

/* The control check's child, started now, runs once released. */
pid_t control_prepare(struct gate *g)
{
	return gate_open(g) ? cl_spawn(control_main, g, "device Y") : -1;
}

/* Another process opens a device, runs QEMU's init and start and stops it:
 * every request answers, all of them within T_CONTROL. With a prepared
 * child (pid > 0), releases it; else starts one. */
bool control_check(pid_t pid, struct gate *g, const char *during)
{
	char what[160];
	uint64_t t0 = cl_now_ms();
	bool ok;

	if (pid > 0) {
		if (write(g->w, "g", 1) != 1)
			cl_setup_fail("release device Y");
	} else {
		pid = cl_spawn(control_main, NULL, "device Y");
	}
	snprintf(what, sizeof(what), "device Y (open, init, start, stop) during %s", during);
	ok = cl_reap(pid, T_CONTROL, what);
	cl_print("    %s: %s after %llu ms", what, ok ? "done" : "not done",
		 (unsigned long long)(cl_now_ms() - t0));
	if (g)
		gate_close(g);
	return cl_check(ok, "control requests of another process answered within %u ms during %s",
			cl_scaled(T_CONTROL), during);
}

bool control_answers(const char *during)
{
	return control_check(-1, NULL, during);
}
