# DNNL::dnnl for oneDNN's CPU engine, found by header and library. Debian's dnnl-config.cmake
# is not used on purpose: it calls find_package(OpenCL REQUIRED) (for the GPU runtime that
# cnnkit never uses), which fails without ocl-icd-opencl-dev and adds libOpenCL.so to every
# link line. libdnnl.so itself still loads libOpenCL.so.1 at run time; that comes from
# libdnnl2's own Depends.
if(NOT TARGET DNNL::dnnl)
  find_path(DNNL_INCLUDE_DIR NAMES oneapi/dnnl/dnnl.hpp REQUIRED)
  find_library(DNNL_LIB NAMES dnnl REQUIRED)
  add_library(DNNL::dnnl UNKNOWN IMPORTED)
  set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${DNNL_LIB}"
    INTERFACE_INCLUDE_DIRECTORIES "${DNNL_INCLUDE_DIR}")
endif()
