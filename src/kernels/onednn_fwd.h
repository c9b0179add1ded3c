// Forward declarations of kernels/onednn.h's operand types, for the kernel headers whose
// functions take or return kept layouts without needing oneDNN's own headers.
#pragma once

#include <memory>

namespace cnnkit::kernels::onednn {
class Layout;
struct Operand;
using LayoutPtr = std::shared_ptr<Layout>;
}  // namespace cnnkit::kernels::onednn
