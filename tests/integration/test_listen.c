/* Socket activation passed through: a fake systemd (tests/sim/socket_activate.py)
 * starts ostiary with a listening socket at descriptor 3; the command
 * (tests/sim/activated_server.py) serves on it, and so does every restart of it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"

static const char *
sim_dir_file(const char *name)
{
	static char path[2][512];
	static int next;
	const char *sim_path = getenv("OSTIARY_SIM");
	const char *slash = sim_path ? strrchr(sim_path, '/') : NULL;
	char *slot = path[next++ % 2];

	if (slash == NULL)
		snprintf(slot, sizeof(path[0]), "tests/sim/%s", name);
	else
		snprintf(slot, sizeof(path[0]), "%.*s/%s", (int)(slash - sim_path), sim_path,
		         name);
	return slot;
}

static bool
file_exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

/* Connect and read the server's one line (10 s deadline). */
static void
ask(int port, char *line, size_t len)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = recv(fd, line, len - 1, MSG_WAITALL);
	close(fd);
	cr_assert_gt(n, 0, "no answer on the activated socket");
	line[n] = '\0';
}

Test(listen, activated_socket_reaches_every_restart_and_no_probe)
{
	const char *portfile = scratch_path("port");
	const char *config = scratch_path("listen.conf");
	char line1[256], line2[256], port_text[16] = "";
	FILE *f = fopen(config, "w");
	const char *argv[20];
	int n = 0, port;
	sim s;
	proc p;

	cr_assert_not_null(f);
	/* The probe inherits ostiary's environment and would see fd 3 and
	 * LISTEN_* if they leaked to it: then it fails. */
	fprintf(f, "command = [ \"/usr/bin/python3\", \"%s\" ];\n"
	           "restart = \"always\"; restart_delay = \"100ms\";\n"
	           "services = ( { name = \"web\"; checks = ( { type = \"exec\"; inherit_env = true;\n"
	           "  args = [ \"/bin/sh\", \"-c\", \"test -z \\\"$LISTEN_FDS$LISTEN_PID$LISTEN_FDNAMES\\\""
	           " && ! test -e /proc/self/fd/3\" ];\n"
	           "  interval = \"200ms\"; timeout = \"150ms\"; spread = \"0s\"; } ); } );\n",
	        sim_dir_file("activated_server.py"));
	fclose(f);
	start_sim(&s, NULL);
	argv[n++] = "/usr/bin/python3";
	argv[n++] = sim_dir_file("socket_activate.py");
	argv[n++] = portfile;
	argv[n++] = "web";
	argv[n++] = ostiary_bin();
	argv[n++] = "--http-addr";
	argv[n++] = s.agent_addr;
	argv[n++] = "--status-socket";
	argv[n++] = "none";
	argv[n++] = "-c";
	argv[n++] = config;
	argv[n] = NULL;
	cr_assert_eq(proc_start(&p, argv, NULL), 0);
	cr_assert(wait_until(file_exists, (void *)portfile, DEADLINE_MS));
	f = fopen(portfile, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(port_text, sizeof(port_text), f));
	fclose(f);
	port = atoi(port_text);

	ask(port, line1, sizeof(line1));
	cr_expect_not_null(strstr(line1, "ok=True"), "LISTEN_PID/LISTEN_FDS wrong: %s", line1);
	cr_expect_not_null(strstr(line1, "names=web "), "%s", line1);
	cr_expect_not_null(strstr(line1, "extra=none"), "ostiary leaked descriptors: %s", line1);
	/* It exited after that answer: the restart serves the next one. */
	ask(port, line2, sizeof(line2));
	cr_expect_not_null(strstr(line2, "ok=True"), "after a restart: %s", line2);
	cr_expect_str_neq(line1, line2, "the same process answered twice");
	cr_expect(wait_check_status(&s, "service:web", "passing", DEADLINE_MS),
	          "the exec probe saw the activated socket or LISTEN_*");
	kill(p.pid, SIGTERM);
	expect_exit(&p, DEADLINE_MS);
	proc_kill(&p);
	sim_stop(&s);
}
