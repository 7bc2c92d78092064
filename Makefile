# SPDX-License-Identifier: LGPL-2.1-or-later
# Makefile: the AWE emulation subsystem (core, client library, server, tests, benchmarks).
#
#   make                  build everything (quiet; V=1 shows commands)
#   make check            build and run every unit test and the conformance tests
#   make check-m32        the conformance tests built 32-bit (-m32) against the 64-bit server
#   make valgrind         the same test binaries under memcheck (CK_FORK=no)
#   make racecheck        the unit tests built with ThreadSanitizer
#   make sanitize         the unit tests built with AddressSanitizer + UBSan
#   make bench            build and run every benchmark (a few minutes): the table in
#                         benchmarks/results/latest.tsv, the map plot beside it (gnuplot)
#   make bench-quick      the same with reduced sizes, in under a minute (plot if gnuplot is there)
#   make engine           the AWE engine as a static library for other hosts (Wine's ntdll)
#   make install          prefix=/usr/local DESTDIR= ; make uninstall ; make clean
#   make winetests-mingw  the conformance tests for Windows (build/mingw/awe_test.exe)
#   make chaos            the chaos suite: kill storms, hostile clients, tampering (chaos/chaos.mk)
#   make wine             patched Wine 8.0 modules over Debian's Wine: build/wine/bin/wine
#   make wine-check       build/mingw/awe_test.exe under it (0 failures), and under stock Wine
#   make wine-run         the demo, built with mingw, under it (wine/README.md)
#   make fuzz             build the libFuzzer harnesses (clang) and run each for FUZZ_SECONDS
#
# Each target first installs the Debian packages it lacks, saying so (need_packages below);
# NO_APT=1 leaves packages alone.
# CFLAGS belongs to the user; mandatory flags are added with override.  WERROR=1 (CI) turns
# warnings into errors.  SANITIZE=thread|address,undefined builds an instrumented tree in
# $(BUILDDIR)/<sanitizer>/ (used by racecheck and sanitize); BUILDDIR defaults to build.

prefix       ?= /usr/local
exec_prefix  ?= $(prefix)
bindir       ?= $(exec_prefix)/bin
libdir       ?= $(exec_prefix)/lib
includedir   ?= $(prefix)/include
pkgconfigdir ?= $(libdir)/pkgconfig

CFLAGS  ?= -O2 -g
LDFLAGS ?=
WERROR  ?= 0
SANITIZE ?=
V       ?= 0

NO_APT  ?= 0

# Recursive: expanded only by the unit tests' recipes, after check and pkg-config are installed.
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

VERSION := 0.1.0
SOVERSION := 0

# _FILE_OFFSET_BITS=64: a 32-bit build (check-m32) maps frames at memfd offsets beyond 2 GiB.
override CFLAGS += -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
                   -Wpointer-arith -Wno-unused-parameter -fPIC -pthread -I. -Iinclude \
                   -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -MMD -MP
override LDFLAGS += -pthread
ifeq ($(WERROR),1)
override CFLAGS += -Werror
endif

comma := ,
empty :=
space := $(empty) $(empty)
BUILDDIR ?= build
ifneq ($(SANITIZE),)
B := $(BUILDDIR)/$(subst $(comma),-,$(SANITIZE))
override CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1
override LDFLAGS += -fsanitize=$(SANITIZE)
else
B := $(BUILDDIR)
endif

ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif

# ---- packages ------------------------------------------------------------------------------

# $(call need_packages,PACKAGE...,WHY) is the name of a target that installs those of the
# Debian PACKAGEs that are missing (tools/need-packages: one "  APT      <package> (WHY)" line
# each, apt-get as root or through sudo -n, apt-get update only if the install fails without;
# if it cannot, one line with the command to run, and make stops).  Nothing missing: silent,
# one dpkg-query.  WHY is a few words without commas or quotes.  Make it an order-only
# prerequisite of the targets whose recipes use the packages: the files compiled or linked
# with them, not only the goal, since make -j builds a goal's prerequisites side by side.
# It runs at most once per make, before the first of them to be remade (.SECONDARY: not at
# all when they are all up to date; always for a phony goal):
#     FUZZ_NEED := $(call need_packages,clang libclang-rt-14-dev,fuzzing)
#     $(FUZZ_OBJS) $(FUZZ_BINS): | $(FUZZ_NEED)
#     fuzz: $(FUZZ_BINS) | $(FUZZ_NEED)
# NO_APT=1 makes it empty (packages installed by hand, or not Debian).
need_packages = $(if $(filter 1,$(NO_APT)),,$(eval NEED_WHY.$(call need_stem,$(1)) := $(2))$(strip \
                .need/$(call need_stem,$(1))))
need_stem = $(subst $(space),/,$(strip $(1)))

.need/%:
	$(Q)V=$(V) tools/need-packages '$(NEED_WHY.$*)' $(subst /, ,$*)

# The C toolchain (gcc leaves libc6-dev to Recommends), for every native object; gcc's
# sanitizer runtimes (libtsan2, libasan8, libubsan1) come with it through libgcc-12-dev.
CC_NEED    := $(call need_packages,$(if $(filter default,$(origin CC)),gcc) libc6-dev,C compiler)
CHECK_NEED := $(call need_packages,check pkg-config,unit tests)
GNUPLOT_NEED  := $(call need_packages,gnuplot-nox,benchmark plots)

# ---- sources -------------------------------------------------------------------------------

CORE_SRCS    := $(sort $(wildcard awe/*.c))
NTDLL_SRCS   := $(sort $(wildcard ntdll_side/*.c))
LIB_SRCS     := $(CORE_SRCS) $(NTDLL_SRCS)
LIB_OBJS     := $(LIB_SRCS:%.c=$(B)/%.o)

CORE_HEADERS := $(sort $(wildcard awe/*.h))
PUB_HEADERS  := $(sort $(wildcard include/*.h))

LIB_A        := $(B)/libawe.a
LIB_SO       := $(B)/libawe.so.$(SOVERSION)
VERSION_SCRIPT := awe/libawe.map

# Unit tests: every <component>/tests/check_<module>.c defines Suite *<module>_suite(void);
# one runner per component collects them (build/<component>/tests/check_<component>).
COMPONENTS   := $(patsubst %/tests/,%,$(sort $(dir $(wildcard */tests/check_*.c))))
RUNNERS      := $(foreach c,$(COMPONENTS),$(B)/$(c)/tests/check_$(c))

# Conformance tests: winetests/<name>.c with START_TEST(<name>), linked into one program.
WINETEST_SRCS := $(sort $(filter-out winetests/testlist.c,$(wildcard winetests/*.c)))
WINETEST_BIN  := $(B)/winetests/awe_test

SERVER_SRCS  := $(sort $(wildcard server_side/*.c))
SERVER_BIN   := $(B)/server_side/awe-server

DEMO_SRCS    := $(sort $(wildcard demo/*.c))
DEMO_BINS    := $(DEMO_SRCS:%.c=$(B)/%)

BENCH_SRCS   := $(sort $(wildcard benchmarks/*.c))
BENCH_BINS   := $(BENCH_SRCS:%.c=$(B)/%)

# ---- top-level targets ---------------------------------------------------------------------

.PHONY: all check check-unit check-conformance valgrind valgrind-unit valgrind-conformance \
        valgrind-server racecheck sanitize bench bench-quick demo check-hugetlb \
        run install uninstall clean distclean

all: $(LIB_A) $(LIB_SO) $(SERVER_BIN) $(RUNNERS) $(WINETEST_BIN) $(DEMO_BINS) $(BENCH_BINS) $(ENGINE_LIB)

# The two halves one after the other, so that their reports do not interleave.
check: $(RUNNERS) $(WINETEST_BIN) $(SERVER_BIN) $(ENGINE_LIB)
	$(Q)$(MAKE) --no-print-directory check-engine
	$(Q)$(MAKE) --no-print-directory check-unit
	$(Q)$(MAKE) --no-print-directory check-hugetlb
	$(Q)$(MAKE) --no-print-directory check-conformance
	$(Q)$(MAKE) --no-print-directory check-m32 M32_OPTIONAL=1

# Tests find the server they start (and the one the library starts) here.
TEST_ENV = AWE_SERVER=$(abspath $(SERVER_BIN))

# No test binary may run longer than this (seconds): a hang fails the run with a message
# instead of stalling it.  Memcheck runs get more time.
TEST_TIMEOUT     ?= 600
VALGRIND_TIMEOUT ?= 1800

# The conformance tests talk to a server started for the run whose --limit stands for the
# machine's physical memory (WINETEST_PHYSICAL_MB tells the tests), so that the tests which
# exhaust "physical memory" (A16, V21) lock that many megabytes, not the machine's gigabytes.
WINETEST_MB ?= 256

# $(call run_conformance,server wrapper,test wrapper,test binary,server binary,timeout)
# The server stays up for the whole run (a test binary under memcheck takes seconds to
# connect) and is stopped with SIGTERM, its clean shutdown, at the end.  It counts as started
# once it answers a status request (the socket file exists a moment before it listens).
define run_conformance
dir=$$(mktemp -d); chmod 700 $$dir; \
$(1) $(4) --foreground --exit-delay=100000 --limit=$(WINETEST_MB)M --dir=$$dir & spid=$$!; \
up=0; for i in $$(seq 300); do $(SERVER_BIN) --status --dir=$$dir > /dev/null 2>&1 && up=1 && break; sleep 0.1; done; \
if [ $$up != 1 ]; then echo "$(4) did not start"; kill $$spid; rm -rf $$dir; exit 1; fi; \
AWE_SERVER_DIR=$$dir WINETEST_PHYSICAL_MB=$(WINETEST_MB) AWE_SERVER=$(abspath $(4)) \
    timeout -k 10 $(5) $(2) $(3); rc=$$?; \
if [ $$rc = 124 ]; then echo "$(3): timed out after $(5) s"; fi; \
kill -TERM $$spid; wait $$spid; src=$$?; rm -rf $$dir; \
if [ $$rc != 0 ]; then exit $$rc; fi; \
if [ $$src != 0 ]; then echo "$(4): exit status $$src"; exit 1; fi
endef

# $(call run_unit,wrapper,runner,timeout,extra environment)
define run_unit
echo "== $(2)"; $(TEST_ENV) $(4) timeout -k 10 $(3) $(1) $(2); rc=$$?; \
if [ $$rc = 124 ]; then echo "$(2): timed out after $(3) s"; fi; \
if [ $$rc != 0 ]; then exit $$rc; fi
endef

check-unit: $(RUNNERS) $(SERVER_BIN)
	$(Q)for r in $(RUNNERS); do $(call run_unit,,$$r,$(TEST_TIMEOUT),); done

# Large frames over the host's huge pages: the hugetlb cases of check_section, with a few huge
# pages reserved for the run (root) and given back.  Skipped, saying why, where they cannot be.
HUGETLB_PAGES ?= 4
check-hugetlb: $(RUNNERS) $(SERVER_BIN)
	$(Q)echo "== hugetlb cases of $(B)/ntdll_side/tests/check_ntdll_side"; \
	tools/with-huge-pages $(HUGETLB_PAGES) env $(TEST_ENV) AWE_TEST_HUGETLB=1 CK_RUN_SUITE=section \
	    CK_RUN_CASE=hugetlb timeout -k 10 $(TEST_TIMEOUT) $(B)/ntdll_side/tests/check_ntdll_side; \
	rc=$$?; if [ $$rc != 0 ] && [ $$rc != 77 ]; then exit $$rc; fi

check-conformance: $(WINETEST_BIN) $(SERVER_BIN)
	$(Q)echo "== $(WINETEST_BIN)"; $(call run_conformance,,,$(WINETEST_BIN),$(SERVER_BIN),$(TEST_TIMEOUT))

# 32-bit clients of the 64-bit server: libawe and the conformance tests built with -m32 in
# $(BUILDDIR)/m32 (not the unit tests: Check is not installed for i386), run against
# $(SERVER_BIN).  make check-m32 installs gcc-multilib when it lacks it, like any target;
# make check (M32_OPTIONAL=1) does not, and skips, saying why, where $(CC) -m32 cannot link.
M32_DIR  := $(BUILDDIR)/m32
M32_BIN  := $(M32_DIR)/winetests/awe_test
M32_CC   := $(CC) -m32
M32_NEED := $(if $(filter 1,$(M32_OPTIONAL)),,$(if $(filter default,$(origin CC)), \
                 $(call need_packages,gcc-multilib,32-bit build)))
M32_PROBE = printf 'int main(void) { return 0; }\n' | $(M32_CC) -x c -o /dev/null - > /dev/null 2>&1

.PHONY: check-m32
check-m32: $(SERVER_BIN) | $(M32_NEED)
	$(Q)echo "== $(M32_BIN) (32-bit) against $(SERVER_BIN)"; \
	if [ "$(M32_OPTIONAL)" = 1 ] && ! $(M32_PROBE); then \
	    echo "skipped (77): $(M32_CC) cannot link a program here (gcc-multilib missing?)"; exit 0; \
	fi; \
	$(MAKE) --no-print-directory BUILDDIR=$(M32_DIR) CC='$(M32_CC)' SANITIZE= $(M32_BIN) || exit 1; \
	$(call run_conformance,,,$(M32_BIN),$(SERVER_BIN),$(TEST_TIMEOUT))

# --fair-sched: memcheck runs one thread at a time; round-robin turns keep the tests whose
# threads wait for each other by spinning from crawling.
VALGRIND ?= valgrind
VALGRIND_NEED := $(if $(filter valgrind,$(VALGRIND)),$(call need_packages,valgrind,memcheck))
VALGRIND_FLAGS := --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
                  --show-leak-kinds=definite --track-origins=yes --child-silent-after-fork=yes \
                  --fair-sched=yes

# One after the other (each is timing-sensitive enough not to share the CPUs with another).
valgrind: $(RUNNERS) $(WINETEST_BIN) $(SERVER_BIN) | $(VALGRIND_NEED)
	$(Q)$(MAKE) --no-print-directory valgrind-unit
	$(Q)$(MAKE) --no-print-directory valgrind-conformance
	$(Q)$(MAKE) --no-print-directory valgrind-server

valgrind-unit: $(RUNNERS) $(SERVER_BIN) | $(VALGRIND_NEED)
	$(Q)dir=$$(mktemp -d); chmod 700 $$dir; trap 'rm -rf $$dir' EXIT; \
	for r in $(RUNNERS); do \
	    $(call run_unit,$(VALGRIND) $(VALGRIND_FLAGS),$$r,$(VALGRIND_TIMEOUT), \
	                    CK_FORK=no AWE_UNDER_VALGRIND=1 AWE_SERVER_DIR=$$dir); \
	done

valgrind-conformance: $(WINETEST_BIN) $(SERVER_BIN) | $(VALGRIND_NEED)
	$(Q)echo "== valgrind $(WINETEST_BIN)"; export AWE_UNDER_VALGRIND=1 WINETEST_TIMEOUT=1200; \
	$(call run_conformance,,$(VALGRIND) $(VALGRIND_FLAGS),$(WINETEST_BIN),$(SERVER_BIN),$(VALGRIND_TIMEOUT))

valgrind-server: $(WINETEST_BIN) $(SERVER_BIN) | $(VALGRIND_NEED)
	$(Q)echo "== valgrind $(SERVER_BIN) over the conformance run"; \
	$(call run_conformance,$(VALGRIND) $(VALGRIND_FLAGS),,$(WINETEST_BIN),$(SERVER_BIN),$(VALGRIND_TIMEOUT)); \
	echo "awe-server: no memcheck errors"

# ThreadSanitizer: every unit test, instrumented.  Address randomisation is disabled for the
# run because this kernel's mmap layout can collide with TSan's fixed shadow ranges.
racecheck:
	$(Q)$(MAKE) --no-print-directory SANITIZE=thread $(BUILDDIR)/thread/server_side/awe-server \
	    $(foreach c,$(COMPONENTS),$(BUILDDIR)/thread/$(c)/tests/check_$(c))
	$(Q)set -e; for c in $(COMPONENTS); do \
	    echo "== tsan $(BUILDDIR)/thread/$$c/tests/check_$$c"; \
	    TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" AWE_UNDER_TSAN=1 \
	        AWE_SERVER=$(abspath $(BUILDDIR)/thread/server_side/awe-server) \
	        setarch $$(uname -m) -R $(BUILDDIR)/thread/$$c/tests/check_$$c; \
	done

sanitize: export ASAN_OPTIONS = detect_leaks=1
sanitize: export UBSAN_OPTIONS = halt_on_error=1:print_stacktrace=1
sanitize:
	$(Q)$(MAKE) --no-print-directory SANITIZE=address,undefined \
	    $(BUILDDIR)/address-undefined/server_side/awe-server \
	    $(foreach c,$(COMPONENTS),$(BUILDDIR)/address-undefined/$(c)/tests/check_$(c)) \
	    $(BUILDDIR)/address-undefined/winetests/awe_test
	$(Q)for r in $(foreach c,$(COMPONENTS),$(BUILDDIR)/address-undefined/$(c)/tests/check_$(c)); do \
	    $(call run_unit,,$$r,$(TEST_TIMEOUT), \
	                    AWE_SERVER=$(abspath $(BUILDDIR)/address-undefined/server_side/awe-server)); \
	done
	$(Q)echo "== asan+ubsan $(BUILDDIR)/address-undefined/winetests/awe_test"; \
	$(call run_conformance,,,$(BUILDDIR)/address-undefined/winetests/awe_test, \
	                       $(BUILDDIR)/address-undefined/server_side/awe-server,$(TEST_TIMEOUT))

demo: $(DEMO_BINS)

run: $(DEMO_BINS) $(SERVER_BIN)
	$(Q)set -e; for d in $(DEMO_BINS); do $(TEST_ENV) $$d; done

# Every benchmark appends its rows (medians; costs, lower is better) to one table, whose header
# is written here; then the map rows are plotted.  Benchmarks start private servers.
BENCH_TSV    := benchmarks/results/latest.tsv
BENCH_PLOTS  := benchmarks/results/map_throughput.svg benchmarks/results/map_throughput.png
BENCH_HEADER := case\tunit\tours\tfloor\tnaive\tours_over_floor\tnaive_over_ours

# $(1): extra options for every benchmark
define run_benchmarks
	$(Q)mkdir -p $(dir $(BENCH_TSV)) && printf '$(BENCH_HEADER)\n' > $(BENCH_TSV)
	$(Q)set -e; for b in $(BENCH_BINS); do echo "== $$b $(1)"; $(TEST_ENV) $$b $(1) --tsv $(BENCH_TSV); done
endef

define plot_benchmarks
	$(call quiet,GNUPLOT,$(word 1,$(BENCH_PLOTS)))
	$(Q)gnuplot -e "tsv='$(BENCH_TSV)'; out='$(word 1,$(BENCH_PLOTS))'" benchmarks/plot_map.gp
	$(call quiet,GNUPLOT,$(word 2,$(BENCH_PLOTS)))
	$(Q)gnuplot -e "tsv='$(BENCH_TSV)'; out='$(word 2,$(BENCH_PLOTS))'" benchmarks/plot_map.gp
endef

bench: $(BENCH_BINS) $(SERVER_BIN) | $(GNUPLOT_NEED)
	$(call run_benchmarks,)
	$(plot_benchmarks)

bench-quick: $(BENCH_BINS) $(SERVER_BIN)
	$(call run_benchmarks,--quick)
	$(if $(shell command -v gnuplot 2> /dev/null),$(plot_benchmarks),@echo "bench-quick: no gnuplot, no plot (make bench installs it)")

# ---- libraries -----------------------------------------------------------------------------

$(LIB_A): $(LIB_OBJS)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJS) $(VERSION_SCRIPT)
	$(call quiet,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libawe.so.$(SOVERSION) -Wl,--version-script=$(VERSION_SCRIPT) \
	    $(LDFLAGS) -o $@ $(LIB_OBJS) -ldl
	$(Q)ln -sf libawe.so.$(SOVERSION) $(B)/libawe.so

# The .pc file records the install paths, so it is written at install time.
PC_SED := -e 's|@prefix@|$(prefix)|g' -e 's|@libdir@|$(libdir)|g' \
          -e 's|@includedir@|$(includedir)|g' -e 's|@VERSION@|$(VERSION)|g'

# ---- objects -------------------------------------------------------------------------------

$(B)/ntdll_side/server.o: CPPFLAGS += -DAWE_BINDIR='"$(bindir)"'

$(B)/%.o: %.c | $(CC_NEED)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# ---- the engine, for hosts other than libawe -------------------------------------------------

# The core and the engine half of ntdll_side (ntdll_side/engine.h) as one static library of
# position-independent objects whose symbols stay inside whatever links them (hidden): Wine's
# ntdll links it (wine/).  make check verifies that every symbol it defines is awe_* and that
# it needs no Windows name from its host.
ENGINE_SRCS := $(CORE_SRCS) $(addprefix ntdll_side/,client.c engine.c map.c section.c server.c user.c)
ENGINE_DIR  := $(B)/engine
ENGINE_LIB  := $(ENGINE_DIR)/libawe_engine.a
ENGINE_OBJS := $(ENGINE_SRCS:%.c=$(ENGINE_DIR)/%.o)

$(ENGINE_DIR)/ntdll_side/server.o: CPPFLAGS += -DAWE_BINDIR='"$(bindir)"'

$(ENGINE_DIR)/%.o: %.c | $(CC_NEED)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(CFLAGS) -fvisibility=hidden -c -o $@ $<

$(ENGINE_LIB): $(ENGINE_OBJS)
	$(call quiet,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

.PHONY: engine check-engine
engine: $(ENGINE_LIB)

check-engine: $(ENGINE_LIB)
	$(Q)echo "== $(ENGINE_LIB): defines only awe_ symbols, needs no Windows name"; \
	bad=$$(nm -g --defined-only $(ENGINE_LIB) | awk 'NF == 3 && $$3 !~ /^awe_/ { print $$3 }'); \
	if [ -n "$$bad" ]; then echo "not awe_: $$bad"; exit 1; fi; \
	bad=$$(nm -u $(ENGINE_LIB) | awk '$$2 ~ /^[A-Z]/ { print $$2 }' | sort -u); \
	if [ -n "$$bad" ]; then echo "needs from its host: $$bad"; exit 1; fi

# ---- unit test runners ---------------------------------------------------------------------

# $(1) = component: its runner links every check_*.o of the component with the shared main.
define runner_rules
$(1)_TEST_SRCS := $$(sort $$(wildcard $(1)/tests/check_*.c))
$(1)_TEST_OBJS := $$($(1)_TEST_SRCS:%.c=$(B)/%.o) $(B)/$(1)/tests/runner_main.o
$$($(1)_TEST_OBJS): override CFLAGS += $$(CHECK_CFLAGS)
$$($(1)_TEST_OBJS) $(B)/$(1)/tests/check_$(1): | $(CHECK_NEED)

$(B)/$(1)/tests/suites.h: $$($(1)_TEST_SRCS) Makefile
	$$(call quiet,GEN,$$@)
	$$(Q)mkdir -p $$(@D) && for f in $$($(1)_TEST_SRCS); do \
	    n=$$$${f##*/check_}; echo "AWE_SUITE($$$${n%.c})"; done > $$@.tmp && mv $$@.tmp $$@

$(B)/$(1)/tests/runner_main.o: awe/tests/runner_main.c $(B)/$(1)/tests/suites.h | $(CC_NEED)
	$$(call quiet,CC,$$@)
	$$(Q)$$(CC) $$(CPPFLAGS) $$(CFLAGS) -I$(B)/$(1)/tests \
	    -DAWE_COMPONENT='"$(1)"' -c -o $$@ $$<

$(B)/$(1)/tests/check_$(1): $$($(1)_TEST_OBJS) $(LIB_A)
	$$(call quiet,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_TEST_OBJS) $(LIB_A) $$(CHECK_LIBS)
endef
$(foreach c,$(COMPONENTS),$(eval $(call runner_rules,$(c))))

# ---- valgrind's client requests -----------------------------------------------------------

# Objects that include <valgrind/*.h> when it is there differ from those built without it, and
# an installed header keeps its packaged date: a stamp naming the header, rewritten only when
# that changes, rebuilds them when make valgrind installs valgrind after a build (or it goes).
VALGRIND_H       := $(firstword $(wildcard /usr/include/valgrind/valgrind.h \
                                         /usr/local/include/valgrind/valgrind.h))
VALGRIND_H_STAMP := $(B)/valgrind-h.stamp
$(B)/ntdll_side/user.o $(ENGINE_DIR)/ntdll_side/user.o $(WINETEST_SRCS:%.c=$(B)/%.o): \
    $(VALGRIND_H_STAMP)

.PHONY: FORCE
$(VALGRIND_H_STAMP): FORCE
	$(Q)mkdir -p $(@D) && [ "$$(cat $@ 2>/dev/null)" = "header $(VALGRIND_H)" ] || \
	    echo "header $(VALGRIND_H)" > $@

# ---- conformance tests ---------------------------------------------------------------------

$(B)/winetests/testlist.c: $(WINETEST_SRCS) Makefile
	$(call quiet,GEN,$@)
	$(Q)mkdir -p $(@D) && { \
	    echo '/* Generated by the Makefile from the winetests sources; do not edit. */'; \
	    echo '#define STANDALONE'; echo '#include "winetests/test.h"'; \
	    for f in $(WINETEST_SRCS); do n=$${f##*/}; echo "extern void func_$${n%.c}(void);"; done; \
	    echo 'const struct test winetest_testlist[] = {'; \
	    for f in $(WINETEST_SRCS); do n=$${f##*/}; echo "    { \"$${n%.c}\", func_$${n%.c} },"; done; \
	    echo '    { 0, 0 }'; echo '};'; } > $@.tmp && mv $@.tmp $@

$(B)/winetests/testlist.o: $(B)/winetests/testlist.c | $(CC_NEED)
	$(call quiet,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(WINETEST_BIN): $(WINETEST_SRCS:%.c=$(B)/%.o) $(B)/winetests/testlist.o $(LIB_A)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_A)

# ---- conformance tests for Windows ---------------------------------------------------------

# make winetests-mingw: the same tests built by mingw-w64 against the Windows SDK headers into
# $(BUILDDIR)/mingw/awe_test.exe, to run on Windows.  It installs the cross compiler like any
# package (MINGW_CC=another compiler: that one, not installed), and fails without it.
MINGW_CC     ?= x86_64-w64-mingw32-gcc
MINGW_DIR    := $(BUILDDIR)/mingw
MINGW_BIN    := $(MINGW_DIR)/awe_test.exe
MINGW_OBJS   := $(WINETEST_SRCS:%.c=$(MINGW_DIR)/%.o) $(MINGW_DIR)/winetests/testlist.o
MINGW_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes \
                -Wmissing-prototypes -Wpointer-arith -Wno-unused-parameter -I. -MMD -MP \
                $(if $(filter 1,$(WERROR)),-Werror)

MINGW_NEED   := $(if $(filter x86_64-w64-mingw32-gcc,$(MINGW_CC)), \
                     $(call need_packages,gcc-mingw-w64-x86-64,Windows build))

.PHONY: winetests-mingw
winetests-mingw: $(MINGW_BIN)

$(MINGW_DIR)/winetests/%.o: winetests/%.c | $(MINGW_NEED)
	$(call quiet,MINGWCC,$@)
	$(Q)mkdir -p $(@D) && $(MINGW_CC) $(MINGW_CFLAGS) -c -o $@ $<

$(MINGW_DIR)/winetests/testlist.o: $(B)/winetests/testlist.c | $(MINGW_NEED)
	$(call quiet,MINGWCC,$@)
	$(Q)mkdir -p $(@D) && $(MINGW_CC) $(MINGW_CFLAGS) -c -o $@ $<

$(MINGW_BIN): $(MINGW_OBJS)
	$(call quiet,MINGWLD,$@)
	$(Q)$(MINGW_CC) -o $@ $^ -lntdll

# ---- programs ------------------------------------------------------------------------------

$(B)/demo/%: $(B)/demo/%.o $(LIB_A)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(B)/benchmarks/%: $(B)/benchmarks/%.o $(LIB_A)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

$(SERVER_BIN): $(SERVER_SRCS:%.c=$(B)/%.o) $(LIB_A)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

# ---- install -------------------------------------------------------------------------------

install: $(LIB_A) $(LIB_SO) $(SERVER_BIN)
	$(call quiet,INSTALL,$(DESTDIR)$(prefix))
	$(Q)install -d $(DESTDIR)$(bindir) $(DESTDIR)$(libdir) $(DESTDIR)$(includedir)/awe $(DESTDIR)$(pkgconfigdir)
	$(Q)install -m 755 $(SERVER_BIN) $(DESTDIR)$(bindir)/awe-server
	$(Q)install -m 644 $(LIB_A) $(DESTDIR)$(libdir)/libawe.a
	$(Q)install -m 755 $(LIB_SO) $(DESTDIR)$(libdir)/libawe.so.$(SOVERSION)
	$(Q)ln -sf libawe.so.$(SOVERSION) $(DESTDIR)$(libdir)/libawe.so
	$(Q)install -m 644 $(CORE_HEADERS) $(DESTDIR)$(includedir)/awe/
	$(Q)$(if $(PUB_HEADERS),install -m 644 $(PUB_HEADERS) $(DESTDIR)$(includedir)/)
	$(Q)sed $(PC_SED) awe.pc.in > $(DESTDIR)$(pkgconfigdir)/awe.pc && chmod 644 $(DESTDIR)$(pkgconfigdir)/awe.pc

uninstall:
	$(call quiet,RM,$(DESTDIR)$(prefix))
	$(Q)rm -f $(DESTDIR)$(bindir)/awe-server $(DESTDIR)$(libdir)/libawe.a $(DESTDIR)$(libdir)/libawe.so \
	    $(DESTDIR)$(libdir)/libawe.so.$(SOVERSION) $(DESTDIR)$(pkgconfigdir)/awe.pc \
	    $(addprefix $(DESTDIR)$(includedir)/awe/,$(notdir $(CORE_HEADERS))) \
	    $(addprefix $(DESTDIR)$(includedir)/,$(notdir $(PUB_HEADERS)))
	$(Q)rmdir $(DESTDIR)$(includedir)/awe 2>/dev/null || true

clean:
	$(call quiet,CLEAN,$(BUILDDIR))
	$(Q)rm -rf $(BUILDDIR)

distclean: clean

# Objects of single-file programs are intermediate to make; keep them between builds.
.SECONDARY:

include chaos/chaos.mk
include wine/wine.mk

-include $(shell find $(B) -path $(WINE_SRC) -prune -o -name '*.d' -type f -print 2>/dev/null)
include fuzz/fuzz.mk

-include $(shell find $(B) -name '*.d' 2>/dev/null)
