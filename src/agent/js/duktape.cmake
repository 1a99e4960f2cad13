# The agent's JavaScript runtime (docs/agent-runtime.md), included by the
# top-level CMakeLists.txt once mesh_agent exists.
#
# Duktape: Debian's duktape-dev ships the amalgamated source. Its prebuilt
# library cannot interrupt a script, so the agent compiles that source
# itself with a build-time copy of duk_config.h that turns on the interrupt
# counter and an exec-timeout hook (mesh_js_exec_timeout in js.c). Nothing
# of Duktape is kept in git.
set(MESH_DUKTAPE_DIR /usr/share/duktape CACHE PATH
    "Duktape's amalgamated source (Debian package duktape-dev)")
if(NOT EXISTS ${MESH_DUKTAPE_DIR}/duktape.c)
  message(FATAL_ERROR "duktape.c not found in ${MESH_DUKTAPE_DIR}: "
          "install duktape-dev (scripts/setup-deps.sh)")
endif()
set(duk_out ${CMAKE_BINARY_DIR}/duktape)
file(READ ${MESH_DUKTAPE_DIR}/duk_config.h duk_cfg)
foreach(line "#undef DUK_USE_EXEC_TIMEOUT_CHECK" "#undef DUK_USE_INTERRUPT_COUNTER"
             "#endif  /* DUK_CONFIG_H_INCLUDED */")
  string(FIND "${duk_cfg}" "${line}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "duk_config.h: '${line}' not found; Duktape changed")
  endif()
endforeach()
string(REPLACE "#undef DUK_USE_EXEC_TIMEOUT_CHECK"
       "#define DUK_USE_EXEC_TIMEOUT_CHECK(udata) mesh_js_exec_timeout(udata)"
       duk_cfg "${duk_cfg}")
string(REPLACE "#undef DUK_USE_INTERRUPT_COUNTER"
       "#define DUK_USE_INTERRUPT_COUNTER" duk_cfg "${duk_cfg}")
string(REPLACE "#endif  /* DUK_CONFIG_H_INCLUDED */"
       "duk_bool_t mesh_js_exec_timeout(void *udata);\n#endif  /* DUK_CONFIG_H_INCLUDED */"
       duk_cfg "${duk_cfg}")
file(CONFIGURE OUTPUT ${duk_out}/duk_config.h CONTENT "${duk_cfg}" @ONLY)
# duktape.c includes "duktape.h", which includes "duk_config.h" from its
# own folder first: all three go together.
configure_file(${MESH_DUKTAPE_DIR}/duktape.h ${duk_out}/duktape.h COPYONLY)
configure_file(${MESH_DUKTAPE_DIR}/duktape.c ${duk_out}/duktape.c COPYONLY)

add_library(mesh_duktape STATIC ${duk_out}/duktape.c)
target_include_directories(mesh_duktape BEFORE PUBLIC ${duk_out})
# Third-party code: its own warnings are not ours to fix.
target_compile_options(mesh_duktape PRIVATE -w -Wno-error)
target_link_libraries(mesh_duktape PUBLIC m)

pkg_check_modules(FFI REQUIRED IMPORTED_TARGET libffi)

# The runtime's own modules written in JavaScript become C arrays.
file(GLOB js_lib CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.js)
set(js_embedded)
foreach(js ${js_lib})
  get_filename_component(stem ${js} NAME_WE)
  set(out ${duk_out}/js_lib_${stem}.c)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${js} -DOUT=${out} -DNAME=${stem}
            -P ${CMAKE_CURRENT_LIST_DIR}/embed.cmake
    DEPENDS ${js} ${CMAKE_CURRENT_LIST_DIR}/embed.cmake VERBATIM)
  list(APPEND js_embedded ${out})
endforeach()

file(GLOB js_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
target_sources(mesh_agent PRIVATE ${js_srcs} ${js_embedded})
target_link_libraries(mesh_agent PUBLIC mesh_duktape PkgConfig::FFI
                      ${CMAKE_DL_LIBS})
