# SPDX-License-Identifier: LGPL-2.1-or-later
# wine/wine.mk: AWE inside Wine (included by the top-level Makefile; wine/README.md explains it).
#
#   make wine         Debian's Wine 8.0 source with Debian's patches and then wine/patches/*.patch,
#                     the modules the series touches built, and the overlay $(WINE_OUT) of the
#                     installed Wine with those modules; its launcher is $(WINE_OUT)/bin/wine
#   make wine-check   the mingw-built conformance tests under the overlay (must report 0
#                     failures), then under Debian's stock Wine (failures listed, not fatal);
#                     then wine/apiset's program, importing through the API set names, the same way
#   make wine-run     the demo, built with mingw, under the overlay
#   make wine-devtree a git tree of the patched source for writing patches ($(WINE_SRC)/dev)
#
# Every step of make wine keeps a stamp keyed on its inputs (wine/build-wine.sh), so that a
# second run with nothing changed takes seconds.

WINE_SRC     := $(BUILDDIR)/wine-src
WINE_OUT     := $(BUILDDIR)/wine
WINE_PATCHES := $(sort $(wildcard wine/patches/*.patch))

# The Debian packages make wine and make wine-check need, in one place (issue 11's installer
# can take this list as it is): the Wine runtime the overlay is laid over, the tools that
# fetch, unpack and generate the source package, Wine's build dependencies for the modules
# built here, and the cross compiler for Wine's PE modules and the test programs.
WINE_PACKAGES := wine64 libwine dpkg-dev gcc make patch perl xz-utils autoconf autotools-dev flex bison \
                 libxml-libxml-perl unicode-data khronos-api libvulkan-dev gcc-mingw-w64-x86-64

# Configure as Debian does (its install paths: a self-built ntdll.so crashes inside Debian's
# runtime otherwise), 64-bit only, without every optional library: the modules built here
# need none of them.
WINE_CONFIGURE_FLAGS := --enable-win64 --disable-tests --prefix=/usr \
    --libdir=/usr/lib/x86_64-linux-gnu/wine --bindir=/usr/lib/wine \
    --datarootdir=/usr/share/wine --includedir=/usr/include/wine \
    $(addprefix --without-,x freetype gstreamer pulse alsa cups dbus gnutls sane v4l2 vulkan \
        opengl krb5 netapi pcap usb udev unwind gphoto capi sdl osmesa oss fontconfig inotify \
        coreaudio gettext gssapi opencl xinerama xrandr xrender xshape xshm xxf86vm \
        xcomposite xcursor xfixes xinput xinput2)

# The engine link hook (wine/build-wine.sh, patch 0005): what the lead's engine rule sets.
#   WINE_NTDLL_EXTRA_LIBS     objects and libraries added to ntdll.so's link, after its own
#                             objects ($(AWE_ENGINE_LIBS) in the patched dlls/ntdll/Makefile.in);
#                             ntdll.so is relinked whenever this list or a file in it changes
#   WINE_NTDLL_EXTRA_CFLAGS   flags for compiling dlls/ntdll/unix/awe.c ($(AWE_ENGINE_CFLAGS)),
#                             such as -I$(abspath .) for the embedding interface's header
#   WINE_NTDLL_EXTRA_HEADERS  files outside Wine's tree that awe.c includes: unix/awe.o is
#                             rebuilt when one changes (makedep does not see them)
#   WINE_NTDLL_EXTRA_DEPS     make prerequisites of make wine (the rule building the library)
# For example: WINE_NTDLL_EXTRA_LIBS = $(WINE_ENGINE_LIB), WINE_NTDLL_EXTRA_DEPS = $(WINE_ENGINE_LIB).
# ntdll.so links the project's AWE engine (the Makefile's make engine: ntdll_side/engine.h), and
# unix/awe.c includes its embedding interface.
WINE_NTDLL_EXTRA_LIBS    ?= $(ENGINE_LIB)
WINE_NTDLL_EXTRA_CFLAGS  ?= -I$(abspath .)
WINE_NTDLL_EXTRA_HEADERS ?= ntdll_side/engine.h
WINE_NTDLL_EXTRA_DEPS    ?= $(ENGINE_LIB) $(SERVER_BIN)

WINE_TIMEOUT ?= 900
MINGW_DEMO   := $(MINGW_DIR)/demo/awe_demo.exe

# wine/apiset: a program importing the memory calls through API set names, as MSVC builds do,
# against import libraries that dlltool makes from the .def files there (one per API set).
MINGW_DLLTOOL     ?= $(patsubst %gcc,%dlltool,$(MINGW_CC))
MINGW_APISET_DIR  := $(MINGW_DIR)/apiset
MINGW_APISET      := $(MINGW_APISET_DIR)/awe_apiset.exe
MINGW_APISET_LIBS := $(patsubst wine/apiset/%.def,$(MINGW_APISET_DIR)/lib%.a,$(wildcard wine/apiset/*.def))

# Files named relative to the project become absolute (Wine's make runs in its own tree);
# flags such as -lfoo stay as they are.
wine_abspaths = $(foreach f,$(1),$(if $(filter -%,$(f)),$(f),$(abspath $(f))))

WINE_ENV = WINE_PACKAGES='$(WINE_PACKAGES)' WINE_SRC_DIR='$(abspath $(WINE_SRC))' \
           WINE_OUT_DIR='$(abspath $(WINE_OUT))' WINE_PATCH_FILES='$(abspath $(WINE_PATCHES))' \
           WINE_CONFIGURE_FLAGS='$(strip $(WINE_CONFIGURE_FLAGS))' \
           WINE_NTDLL_EXTRA_LIBS='$(call wine_abspaths,$(WINE_NTDLL_EXTRA_LIBS))' \
           WINE_NTDLL_EXTRA_CFLAGS='$(WINE_NTDLL_EXTRA_CFLAGS)' \
           WINE_NTDLL_EXTRA_HEADERS='$(abspath $(WINE_NTDLL_EXTRA_HEADERS))' \
           WINE_AWE_SERVER='$(abspath $(SERVER_BIN))' WINE_JOBS=2 WINE_VERBOSE=$(V)

.PHONY: wine wine-check wine-run wine-devtree

wine: $(WINE_NTDLL_EXTRA_DEPS)
	$(Q)$(WINE_ENV) bash wine/build-wine.sh build

wine-devtree:
	$(Q)$(WINE_ENV) bash wine/build-wine.sh devtree

# The conformance exe under the overlay (it talks to a private awe-server, as make check's
# run does), then under Debian's Wine for comparison.
# The sub-makes keep the order: make wine installs the cross compiler the exe needs.
wine-check:
	$(Q)$(MAKE) --no-print-directory wine
	$(Q)$(MAKE) --no-print-directory wine-check-programs
	$(Q)WINE_OUT_DIR='$(abspath $(WINE_OUT))' WINE_PREFIX_ROOT='$(abspath $(BUILDDIR)/wine-prefix)' \
	    WINE_TIMEOUT=$(WINE_TIMEOUT) AWE_SERVER='$(abspath $(SERVER_BIN))' \
	    WINETEST_MB=$(WINETEST_MB) bash wine/run-wine.sh check '$(abspath $(MINGW_BIN))' \
	    '$(abspath $(MINGW_APISET))'

wine-run:
	$(Q)$(MAKE) --no-print-directory wine
	$(Q)$(MAKE) --no-print-directory wine-run-programs
	$(Q)WINE_OUT_DIR='$(abspath $(WINE_OUT))' WINE_PREFIX_ROOT='$(abspath $(BUILDDIR)/wine-prefix)' \
	    WINE_TIMEOUT=$(WINE_TIMEOUT) AWE_SERVER='$(abspath $(SERVER_BIN))' \
	    bash wine/run-wine.sh run '$(abspath $(MINGW_DEMO))'

# (targets of their own, so that the sub-makes say nothing when all is up to date)
.PHONY: wine-check-programs wine-run-programs
wine-check-programs: $(MINGW_BIN) $(MINGW_APISET) $(SERVER_BIN)
	@:
wine-run-programs: $(MINGW_DEMO) $(SERVER_BIN)
	@:

# The demo for Windows: the same source, built by mingw-w64 against the Windows SDK headers.
$(MINGW_DEMO): demo/awe_demo.c
	$(call quiet,MINGWCC,$@)
	$(Q)mkdir -p $(@D) && $(MINGW_CC) $(MINGW_CFLAGS) -o $@ $<

# The API set program: its imports of the .def files' names come from their import libraries,
# named before the compiler's default libraries (which have some of the same functions under
# kernel32.dll).
$(MINGW_APISET_DIR)/lib%.a: wine/apiset/%.def | $(MINGW_NEED)
	$(call quiet,DLLTOOL,$@)
	$(Q)mkdir -p $(@D) && $(MINGW_DLLTOOL) -d $< -l $@

$(MINGW_APISET): wine/apiset/awe_apiset.c $(MINGW_APISET_LIBS) | $(MINGW_NEED)
	$(call quiet,MINGWCC,$@)
	$(Q)mkdir -p $(@D) && $(MINGW_CC) $(MINGW_CFLAGS) -o $@ $< $(MINGW_APISET_LIBS)
