# Install rules and the Debian packages (docs/operations.md). Two components:
#   runtime  the shared library (libefvitcp.so.MAJOR and its versioned file) and the tools;
#   dev      the headers, the static library, the libefvitcp.so link, efvitcp.pc and the CMake
#            package (find_package(efvitcp): efvitcp::efvitcp, efvitcp::efvitcp_static).
# Included by the top-level CMakeLists.txt after every target exists.
include(CMakePackageConfigHelpers)

set(EFVITCP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/efvitcp)

install(TARGETS efvitcp_shared EXPORT efvitcp-targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
install(TARGETS efvitcp_static EXPORT efvitcp-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
# Every header of include/efvitcp, whatever its name: headers added there are installed without a
# change here.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/efvitcp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev)

# The tools. They find the library next to them ($ORIGIN/../lib...) under any prefix.
install(TARGETS eftcat efvitcp-sockperf-server efvitcp-sim efvitcp-stat
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
# The example programs as source, for users to start from.
install(FILES ${PROJECT_SOURCE_DIR}/examples/efvitcp_demo.c ${PROJECT_SOURCE_DIR}/examples/eftcat.c
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT dev)

# CMake package.
install(EXPORT efvitcp-targets NAMESPACE efvitcp:: DESTINATION ${EFVITCP_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/efvitcp-config.cmake.in
                              ${CMAKE_BINARY_DIR}/efvitcp-config.cmake
                              INSTALL_DESTINATION ${EFVITCP_CMAKE_DIR})
# Same MAJOR, same SONAME: that is the ABI promise of include/efvitcp/efvitcp.h.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/efvitcp-config-version.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/efvitcp-config.cmake ${CMAKE_BINARY_DIR}/efvitcp-config-version.cmake
        DESTINATION ${EFVITCP_CMAKE_DIR} COMPONENT dev)

# pkg-config. What a static link needs besides the library itself.
set(EFVITCP_PC_REQUIRES_PRIVATE "")
set(EFVITCP_PC_LIBS_PRIVATE "-lm")
if(EFVITCP_HAVE_XDP)
  set(EFVITCP_PC_REQUIRES_PRIVATE "libxdp libbpf")
endif()
if(EFVITCP_HAVE_EFVI)
  get_filename_component(ciul_dir ${EFVITCP_CIUL} DIRECTORY)
  get_filename_component(ciul_name ${EFVITCP_CIUL} NAME_WE)
  string(REGEX REPLACE "^lib" "" ciul_name ${ciul_name})
  string(APPEND EFVITCP_PC_LIBS_PRIVATE " -L${ciul_dir} -l${ciul_name}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/efvitcp.pc.in ${CMAKE_BINARY_DIR}/efvitcp.pc.in @ONLY)
# The prefix is the one of the install itself (cmake --install --prefix P, or /usr under cpack),
# not the one configured, so the file is finished when the install runs.
install(CODE "
  file(READ \"${CMAKE_BINARY_DIR}/efvitcp.pc.in\" pc)
  string(REPLACE \"%PREFIX%\" \"\${CMAKE_INSTALL_PREFIX}\" pc \"\${pc}\")
  file(WRITE \"${CMAKE_BINARY_DIR}/efvitcp.pc\" \"\${pc}\")" COMPONENT dev)
install(FILES ${CMAKE_BINARY_DIR}/efvitcp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)

# Debian packages: cpack -G DEB in the build directory writes efvitcp_<version>_<arch>.deb
# (runtime) and efvitcp-dev_<version>_<arch>.deb.
set(CPACK_PACKAGE_NAME efvitcp)
set(CPACK_PACKAGE_VENDOR "efvitcp")
set(CPACK_PACKAGE_CONTACT "efvitcp maintainers <efvitcp@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEB_COMPONENT_INSTALL ON)
# Release binaries without their debug sections (the build tree keeps them).
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME efvitcp)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
# The first line of a description is the package's summary.
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "kernel-bypass TCP/IPv4 stack with a reactor API
The efvitcp shared library and its tools: eftcat (netcat over efvitcp),
efvitcp-sockperf-server (answers a stock sockperf ping-pong), efvitcp-sim
(deterministic simulation of the stack over a simulated wire) and efvitcp-stat
(a live view of the running instances and their connections).")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME efvitcp-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "kernel-bypass TCP/IPv4 stack with a reactor API (development files)
Headers, the static library, efvitcp.pc for pkg-config and the CMake package
(find_package(efvitcp)) of efvitcp.")
# dpkg-shlibdeps derives the runtime package's dependencies (libc6, and libxdp1 and libbpf1 when
# the xdp link is built, libciul1 with the efvi link) from the binaries themselves.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
# A shlibs file (and the ldconfig trigger) for the library, so that programs packaged against it
# depend on efvitcp (>= this version).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# The tools need the library of this very package.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR})
# The development files need the matching library, and what a static link or pkg-config's
# Requires.private names.
set(dev_depends "efvitcp (= ${PROJECT_VERSION})")
if(EFVITCP_HAVE_XDP)
  string(APPEND dev_depends ", libxdp-dev, libbpf-dev")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS ${dev_depends})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
