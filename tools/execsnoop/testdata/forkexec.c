// forkexec N: fork N children that each execv /bin/true with string-literal
// argv, as daemons start programs. A forked child has not faulted in the
// pages of its parent's string literals, so argv read from the caller at
// exec entry is unreadable: the reason execsnoop reads the new image.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			execv("/bin/true", (char *[]){"/bin/true", "arg-one", "arg-two", NULL});
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "child %d failed\n", i);
			return 1;
		}
	}
	return 0;
}
