// unlinks DIR: removes DIR/file-SYSCALL and DIR/dir-SYSCALL with each
// syscall this architecture has for it, by number (x86-64 still has
// unlink(2) and rmdir(2); arm64 never had them, and has unlinkat only),
// and prints "SYSCALL OP RET PATH" for each: the workload of
// TestEverySyscall.
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *dir;

static void report(const char *name, const char *op, const char *path, long ret)
{
	printf("%s %s %ld %s\n", name, op, ret, path);
}

static const char *in_dir(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
	return buf;
}

int main(int argc, char **argv)
{
	char p[4096];
	if (argc != 2)
		return 2;
	dir = argv[1];
#ifdef SYS_unlink
	in_dir(p, sizeof p, "file-unlink");
	report("unlink", "unlink", p, syscall(SYS_unlink, p));
#endif
#ifdef SYS_rmdir
	in_dir(p, sizeof p, "dir-rmdir");
	report("rmdir", "rmdir", p, syscall(SYS_rmdir, p));
#endif
	in_dir(p, sizeof p, "file-unlinkat");
	report("unlinkat", "unlink", p, syscall(SYS_unlinkat, AT_FDCWD, p, 0));
	in_dir(p, sizeof p, "dir-unlinkat");
	report("unlinkat", "rmdir", p, syscall(SYS_unlinkat, AT_FDCWD, p, AT_REMOVEDIR));
	return 0;
}
