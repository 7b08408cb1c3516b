#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/alloc.h"
#include "lib/loop.h"

#define MS WF_NSEC_PER_MSEC

static struct wf_loop *new_loop(void)
{
	struct wf_loop *loop = NULL;
	assert_int_equal(wf_loop_new(&loop), 0);
	assert_non_null(loop);
	return loop;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- I/O ---- */

struct io_state {
	int reads;
	int writes;
	uint32_t last_events;
	struct wf_loop_io *other; /* freed by the callback when set */
	bool free_self;
};

static void on_io(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events, void *data)
{
	struct io_state *s = data;
	s->last_events = events;
	if (events & WF_LOOP_READ) {
		char buf[64];
		assert_true(read(fd, buf, sizeof(buf)) > 0);
		s->reads++;
	}
	if (events & WF_LOOP_WRITE)
		s->writes++;
	if (s->other) {
		wf_loop_io_free(s->other);
		s->other = NULL;
	}
	if (s->free_self)
		wf_loop_io_free(io);
}

static void test_io(void **state)
{
	struct wf_loop *loop = new_loop();
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct io_state rs = {0}, ws = {0};
	struct wf_loop_io *rio, *wio;
	assert_int_equal(wf_loop_io_new(loop, p[0], WF_LOOP_READ, on_io, &rs, &rio), 0);
	assert_int_equal(wf_loop_io_fd(rio), p[0]);
	assert_int_equal(wf_loop_io_events(rio), WF_LOOP_READ);
	/* One watch per descriptor. */
	assert_int_equal(wf_loop_io_new(loop, p[0], WF_LOOP_READ, on_io, &rs, NULL), -EEXIST);
	assert_int_equal(wf_loop_io_new(loop, -1, WF_LOOP_READ, on_io, &rs, NULL), -EINVAL);

	/* Nothing ready: a poll returns at once with no event. */
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(rs.reads, 0);

	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(wf_loop_run_once(loop, 1000), 1);
	assert_int_equal(rs.reads, 1);
	assert_int_equal(rs.last_events, WF_LOOP_READ);

	/* The write end of an empty pipe is writable at once. */
	assert_int_equal(wf_loop_io_new(loop, p[1], WF_LOOP_WRITE, on_io, &ws, &wio), 0);
	assert_int_equal(wf_loop_run_once(loop, 1000), 1);
	assert_int_equal(ws.writes, 1);
	/* Interest changed to nothing: no more events. */
	assert_int_equal(wf_loop_io_set_events(wio, 0), 0);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(ws.writes, 1);
	wf_loop_io_free(wio);

	/* The peer closing shows as HUP on the read end. */
	close(p[1]);
	rs.free_self = true;
	assert_int_equal(wf_loop_run_once(loop, 1000), 1);
	assert_true(rs.last_events & WF_LOOP_HUP);
	/* It freed itself: no further events. */
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	close(p[0]);
	wf_loop_free(loop);
	wf_loop_free(NULL);
}

static void test_io_free_other_in_batch(void **state)
{
	/* Two descriptors ready in the same batch; whichever runs first frees the other, whose
	 * event must then be dropped (ASan would report a use after free). */
	struct wf_loop *loop = new_loop();
	int a[2], b[2];
	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	struct io_state sa = {0}, sb = {0};
	struct wf_loop_io *ia, *ib;
	assert_int_equal(wf_loop_io_new(loop, a[0], WF_LOOP_READ, on_io, &sa, &ia), 0);
	assert_int_equal(wf_loop_io_new(loop, b[0], WF_LOOP_READ, on_io, &sb, &ib), 0);
	sa.other = ib;
	sb.other = ia;
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	assert_int_equal(wf_loop_run_once(loop, 1000), 2); /* two events fetched... */
	assert_int_equal(sa.reads + sb.reads, 1);	   /* ...one callback run */
	wf_loop_io_free(sa.reads ? ia : ib);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	wf_loop_free(loop);
}

static void on_count(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events,
		     void *data)
{
	char c;
	assert_int_equal(read(fd, &c, 1), 1);
	(*(int *)data)++;
}

static void test_io_many(void **state)
{
	/* More ready descriptors than one epoll_wait returns: served over a few iterations,
	 * every one exactly once. */
	enum {
		N = 300
	};
	struct wf_loop *loop = new_loop();
	int fds[N][2];
	int count = 0;
	for (int i = 0; i < N; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		assert_int_equal(
			wf_loop_io_new(loop, fds[i][0], WF_LOOP_READ, on_count, &count, NULL), 0);
		assert_int_equal(write(fds[i][1], "x", 1), 1);
	}
	int iterations = 0, events = 0;
	while (count < N) {
		int n = wf_loop_run_once(loop, 1000);
		assert_true(n > 0 && n <= 128);
		events += n;
		iterations++;
	}
	assert_int_equal(events, N);
	assert_int_equal(iterations, 3);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	wf_loop_free(loop); /* frees the loop-owned watches */
	for (int i = 0; i < N; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}

/* ---- timers ---- */

struct timer_log {
	int order[16];
	int n;
	struct wf_loop_timer *victim; /* freed by the callback of timer 1 */
	struct wf_loop_timer *stop_at_3;
	int ticks;
};

struct timer_arg {
	struct timer_log *log;
	int id;
};

static void on_timer(struct wf_loop *loop, struct wf_loop_timer *t, void *data)
{
	struct timer_arg *a = data;
	struct timer_log *log = a->log;
	log->order[log->n++] = a->id;
	if (a->id == 1 && log->victim) {
		wf_loop_timer_free(log->victim);
		log->victim = NULL;
	}
	if (a->id == 9)
		wf_loop_stop(loop, 9);
}

static void test_timer_order(void **state)
{
	struct wf_loop *loop = new_loop();
	struct timer_log log = {0};
	struct timer_arg args[10];
	for (int i = 0; i < 10; i++)
		args[i] = (struct timer_arg){&log, i};
	/* Set out of order; fire by deadline. */
	static const int delays_ms[] = {30, 10, 20, 5, 35};
	static const int ids[] = {3, 1, 2, 0, 4};
	for (int i = 0; i < 5; i++)
		assert_int_equal(wf_loop_timer_new(loop, (uint64_t)delays_ms[i] * MS, 0, on_timer,
						   &args[ids[i]], NULL),
				 0);
	assert_int_equal(wf_loop_timer_new(loop, 40 * MS, 0, on_timer, &args[9], NULL), 0);
	uint64_t start = wf_now_ns();
	assert_int_equal(wf_loop_run(loop), 9);
	assert_true(wf_now_ns() - start >= 40 * MS);
	assert_int_equal(log.n, 6);
	for (int i = 0; i < 5; i++)
		assert_int_equal(log.order[i], i);
	assert_int_equal(log.order[5], 9);
	wf_loop_free(loop); /* the oneshots were loop-owned and freed as they fired */
}

static void test_timer_equal_deadlines(void **state)
{
	/* Timers that are all overdue when the loop looks fire in deadline order, and a
	 * callback freeing a timer due in the same pass prevents it from firing. */
	struct wf_loop *loop = new_loop();
	struct timer_log log = {0};
	struct timer_arg args[5];
	for (int i = 0; i < 5; i++)
		args[i] = (struct timer_arg){&log, i};
	struct wf_loop_timer *t[5];
	for (int i = 0; i < 5; i++)
		assert_int_equal(wf_loop_timer_new(loop, 0, 0, on_timer, &args[i], &t[i]), 0);
	log.victim = t[3];
	sleep_ms(5);
	/* Overdue timers run whether or not the timerfd has signalled yet. */
	assert_true(wf_loop_run_once(loop, 0) >= 0);
	assert_int_equal(log.n, 4);
	assert_int_equal(log.order[0], 0);
	assert_int_equal(log.order[1], 1);
	assert_int_equal(log.order[2], 2);
	assert_int_equal(log.order[3], 4);
	/* Caller-owned oneshots stay allocated, disarmed. */
	assert_false(wf_loop_timer_armed(t[0]));
	for (int i = 0; i < 5; i++)
		if (i != 3)
			wf_loop_timer_free(t[i]);
	wf_loop_free(loop);
}

struct periodic {
	int ticks;
	int stop_after;
	uint64_t last;
	unsigned sleep_ms; /* the first tick sleeps this long */
	struct wf_loop_timer *spawned;
};

static void on_spawned(struct wf_loop *loop, struct wf_loop_timer *t, void *data)
{
	struct periodic *p = data;
	p->spawned = NULL;
	wf_loop_stop(loop, 0);
}

static void on_periodic(struct wf_loop *loop, struct wf_loop_timer *t, void *data)
{
	struct periodic *p = data;
	p->last = wf_loop_now(loop);
	if (p->ticks == 0 && p->sleep_ms)
		sleep_ms(p->sleep_ms);
	if (++p->ticks == p->stop_after) {
		/* Free itself, and start a new timer from inside a callback. */
		wf_loop_timer_free(t);
		assert_int_equal(wf_loop_timer_new(loop, 1 * MS, 0, on_spawned, p, &p->spawned), 0);
		assert_non_null(p->spawned);
	}
}

static void test_timer_periodic(void **state)
{
	struct wf_loop *loop = new_loop();
	struct periodic p = {.stop_after = 5};
	struct wf_loop_timer *t;
	uint64_t start = wf_now_ns();
	assert_int_equal(wf_loop_timer_new(loop, 5 * MS, 5 * MS, on_periodic, &p, &t), 0);
	assert_true(wf_loop_timer_armed(t));
	assert_int_equal(wf_loop_run(loop), 0);
	assert_int_equal(p.ticks, 5);
	/* Deadlines are start + 5, 10, 15, 20, 25 ms: the fifth tick cannot come earlier. */
	assert_true(p.last - start >= 25 * MS);
	/* The spawned timer was caller-owned (ret given): freed with the loop. */
	wf_loop_free(loop);

	/* Ticks missed while the loop was busy are skipped, not replayed in a burst. */
	loop = new_loop();
	struct periodic q = {.stop_after = 1000, .sleep_ms = 160};
	assert_int_equal(wf_loop_timer_new(loop, 1 * MS, 50 * MS, on_periodic, &q, NULL), 0);
	while (q.ticks == 0)
		assert_true(wf_loop_run_once(loop, 1000) >= 0);
	assert_int_equal(q.ticks, 1);
	/* Three deadlines (+50, +100, +150 ms) passed while the callback slept: one late tick,
	 * then the timer is back on its phase (next at +200 ms) instead of catching up. */
	assert_true(wf_loop_run_once(loop, 0) >= 0);
	assert_int_equal(q.ticks, 2);
	assert_true(wf_loop_run_once(loop, 0) >= 0);
	assert_true(wf_loop_run_once(loop, 0) >= 0);
	assert_int_equal(q.ticks, 2);
	while (q.ticks == 2)
		assert_true(wf_loop_run_once(loop, 1000) >= 0);
	assert_int_equal(q.ticks, 3);
	wf_loop_free(loop);
}

static void on_tick(struct wf_loop *loop, struct wf_loop_timer *t, void *data)
{
	(*(int *)data)++;
}

static void test_timer_set_stop(void **state)
{
	struct wf_loop *loop = new_loop();
	int fired = 0;
	struct wf_loop_timer *t;
	assert_int_equal(wf_loop_timer_new(loop, 1 * MS, 0, on_tick, &fired, &t), 0);
	/* Stopped before it fires: it never does. */
	wf_loop_timer_stop(t);
	assert_false(wf_loop_timer_armed(t));
	sleep_ms(3);
	assert_int_equal(wf_loop_run_once(loop, 10), 0);
	assert_int_equal(fired, 0);

	/* Re-armed, it fires once. */
	wf_loop_timer_set(t, 1 * MS, 0);
	assert_true(wf_loop_timer_armed(t));
	while (fired == 0)
		assert_true(wf_loop_run_once(loop, 1000) >= 0);
	assert_int_equal(fired, 1);
	assert_false(wf_loop_timer_armed(t));
	assert_int_equal(wf_loop_run_once(loop, 20), 0);
	assert_int_equal(fired, 1);

	/* Pushed back: the earlier deadline is replaced. */
	wf_loop_timer_set(t, 1 * MS, 0);
	wf_loop_timer_set(t, 50 * MS, 0);
	uint64_t start = wf_now_ns();
	while (fired == 1)
		assert_true(wf_loop_run_once(loop, 1000) >= 0);
	assert_true(wf_now_ns() - start >= 50 * MS);
	wf_loop_timer_free(t);
	wf_loop_timer_free(NULL);

	/* Many timers, freed in every order, keep the heap consistent. */
	struct wf_loop_timer *many[64];
	for (int i = 0; i < 64; i++)
		assert_int_equal(wf_loop_timer_new(loop, (uint64_t)((i * 37) % 64 + 1) * MS, 0,
						   on_tick, &fired, &many[i]),
				 0);
	for (int i = 0; i < 64; i += 3)
		wf_loop_timer_free(many[i]);
	fired = 0;
	while (fired < 64 - 22)
		assert_true(wf_loop_run_once(loop, 1000) >= 0);
	for (int i = 0; i < 64; i++)
		if (i % 3)
			wf_loop_timer_free(many[i]);
	wf_loop_free(loop);
}

/* ---- signals ---- */

struct sig_state {
	int got[3];
	uint32_t last_signo;
};

static void on_signal(struct wf_loop *loop, struct wf_loop_signal *s,
		      const struct signalfd_siginfo *si, void *data)
{
	struct sig_state *st = data;
	st->last_signo = si->ssi_signo;
	st->got[si->ssi_signo == SIGUSR1 ? 0 : si->ssi_signo == SIGUSR2 ? 1 : 2]++;
}

static bool blocked(int signo)
{
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, signo) == 1;
}

static void test_signals(void **state)
{
	struct wf_loop *loop = new_loop();
	struct sig_state st = {0};
	struct wf_loop_signal *s1, *s2;
	assert_false(blocked(SIGUSR1));
	assert_int_equal(wf_loop_signal_new(loop, SIGUSR1, on_signal, &st, &s1), 0);
	assert_true(blocked(SIGUSR1));
	assert_int_equal(wf_loop_signal_new(loop, SIGUSR2, on_signal, &st, &s2), 0);
	assert_int_equal(wf_loop_signal_new(loop, SIGUSR1, on_signal, &st, NULL), -EEXIST);
	assert_int_equal(wf_loop_signal_new(loop, SIGKILL, on_signal, &st, NULL), -EINVAL);
	assert_int_equal(wf_loop_signal_new(loop, 0, on_signal, &st, NULL), -EINVAL);
	assert_int_equal(wf_loop_signal_new(loop, 1000, on_signal, &st, NULL), -EINVAL);

	/* Process-directed and thread-directed signals both arrive through the loop. */
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(pthread_kill(pthread_self(), SIGUSR2), 0);
	while (st.got[0] + st.got[1] < 2)
		assert_true(wf_loop_run_once(loop, 1000) > 0);
	assert_int_equal(st.got[0], 1);
	assert_int_equal(st.got[1], 1);

	/* Freed: the signal is unblocked again, and a pending one is discarded rather than
	 * delivered with its default action (which would end this test). */
	assert_int_equal(raise(SIGUSR2), 0);
	wf_loop_signal_free(s2);
	assert_false(blocked(SIGUSR2));
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(st.got[1], 1);

	/* A signal that was blocked before stays blocked after. */
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	struct wf_loop_signal *s3;
	assert_int_equal(wf_loop_signal_new(loop, SIGHUP, on_signal, &st, &s3), 0);
	assert_int_equal(raise(SIGHUP), 0);
	while (st.got[2] < 1)
		assert_true(wf_loop_run_once(loop, 1000) > 0);
	wf_loop_signal_free(s3);
	assert_true(blocked(SIGHUP));
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);

	wf_loop_signal_free(s1);
	assert_false(blocked(SIGUSR1));
	wf_loop_signal_free(NULL);
	wf_loop_free(loop);
}

static void on_sig_stop(struct wf_loop *loop, struct wf_loop_signal *s,
			const struct signalfd_siginfo *si, void *data)
{
	wf_loop_stop(loop, (int)si->ssi_signo);
}

static void test_signal_freed_with_loop(void **state)
{
	struct wf_loop *loop = new_loop();
	assert_int_equal(wf_loop_signal_new(loop, SIGTERM, on_sig_stop, NULL, NULL), 0);
	assert_int_equal(raise(SIGTERM), 0);
	assert_int_equal(wf_loop_run(loop), SIGTERM);
	wf_loop_free(loop); /* unblocks SIGTERM again */
	assert_false(blocked(SIGTERM));
}

/* ---- deferred callbacks ---- */

struct defer_state {
	int runs;
	int reschedule;
	struct wf_loop_defer *other; /* cancelled by the callback */
	bool free_self;
};

static void on_defer(struct wf_loop *loop, struct wf_loop_defer *d, void *data)
{
	struct defer_state *s = data;
	s->runs++;
	if (s->other)
		wf_loop_defer_cancel(s->other);
	if (s->reschedule > 0) {
		s->reschedule--;
		wf_loop_defer_schedule(d);
		assert_true(wf_loop_defer_scheduled(d));
	}
	if (s->free_self)
		wf_loop_defer_free(d);
}

static void on_burst(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events,
		     void *data)
{
	char c;
	assert_int_equal(read(fd, &c, 1), 1);
	wf_loop_defer_schedule(data);
}

static void test_defer(void **state)
{
	struct wf_loop *loop = new_loop();
	struct defer_state s = {0};
	struct wf_loop_defer *d;
	assert_int_equal(wf_loop_defer_new(loop, on_defer, &s, &d), 0);
	assert_false(wf_loop_defer_scheduled(d));

	/* Nothing scheduled: does not run. */
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(s.runs, 0);

	/* Scheduled three times: runs once, without waiting. */
	wf_loop_defer_schedule(d);
	wf_loop_defer_schedule(d);
	wf_loop_defer_schedule(d);
	uint64_t start = wf_now_ns();
	assert_int_equal(wf_loop_run_once(loop, 5000), 0);
	assert_true(wf_now_ns() - start < 1000 * MS);
	assert_int_equal(s.runs, 1);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(s.runs, 1);

	/* A burst of events in one iteration coalesces into one run. */
	int fds[8][2];
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		assert_int_equal(wf_loop_io_new(loop, fds[i][0], WF_LOOP_READ, on_burst, d, NULL),
				 0);
		assert_int_equal(write(fds[i][1], "x", 1), 1);
	}
	assert_int_equal(wf_loop_run_once(loop, 1000), 8);
	assert_int_equal(s.runs, 2);

	/* Rescheduled from its own callback: once per iteration, not in a loop. */
	s.reschedule = 2;
	wf_loop_defer_schedule(d);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(s.runs, 3);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(s.runs, 4);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(s.runs, 5);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(s.runs, 5);

	/* Cancelled before it runs, and cancelled by an earlier callback in the same pass. */
	wf_loop_defer_schedule(d);
	wf_loop_defer_cancel(d);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(s.runs, 5);
	struct defer_state first = {.other = d};
	struct wf_loop_defer *d0;
	assert_int_equal(wf_loop_defer_new(loop, on_defer, &first, &d0), 0);
	wf_loop_defer_schedule(d0);
	wf_loop_defer_schedule(d);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(first.runs, 1);
	assert_int_equal(s.runs, 5);

	/* Freed by its own callback. */
	s.free_self = true;
	wf_loop_defer_schedule(d);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(s.runs, 6);
	wf_loop_defer_free(d0);
	wf_loop_defer_free(NULL);

	/* A scheduled, loop-owned defer is freed with the loop. */
	struct defer_state left = {0};
	struct wf_loop_defer *d2;
	assert_int_equal(wf_loop_defer_new(loop, on_defer, &left, &d2), 0);
	wf_loop_defer_schedule(d2);
	wf_loop_free(loop);
	for (int i = 0; i < 8; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}

/* ---- stop and time ---- */

static void *stopper(void *arg)
{
	sleep_ms(20);
	wf_loop_stop(arg, 7);
	return NULL;
}

static void test_stop_from_thread(void **state)
{
	struct wf_loop *loop = new_loop();
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, stopper, loop), 0);
	uint64_t start = wf_now_ns();
	assert_int_equal(wf_loop_run(loop), 7); /* nothing else to wake it */
	assert_true(wf_now_ns() - start >= 15 * MS);
	pthread_join(t, NULL);

	/* The stop is consumed: run again until stopped again. */
	assert_int_equal(pthread_create(&t, NULL, stopper, loop), 0);
	assert_int_equal(wf_loop_run(loop), 7);
	pthread_join(t, NULL);
	wf_loop_free(loop);
}

static void test_now(void **state)
{
	struct wf_loop *loop = new_loop();
	uint64_t a = wf_loop_now(loop);
	assert_true(a > 0);
	sleep_ms(2);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	uint64_t b = wf_loop_now(loop);
	assert_true(b - a >= 2 * MS);
	assert_true(wf_now_ns() >= b);
	assert_true(wf_realtime_ns() > 1600000000ULL * WF_NSEC_PER_SEC);
	wf_loop_free(loop);
}

static void test_alloc_failure(void **state)
{
	/* Fail each allocation of the constructors in turn: -ENOMEM and no leak. */
	for (unsigned long n = 1;; n++) {
		struct wf_loop *loop = NULL;
		wf_alloc_fail_at(n);
		int r = wf_loop_new(&loop);
		if (r == 0) {
			wf_alloc_fail_at(0);
			assert_true(n > 1);
			int fired = 0;
			struct wf_loop_timer *t;
			struct wf_loop_defer *d;
			wf_alloc_fail_at(1);
			assert_int_equal(wf_loop_timer_new(loop, 0, 0, on_tick, &fired, &t),
					 -ENOMEM);
			wf_alloc_fail_at(1);
			assert_int_equal(wf_loop_defer_new(loop, on_defer, NULL, &d), -ENOMEM);
			wf_alloc_fail_at(1);
			assert_int_equal(wf_loop_signal_new(loop, SIGUSR1, on_signal, NULL, NULL),
					 -ENOMEM);
			assert_false(blocked(SIGUSR1));
			int p[2];
			assert_int_equal(pipe(p), 0);
			wf_alloc_fail_at(1);
			assert_int_equal(
				wf_loop_io_new(loop, p[0], WF_LOOP_READ, on_count, NULL, NULL),
				-ENOMEM);
			wf_alloc_fail_at(0);
			close(p[0]);
			close(p[1]);
			wf_loop_free(loop);
			break;
		}
		assert_int_equal(r, -ENOMEM);
		assert_null(loop);
	}
	wf_alloc_fail_at(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io),
		cmocka_unit_test(test_io_free_other_in_batch),
		cmocka_unit_test(test_io_many),
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_equal_deadlines),
		cmocka_unit_test(test_timer_periodic),
		cmocka_unit_test(test_timer_set_stop),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_signal_freed_with_loop),
		cmocka_unit_test(test_defer),
		cmocka_unit_test(test_stop_from_thread),
		cmocka_unit_test(test_now),
		cmocka_unit_test(test_alloc_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
