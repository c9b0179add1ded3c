// Tag types for enum-like options (torch::enumtype): `torch::kSame`, `torch::kMean`,
// `torch::kReflect`, ... Each is an empty struct with a global constant, so that options
// can hold std::variant<...> of the allowed tags exactly as LibTorch's do.
#pragma once

#include <string>
#include <variant>

namespace cnnkit {
namespace enumtype {
#define CNNKIT_ENUM(Name, text)                            \
  struct k##Name {                                         \
    static constexpr const char* name() { return text; }   \
  };
CNNKIT_ENUM(Valid, "valid")
CNNKIT_ENUM(Same, "same")
CNNKIT_ENUM(Zeros, "zeros")
CNNKIT_ENUM(Reflect, "reflect")
CNNKIT_ENUM(Replicate, "replicate")
CNNKIT_ENUM(Circular, "circular")
CNNKIT_ENUM(Constant, "constant")
CNNKIT_ENUM(Mean, "mean")
CNNKIT_ENUM(Sum, "sum")
CNNKIT_ENUM(None, "none")
CNNKIT_ENUM(FanIn, "fan_in")
CNNKIT_ENUM(FanOut, "fan_out")
CNNKIT_ENUM(Linear, "linear")
CNNKIT_ENUM(Conv1D, "conv1d")
CNNKIT_ENUM(Conv2D, "conv2d")
CNNKIT_ENUM(Conv3D, "conv3d")
CNNKIT_ENUM(ConvTranspose1D, "conv_transpose1d")
CNNKIT_ENUM(ConvTranspose2D, "conv_transpose2d")
CNNKIT_ENUM(ConvTranspose3D, "conv_transpose3d")
CNNKIT_ENUM(Sigmoid, "sigmoid")
CNNKIT_ENUM(Tanh, "tanh")
CNNKIT_ENUM(ReLU, "relu")
CNNKIT_ENUM(LeakyReLU, "leaky_relu")
CNNKIT_ENUM(GELU, "gelu")
CNNKIT_ENUM(SELU, "selu")
CNNKIT_ENUM(Min, "min")
CNNKIT_ENUM(Max, "max")
CNNKIT_ENUM(Rel, "rel")
CNNKIT_ENUM(Abs, "abs")
CNNKIT_ENUM(Nearest, "nearest")
CNNKIT_ENUM(Bilinear, "bilinear")
CNNKIT_ENUM(Cos, "cos")
CNNKIT_ENUM(Triangular, "triangular")
#undef CNNKIT_ENUM
}  // namespace enumtype

constexpr enumtype::kValid kValid{};
constexpr enumtype::kSame kSame{};
constexpr enumtype::kZeros kZeros{};
constexpr enumtype::kReflect kReflect{};
constexpr enumtype::kReplicate kReplicate{};
constexpr enumtype::kCircular kCircular{};
constexpr enumtype::kConstant kConstant{};
constexpr enumtype::kMean kMean{};
constexpr enumtype::kSum kSum{};
constexpr enumtype::kNone kNone{};
constexpr enumtype::kFanIn kFanIn{};
constexpr enumtype::kFanOut kFanOut{};
constexpr enumtype::kLinear kLinear{};
constexpr enumtype::kConv1D kConv1D{};
constexpr enumtype::kConv2D kConv2D{};
constexpr enumtype::kConv3D kConv3D{};
constexpr enumtype::kConvTranspose1D kConvTranspose1D{};
constexpr enumtype::kConvTranspose2D kConvTranspose2D{};
constexpr enumtype::kConvTranspose3D kConvTranspose3D{};
constexpr enumtype::kSigmoid kSigmoid{};
constexpr enumtype::kTanh kTanh{};
constexpr enumtype::kReLU kReLU{};
constexpr enumtype::kLeakyReLU kLeakyReLU{};
constexpr enumtype::kGELU kGELU{};
constexpr enumtype::kSELU kSELU{};
constexpr enumtype::kMin kMin{};
constexpr enumtype::kMax kMax{};
constexpr enumtype::kRel kRel{};
constexpr enumtype::kAbs kAbs{};
constexpr enumtype::kNearest kNearest{};
constexpr enumtype::kBilinear kBilinear{};
constexpr enumtype::kCos kCos{};

// The text name of whichever tag a variant holds ("same", "mean", ...).
template <typename... Ts>
std::string enum_name(const std::variant<Ts...>& v) {
  return std::visit([](const auto& tag) { return std::string(tag.name()); }, v);
}

}  // namespace cnnkit
