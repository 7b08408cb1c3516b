/* Clocks in nanoseconds. Thread-safe, no allocation; a vDSO call, no syscall. */
#pragma once
#include <stdint.h>
#include <time.h>

#define WF_NSEC_PER_USEC 1000ULL
#define WF_NSEC_PER_MSEC 1000000ULL
#define WF_NSEC_PER_SEC 1000000000ULL

/* Monotonic time (CLOCK_MONOTONIC): for timeouts, durations and timers. */
static inline uint64_t wf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WF_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Wall-clock time (CLOCK_REALTIME) since the epoch: for timestamps shown to people only. */
static inline uint64_t wf_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * WF_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}
