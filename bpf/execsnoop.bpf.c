// SPDX-License-Identifier: GPL-2.0
/*
 * execsnoop: one event per execve(2)/execveat(2).
 *
 * A successful exec is reported from sched_process_exec, once the new image
 * exists: argv is read from its stack (mm->arg_start..arg_end), where the
 * kernel has just copied it, so it is resident; the caller's copy often is
 * not (a forked child has not faulted in the pages of its string literals).
 * The filename and interpreter come from the kernel's struct linux_binprm,
 * the executable from mm->exe_file through the path walk.
 *
 * A failed exec (-x) has no new image: its filename and argv are copied
 * from the caller at syscall entry and sent at exit with the error; an
 * argument that could not be read is marked, not dropped.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "ebtools.bpf.h"
#include "path.bpf.h"
#include "execsnoop.h"

/* -x: report failed execs too. */
const volatile bool targ_with_failed = false;

/* A string's room: EXECSNOOP_STR_MAX bytes, at a bounded offset. */
#define STR_MASK (EXECSNOOP_STR_MAX - 1)

/*
 * record: an event being built. Its data has room for the largest event
 * plus the ancestors ebt_submit appends, and the verifier needs a string
 * copy's whole room to fit past the furthest offset it may start at.
 */
struct record {
	struct event e;
	char data[EXECSNOOP_DATA_SIZE + EBT_ANCESTRY_SIZE];
};

/*
 * One record per CPU: a per-CPU array cannot hold 45 KiB values, so this
 * is an array with one entry per possible CPU (sized by the runtime).
 * Programs run with migration disabled and do not nest here.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct record);
} records SEC(".maps");

/* What the exit or sched_process_exec needs to know about the call, by tid. */
struct call {
	__u32 flags; /* EXECSNOOP_EXECVEAT */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct call);
} calls SEC(".maps");

/*
 * Failed execs (-x): the caller's filename and argv, copied at entry, by
 * tid. Not preallocated: only execs in flight use memory.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct record);
} entries SEC(".maps");

static const struct record empty_record = {};

static __always_inline struct record *cpu_record(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&records, &cpu);
}

/*
 * append_user copies the user string src to r->data at r->e.args_len and
 * sets bit idx of cut_mask if it was cut or could not be read: an
 * unreadable string keeps its (empty) slot, so argv indexes stay right.
 * False when argv's room is full.
 */
static __always_inline bool append_user(struct record *r, const char *src, __u32 idx)
{
	__u32 off = r->e.args_len;
	__u32 room;
	long n;
	char next;

	if (off >= EXECSNOOP_ARGS_SIZE)
		return false;
	room = EXECSNOOP_ARGS_SIZE - off;
	if (room > EXECSNOOP_STR_MAX)
		room = EXECSNOOP_STR_MAX;
	/* Keep clang from passing the unclamped copy of room to the helper. */
	barrier_var(room);
	n = bpf_probe_read_user_str(&r->data[off & (EXECSNOOP_ARGS_SIZE - 1)], room, src);
	if (n <= 0) {
		r->data[off & (EXECSNOOP_ARGS_SIZE - 1)] = '\0';
		n = 1;
		r->e.cut_mask |= 1ULL << (idx & 63);
	} else if (n == room && (bpf_probe_read_user(&next, 1, src + room - 1) || next != '\0')) {
		/* Filled the room and the string did not end there: it was cut. */
		r->e.cut_mask |= 1ULL << (idx & 63);
	}
	r->e.args_len = off + n;
	r->e.argc++;
	return true;
}

static __always_inline int enter_exec(const char *filename, const char *const *argv, __u32 flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct call call = {.flags = flags};
	const char *arg;
	struct record *r;
	long n;
	int i;

	if (!ebt_task_allowed())
		return 0;
	if (bpf_map_update_elem(&calls, &tid, &call, BPF_ANY))
		ebt_count_lost();
	if (!targ_with_failed)
		return 0;

	if (bpf_map_update_elem(&entries, &tid, &empty_record, BPF_ANY)) {
		ebt_count_lost();
		return 0;
	}
	r = bpf_map_lookup_elem(&entries, &tid);
	if (!r)
		return 0;
	r->e.flags = flags | EXECSNOOP_ENTRY;
	/* The filename in its own slot past argv's room. */
	n = bpf_probe_read_user_str(&r->data[EXECSNOOP_ARGS_SIZE], EXECSNOOP_STR_MAX, filename);
	if (n > 0) {
		r->e.filename_off = sizeof(struct event) + EXECSNOOP_ARGS_SIZE;
		r->e.filename_len = n - 1;
	} else {
		/* Unreadable: bit 63 stands for the filename. */
		r->e.cut_mask |= 1ULL << 63;
	}
	r->e.args_off = sizeof(struct event);
	/* Up to 128 arguments: a failed exec's argv is rarely long, and the
	 * verifier has to walk every iteration. */
	for (i = 0; i < EXECSNOOP_ENTRY_ARGS; i++) {
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return 0;
		if (!append_user(r, arg, i))
			break;
	}
	r->e.flags |= EXECSNOOP_MORE_ARGS;
	return 0;
}

/* compact moves a failed exec's filename right after its argv. */
static __always_inline __u32 compact(struct record *r)
{
	__u32 off = r->e.args_len, len = r->e.filename_len;

	if (!r->e.filename_off)
		return off;
	if (off > EXECSNOOP_ARGS_SIZE - 1 || len > STR_MASK)
		return EXECSNOOP_ARGS_SIZE + EXECSNOOP_STR_MAX;
	/* Masks, not only the test above: clang may test one copy of a value
	 * and use another. */
	off &= EXECSNOOP_ARGS_SIZE - 1;
	len &= STR_MASK;
	bpf_probe_read_kernel(&r->data[off], len + 1, &r->data[EXECSNOOP_ARGS_SIZE]);
	r->e.filename_off = sizeof(struct event) + off;
	return off + len + 1;
}

static __always_inline int exit_exec(void *ctx, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct record *r;
	__u32 size;

	bpf_map_delete_elem(&calls, &tid);
	if (!targ_with_failed)
		return 0;
	r = bpf_map_lookup_elem(&entries, &tid);
	if (!r)
		return 0;
	/* A successful exec was sent by sched_process_exec. */
	if (ret < 0) {
		ebt_task_fill(&r->e.task);
		r->e.ret = ret;
		size = compact(r);
		if (size > EXECSNOOP_DATA_SIZE)
			size = EXECSNOOP_DATA_SIZE;
		ebt_submit(ctx, r, sizeof(r->e) + size, sizeof(r->e) + EXECSNOOP_DATA_SIZE);
	}
	bpf_map_delete_elem(&entries, &tid);
	return 0;
}

/* put_kernel_str copies the kernel string src to r->data at *off and
 * returns its length (no NUL), 0 if it could not be read. */
static __always_inline __u16 put_kernel_str(struct record *r, __u32 *off, const char *src)
{
	__u32 o = *off;
	long n;

	if (o > EXECSNOOP_ARGS_SIZE + 2 * EXECSNOOP_STR_MAX)
		return 0;
	n = bpf_probe_read_kernel_str(&r->data[o], EXECSNOOP_STR_MAX, src);
	if (n <= 0)
		return 0;
	*off = o + n;
	return n - 1;
}

/* put_exe writes the path of the file the task runs at *off. */
static __always_inline void put_exe(struct record *r, __u32 *off, struct task_struct *task)
{
	struct path p;

	BPF_CORE_READ_INTO(&p, task, mm, exe_file, f_path);
	if (p.dentry)
		ebt_put_dentry(r->data, off, EXECSNOOP_ARGS_SIZE + 2 * EXECSNOOP_STR_MAX, sizeof(r->e),
			       &r->e.exe, p.dentry, p.mnt);
}

/* exec_done sends a successful exec, from the new image. */
static __always_inline int exec_done(void *ctx, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const char *filename, *interp;
	unsigned long arg_start, arg_end, len;
	struct call *call;
	struct record *r;
	__u32 off, tid = old_pid;

	if (!ebt_task_allowed())
		return 0;
	r = cpu_record();
	if (!r)
		return 0;
	call = bpf_map_lookup_elem(&calls, &tid);
	r->e.flags = call ? call->flags : EXECSNOOP_NO_SYSCALL;
	/* A thread other than the leader that execs takes the leader's pid:
	 * sys_exit sees the new tid, so what was kept by the old one goes now. */
	if (tid != (__u32)bpf_get_current_pid_tgid()) {
		bpf_map_delete_elem(&calls, &tid);
		bpf_map_delete_elem(&entries, &tid);
	}
	ebt_task_fill(&r->e.task);
	r->e.cut_mask = 0;
	r->e.ret = 0;
	r->e.argc = BPF_CORE_READ(bprm, argc);

	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end - arg_start;
	if (arg_end < arg_start)
		len = 0;
	if (len > EXECSNOOP_ARGS_SIZE) {
		len = EXECSNOOP_ARGS_SIZE;
		r->e.flags |= EXECSNOOP_MORE_ARGS;
	}
	if (len && bpf_probe_read_user(r->data, len, (void *)arg_start)) {
		r->e.flags |= EXECSNOOP_ARGS_UNREADABLE;
		len = 0;
	}
	r->e.args_off = sizeof(struct event);
	r->e.args_len = len;
	off = len;

	filename = BPF_CORE_READ(bprm, filename);
	interp = BPF_CORE_READ(bprm, interp);
	r->e.filename_off = sizeof(struct event) + off;
	r->e.filename_len = put_kernel_str(r, &off, filename);
	r->e.interp_off = 0;
	r->e.interp_len = 0;
	if (interp != filename) {
		r->e.flags |= EXECSNOOP_SCRIPT;
		r->e.interp_off = sizeof(struct event) + off;
		r->e.interp_len = put_kernel_str(r, &off, interp);
	}
	__builtin_memset(&r->e.exe, 0, sizeof(r->e.exe));
	put_exe(r, &off, task);
	if (off > EXECSNOOP_DATA_SIZE)
		off = EXECSNOOP_DATA_SIZE;
	ebt_submit(ctx, r, sizeof(r->e) + off, sizeof(r->e) + EXECSNOOP_DATA_SIZE);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return exec_done(ctx, old_pid, bprm);
}

SEC("raw_tracepoint/sched_process_exec")
int exec_raw(struct bpf_raw_tracepoint_args *ctx)
{
	return exec_done(ctx, (pid_t)ctx->args[1], (struct linux_binprm *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter_exec((const char *)ctx->args[0], (const char *const *)ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int execveat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return enter_exec((const char *)ctx->args[1], (const char *const *)ctx->args[2],
			  EXECSNOOP_EXECVEAT);
}

/* One exit program for both calls; tools/execsnoop attaches it to both. */
SEC("tracepoint/syscalls/sys_exit_execve")
int exec_exit(struct trace_event_raw_sys_exit *ctx)
{
	return exit_exec(ctx, ctx->ret);
}

/* Makes enum execsnoop_flag part of the object's BTF, for bpf2go -type. */
const enum execsnoop_flag *unused_flag __attribute__((unused));

char LICENSE[] SEC("license") = "GPL";
