# SPDX-License-Identifier: LGPL-2.1-or-later
# chaos/chaos.mk: the chaos suite, included by the top-level Makefile.
#
#   make chaos   build the suite and run it against a server of its own (about 1-2 minutes)
#
# The suite reads these from the environment (make passes command-line variables on):
#   CHAOS_SECONDS=75         time budget of the timed phases (the run takes somewhat longer)
#   CHAOS_SEED=0x...         replay a run (every run prints its seed)
#   CHAOS_PHASES=kill,forge  run some phases only (kill hostile tamper forge traffic emfile stop, or 1-7)
#   CHAOS_CLIENT_DEADLINE=5  seconds a library call to a stopped server may take before it fails
#                            (its clients get it as AWE_SERVER_TIMEOUT unless that is set)
#   CHAOS_ACK_DEADLINE=5     seconds a cross-process Free may take (the server's ack timeout + slack)
#   CHAOS_PROBE_DEADLINE=5   seconds a well-behaved Allocate+Map+Free round trip may take
#   CHAOS_LIMIT_MB=256       the server's --limit
#   CHAOS_VERBOSE=1          say more
# CHAOS_TIMEOUT (seconds, default 600) bounds the whole run: a hang of the suite itself fails it.

CHAOS_SRCS    := $(sort $(wildcard chaos/*.c))
CHAOS_BIN     := $(B)/chaos/chaos
CHAOS_TIMEOUT ?= 600
CHAOS_VARS    := CHAOS_SECONDS CHAOS_SEED CHAOS_PHASES CHAOS_CLIENT_DEADLINE CHAOS_ACK_DEADLINE \
                 CHAOS_PROBE_DEADLINE CHAOS_LIMIT_MB CHAOS_VERBOSE
export $(CHAOS_VARS)

.PHONY: chaos

# A private instance directory; the suite starts and stops the server itself (and kills it if
# the suite dies: the server's pid is in the directory).  The server's log is shown on failure.
chaos: $(CHAOS_BIN) $(SERVER_BIN)
	$(Q)dir=$$(mktemp -d); chmod 700 $$dir; \
	timeout -k 10 $(CHAOS_TIMEOUT) $(CHAOS_BIN) --server=$(abspath $(SERVER_BIN)) --dir=$$dir; rc=$$?; \
	if [ $$rc = 124 ] || [ $$rc = 137 ]; then echo "chaos: the suite itself did not finish within $(CHAOS_TIMEOUT) s"; fi; \
	for f in $$(find $$dir -name server.pid); do kill -9 $$(cat $$f) 2> /dev/null; done; \
	if [ $$rc != 0 ] && [ -f $$dir/server.log ]; then \
	    echo "== the last lines of the server's log"; tail -n 15 $$dir/server.log; fi; \
	rm -rf $$dir; exit $$rc

$(CHAOS_BIN): $(CHAOS_SRCS:%.c=$(B)/%.o) $(LIB_A)
	$(call quiet,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_A)
