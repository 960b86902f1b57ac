// opens PATH: waits for a line on stdin, then opens PATH read-only once
// with each open syscall this architecture has, by number (x86-64 still
// has open(2); arm64 never had it), and prints "SYSCALL RET" for each:
// the workload of TestEverySyscall.
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long ret)
{
	printf("%s %ld\n", name, ret);
	if (ret >= 0)
		close(ret);
}

int main(int argc, char **argv)
{
	char line[8];
	if (argc != 2)
		return 2;
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof line, stdin))
		return 3;
#ifdef SYS_open
	report("open", syscall(SYS_open, argv[1], O_RDONLY));
#endif
	report("openat", syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY));
	struct open_how how = {.flags = O_RDONLY};
	report("openat2", syscall(SYS_openat2, AT_FDCWD, argv[1], &how, sizeof how));
	return 0;
}
