// stb_image's implementation for the fuzz_image target (see CMakeLists.txt): the decoder the
// library calls through Debian's libstb.so, compiled here with the fuzzer's instrumentation.
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
