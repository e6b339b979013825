/* SPDX-License-Identifier: MIT */
/* Guest memory for the ring tests and the driver's helpers both layouts use. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/caller.h"
#include "vring_fixture.h"

static int vt_setup(void **state, bool mapped)
{
	struct vt *t = calloc(1, sizeof(*t));
	struct usv_vhost_memory_region r[2];

	if (!t)
		return -1;
	unit_log_setup();
	t->mapped = mapped;
	t->efd = -1;
	t->fds_at_start = count_open_fds();
	t->buf = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->buf == MAP_FAILED) {
		free(t);
		return -1;
	}
	t->drv = calloc(1, vt_drv_size);
	if (!t->drv)
		goto fail;
	r[0] = (struct usv_vhost_memory_region){
		.guest_phys_addr = R0_GPA, .memory_size = R0_SIZE,
		.userspace_addr = (uintptr_t)t->buf,
	};
	r[1] = (struct usv_vhost_memory_region){
		.guest_phys_addr = R1_GPA, .memory_size = R1_SIZE,
		.userspace_addr = (uintptr_t)(t->buf + R1_OFF),
	};
	if (usv_guestmem_new(r, 2, &t->m))
		goto fail;
	/* As usv_guestmem_bind() leaves it: the owner's pinned
	 * /proc/<pid>/mem (borrowed by the table; closed at teardown). */
	t->m->memfd = usv_procmem_open(getpid());
	if (t->m->memfd < 0)
		goto fail;
	if (mapped) {
		for (unsigned i = 0; i < 2; i++) {
			t->m->regions[i].local = t->buf + (i ? R1_OFF : 0);
			t->m->regions[i].writable = true;
			t->m->regions[i].strategy = USV_MEM_MMAP;
		}
	}
	pthread_mutex_init(&t->log_lock, NULL);
	t->c.seg = t->segs;
	t->c.max_segs = USV_VRING_MAX_SEGS;
	*state = t;
	return 0;
fail:
	usv_guestmem_free(t->m);
	free(t->drv);
	munmap(t->buf, BUF_SIZE);
	free(t);
	return -1;
}

int vt_setup_mapped(void **state)
{
	return vt_setup(state, true);
}

int vt_setup_unmapped(void **state)
{
	return vt_setup(state, false);
}

int vt_teardown(void **state)
{
	struct vt *t = *state;
	int ret = 0;

	close(t->m->memfd);
	usv_guestmem_free(t->m);
	munmap(t->buf, BUF_SIZE);
	pthread_mutex_destroy(&t->log_lock);
	if (t->efd >= 0)
		close(t->efd);
	if (t->noaccess)
		munmap(t->noaccess, 4096);
	if (count_open_fds() != t->fds_at_start) {
		print_error("fd leak: %d before, %d after\n", t->fds_at_start,
			    count_open_fds());
		ret = -1;
	}
	free(t->drv);
	free(t);
	return ret;
}

uint8_t *gp(struct vt *t, uint64_t gpa)
{
	if (gpa < R1_GPA)
		return t->buf + gpa;
	assert_true(gpa < MEM_END);
	return t->buf + R1_OFF + (gpa - R1_GPA);
}

uint64_t uva_of(struct vt *t, uint64_t gpa)
{
	return (uint64_t)(uintptr_t)gp(t, gpa);
}

void fill(struct vt *t, uint64_t gpa, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		*gp(t, gpa + i) = (uint8_t)(seed + i * 7);
}

int pop(struct vt *t)
{
	t->c.seg = t->segs;
	t->c.max_segs = USV_VRING_MAX_SEGS;
	return usv_vringh_pop(&t->vr, &t->c);
}

void seg_is(struct vt *t, unsigned k, uint64_t gpa, uint32_t len)
{
	const struct usv_seg *s = &t->c.seg[k];

	assert_true(k < t->c.nout + t->c.nin);
	assert_int_equal(s->gpa, gpa);
	assert_int_equal(s->len, len);
	assert_int_equal(s->uva, uva_of(t, gpa));
	if (t->mapped)
		assert_ptr_equal(s->local, gp(t, gpa));
	else
		assert_null(s->local);
}

void chain_is(struct vt *t, uint16_t head, unsigned nout, uint32_t out_len, unsigned nin,
	      uint32_t in_len)
{
	assert_int_equal(t->c.head, head);
	assert_int_equal(t->c.nout, nout);
	assert_int_equal(t->c.out_len, out_len);
	assert_int_equal(t->c.nin, nin);
	assert_int_equal(t->c.in_len, in_len);
}

static bool has_word(const char *s, const char *word)
{
	return strcasestr(s, word) != NULL;
}

void pop_fails(struct vt *t, int err, const char *word)
{
	uint16_t before = t->vr.last_avail_idx;
	int ret;

	memset(t->vr.err, 0, sizeof(t->vr.err));
	ret = pop(t);
	if (ret != err)
		print_error("pop: %d (%s), expected %d; vr->err: \"%s\"\n", ret,
			    ret < 0 ? strerror(-ret) : "ok", err, t->vr.err);
	assert_int_equal(ret, err);
	if (!t->vr.err[0] || (word && !has_word(t->vr.err, word)))
		print_error("vr->err \"%s\" should mention \"%s\"\n", t->vr.err,
			    word ? word : "anything");
	assert_true(t->vr.err[0] != '\0');
	if (word)
		assert_true(has_word(t->vr.err, word));
	assert_int_equal(t->vr.last_avail_idx, before);
}
