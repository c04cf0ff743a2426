# ostiary - register a process with the local Consul agent and keep it honest.
#
#   make            build build/ostiary and build/libostiary.a
#   make check      install missing build dependencies (as root), build, run every test
#   make demo       run ostiary against the bundled Consul agent simulator
#   make bench      heartbeat cost next to a bare libcurl loop; cost of many probes
#   make valgrind   the test suites under memcheck
#   make fuzz       libFuzzer targets on their seed corpora (clang)
#   make install    PREFIX=/usr/local DESTDIR=
#
# Knobs: WERROR=1 (warnings are errors, as CI builds), SANITIZE=1 (ASan+UBSan,
# builds into build-asan/), CC=clang.

VERSION    := 0.1.0
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
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    ?= build
endif

PKGS      := libcurl jansson libconfig
DEPCFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEPLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcurl -ljansson -lconfig)
CRITERION := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -DOSTIARY_VERSION='"$(VERSION)"' \
             -Iinclude -Isrc $(DEPCFLAGS) $(WARNINGS) $(CFLAGS)

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
TEST_HELPERS := $(BUILD)/tests/helpers/zombie-maker $(BUILD)/tests/helpers/sigrecorder

LIBRARY := $(BUILD)/libostiary.a
PROGRAM := $(BUILD)/ostiary

.PHONY: all deps check unit integration sim-selftest valgrind fuzz demo bench install uninstall clean

all: $(PROGRAM) $(LIBRARY)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBRARY): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(PROGRAM): $(TOOL_OBJS) $(LIBRARY)
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(LIBRARY) $(DEPLIBS)

$(BUILD)/tests/unit-tests: $(UNIT_OBJS) $(CORE_OBJS) $(LIBRARY)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(CORE_OBJS) $(LIBRARY) $(DEPLIBS) $(CRITERION)

$(BUILD)/tests/integration-tests: $(INTEG_OBJS) $(LIBRARY)
	$(CC) $(LDFLAGS) -o $@ $(INTEG_OBJS) $(LIBRARY) $(DEPLIBS) $(CRITERION)

$(BUILD)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/tests/bench/bare-loop: tests/bench/bare-loop.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(DEPLIBS)

deps:
	@sh packaging/build-deps.sh

check: deps
	$(MAKE) all $(BUILD)/tests/unit-tests $(BUILD)/tests/integration-tests $(TEST_HELPERS)
	$(MAKE) unit sim-selftest integration

unit: $(BUILD)/tests/unit-tests
	$(BUILD)/tests/unit-tests --jobs=2

sim-selftest:
	$(PYTHON) tests/sim/test_consul_sim.py

# Integration tests start the simulator and the real binary; they find both
# through these variables.
integration: $(BUILD)/tests/integration-tests $(PROGRAM) $(TEST_HELPERS)
	OSTIARY_BIN=$(abspath $(PROGRAM)) OSTIARY_SIM=$(abspath tests/sim/consul_sim.py) \
	OSTIARY_HELPERS=$(abspath $(BUILD)/tests/helpers) \
	$(BUILD)/tests/integration-tests --jobs=2 $(CRITERION_ARGS)

# The unit tests and the integration suite with ostiary under memcheck:
# zero errors and zero leaks, or the tests fail.
valgrind: $(BUILD)/tests/unit-tests $(BUILD)/tests/integration-tests $(PROGRAM) $(TEST_HELPERS)
	valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*,*/python3*' \
		$(BUILD)/tests/unit-tests --jobs=1
	OSTIARY_BIN=$(abspath tests/valgrind-ostiary.sh) OSTIARY_REAL_BIN=$(abspath $(PROGRAM)) \
	OSTIARY_SIM=$(abspath tests/sim/consul_sim.py) OSTIARY_HELPERS=$(abspath $(BUILD)/tests/helpers) \
	$(BUILD)/tests/integration-tests --jobs=1

# libFuzzer targets (clang, ASan + UBSan), each for FUZZ_SECONDS on a copy of
# its committed seeds in tests/fuzz/corpus/; see tests/fuzz/run.sh.
FUZZ_SECONDS ?= 20
fuzz:
	sh tests/fuzz/run.sh $(FUZZ_SECONDS)

demo: deps
	$(MAKE) $(PROGRAM)
	$(PYTHON) tests/demo.py $(PROGRAM)

bench: deps
	$(MAKE) $(PROGRAM) $(BUILD)/tests/bench/bare-loop
	$(PYTHON) tests/bench/bench.py $(PROGRAM) $(BUILD)/tests/bench/bare-loop $(BENCH_SECONDS)
	$(PYTHON) tests/bench/checks.py $(PROGRAM) $(BENCH_CHECKS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/ostiary \
		$(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(PROGRAM) $(DESTDIR)$(BINDIR)/ostiary
	install -m 0644 $(LIBRARY) $(DESTDIR)$(LIBDIR)/libostiary.a
	install -m 0644 include/ostiary/consul.h $(DESTDIR)$(INCLUDEDIR)/ostiary/consul.h
	install -m 0644 packaging/man/ostiary.1 $(DESTDIR)$(MANDIR)/man1/ostiary.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ostiary $(DESTDIR)$(LIBDIR)/libostiary.a \
		$(DESTDIR)$(INCLUDEDIR)/ostiary/consul.h $(DESTDIR)$(MANDIR)/man1/ostiary.1

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJS:.o=.d) $(TOOL_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(INTEG_OBJS:.o=.d)
