# cnnkit_layer(NAME DEPS...): one static library per architectural layer, linked only to
# the layers below it, so a call upward fails to link.
function(cnnkit_layer name)
  cmake_parse_arguments(L "" "" "SOURCES;DEPS" ${ARGN})
  add_library(cnnkit_${name} STATIC ${L_SOURCES})
  add_library(cnnkit::${name} ALIAS cnnkit_${name})
  target_include_directories(cnnkit_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(cnnkit_${name} PUBLIC ${L_DEPS})
  set_target_properties(cnnkit_${name} PROPERTIES EXPORT_NAME ${name})
  install(TARGETS cnnkit_${name} EXPORT cnnkitTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
