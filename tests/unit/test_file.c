/* Hostile files: a configuration, service or token file that is a
 * directory, a FIFO, a socket or a device is refused at once, by name. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "file.h"

static char dir[] = "/tmp/ostiary-file-XXXXXX";
static char fifo[64], sock[64];
static int sock_fd = -1;

static void
setup(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	cr_assert_not_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	sock_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(sock_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
}

static void
teardown(void)
{
	close(sock_fd);
	unlink(fifo);
	unlink(sock);
	rmdir(dir);
}

TestSuite(file, .init = setup, .fini = teardown, .timeout = 10);

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

typedef int (*loader)(const char *path, consul_error *err);

static int
load_conf(const char *path, consul_error *err)
{
	struct conf conf;
	int rc;

	conf_init(&conf);
	rc = conf_file_load(&conf, path, err);
	conf_free(&conf);
	return rc;
}

static int
load_service(const char *path, consul_error *err)
{
	struct conf conf;
	int rc;

	conf_init(&conf);
	rc = conf_consul_load(&conf, path, err);
	conf_free(&conf);
	return rc;
}

static int
load_token(const char *path, consul_error *err)
{
	consul_config cfg;
	int rc;

	consul_config_init(&cfg);
	rc = consul_config_load_token_file(&cfg, path, err);
	consul_config_free(&cfg);
	return rc;
}

/* Refused within a second, the message naming the path, whatever it is. */
static void
expect_refused(loader load, const char *path, const char *kind)
{
	consul_error err = { 0 };
	char text[512];
	long long start = now_ms();

	cr_assert_eq(load(path, &err), -1, "%s accepted", path);
	cr_assert_lt(now_ms() - start, 1000, "%s took too long", path);
	snprintf(text, sizeof(text), "%s: %s", err.source, err.text);
	cr_assert(strstr(text, path) != NULL, "no path in: %s", text);
	cr_assert(strstr(text, ": not a regular file") != NULL, "%s", text);
	cr_assert(strstr(text, "flex") == NULL, "libconfig's message leaked: %s", text);
	if (kind != NULL)
		cr_assert(strstr(text, kind) != NULL, "%s", text);
}

static void
expect_all_refused(loader load, bool kinds)
{
	expect_refused(load, dir, kinds ? "a directory" : NULL);
	expect_refused(load, fifo, kinds ? "a FIFO" : NULL);
	expect_refused(load, sock, kinds ? "a socket" : NULL);
	expect_refused(load, "/dev/zero", kinds ? "a character device" : NULL);
}

Test(file, config_file)
{
	expect_all_refused(load_conf, true);
}

Test(file, service_file)
{
	expect_all_refused(load_service, true);
}

Test(file, token_file)
{
	expect_all_refused(load_token, false);
}

Test(file, a_regular_file_is_read)
{
	consul_error err = { 0 };
	char path[64];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/token", dir);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs("abc\n", fp);
	fclose(fp);
	cr_assert_eq(load_token(path, &err), 0, "%s", err.text);
	fp = file_open_regular(path, "file", &err);
	cr_assert_not_null(fp, "%s", err.text);
	cr_assert_eq(fgetc(fp), 'a');
	fclose(fp);
	unlink(path);
}

Test(file, a_missing_file_says_why)
{
	consul_error err = { 0 };

	cr_assert_null(file_open_regular("/nonexistent/x", "configuration file", &err));
	cr_assert_str_eq(err.text, "cannot read the configuration file: No such file or directory");
}
