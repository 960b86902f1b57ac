// SPDX-License-Identifier: GPL-2.0
/*
 * unlinksnoop: who deletes files and directories, and who renames them
 * (a rename can replace a file, or move it away). unlink(2), unlinkat(2),
 * rmdir(2), rename(2), renameat(2) and renameat2(2): one event at syscall
 * exit with the result and the canonical path of what was removed or
 * renamed (path.bpf.h), whatever spelling, symlink, bind mount or chroot
 * the process went through.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "ebtools.bpf.h"
#include "path.bpf.h"
#include "unlinksnoop.h"

#define AT_REMOVEDIR 0x200
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)

/* -x: only failed calls. */
const volatile bool targ_failed = false;

struct args {
	const char *path;
	const char *new_path;
	__s32 dirfd;
	__s32 new_dirfd;
	__u32 flags;
	__u8 syscall;
	__u8 op;
	__u8 replaced;
};

/* Calls between entry and exit, by thread. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct args);
} start SEC(".maps");

/* The variable part: per path its argument and its resolution (a
 * directory and a name), then the root. */
#define DATA_SIZE (5 * EBT_PATH_MAX + 2 * (EBT_NAME_MAX + 1))
/* The furthest a path may start: data has EBT_PATH_MAX bytes after it. */
#define DATA_LIMIT (DATA_SIZE - EBT_PATH_MAX)

struct record {
	struct event e;
	char data[DATA_SIZE + EBT_ANCESTRY_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct record);
} heap SEC(".maps");

static __always_inline int enter(int dirfd, const char *path, int new_dirfd, const char *new_path,
				 __u32 flags, __u8 syscall, __u8 op)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args a = {.path = path, .dirfd = dirfd, .new_path = new_path, .new_dirfd = new_dirfd,
			 .flags = flags, .syscall = syscall, .op = op};
	struct ebt_resolver *r;
	__u32 len, pflags = 0;

	if (!ebt_task_allowed())
		return 0;
	/* Whether the target exists is known only before the rename. */
	if (op == UNLINKSNOOP_OP_RENAME) {
		r = ebt_resolve_begin((struct task_struct *)bpf_get_current_task(), new_dirfd, new_path, &len,
				      &pflags);
		if (r) {
			ebt_resolve_run(r, true, &pflags);
			if (r->found_last)
				a.replaced = r->last_positive ? UNLINKSNOOP_REPLACED_YES : UNLINKSNOOP_REPLACED_NO;
		}
	}
	if (bpf_map_update_elem(&start, &id, &a, BPF_ANY))
		ebt_count_lost();
	return 0;
}

static __always_inline int leave(void *ctx, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct record *r;
	struct args *a;
	__u32 zero = 0, off = 0, matched;

	a = bpf_map_lookup_elem(&start, &id);
	if (!a)
		return 0;
	if (targ_failed && ret == 0)
		goto cleanup;
	r = bpf_map_lookup_elem(&heap, &zero);
	if (!r)
		goto cleanup;

	ebt_task_fill(&r->e.task);
	r->e.ret = ret;
	r->e.dirfd = a->dirfd;
	r->e.new_dirfd = a->new_dirfd;
	r->e.rename_flags = a->flags;
	r->e.syscall = a->syscall;
	r->e.op = a->op;
	r->e.replaced = UNLINKSNOOP_REPLACED_UNKNOWN;
	if (ret == 0 && !(a->flags & RENAME_EXCHANGE))
		r->e.replaced = a->replaced;
	else if (a->op == UNLINKSNOOP_OP_RENAME)
		r->e.replaced = UNLINKSNOOP_REPLACED_NO;

	ebt_put_arg_path(r->data, &off, DATA_LIMIT, sizeof(r->e), &r->e.path, task, a->dirfd,
			 a->path);
	if (a->op == UNLINKSNOOP_OP_RENAME)
		ebt_put_arg_path(r->data, &off, DATA_LIMIT, sizeof(r->e), &r->e.new_path, task,
				 a->new_dirfd, a->new_path);
	else
		__builtin_memset(&r->e.new_path, 0, sizeof(r->e.new_path));

	/* --path: in the kernel, by identity. A path the kernel could not
	 * resolve is left to user space, which matches its spelling. */
	if (targ_dir_ino) {
		matched = (r->e.path.flags | r->e.new_path.flags) & (EBT_PATH_MATCHED | EBT_PATH_UNRESOLVED);
		if (!matched)
			goto cleanup;
	}
	ebt_put_root(r->data, &off, DATA_LIMIT, sizeof(r->e), &r->e.root, task);
	if (off > DATA_SIZE)
		off = DATA_SIZE;
	ebt_submit(ctx, r, sizeof(r->e) + off, sizeof(r->e) + DATA_SIZE);
cleanup:
	bpf_map_delete_elem(&start, &id);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int unlink_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(AT_FDCWD, (const char *)ctx->args[0], 0, NULL, 0, UNLINKSNOOP_UNLINK, UNLINKSNOOP_OP_UNLINK);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int unlinkat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((int)ctx->args[0], (const char *)ctx->args[1], 0, NULL, 0, UNLINKSNOOP_UNLINKAT,
		     ctx->args[2] & AT_REMOVEDIR ? UNLINKSNOOP_OP_RMDIR : UNLINKSNOOP_OP_UNLINK);
}

SEC("tracepoint/syscalls/sys_enter_rmdir")
int rmdir_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(AT_FDCWD, (const char *)ctx->args[0], 0, NULL, 0, UNLINKSNOOP_RMDIR, UNLINKSNOOP_OP_RMDIR);
}

SEC("tracepoint/syscalls/sys_enter_rename")
int rename_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter(AT_FDCWD, (const char *)ctx->args[0], AT_FDCWD, (const char *)ctx->args[1], 0,
		     UNLINKSNOOP_RENAME, UNLINKSNOOP_OP_RENAME);
}

SEC("tracepoint/syscalls/sys_enter_renameat")
int renameat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((int)ctx->args[0], (const char *)ctx->args[1], (int)ctx->args[2],
		     (const char *)ctx->args[3], 0, UNLINKSNOOP_RENAMEAT, UNLINKSNOOP_OP_RENAME);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int renameat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter((int)ctx->args[0], (const char *)ctx->args[1], (int)ctx->args[2],
		     (const char *)ctx->args[3], (__u32)ctx->args[4], UNLINKSNOOP_RENAMEAT2, UNLINKSNOOP_OP_RENAME);
}

/*
 * One exit program for every call (the start map says which it was): the
 * path walk is verified once. tools/unlinksnoop attaches it to the other
 * exit tracepoints as well.
 */
SEC("tracepoint/syscalls/sys_exit_unlinkat")
int unlink_exit(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx, ctx->ret);
}

/* Makes the enums part of the object's BTF, for bpf2go -type. */
const enum unlinksnoop_syscall *unused_syscall __attribute__((unused));
const enum unlinksnoop_op *unused_op __attribute__((unused));
const enum unlinksnoop_replaced *unused_replaced __attribute__((unused));


char LICENSE[] SEC("license") = "GPL";
