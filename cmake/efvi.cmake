# The efvi link (src/link/efvi.c).
#
# Built into the library when Onload's ef_vi is found: the headers (etherfabric/vi.h, from an
# Onload install or source tree: -DONLOAD_INCLUDE=<onload>/src/include) and the library libciul
# (libciul1.so from an Onload install, or libciul.a from its build tree: -DONLOAD_LIB=<dir>).
# Without them the library has no efvi link ("efvi:" reports it) and says so here.
#
# Either way, when tests are built, tests/efvi/CMakeLists.txt compiles the same efvi.c against the
# ef_vi emulator's headers (tests/efvi_emu) into a test-only library, so the link is always
# compiled and tested.
#
# Expects EFVITCP_SOURCES; after inclusion call efvitcp_efvi_setup(<obj> <static> <shared>).
set(EFVITCP_EFVI_SRC ${PROJECT_SOURCE_DIR}/src/link/efvi.c)
list(REMOVE_ITEM EFVITCP_SOURCES ${EFVITCP_EFVI_SRC})

option(EFVITCP_EFVI "Build the efvi link when Onload's ef_vi headers and libciul are found" ON)
set(EFVITCP_HAVE_EFVI OFF)
if(EFVITCP_EFVI)
  find_path(EFVITCP_ONLOAD_INCLUDE etherfabric/vi.h
            HINTS ${ONLOAD_INCLUDE} $ENV{ONLOAD_INCLUDE} PATH_SUFFIXES onload)
  find_library(EFVITCP_CIUL NAMES ciul1 ciul HINTS ${ONLOAD_LIB} $ENV{ONLOAD_LIB})
  if(EFVITCP_ONLOAD_INCLUDE AND EFVITCP_CIUL)
    set(EFVITCP_HAVE_EFVI ON)
    list(APPEND EFVITCP_SOURCES ${EFVITCP_EFVI_SRC})
    include(CheckCSourceCompiles)
    set(CMAKE_REQUIRED_INCLUDES ${EFVITCP_ONLOAD_INCLUDE})
    set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE)
    # EFCT (X3) receive needs efct_vi.h with efct_vi_rxpkt_get returning the packet (Onload 8.1
    # and later); older releases are EF10-only for this link.
    check_c_source_compiles("
      #include <etherfabric/vi.h>
      #include <etherfabric/efct_vi.h>
      int main(void) { ef_vi vi; const void *p = efct_vi_rxpkt_get(&vi, 0);
        efct_vi_rxpkt_release(&vi, 0); return p != 0 && vi.nic_type.arch == EF_VI_ARCH_EFCT; }"
      EFVITCP_EFVI_HAVE_EFCT)
    check_c_source_compiles("
      #include <etherfabric/vi.h>
      #include <etherfabric/efct_vi.h>
      int main(void) { ef_vi vi; struct timespec t; unsigned f;
        return efct_vi_rxpkt_get_timestamp(&vi, 0, &t, &f); }"
      EFVITCP_EFVI_HAVE_EFCT_TS)
    unset(CMAKE_REQUIRED_INCLUDES)
    unset(CMAKE_REQUIRED_DEFINITIONS)
    message(STATUS "efvitcp: efvi link enabled (${EFVITCP_ONLOAD_INCLUDE}, ${EFVITCP_CIUL})")
  else()
    message(STATUS "efvitcp: efvi link disabled: Onload's ef_vi not found (etherfabric/vi.h and "
                   "libciul; set ONLOAD_INCLUDE and ONLOAD_LIB); tests use the ef_vi emulator")
  endif()
endif()

function(efvitcp_efvi_setup obj static shared)
  if(NOT EFVITCP_HAVE_EFVI)
    return()
  endif()
  set(defs EFVITCP_HAVE_EFVI)
  if(EFVITCP_EFVI_HAVE_EFCT)
    list(APPEND defs EFVITCP_EFVI_HAVE_EFCT)
  endif()
  if(EFVITCP_EFVI_HAVE_EFCT_TS)
    list(APPEND defs EFVITCP_EFVI_HAVE_EFCT_TS)
  endif()
  target_compile_definitions(${obj} PRIVATE ${defs})
  target_include_directories(${obj} SYSTEM PRIVATE ${EFVITCP_ONLOAD_INCLUDE})
  # The deprecated ef_vi timestamp call is the one every Onload release has.
  set_source_files_properties(${EFVITCP_EFVI_SRC} PROPERTIES COMPILE_OPTIONS
                              -Wno-deprecated-declarations)
  target_link_libraries(${static} PUBLIC ${EFVITCP_CIUL})
  # The shared library records libciul itself (DT_NEEDED): its users need not link it.
  target_link_libraries(${shared} PRIVATE ${EFVITCP_CIUL})
endfunction()
