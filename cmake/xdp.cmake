# The xdp link: needs libxdp and libbpf (pkg-config) and a clang that can target BPF. When any of
# them is missing the library is built without it (EFVITCP_HAVE_XDP undefined) and says so.
# Expects EFVITCP_SOURCES (the library's sources) and, after inclusion, efvitcp_xdp_setup(<obj
# target> <static> <shared>) to be called once the targets exist.
set(EFVITCP_XDP_SRC ${PROJECT_SOURCE_DIR}/src/link/xdp.c)
# The compiled program stays in the build tree for tests that load it themselves.
set(EFVITCP_XDP_PROG_OBJ ${CMAKE_BINARY_DIR}/xdp_prog.bpf.o)
list(FILTER EFVITCP_SOURCES EXCLUDE REGEX "\\.bpf\\.c$")
list(REMOVE_ITEM EFVITCP_SOURCES ${EFVITCP_XDP_SRC})

option(EFVITCP_XDP "Build the AF_XDP link when libxdp, libbpf and clang (BPF) are present" ON)
set(EFVITCP_HAVE_XDP OFF)
if(EFVITCP_XDP)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(LIBXDP QUIET IMPORTED_TARGET libxdp)
    pkg_check_modules(LIBBPF QUIET IMPORTED_TARGET libbpf)
  endif()
  find_program(EFVITCP_BPF_CLANG NAMES clang clang-16 clang-15 clang-14)
  # clang -target bpf does not search the multiarch include directory (asm/types.h lives there).
  set(EFVITCP_BPF_CFLAGS -O2 -g -target bpf -Wall -Werror)
  if(CMAKE_LIBRARY_ARCHITECTURE)
    list(APPEND EFVITCP_BPF_CFLAGS -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  endif()
  set(why "")
  if(NOT LIBXDP_FOUND)
    set(why "libxdp not found (apt-get install libxdp-dev)")
  elseif(NOT LIBBPF_FOUND)
    set(why "libbpf not found (apt-get install libbpf-dev)")
  elseif(NOT EFVITCP_BPF_CLANG)
    set(why "clang not found (apt-get install clang llvm)")
  else()
    # Proves clang has the BPF target and finds the kernel and libbpf headers.
    set(probe ${CMAKE_BINARY_DIR}/CMakeFiles/efvitcp_bpf_probe.c)
    file(WRITE ${probe} "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"
                        "SEC(\"xdp\") int p(struct xdp_md *c) { return XDP_PASS; }\n")
    execute_process(COMMAND ${EFVITCP_BPF_CLANG} ${EFVITCP_BPF_CFLAGS} -c ${probe}
                            -o ${CMAKE_BINARY_DIR}/CMakeFiles/efvitcp_bpf_probe.o
                    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(NOT rc EQUAL 0)
      set(why "${EFVITCP_BPF_CLANG} cannot compile for -target bpf")
    endif()
  endif()
  if(why STREQUAL "")
    set(EFVITCP_HAVE_XDP ON)
    list(APPEND EFVITCP_SOURCES ${EFVITCP_XDP_SRC})
    message(STATUS "efvitcp: xdp link enabled (${EFVITCP_BPF_CLANG})")
  else()
    message(STATUS "efvitcp: xdp link disabled: ${why}")
  endif()
endif()

function(efvitcp_xdp_setup obj static shared)
  if(NOT EFVITCP_HAVE_XDP)
    return()
  endif()
  set(src ${PROJECT_SOURCE_DIR}/src/link/xdp_prog.bpf.c)
  set(bpf_o ${EFVITCP_XDP_PROG_OBJ})
  set(gen_dir ${CMAKE_BINARY_DIR}/generated)
  set(gen_h ${gen_dir}/xdp_prog_obj.h)
  add_custom_command(
    OUTPUT ${bpf_o}
    COMMAND ${EFVITCP_BPF_CLANG} ${EFVITCP_BPF_CFLAGS} -I${PROJECT_SOURCE_DIR}/src/link -c ${src}
            -o ${bpf_o}
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/src/link/xdp_prog.h
    COMMENT "Building the XDP program (clang -target bpf)" VERBATIM)
  add_custom_command(
    OUTPUT ${gen_h}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${gen_dir}
    COMMAND ${CMAKE_COMMAND} -DIN=${bpf_o} -DOUT=${gen_h} -DNAME=et_xdp_prog_obj -P
            ${PROJECT_SOURCE_DIR}/cmake/bin2c.cmake
    DEPENDS ${bpf_o} ${PROJECT_SOURCE_DIR}/cmake/bin2c.cmake
    COMMENT "Embedding the XDP program" VERBATIM)
  add_custom_target(efvitcp_xdp_prog DEPENDS ${gen_h} ${bpf_o})
  add_dependencies(${obj} efvitcp_xdp_prog)
  set_property(SOURCE ${EFVITCP_XDP_SRC} APPEND PROPERTY OBJECT_DEPENDS ${gen_h})
  target_include_directories(${obj} PRIVATE ${gen_dir})
  target_include_directories(${obj} PRIVATE ${LIBXDP_INCLUDE_DIRS} ${LIBBPF_INCLUDE_DIRS})
  target_compile_definitions(${obj} PUBLIC EFVITCP_HAVE_XDP)
  target_compile_definitions(${static} INTERFACE EFVITCP_HAVE_XDP)
  target_link_libraries(${static} PUBLIC PkgConfig::LIBXDP PkgConfig::LIBBPF)
  target_link_libraries(${shared} PRIVATE PkgConfig::LIBXDP PkgConfig::LIBBPF)
endfunction()
