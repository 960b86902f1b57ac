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
 * ~200 bytes each (144 fixed, the path, the ring's 8-byte header): 2 MiB
 * holds ~10,000, tens of milliseconds of them, and the reader is woken once
 * it is a quarter full. make bench measured 0
 * lost with a busy loop on every CPU (openclose-busy2). The ring is mapped
 * twice into the reader: 8 MiB cost 16 MiB of its RSS for no event more.
 */
#define EBT_RINGBUF_SIZE (2 * 1024 * 1024)
/*
 * Before 5.8, perf buffers: each wakes the reader for every event. 8 MiB in
 * all (4 MiB per CPU on 2 CPUs) lost nothing in the 6.1 guest's loss test;
 * 2 MiB (1 MiB per CPU) lost 2 %.
 */
#define EBT_PERFBUF_SIZE (8 * 1024 * 1024)
#include "ebtools.bpf.h"
#include "path.bpf.h"
#include "opensnoop.h"

#define O_ACCMODE 3

/* -x: only failed opens. */
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

/* The variable part: the argument, the path's directory and its name. */
#define DATA_SIZE (2 * EBT_PATH_MAX + EBT_NAME_MAX + 1)
/* The furthest a string may start: data has EBT_PATH_MAX bytes after it. */
#define DATA_LIMIT (DATA_SIZE - EBT_PATH_MAX)

struct scratch {
	struct event e;
	char data[DATA_SIZE + EBT_ANCESTRY_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} heap SEC(".maps");

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

	if (!ebt_task_allowed())
		return 0;
	/* openat2's flags are only known at exit, once how is read. */
	if (a->syscall != OPENSNOOP_OPENAT2 && !flags_allowed(a->flags))
		return 0;
	if (bpf_map_update_elem(&start, &id, a, BPF_ANY))
		ebt_count_lost();
	return 0;
}

/* put_fd writes the path of the file the task has open as fd. */
static __always_inline void put_fd(struct scratch *s, __u32 *off, struct task_struct *task, int fd)
{
	struct path p;

	if (!ebt_dir_of(task, fd, &p)) {
		s->e.path.flags |= EBT_PATH_UNRESOLVED;
		return;
	}
	ebt_put_dentry(s->data, off, DATA_LIMIT, sizeof(s->e), &s->e.path, p.dentry, p.mnt);
}

/* put_arg writes the path argument as given. */
static __always_inline void put_arg(struct scratch *s, __u32 *off, const char *arg)
{
	long n = bpf_probe_read_user_str(s->data, EBT_PATH_MAX, arg);

	if (n <= 0) {
		s->e.path.flags |= EBT_PATH_UNREADABLE;
		return;
	}
	if (n == EBT_PATH_MAX)
		s->e.path.flags |= EBT_PATH_ARG_CUT;
	s->e.path.arg_off = sizeof(s->e);
	s->e.path.arg_len = n - 1;
	*off = n - 1;
}

/*
 * emit sends the event of the call a describes, which returned ret, if it
 * passes the filters that need the result. cur is the current task from
 * bpf_get_current_task_btf(), if the caller has it, else NULL.
 */
static __always_inline int emit(void *ctx, struct args *a, long ret, struct task_struct *cur)
{
	struct task_struct *task;
	struct open_how how = {};
	struct scratch *s;
	__u32 zero = 0, off = 0;

	if (targ_failed && ret >= 0)
		return 0;
	if (a->syscall == OPENSNOOP_OPENAT2) {
		bpf_probe_read_user(&how, sizeof(how), a->how);
		a->flags = how.flags;
		a->mode = how.mode;
		if (!flags_allowed(a->flags))
			return 0;
	}
	s = bpf_map_lookup_elem(&heap, &zero);
	if (!s)
		return 0;

	if (cur)
		ebt_task_fill_btf(&s->e.task, cur);
	else
		ebt_task_fill(&s->e.task);
	s->e.ret = ret;
	s->e.dirfd = a->dirfd;
	s->e.flags = a->flags;
	s->e.mode = a->mode;
	s->e.syscall = a->syscall;
	__builtin_memset(&s->e.path, 0, sizeof(s->e.path));
	if (!targ_full_path) {
		put_arg(s, &off, a->path);
	} else {
		task = (struct task_struct *)bpf_get_current_task();
		if (ret >= 0) {
			/* The file opened: its path, whatever the argument said. */
			put_arg(s, &off, a->path);
			put_fd(s, &off, task, ret);
		} else {
			ebt_put_arg_path(s->data, &off, DATA_LIMIT, sizeof(s->e), &s->e.path, task,
					 a->dirfd, a->path);
		}
	}
	if (off > DATA_SIZE)
		off = DATA_SIZE;
	ebt_submit(ctx, s, sizeof(s->e) + off, sizeof(s->e) + DATA_SIZE);
	return 0;
}

/* leave ends a call whose entry was traced: the start map has its arguments. */
static __always_inline int leave(void *ctx, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct args *a;

	a = bpf_map_lookup_elem(&start, &id);
	if (!a)
		return 0;
	emit(ctx, a, ret, NULL);
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

/*
 * The exit alone, without the entry, where the kernel has bpf_task_pt_regs
 * (5.15+): an entry tracepoint costs the traced task more than all of
 * opensnoop's own work. The arguments are read from the user registers the
 * task entered the kernel with, which the kernel saved at the top of its
 * stack: an open never changes them, and when a signal interrupts it
 * (ERESTARTSYS) they are rewound for the restart only after this exit has
 * run. They are what the entry tracepoint reads too: the registers after a
 * ptracer or seccomp changed them, the first argument on arm64 from
 * orig_x0, as x0 holds the result by now. The tracepoint's id is the
 * syscall's number on this architecture: one program, attached to each
 * call's exit by tools/opensnoop, tells the three apart.
 */
#if defined(__TARGET_ARCH_x86)
/* x86-64 (arch/x86/entry/syscalls/syscall_64.tbl); the fourth argument is r10. */
#define NR_OPEN 2
#define NR_OPENAT 257
#define REG_ARG(r, n) ((n) == 0 ? (r)->di : (n) == 1 ? (r)->si : (n) == 2 ? (r)->dx : (r)->r10)
#define HAVE_EXIT_REGS
#elif defined(__TARGET_ARCH_arm64)
/* arm64 (include/uapi/asm-generic/unistd.h): no open(2). */
#define NR_OPENAT 56
/* Only the fields read here, relocated against arm64's struct pt_regs, where
 * regs[] is in an anonymous union with struct user_pt_regs. */
struct pt_regs___arm64 {
	__u64 regs[31];
	__u64 orig_x0;
} __attribute__((preserve_access_index));
#define REG_ARG(r, n) ((n) == 0 ? ((struct pt_regs___arm64 *)(r))->orig_x0 : ((struct pt_regs___arm64 *)(r))->regs[n])
#define HAVE_EXIT_REGS
#endif
/* openat2 has one number on every architecture. */
#define NR_OPENAT2 437

#ifdef HAVE_EXIT_REGS
SEC("tracepoint/syscalls/sys_exit_openat")
int open_exit_regs(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task;
	struct pt_regs *regs;
	struct args a = {};
	long ret = ctx->ret;

	if (targ_failed && ret >= 0)
		return 0;
	if (!ebt_task_allowed())
		return 0;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	switch (ctx->id) {
#ifdef NR_OPEN
	case NR_OPEN:
		a.path = (const char *)REG_ARG(regs, 0);
		a.flags = REG_ARG(regs, 1);
		a.mode = REG_ARG(regs, 2);
		a.dirfd = AT_FDCWD;
		a.syscall = OPENSNOOP_OPEN;
		break;
#endif
	case NR_OPENAT:
		a.dirfd = REG_ARG(regs, 0);
		a.path = (const char *)REG_ARG(regs, 1);
		a.flags = REG_ARG(regs, 2);
		a.mode = REG_ARG(regs, 3);
		a.syscall = OPENSNOOP_OPENAT;
		break;
	case NR_OPENAT2:
		a.dirfd = REG_ARG(regs, 0);
		a.path = (const char *)REG_ARG(regs, 1);
		a.how = (const struct open_how *)REG_ARG(regs, 2);
		a.syscall = OPENSNOOP_OPENAT2;
		break;
	default:
		return 0;
	}
	if (a.syscall != OPENSNOOP_OPENAT2 && !flags_allowed(a.flags))
		return 0;
	return emit(ctx, &a, ret, task);
}
#endif

char LICENSE[] SEC("license") = "GPL";
