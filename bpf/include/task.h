/* SPDX-License-Identifier: GPL-2.0 */
/*
 * task.h: who caused an event, as every event tool reports it. struct
 * ebt_task comes first in every event, filled by ebt_task_fill()
 * (task.bpf.h) and decoded once in Go (tools/task.go).
 */
#ifndef __EBTOOLS_TASK_H
#define __EBTOOLS_TASK_H

#define EBT_COMM_LEN 16
/* Ancestors read per event: enough for cron -> sh -> backup.sh -> rm inside a service. */
#define EBT_ANCESTORS 8

/* ebt_ancestor: one process above the event's, parent first. */
struct ebt_ancestor {
	__u64 start_ns; /* with pid: the ancestor's exec_id */
	__u32 pid;
	__u32 pad;
	char comm[EBT_COMM_LEN];
};

struct ebt_task {
	/* When the event happened (bpf_ktime_get_ns, CLOCK_MONOTONIC). */
	__u64 ktime_ns;
	/* When the process started (CLOCK_MONOTONIC): pid and start_ns make
	 * its exec_id, unique for the boot. */
	__u64 start_ns;
	/* The parent's start_ns. */
	__u64 pstart_ns;
	/* The cgroup v2 id: the inode number of the process's cgroup directory. */
	__u64 cgroup_id;
	__u32 pid; /* thread group id */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 mntns; /* mount namespace inode number */
	__u32 pidns; /* pid namespace inode number */
	__u32 ns_pid; /* pid as seen inside pidns */
	/* Offset in the record of nr_ancestors struct ebt_ancestor; 0 if none. */
	__u16 ancestors_off;
	__u16 nr_ancestors;
	__u32 pad;
	char comm[EBT_COMM_LEN];
	char pcomm[EBT_COMM_LEN]; /* the parent's comm */
};

#endif /* __EBTOOLS_TASK_H */
