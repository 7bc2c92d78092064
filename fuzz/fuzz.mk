# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz/fuzz.mk: the libFuzzer harnesses, included by the top-level Makefile.
#
#   make fuzz               build every harness and run each for FUZZ_SECONDS (default 30) over
#                           a scratch copy of its seed corpus; fails on any crash, leak, timeout
#                           or sanitizer report, and prints executions, exec/s and coverage
#   make fuzz-build         only build them: $(BUILDDIR)/fuzz/fuzz_<harness>
#   make fuzz-corpus        regenerate the seed corpus and dictionaries in the tree (fuzz/corpus,
#                           fuzz/dict) from the protocol structures
#
# FUZZ_CC (clang) builds each harness and the project sources it needs in $(BUILDDIR)/fuzz/,
# with -fsanitize=fuzzer,address,undefined; it needs clang and libFuzzer's runtime (Debian:
# clang, libclang-rt-14-dev).  FUZZ_HARNESSES picks harnesses (server client shared),
# FUZZ_TIMEOUT (s) and FUZZ_RSS_MB bound one input, FUZZ_FLAGS adds libFuzzer options.
# Artifacts (crash-*, timeout-*, leak-*) go to $(BUILDDIR)/fuzz/artifacts/, never to the tree.

FUZZ_CC        ?= clang
FUZZ_SECONDS   ?= 30
FUZZ_TIMEOUT   ?= 60
FUZZ_RSS_MB    ?= 4096
FUZZ_FLAGS     ?=
FUZZ_HARNESSES ?= server client shared

FUZZ_B      := $(BUILDDIR)/fuzz
FUZZ_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Wshadow -Wno-unused-parameter \
               -I. -Iinclude -D_GNU_SOURCE -pthread -MMD -MP \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# WERROR=1 makes warnings errors in the harnesses; the project sources are held to it by the
# main build's compiler, and clang warns of things gcc does not.
FUZZ_HARNESS_CFLAGS := $(if $(filter 1,$(WERROR)),-Werror)
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined -pthread

# What each harness links, besides its own source: the core always, then the server without
# its main.c (the harness defines main.c's few globals), or the client library.
FUZZ_server_SRCS := $(CORE_SRCS) $(filter-out server_side/main.c,$(SERVER_SRCS))
FUZZ_client_SRCS := $(CORE_SRCS) $(NTDLL_SRCS)
FUZZ_shared_SRCS := $(CORE_SRCS)
# The client harness stands in for connect() (init_process replies it builds) and keeps the
# notification thread from starting (its attachments are undone at once).
FUZZ_client_LDFLAGS := -Wl,--wrap=connect -Wl,--wrap=pthread_create
# Replies and requests are at most 64 KiB; the harnesses' framing adds a little.
FUZZ_server_MAX_LEN := 70000
FUZZ_client_MAX_LEN := 70000
FUZZ_shared_MAX_LEN := 4096

FUZZ_BINS  := $(foreach h,$(FUZZ_HARNESSES),$(FUZZ_B)/fuzz_$(h))
FUZZ_OBJS  := $(sort $(foreach h,server client shared,$(FUZZ_$(h)_SRCS:%.c=$(FUZZ_B)/%.o) \
                                                       $(FUZZ_B)/fuzz/fuzz_$(h).o))
FUZZ_SEEDS := $(FUZZ_B)/make_seeds

.PHONY: fuzz fuzz-build fuzz-binaries fuzz-corpus fuzz-check-clang

fuzz-check-clang:
	@command -v $(FUZZ_CC) > /dev/null 2>&1 || { \
	    echo "make fuzz needs $(FUZZ_CC) with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev)"; exit 1; }
	@test -f "$$($(FUZZ_CC) -print-runtime-dir)/libclang_rt.fuzzer-$$(uname -m).a" || { \
	    echo "make fuzz: $(FUZZ_CC) has no libFuzzer runtime (Debian: apt-get install libclang-rt-14-dev)"; exit 1; }

fuzz-build: fuzz-check-clang
	$(Q)$(MAKE) --no-print-directory fuzz-binaries

fuzz-binaries: $(FUZZ_BINS) $(FUZZ_SEEDS)
	@:

# One harness after the other, each on one core, over a scratch copy of the tree's seeds, which
# must be what the generator writes now (the seeds follow the protocol: make fuzz-corpus).  The
# inputs of fuzz/crashes-found/ are replayed first: with their bugs steered around (or fixed)
# they must pass.
fuzz: fuzz-build
	$(Q)set -e; for h in $(FUZZ_HARNESSES); do \
	    seeds=$(FUZZ_B)/seeds/$$h; rm -rf $$seeds; mkdir -p $$seeds; \
	    $(FUZZ_SEEDS) $$h $$seeds $$seeds.dict > /dev/null; \
	    if ! diff -r -q $$seeds fuzz/corpus/$$h > /dev/null || ! cmp -s $$seeds.dict fuzz/dict/$$h.dict; then \
	        echo "  fuzz/corpus/$$h or fuzz/dict/$$h.dict is stale: run make fuzz-corpus"; exit 1; fi; \
	done
	$(Q)set -e; for h in $(FUZZ_HARNESSES); do \
	    scratch=$(FUZZ_B)/run/$$h; rm -rf $$scratch; mkdir -p $$scratch/corpus $(FUZZ_B)/artifacts; \
	    if ls fuzz/crashes-found/$$h-* > /dev/null 2>&1; then \
	        $(FUZZ_B)/fuzz_$$h fuzz/crashes-found/$$h-* > $$scratch/replay.log 2>&1 || { \
	            echo "  fuzz_$$h fails on fuzz/crashes-found/ (see $$scratch/replay.log)"; exit 1; }; \
	    fi; \
	    cp fuzz/corpus/$$h/* $$scratch/corpus/; \
	    fuzz/run-fuzzer.sh $(FUZZ_B)/fuzz_$$h $$scratch/corpus $(FUZZ_SECONDS) $$scratch/log \
	        -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) \
	        -max_len=$$(case $$h in server) echo $(FUZZ_server_MAX_LEN);; client) echo $(FUZZ_client_MAX_LEN);; \
	                               *) echo $(FUZZ_shared_MAX_LEN);; esac) \
	        $$(test -f fuzz/dict/$$h.dict && echo -dict=fuzz/dict/$$h.dict) \
	        -artifact_prefix=$(FUZZ_B)/artifacts/$$h- $(FUZZ_FLAGS); \
	done

fuzz-corpus: $(FUZZ_SEEDS)
	$(call quiet,GEN,fuzz/corpus fuzz/dict)
	$(Q)set -e; for h in server client shared; do \
	    rm -rf fuzz/corpus/$$h; mkdir -p fuzz/corpus/$$h fuzz/dict; \
	    $(FUZZ_SEEDS) $$h fuzz/corpus/$$h fuzz/dict/$$h.dict > /dev/null; \
	done

# $(1) = harness
define fuzz_rules
$(FUZZ_B)/fuzz_$(1): $$(FUZZ_$(1)_SRCS:%.c=$(FUZZ_B)/%.o) $(FUZZ_B)/fuzz/fuzz_$(1).o
	$$(call quiet,FUZZLD,$$@)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_LDFLAGS) $$(FUZZ_$(1)_LDFLAGS) -o $$@ $$^ -ldl
endef
$(foreach h,server client shared,$(eval $(call fuzz_rules,$(h))))

$(FUZZ_OBJS): $(FUZZ_B)/%.o: %.c
	$(call quiet,FUZZCC,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) $(if $(filter fuzz/%,$<),$(FUZZ_HARNESS_CFLAGS)) -c -o $@ $<

# The seed generator is an ordinary program: it needs no clang.
$(FUZZ_SEEDS): fuzz/make_seeds.c fuzz/fuzz.h awe/protocol.h
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) -std=gnu11 -O1 -g -Wall -Wextra -I. -Iinclude -D_GNU_SOURCE \
	    $(if $(filter 1,$(WERROR)),-Werror) -o $@ $<
