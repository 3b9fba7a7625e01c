# spool - one Makefile for the library, the binary, the tests and the docs.
#
#   make                 build build/spool and build/libspool.a
#   make test            unit tests, Python SDK tests and the bats suite
#                        (BATS_JOBS=3 test files side by side; 1: one by one)
#   make test-remote     workers over a real sshd and a one-node Slurm on
#                        loopback (tests/remote/; root: it adds a user and
#                        starts daemons)
#   make SANITIZE=1 test the same under ASan+UBSan (build/san/)
#   make test-tsan       the C client's threaded test under ThreadSanitizer
#   make fuzz-run        each fuzz target as a libFuzzer fuzzer for
#                        FUZZ_SECONDS (30) seconds (clang, build/libfuzzer/)
#   make demo            run the bundled example pool on bundled tasks
#   make bench           benchmarks against GNU parallel and Python pools
#   make install         copy what make built: binary, library, headers,
#                        spool.pc, Python SDK, man pages, completion
#                        (PREFIX=/usr/local, DESTDIR=, PYTHONDIR=...)
#
# Missing Debian packages are installed first when run as root; otherwise
# the exact apt-get command is printed and make stops (tests/deps.sh).

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# PYTHONDIR (where the Python SDK and client go) is worked out below.

CC ?= cc
# -O3: with LTO below, W1 (10M tasks through cat) runs 2% faster than
# -O2 (farm-bench, 12 alternating runs); the build stays warning-free.
CFLAGS ?= -O3 -g
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wformat=2 -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN += -Werror
endif

# BUILD can be set to keep several builds apart (make BUILD=build/x).
ifeq ($(SANITIZE),1)
BUILD ?= build/san
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD ?= build
SAN :=
endif

# gcc, plain builds: link-time optimisation.  A task's path crosses
# files (input, dispatch, answer, completion, output) and inlining across
# them makes W1 (10M tasks through cat) about 10% faster.  Fat objects
# keep libspool.a usable by a linker without LTO.  Not with sanitizers,
# or clang (its LTO needs a linker plugin), or LTO=.
IS_GCC := $(shell $(CC) --version 2>/dev/null | grep -q 'Free Software' && echo 1)
ifeq ($(IS_GCC)$(SAN),1)
LTO ?= -flto=auto -ffat-lto-objects
endif

# Lazy (=), so the flags are read after the set-up step installed them.
CJSON_CFLAGS = $(shell pkg-config --cflags libcjson 2>/dev/null)
CJSON_LIBS = $(shell pkg-config --libs libcjson 2>/dev/null || echo -lcjson)

ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(LTO) $(SAN) -Ilib $(CJSON_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(LTO) $(SAN)
LIBS = $(CJSON_LIBS) -lm

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
CWORKER_SRC := $(wildcard workers/c/*.c)
CWORKER_BIN := $(patsubst workers/c/%.c,$(BUILD)/workers/%,$(CWORKER_SRC))

SPOOL := $(BUILD)/spool

.PHONY: all deps deps-test deps-bench deps-fuzz test unit bats pytest demo \
	bench install uninstall clean fuzz fuzz-run test-tsan test-remote FORCE

all: deps $(SPOOL) $(BUILD)/libspool.a $(CWORKER_BIN) $(FUZZ_BIN)

deps:
	@sh tests/deps.sh build

deps-test:
	@sh tests/deps.sh build test

deps-bench:
	@sh tests/deps.sh build test bench

deps-fuzz:
	@sh tests/deps.sh build fuzz

$(BUILD)/lib/%.o: lib/%.c lib/*.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# lib/remote_guard.pl travels inside every remote command line, as hex
# digits: drop whole-line comments, indentation and blank lines first, as
# every byte is sent again for each worker.
$(BUILD)/gen/remote_guard.h: lib/remote_guard.pl
	@mkdir -p $(dir $@)
	{ echo '/* generated from $< by the Makefile */'; \
	  echo 'static const char remote_guard_hex[] ='; \
	  sed -e 's/^[[:space:]]*//' -e '/^#/d' -e '/^$$/d' $< | \
	  od -An -v -tx1 | tr -d ' ' | sed -e 's/^/\t"/' -e 's/$$/"/'; \
	  echo ';'; } >$@.tmp && mv $@.tmp $@
$(BUILD)/lib/remote.o: $(BUILD)/gen/remote_guard.h
$(BUILD)/lib/remote.o: ALL_CFLAGS += -I$(BUILD)/gen
# tests/remote/remote_guard.bats runs the command lines remote.c builds through
# this helper.
all: $(BUILD)/unit/remote_cmd

$(BUILD)/libspool.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/cmd/spool.o: cmd/spool.c lib/*.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(SPOOL): $(BUILD)/cmd/spool.o $(BUILD)/libspool.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/unit/%: tests/unit/%.c tests/unit/*.h $(BUILD)/libspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libspool.a $(LIBS)

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/driver.c $(BUILD)/libspool.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< tests/fuzz/driver.c $(BUILD)/libspool.a $(LIBS)

$(BUILD)/workers/%: workers/c/%.c workers/c/spool_worker.h | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iworkers/c $(ALL_LDFLAGS) -o $@ $< $(LIBS)

# The C client's test starts threads.
$(BUILD)/unit/test_client: ALL_LDFLAGS += -pthread

test: deps-test all $(UNIT_BIN)
	@$(MAKE) --no-print-directory unit pytest bats

unit: $(UNIT_BIN) $(FUZZ_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "# $$t"; $$t; done
	@set -e; for f in $(FUZZ_BIN); do $$f tests/fuzz/corpus/*; done

# The C client and its threaded test under ThreadSanitizer, built apart
# in build/tsan/ (TSAN_CC=clang for clang); any report fails the run.
TSAN_CC ?= $(CC)
test-tsan: deps-test
	@$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE= \
		CC='$(TSAN_CC)' CFLAGS='-O1 -g' \
		SAN='-fsanitize=thread -fno-omit-frame-pointer' \
		build/tsan/unit/test_client
	TSAN_OPTIONS='halt_on_error=1 exitcode=66 second_deadlock_stack=1' \
		build/tsan/unit/test_client

# The fuzz targets as coverage-guided fuzzers: the library instrumented
# for coverage, each target linked with libFuzzer's main (driver.c steps
# aside), under ASan+UBSan so that any bad access, leak or undefined
# behaviour is a finding.  Built apart from $(BUILD): clang only.
FUZZ_SECONDS ?= 30
LIBFUZZER := build/libfuzzer
LIBFUZZER_CC ?= clang
LIBFUZZER_CFLAGS = -std=c11 $(WARN) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-Ilib $(CJSON_CFLAGS)
LIBFUZZER_OBJ := $(patsubst lib/%.c,$(LIBFUZZER)/lib/%.o,$(LIB_SRC))
LIBFUZZER_BIN := $(patsubst tests/fuzz/%.c,$(LIBFUZZER)/%,$(FUZZ_SRC))

$(LIBFUZZER)/lib/%.o: lib/%.c lib/*.h | deps-fuzz
	@mkdir -p $(dir $@)
	$(LIBFUZZER_CC) $(LIBFUZZER_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(LIBFUZZER)/lib/remote.o: $(BUILD)/gen/remote_guard.h
$(LIBFUZZER)/lib/remote.o: LIBFUZZER_CFLAGS += -I$(BUILD)/gen

$(LIBFUZZER)/libspool.a: $(LIBFUZZER_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIBFUZZER)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/driver.c $(LIBFUZZER)/libspool.a
	$(LIBFUZZER_CC) $(LIBFUZZER_CFLAGS) -fsanitize=fuzzer -DSPOOL_LIBFUZZER \
		-o $@ $< tests/fuzz/driver.c $(LIBFUZZER)/libspool.a $(LIBS)

fuzz: $(LIBFUZZER_BIN)

# Each for FUZZ_SECONDS from a copy of tests/fuzz/corpus; fails on any
# finding and names the input that reproduces it.
fuzz-run: fuzz
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(LIBFUZZER_BIN)

pytest:
	python3 -m unittest discover -s workers/python -p 'test_*.py' -q

# Test files run side by side (GNU parallel drives bats --jobs), each
# file's tests in order: they share a fixture such as an sshd's log.
BATS_JOBS ?= 3
BATS_PAR := $(if $(filter-out 1,$(BATS_JOBS)),--jobs $(BATS_JOBS) \
	--no-parallelize-within-files)

# tests/*.bats only: the remote suites in tests/remote/ need root and
# daemons, and run with test-remote.
bats:
	SPOOL=$(abspath $(SPOOL)) SPOOL_BUILD=$(abspath $(BUILD)) \
		bats $(BATS_PAR) $(BATSFLAGS) tests/

# Each file starts its own sshd or Slurm and stops it.  Not root: every
# test is skipped, saying why.
test-remote: deps-test all
	@if [ "$$(id -u)" != 0 ]; then \
		echo "test-remote: skipped: needs root (it creates a test user and starts sshd and Slurm)"; \
	else sh tests/deps.sh remote; fi
	SPOOL=$(abspath $(SPOOL)) SPOOL_BUILD=$(abspath $(BUILD)) \
		bats $(BATSFLAGS) tests/remote/

demo: all
	@sh tests/deps.sh demo
	@sh workers/examples/demo.sh $(abspath $(SPOOL))

# W1-W11 (W8-W10 are scripts of their own, run when they are there).  A
# part, a quick look: make bench BENCH_ONLY=W2b,W11 BENCH_SCALE=100; the
# BENCH_ settings are described at the top of tests/bench/run.sh.
bench: deps-bench all
	@sh tests/bench/run.sh $(abspath $(SPOOL))

# What make installs from the source tree: the public headers (the client
# header appears once it is written) and the Python modules, tests aside.
INSTALL_HEADERS = lib/spool.h $(wildcard lib/spool_client.h) \
	workers/c/spool_worker.h
INSTALL_PY = $(foreach f,$(wildcard workers/python/spool_*.py), \
	$(if $(findstring test,$(notdir $(f))),,$(f)))

# Python modules go where the system python3 finds them without PYTHONPATH:
# the first of its sys.path (or user site) entries under $(PREFIX)/lib*,
# else the Debian convention.  /usr/bin/python3 comes first, as a pyenv or
# venv python3 on PATH does not search $(PREFIX); -E keeps PYTHONPATH out.
SYSTEM_PYTHON3 = $(firstword $(wildcard /usr/bin/python3) \
	$(shell command -v python3 2>/dev/null))
PYTHONDIR_PY = import os, site, sys; \
	p = os.path.normpath(sys.argv[1]); \
	c = [e for e in sys.path + [site.getusersitepackages()] \
	     if e.startswith(p + "/lib") and e.endswith("-packages")]; \
	v = "python3" if p == "/usr" else "python{}.{}".format(*sys.version_info[:2]); \
	print(c[0] if c else p + "/lib/" + v + "/dist-packages")
PYTHONDIR ?= $(or $(if $(SYSTEM_PYTHON3),$(shell $(SYSTEM_PYTHON3) -E -c \
	'$(PYTHONDIR_PY)' '$(PREFIX)' 2>/dev/null)),$(PREFIX)/lib/python3/dist-packages)

VERSION = $(shell sed -n 's/.*SPOOL_VERSION "\(.*\)"/\1/p' lib/spool.h)

# spool.pc: paths under $(PREFIX) are written relative to ${prefix}, so that
# pkg-config --define-prefix can relocate a DESTDIR install.  libspool is
# static only, so libcjson is a public requirement: plain --libs must link.
PC_PATH = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
PC_CJSON = $(shell pkg-config --exists libcjson 2>/dev/null && echo libcjson)

# Regenerated at each install (after the check that there is a build):
# PREFIX may differ from the last run.
$(BUILD)/spool.pc: lib/spool.pc.in FORCE
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
		-e 's|@LIBDIR@|$(call PC_PATH,$(LIBDIR))|g' \
		-e 's|@INCLUDEDIR@|$(call PC_PATH,$(INCLUDEDIR))|g' \
		-e 's|@VERSION@|$(VERSION)|g' \
		-e 's|@REQUIRES@|$(PC_CJSON)|g' \
		-e 's|@LIBS@|$(if $(PC_CJSON),,-lcjson )-lm|g' \
		lib/spool.pc.in >$@.tmp
	@mv $@.tmp $@

FORCE:

# install copies what `make` built and never builds: building may install
# Debian packages (tests/deps.sh), which `sudo make install` must not do.
install:
	@for f in $(SPOOL) $(BUILD)/libspool.a; do \
		[ -f "$$f" ] || { echo "spool: $$f is missing: run 'make' first, then 'make install'" >&2; exit 1; }; \
	done
	@$(MAKE) --no-print-directory $(BUILD)/spool.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(PYTHONDIR)
	install -m 755 $(SPOOL) $(DESTDIR)$(BINDIR)/spool
	install -m 644 man/spool.1 $(DESTDIR)$(MANDIR)/man1/spool.1
	install -m 644 man/spool-config.5 $(DESTDIR)$(MANDIR)/man5/spool-config.5
	install -m 644 man/spool-protocol.7 $(DESTDIR)$(MANDIR)/man7/spool-protocol.7
	install -m 644 cmd/spool.bash-completion $(DESTDIR)$(BASHCOMPDIR)/spool
	install -m 644 $(INSTALL_HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(BUILD)/libspool.a $(DESTDIR)$(LIBDIR)/libspool.a
	install -m 644 $(BUILD)/spool.pc $(DESTDIR)$(PKGCONFIGDIR)/spool.pc
	install -m 644 $(INSTALL_PY) $(DESTDIR)$(PYTHONDIR)/

# Directories stay: they may hold other packages' files.  Byte code that
# python3 wrote next to the modules goes with them.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/spool $(DESTDIR)$(MANDIR)/man1/spool.1 \
		$(DESTDIR)$(MANDIR)/man5/spool-config.5 \
		$(DESTDIR)$(MANDIR)/man7/spool-protocol.7 \
		$(DESTDIR)$(BASHCOMPDIR)/spool \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(INSTALL_HEADERS))) \
		$(DESTDIR)$(LIBDIR)/libspool.a $(DESTDIR)$(PKGCONFIGDIR)/spool.pc \
		$(addprefix $(DESTDIR)$(PYTHONDIR)/,$(notdir $(INSTALL_PY))) \
		$(foreach m,$(notdir $(INSTALL_PY:.py=)), \
			$(DESTDIR)$(PYTHONDIR)/__pycache__/$(m).*.pyc)

clean:
	rm -rf build
