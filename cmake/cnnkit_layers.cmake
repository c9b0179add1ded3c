# cnnkit_layer(NAME SOURCES ... DEPS ... PRIVATE_DEPS ...): one static library per
# architectural layer, linked only to the layers below it (docs/architecture.md's table,
# which scripts/check-includes holds this file's callers to), so a call upward fails to link.
#   DEPS          what the layer's installed headers need (users get them too)
#   PRIVATE_DEPS  what only its sources need (a static library still carries them to the
#                 link line, but not their include directories)
# Every layer compiles with src/ as a private include directory: the private headers
# (src/<layer>/*.h, included as "<layer>/x.h") are never installed.
function(cnnkit_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(cnnkit_${name} STATIC ${L_SOURCES})
  add_library(cnnkit::${name} ALIAS cnnkit_${name})
  target_include_directories(cnnkit_${name}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(cnnkit_${name} PUBLIC ${L_DEPS} PRIVATE ${L_PRIVATE_DEPS})
  # The public headers use C++20 (concepts, <span>): users' targets get it from here, also
  # when their project sets CMAKE_CXX_STANDARD 17 as most LibTorch projects do.
  target_compile_features(cnnkit_${name} PUBLIC cxx_std_20)
  set_target_properties(cnnkit_${name} PROPERTIES EXPORT_NAME ${name})
  install(TARGETS cnnkit_${name} EXPORT cnnkitTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
