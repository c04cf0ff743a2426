/*
 * Query metadata (X-Consul-Index, -KnownLeader, -LastContact, -ContentHash)
 * parsed from header lines as libcurl hands them over: request.c's
 * internal ostiary_request_parse_header, no network.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "internal.h"

static void
feed(consul_response *r, const char *line)
{
	ostiary_request_parse_header(r, line, strlen(line));
}

static consul_response
fresh(void)
{
	consul_response r;

	memset(&r, 0, sizeof r);
	feed(&r, "HTTP/1.1 200 OK\r\n");
	return r;
}

Test(lib_request, each_header_present)
{
	consul_response r = fresh();

	feed(&r, "X-Consul-Index: 1234\r\n");
	feed(&r, "X-Consul-KnownLeader: true\r\n");
	feed(&r, "X-Consul-LastContact: 17\r\n");
	feed(&r, "X-Consul-ContentHash: 2f3a9b4e1c6d7e8f\r\n");
	cr_assert(r.has_index);
	cr_assert_eq(r.index, 1234);
	cr_assert(r.has_known_leader);
	cr_assert(r.known_leader);
	cr_assert(r.has_last_contact);
	cr_assert_eq(r.last_contact_ms, 17);
	cr_assert_str_eq(r.content_hash, "2f3a9b4e1c6d7e8f");
}

Test(lib_request, absent_headers_leave_nothing)
{
	consul_response r = fresh();

	feed(&r, "Content-Type: application/json\r\n");
	feed(&r, "X-Consul-Effective-Consistency: leader\r\n");
	feed(&r, "X-Consul-Indexes: 5\r\n"); /* another name that starts alike */
	feed(&r, "\r\n");
	cr_assert_not(r.has_index);
	cr_assert_not(r.has_known_leader);
	cr_assert_not(r.has_last_contact);
	cr_assert_str_eq(r.content_hash, "");
}

Test(lib_request, names_any_case_values_trimmed)
{
	consul_response r = fresh();

	feed(&r, "x-consul-index:\t 99 \r\n");
	feed(&r, "X-CONSUL-KNOWNLEADER:false\n");
	feed(&r, "x-Consul-lastcontact: 0"); /* no line end at all */
	feed(&r, "x-consul-contenthash:  abc  \r\n");
	cr_assert(r.has_index);
	cr_assert_eq(r.index, 99);
	cr_assert(r.has_known_leader);
	cr_assert_not(r.known_leader);
	cr_assert(r.has_last_contact);
	cr_assert_eq(r.last_contact_ms, 0);
	cr_assert_str_eq(r.content_hash, "abc");
}

Test(lib_request, largest_index)
{
	consul_response r = fresh();

	feed(&r, "X-Consul-Index: 18446744073709551615\r\n");
	cr_assert(r.has_index);
	cr_assert_eq(r.index, UINT64_MAX);
}

Test(lib_request, garbage_numbers_are_absent)
{
	static const char *const values[] = {
		"",
		"-1",
		"+1",
		"1x",
		"0x10",
		"1 2",
		"18446744073709551616",
		"99999999999999999999",
		"1.5",
		"abc",
	};

	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		consul_response r = fresh();
		char line[128];

		snprintf(line, sizeof line, "X-Consul-Index: %s\r\n", values[i]);
		feed(&r, line);
		cr_assert_not(r.has_index, "%s", line);
		cr_assert_eq(r.index, 0);
		snprintf(line, sizeof line, "X-Consul-LastContact: %s\r\n", values[i]);
		feed(&r, line);
		cr_assert_not(r.has_last_contact, "%s", line);
		cr_assert_eq(r.last_contact_ms, 0);
	}
}

Test(lib_request, garbage_leader_and_hash_are_absent)
{
	static const char *const leaders[] = { "", "1", "yes", "TRUE", "truex" };
	char long_hash[CONSUL_CONTENT_HASH_MAX + 32];

	for (size_t i = 0; i < sizeof leaders / sizeof leaders[0]; i++) {
		consul_response r = fresh();
		char line[64];

		snprintf(line, sizeof line, "X-Consul-KnownLeader: %s\r\n", leaders[i]);
		feed(&r, line);
		cr_assert_not(r.has_known_leader, "%s", line);
	}
	memset(long_hash, 'a', sizeof long_hash);
	memcpy(long_hash, "X-Consul-ContentHash: ", 22);
	long_hash[sizeof long_hash - 1] = '\0';
	{
		consul_response r = fresh();

		feed(&r, "X-Consul-ContentHash: ab cd\r\n");
		cr_assert_str_eq(r.content_hash, "");
		feed(&r, "X-Consul-ContentHash: \r\n");
		cr_assert_str_eq(r.content_hash, "");
		feed(&r, long_hash);
		cr_assert_str_eq(r.content_hash, "");
	}
}

/* A later garbage value replaces an earlier good one: the last header wins. */
Test(lib_request, last_header_wins)
{
	consul_response r = fresh();

	feed(&r, "X-Consul-Index: 5\r\n");
	feed(&r, "X-Consul-Index: 6\r\n");
	cr_assert_eq(r.index, 6);
	feed(&r, "X-Consul-Index: six\r\n");
	cr_assert_not(r.has_index);
}

/* 100 Continue, or any earlier response on the handle: a status line
 * starts over. */
Test(lib_request, status_line_resets)
{
	consul_response r = fresh();

	feed(&r, "X-Consul-Index: 5\r\n");
	feed(&r, "X-Consul-KnownLeader: true\r\n");
	feed(&r, "X-Consul-LastContact: 3\r\n");
	feed(&r, "X-Consul-ContentHash: abc\r\n");
	feed(&r, "HTTP/1.1 200 OK\r\n");
	cr_assert_not(r.has_index || r.has_known_leader || r.has_last_contact);
	cr_assert_eq(r.index, 0);
	cr_assert_eq(r.last_contact_ms, 0);
	cr_assert_str_eq(r.content_hash, "");
}
