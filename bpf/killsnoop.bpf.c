// SPDX-License-Identifier: GPL-2.0
/*
 * killsnoop: signals sent with kill(2), tkill(2) and tgkill(2), one event
 * at syscall exit with the result; the target's comm comes from the
 * signal:signal_generate tracepoint, which fires inside the call.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "killsnoop.h"
#define EBT_SCRATCH_SIZE sizeof(struct event)
#include "ebtools.bpf.h"

/* -x: only failed calls; -s: only this signal (0: any). */
const volatile bool targ_failed = false;
const volatile __u32 targ_sig = 0;

/* Calls between entry and exit, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} calls SEC(".maps");

static __always_inline int enter(__s32 tpid, __u32 sig, __u8 syscall)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event e = {.tpid = tpid, .sig = sig, .syscall = syscall};

	if ((targ_sig && sig != targ_sig) || !ebt_task_allowed())
		return 0;
	if (bpf_map_update_elem(&calls, &tid, &e, BPF_ANY))
		ebt_count_lost();
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int kill_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx->args[0], ctx->args[1], KILLSNOOP_KILL);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int tkill_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx->args[0], ctx->args[1], KILLSNOOP_TKILL);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int tgkill_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(ctx->args[1], ctx->args[2], KILLSNOOP_TGKILL);
}

/* The first signal a call generates names its target (kill(-PGID) reaches many). */
SEC("tracepoint/signal/signal_generate")
int signal_generate(struct trace_event_raw_signal_generate *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&calls, &tid);

	if (!e || e->found)
		return 0;
	e->found = 1;
	/* Not a memcpy: the verifier allows only fixed-offset loads from ctx. */
	bpf_probe_read_kernel(e->tcomm, sizeof(e->tcomm), ctx->comm);
	return 0;
}

/* One exit program for the three calls; tools/killsnoop attaches it to each. */
SEC("tracepoint/syscalls/sys_exit_kill")
int kill_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&calls, &tid), *r;

	if (!e)
		return 0;
	if (targ_failed && ctx->ret >= 0)
		goto cleanup;
	r = ebt_scratch();
	if (!r)
		goto cleanup;
	*r = *e;
	r->ret = ctx->ret;
	ebt_task_fill(&r->task);
	ebt_submit(ctx, r, sizeof(*r), sizeof(*r));
cleanup:
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

/* Makes enum killsnoop_syscall part of the object's BTF, for bpf2go -type. */
const enum killsnoop_syscall *unused_syscall __attribute__((unused));

char LICENSE[] SEC("license") = "GPL";
