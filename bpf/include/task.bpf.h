/* SPDX-License-Identifier: GPL-2.0 */
/*
 * task.bpf.h: the task half of every event (struct ebt_task, task.h) and
 * the filters on it, shared by every event tool:
 *
 *   if (!ebt_task_allowed())          // -p, -t, -P, -u, --mntns, --tree, -c
 *           return 0;
 *   ebt_task_fill(&e->task);          // who: pid, parent, namespaces, cgroup
 *   ebt_submit(ctx, e, size, CAP);    // + ancestors, when ebt_lineage is set
 *
 * The filters are const volatile, 0 (or EBT_NO_UID) when off, set by the
 * Go side (tools/taskflags.go) before load; the verifier drops what is off.
 */
#ifndef __EBTOOLS_TASK_BPF_H
#define __EBTOOLS_TASK_BPF_H

#include "task.h"

#define EBT_NO_UID ((__u32)-1)

const volatile __u32 targ_pid = 0;
const volatile __u32 targ_tid = 0;
const volatile __u32 targ_ppid = 0;
const volatile __u32 targ_uid = EBT_NO_UID;
const volatile __u32 targ_mntns = 0;
/* --tree: only processes in ebt_tree, which ebt_tree_fork keeps growing. */
const volatile bool targ_tree = false;
/* Append the ancestors to every event (ebt_submit). */
const volatile bool ebt_lineage = false;

/*
 * --tree PID: PID and its descendants by tgid. User space puts in PID and
 * the descendants alive at start; ebt_tree_fork adds every process they
 * fork from then on and ebt_tree_exit takes out those that end. 65,536
 * processes: far more than one tree holds at once; a fork that finds it
 * full is counted as a lost event.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} ebt_tree SEC(".maps");

/* ebt_task_allowed reports whether the current task passes the task filters. */
static __always_inline bool ebt_task_allowed(void)
{
	__u64 id = 0;
	__u32 tgid;
	struct task_struct *task;

	/* A helper call costs the traced task ~10 ns even when its result
	 * goes unused: none is made for a filter that is off. */
	if (targ_pid || targ_tid || targ_tree)
		id = bpf_get_current_pid_tgid();
	tgid = id >> 32;
	if (targ_pid && tgid != targ_pid)
		return false;
	if (targ_tid && (__u32)id != targ_tid)
		return false;
	if (targ_uid != EBT_NO_UID && (__u32)bpf_get_current_uid_gid() != targ_uid)
		return false;
	if (targ_ppid || targ_mntns) {
		task = (struct task_struct *)bpf_get_current_task();
		if (targ_ppid && BPF_CORE_READ(task, real_parent, tgid) != targ_ppid)
			return false;
		if (targ_mntns && BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) != targ_mntns)
			return false;
	}
	if (targ_tree && !bpf_map_lookup_elem(&ebt_tree, &tgid))
		return false;
	return ebt_cgroup_allowed();
}

/*
 * ebt_pid_ns fills pidns and ns_pid: the pid namespace the process lives in
 * (the deepest of its pid's levels) and its number there.
 */
static __always_inline void ebt_pid_ns(struct ebt_task *t, struct task_struct *leader)
{
	struct pid *pid = BPF_CORE_READ(leader, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid up = {};

	/* MAX_PID_NS_LEVEL is 32. numbers[] is indexed by a variable, which
	 * CO-RE cannot relocate: its offset is, and struct upid never changed. */
	bpf_probe_read_kernel(&up, sizeof(up),
			      (void *)pid + bpf_core_field_offset(struct pid, numbers) +
				      (level & 31) * sizeof(struct upid));
	t->ns_pid = up.nr;
	t->pidns = BPF_CORE_READ(up.ns, ns.inum);
}

/*
 * ebt_task_from fills t for task, any task: its thread group's ids, start,
 * comm, parent and namespaces. The fields only the current task has (uid,
 * gid, cgroup) are ebt_task_fill's.
 */
static __always_inline void ebt_task_from(struct ebt_task *t, struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);

	t->pid = BPF_CORE_READ(task, tgid);
	t->tid = BPF_CORE_READ(task, pid);
	t->start_ns = BPF_CORE_READ(leader, start_time);
	BPF_CORE_READ_STR_INTO(&t->comm, task, comm);
	parent = BPF_CORE_READ(parent, group_leader);
	t->ppid = BPF_CORE_READ(parent, tgid);
	t->pstart_ns = BPF_CORE_READ(parent, start_time);
	BPF_CORE_READ_STR_INTO(&t->pcomm, parent, comm);
	t->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	ebt_pid_ns(t, leader);
}

/*
 * ebt_task_from_btf is ebt_task_from for a task pointer the verifier knows
 * the type of (bpf_get_current_task_btf, 5.11+): its fields are plain
 * loads, which cost a fraction of a bpf_probe_read_kernel() each (the
 * kernel turns a fault into a zero, as for a probe read).
 */
static __always_inline void ebt_task_from_btf(struct ebt_task *t, struct task_struct *task)
{
	struct task_struct *leader = task->group_leader;
	struct task_struct *parent = task->real_parent->group_leader;
	struct pid *pid = leader->thread_pid;
	struct upid up = {};

	t->pid = task->tgid;
	t->tid = task->pid;
	t->start_ns = leader->start_time;
	t->ppid = parent->tgid;
	t->pstart_ns = parent->start_time;
	/*
	 * comm is a NUL-terminated char[16] (set_task_comm): copied whole,
	 * as two loads. bpf_get_current_comm() cost opensnoop 70 ns an event
	 * more (its string copy; kernel.bpf_stats_enabled on 6.18: 528 ns
	 * against 456 for the whole program).
	 */
	__builtin_memcpy(&t->comm, task->comm, sizeof(t->comm));
	__builtin_memcpy(&t->pcomm, parent->comm, sizeof(t->pcomm));
	t->mntns = task->nsproxy->mnt_ns->ns.inum;
	if (pid->level == 0) {
		/* The host's pid namespace, most processes: fixed offsets. */
		t->ns_pid = pid->numbers[0].nr;
		t->pidns = pid->numbers[0].ns->ns.inum;
		return;
	}
	/* numbers[] by a variable index: a probe read (see ebt_pid_ns). */
	bpf_probe_read_kernel(&up, sizeof(up),
			      (void *)pid + bpf_core_field_offset(struct pid, numbers) +
				      (pid->level & 31) * sizeof(struct upid));
	t->ns_pid = up.nr;
	t->pidns = BPF_CORE_READ(up.ns, ns.inum);
}

/* ebt_task_stamp sets the event's time, and no ancestors (ebt_submit adds them). */
static __always_inline void ebt_task_stamp(struct ebt_task *t)
{
	t->ktime_ns = bpf_ktime_get_ns();
	t->ancestors_off = 0;
	t->nr_ancestors = 0;
}

/*
 * ebt_task_fill_btf is ebt_task_fill for a caller that has the current
 * task from bpf_get_current_task_btf(). uid, gid and the cgroup are read
 * as the helpers read them (current_cred()->uid and gid, the task's
 * cgroup v2 directory): a helper call costs more than the loads.
 */
static __always_inline void ebt_task_fill_btf(struct ebt_task *t, struct task_struct *task)
{
	/* cred is __rcu: where the kernel's BTF carries that tag, the
	 * verifier wants it checked for NULL before it is read through. */
	const struct cred *cred = task->cred;

	ebt_task_stamp(t);
	t->uid = cred ? cred->uid.val : 0;
	t->gid = cred ? cred->gid.val : 0;
	t->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	ebt_task_from_btf(t, task);
}

/* ebt_task_fill fills t for the current task, now. */
static __always_inline void ebt_task_fill(struct ebt_task *t)
{
	__u64 ug;

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
		ebt_task_fill_btf(t, bpf_get_current_task_btf());
		return;
	}
	ebt_task_stamp(t);
	ug = bpf_get_current_uid_gid();
	t->uid = (__u32)ug;
	t->gid = ug >> 32;
	t->cgroup_id = bpf_get_current_cgroup_id();
	ebt_task_from(t, (struct task_struct *)bpf_get_current_task());
}

/* The room ebt_submit needs past an event's bytes for the ancestors. */
#define EBT_ANCESTRY_SIZE (EBT_ANCESTORS * sizeof(struct ebt_ancestor))

/*
 * ebt_ancestors writes the ancestors of the process of the tgid pid into a
 * (room for EBT_ANCESTORS), parent first, up to and including PID 1, and
 * returns how many it wrote. Read at event time, so a chain whose processes
 * have since exited is still whole.
 */
static __always_inline __u16 ebt_ancestors(struct ebt_ancestor *a, struct task_struct *task)
{
	struct task_struct *p;
	__u16 n;

	for (n = 0; n < EBT_ANCESTORS; n++) {
		p = BPF_CORE_READ(task, real_parent, group_leader);
		a[n].pid = BPF_CORE_READ(p, tgid);
		/* PID 0 is the idle task, parent of PID 1 and kthreadd. */
		if (a[n].pid == 0 || p == task)
			break;
		a[n].pad = 0;
		a[n].start_ns = BPF_CORE_READ(p, start_time);
		BPF_CORE_READ_STR_INTO(&a[n].comm, p, comm);
		task = p;
	}
	return n;
}

/* ebt_ancestors_btf is ebt_ancestors with plain loads (see ebt_task_from_btf). */
static __always_inline __u16 ebt_ancestors_btf(struct ebt_ancestor *a, struct task_struct *task)
{
	struct task_struct *p;
	__u16 n;

	for (n = 0; n < EBT_ANCESTORS; n++) {
		p = task->real_parent->group_leader;
		a[n].pid = p->tgid;
		if (a[n].pid == 0 || p == task)
			break;
		a[n].pad = 0;
		a[n].start_ns = p->start_time;
		__builtin_memcpy(&a[n].comm, p->comm, sizeof(a[n].comm));
		task = p;
	}
	return n;
}

/* ebt_current_ancestors writes the current task's ancestors into a. */
static __always_inline __u16 ebt_current_ancestors(struct ebt_ancestor *a)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf))
		return ebt_ancestors_btf(a, bpf_get_current_task_btf());
	return ebt_ancestors(a, (struct task_struct *)bpf_get_current_task());
}

/*
 * ebt_submit sends the event at buf (struct ebt_task first, size bytes)
 * with, if ebt_lineage is set, the current task's ancestors appended. buf
 * must have room for cap + EBT_ANCESTRY_SIZE bytes; cap, a constant
 * multiple of 8, bounds size.
 */
static __always_inline long ebt_submit(void *ctx, void *buf, __u32 size, __u32 cap)
{
	struct ebt_task *t = buf;
	__u32 off;

	if (ebt_lineage) {
		/* 8-byte aligned, so Go can read the ancestors in place. */
		off = (size + 7) & ~7U;
		if (off <= cap) {
			/* Keep clang from handing the verifier an unchecked copy. */
			barrier_var(off);
			t->nr_ancestors = ebt_current_ancestors(buf + off);
			t->ancestors_off = off;
			size = off + t->nr_ancestors * sizeof(struct ebt_ancestor);
		}
	}
	if (size > cap + EBT_ANCESTRY_SIZE)
		size = cap + EBT_ANCESTRY_SIZE;
	return ebt_output(ctx, buf, size);
}

/*
 * ebt_scratch is a per-CPU buffer for an event of up to EBT_SCRATCH_SIZE
 * bytes (a tool may define it before including ebtools.bpf.h) with room
 * for the ancestors after it: events too large for the 512-byte stack.
 */
#ifndef EBT_SCRATCH_SIZE
#define EBT_SCRATCH_SIZE 256
#endif

struct ebt_scratch_buf {
	__u64 b[(EBT_SCRATCH_SIZE + EBT_ANCESTRY_SIZE) / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ebt_scratch_buf);
} ebt_scratch_map SEC(".maps");

static __always_inline void *ebt_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ebt_scratch_map, &zero);
}


/* ebt_tree_fork adds a process to ebt_tree when its parent is in it. */
SEC("raw_tracepoint/sched_process_fork")
int ebt_tree_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 ptgid = BPF_CORE_READ(parent, tgid), tgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	/* A new thread joins a thread group already in (or not in) the tree. */
	if (tgid != BPF_CORE_READ(child, pid) || !bpf_map_lookup_elem(&ebt_tree, &ptgid))
		return 0;
	if (bpf_map_update_elem(&ebt_tree, &tgid, &one, BPF_ANY))
		ebt_count_lost();
	return 0;
}

/* ebt_tree_exit takes a process out of ebt_tree when its last thread ends. */
SEC("raw_tracepoint/sched_process_exit")
int ebt_tree_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	__u32 tgid = BPF_CORE_READ(task, tgid);

	/* do_exit() has taken this thread out of signal->live already. */
	if (BPF_CORE_READ(task, signal, live.counter) == 0)
		bpf_map_delete_elem(&ebt_tree, &tgid);
	return 0;
}

#endif /* __EBTOOLS_TASK_BPF_H */
