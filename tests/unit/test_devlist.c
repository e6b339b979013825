/* SPDX-License-Identifier: MIT */
/* The device list: lowest free handle, lookup, removal in any order, release,
 * and the per-user device limit. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit.h"

struct lst {
	struct usv_devlist list;
	int fds_at_start;
};

static int lst_setup(void **state)
{
	struct lst *l = calloc(1, sizeof(*l));

	if (!l)
		return -1;
	unit_log_setup();
	l->fds_at_start = count_open_fds();
	if (usv_devlist_init(&l->list, usv_profile_default(), NULL, NULL)) {
		free(l);
		return -1;
	}
	*state = l;
	return 0;
}

static int lst_teardown(void **state)
{
	struct lst *l = *state;
	int ret = 0;

	usv_devlist_destroy(&l->list);
	if (count_open_fds() != l->fds_at_start) {
		print_error("fd leak: %d before, %d after\n", l->fds_at_start,
			    count_open_fds());
		ret = -1;
	}
	free(l);
	return ret;
}

static unsigned add(struct usv_devlist *list)
{
	unsigned h = 12345;

	assert_int_equal(usv_devlist_add(list, &h), 0);
	return h;
}

static void handles_start_at_zero_and_count_up(void **state)
{
	struct lst *l = *state;

	assert_int_equal(usv_devlist_count(&l->list), 0);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(add(&l->list), i);
		assert_int_equal(usv_devlist_count(&l->list), i + 1);
	}
}

static void lookup_returns_the_device_with_that_handle(void **state)
{
	struct lst *l = *state;
	struct usv_dev *d[4];

	for (unsigned i = 0; i < 4; i++)
		add(&l->list);
	for (unsigned i = 0; i < 4; i++) {
		d[i] = usv_devlist_get(&l->list, i);
		assert_non_null(d[i]);
		assert_int_equal(d[i]->handle, i);
		for (unsigned j = 0; j < i; j++)
			assert_ptr_not_equal(d[i], d[j]);
	}
	/* Looking up again gives the same device. */
	for (unsigned i = 0; i < 4; i++)
		assert_ptr_equal(usv_devlist_get(&l->list, i), d[i]);
}

static void lookup_of_unknown_handle_is_null(void **state)
{
	struct lst *l = *state;

	assert_null(usv_devlist_get(&l->list, 0));
	add(&l->list);
	add(&l->list);
	add(&l->list);
	assert_null(usv_devlist_get(&l->list, 3));
	assert_null(usv_devlist_get(&l->list, 1000));
	assert_null(usv_devlist_get(&l->list, UINT32_MAX));
	assert_int_equal(usv_devlist_remove(&l->list, 1), 0);
	assert_null(usv_devlist_get(&l->list, 1));
	assert_non_null(usv_devlist_get(&l->list, 0));
	assert_non_null(usv_devlist_get(&l->list, 2));
}

static void remove_of_unknown_handle_is_enoent(void **state)
{
	struct lst *l = *state;

	assert_int_equal(usv_devlist_remove(&l->list, 0), -ENOENT);
	add(&l->list);
	assert_int_equal(usv_devlist_remove(&l->list, 1), -ENOENT);
	assert_int_equal(usv_devlist_remove(&l->list, UINT32_MAX), -ENOENT);
	assert_int_equal(usv_devlist_count(&l->list), 1);
	assert_int_equal(usv_devlist_remove(&l->list, 0), 0);
	/* Twice: the second time it is unknown. */
	assert_int_equal(usv_devlist_remove(&l->list, 0), -ENOENT);
	assert_int_equal(usv_devlist_count(&l->list), 0);
}

/* Removes handle gap from 0..n-1 and checks the next add gets it back. */
static void check_gap_reused(struct lst *l, unsigned n, unsigned gap)
{
	struct usv_dev *keep[8];

	for (unsigned i = 0; i < n; i++)
		assert_int_equal(add(&l->list), i);
	for (unsigned i = 0; i < n; i++)
		keep[i] = usv_devlist_get(&l->list, i);
	assert_int_equal(usv_devlist_remove(&l->list, gap), 0);
	assert_int_equal(usv_devlist_count(&l->list), n - 1);
	for (unsigned i = 0; i < n; i++) {
		if (i == gap)
			assert_null(usv_devlist_get(&l->list, i));
		else
			assert_ptr_equal(usv_devlist_get(&l->list, i), keep[i]);
	}
	assert_int_equal(add(&l->list), gap);
	assert_int_equal(add(&l->list), n);
	assert_int_equal(usv_devlist_count(&l->list), n + 1);
}

static void removing_first_then_adding_reuses_handle_0(void **state)
{
	check_gap_reused(*state, 5, 0);
}

static void removing_middle_then_adding_reuses_it(void **state)
{
	check_gap_reused(*state, 5, 2);
}

static void removing_last_then_adding_reuses_it(void **state)
{
	check_gap_reused(*state, 5, 4);
}

struct seen {
	unsigned handle[8], n;
};

static void note_handle(struct usv_dev *dev, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->handle[s->n] = dev->handle;
	s->n++;
}

static void for_each_visits_every_device_once_in_handle_order(void **state)
{
	struct lst *l = *state;
	struct seen s = { .n = 0 };
	unsigned h;

	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(usv_devlist_add(&l->list, &h), 0);
	assert_int_equal(usv_devlist_remove(&l->list, 1), 0);
	usv_devlist_for_each(&l->list, note_handle, &s);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.handle[0], 0);
	assert_int_equal(s.handle[1], 2);
	assert_int_equal(s.handle[2], 3);
}

static void adding_fills_several_gaps_lowest_first(void **state)
{
	struct lst *l = *state;

	for (unsigned i = 0; i < 7; i++)
		add(&l->list);
	assert_int_equal(usv_devlist_remove(&l->list, 5), 0);
	assert_int_equal(usv_devlist_remove(&l->list, 1), 0);
	assert_int_equal(usv_devlist_remove(&l->list, 3), 0);
	assert_int_equal(add(&l->list), 1);
	assert_int_equal(add(&l->list), 3);
	assert_int_equal(add(&l->list), 5);
	assert_int_equal(add(&l->list), 7);
	assert_int_equal(usv_devlist_count(&l->list), 8);
}

static bool next_permutation(unsigned *a, unsigned n)
{
	unsigned i = n - 1, j = n - 1, t;

	while (i > 0 && a[i - 1] >= a[i])
		i--;
	if (i == 0)
		return false;
	while (a[j] <= a[i - 1])
		j--;
	t = a[i - 1], a[i - 1] = a[j], a[j] = t;
	for (j = n - 1; i < j; i++, j--)
		t = a[i], a[i] = a[j], a[j] = t;
	return true;
}

static void removing_all_in_every_order_empties_the_list(void **state)
{
	struct lst *l = *state;
	unsigned order[4] = { 0, 1, 2, 3 };
	unsigned orders = 0;

	do {
		bool gone[4] = { false };

		for (unsigned i = 0; i < 4; i++)
			assert_int_equal(add(&l->list), i);
		for (unsigned k = 0; k < 4; k++) {
			assert_int_equal(usv_devlist_remove(&l->list, order[k]), 0);
			gone[order[k]] = true;
			assert_int_equal(usv_devlist_count(&l->list), 3 - k);
			for (unsigned h = 0; h < 4; h++) {
				struct usv_dev *d = usv_devlist_get(&l->list, h);

				if (gone[h]) {
					assert_null(d);
				} else {
					assert_non_null(d);
					assert_int_equal(d->handle, h);
				}
			}
		}
		assert_int_equal(usv_devlist_count(&l->list), 0);
		orders++;
	} while (next_permutation(order, 4));
	assert_int_equal(orders, 24);
	/* Empty again: numbering starts over. */
	assert_int_equal(add(&l->list), 0);
}

static void destroy_releases_devices_left_and_their_fds(void **state)
{
	struct lst *l = *state;
	struct usv_caller me = { .tid = getpid(), .tgid = getpid() };
	struct ufake *u = calloc(1, sizeof(*u));
	struct usv_vhost_vring_file f = { .index = 1 };
	int efd = eventfd(0, EFD_CLOEXEC);
	int before = count_open_fds();
	struct usv_req req;
	struct usv_dev *d;

	assert_non_null(u);
	u->reachable = UFAKE_SIZE;
	for (unsigned i = 0; i < 3; i++)
		add(&l->list);
	/* Device 1 gets an owner (pidfd, /proc/self/mem) and a call eventfd:
	 * fds of the core that release must close. */
	d = usv_devlist_get(&l->list, 1);
	usv_req_init(&req, USV_VHOST_SET_OWNER, 0, &me, &ufake_ops, u);
	assert_int_equal(usv_ioctl_dispatch(d, &req), 0);
	f.fd = efd;
	memcpy(u->buf, &f, sizeof(f));
	usv_req_init(&req, USV_VHOST_SET_VRING_CALL, UFAKE_BASE, &me, &ufake_ops, u);
	assert_int_equal(usv_ioctl_dispatch(d, &req), 0);
	assert_true(count_open_fds() >= before + 3);

	usv_devlist_destroy(&l->list);
	assert_int_equal(count_open_fds(), before);
	/* The teardown destroys it again: make that a valid empty list. */
	assert_int_equal(usv_devlist_init(&l->list, usv_profile_default(), NULL, NULL), 0);
	close(efd);
	free(u);
}

static void removing_a_device_closes_its_fds(void **state)
{
	struct lst *l = *state;
	struct usv_caller me = { .tid = getpid(), .tgid = getpid() };
	struct usv_req req;
	struct ufake *u = calloc(1, sizeof(*u));
	int before = count_open_fds();

	assert_non_null(u);
	add(&l->list);
	add(&l->list);
	usv_req_init(&req, USV_VHOST_SET_OWNER, 0, &me, &ufake_ops, u);
	assert_int_equal(usv_ioctl_dispatch(usv_devlist_get(&l->list, 0), &req), 0);
	assert_true(count_open_fds() > before);
	assert_int_equal(usv_devlist_remove(&l->list, 0), 0);
	assert_int_equal(count_open_fds(), before);
	/* The other device is untouched and can be owned as well. */
	usv_req_init(&req, USV_VHOST_SET_OWNER, 0, &me, &ufake_ops, u);
	assert_int_equal(usv_ioctl_dispatch(usv_devlist_get(&l->list, 1), &req), 0);
	free(u);
}

/* Release with a running ring: the datapath is told to stop it first. */
static void releasing_a_device_stops_its_running_rings(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);

	assert_int_equal(env_start_ring(e, 0, backend), 0);
	assert_int_equal(env_start_ring(e, 1, backend), 0);
	fake_dp_clear(&e->dp);
	e->dp.watch_fd = e->dev->vqs[1].backend_fd;
	assert_int_equal(usv_devlist_remove(&e->list, e->handle), 0);
	assert_int_equal(e->dp.n, 3);
	assert_int_equal(e->dp.ev[0].kind, DP_STOP);
	assert_int_equal(e->dp.ev[0].idx, 0);
	assert_int_equal(e->dp.ev[1].kind, DP_STOP);
	assert_int_equal(e->dp.ev[1].idx, 1);
	/* The backend was still open while the datapath stopped the ring. */
	assert_true(e->dp.ev[1].watch_open);
	/* Then, rings stopped and fds closed, the device's state is dropped. */
	assert_int_equal(e->dp.ev[2].kind, DP_FREE);
	assert_int_equal(e->dp.ev[2].backend_fd, -1);
	assert_int_equal(e->dp.ev[2].call_fd, -1);
	assert_false(fd_is_open(e->dp.watch_fd));
	assert_null(usv_devlist_get(&e->list, e->handle));
}

static void destroying_the_list_stops_running_rings(void **state)
{
	struct env *e = *state;
	int backend = env_backend_or_skip(e);
	unsigned h2;

	assert_int_equal(env_start_ring(e, 1, backend), 0);
	assert_int_equal(usv_devlist_add(&e->list, &h2), 0);
	fake_dp_clear(&e->dp);
	usv_devlist_destroy(&e->list);
	/* Both devices are freed, the running ring stopped first. */
	assert_int_equal(e->dp.n, 3);
	assert_int_equal(e->dp.ev[0].kind, DP_STOP);
	assert_int_equal(e->dp.ev[0].idx, 1);
	assert_int_equal(e->dp.ev[1].kind, DP_FREE);
	assert_int_equal(e->dp.ev[2].kind, DP_FREE);
	assert_int_equal(usv_devlist_init(&e->list, usv_profile_default(),
					  &fake_dp_ops, &e->dp), 0);
}

static void releasing_a_stopped_device_only_drops_its_datapath_state(void **state)
{
	struct env *e = *state;
	unsigned h2;

	assert_int_equal(usv_devlist_add(&e->list, &h2), 0);
	assert_int_equal(usv_devlist_remove(&e->list, h2), 0);
	assert_int_equal(e->dp.n, 1);
	assert_int_equal(e->dp.ev[0].kind, DP_FREE);
	assert_int_equal(usv_devlist_count(&e->list), 1);
}

static unsigned add_as(struct usv_devlist *list, uid_t uid)
{
	unsigned h = 12345;

	assert_int_equal(usv_devlist_add_uid(list, uid, &h), 0);
	return h;
}

static void each_uid_counts_the_devices_it_opened(void **state)
{
	struct lst *l = *state;

	assert_int_equal(usv_devlist_count_uid(&l->list, 1000), 0);
	add_as(&l->list, 1000);
	add_as(&l->list, 65534);
	add_as(&l->list, 1000);
	add_as(&l->list, 0);
	assert_int_equal(usv_devlist_count_uid(&l->list, 1000), 2);
	assert_int_equal(usv_devlist_count_uid(&l->list, 65534), 1);
	assert_int_equal(usv_devlist_count_uid(&l->list, 0), 1);
	assert_int_equal(usv_devlist_count_uid(&l->list, 1001), 0);
	assert_int_equal(usv_devlist_count(&l->list), 4);
	/* The unlimited default: one uid may open many. */
	for (unsigned i = 0; i < 300; i++)
		add_as(&l->list, 1001);
	assert_int_equal(usv_devlist_count_uid(&l->list, 1001), 300);
}

static void release_gives_the_opener_its_device_back(void **state)
{
	struct lst *l = *state;
	unsigned a = add_as(&l->list, 1000);
	unsigned b = add_as(&l->list, 2000);
	unsigned c = add_as(&l->list, 1000);

	assert_int_equal(usv_devlist_remove(&l->list, a), 0);
	assert_int_equal(usv_devlist_count_uid(&l->list, 1000), 1);
	assert_int_equal(usv_devlist_count_uid(&l->list, 2000), 1);
	/* The freed handle goes to another uid: it is counted for that uid. */
	assert_int_equal(add_as(&l->list, 2000), a);
	assert_int_equal(usv_devlist_count_uid(&l->list, 1000), 1);
	assert_int_equal(usv_devlist_count_uid(&l->list, 2000), 2);
	assert_int_equal(usv_devlist_remove(&l->list, c), 0);
	assert_int_equal(usv_devlist_remove(&l->list, b), 0);
	assert_int_equal(usv_devlist_count_uid(&l->list, 1000), 0);
	assert_int_equal(usv_devlist_count_uid(&l->list, 2000), 1);
}

static void a_uid_at_its_limit_gets_emfile(void **state)
{
	struct lst *l = *state;
	unsigned h = 12345;

	usv_devlist_set_max_per_uid(&l->list, 3);
	for (unsigned i = 0; i < 3; i++)
		add_as(&l->list, 1000);
	assert_int_equal(usv_devlist_add_uid(&l->list, 1000, &h), -EMFILE);
	assert_int_equal(h, 12345);
	assert_int_equal(usv_devlist_add_uid(&l->list, 1000, &h), -EMFILE);
	assert_int_equal(usv_devlist_count_uid(&l->list, 1000), 3);
	assert_int_equal(usv_devlist_count(&l->list), 3);
	assert_null(usv_devlist_get(&l->list, 3));
}

static void a_uid_at_its_limit_does_not_stop_another(void **state)
{
	struct lst *l = *state;
	unsigned h;

	usv_devlist_set_max_per_uid(&l->list, 2);
	add_as(&l->list, 1000);
	add_as(&l->list, 1000);
	assert_int_equal(usv_devlist_add_uid(&l->list, 1000, &h), -EMFILE);
	assert_int_equal(add_as(&l->list, 65534), 2);
	assert_int_equal(add_as(&l->list, 65534), 3);
	assert_int_equal(usv_devlist_add_uid(&l->list, 65534, &h), -EMFILE);
	assert_int_equal(usv_devlist_add_uid(&l->list, 1000, &h), -EMFILE);
	assert_int_equal(add_as(&l->list, 1001), 4);
}

static void root_is_counted_too(void **state)
{
	struct lst *l = *state;
	unsigned h;

	usv_devlist_set_max_per_uid(&l->list, 2);
	add_as(&l->list, 0);
	assert_int_equal(usv_devlist_add(&l->list, &h), 0); /* uid 0 as well */
	assert_int_equal(usv_devlist_count_uid(&l->list, 0), 2);
	assert_int_equal(usv_devlist_add(&l->list, &h), -EMFILE);
	assert_int_equal(usv_devlist_add_uid(&l->list, 0, &h), -EMFILE);
}

static void a_release_below_the_limit_lets_that_uid_open_again(void **state)
{
	struct lst *l = *state;
	unsigned h, first;

	usv_devlist_set_max_per_uid(&l->list, 2);
	first = add_as(&l->list, 1000);
	add_as(&l->list, 1000);
	assert_int_equal(usv_devlist_add_uid(&l->list, 1000, &h), -EMFILE);
	assert_int_equal(usv_devlist_remove(&l->list, first), 0);
	assert_int_equal(add_as(&l->list, 1000), first);
	assert_int_equal(usv_devlist_add_uid(&l->list, 1000, &h), -EMFILE);
}

static void raising_the_limit_lets_that_uid_open_more(void **state)
{
	struct lst *l = *state;
	unsigned h;

	usv_devlist_set_max_per_uid(&l->list, 1);
	add_as(&l->list, 1000);
	assert_int_equal(usv_devlist_add_uid(&l->list, 1000, &h), -EMFILE);
	usv_devlist_set_max_per_uid(&l->list, 0);
	for (unsigned i = 0; i < 40; i++)
		add_as(&l->list, 1000);
	assert_int_equal(usv_devlist_count_uid(&l->list, 1000), 41);
}

/* Threads adding and removing at once never share a handle. */
#define THREADS 4
#define ROUNDS 300
#define MAX_HANDLES (THREADS + 1)

struct race {
	struct usv_devlist *list;
	atomic_int holder[MAX_HANDLES];
	atomic_int errors;
};

static void *racer(void *arg)
{
	struct race *r = arg;

	for (unsigned i = 0; i < ROUNDS; i++) {
		unsigned h;
		struct usv_dev *d;

		if (usv_devlist_add(r->list, &h) || h >= MAX_HANDLES) {
			atomic_fetch_add(&r->errors, 1);
			continue;
		}
		if (atomic_fetch_add(&r->holder[h], 1) != 0)
			atomic_fetch_add(&r->errors, 1); /* handle given twice */
		d = usv_devlist_get(r->list, h);
		if (!d || d->handle != h)
			atomic_fetch_add(&r->errors, 1);
		atomic_fetch_sub(&r->holder[h], 1);
		if (usv_devlist_remove(r->list, h))
			atomic_fetch_add(&r->errors, 1);
	}
	return NULL;
}

static void concurrent_adds_and_removes_never_share_a_handle(void **state)
{
	struct lst *l = *state;
	struct race r = { .list = &l->list };
	pthread_t t[THREADS];

	/* A device that stays throughout: handle 0 is never free. */
	assert_int_equal(add(&l->list), 0);
	atomic_fetch_add(&r.holder[0], 1);
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer, &r), 0);
	for (unsigned i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&r.errors), 0);
	assert_int_equal(usv_devlist_count(&l->list), 1);
	assert_non_null(usv_devlist_get(&l->list, 0));
	assert_int_equal(add(&l->list), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, lst_setup, lst_teardown)
#define E(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)
		T(handles_start_at_zero_and_count_up),
		T(lookup_returns_the_device_with_that_handle),
		T(lookup_of_unknown_handle_is_null),
		T(remove_of_unknown_handle_is_enoent),
		T(removing_first_then_adding_reuses_handle_0),
		T(removing_middle_then_adding_reuses_it),
		T(removing_last_then_adding_reuses_it),
		T(adding_fills_several_gaps_lowest_first),
		T(for_each_visits_every_device_once_in_handle_order),
		T(removing_all_in_every_order_empties_the_list),
		T(destroy_releases_devices_left_and_their_fds),
		T(removing_a_device_closes_its_fds),
		E(releasing_a_device_stops_its_running_rings),
		E(destroying_the_list_stops_running_rings),
		E(releasing_a_stopped_device_only_drops_its_datapath_state),
		T(concurrent_adds_and_removes_never_share_a_handle),
		T(each_uid_counts_the_devices_it_opened),
		T(release_gives_the_opener_its_device_back),
		T(a_uid_at_its_limit_gets_emfile),
		T(a_uid_at_its_limit_does_not_stop_another),
		T(root_is_counted_too),
		T(a_release_below_the_limit_lets_that_uid_open_again),
		T(raising_the_limit_lets_that_uid_open_more),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
