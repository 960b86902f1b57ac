// SPDX-License-Identifier: GPL-2.0
/*
 * lossy: a test program for the runtime's lost-event accounting. Its ring
 * buffer holds only a few of its events, so a reader that is not reading
 * makes it drop, and every drop must be counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define EBT_RINGBUF_SIZE 4096
#include "ebtools.bpf.h"

/* targ_pid (bpf/include/task.bpf.h) keeps other processes out. */

struct lossy_event {
	__u32 seq;
	char pad[500];
};

struct lossy_event scratch = {};

SEC("tracepoint/syscalls/sys_enter_getppid")
int lossy_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	scratch.seq++;
	ebt_output(ctx, &scratch, sizeof(scratch));
	return 0;
}

/* For the wakeup test: 8-byte events, far smaller than the wakeup stride. */
SEC("tracepoint/syscalls/sys_enter_getsid")
int lossy_small(void *ctx)
{
	__u64 seq;

	if ((bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	seq = ++scratch.seq;
	ebt_output(ctx, &seq, sizeof(seq));
	return 0;
}

/*
 * For the skipped-run count: lossy_nested prints; lossy_printk, attached to
 * the tracepoint that printing fires, runs and prints too, which would run
 * it again inside itself: the kernel's recursion guard skips that run and
 * counts the miss. (A perf-attached tracepoint program would be dropped
 * before the guard, uncounted: perf refuses the nested event itself.)
 */
SEC("tracepoint/syscalls/sys_enter_getpgid")
int lossy_nested(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	bpf_printk("ebtools runtime test: nested program run");
	return 0;
}

SEC("tp_btf/bpf_trace_printk")
int lossy_printk(void *ctx)
{
	bpf_printk("ebtools runtime test: recursive program run");
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
