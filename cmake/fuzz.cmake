# EFVITCP_FUZZ: the libFuzzer targets of tests/fuzz (clang only). Everything is compiled with
# coverage instrumentation (-fsanitize=fuzzer-no-link) and ASan + UBSan, so that the fuzzer sees
# the library's branches and the sanitizers its faults; the targets link libFuzzer's main.
# Without clang or its fuzzer runtime (libclang-rt-14-dev on Debian 12) the option says why and
# is turned off: the build goes on without the fuzz targets, and their corpus still runs through
# the replay driver (ctest label fuzz-replay) as in every build.
option(EFVITCP_FUZZ "Build the libFuzzer targets (clang, with ASan and UBSan)" OFF)
set(EFVITCP_FUZZ_ENABLED OFF)
if(EFVITCP_FUZZ)
  include(CheckCSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=fuzzer,address,undefined")
  check_c_source_compiles("
    #include <stddef.h>
    #include <stdint.h>
    int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return (int)(n && d[0]); }"
    EFVITCP_HAVE_LIBFUZZER)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(STATUS "fuzz targets skipped: EFVITCP_FUZZ needs clang (CMAKE_C_COMPILER=clang)")
  elseif(NOT EFVITCP_HAVE_LIBFUZZER)
    message(STATUS "fuzz targets skipped: clang cannot link -fsanitize=fuzzer "
                   "(install libclang-rt-14-dev)")
  else()
    set(EFVITCP_FUZZ_ENABLED ON)
    message(STATUS "fuzz targets enabled (libFuzzer, ASan, UBSan)")
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
  endif()
endif()

# Per-source options of fuzz builds, for every directory that compiles the library's sources
# (source properties are per directory: the top one, and tests/efvi's emulator build). The timer
# wheel's comparisons are of ticks and bitmaps, never of input: traced for the fuzzer's value
# profile they were a sixth of a campaign's time (docs/testing.md). Its edges stay instrumented.
function(efvitcp_fuzz_source_options)
  if(EFVITCP_FUZZ_ENABLED)
    set_source_files_properties(${PROJECT_SOURCE_DIR}/src/tcp/timer_wheel.c
                                PROPERTIES COMPILE_OPTIONS -fno-sanitize-coverage=trace-cmp)
  endif()
endfunction()
