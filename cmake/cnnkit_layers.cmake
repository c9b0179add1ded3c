# cnnkit_layer(NAME DEPS...): one static library per architectural layer, linked only to
# the layers below it, so a call upward fails to link.
function(cnnkit_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(cnnkit_${name} STATIC ${L_SOURCES})
  add_library(cnnkit::${name} ALIAS cnnkit_${name})
  target_include_directories(cnnkit_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  # Private headers (not installed) live beside the sources: #include "io/yaml.h".
  target_include_directories(cnnkit_${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(cnnkit_${name} PUBLIC ${L_DEPS})
  # The public headers use C++20 (concepts, <span>): users' targets get it from here, also
  # when their project sets CMAKE_CXX_STANDARD 17 as most LibTorch projects do.
  target_compile_features(cnnkit_${name} PUBLIC cxx_std_20)
  set_target_properties(cnnkit_${name} PROPERTIES EXPORT_NAME ${name})
  install(TARGETS cnnkit_${name} EXPORT cnnkitTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
