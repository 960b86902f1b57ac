/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ebtools.bpf.h: what every ebtools program shares with the Go runtime.
 *
 *   - events: the channel to user space. A BPF ring buffer where the kernel
 *     has one (5.8+); the runtime turns it into a perf event array on older
 *     kernels and clears ebt_use_ringbuf, which the verifier folds into dead
 *     code elimination, so one object serves both.
 *   - lost: a per-CPU count of events that could not be handed over (ring
 *     buffer full, perf buffer full, scratch map full). Neither buffer type
 *     tells user space about these by itself.
 *   - cgroup_map / targ_cgroup: the -c/--cgroup filter, filled by the runtime.
 *   - task.bpf.h: who caused an event, the task filters, ebt_submit.
 *
 * A tool may define EBT_RINGBUF_SIZE (bytes, a power of two) before including
 * this file. The ring is mapped twice into the reader (so records can wrap),
 * which counts twice in its RSS: size it to the event rate, no larger.
 *
 * EBT_PERFBUF_SIZE is the perf buffers' room in all, split over the CPUs,
 * on kernels without a ring buffer: the ring's size unless the tool defines
 * it. There the reader is woken for every event and drains one CPU's buffer
 * after the other, so a tool whose events come fast may need more.
 */
#ifndef __EBTOOLS_BPF_H
#define __EBTOOLS_BPF_H

#include <bpf/bpf_core_read.h>

#ifndef EBT_RINGBUF_SIZE
#define EBT_RINGBUF_SIZE (1024 * 1024)
#endif

#ifndef EBT_PERFBUF_SIZE
#define EBT_PERFBUF_SIZE EBT_RINGBUF_SIZE
#endif

/* Set by the runtime before load; read-only for the verifier. */
const volatile bool ebt_use_ringbuf = true;
/* Read by the runtime: the perf buffers' size (EBT_PERFBUF_SIZE). */
const volatile __u32 ebt_perfbuf_size = EBT_PERFBUF_SIZE;
/* Set by the runtime: the ring bytes a CPU fills between two queries of
 * the fill (ebt_wakeup_flag); 0 queries at every event. */
const volatile __u32 ebt_wakeup_stride = 0;
const volatile bool targ_cgroup = false;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EBT_RINGBUF_SIZE);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_map SEC(".maps");

/* Per CPU: the ring's bytes written since ebt_wakeup_flag last queried its fill. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ebt_unqueried SEC(".maps");

/* ebt_count_lost records one event that never reached user space. */
static __always_inline void ebt_count_lost(void)
{
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&lost, &zero);

	/* Per-CPU slot: no other writer, no atomic needed. */
	if (count)
		(*count)++;
}

/*
 * Wakeups: waking the reader costs the traced task about a microsecond, so
 * events are written without one and the reader polls (every 25 ms, see
 * runtime/events.go). Only once the ring is a quarter full is the reader
 * woken at once, so a burst cannot fill the ring between two polls.
 *
 * Querying the fill is a helper call, a tenth of a small event's cost:
 * each CPU queries once per ebt_wakeup_stride bytes of the ring it filled
 * (records with their 8-byte header, 8-byte aligned; the runtime sets a
 * sixteenth of the ring over the CPUs), so the reader is woken by the time
 * the ring is 5/16 full, plus an event per CPU. Where the kernel does not
 * inline the per-CPU lookup (before 6.10 on x86-64), that lookup is a call
 * too and the stride saves nothing, nor costs anything.
 */
static __always_inline __u64 ebt_wakeup_flag(__u64 size)
{
	__u32 zero = 0;
	__u64 *unqueried;

	if (ebt_wakeup_stride) {
		unqueried = bpf_map_lookup_elem(&ebt_unqueried, &zero);
		if (unqueried) {
			*unqueried += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
			if (*unqueried < ebt_wakeup_stride)
				return BPF_RB_NO_WAKEUP;
			*unqueried = 0;
		}
	}
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > EBT_RINGBUF_SIZE / 4)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/*
 * ebt_output copies size bytes at data into the event channel and counts a
 * failure as a lost event. size may vary per event (it must be bounded).
 */
static __always_inline long ebt_output(void *ctx, const void *data, __u64 size)
{
	long err;

	if (ebt_use_ringbuf)
		err = bpf_ringbuf_output(&events, (void *)data, size, ebt_wakeup_flag(size));
	else
		err = bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, (void *)data, size);
	if (err)
		ebt_count_lost();
	return err;
}

/* ebt_cgroup_allowed reports whether the current task passes -c/--cgroup. */
static __always_inline bool ebt_cgroup_allowed(void)
{
	if (!targ_cgroup)
		return true;
	return bpf_current_task_under_cgroup(&cgroup_map, 0) == 1;
}

#include "task.bpf.h"

#endif /* __EBTOOLS_BPF_H */
