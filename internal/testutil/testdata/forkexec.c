// forkexec: fork and exec three commands whose argv are string literals,
// and print how each exited: the workload of TestCBinary.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int run(const char *path, char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		execv(path, argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		fprintf(stderr, "%s: no normal exit\n", path);
		return -1;
	}
	printf("%s exited %d\n", path, WEXITSTATUS(status));
	return 0;
}

int main(void)
{
	char *const t[] = {"true", "literal-arg", NULL};
	char *const f[] = {"false", NULL};
	char *const n[] = {"nonexistent", NULL};
	if (run("/bin/true", t) || run("/bin/false", f) || run("/nonexistent/ebtools-test", n))
		return 1;
	return 0;
}
