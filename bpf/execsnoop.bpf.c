// SPDX-License-Identifier: GPL-2.0
/*
 * execsnoop: one event per execve(2)/execveat(2), sent at syscall exit with
 * the result, the new comm and the arguments read at entry (at exit the old
 * image, and with it argv, is gone).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ebtools.bpf.h"
#include "execsnoop.h"

#define INVALID_UID ((__u32)-1)

const volatile __u32 targ_pid = 0;
const volatile __u32 targ_ppid = 0;
const volatile __u32 targ_uid = INVALID_UID;
const volatile bool targ_failed = false;
const volatile __u32 targ_max_args = 20;

/*
 * The verifier needs the string copy's destination bounded by the array, not
 * by args_size, so the array has EXECSNOOP_ARG_MAX bytes of slack past the
 * EXECSNOOP_ARGS_SIZE that is ever filled.
 */
struct exec_record {
	struct event e;
	char args[EXECSNOOP_ARGS_SIZE + EXECSNOOP_ARG_MAX];
};

static const struct exec_record empty_record = {};

/*
 * Calls between entry and exit, by tgid: a successful exec from a secondary
 * thread returns with the thread id changed to the tgid. Not preallocated:
 * only execs in flight use memory.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct exec_record);
} execs SEC(".maps");

static __always_inline bool trace_allowed(__u32 tgid, __u32 ppid, __u32 uid)
{
	if (targ_pid && tgid != targ_pid)
		return false;
	if (targ_ppid && ppid != targ_ppid)
		return false;
	if (targ_uid != INVALID_UID && uid != targ_uid)
		return false;
	return ebt_cgroup_allowed();
}

/* append_string copies one user string into r->args; false when there is no room. */
static __always_inline bool append_string(struct exec_record *r, const char *src, __u32 idx)
{
	__u64 off = r->e.args_size;
	__u64 room;
	long n;
	char next;

	if (off >= EXECSNOOP_ARGS_SIZE)
		return false;
	off &= EXECSNOOP_ARGS_SIZE - 1;
	room = EXECSNOOP_ARGS_SIZE - off;
	if (room > EXECSNOOP_ARG_MAX)
		room = EXECSNOOP_ARG_MAX;
	/* Keep clang from passing the unclamped copy of room to the helper. */
	barrier_var(room);

	n = bpf_probe_read_user_str(&r->args[off], room, src);
	if (n <= 0) {
		/* Unreadable: keep the slot so argv indexes stay right, and mark it. */
		r->args[off] = '\0';
		n = 1;
		r->e.cut_mask |= 1ULL << (idx & 63);
	} else if (n == room &&
		   (bpf_probe_read_user(&next, 1, src + room - 1) || next != '\0')) {
		/* Filled the room and the string did not end there: it was cut. */
		r->e.cut_mask |= 1ULL << (idx & 63);
	}
	r->e.args_size = off + n;
	r->e.args_count++;
	return true;
}

static __always_inline int enter_exec(const char *filename, const char *const *argv, __u32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);
	struct exec_record *r;
	const char *arg;
	int i;

	if (!trace_allowed(tgid, ppid, uid))
		return 0;
	if (bpf_map_update_elem(&execs, &tgid, &empty_record, BPF_ANY)) {
		ebt_count_lost();
		return 0;
	}
	r = bpf_map_lookup_elem(&execs, &tgid);
	if (!r)
		return 0;

	r->e.ktime_ns = bpf_ktime_get_ns();
	r->e.pid = tgid;
	r->e.tid = (__u32)id;
	r->e.ppid = ppid;
	r->e.uid = uid;
	r->e.flags = flags;
	append_string(r, filename, 0);

	/* 60 argv entries: the most --max-args allows, as in libbpf-tools. */
	for (i = 0; i < EXECSNOOP_MAX_ARGS; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return 0;
		if (i >= targ_max_args || !append_string(r, arg, i + 1))
			break;
	}
	/* Stopped early with argv entries left over. */
	if (i == EXECSNOOP_MAX_ARGS) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return 0;
	}
	r->e.flags |= EXECSNOOP_MORE_ARGS;
	return 0;
}

static __always_inline int exit_exec(void *ctx, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_record *r;
	__u32 size;

	r = bpf_map_lookup_elem(&execs, &tgid);
	if (!r)
		return 0;
	if (ret < 0 && !targ_failed)
		goto cleanup;

	r->e.retval = ret;
	bpf_get_current_comm(&r->e.comm, sizeof(r->e.comm));
	size = r->e.args_size;
	if (size > EXECSNOOP_ARGS_SIZE)
		size = EXECSNOOP_ARGS_SIZE;
	ebt_output(ctx, r, sizeof(r->e) + size);
cleanup:
	bpf_map_delete_elem(&execs, &tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter_exec((const char *)ctx->args[0], (const char *const *)ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exit_exec(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int execveat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter_exec((const char *)ctx->args[1], (const char *const *)ctx->args[2],
			  EXECSNOOP_EXECVEAT);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int execveat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exit_exec(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
