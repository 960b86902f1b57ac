/* SPDX-License-Identifier: GPL-2.0 */
/*
 * path.bpf.h: absolute paths for the path arguments of file syscalls.
 *
 * A relative path is resolved against the directory the kernel uses: the
 * dirfd of *at() calls, or the cwd for AT_FDCWD and the old calls. The
 * directory's path is rebuilt by walking dentries up to the task's root,
 * crossing mount points, in a bounded walk. What cannot be resolved is
 * returned as given, and flagged.
 *
 * Needs bpf/include/path.h for the flags shared with Go.
 */
#ifndef __EBTOOLS_PATH_BPF_H
#define __EBTOOLS_PATH_BPF_H

#include "path.h"

#ifndef AT_FDCWD
#define AT_FDCWD -100
#endif

/* NAME_MAX: the longest directory entry name. */
#define EBT_NAME_MAX 255
/*
 * Directory levels walked: one per component above the dirfd and one per
 * mount crossed. 128 covers real trees (a 4096-byte path of 32-byte names);
 * deeper ones are marked EBT_PATH_DIR_CUT and keep their innermost part.
 */
#define EBT_PATH_DEPTH 128

/*
 * ebt_path_scratch is where the directory path is built backwards, ending
 * at EBT_PATH_MAX; the verifier needs EBT_NAME_MAX bytes of slack past it.
 */
struct ebt_path_scratch {
	/*
	 * Where the path built so far starts. Kept in memory, not a register,
	 * so the verifier does not track its exact value: the states of every
	 * walk step then look alike and are pruned instead of multiplying.
	 */
	__u32 pos;
	char buf[EBT_PATH_MAX + EBT_NAME_MAX + 1];
};

/* The buffer a caller passes as dst must have this many bytes. */
#define EBT_PATH_DST_SIZE (2 * EBT_PATH_MAX)

/* ebt_dir_of returns the directory dirfd names for task, false if it has none. */
static __always_inline bool ebt_dir_of(struct task_struct *task, int dirfd, struct path *dir)
{
	struct file *f = NULL;
	struct file **fds;
	struct fdtable *fdt;

	if (dirfd == AT_FDCWD) {
		BPF_CORE_READ_INTO(dir, task, fs, pwd);
		return true;
	}
	if (dirfd < 0)
		return false;
	fdt = BPF_CORE_READ(task, files, fdt);
	if ((unsigned int)dirfd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[dirfd]) || !f)
		return false;
	BPF_CORE_READ_INTO(dir, f, f_path);
	return true;
}

/*
 * ebt_dir_path writes dir's absolute path into s->buf so that it ends at
 * EBT_PATH_MAX, and returns where it starts.
 */
static __always_inline __u32 ebt_dir_path(struct ebt_path_scratch *s, struct task_struct *task,
					  struct path *dir, __u32 *flags)
{
	struct path root;
	struct dentry *dentry = dir->dentry, *parent;
	struct vfsmount *vfsmnt = dir->mnt;
	struct mount *mnt, *mnt_parent;
	__u64 mnt_off = bpf_core_field_offset(struct mount, mnt);
	struct qstr name;
	__u32 pos, len;
	int i;

	BPF_CORE_READ_INTO(&root, task, fs, root);
	mnt = (struct mount *)((void *)vfsmnt - mnt_off);
	s->pos = EBT_PATH_MAX;

	for (i = 0; i < EBT_PATH_DEPTH; i++) {
		if (dentry == root.dentry && vfsmnt == root.mnt)
			goto done;
		if (dentry == BPF_CORE_READ(vfsmnt, mnt_root)) {
			/* Top of this mount: continue from where it is mounted. */
			mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt_parent == mnt)
				goto done;
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (struct vfsmount *)((void *)mnt + mnt_off);
			continue;
		}
		parent = BPF_CORE_READ(dentry, d_parent);
		if (parent == dentry)
			goto done;
		name = BPF_CORE_READ(dentry, d_name);
		len = name.len;
		if (len > EBT_NAME_MAX)
			len = EBT_NAME_MAX;
		pos = s->pos;
		if (pos > EBT_PATH_MAX || pos <= len + 1) {
			*flags |= EBT_PATH_DIR_CUT;
			goto done;
		}
		pos -= len + 1;
		s->pos = pos;
		/* Keep clang from passing an unclamped copy to the helper. */
		barrier_var(len);
		s->buf[pos & (EBT_PATH_MAX - 1)] = '/';
		bpf_probe_read_kernel(&s->buf[(pos + 1) & (EBT_PATH_MAX - 1)], len, name.name);
		dentry = parent;
	}
	*flags |= EBT_PATH_DIR_CUT;
done:
	pos = s->pos;
	if (pos >= EBT_PATH_MAX) {
		pos = EBT_PATH_MAX - 1;
		s->buf[pos] = '/';
	}
	return pos;
}

/*
 * ebt_path fills dst (EBT_PATH_DST_SIZE bytes) with the path argument arg
 * of a syscall that took dirfd: made absolute when full is set, as given
 * otherwise. It returns the path's length (no NUL); *arg_off is where arg
 * starts in it and *flags says what was cut or could not be resolved.
 */
static __always_inline __u32 ebt_path(char *dst, struct ebt_path_scratch *s, int dirfd,
				      const char *arg, bool full, __u16 *arg_off, __u32 *flags)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct path dir;
	__u32 start, dirlen = 0;
	char first = 0, next;
	long n;

	*arg_off = 0;
	if (full && bpf_probe_read_user(&first, 1, arg)) {
		*flags |= EBT_PATH_UNREADABLE;
		return 0;
	}
	if (full && first != '/') {
		if (ebt_dir_of(task, dirfd, &dir)) {
			start = ebt_dir_path(s, task, &dir, flags);
			if (start >= EBT_PATH_MAX)
				start = EBT_PATH_MAX - 1;
			dirlen = EBT_PATH_MAX - start;
			bpf_probe_read_kernel(dst, dirlen & (EBT_PATH_MAX - 1), &s->buf[start]);
			/* "/" + "x" is "/x", anything else gets a separator. */
			if (dirlen > 1)
				dst[dirlen++ & (EBT_PATH_MAX - 1)] = '/';
			else
				dirlen = 1;
		} else {
			*flags |= EBT_PATH_UNRESOLVED;
		}
	}
	dirlen &= EBT_PATH_MAX - 1;
	n = bpf_probe_read_user_str(&dst[dirlen], EBT_PATH_MAX, arg);
	if (n <= 0) {
		*flags |= EBT_PATH_UNREADABLE;
		return dirlen;
	}
	if (n == EBT_PATH_MAX && (bpf_probe_read_user(&next, 1, arg + EBT_PATH_MAX - 1) || next))
		*flags |= EBT_PATH_ARG_CUT;
	*arg_off = dirlen;
	return dirlen + n - 1;
}

#endif /* __EBTOOLS_PATH_BPF_H */
