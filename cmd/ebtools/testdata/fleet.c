// fleet: the workloads of the service tests (metrics_test.go,
// outputfile_test.go). It prints "ready", waits for a line on stdin, so
// that a tracer can filter on its pid, then runs one of:
//
//	fleet exec N        fork and exec itself as "fleet nop" N times, each waited for
//	fleet open N DIR R  openat(DIR/<i>) for i in 0..N-1, about R opens a second
//	fleet nop           exit 0 at once (no ready line)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int execs(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			char *const argv[] = {"fleet", "nop", NULL};
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "exec %ld failed\n", i);
			return 1;
		}
	}
	return 0;
}

// opens paces itself every 50 opens to about rate a second. Pacing every
// 1,000 made bursts 400 ms apart at 2,500 a second (the arm64 guest), and
// TestOutputFileRotation, rotating every 50 ms, found 46 of its 101 files
// with events there; now 94 to 101 in the arm64 guest, 101 in the x86 ones.
static int opens(long n, const char *dir, double rate)
{
	char path[4096];
	double start = now();
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%ld", dir, i);
		int fd = openat(AT_FDCWD, path, O_RDONLY);
		if (fd >= 0)
			close(fd);
		if (i % 50 == 49) {
			double ahead = (i + 1) / rate - (now() - start);
			if (ahead > 0)
				usleep((useconds_t)(ahead * 1e6));
		}
	}
	printf("%ld opens in %.3f s\n", n, now() - start);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "nop") == 0)
		return 0;
	if (argc < 3) {
		fprintf(stderr, "usage: fleet exec N | fleet open N DIR RATE | fleet nop\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	long n = atol(argv[2]);
	if (strcmp(argv[1], "exec") == 0)
		return execs(n);
	if (strcmp(argv[1], "open") == 0 && argc == 5)
		return opens(n, argv[3], atof(argv[4]));
	return 2;
}
