/*
 * floor - the yardstick for tests/bench/scale.py (make bench): the least a
 * program can do to run CHECKS probes every INTERVAL_MS and keep their TTL
 * checks fed every HEARTBEAT_MS.  It makes the probe work ostiary makes and
 * the same agent PUTs per second, nothing else:
 *
 *   floor tcp  AGENT_URL HOST:PORT CHECKS INTERVAL_MS HEARTBEAT_MS SECONDS ID_PREFIX
 *   floor http AGENT_URL URL       CHECKS INTERVAL_MS HEARTBEAT_MS SECONDS ID_PREFIX
 *   floor exec AGENT_URL PROGRAM   CHECKS INTERVAL_MS HEARTBEAT_MS SECONDS ID_PREFIX
 *   floor serve
 *
 * Due work runs in batches, at most one per tick of min(INTERVAL_MS / 16,
 * 100 ms): the timer slack ostiary allows itself (ostiary(1), SCHEDULING AND
 * PUSHES), so the floor does not pay a wakeup per probe that ostiary does not.
 *
 * tcp:  CHECKS nonblocking connects (+ close once connected) per interval,
 *       spread evenly over it (one every INTERVAL_MS / CHECKS), waited for
 *       with epoll.
 * http: CHECKS GETs per interval, spread evenly, one easy handle per check
 *       on one libcurl multi handle, a new connection for each (as Consul's
 *       and ostiary's HTTP checks), waited for with curl_multi_poll.
 * exec: CHECKS runs of PROGRAM per interval, spread evenly: posix_spawn with
 *       stdout and stderr on a pipe (a check reports its output), read to
 *       EOF, waitpid.
 * Pushes, every mode: CHECKS PUTs per heartbeat, spread evenly, of
 *       AGENT_URL/v1/agent/check/update/ID_PREFIX<i> (i = 0..CHECKS-1) with
 *       {"Status":"passing","Output":"<what ostiary would say>"}, one after
 *       the other on ONE reused keep-alive easy handle.  The harness
 *       registers those check IDs first, so the agent answers as it does
 *       to ostiary.
 * It stops after SECONDS and prints one line:
 *       probes N ok N pushes N ok N
 *
 * serve: the probes' target, for the harness, not measured: listens on
 *       127.0.0.1 (an ephemeral port, printed as {"port": N}), accepts
 *       everything, answers every HTTP request on a connection with
 *       "200 OK" + "ok" (keep-alive) and closes when the client does; a
 *       TCP probe's connect + close is just a connection without requests.
 *       Runs until killed.
 *
 * Plain C11 + POSIX + libcurl.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

extern char **environ;

static long probes, probes_ok, pushes, pushes_ok;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t
discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* ---- pushes: one reused easy handle ---------------------------------- */

static CURL *push_easy;
static char push_url[512];
static size_t push_url_base;
static char push_body[1024];

static void
push_init(const char *agent_url, const char *prefix, const char *output)
{
	struct curl_slist *headers = NULL;

	push_url_base = (size_t)snprintf(push_url, sizeof(push_url),
	    "%s/v1/agent/check/update/%s", agent_url, prefix);
	snprintf(push_body, sizeof(push_body),
	    "{\"Status\":\"passing\",\"Output\":\"%s\"}", output);
	push_easy = curl_easy_init();
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(push_easy, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(push_easy, CURLOPT_POSTFIELDS, push_body);
	curl_easy_setopt(push_easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(push_easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(push_easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(push_easy, CURLOPT_TIMEOUT_MS, 5000L);
}

static void
push(long check)
{
	long code = 0;

	snprintf(push_url + push_url_base, sizeof(push_url) - push_url_base, "%ld", check);
	curl_easy_setopt(push_easy, CURLOPT_URL, push_url);
	pushes++;
	if (curl_easy_perform(push_easy) == CURLE_OK &&
	    curl_easy_getinfo(push_easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
	    code == 200)
		pushes_ok++;
}

/* ---- tcp probes -------------------------------------------------------- */

static int epfd;
static struct sockaddr_in target;

static void
parse_hostport(const char *text, struct sockaddr_in *sa)
{
	char host[256];
	const char *colon = strrchr(text, ':');

	if (!colon || (size_t)(colon - text) >= sizeof(host)) {
		fprintf(stderr, "floor: want HOST:PORT, not %s\n", text);
		exit(2);
	}
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		fprintf(stderr, "floor: want an IPv4 address, not %s\n", host);
		exit(2);
	}
}

static void
tcp_probe(long check)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	probes++;
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&target, sizeof(target)) == 0) {
		probes_ok++;
		close(fd);
		return;
	}
	if (errno != EINPROGRESS) {
		close(fd);
		return;
	}
	ev.data.fd = fd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		close(fd);
}

static void
tcp_wait(int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(epfd, evs, 256, timeout_ms);

	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd, err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
			probes_ok++;
		close(fd);   /* also takes it out of the epoll set */
	}
}

/* ---- http probes ------------------------------------------------------- */

static CURLM *multi;
static CURL **gets;
static char *busy;

static void
http_init(const char *url, long checks)
{
	multi = curl_multi_init();
	gets = calloc((size_t)checks, sizeof(*gets));
	busy = calloc((size_t)checks, 1);
	if (!gets || !busy)
		die("calloc");
	for (long i = 0; i < checks; i++) {
		gets[i] = curl_easy_init();
		curl_easy_setopt(gets[i], CURLOPT_URL, url);
		curl_easy_setopt(gets[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(gets[i], CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(gets[i], CURLOPT_TIMEOUT_MS, 10000L);
		/* A new connection for every GET, as ostiary's (and Consul's:
		 * DisableKeepAlives) HTTP checks make: the same system work. */
		curl_easy_setopt(gets[i], CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(gets[i], CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(gets[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
	}
}

static void
http_probe(long check)
{
	probes++;
	if (busy[check])
		return;   /* still running: skip this round, as a scheduler would */
	busy[check] = 1;
	curl_multi_add_handle(multi, gets[check]);
}

static void
http_wait(int timeout_ms)
{
	CURLMsg *msg;
	int running, left;

	curl_multi_perform(multi, &running);
	curl_multi_poll(multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(multi, &running);
	while ((msg = curl_multi_info_read(multi, &left))) {
		void *priv = NULL;
		long code = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		if (msg->data.result == CURLE_OK && code == 200)
			probes_ok++;
		curl_multi_remove_handle(multi, msg->easy_handle);
		busy[(intptr_t)priv] = 0;
	}
}

/* ---- exec probes ------------------------------------------------------- */

static const char *program;

static void
exec_probe(long check)
{
	char *argv[] = { (char *)program, NULL };
	posix_spawn_file_actions_t fa;
	char buf[4096];
	int pipefd[2], status;
	pid_t pid;

	probes++;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	if (posix_spawn(&pid, program, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pipefd[0]);
		close(pipefd[1]);
		return;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	while (read(pipefd[0], buf, sizeof(buf)) > 0)
		;
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		probes_ok++;
}

static void
sleep_wait(int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };

	if (timeout_ms > 0)
		nanosleep(&ts, NULL);
}

/* ---- serve: the probes' target ---------------------------------------- */

struct conn {
	int fd;
	int matched;   /* how much of "\r\n\r\n" the last bytes matched */
};

static _Noreturn void
serve(void)
{
	static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                            "Content-Length: 2\r\n\r\nok";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	socklen_t len = sizeof(sa);
	int lfd, one = 1;

	signal(SIGPIPE, SIG_IGN);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		die("listen");
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.ptr = NULL;   /* the listener */
	epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
	printf("{\"port\": %d}\n", ntohs(sa.sin_port));
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(epfd, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			char buf[4096];
			ssize_t got;

			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.data.ptr = c;
					if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
						close(fd);
						free(c);
					}
				}
				continue;
			}
			got = read(c->fd, buf, sizeof(buf));
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				close(c->fd);
				free(c);
				continue;
			}
			for (ssize_t k = 0; k < got; k++) {
				char want = (c->matched % 2 == 0) ? '\r' : '\n';

				if (buf[k] == want)
					c->matched++;
				else
					c->matched = buf[k] == '\r';
				if (c->matched == 4) {
					c->matched = 0;
					if (write(c->fd, reply, sizeof(reply) - 1) < 0)
						break;
				}
			}
		}
	}
}

/* ---- main --------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	const char *mode, *agent, *tgt, *prefix;
	void (*probe)(long);
	void (*wait)(int);
	int64_t start, end, interval_ns, heartbeat_ns;
	long checks, k = 0, j = 0;
	int64_t tick_ns, batch_at;
	char output[600];

	if (argc == 2 && strcmp(argv[1], "serve") == 0)
		serve();
	if (argc != 9) {
		fprintf(stderr, "usage: floor tcp|http|exec AGENT_URL TARGET CHECKS INTERVAL_MS "
		                "HEARTBEAT_MS SECONDS ID_PREFIX\n       floor serve\n");
		return 2;
	}
	mode = argv[1];
	agent = argv[2];
	tgt = argv[3];
	checks = atol(argv[4]);
	interval_ns = atoll(argv[5]) * 1000000LL;
	heartbeat_ns = atoll(argv[6]) * 1000000LL;
	prefix = argv[8];
	if (checks <= 0 || interval_ns <= 0 || heartbeat_ns <= 0) {
		fprintf(stderr, "floor: CHECKS, INTERVAL_MS and HEARTBEAT_MS must be positive\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (strcmp(mode, "tcp") == 0) {
		parse_hostport(tgt, &target);
		epfd = epoll_create1(EPOLL_CLOEXEC);
		if (epfd < 0)
			die("epoll_create1");
		snprintf(output, sizeof(output), "TCP connect %s: Success", tgt);
		probe = tcp_probe;
		wait = tcp_wait;
	} else if (strcmp(mode, "http") == 0) {
		http_init(tgt, checks);
		snprintf(output, sizeof(output), "HTTP GET %s: 200 OK Output: ok", tgt);
		probe = http_probe;
		wait = http_wait;
	} else if (strcmp(mode, "exec") == 0) {
		program = tgt;
		output[0] = '\0';
		probe = exec_probe;
		wait = sleep_wait;
	} else {
		fprintf(stderr, "floor: unknown mode %s\n", mode);
		return 2;
	}
	push_init(agent, prefix, output);

	/* ostiary's timer slack (ostiary(1), SCHEDULING AND PUSHES): a run may start
	 * up to a sixteenth of its interval late, at most 100 ms, so that thousands of
	 * checks wake it once per batch.  The floor batches the same way: what is due
	 * runs at once, and it wakes at most once per tick for the next batch. */
	tick_ns = interval_ns / 16 < 100000000LL ? interval_ns / 16 : 100000000LL;
	start = batch_at = now_ns();
	end = start + atoll(argv[7]) * 1000000000LL;
	for (;;) {
		int64_t now = now_ns(), next_probe, next_push, next;

		if (now >= end)
			break;
		/* The k-th probe (of check k % CHECKS) is due at start + k * interval / CHECKS,
		 * the j-th push at start + j * heartbeat / CHECKS: evenly spread. */
		if (start + k * interval_ns / checks <= now ||
		    start + j * heartbeat_ns / checks <= now)
			batch_at = now;
		while ((next_probe = start + k * interval_ns / checks) <= now)
			probe(k++ % checks);
		while ((next_push = start + j * heartbeat_ns / checks) <= now) {
			push(j++ % checks);
			now = now_ns();
		}
		next = next_probe < next_push ? next_probe : next_push;
		if (next < batch_at + tick_ns)
			next = batch_at + tick_ns;
		if (next > end)
			next = end;
		now = now_ns();
		wait(next > now ? (int)((next - now + 999999) / 1000000) : 0);
	}
	printf("probes %ld ok %ld pushes %ld ok %ld\n", probes, probes_ok, pushes, pushes_ok);
	return 0;
}
