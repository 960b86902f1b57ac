/* SPDX-License-Identifier: GPL-2.0 */
/*
 * path.bpf.h: canonical paths for the file tools, whatever the spelling.
 *
 * A path is reported as its filesystem's device and the file's path inside
 * that filesystem, walked up the dentries to the filesystem's root: no
 * symlink, no ".", "..", "//", no trace of the mount or bind mount or
 * chroot it was reached through. User space finds where that filesystem is
 * mounted on the host (tools/internal/fspath).
 *
 * For a path argument (unlink, rename, a failed open), the kernel's own
 * resolution is redone at syscall exit, through the dentry cache, where the
 * directories just walked still are: from the dirfd, the cwd or the root,
 * component by component, following mounts and symlinks whose target the
 * inode holds (fast symlinks; a symlink whose target is only in the page
 * cache is not followed, and the path is marked unresolved).
 *
 * Needs bpf/include/path.h for what is shared with Go.
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
 * Directory levels whose names are kept: 128 covers real trees (a
 * 4096-byte path of 32-byte names); deeper paths are marked
 * EBT_PATH_DIR_CUT and keep their innermost part.
 */
#define EBT_PATH_DEPTH 128
/* Levels walked further, without names, to tell whether a deep file is
 * under --path's directory. */
#define EBT_MATCH_DEPTH 2048
/* Resolution steps: one per component, child entry compared or mount
 * looked at. 65536 covers directories of tens of thousands of cached
 * entries; beyond, the path is marked unresolved. */
#define EBT_RESOLVE_STEPS 65536
/* Symlinks followed in one resolution, as the kernel's MAXSYMLINKS. */
#define EBT_MAX_LINKS 40

#define S_IFMT 00170000
#define S_IFLNK 0120000

/* The host's root (stat /proc/1/root), set by the Go side: a process whose
 * root differs is chrooted, and its root is reported. */
const volatile __u32 ebt_root_dev = 0;
const volatile __u64 ebt_root_ino = 0;
/* --path DIR, by identity; 0 when not given. */
const volatile __u32 targ_dir_dev = 0;
const volatile __u64 targ_dir_ino = 0;

/*
 * ebt_path_scratch is where a path is built backwards, ending at
 * EBT_PATH_MAX; the verifier needs EBT_NAME_MAX bytes of slack past it.
 * Per CPU in ebt_walkers, with the walk's state: bpf_loop's callback finds
 * it there.
 */
struct ebt_path_scratch {
	/*
	 * Where the path built so far starts. Kept in memory, not a register,
	 * so the verifier does not track its exact value.
	 */
	__u32 pos;
	__u32 flags;
	__u32 depth; /* levels walked */
	__u32 names_done; /* above the filesystem's root: matching only */
	struct dentry *d; /* where the walk is */
	struct vfsmount *mnt; /* the mount d was reached through, NULL if unknown */
	struct dentry *top; /* the filesystem's root, once the walk went above */
	char buf[EBT_PATH_MAX + EBT_NAME_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ebt_path_scratch);
} ebt_walkers SEC(".maps");

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

/* ebt_same_file reports whether dentry d is the inode ino on device dev. */
static __always_inline bool ebt_same_file(struct dentry *d, __u32 dev, __u64 ino)
{
	return BPF_CORE_READ(d, d_inode, i_ino) == ino && BPF_CORE_READ(d, d_sb, s_dev) == dev;
}

/* ebt_real_mount returns the struct mount of a vfsmount. */
static __always_inline struct mount *ebt_real_mount(struct vfsmount *m)
{
	return (void *)m - bpf_core_field_offset(struct mount, mnt);
}

static __always_inline struct vfsmount *ebt_vfsmount(struct mount *m)
{
	return (void *)m + bpf_core_field_offset(struct mount, mnt);
}

/* ebt_put_dname puts d's name before the path built so far in s; false when it does not fit. */
static __always_inline bool ebt_put_dname(struct ebt_path_scratch *s, struct dentry *d)
{
	struct qstr name = BPF_CORE_READ(d, d_name);
	__u32 len = name.len, pos;

	if (len > EBT_NAME_MAX)
		len = EBT_NAME_MAX;
	pos = s->pos;
	if (pos > EBT_PATH_MAX || pos <= len + 1)
		return false;
	pos -= len + 1;
	s->pos = pos;
	/* Keep clang from passing an unclamped copy to the helper. */
	barrier_var(len);
	s->buf[pos & (EBT_PATH_MAX - 1)] = '/';
	bpf_probe_read_kernel(&s->buf[(pos + 1) & (EBT_PATH_MAX - 1)], len, name.name);
	return true;
}

/* ebt_walk_step walks one level up (bpf_loop's callback). */
static long ebt_walk_step(__u32 i, void *unused)
{
	__u32 zero = 0;
	struct ebt_path_scratch *s = bpf_map_lookup_elem(&ebt_walkers, &zero);
	struct dentry *d, *parent;

	if (!s)
		return 1;
	d = s->d;
	if (targ_dir_ino && !(s->flags & EBT_PATH_MATCHED) && ebt_same_file(d, targ_dir_dev, targ_dir_ino))
		s->flags |= EBT_PATH_MATCHED;
	parent = BPF_CORE_READ(d, d_parent);
	if (parent == d) {
		/*
		 * The filesystem's root: the path is whole. --path may still be
		 * above it, on the mounts the file was reached through.
		 */
		struct vfsmount *vm = s->mnt;
		struct mount *m, *up;

		if (!targ_dir_ino || (s->flags & EBT_PATH_MATCHED) || !vm)
			return 1;
		m = ebt_real_mount(vm);
		up = BPF_CORE_READ(m, mnt_parent);
		if (up == m)
			return 1;
		if (!s->names_done) {
			s->names_done = 1;
			s->top = d;
		}
		s->d = BPF_CORE_READ(m, mnt_mountpoint);
		s->mnt = ebt_vfsmount(up);
		return 0;
	}
	if (!(s->flags & EBT_PATH_DIR_CUT) && !s->names_done) {
		if (s->depth >= EBT_PATH_DEPTH || !ebt_put_dname(s, d)) {
			s->flags |= EBT_PATH_DIR_CUT;
			/* Past the names: walk on only to match --path. */
			if (!targ_dir_ino || (s->flags & EBT_PATH_MATCHED))
				return 1;
		}
	}
	s->depth++;
	s->d = parent;
	return 0;
}

/*
 * ebt_fs_walk writes the path of d inside its filesystem into the walker's
 * buf so that it ends at EBT_PATH_MAX, and returns the walker (the path
 * starts at its pos). *dev is the filesystem's device; *flags gains
 * DIR_CUT, DELETED, DETACHED and, when d or a directory above it is
 * --path's directory, MATCHED: above it in its filesystem, or on the mounts
 * above mnt, the mount d was reached through (NULL if not known).
 */
static __always_inline struct ebt_path_scratch *ebt_fs_walk(struct dentry *d, struct vfsmount *mnt,
							     __u32 *dev, __u32 *flags)
{
	__u32 zero = 0;
	struct ebt_path_scratch *s = bpf_map_lookup_elem(&ebt_walkers, &zero);
	struct dentry *top;

	if (!s)
		return NULL;
	*dev = BPF_CORE_READ(d, d_sb, s_dev);
	s->pos = EBT_PATH_MAX;
	s->flags = 0;
	s->depth = 0;
	s->d = d;
	s->mnt = mnt;
	s->names_done = 0;
	s->top = NULL;
	/* d_unlinked() (unhashed, and not a filesystem root), or no link
	 * left: also a memfd's, as /proc/PID/exe shows it. */
	if ((!BPF_CORE_READ(d, d_hash.pprev) && BPF_CORE_READ(d, d_parent) != d) ||
	    (BPF_CORE_READ(d, d_inode) && !BPF_CORE_READ(d, d_inode, i_nlink)))
		s->flags |= EBT_PATH_DELETED;
	bpf_loop(EBT_PATH_DEPTH + EBT_MATCH_DEPTH, ebt_walk_step, NULL, 0);
	top = s->names_done ? s->top : s->d;
	if (!(s->flags & EBT_PATH_DIR_CUT) && BPF_CORE_READ(top, d_parent) == top &&
	    top != BPF_CORE_READ(top, d_sb, s_root)) {
		/* A root that is not its filesystem's: memfd, anon inode, or a
		 * dentry not connected to the tree. Its name is all there is. */
		s->flags |= EBT_PATH_DETACHED;
		ebt_put_dname(s, top);
	}
	if (s->pos >= EBT_PATH_MAX) {
		s->pos = EBT_PATH_MAX - 1;
		s->buf[EBT_PATH_MAX - 1] = '/';
	}
	*flags |= s->flags;
	return s;
}

/*
 * The resolver's state, per CPU (bpf_loop's callback finds it here). todo
 * holds what is left of the path to resolve, from pos to end.
 */
struct ebt_resolver {
	struct dentry *dir;  /* where the walk is */
	struct vfsmount *mnt;
	struct dentry *root; /* the task's root */
	struct vfsmount *root_mnt;
	struct dentry *start; /* the dirfd's or cwd's directory, or the root */
	struct vfsmount *start_mnt;
	struct dentry *child;  /* scanning: the child to compare next */
	struct mount *mchild;  /* following a mount: the mount to look at next */
	struct dentry *link_dir; /* where the component at hand is looked up */
	struct vfsmount *link_mnt;
	__u32 pos, end, tail;
	__u32 comp, comp_len;  /* the component at hand, in todo */
	__u32 links;
	__u32 state;
	__u32 err;
	/* Look the last component up too (rename's target): found_last says
	 * whether it was in the cache, last_positive whether it existed. */
	bool lookup_last, in_last, found_last, last_positive;
	char todo[2 * EBT_PATH_MAX];
	char name[EBT_NAME_MAX + 1 + 8];
	char want[EBT_NAME_MAX + 1 + 8];
};

enum ebt_resolve_state {
	EBT_NEXT = 0,   /* skip slashes to the next component */
	EBT_SCAN = 1,   /* compare children of dir with the component */
	EBT_MOUNT = 2,  /* look for what is mounted on dir */
	EBT_DONE = 3,
	EBT_NAME = 4,   /* find the component's end */
	EBT_TAIL = 5,   /* see whether only slashes follow it */
};

/* Why a resolution stopped short (ebt_resolver.err). */
enum ebt_resolve_err {
	EBT_RES_OK = 0,
	EBT_RES_NOT_CACHED = 1, /* a component is not in the dentry cache */
	EBT_RES_LINK = 2,       /* a symlink whose target is not in the inode */
	EBT_RES_LIMIT = 3,      /* too many steps, symlinks or bytes */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ebt_resolver);
} ebt_resolvers SEC(".maps");

#define EBT_TODO_MASK (2 * EBT_PATH_MAX - 1)

/* ebt_first_child returns the first child of d in the dentry cache. */
struct dentry___old {
	struct list_head d_subdirs;
	struct list_head d_child;
} __attribute__((preserve_access_index));

static __always_inline struct dentry *ebt_first_child(struct dentry *d)
{
	struct dentry___old *old = (void *)d;
	struct hlist_node *n;
	struct list_head *l, *head;

	if (bpf_core_field_exists(d->d_children)) {
		n = BPF_CORE_READ(d, d_children.first);
		if (!n)
			return NULL;
		return (void *)n - bpf_core_field_offset(struct dentry, d_sib);
	}
	/* Before 6.8: a list_head d_subdirs of the children's d_child. */
	head = &old->d_subdirs;
	l = BPF_CORE_READ(old, d_subdirs.next);
	if (l == head)
		return NULL;
	return (void *)l - bpf_core_field_offset(struct dentry___old, d_child);
}

/* ebt_next_child returns the sibling after c under parent, or NULL. */
static __always_inline struct dentry *ebt_next_child(struct dentry *parent, struct dentry *c)
{
	struct dentry___old *old = (void *)c, *pold = (void *)parent;
	struct hlist_node *n;
	struct list_head *l;

	if (bpf_core_field_exists(c->d_sib)) {
		n = BPF_CORE_READ(c, d_sib.next);
		if (!n)
			return NULL;
		return (void *)n - bpf_core_field_offset(struct dentry, d_sib);
	}
	l = BPF_CORE_READ(old, d_child.next);
	if (l == &pold->d_subdirs)
		return NULL;
	return (void *)l - bpf_core_field_offset(struct dentry___old, d_child);
}

/* The dentry flag of a mount point: an enum value since 6.15, a macro before. */
static __always_inline __u32 ebt_dcache_mounted(void)
{
	if (bpf_core_enum_value_exists(enum dentry_flags, DCACHE_MOUNTED))
		return bpf_core_enum_value(enum dentry_flags, DCACHE_MOUNTED);
	return 0x10000;
}

/* ebt_child_matches reports whether c is a live entry named r->want. */
static __always_inline bool ebt_child_matches(struct ebt_resolver *r, struct dentry *c)
{
	struct qstr name = BPF_CORE_READ(c, d_name);
	__u32 len = r->comp_len, i;
	__u64 *a = (__u64 *)r->name, *b = (__u64 *)r->want;

	if (name.len != len || len > EBT_NAME_MAX)
		return false;
	/* A negative entry says a name does not exist: it counts only for
	 * the last component of a lookup_last. */
	if ((!r->in_last && !BPF_CORE_READ(c, d_inode)) || !BPF_CORE_READ(c, d_hash.pprev))
		return false;
	__builtin_memset(r->name, 0, sizeof(r->name));
	barrier_var(len);
	if (bpf_probe_read_kernel(r->name, len & EBT_NAME_MAX, name.name))
		return false;
	/* want is zero-padded too: compare whole words. */
	for (i = 0; i < (EBT_NAME_MAX + 8) / 8; i++) {
		if (a[i] != b[i])
			return false;
		if (i * 8 >= len)
			break;
	}
	return true;
}

/* ebt_go_up moves r one level up (".."), across mounts, never above the root. */
static __always_inline void ebt_go_up(struct ebt_resolver *r)
{
	struct dentry *dir = r->dir;
	struct vfsmount *mnt = r->mnt;
	struct mount *m, *parent;
	int i;

	if (dir == r->root && mnt == r->root_mnt)
		return;
	/* 16 mounts stacked on one another: plenty. */
	for (i = 0; i < 16; i++) {
		if (dir != BPF_CORE_READ(mnt, mnt_root))
			break;
		m = ebt_real_mount(mnt);
		parent = BPF_CORE_READ(m, mnt_parent);
		if (parent == m)
			goto out;
		dir = BPF_CORE_READ(m, mnt_mountpoint);
		mnt = ebt_vfsmount(parent);
		if (dir == r->root && mnt == r->root_mnt)
			goto out;
	}
	/* Local copies: CO-RE relocates only kernel types, not r's. */
	dir = BPF_CORE_READ(dir, d_parent);
out:
	r->dir = dir;
	r->mnt = mnt;
}

/*
 * ebt_follow_link replaces the component at hand, a symlink to target, by
 * the target: todo becomes target + "/" + the rest.
 */
static __always_inline bool ebt_follow_link(struct ebt_resolver *r, const char *target)
{
	__u32 rest = r->end - r->pos, n;
	long tl;

	if (++r->links > EBT_MAX_LINKS || rest >= EBT_PATH_MAX)
		return false;
	/* Move the rest to the end of todo, then put the target before it.
	 * The barrier keeps clang from dropping the mask the verifier needs
	 * as redundant with the test above. */
	barrier_var(rest);
	rest &= EBT_PATH_MAX - 1;
	if (bpf_probe_read_kernel(&r->todo[EBT_PATH_MAX], rest, &r->todo[r->pos & (EBT_PATH_MAX - 1)]))
		return false;
	tl = bpf_probe_read_kernel_str(r->todo, EBT_PATH_MAX, target);
	if (tl <= 1)
		return false;
	n = tl - 1;
	if (n >= EBT_PATH_MAX - 1)
		return false;
	r->todo[n & (EBT_PATH_MAX - 1)] = '/';
	n++;
	barrier_var(rest);
	rest &= EBT_PATH_MAX - 1;
	if (bpf_probe_read_kernel(&r->todo[n & (EBT_PATH_MAX - 1)], rest, &r->todo[EBT_PATH_MAX]))
		return false;
	r->pos = 0;
	r->end = n + rest;
	if (r->todo[0] == '/') {
		r->dir = r->root;
		r->mnt = r->root_mnt;
	}
	return true;
}

/*
 * ebt_component acts on the component at hand, comp_len bytes at comp in
 * todo, last if only slashes follow. It returns bpf_loop's verdict.
 */
static __always_inline long ebt_component(struct ebt_resolver *r, bool last)
{
	__u32 pos = r->comp, len = r->comp_len;

	if (len == 1 && r->todo[pos & EBT_TODO_MASK] == '.')
		goto next;
	if (len == 2 && r->todo[pos & EBT_TODO_MASK] == '.' && r->todo[(pos + 1) & EBT_TODO_MASK] == '.') {
		ebt_go_up(r);
		goto next;
	}
	__builtin_memset(r->want, 0, sizeof(r->want));
	barrier_var(len);
	len &= EBT_NAME_MAX;
	bpf_probe_read_kernel(r->want, len, &r->todo[pos & (EBT_PATH_MAX - 1)]);
	if (last) {
		/* The name the call acted on: its directory is r->dir. */
		r->state = EBT_DONE;
		if (!r->lookup_last)
			return 1;
		r->in_last = true;
		r->child = ebt_first_child(r->dir);
		r->state = EBT_SCAN;
		return 0;
	}
	/* Remember where the component is looked up, for a symlink's target. */
	r->link_dir = r->dir;
	r->link_mnt = r->mnt;
	r->child = ebt_first_child(r->dir);
	r->state = EBT_SCAN;
	return 0;
next:
	r->comp_len = 0;
	if (last) {
		r->state = EBT_DONE;
		return 1;
	}
	r->state = EBT_NEXT;
	return 0;
}

/*
 * ebt_resolve_step is one step of the resolution (bpf_loop's callback):
 * one byte of the path, one child compared, one mount looked at. No step
 * loops over much, or the verifier's jump history overflows.
 */
static long ebt_resolve_step(__u32 i, void *unused)
{
	__u32 zero = 0, pos;
	struct ebt_resolver *r = bpf_map_lookup_elem(&ebt_resolvers, &zero);
	struct dentry *c;
	struct mount *m;
	struct inode *inode;
	const char *target;
	char ch;

	if (!r)
		return 1;
	switch (r->state) {
	case EBT_SCAN:
		c = r->child;
		if (!c) {
			if (r->in_last) {
				/* Not cached: whether it exists is not known. */
				r->state = EBT_DONE;
				return 1;
			}
			r->err = EBT_RES_NOT_CACHED;
			return 1;
		}
		if (!ebt_child_matches(r, c)) {
			r->child = ebt_next_child(r->dir, c);
			return 0;
		}
		r->child = NULL;
		if (r->in_last) {
			r->found_last = true;
			r->last_positive = BPF_CORE_READ(c, d_inode) != NULL;
			r->state = EBT_DONE;
			return 1;
		}
		r->dir = c;
		r->state = EBT_NEXT;
		if (BPF_CORE_READ(c, d_flags) & ebt_dcache_mounted()) {
			m = ebt_real_mount(r->mnt);
			r->mchild = (void *)BPF_CORE_READ(m, mnt_mounts.next) -
				    bpf_core_field_offset(struct mount, mnt_child);
			r->state = EBT_MOUNT;
			return 0;
		}
		goto walked;
	case EBT_MOUNT:
		m = r->mchild;
		if ((void *)m + bpf_core_field_offset(struct mount, mnt_child) ==
		    (void *)ebt_real_mount(r->mnt) + bpf_core_field_offset(struct mount, mnt_mounts)) {
			/* No (more) mount of this namespace on it. */
			r->state = EBT_NEXT;
			goto walked;
		}
		if (BPF_CORE_READ(m, mnt_mountpoint) == r->dir) {
			/* Go into it, and look again: mounts can be stacked. */
			struct vfsmount *vm = ebt_vfsmount(m);

			r->mnt = vm;
			r->dir = BPF_CORE_READ(vm, mnt_root);
			r->mchild = (void *)BPF_CORE_READ(m, mnt_mounts.next) -
				    bpf_core_field_offset(struct mount, mnt_child);
			return 0;
		}
		r->mchild = (void *)BPF_CORE_READ(m, mnt_child.next) - bpf_core_field_offset(struct mount, mnt_child);
		return 0;
	case EBT_NEXT:
		pos = r->pos;
		if (pos >= r->end || pos >= 2 * EBT_PATH_MAX) {
			/* Nothing but slashes left: the directory itself. */
			r->comp_len = 0;
			r->state = EBT_DONE;
			return 1;
		}
		if (r->todo[pos & EBT_TODO_MASK] == '/') {
			r->pos = pos + 1;
			return 0;
		}
		r->comp = pos;
		r->comp_len = 0;
		r->state = EBT_NAME;
		return 0;
	case EBT_NAME:
		pos = r->pos;
		ch = pos < r->end ? r->todo[pos & EBT_TODO_MASK] : 0;
		if (ch != '/' && ch != 0) {
			if (++r->comp_len > EBT_NAME_MAX) {
				r->err = EBT_RES_LIMIT;
				return 1;
			}
			r->pos = pos + 1;
			return 0;
		}
		r->tail = pos;
		r->state = EBT_TAIL;
		return 0;
	case EBT_TAIL:
		pos = r->tail;
		if (pos >= r->end)
			return ebt_component(r, true);
		if (r->todo[pos & EBT_TODO_MASK] == '/') {
			r->tail = pos + 1;
			return 0;
		}
		return ebt_component(r, false);
	default:
		return 1;
	}

walked:
	/* The component just walked into may be a symlink to follow. */
	c = r->dir;
	inode = BPF_CORE_READ(c, d_inode);
	if ((BPF_CORE_READ(inode, i_mode) & S_IFMT) == S_IFLNK) {
		target = BPF_CORE_READ(inode, i_link);
		/* The link's own directory is where a relative target starts. */
		r->dir = r->link_dir;
		r->mnt = r->link_mnt;
		if (!target) {
			r->err = EBT_RES_LINK;
			return 1;
		}
		if (!ebt_follow_link(r, target)) {
			r->err = EBT_RES_LIMIT;
			return 1;
		}
	}
	r->comp_len = 0;
	return 0;
}

/*
 * ebt_resolve_begin reads the path argument arg (a user pointer) of a call
 * that took dirfd, for task, into the resolver's todo (arg as given is
 * todo[0..*arg_len)), and sets it up to redo the kernel's lookup. NULL when
 * arg could not be read.
 */
static __always_inline struct ebt_resolver *ebt_resolve_begin(struct task_struct *task, int dirfd,
							       const char *arg, __u32 *arg_len, __u32 *flags)
{
	__u32 zero = 0;
	struct ebt_resolver *r = bpf_map_lookup_elem(&ebt_resolvers, &zero);
	struct path p;
	long n;

	*arg_len = 0;
	if (!r)
		return NULL;
	n = bpf_probe_read_user_str(r->todo, EBT_PATH_MAX, arg);
	if (n <= 0) {
		*flags |= EBT_PATH_UNREADABLE;
		return NULL;
	}
	if (n == EBT_PATH_MAX)
		*flags |= EBT_PATH_ARG_CUT;
	*arg_len = n - 1;
	r->pos = 0;
	r->end = n - 1;
	r->links = 0;
	r->err = EBT_RES_OK;
	r->state = EBT_NEXT;
	r->comp = 0;
	r->comp_len = 0;
	r->child = NULL;
	r->lookup_last = false;
	r->in_last = false;
	r->found_last = false;
	r->last_positive = false;
	BPF_CORE_READ_INTO(&p, task, fs, root);
	r->root = p.dentry;
	r->root_mnt = p.mnt;
	if (r->todo[0] != '/' && !ebt_dir_of(task, dirfd, &p)) {
		r->start = NULL;
		r->err = EBT_RES_NOT_CACHED;
		return r;
	}
	r->start = p.dentry;
	r->start_mnt = p.mnt;
	r->dir = p.dentry;
	r->mnt = p.mnt;
	return r;
}

/*
 * ebt_resolve_run resolves what ebt_resolve_begin set up. Resolved, r->dir
 * is the directory that holds the last component, which comp/comp_len name
 * in todo (comp_len 0: the argument named the directory itself, as "."
 * or "/"); else *flags says EBT_PATH_UNRESOLVED. With lookup_last, the last
 * component is looked up in the cache too (found_last, last_positive).
 */
static __always_inline void ebt_resolve_run(struct ebt_resolver *r, bool lookup_last, __u32 *flags)
{
	if (r->err == EBT_RES_OK) {
		r->lookup_last = lookup_last;
		bpf_loop(EBT_RESOLVE_STEPS, ebt_resolve_step, NULL, 0);
	}
	if (r->state != EBT_DONE || r->err != EBT_RES_OK) {
		*flags |= EBT_PATH_UNRESOLVED;
		return;
	}
	if (!r->comp_len)
		*flags |= EBT_PATH_NO_NAME;
}

/*
 * Writing paths into an event's variable part, data: each helper writes at
 * data[*off] and advances *off. limit is the largest offset it may write
 * at, so that data has room for what it writes there (EBT_PATH_MAX bytes).
 * Offsets in struct ebt_path count from the record's start, base bytes
 * before data.
 */

/* ebt_put_dentry writes the path of d, reached through mnt, into data and p. */
static __always_inline void ebt_put_dentry(char *data, __u32 *off, __u32 limit, __u32 base,
					   struct ebt_path *p, struct dentry *d, struct vfsmount *mnt)
{
	struct ebt_path_scratch *s = ebt_fs_walk(d, mnt, &p->dev, &p->flags);
	__u32 o = *off, start, len;

	if (!s)
		return;
	start = s->pos;
	if (start >= EBT_PATH_MAX)
		start = EBT_PATH_MAX - 1;
	len = EBT_PATH_MAX - start;
	if (o > limit)
		return;
	barrier_var(o);
	bpf_probe_read_kernel(&data[o], len & (EBT_PATH_MAX - 1), &s->buf[start]);
	p->off = base + o;
	p->len = len;
	*off = o + len;
}

/* ebt_put_name appends "/" and name (len bytes) to the path p just written. */
static __always_inline void ebt_put_name(char *data, __u32 *off, __u32 limit, struct ebt_path *p,
					 const char *name, __u32 len)
{
	__u32 o = *off;

	if (o > limit || len > EBT_NAME_MAX)
		return;
	barrier_var(o);
	/* The root is "/": no second slash. */
	if (p->len > 1) {
		data[o] = '/';
		o++;
		p->len++;
	}
	barrier_var(o);
	if (o > limit)
		return;
	bpf_probe_read_kernel(&data[o], len & EBT_NAME_MAX, name);
	p->len += len;
	*off = o + len;
}

/*
 * ebt_put_arg_path writes the path argument arg of a call that took dirfd,
 * as given (p's arg) and resolved (p's path: the file's directory resolved,
 * then its name; unresolved, the start directory, to be joined with arg).
 */
static __always_inline struct ebt_resolver *ebt_put_arg_path(char *data, __u32 *off, __u32 limit,
							     __u32 base, struct ebt_path *p,
							     struct task_struct *task, int dirfd,
							     const char *arg)
{
	struct ebt_resolver *r;
	__u32 o, arg_len;

	__builtin_memset(p, 0, sizeof(*p));
	r = ebt_resolve_begin(task, dirfd, arg, &arg_len, &p->flags);
	if (!r)
		return NULL;
	o = *off;
	if (o > limit)
		return NULL;
	barrier_var(o);
	bpf_probe_read_kernel(&data[o], arg_len & (EBT_PATH_MAX - 1), r->todo);
	p->arg_off = base + o;
	p->arg_len = arg_len;
	*off = o + (arg_len & (EBT_PATH_MAX - 1));
	ebt_resolve_run(r, false, &p->flags);
	if (!(p->flags & EBT_PATH_UNRESOLVED)) {
		ebt_put_dentry(data, off, limit, base, p, r->dir, r->mnt);
		if (r->comp_len)
			ebt_put_name(data, off, limit, p, &r->todo[r->comp & (EBT_PATH_MAX - 1)], r->comp_len);
	} else if (r->start) {
		ebt_put_dentry(data, off, limit, base, p, r->start, r->start_mnt);
	}
	return r;
}

/*
 * ebt_put_root writes the task's root into p if it is not the host's (a
 * chroot, or a container's root); else p stays empty.
 */
static __always_inline void ebt_put_root(char *data, __u32 *off, __u32 limit, __u32 base,
					 struct ebt_path *p, struct task_struct *task)
{
	struct dentry *root = BPF_CORE_READ(task, fs, root.dentry);

	__builtin_memset(p, 0, sizeof(*p));
	if (!root || ebt_same_file(root, ebt_root_dev, ebt_root_ino))
		return;
	ebt_put_dentry(data, off, limit, base, p, root, NULL);
	/* The root's own inode says nothing of where the file is. */
	p->flags &= ~EBT_PATH_MATCHED;
}

#endif /* __EBTOOLS_PATH_BPF_H */
