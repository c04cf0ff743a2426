# ostiary - register a process with the local Consul agent and keep it honest.
#
#   make              build build/ostiary and build/libostiary.a
#   make check        install missing build dependencies (as root), build, run every test:
#                     layers, versions, pkgconfig-test, unit, simulator self-test,
#                     integration, fault injection
#   make check-asan   `make check` minus the simulator's self-test, built with clang
#                     under AddressSanitizer + UBSan in build-asan/; any sanitizer
#                     report, leaks included, fails it
#   make valgrind     the unit and integration suites (ostiary under memcheck);
#                     any memcheck error or definite/indirect leak fails it
#   make fuzz         each libFuzzer target for FUZZ_SECONDS (default 20) on a copy of
#                     its seeds in tests/fuzz/corpus (clang; build-fuzz/)
#   make fault        the fault-injection suite, tests/fault/run.py (also part of check)
#   make deps         install (as root) or name the build and test dependencies
#   make deps-gates   the same plus what check-asan, valgrind and fuzz need
#   make demo         run ostiary against the bundled Consul agent simulator
#   make bench        heartbeat cost next to a bare libcurl loop; scale next to its
#                     floor (tests/bench/scale.py, tests/bench/floor.c): 10,000 TCP,
#                     1,000 HTTP and 200 exec checks, ostiary and floor alternated
#                     BENCH_PAIRS times (default 3), each measured over a
#                     BENCH_SCALE_SECONDS steady-state window (default 40) after a
#                     25 s warm-up, BENCH_SCALE scenarios (default "tcp http exec");
#                     ~6 min per pair; the library's watches: one idle watch's
#                     CPU over 60 s (BENCH_IDLE_SECONDS), write -> kv-watch latency over 200 writes
#                     (BENCH_WRITES), 1000 watches on one multi handle (BENCH_WATCHES)
#                     and configuration from Consul KV: KV write -> new command
#                     (BENCH_KV_WRITES), idle CPU with 10 watched prefixes
#   make install      PREFIX=/usr/local DESTDIR= (program, man pages ostiary(1),
#                     ostiary.conf(5) and
#                     ostiary-consul(3), libostiary.a, its header and
#                     $(LIBDIR)/pkgconfig/ostiary.pc)
#   make clean        remove build/, build-asan/ and build-fuzz/
#
# CI (.ci/run) runs check (fault injection included), check-asan, valgrind and
# fuzz, with WERROR=1.
# Knobs: WERROR=1 (warnings are errors, as CI builds), SANITIZE=1 (ASan+UBSan,
# builds into build-asan/ with clang unless CC is given), CC=clang,
# BUILD_JOBS=N (parallel compiles in check; default: every core),
# CRITERION_ARGS (e.g. --filter=...), FUZZ_SECONDS=N, FUZZ_JOBS=N (targets
# fuzzing at once; default: every core), ASAN_OPTIONS / UBSAN_OPTIONS (added to
# the defaults below).

# The version is written once, in the public header.
VERSION    := $(shell sed -n 's/^\#define OSTIARY_VERSION "\(.*\)"$$/\1/p' include/ostiary/consul.h)
ifeq ($(VERSION),)
$(error no OSTIARY_VERSION in include/ostiary/consul.h)
endif
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=

CC       ?= cc
PYTHON   ?= python3
CFLAGS   ?= -O2 -g
WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

ifeq ($(SANITIZE),1)
BUILD    ?= build-asan
# clang's runtimes; a build-asan/ mixing gcc's and clang's objects does not link.
ifeq ($(origin CC),default)
CC       := clang
endif
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    ?= build
endif

# libmicrohttpd serves --metrics-addr (src/metrics.c; README, Metrics).
PKGS      := libcurl jansson libconfig libmicrohttpd
DEPCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEPLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcurl -ljansson -lconfig -lmicrohttpd)
CRITERION := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

BASE_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(DEPCFLAGS) $(WARNINGS) $(CFLAGS)
# The layers, kept apart by what each may include (tests/check-layers.sh
# checks the sources too): the library sees the public header and its own
# directory, never the tool's headers; the tool, and the tests of the tool,
# see the public header and src/, never the library's internals.  Tests of
# the library (tests/unit/test_lib_*.c) may see its internals.
LIB_CFLAGS  = -Iinclude -Isrc/lib $(BASE_CFLAGS)
TOOL_CFLAGS = -Iinclude -Isrc $(BASE_CFLAGS)

LIB_SRCS  := $(wildcard src/lib/*.c)
TOOL_SRCS := $(wildcard src/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/%.o)
# Everything of the tool but main(), for unit tests.
CORE_OBJS := $(filter-out $(BUILD)/src/main.o,$(TOOL_OBJS))

UNIT_SRCS  := $(wildcard tests/unit/*.c)
INTEG_SRCS := $(wildcard tests/integration/*.c)
HARNESS    := tests/harness.c
UNIT_OBJS  := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
INTEG_OBJS := $(INTEG_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/harness.o
TEST_HELPERS := $(BUILD)/tests/helpers/zombie-maker $(BUILD)/tests/helpers/sigrecorder \
                $(BUILD)/tests/helpers/procinfo

LIBRARY := $(BUILD)/libostiary.a
# The library's examples (src/examples/): small programs against the public
# header only, run by the integration tests and shown in the README.
EXAMPLE_NAMES := kv-watch kv-config health-watch kv-put kv-lock ttl-pass
EXAMPLES := $(EXAMPLE_NAMES:%=$(BUILD)/examples/%)
EXAMPLE_CFLAGS = -Iinclude $(BASE_CFLAGS)
PROGRAM := $(BUILD)/ostiary
PCFILE  := $(BUILD)/ostiary.pc

.PHONY: all deps deps-gates check check-asan unit integration sim-selftest layers versions \
        pkgconfig-test fault valgrind fuzz demo bench install uninstall clean FORCE

all: $(PROGRAM) $(LIBRARY) $(PCFILE) $(EXAMPLES)

# GNU make picks the pattern with the shortest stem: src/lib/ and the
# library's tests get LIB_CFLAGS, everything else TOOL_CFLAGS.
$(BUILD)/src/lib/%.o: src/lib/%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/unit/test_lib_%.o: tests/unit/test_lib_%.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(TOOL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBRARY): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

# Written on every run, but replaced only when it changed: it depends on
# PREFIX and LIBDIR, which may differ between `make` and `make install`.
$(PCFILE): packaging/ostiary.pc.in FORCE
	@mkdir -p $(@D)
	@sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' $< >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@ && echo "wrote $@"; fi

FORCE:

$(PROGRAM): $(TOOL_OBJS) $(LIBRARY)
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(LIBRARY) $(DEPLIBS)

$(BUILD)/examples/%: src/examples/%.c src/examples/example.c src/examples/example.h $(LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) $(LDFLAGS) -o $@ $< src/examples/example.c $(LIBRARY) $(DEPLIBS)

$(BUILD)/tests/unit-tests: $(UNIT_OBJS) $(CORE_OBJS) $(LIBRARY)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(CORE_OBJS) $(LIBRARY) $(DEPLIBS) $(CRITERION)

$(BUILD)/tests/integration-tests: $(INTEG_OBJS) $(LIBRARY)
	$(CC) $(LDFLAGS) -o $@ $(INTEG_OBJS) $(LIBRARY) $(DEPLIBS) $(CRITERION)

$(BUILD)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(TOOL_CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/bench/watch-many: tests/bench/watch-many.c $(LIBRARY)
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBRARY) $(DEPLIBS)

$(BUILD)/tests/bench/bare-loop: tests/bench/bare-loop.c
	@mkdir -p $(@D)
	$(CC) $(TOOL_CFLAGS) $(LDFLAGS) -o $@ $< $(DEPLIBS)

# BASE_CFLAGS, not TOOL_CFLAGS: src/spawn.h would hide <spawn.h>.
$(BUILD)/tests/bench/floor: tests/bench/floor.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(LDFLAGS) -o $@ $< $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

deps:
	@sh packaging/build-deps.sh

# What check-asan, valgrind and fuzz need besides: clang, its sanitizer and
# libFuzzer runtimes, llvm-symbolizer, valgrind.
deps-gates:
	@sh packaging/build-deps.sh --gates

# The build runs on every core (BUILD_JOBS); the suites one after the other.
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
check: deps
	$(MAKE) -j$(BUILD_JOBS) all $(BUILD)/tests/unit-tests $(BUILD)/tests/integration-tests $(TEST_HELPERS)
	$(VERIFY_SANITIZED)
	$(MAKE) $(CHECK_SUITES)

# Sanitizer reports.  Under SANITIZE=1 every sanitized process (ostiary, the
# helpers, both test binaries and Criterion's workers) writes its ASan, LSan
# or UBSan report to a file in $(SANITIZER_LOGS)/<suite>/ rather than stderr:
# the integration tests capture ostiary's stderr in temporary files they
# delete, and Criterion passes a test whose worker reports a leak after the
# test body, so neither stderr nor an exit status can be relied on.
# $(call sanitized,SUITE,COMMAND[,MORE_ASAN_OPTIONS]) runs COMMAND, prints every
# report and fails when there is one (or when COMMAND fails).  Without
# SANITIZE=1 it is COMMAND.
# exitcode=86 still makes a reporting process fail on its own, and
# halt_on_error stops it at the first report.  ASAN_OPTIONS and UBSAN_OPTIONS
# from the environment are added after the defaults (log_path stays ours).
ifeq ($(SANITIZE),1)
SANITIZER_LOGS  = $(abspath $(BUILD))/sanitizer-logs
ASAN_DEFAULTS  := detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86:detect_stack_use_after_return=1
UBSAN_DEFAULTS := halt_on_error=1:print_stacktrace=1:exitcode=86
sanitized = @echo '$(subst ','\'',$2)'; \
	rm -rf $(SANITIZER_LOGS)/$1 && mkdir -p $(SANITIZER_LOGS)/$1 || exit 2; \
	export ASAN_OPTIONS='$(ASAN_DEFAULTS)$(if $3,:$3):$(ASAN_OPTIONS):log_path=$(SANITIZER_LOGS)/$1/report'; \
	export UBSAN_OPTIONS='$(UBSAN_DEFAULTS):$(UBSAN_OPTIONS):log_path=$(SANITIZER_LOGS)/$1/report'; \
	$2; rc=$$?; n=0; \
	for f in $(SANITIZER_LOGS)/$1/*; do \
		[ -f "$$f" ] || continue; n=$$((n + 1)); \
		echo "==== sanitizer report $$f:"; cat "$$f"; \
	done; \
	if [ $$n -gt 0 ]; then echo "$1: $$n sanitizer report(s), in $(SANITIZER_LOGS)/$1/" >&2; rc=1; fi; \
	exit $$rc
# The binaries under test must be the sanitized ones.
VERIFY_SANITIZED = @for f in $(PROGRAM) $(TEST_HELPERS) $(BUILD)/tests/unit-tests \
		$(BUILD)/tests/integration-tests; do \
		nm "$$f" | grep -q __asan_init && nm "$$f" | grep -q __ubsan_handle_ || \
			{ echo "$$f: not built with ASan and UBSan (make clean?)" >&2; exit 1; }; \
	done
# The simulator's self-test runs no sanitized code: plain `make check` has it.
CHECK_SUITES = layers versions pkgconfig-test unit integration fault
else
sanitized = $2
VERIFY_SANITIZED =
CHECK_SUITES = layers versions pkgconfig-test unit sim-selftest integration fault
endif

# make check built with clang under ASan + UBSan, in build-asan/.
ASAN_CC ?= clang
check-asan:
	@sh packaging/build-deps.sh --asan
	$(MAKE) check SANITIZE=1 CC=$(ASAN_CC)

RUN_UNIT = $(BUILD)/tests/unit-tests --jobs=2 $(CRITERION_ARGS)
unit: $(BUILD)/tests/unit-tests
	$(call sanitized,unit,$(RUN_UNIT))

sim-selftest:
	$(PYTHON) tests/sim/test_consul_sim.py

# The library includes nothing of the tool and the tool nothing of the
# library's internals; their compile flags keep it so.
layers:
	sh tests/check-layers.sh

# The packaging's literal versions agree with the header's.
versions:
	sh tests/check-version.sh
	sh tests/check-man.sh
	sh tests/check-units.sh

# `make install` into a scratch prefix, then a program built against it with
# nothing but `pkg-config --cflags --libs ostiary` (tests/check-pkgconfig.sh).
# Every directory is given: a LIBDIR from the command line would otherwise
# reach this make too.
PKGTEST_DIR = $(abspath $(BUILD))/pkgconfig-test
pkgconfig-test: all
	rm -rf $(PKGTEST_DIR)
	$(MAKE) install DESTDIR= PREFIX=$(PKGTEST_DIR)/prefix BINDIR=$(PKGTEST_DIR)/prefix/bin \
		LIBDIR=$(PKGTEST_DIR)/prefix/lib INCLUDEDIR=$(PKGTEST_DIR)/prefix/include \
		MANDIR=$(PKGTEST_DIR)/prefix/share/man
	CC='$(CC)' LDFLAGS='$(LDFLAGS)' sh tests/check-pkgconfig.sh $(PKGTEST_DIR)
	rm -rf $(PKGTEST_DIR)

# Integration tests start the simulator and the real binary; they find both
# through these variables.
RUN_INTEGRATION = OSTIARY_BIN=$(abspath $(PROGRAM)) OSTIARY_SIM=$(abspath tests/sim/consul_sim.py) \
	OSTIARY_HELPERS=$(abspath $(BUILD)/tests/helpers) OSTIARY_EXAMPLES=$(abspath $(BUILD)/examples) \
	$(BUILD)/tests/integration-tests --jobs=2 $(CRITERION_ARGS)
integration: $(BUILD)/tests/integration-tests $(PROGRAM) $(TEST_HELPERS) $(EXAMPLES)
	$(call sanitized,integration,$(RUN_INTEGRATION))

# Fault injection: ostiary against a misbehaving agent (tests/fault/run.py).
# Some scenarios measure ostiary's RSS (oversized answers must not make it
# grow).  ASan keeps freed memory in quarantine (256 MB by default), so there
# the RSS would grow by design: the fault suite runs without quarantine (a
# use-after-free is then caught only until the memory is reused; the unit and
# integration suites keep the full quarantine).
RUN_FAULT = $(PYTHON) tests/fault/run.py --ostiary $(PROGRAM) --sim tests/sim/consul_sim.py \
	--helpers $(BUILD)/tests/helpers
fault: $(PROGRAM) $(TEST_HELPERS)
	$(call sanitized,fault,$(RUN_FAULT),quarantine_size_mb=0)

# The unit tests and the integration suite with ostiary under memcheck.  Every
# process writes its memcheck log to $(VALGRIND_LOGS)/{unit,integration}/
# (ostiary through tests/valgrind-ostiary.sh); afterwards every log whose
# ERROR SUMMARY is not 0 (leaks: definite and indirect count as errors) is
# printed and fails the target, and so does a log without a summary (a process
# killed by SIGKILL) that holds an error's stack trace.  Criterion would not
# notice on its own: it passes a test whose worker's memcheck found a leak.
# Both suites run before the verdict, so one run shows everything.
VALGRIND_LOGS = $(abspath $(BUILD))/valgrind-logs
MEMCHECK := valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
	--show-leak-kinds=definite,indirect
valgrind-verdict = bad=0; for f in $1/*.log; do \
		[ -f "$$f" ] || continue; \
		if grep -q 'ERROR SUMMARY: [1-9]' "$$f" || { ! grep -q 'ERROR SUMMARY:' "$$f" && \
			grep -Eq '^==[0-9]+== +(at|by) 0x' "$$f"; }; then \
			echo "==== memcheck report $$f:"; cat "$$f"; bad=$$((bad + 1)); \
		fi; \
	done; \
	echo "valgrind: $$(ls $1 | wc -l) memcheck logs in $1, $$bad with errors or leaks"; \
	[ $$bad -eq 0 ]
VALGRIND_UNIT = $(MEMCHECK) --trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*,*/python3*' \
	--log-file=$(VALGRIND_LOGS)/unit/%p.log $(BUILD)/tests/unit-tests --jobs=2 $(CRITERION_ARGS)
VALGRIND_INTEGRATION = OSTIARY_BIN=$(abspath tests/valgrind-ostiary.sh) \
	OSTIARY_REAL_BIN=$(abspath $(PROGRAM)) OSTIARY_VALGRIND_DIR=$(VALGRIND_LOGS)/integration \
	OSTIARY_SIM=$(abspath tests/sim/consul_sim.py) OSTIARY_HELPERS=$(abspath $(BUILD)/tests/helpers) \
	$(BUILD)/tests/integration-tests --jobs=2 $(CRITERION_ARGS)
valgrind:
	@sh packaging/build-deps.sh --valgrind
	$(MAKE) $(BUILD)/tests/unit-tests $(BUILD)/tests/integration-tests $(PROGRAM) $(TEST_HELPERS)
	rm -rf $(VALGRIND_LOGS) && mkdir -p $(VALGRIND_LOGS)/unit $(VALGRIND_LOGS)/integration
	@rc=0; \
	echo "$(VALGRIND_UNIT)"; $(VALGRIND_UNIT) || rc=1; \
	$(call valgrind-verdict,$(VALGRIND_LOGS)/unit) || rc=1; \
	echo "$(VALGRIND_INTEGRATION)"; $(VALGRIND_INTEGRATION) || rc=1; \
	$(call valgrind-verdict,$(VALGRIND_LOGS)/integration) || rc=1; \
	exit $$rc

# libFuzzer targets (clang, ASan + UBSan), each for FUZZ_SECONDS on a copy of
# its committed seeds in tests/fuzz/corpus/; see tests/fuzz/run.sh.
# FUZZ_JOBS targets fuzz at once, one core each.
FUZZ_SECONDS ?= 20
FUZZ_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
FUZZ_CC ?= clang
fuzz:
	@sh packaging/build-deps.sh --fuzz
	CC=$(FUZZ_CC) FUZZ_JOBS=$(FUZZ_JOBS) sh tests/fuzz/run.sh $(FUZZ_SECONDS)

demo: deps
	$(MAKE) $(PROGRAM)
	$(PYTHON) tests/demo.py $(PROGRAM)

# Every bench runs, even after one has missed its target; make bench fails at the end
# if any did.  scale.py runs last: it is the longest.
BENCH_PAIRS ?= 3
BENCH_SCALE_SECONDS ?= 40
BENCH_SCALE ?= tcp http exec
bench: deps
	$(MAKE) $(PROGRAM) $(BUILD)/tests/bench/bare-loop $(BUILD)/tests/bench/floor $(EXAMPLES) \
		$(BUILD)/tests/bench/watch-many
	@rc=0; set -x; \
	$(PYTHON) tests/bench/bench.py $(PROGRAM) $(BUILD)/tests/bench/bare-loop $(BENCH_SECONDS) \
		|| rc=1; \
	$(PYTHON) tests/bench/lib_watch.py $(BUILD)/examples $(BUILD)/tests/bench/watch-many \
		"$(BENCH_IDLE_SECONDS)" "$(BENCH_WRITES)" "$(BENCH_WATCHES)" || rc=1; \
	$(PYTHON) tests/bench/kv_config.py $(PROGRAM) $(BUILD)/examples "$(BENCH_IDLE_SECONDS)" \
		"$(BENCH_KV_WRITES)" || rc=1; \
	$(PYTHON) tests/bench/scale.py $(PROGRAM) $(BUILD)/tests/bench/floor \
		--pairs $(BENCH_PAIRS) --seconds $(BENCH_SCALE_SECONDS) $(BENCH_SCALE) || rc=1; \
	{ set +x; } 2>/dev/null; exit $$rc

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR)/ostiary $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(PROGRAM) $(DESTDIR)$(BINDIR)/ostiary
	install -m 0644 $(LIBRARY) $(DESTDIR)$(LIBDIR)/libostiary.a
	install -m 0644 $(PCFILE) $(DESTDIR)$(LIBDIR)/pkgconfig/ostiary.pc
	install -m 0644 include/ostiary/consul.h $(DESTDIR)$(INCLUDEDIR)/ostiary/consul.h
	install -m 0644 packaging/man/ostiary.1 $(DESTDIR)$(MANDIR)/man1/ostiary.1
	install -m 0644 packaging/man/ostiary.conf.5 $(DESTDIR)$(MANDIR)/man5/ostiary.conf.5
	install -m 0644 packaging/man/ostiary-consul.3 $(DESTDIR)$(MANDIR)/man3/ostiary-consul.3

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ostiary $(DESTDIR)$(LIBDIR)/libostiary.a \
		$(DESTDIR)$(LIBDIR)/pkgconfig/ostiary.pc \
		$(DESTDIR)$(INCLUDEDIR)/ostiary/consul.h $(DESTDIR)$(MANDIR)/man1/ostiary.1 \
		$(DESTDIR)$(MANDIR)/man5/ostiary.conf.5 \
		$(DESTDIR)$(MANDIR)/man3/ostiary-consul.3

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJS:.o=.d) $(TOOL_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(INTEG_OBJS:.o=.d)
