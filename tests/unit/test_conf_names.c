/* Errors name the thing that is wrong: a service name or ID too long for
 * the default owner mark is reported as the name or ID, with its limit. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static struct conf conf;

static void
fini(void)
{
	conf_free(&conf);
}

TestSuite(conf_names, .fini = fini);

static char *
long_string(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static struct service_conf *
service(char *name, char *id)
{
	struct service_conf *svc;

	conf_init(&conf);
	conf.command = calloc(2, sizeof(char *));
	conf.command[0] = strdup("/bin/true");
	svc = conf_add_service(&conf);
	svc->name = name;
	svc->id = id;
	svc->origin = strdup("test.conf:3");
	return svc;
}

Test(conf_names, a_long_name_is_named_not_the_owner)
{
	consul_error err = { 0 };

	service(long_string('a', 10000), NULL);
	cr_assert_eq(conf_finish(&conf, &err), -1);
	cr_assert_str_eq(err.source, "test.conf:3");
	cr_assert(strstr(err.text, "service name \"aaaa") != NULL, "%s", err.text);
	cr_assert(strstr(err.text, "is 10000 characters, more than 512") != NULL, "%s", err.text);
	cr_assert(strncmp(err.text, "owner", 5) != 0, "%s", err.text);
}

Test(conf_names, a_long_id_is_named_as_the_id)
{
	consul_error err = { 0 };

	service(strdup("web"), long_string('b', 513));
	cr_assert_eq(conf_finish(&conf, &err), -1);
	cr_assert(strstr(err.text, "service id \"bbbb") != NULL, "%s", err.text);
	cr_assert(strstr(err.text, "513 characters") != NULL, "%s", err.text);
}

Test(conf_names, an_explicit_owner_lifts_the_limit)
{
	consul_error err = { 0 };

	service(long_string('a', 10000), NULL);
	conf.owner = strdup("me");
	cr_assert_eq(conf_finish(&conf, &err), 0, "%s", err.text);
}

Test(conf_names, a_long_explicit_owner_is_the_owner)
{
	consul_error err = { 0 };

	service(strdup("web"), NULL);
	conf.owner = long_string('o', 600);
	cr_assert_eq(conf_finish(&conf, &err), -1);
	cr_assert_str_eq(err.source, "owner");
}
