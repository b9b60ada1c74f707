# SPDX-License-Identifier: MIT
# wsc - build, test, fuzz and bench. `make help` lists the targets.
#
# Everything is found by wildcard, so adding a file needs no edit here:
#   src/{common,proto,engine,net,native}/*.c -> $(BUILD)/libwsc.a, $(BUILD)/libwsc.so
#   tests/unit/*.c                 -> one C test program each, run by `make test`
#   tests/progs/*.c                -> helper programs the node tests spawn
#   tests/interop/*.test.mjs       -> node --test suites (WSC_BUILD = build dir)
#   tests/fuzz/*.c                 -> libFuzzer targets (corpus: tests/fuzz/corpus/NAME)
#   examples/*.c, bench/*.c        -> programs in $(BUILD)/examples, $(BUILD)/bench
#
# `make install PREFIX=/usr/local` (also DESTDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR,
# CMAKEDIR, BINDIR, MANDIR) installs wsc.h, libwsc.a, libwsc.so.$(VERSION) with
# its symlinks, wsc.pc (from wsc.pc.in), the CMake package (wscConfig.cmake and
# wscConfigVersion.cmake from their .in files: targets wsc::wsc and
# wsc::wsc_static), the wsc tool and its man page, and the library's man pages
# (include/man3, section 3);
# `make uninstall` with the same variables removes them.

SHELL   := /bin/bash
CC      ?= cc
BUILD   ?= build/native
SAN     ?=
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS_ALL := -Iinclude -Isrc -D_GNU_SOURCE
CFLAGS_ALL := -std=c11 $(WARN) -fPIC -pthread -fvisibility=hidden $(CFLAGS)
LDLIBS  := -lssl -lcrypto -lz -lpthread
ifeq ($(SAN),1)
CFLAGS_ALL += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC  := $(wildcard src/common/*.c src/proto/*.c src/engine/*.c src/net/*.c src/native/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/*.c))
PROGS    := $(patsubst tests/progs/%.c,$(BUILD)/tests/progs/%,$(wildcard tests/progs/*.c))
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
BENCHES  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
FUZZERS  := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/*.c))
FUZZ_SECONDS ?= 60

# Installation. The version is WSC_VERSION_STRING in include/wsc.h; the
# soname carries its major number.
VERSION := $(shell sed -n 's/^.define WSC_VERSION_STRING "\(.*\)"/\1/p' include/wsc.h)
SONAME  := libwsc.so.$(firstword $(subst ., ,$(VERSION)))
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/wsc
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man

.PHONY: all lib test check deflate-full fuzz fuzz-regress examples bench deps demo demo-echo demo-build clean help wasm wasm-flags wasm-progs wasm-check tsan-check
.PHONY: install uninstall install-check man
.PHONY: npm-check
.DEFAULT_GOAL := all

all: lib $(BUILD)/wsc
lib: $(BUILD)/libwsc.a $(BUILD)/libwsc.so

help:
	@echo "make            build $(BUILD)/libwsc.a and libwsc.so"
	@echo "make demo       install what is missing, build and serve the web chat demo (PORT=8080)"
	@echo "make demo-echo  run the example echo server and client"
	@echo "make test       install what is missing, then run every test (plain and ASan+UBSan builds)"
	@echo "make examples   build the examples into $(BUILD)/examples"
	@echo "make bench      run the benchmarks and print the tables"
	@echo "make fuzz       run every fuzz target for FUZZ_SECONDS (default 60) each"
	@echo "make deflate-full  our client against ws in all 128 deflate parameter combinations (make test runs 20)"
	@echo "make install    install header, libraries, wsc.pc, the CMake package and man pages under PREFIX (default /usr/local; DESTDIR too)"
	@echo "make man        regenerate include/man3 (the library's man pages) from include/wsc.h"
	@echo "make uninstall  remove what make install put there (same PREFIX, DESTDIR)"
	@echo "make clean      remove build/"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

-include $(LIB_OBJ:.o=.d)

$(BUILD)/libwsc.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libwsc.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# wsc.pc names libdir and includedir relative to ${prefix} when they are under it.
PC_SED := -e 's|@VERSION@|$(VERSION)|' -e 's|@PREFIX@|$(PREFIX)|' \
          -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
          -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|'
CMAKE_SED := -e 's|@VERSION@|$(VERSION)|' -e 's|@SONAME@|$(SONAME)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
             -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
             -e "s|@SIZEOF_VOID_P@|$$(echo __SIZEOF_POINTER__ | $(CC) -E -P - | tail -n 1)|"
LIB_FILES := libwsc.a libwsc.so.$(VERSION) $(SONAME) libwsc.so
# The library's man pages, generated from include/wsc.h by `make man`
# (scripts/man.mjs) and kept in git; make test checks they still match.
MAN3 := $(wildcard include/man3/*.3)
man:
	node scripts/man.mjs

install: lib $(BUILD)/wsc
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	           $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BUILD)/wsc $(DESTDIR)$(BINDIR)/wsc
	install -m 644 src/cli/wsc.1 $(DESTDIR)$(MANDIR)/man1/wsc.1
	install -d $(DESTDIR)$(MANDIR)/man3
	install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/
	install -m 644 include/wsc.h $(DESTDIR)$(INCLUDEDIR)/wsc.h
	install -m 644 $(BUILD)/libwsc.a $(DESTDIR)$(LIBDIR)/libwsc.a
	install -m 755 $(BUILD)/libwsc.so $(DESTDIR)$(LIBDIR)/libwsc.so.$(VERSION)
	ln -sfn libwsc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libwsc.so
	sed $(PC_SED) wsc.pc.in > $(BUILD)/wsc.pc
	install -m 644 $(BUILD)/wsc.pc $(DESTDIR)$(PKGCONFIGDIR)/wsc.pc
	install -d $(DESTDIR)$(CMAKEDIR)
	sed $(CMAKE_SED) wscConfig.cmake.in > $(BUILD)/wscConfig.cmake
	sed $(CMAKE_SED) wscConfigVersion.cmake.in > $(BUILD)/wscConfigVersion.cmake
	install -m 644 $(BUILD)/wscConfig.cmake $(BUILD)/wscConfigVersion.cmake $(DESTDIR)$(CMAKEDIR)/

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/wsc.h $(DESTDIR)$(PKGCONFIGDIR)/wsc.pc \
	      $(DESTDIR)$(BINDIR)/wsc $(DESTDIR)$(MANDIR)/man1/wsc.1 \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN3))) \
	      $(DESTDIR)$(CMAKEDIR)/wscConfig.cmake $(DESTDIR)$(CMAKEDIR)/wscConfigVersion.cmake \
	      $(addprefix $(DESTDIR)$(LIBDIR)/,$(LIB_FILES))

# Programs link the static library so they run from the build tree.
$(BUILD)/tests/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libwsc.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(LDFLAGS) $< -o $@ $(BUILD)/libwsc.a $(LDLIBS)
$(BUILD)/tests/progs/%: tests/progs/%.c $(BUILD)/libwsc.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(LDFLAGS) $< -o $@ $(BUILD)/libwsc.a $(LDLIBS)
$(BUILD)/examples/%: examples/%.c $(wildcard examples/*.h) $(BUILD)/libwsc.a
	@mkdir -p $(dir $@)
	$(CC) -Iinclude $(CFLAGS_ALL) $(LDFLAGS) $< -o $@ $(BUILD)/libwsc.a $(LDLIBS)
$(BUILD)/bench/%: bench/%.c $(wildcard bench/*.h) $(BUILD)/libwsc.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -O3 $(LDFLAGS) $< -o $@ $(BUILD)/libwsc.a $(LDLIBS)
# The wsc command-line tool (src/cli, man page src/cli/wsc.1): public API only.
$(BUILD)/wsc: $(CLI_SRC) $(wildcard src/cli/*.h) $(BUILD)/libwsc.a
	@mkdir -p $(dir $@)
	$(CC) -Iinclude $(CFLAGS_ALL) $(LDFLAGS) $(CLI_SRC) -o $@ $(BUILD)/libwsc.a $(LDLIBS)

# The libuv example links libuv (libuv1-dev, installed by scripts/deps.sh).
$(BUILD)/examples/libuv_echo_server: LDLIBS += $(shell pkg-config --libs libuv 2>/dev/null || echo -luv)

examples: $(EXAMPLES)

# The README's first command: the web chat demo (web-demo/), served on PORT.
PORT ?= 8080
demo:
	@bash scripts/demo_chat.sh $(PORT)

# The echo example end to end.
demo-echo:
	@bash scripts/demo_echo.sh

# The chat demo's native server (web-demo/server) and wasm client
# (web-demo/client -> build/demo/www/chat.js + chat.wasm, no Asyncify).
# With hiredis (scripts/deps.sh installs it) the server can share its room
# through Redis (--redis); without, it is built with that option refusing.
DEMO_SERVER_SRC := $(wildcard web-demo/server/*.c)
HIREDIS_FLAGS := $(shell pkg-config --cflags --libs hiredis 2>/dev/null || echo -DCHAT_NO_REDIS)
$(BUILD)/demo/chat_server: $(DEMO_SERVER_SRC) $(wildcard web-demo/server/*.h) $(BUILD)/libwsc.a
	@mkdir -p $(dir $@)
	$(CC) -Iinclude $(CFLAGS_ALL) $(LDFLAGS) $(DEMO_SERVER_SRC) -o $@ $(BUILD)/libwsc.a $(LDLIBS) $(HIREDIS_FLAGS)

deps:
	@bash scripts/deps.sh

# `make test`: the README's test command. Installs what is missing, then runs
# the whole suite (after checking every source file has its SPDX licence
# line) on the normal build (and the install check) and again under
# ASan + UBSan, replays the fuzz corpora, and runs the wasm tests in Node
# and Chromium. The ws deflate matrix runs its pairwise-covering subset (20
# runs) in both passes; `make deflate-full` runs the full product (128).
# Each step builds what it needs on every core (-j), then runs its tests
# one at a time (each step's tests are one recipe).
JOBS := $(shell nproc 2>/dev/null || echo 2)
test: deps
	@bash scripts/check_spdx.sh
	@node scripts/man.mjs --check
	@$(MAKE) --no-print-directory -j$(JOBS) check BUILD=build/native
	@$(MAKE) --no-print-directory -j$(JOBS) install-check BUILD=build/native
	@$(MAKE) --no-print-directory -j$(JOBS) check BUILD=build/asan SAN=1
	@$(MAKE) --no-print-directory -j$(JOBS) tsan-check
	@$(MAKE) --no-print-directory -j$(JOBS) fuzz-regress
	@$(MAKE) --no-print-directory -j$(JOBS) wasm-check
	@$(MAKE) --no-print-directory -j$(JOBS) npm-check
	@echo "make test: all passed"

check: lib $(BUILD)/wsc $(UNIT) $(PROGS) $(EXAMPLES)
	@echo "== unit tests ($(BUILD))"
	@for t in $(UNIT); do echo "-- $$t"; $$t || exit 1; done
	@echo "== interop tests ($(BUILD))"
	WSC_BUILD=$(BUILD) WSC_DEFLATE_PAIRWISE=1 \
	    node --test --test-reporter=spec --test-concurrency=1 tests/interop/

# Our client against a ws server in all 128 combinations of ws's deflate
# parameters and our modes (about 45 s), with the rest of deflate.test.mjs.
deflate-full: lib $(PROGS)
	WSC_BUILD=$(BUILD) WSC_DEFLATE_PAIRWISE=0 node --test --test-reporter=spec tests/interop/deflate.test.mjs

# make install into a temporary prefix, build and run a pkg-config consumer
# against it (shared and static), make uninstall (tests/install/run.sh).
install-check: lib $(BUILD)/tests/progs/echo_server
	@bash tests/install/run.sh $(BUILD)

# ThreadSanitizer (clang) over the unit tests that use threads.
TSAN_TESTS := build/tsan/test_concurrency build/tsan/test_partial_write build/tsan/test_dial_nonblocking \
              build/tsan/test_write_errors build/tsan/test_stream_fd build/tsan/test_accept_nonblocking \
              build/tsan/test_close_start build/tsan/test_writer_nowait build/tsan/test_tls13 \
              build/tsan/test_buffered_amount build/tsan/test_group build/tsan/test_heartbeat \
              build/tsan/test_accept_hook build/tsan/test_prepared build/tsan/test_cork \
              build/tsan/test_tls_resume
build/tsan/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS_ALL) -std=c11 -g -O1 -fsanitize=thread $< $(LIB_SRC) -o $@ $(LDLIBS)

tsan-check: $(TSAN_TESTS)
	@echo "== unit tests under ThreadSanitizer"
	@for t in $(TSAN_TESTS); do echo "-- $$t"; TSAN_OPTIONS=halt_on_error=1 $$t || exit 1; done

# Fuzzing needs clang's libFuzzer. fuzz-regress replays the seed corpus only.
build/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS_ALL) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $< $(LIB_SRC) -o $@ $(LDLIBS)

fuzz-regress: $(FUZZERS)
	@echo "== fuzz targets over their seed corpus"
	@for f in $(FUZZERS); do n=$$(basename $$f); echo "-- $$n"; \
	  $$f -runs=0 tests/fuzz/corpus/$$n >/dev/null 2>build/fuzz/$$n.log || { cat build/fuzz/$$n.log; exit 1; }; done

fuzz: $(FUZZERS)
	@for f in $(FUZZERS); do n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
	  echo "== fuzzing $$n for $(FUZZ_SECONDS)s (new inputs go to build/fuzz/corpus/$$n)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' || exit 1; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; done

# ---- wasm backend (emcc from Debian's emscripten; see README "In the browser")
EMCC      ?= emcc
EMAR      ?= emar
WASM_ENV  := NODE_PATH=/usr/share/nodejs
WASM_SRC  := $(wildcard src/common/*.c src/wasm/*.c)
WASM_OBJ  := $(WASM_SRC:%.c=build/wasm/obj/%.o)
WASM_MT_OBJ := $(WASM_SRC:%.c=build/wasm/obj-mt/%.o)
WASM_LTO_OBJ := $(WASM_SRC:%.c=build/wasm/obj-lto/%.o)
WASM_CFLAGS := -std=c11 $(WARN) -Oz
# What an app adds to its emcc link line; WASM_ASYNCIFY only for blocking calls.
WASM_LINK := -Iinclude build/wasm/libwsc.a --js-library js/library_wsc.js
WASM_ASYNCIFY := -sASYNCIFY -sASYNCIFY_IMPORTS='["wsc_js_wait"]'
# Blocking calls on a Worker thread instead: libwsc-mt.a, main() on a pthread.
WASM_PTHREAD := -pthread -sPROXY_TO_PTHREAD -sENVIRONMENT=web,worker,node -Wno-pthreads-mem-growth

# -MMD: an object is rebuilt when a header it includes changes (a struct
# that grew, say), as the native objects are.
build/wasm/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(WASM_ENV) $(EMCC) $(CPPFLAGS_ALL) $(WASM_CFLAGS) -MMD -MP -c $< -o $@

build/wasm/obj-mt/%.o: %.c
	@mkdir -p $(dir $@)
	$(WASM_ENV) $(EMCC) $(CPPFLAGS_ALL) $(WASM_CFLAGS) -pthread -MMD -MP -c $< -o $@

# libwsc-lto.a holds LLVM bitcode: an app compiled and linked with -flto
# has wsc's code optimized with its own (its constant options prune
# branches), about 500 bytes less gzipped. Readable by emcc's clang 14 and
# later.
build/wasm/obj-lto/%.o: %.c
	@mkdir -p $(dir $@)
	$(WASM_ENV) $(EMCC) $(CPPFLAGS_ALL) $(WASM_CFLAGS) -flto -MMD -MP -c $< -o $@
-include $(WASM_OBJ:.o=.d) $(WASM_MT_OBJ:.o=.d) $(WASM_LTO_OBJ:.o=.d)

build/wasm/libwsc.a: $(WASM_OBJ)
	@rm -f $@
	$(WASM_ENV) $(EMAR) rcs $@ $^

build/wasm/libwsc-mt.a: $(WASM_MT_OBJ)
	@rm -f $@
	$(WASM_ENV) $(EMAR) rcs $@ $^

build/wasm/libwsc-lto.a: $(WASM_LTO_OBJ)
	@rm -f $@
	$(WASM_ENV) $(EMAR) rcs $@ $^

wasm: build/wasm/libwsc.a build/wasm/libwsc-mt.a build/wasm/libwsc-lto.a

# Wasm test programs: portable C from tests/progs, tests/wasm and the client
# examples, each built twice: NAME.js with Asyncify, NAME.sync.js without;
# the blocking ones a third time, NAME.mt.js with -pthread (main() on a
# Worker, NAME.mt.worker.js beside it).
# Run in Node with `node --no-experimental-fetch build/wasm/progs/NAME.js ARGS`.
WASM_PROG_FLAGS := -Oz -sENVIRONMENT=web,node -sEXIT_RUNTIME=1 -sALLOW_MEMORY_GROWTH=1
WASM_PROG_SRC := tests/progs/client.c tests/progs/read_client.c $(wildcard tests/wasm/*.c) \
                 $(filter %_client.c,$(wildcard examples/*.c))
WASM_MT_PROG_SRC := $(filter-out tests/wasm/event_client.c tests/wasm/frame_loop_client.c,$(WASM_PROG_SRC))
WASM_PROGS := $(foreach f,$(WASM_PROG_SRC),build/wasm/progs/$(basename $(notdir $(f))).js \
                                           build/wasm/progs/$(basename $(notdir $(f))).sync.js) \
              $(foreach f,$(WASM_MT_PROG_SRC),build/wasm/progs/$(basename $(notdir $(f))).mt.js)
WASM_DEPS := build/wasm/libwsc.a build/wasm/libwsc-mt.a js/library_wsc.js
wasm_link = @mkdir -p $(dir $@) && $(WASM_ENV) $(EMCC) -Iinclude $(WASM_PROG_FLAGS) $(1) $< \
            $(if $(findstring pthread,$(1)),build/wasm/libwsc-mt.a,build/wasm/libwsc.a) \
            --js-library js/library_wsc.js -o $@

build/wasm/progs/%.sync.js: tests/progs/%.c $(WASM_DEPS) ; $(call wasm_link,)
build/wasm/progs/%.sync.js: tests/wasm/%.c $(WASM_DEPS) ; $(call wasm_link,)
build/wasm/progs/%.sync.js: examples/%.c $(WASM_DEPS) ; $(call wasm_link,)
build/wasm/progs/%.mt.js: tests/progs/%.c $(WASM_DEPS) ; $(call wasm_link,$(WASM_PTHREAD))
build/wasm/progs/%.mt.js: tests/wasm/%.c $(WASM_DEPS) ; $(call wasm_link,$(WASM_PTHREAD))
build/wasm/progs/%.mt.js: examples/%.c $(WASM_DEPS) ; $(call wasm_link,$(WASM_PTHREAD))
build/wasm/progs/%.js: tests/progs/%.c $(WASM_DEPS) ; $(call wasm_link,$(WASM_ASYNCIFY))
build/wasm/progs/%.js: tests/wasm/%.c $(WASM_DEPS) ; $(call wasm_link,$(WASM_ASYNCIFY))
build/wasm/progs/%.js: examples/%.c $(WASM_DEPS) ; $(call wasm_link,$(WASM_ASYNCIFY))

wasm-progs: $(WASM_PROGS)

# The chat demo's browser client: exports what web-demo/www/app.js calls.
DEMO_WASM_FLAGS := -Oz -sENVIRONMENT=web -sALLOW_MEMORY_GROWTH=1 \
  -sEXPORTED_FUNCTIONS='["_chat_connect","_chat_send","_chat_poll","_malloc","_free"]' \
  -sEXPORTED_RUNTIME_METHODS='["UTF8ToString","stringToUTF8","lengthBytesUTF8"]'
build/demo/www/chat.js: web-demo/client/chat_client.c $(WASM_DEPS)
	@mkdir -p $(dir $@)
	$(WASM_ENV) $(EMCC) -std=c11 $(WARN) $(DEMO_WASM_FLAGS) $< $(WASM_LINK) -o $@
demo-build: $(BUILD)/demo/chat_server build/demo/www/chat.js

# The wasm tests (tests/wasm/*.test.mjs) run the programs in Node and in
# Chromium against our native servers and npm ws; demo.test.mjs drives the
# chat demo (and rewrites web-demo/screenshot.png); demo_hostile.test.mjs
# sends hostile clients to the chat server and the example echo server.
wasm-check: wasm-progs demo-build $(patsubst examples/%.c,build/native/examples/%,$(wildcard examples/*_server.c))
	@echo "== wasm tests"
	WSC_BUILD=build/native WSC_WASM=build/wasm node --test --test-reporter=spec --test-concurrency=1 tests/wasm/

wasm-flags:
	@echo "compile: -I$(CURDIR)/include"
	@echo "link:    $(CURDIR)/build/wasm/libwsc.a --js-library $(CURDIR)/js/library_wsc.js"
	@echo "blocking calls (timeout_ms != 0) on the main thread also need: -sASYNCIFY -sASYNCIFY_IMPORTS='[\"wsc_js_wait\"]'"
	@echo "or blocking calls on a Worker thread (pages need COOP/COEP headers), link instead:"
	@echo "         $(CURDIR)/build/wasm/libwsc-mt.a --js-library $(CURDIR)/js/library_wsc.js -pthread -sPROXY_TO_PTHREAD -sEXIT_RUNTIME=1"
	@echo "         (and compile with -pthread)"
	@echo "optional, 6 KB less wasm: -sMALLOC=emmalloc"
	@echo "smallest (with or without Asyncify, not -pthread): compile with -flto and link instead"
	@echo "         $(CURDIR)/build/wasm/libwsc-lto.a --js-library $(CURDIR)/js/library_wsc.js -flto -sMALLOC=emmalloc"

# The npm package (package.json "files", emcc-flags.js) as a consumer uses it:
# npm pack, install the tarball offline, build tests/npm/echo_client.c with
# emcc from the installed flags only, run it in Node against echo_server.
npm-check: build/wasm/libwsc.a build/native/tests/progs/echo_server
	@echo "== npm package"
	bash tests/npm/run.sh

bench: deps lib $(BUILD)/wsc $(BUILD)/examples/echo_server $(BUILD)/demo/chat_server $(BENCHES)
	@bash bench/run.sh $(BUILD)

clean:
	rm -rf build
