// workload: what a service or container does, for the provenance tests.
// It waits for a line on stdin (so tracers can attach, and its namespaces
// be read), then: open FILE, unlink FILE, connect to 127.0.0.1:PORT and
// close, kill(self, 0), and last exec itself as "workload done".
//
//	workload FILE PORT
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char line[8];

	if (argc == 2 && strcmp(argv[1], "done") == 0)
		return 0;
	if (argc != 3) {
		fprintf(stderr, "usage: workload FILE PORT\n");
		return 2;
	}
	if (!fgets(line, sizeof(line), stdin))
		return 3;
	int fd = open(argv[1], O_RDONLY);
	if (fd >= 0)
		close(fd);
	unlink(argv[1]);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		return 4;
	}
	close(s);
	kill(getpid(), 0);
	execl(argv[0], "workload", "done", (char *)NULL);
	perror("exec");
	return 5;
}
