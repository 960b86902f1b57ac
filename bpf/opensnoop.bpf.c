// SPDX-License-Identifier: GPL-2.0
/*
 * opensnoop: one event per open(2), openat(2) and openat2(2), at syscall
 * exit with the fd or error, the flags and mode, and the path, made absolute
 * against the dirfd or cwd the call used when targ_full_path is set.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/*
 * A tight open/close loop makes several hundred thousand events a second,
 * ~100 bytes each: 8 MiB holds a quarter of a second of them, so a reader
 * starved of CPU for that long (a busy 2-CPU machine) still loses nothing.
 * 2 MiB lost events here when other work competed for the CPUs.
 */
#define EBT_RINGBUF_SIZE (8 * 1024 * 1024)
#include "ebtools.bpf.h"
#include "path.bpf.h"
#include "opensnoop.h"

#define INVALID_UID ((__u32)-1)
#define O_ACCMODE 3

const volatile __u32 targ_pid = 0;
const volatile __u32 targ_tid = 0;
const volatile __u32 targ_uid = INVALID_UID;
const volatile bool targ_failed = false;
/* -f: any of these flags; targ_rdonly stands for O_RDONLY, which is 0. */
const volatile __u64 targ_flags = 0;
const volatile bool targ_rdonly = false;
const volatile bool targ_full_path = false;

struct args {
	const char *path;
	const struct open_how *how; /* openat2 only */
	__u64 flags;
	__u32 mode;
	__s32 dirfd;
	__u8 syscall;
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

static __always_inline bool trace_allowed(__u64 id, __u32 uid)
{
	if (targ_pid && (id >> 32) != targ_pid)
		return false;
	if (targ_tid && (__u32)id != targ_tid)
		return false;
	if (targ_uid != INVALID_UID && uid != targ_uid)
		return false;
	return ebt_cgroup_allowed();
}

static __always_inline bool flags_allowed(__u64 flags)
{
	if (!targ_flags && !targ_rdonly)
		return true;
	if (flags & targ_flags)
		return true;
	return targ_rdonly && (flags & O_ACCMODE) == 0;
}

static __always_inline int enter(struct args *a)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!trace_allowed(id, (__u32)bpf_get_current_uid_gid()))
		return 0;
	/* openat2's flags are only known at exit, once how is read. */
	if (a->syscall != OPENSNOOP_OPENAT2 && !flags_allowed(a->flags))
		return 0;
	if (bpf_map_update_elem(&start, &id, a, BPF_ANY))
		ebt_count_lost();
	return 0;
}

static __always_inline int leave(void *ctx, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct open_how how = {};
	struct scratch *s;
	struct args *a;
	__u32 zero = 0, len;

	a = bpf_map_lookup_elem(&start, &id);
	if (!a)
		return 0;
	if (targ_failed && ret >= 0)
		goto cleanup;
	if (a->syscall == OPENSNOOP_OPENAT2) {
		bpf_probe_read_user(&how, sizeof(how), a->how);
		a->flags = how.flags;
		a->mode = how.mode;
		if (!flags_allowed(a->flags))
			goto cleanup;
	}
	s = bpf_map_lookup_elem(&heap, &zero);
	if (!s)
		goto cleanup;

	s->e.ktime_ns = bpf_ktime_get_ns();
	s->e.pid = id >> 32;
	s->e.tid = (__u32)id;
	s->e.uid = (__u32)bpf_get_current_uid_gid();
	s->e.ret = ret;
	s->e.dirfd = a->dirfd;
	s->e.flags = a->flags;
	s->e.mode = a->mode;
	s->e.syscall = a->syscall;
	bpf_get_current_comm(&s->e.comm, sizeof(s->e.comm));
	s->e.path_flags = 0;
	len = ebt_path(s->path, &s->walk, a->dirfd, a->path, targ_full_path, &s->e.arg_off,
		       &s->e.path_flags);
	if (len > EBT_PATH_DST_SIZE - 1)
		len = EBT_PATH_DST_SIZE - 1;
	s->e.path_len = len;
	ebt_output(ctx, s, sizeof(s->e) + len);
cleanup:
	bpf_map_delete_elem(&start, &id);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int open_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct args a = {.path = (const char *)ctx->args[0], .flags = ctx->args[1],
			 .mode = ctx->args[2], .dirfd = AT_FDCWD, .syscall = OPENSNOOP_OPEN};
	return enter(&a);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct args a = {.path = (const char *)ctx->args[1], .flags = ctx->args[2],
			 .mode = ctx->args[3], .dirfd = ctx->args[0], .syscall = OPENSNOOP_OPENAT};
	return enter(&a);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct args a = {.path = (const char *)ctx->args[1], .how = (void *)ctx->args[2],
			 .dirfd = ctx->args[0], .syscall = OPENSNOOP_OPENAT2};
	return enter(&a);
}

/*
 * One exit program for the three calls (the start map says which it was):
 * the path walk is verified once. tools/opensnoop attaches it to the other
 * two exit tracepoints as well.
 */
SEC("tracepoint/syscalls/sys_exit_openat")
int open_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx, ctx->ret);
}

char LICENSE[] SEC("license") = "GPL";
