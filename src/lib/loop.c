#include "lib/loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lib/alloc.h"

_Static_assert(WF_LOOP_READ == (unsigned)EPOLLIN && WF_LOOP_WRITE == (unsigned)EPOLLOUT &&
		       WF_LOOP_ERROR == (unsigned)EPOLLERR && WF_LOOP_HUP == (unsigned)EPOLLHUP &&
		       WF_LOOP_RDHUP == (unsigned)EPOLLRDHUP && WF_LOOP_EDGE == (unsigned)EPOLLET,
	       "WF_LOOP_* are the epoll bits");

#define MAX_EVENTS 128
#define SIGINFO_BATCH 16

/* Circular doubly linked list with a sentinel head. */
struct link {
	struct link *prev, *next;
};

static void list_init(struct link *h)
{
	h->prev = h->next = h;
}

static bool list_empty(const struct link *h)
{
	return h->next == h;
}

static void list_add_tail(struct link *h, struct link *l)
{
	l->prev = h->prev;
	l->next = h;
	h->prev->next = l;
	h->prev = l;
}

static void list_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

/* Moves every entry of from to the (empty) list to. */
static void list_splice(struct link *from, struct link *to)
{
	list_init(to);
	if (list_empty(from))
		return;
	to->next = from->next;
	to->prev = from->prev;
	to->next->prev = to;
	to->prev->next = to;
	list_init(from);
}

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

struct wf_loop_io {
	struct wf_loop *loop;
	struct link link; /* loop->ios, or loop->zombies once freed during dispatch */
	wf_loop_io_fn fn; /* NULL once freed: stale events are skipped */
	void *data;
	int fd;
	uint32_t events;
};

struct wf_loop_timer {
	struct wf_loop *loop;
	struct link link; /* loop->timers */
	wf_loop_timer_fn fn;
	void *data;
	uint64_t deadline;
	uint64_t period;
	uint64_t seq; /* orders equal deadlines by arming order */
	size_t idx;   /* position in the heap; NOT_ARMED when disarmed */
	bool owned;   /* by the loop: a fired oneshot is freed */
	bool freed;   /* freed by its own callback: the dispatcher frees it */
};

#define NOT_ARMED SIZE_MAX

struct wf_loop_signal {
	struct wf_loop *loop;
	wf_loop_signal_fn fn;
	void *data;
	int signo;
	bool was_blocked;
};

struct wf_loop_defer {
	struct wf_loop *loop;
	struct link all;     /* loop->defers */
	struct link pending; /* loop->pending while scheduled, else self-linked */
	wf_loop_defer_fn fn;
	void *data;
	bool scheduled;
};

struct wf_loop {
	int epfd;
	int tfd; /* timerfd for the earliest deadline */
	int efd; /* eventfd: wakes the loop for wf_loop_stop */
	int sfd; /* signalfd, -1 until the first signal watch */
	struct wf_loop_io *tio, *eio, *sio;

	atomic_bool stop;
	atomic_int code;
	uint64_t now;
	bool dispatching; /* inside the I/O batch: freed watches become zombies */

	struct link ios;
	struct link zombies;

	struct link timers;
	struct wf_loop_timer **heap;
	size_t nheap, heap_size;
	size_t ntimers;
	uint64_t timer_seq;
	uint64_t armed; /* deadline the timerfd is set to; 0: disarmed */
	struct wf_loop_timer *running;

	sigset_t sigmask;
	struct wf_loop_signal *sigs[_NSIG];

	struct link defers;
	struct link pending;
};

/* ---- I/O ---- */

static int io_add(struct wf_loop *loop, int fd, uint32_t events, wf_loop_io_fn fn, void *data,
		  struct wf_loop_io **ret)
{
	struct wf_loop_io *io = wf_malloc(sizeof(*io));
	if (!io)
		return -ENOMEM;
	*io = (struct wf_loop_io){.loop = loop, .fn = fn, .data = data, .fd = fd, .events = events};
	struct epoll_event ev = {.events = events, .data.ptr = io};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		int r = -errno;
		wf_free(io);
		return r;
	}
	list_add_tail(&loop->ios, &io->link);
	*ret = io;
	return 0;
}

int wf_loop_io_new(struct wf_loop *loop, int fd, uint32_t events, wf_loop_io_fn fn, void *data,
		   struct wf_loop_io **ret)
{
	struct wf_loop_io *io;
	if (!fn || fd < 0)
		return -EINVAL;
	int r = io_add(loop, fd, events, fn, data, &io);
	if (r < 0)
		return r;
	if (ret)
		*ret = io;
	return 0;
}

int wf_loop_io_set_events(struct wf_loop_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) == -1)
		return -errno;
	io->events = events;
	return 0;
}

uint32_t wf_loop_io_events(const struct wf_loop_io *io)
{
	return io->events;
}

int wf_loop_io_fd(const struct wf_loop_io *io)
{
	return io->fd;
}

void wf_loop_io_free(struct wf_loop_io *io)
{
	if (!io)
		return;
	struct wf_loop *loop = io->loop;
	/* ENOENT/EBADF: the descriptor was closed first; nothing left to remove. */
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	list_del(&io->link);
	if (loop->dispatching) {
		/* The current batch may still hold events pointing here. */
		io->fn = NULL;
		list_add_tail(&loop->zombies, &io->link);
		return;
	}
	wf_free(io);
}

/* ---- timers: a binary min-heap on (deadline, seq) ---- */

static bool timer_before(const struct wf_loop_timer *a, const struct wf_loop_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_place(struct wf_loop *loop, size_t i, struct wf_loop_timer *t)
{
	loop->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct wf_loop *loop, size_t i)
{
	struct wf_loop_timer *t = loop->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, t);
}

static void heap_down(struct wf_loop *loop, size_t i)
{
	struct wf_loop_timer *t = loop->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= loop->nheap)
			break;
		if (c + 1 < loop->nheap && timer_before(loop->heap[c + 1], loop->heap[c]))
			c++;
		if (!timer_before(loop->heap[c], t))
			break;
		heap_place(loop, i, loop->heap[c]);
		i = c;
	}
	heap_place(loop, i, t);
}

static void heap_remove(struct wf_loop *loop, struct wf_loop_timer *t)
{
	size_t i = t->idx;
	t->idx = NOT_ARMED;
	loop->nheap--;
	if (i == loop->nheap)
		return;
	/* The last timer fills the hole, then moves whichever way restores the order. */
	struct wf_loop_timer *last = loop->heap[loop->nheap];
	heap_place(loop, i, last);
	if (i > 0 && timer_before(last, loop->heap[(i - 1) / 2]))
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

static void heap_insert(struct wf_loop *loop, struct wf_loop_timer *t)
{
	/* heap_size >= ntimers (ensured by wf_loop_timer_new), so this cannot fail. */
	t->seq = loop->timer_seq++;
	heap_place(loop, loop->nheap++, t);
	heap_up(loop, t->idx);
}

void wf_loop_timer_stop(struct wf_loop_timer *t)
{
	if (t->idx != NOT_ARMED)
		heap_remove(t->loop, t);
}

void wf_loop_timer_set(struct wf_loop_timer *t, uint64_t delay_ns, uint64_t period_ns)
{
	wf_loop_timer_stop(t);
	t->deadline = wf_now_ns() + delay_ns;
	t->period = period_ns;
	heap_insert(t->loop, t);
}

bool wf_loop_timer_armed(const struct wf_loop_timer *t)
{
	return t->idx != NOT_ARMED;
}

int wf_loop_timer_new(struct wf_loop *loop, uint64_t delay_ns, uint64_t period_ns,
		      wf_loop_timer_fn fn, void *data, struct wf_loop_timer **ret)
{
	if (!fn)
		return -EINVAL;
	if (loop->ntimers == loop->heap_size) {
		size_t size = loop->heap_size ? loop->heap_size * 2 : 16;
		struct wf_loop_timer **heap = wf_reallocarray(loop->heap, size, sizeof(*heap));
		if (!heap)
			return -ENOMEM;
		loop->heap = heap;
		loop->heap_size = size;
	}
	struct wf_loop_timer *t = wf_malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	*t = (struct wf_loop_timer){
		.loop = loop, .fn = fn, .data = data, .idx = NOT_ARMED, .owned = !ret};
	list_add_tail(&loop->timers, &t->link);
	loop->ntimers++;
	wf_loop_timer_set(t, delay_ns, period_ns);
	if (ret)
		*ret = t;
	return 0;
}

static void timer_release(struct wf_loop_timer *t)
{
	list_del(&t->link);
	t->loop->ntimers--;
	wf_free(t);
}

void wf_loop_timer_free(struct wf_loop_timer *t)
{
	if (!t)
		return;
	wf_loop_timer_stop(t);
	if (t->loop->running == t) {
		t->freed = true; /* the dispatcher still looks at it after the callback */
		return;
	}
	timer_release(t);
}

static void run_timers(struct wf_loop *loop)
{
	uint64_t now = loop->now;

	/* Timers armed by these callbacks with a zero delay get a deadline >= now and may run
	 * in this pass; a periodic timer runs at most once per pass, as its next deadline is
	 * always > now. */
	while (loop->nheap > 0 && loop->heap[0]->deadline <= now) {
		struct wf_loop_timer *t = loop->heap[0];
		heap_remove(loop, t);
		if (t->period) {
			uint64_t missed = (now - t->deadline) / t->period;
			t->deadline += (missed + 1) * t->period;
			heap_insert(loop, t);
		}
		loop->running = t;
		t->fn(loop, t, t->data);
		loop->running = NULL;
		if (t->freed || (t->owned && t->idx == NOT_ARMED))
			timer_release(t);
	}
}

/* Points the timerfd at the earliest deadline (a syscall only when that changes). */
static void arm_timerfd(struct wf_loop *loop)
{
	uint64_t want = loop->nheap ? loop->heap[0]->deadline : 0;
	if (want == loop->armed)
		return;
	/* it_value 0 disarms; a deadline in the past fires at once. */
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(want / WF_NSEC_PER_SEC),
					      .tv_nsec = (long)(want % WF_NSEC_PER_SEC)}};
	if (want && its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(loop->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		loop->armed = want;
}

static void on_timerfd(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events,
		       void *data)
{
	uint64_t ticks;
	if (read(fd, &ticks, sizeof(ticks)) < 0) {
		/* EAGAIN: nothing to clear */
	}
	/* The deadline it was set to has passed: set it again for the next one. */
	loop->armed = 0;
}

/* ---- signals ---- */

static void on_signalfd(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events,
			void *data)
{
	struct signalfd_siginfo si[SIGINFO_BATCH];
	for (;;) {
		ssize_t n = read(fd, si, sizeof(si));
		if (n <= 0)
			return;
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			unsigned signo = si[i].ssi_signo;
			/* Looked up each time: a callback may free any signal watch. */
			struct wf_loop_signal *s = signo < _NSIG ? loop->sigs[signo] : NULL;
			if (s)
				s->fn(loop, s, &si[i], s->data);
		}
		if ((size_t)n < sizeof(si))
			return;
	}
}

int wf_loop_signal_new(struct wf_loop *loop, int signo, wf_loop_signal_fn fn, void *data,
		       struct wf_loop_signal **ret)
{
	if (!fn || signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	if (loop->sigs[signo])
		return -EEXIST;
	struct wf_loop_signal *s = wf_malloc(sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct wf_loop_signal){.loop = loop, .fn = fn, .data = data, .signo = signo};

	sigset_t mask = loop->sigmask;
	sigaddset(&mask, signo);
	int r;
	if (loop->sfd < 0) {
		int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
		if (sfd == -1) {
			r = -errno;
			goto free_s;
		}
		r = io_add(loop, sfd, EPOLLIN, on_signalfd, NULL, &loop->sio);
		if (r < 0) {
			close(sfd);
			goto free_s;
		}
		loop->sfd = sfd;
	} else if (signalfd(loop->sfd, &mask, 0) == -1) {
		r = -errno;
		goto free_s;
	}

	sigset_t one, old;
	sigemptyset(&one);
	sigaddset(&one, signo);
	pthread_sigmask(SIG_BLOCK, &one, &old);
	s->was_blocked = sigismember(&old, signo) == 1;
	loop->sigmask = mask;
	loop->sigs[signo] = s;
	if (ret)
		*ret = s;
	return 0;

free_s:
	wf_free(s);
	return r;
}

void wf_loop_signal_free(struct wf_loop_signal *s)
{
	if (!s)
		return;
	struct wf_loop *loop = s->loop;
	sigdelset(&loop->sigmask, s->signo);
	signalfd(loop->sfd, &loop->sigmask, 0);
	loop->sigs[s->signo] = NULL;
	if (!s->was_blocked) {
		/* An instance that arrived but was not read yet would be delivered, with its
		 * default action, the moment the signal is unblocked: discard it. */
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, s->signo);
		struct timespec zero = {0, 0};
		while (sigtimedwait(&one, NULL, &zero) == s->signo)
			;
		pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	}
	wf_free(s);
}

/* ---- deferred callbacks ---- */

int wf_loop_defer_new(struct wf_loop *loop, wf_loop_defer_fn fn, void *data,
		      struct wf_loop_defer **ret)
{
	if (!fn)
		return -EINVAL;
	struct wf_loop_defer *d = wf_malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	*d = (struct wf_loop_defer){.loop = loop, .fn = fn, .data = data};
	list_init(&d->pending);
	list_add_tail(&loop->defers, &d->all);
	if (ret)
		*ret = d;
	return 0;
}

void wf_loop_defer_schedule(struct wf_loop_defer *d)
{
	if (d->scheduled)
		return;
	d->scheduled = true;
	list_add_tail(&d->loop->pending, &d->pending);
}

void wf_loop_defer_cancel(struct wf_loop_defer *d)
{
	if (!d->scheduled)
		return;
	d->scheduled = false;
	list_del(&d->pending);
}

bool wf_loop_defer_scheduled(const struct wf_loop_defer *d)
{
	return d->scheduled;
}

void wf_loop_defer_free(struct wf_loop_defer *d)
{
	if (!d)
		return;
	wf_loop_defer_cancel(d);
	list_del(&d->all);
	wf_free(d);
}

static void run_defers(struct wf_loop *loop)
{
	/* Only what was scheduled before this pass runs in it: a callback that schedules
	 * itself again runs next iteration, after the loop has looked at I/O. The batch list
	 * lives on this stack frame; cancel and free unlink from it like from loop->pending. */
	struct link batch;
	list_splice(&loop->pending, &batch);
	while (!list_empty(&batch)) {
		struct wf_loop_defer *d = container_of(batch.next, struct wf_loop_defer, pending);
		list_del(&d->pending);
		d->scheduled = false;
		d->fn(loop, d, d->data);
	}
}

/* ---- the loop ---- */

static void on_eventfd(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events,
		       void *data)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
}

int wf_loop_new(struct wf_loop **ret)
{
	int r;
	struct wf_loop *loop = wf_calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->epfd = loop->tfd = loop->efd = loop->sfd = -1;
	list_init(&loop->ios);
	list_init(&loop->zombies);
	list_init(&loop->timers);
	list_init(&loop->defers);
	list_init(&loop->pending);
	sigemptyset(&loop->sigmask);

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	loop->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd == -1 || loop->tfd == -1 || loop->efd == -1) {
		r = -errno;
		goto free_loop;
	}
	r = io_add(loop, loop->tfd, EPOLLIN, on_timerfd, NULL, &loop->tio);
	if (r < 0)
		goto free_loop;
	r = io_add(loop, loop->efd, EPOLLIN, on_eventfd, NULL, &loop->eio);
	if (r < 0)
		goto free_loop;
	loop->now = wf_now_ns();
	*ret = loop;
	return 0;

free_loop:
	wf_loop_free(loop);
	return r;
}

void wf_loop_free(struct wf_loop *loop)
{
	if (!loop)
		return;
	for (int i = 1; i < _NSIG; i++)
		wf_loop_signal_free(loop->sigs[i]);
	while (!list_empty(&loop->defers))
		wf_loop_defer_free(container_of(loop->defers.next, struct wf_loop_defer, all));
	while (!list_empty(&loop->timers))
		timer_release(container_of(loop->timers.next, struct wf_loop_timer, link));
	wf_free(loop->heap);
	loop->dispatching = false;
	while (!list_empty(&loop->ios))
		wf_loop_io_free(container_of(loop->ios.next, struct wf_loop_io, link));
	while (!list_empty(&loop->zombies)) {
		struct link *l = loop->zombies.next;
		list_del(l);
		wf_free(container_of(l, struct wf_loop_io, link));
	}
	if (loop->sfd >= 0)
		close(loop->sfd);
	if (loop->efd >= 0)
		close(loop->efd);
	if (loop->tfd >= 0)
		close(loop->tfd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	wf_free(loop);
}

int wf_loop_run_once(struct wf_loop *loop, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];

	arm_timerfd(loop);
	if (!list_empty(&loop->pending))
		timeout_ms = 0;
	int n = epoll_wait(loop->epfd, ev, MAX_EVENTS, timeout_ms);
	if (n == -1) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	loop->now = wf_now_ns();

	loop->dispatching = true;
	for (int i = 0; i < n; i++) {
		struct wf_loop_io *io = ev[i].data.ptr;
		if (io->fn)
			io->fn(loop, io, io->fd, ev[i].events, io->data);
	}
	loop->dispatching = false;
	while (!list_empty(&loop->zombies)) {
		struct link *l = loop->zombies.next;
		list_del(l);
		wf_free(container_of(l, struct wf_loop_io, link));
	}

	run_timers(loop);
	run_defers(loop);
	return n;
}

int wf_loop_run(struct wf_loop *loop)
{
	while (!atomic_exchange(&loop->stop, false)) {
		int r = wf_loop_run_once(loop, -1);
		if (r < 0)
			return r;
	}
	return atomic_load(&loop->code);
}

void wf_loop_stop(struct wf_loop *loop, int code)
{
	atomic_store(&loop->code, code);
	atomic_store(&loop->stop, true);
	uint64_t one = 1;
	if (write(loop->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is full, so the loop is awake anyway */
	}
}

uint64_t wf_loop_now(const struct wf_loop *loop)
{
	return loop->now;
}
