/* The event loop: a thin layer over epoll, one loop per thread.
 *
 * A loop watches file descriptors (wf_loop_io), runs timers (one timerfd per loop and a
 * min-heap of deadlines; oneshot or periodic), receives signals (one signalfd per loop) and
 * runs deferred callbacks once per iteration (wf_loop_defer: schedule it from many events,
 * it runs once - how bursts are coalesced).
 *
 * One iteration: wait (epoll_wait, up to 128 events at once; no wait when a deferred callback
 * is pending) -> I/O callbacks in the order the kernel reported them -> expired timers, by
 * deadline (equal deadlines in the order they were set) -> deferred callbacks, in the order
 * they were scheduled.
 *
 * Ownership: every handle (io, timer, signal, defer) is owned by whoever asked for it and is
 * released with its _free function; wf_loop_free releases the handles still registered (the
 * caller's pointers then dangle). Where a constructor's ret is NULL, the loop owns the handle
 * and frees it with itself (and a oneshot timer as soon as it has fired).
 *
 * Thread context: a loop and its handles are used on one thread only - the one that runs it -
 * except wf_loop_stop, which any thread may call. Callbacks run on the loop's thread and may
 * create, change and free any handle, their own included; they must not call wf_loop_run,
 * wf_loop_run_once or wf_loop_free.
 *
 * Errors: constructors return 0 or -errno (-ENOMEM, or what epoll_ctl, timerfd, signalfd
 * returned); nothing else fails once a handle exists, except wf_loop_io_set_events. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "lib/clock.h"

struct wf_loop;
struct wf_loop_io;
struct wf_loop_timer;
struct wf_loop_signal;
struct wf_loop_defer;

/* I/O interest and events: the epoll(7) bits. ERROR and HUP are always reported. */
#define WF_LOOP_READ 0x001u	 /* EPOLLIN */
#define WF_LOOP_WRITE 0x004u	 /* EPOLLOUT */
#define WF_LOOP_ERROR 0x008u	 /* EPOLLERR */
#define WF_LOOP_HUP 0x010u	 /* EPOLLHUP */
#define WF_LOOP_RDHUP 0x2000u	 /* EPOLLRDHUP: the peer shut down writing */
#define WF_LOOP_EDGE 0x80000000u /* EPOLLET: edge-triggered (interest only) */

typedef void (*wf_loop_io_fn)(struct wf_loop *loop, struct wf_loop_io *io, int fd, uint32_t events,
			      void *data);
typedef void (*wf_loop_timer_fn)(struct wf_loop *loop, struct wf_loop_timer *t, void *data);
typedef void (*wf_loop_signal_fn)(struct wf_loop *loop, struct wf_loop_signal *s,
				  const struct signalfd_siginfo *si, void *data);
typedef void (*wf_loop_defer_fn)(struct wf_loop *loop, struct wf_loop_defer *d, void *data);

int wf_loop_new(struct wf_loop **ret);
/* Takes NULL. Frees every handle still registered and closes the loop's own descriptors (not
 * the watched ones). */
void wf_loop_free(struct wf_loop *loop);

/* Runs iterations until wf_loop_stop; returns the code given to it, or -errno when epoll_wait
 * fails (EINTR is retried). */
int wf_loop_run(struct wf_loop *loop);
/* One iteration, waiting at most timeout_ms for the first event (-1: no limit; 0: poll). For
 * tests and for embedding. Returns the number of I/O events dispatched or -errno. */
int wf_loop_run_once(struct wf_loop *loop, int timeout_ms);
/* Makes wf_loop_run return code after the current iteration. Thread-safe and async-signal-
 * safe (an atomic store and an eventfd write). */
void wf_loop_stop(struct wf_loop *loop, int code);
/* Monotonic time (ns) read when the current iteration's events arrived: a cheap "now" for
 * callbacks; wf_now_ns() (lib/clock.h) reads the clock afresh. */
uint64_t wf_loop_now(const struct wf_loop *loop);

/* Watches fd for events (WF_LOOP_READ | WF_LOOP_WRITE ...). The loop borrows fd: it never
 * closes it. Free the watch before closing fd: epoll tracks the open file, not the number,
 * and a dup of fd would keep reporting events. One watch per fd (-EEXIST otherwise). */
int wf_loop_io_new(struct wf_loop *loop, int fd, uint32_t events, wf_loop_io_fn fn, void *data,
		   struct wf_loop_io **ret);
/* Changes the interest set; 0 or -errno from epoll_ctl. */
int wf_loop_io_set_events(struct wf_loop_io *io, uint32_t events);
uint32_t wf_loop_io_events(const struct wf_loop_io *io);
int wf_loop_io_fd(const struct wf_loop_io *io);
/* Stops watching; takes NULL. Events already fetched for it in this iteration are dropped. */
void wf_loop_io_free(struct wf_loop_io *io);

/* A timer that fires delay_ns from now and then, when period_ns is not 0, every period_ns
 * (ticks missed because the loop was busy are skipped, not replayed). A timer stays allocated
 * after a oneshot fires: re-arm it with wf_loop_timer_set or free it. */
int wf_loop_timer_new(struct wf_loop *loop, uint64_t delay_ns, uint64_t period_ns,
		      wf_loop_timer_fn fn, void *data, struct wf_loop_timer **ret);
/* (Re)arms the timer, replacing any earlier deadline and period. */
void wf_loop_timer_set(struct wf_loop_timer *t, uint64_t delay_ns, uint64_t period_ns);
/* Disarms the timer (cancel); it stays allocated. */
void wf_loop_timer_stop(struct wf_loop_timer *t);
bool wf_loop_timer_armed(const struct wf_loop_timer *t);
/* Disarms and frees; takes NULL. A callback may free its own timer. */
void wf_loop_timer_free(struct wf_loop_timer *t);

/* Delivers signo to fn on this loop through a signalfd. Blocks signo in the calling thread,
 * which must be the loop's thread. In a threaded process a signal must be blocked in every
 * thread for the signalfd to see it: create the signal watches (or block the signals) before
 * starting other threads, which inherit the mask. -EEXIST when the loop already has signo,
 * -EINVAL for SIGKILL, SIGSTOP or a bad number. */
int wf_loop_signal_new(struct wf_loop *loop, int signo, wf_loop_signal_fn fn, void *data,
		       struct wf_loop_signal **ret);
/* Stops receiving the signal, discards one pending instance of it and restores its blocked
 * state as it was before wf_loop_signal_new. Takes NULL. Call on the loop's thread. */
void wf_loop_signal_free(struct wf_loop_signal *s);

/* A deferred callback, idle until scheduled. */
int wf_loop_defer_new(struct wf_loop *loop, wf_loop_defer_fn fn, void *data,
		      struct wf_loop_defer **ret);
/* Runs the callback once at the end of the current iteration (from a callback) or of the next
 * one. Scheduling again before it ran does nothing: a burst of events costs one run. Scheduled
 * from its own callback, it runs in the next iteration. */
void wf_loop_defer_schedule(struct wf_loop_defer *d);
void wf_loop_defer_cancel(struct wf_loop_defer *d);
bool wf_loop_defer_scheduled(const struct wf_loop_defer *d);
void wf_loop_defer_free(struct wf_loop_defer *d); /* takes NULL */
