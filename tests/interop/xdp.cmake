# The xdp link's interop tests (label interop): the XDP program's decisions on crafted frames, and
# two efvitcp instances over a veth pair in namespaces. Both need root; without it (or without
# AF_XDP) they skip, except under CI=true where they fail. Included from tests/CMakeLists.txt.
set(xdp_dir ${CMAKE_CURRENT_LIST_DIR})
if(EFVITCP_HAVE_XDP)
  add_executable(xdp_peer ${xdp_dir}/xdp_peer.c)
  target_link_libraries(xdp_peer PRIVATE efvitcp_static)

  add_executable(test_interop_xdp_prog ${xdp_dir}/xdp_prog_test.c)
  target_link_libraries(test_interop_xdp_prog PRIVATE efvitcp_test_support)
  target_compile_definitions(test_interop_xdp_prog PRIVATE
                             EFVITCP_XDP_PROG_OBJ="${EFVITCP_XDP_PROG_OBJ}")
  add_dependencies(test_interop_xdp_prog efvitcp_xdp_prog)
  add_test(NAME interop/xdp_prog COMMAND test_interop_xdp_prog)
  # As many listening ports as the stack has, in both addressing modes (root, own namespace).
  add_executable(test_interop_xdp_listen ${xdp_dir}/xdp_listen.c)
  target_link_libraries(test_interop_xdp_listen PRIVATE efvitcp_test_support)
  add_test(NAME interop/xdp_listen COMMAND test_interop_xdp_listen)
  set(xdp_peer_path $<TARGET_FILE:xdp_peer>)
else()
  set(xdp_peer_path "")
endif()
# Registered even when the link was not built, so that the missing link shows (a skip, or a
# failure in CI) instead of a silently absent test.
add_test(NAME interop/xdp_veth COMMAND bash ${xdp_dir}/xdp_veth.sh "${xdp_peer_path}")
foreach(t interop/xdp_veth interop/xdp_prog interop/xdp_listen)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES LABELS interop TIMEOUT 300 SKIP_RETURN_CODE 77)
  endif()
endforeach()
# Namespaces and veth pairs of several tests at once would compete for the two cores.
set_tests_properties(interop/xdp_veth PROPERTIES RUN_SERIAL TRUE)
if(TEST interop/xdp_listen)
  set_tests_properties(interop/xdp_listen PROPERTIES RUN_SERIAL TRUE)
endif()
