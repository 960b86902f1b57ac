// SPDX-License-Identifier: GPL-2.0
/*
 * unlinksnoop: who deletes files and directories. unlink(2), unlinkat(2)
 * and rmdir(2), one event at syscall exit with the result and the path made
 * absolute against the dirfd or cwd the call used.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ebtools.bpf.h"
#include "path.bpf.h"
#include "unlinksnoop.h"

#define INVALID_UID ((__u32)-1)
#define AT_REMOVEDIR 0x200

const volatile __u32 targ_pid = 0;
const volatile __u32 targ_uid = INVALID_UID;
const volatile bool targ_failed = false;

struct args {
	const char *path;
	__s32 dirfd;
	__u8 syscall;
	__u8 rmdir;
};

/* Calls between entry and exit, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct args);
} start SEC(".maps");

struct scratch {
	struct event e;
	char path[EBT_PATH_DST_SIZE];
	struct ebt_path_scratch walk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} heap SEC(".maps");

static __always_inline bool trace_allowed(__u32 tgid, __u32 uid)
{
	if (targ_pid && tgid != targ_pid)
		return false;
	if (targ_uid != INVALID_UID && uid != targ_uid)
		return false;
	return ebt_cgroup_allowed();
}

static __always_inline int enter(int dirfd, const char *path, __u8 syscall, bool rmdir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {.path = path, .dirfd = dirfd, .syscall = syscall, .rmdir = rmdir};

	if (!trace_allowed(id >> 32, (__u32)bpf_get_current_uid_gid()))
		return 0;
	if (bpf_map_update_elem(&start, &id, &a, BPF_ANY))
		ebt_count_lost();
	return 0;
}

static __always_inline int leave(void *ctx, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *parent;
	struct scratch *s;
	struct args *a;
	__u32 zero = 0, len;

	a = bpf_map_lookup_elem(&start, &id);
	if (!a)
		return 0;
	if (targ_failed && ret == 0)
		goto cleanup;
	s = bpf_map_lookup_elem(&heap, &zero);
	if (!s)
		goto cleanup;

	s->e.ktime_ns = bpf_ktime_get_ns();
	s->e.pid = id >> 32;
	s->e.tid = (__u32)id;
	s->e.uid = (__u32)bpf_get_current_uid_gid();
	s->e.ret = ret;
	s->e.dirfd = a->dirfd;
	s->e.syscall = a->syscall;
	s->e.rmdir = a->rmdir;
	parent = BPF_CORE_READ(task, real_parent);
	s->e.ppid = BPF_CORE_READ(parent, tgid);
	bpf_get_current_comm(&s->e.comm, sizeof(s->e.comm));
	BPF_CORE_READ_STR_INTO(&s->e.pcomm, parent, comm);
	s->e.path_flags = 0;
	len = ebt_path(s->path, &s->walk, a->dirfd, a->path, true, &s->e.arg_off, &s->e.path_flags);
	if (len > EBT_PATH_DST_SIZE - 1)
		len = EBT_PATH_DST_SIZE - 1;
	s->e.path_len = len;
	ebt_output(ctx, s, sizeof(s->e) + len);
cleanup:
	bpf_map_delete_elem(&start, &id);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int unlink_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(AT_FDCWD, (const char *)ctx->args[0], UNLINKSNOOP_UNLINK, false);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int unlinkat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((int)ctx->args[0], (const char *)ctx->args[1], UNLINKSNOOP_UNLINKAT,
		     ctx->args[2] & AT_REMOVEDIR);
}

SEC("tracepoint/syscalls/sys_enter_rmdir")
int rmdir_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(AT_FDCWD, (const char *)ctx->args[0], UNLINKSNOOP_RMDIR, true);
}

/*
 * One exit program for the three calls (the start map says which it was):
 * the path walk is verified once. tools/unlinksnoop attaches it to the
 * other two exit tracepoints as well.
 */
SEC("tracepoint/syscalls/sys_exit_unlinkat")
int unlink_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
