// CIFAR-10 / CIFAR-100 binary readers: each batch file is read whole and its records
// (label bytes then 3072 planar RGB pixel bytes) copied into one (N, 3, 32, 32) uint8
// tensor. Not here: the Python-pickle versions of the data (use the binary archives).
#include "cnnkit/data/datasets/cifar.h"

#include <cstring>
#include <filesystem>
#include <sstream>

#include "data/datasets/gzip_file.h"

namespace cnnkit::data::datasets {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

std::string find_dir(const std::string& root, const std::vector<std::string>& subdirs,
                     const std::string& first_file, const std::string& who) {
  std::string tried;
  for (const std::string& d : subdirs) {
    std::filesystem::path p = std::filesystem::path(root) / d;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p / first_file, ec)) return p.lexically_normal().string();
    tried += (tried.empty() ? "" : ", ") + (p / first_file).lexically_normal().string();
  }
  ::cnnkit::detail::fail<IOError>(__FILE__, __LINE__, who, ": cannot find '", first_file, "' under root '",
                                  root, "'; looked for ", tried);
}

}  // namespace

CIFAR10::CIFAR10(const std::string& root, Mode mode)
    : CIFAR10(root, mode,
              Layout{"CIFAR10",
                     {".", "cifar-10-batches-bin"},
                     mode == Mode::kTrain
                         ? std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                                    "data_batch_4.bin", "data_batch_5.bin"}
                         : std::vector<std::string>{"test_batch.bin"},
                     1, 0, 10},
              {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}) {}

CIFAR10::CIFAR10(const std::string& root, Mode mode, const Layout& layout, std::vector<std::string> classes)
    : mode_(mode), name_(layout.name), classes_(std::move(classes)) {
  const std::string& who = layout.name;
  std::string dir = find_dir(root, layout.subdirs, layout.files.front(), who);
  const int64_t record = layout.label_bytes + kPixels;

  std::vector<std::string> contents;
  std::vector<std::string> paths;
  int64_t n = 0;
  for (const std::string& f : layout.files) {
    std::string path = (std::filesystem::path(dir) / f).string();
    // 100,000 records: twice CIFAR-100's train.bin, the largest batch file of either.
    std::string bytes = data::detail::read_file_maybe_gzip(path, who, uint64_t{100000} * static_cast<uint64_t>(record));
    int64_t size = static_cast<int64_t>(bytes.size());
    CNNKIT_CHECK_IO(size > 0 && size % record == 0, who, ": '", path, "': ", size,
                    " bytes is not a whole number of ", record, "-byte records (",
                    layout.label_bytes, " label byte(s) + 3072 pixels); the file is truncated or not a ",
                    who, " binary batch");
    n += size / record;
    contents.push_back(std::move(bytes));
    paths.push_back(path);
  }

  images_ = empty({n, 3, 32, 32}, TensorOptions(kByte));
  targets_ = empty({n}, TensorOptions(kLong));
  uint8_t* img = images_.data_ptr<uint8_t>();  // (N, 3, 32, 32)
  int64_t* tgt = targets_.data_ptr<int64_t>();  // (N)
  int64_t i = 0;
  for (size_t f = 0; f < contents.size(); ++f) {
    const auto* p = reinterpret_cast<const uint8_t*>(contents[f].data());
    int64_t records = static_cast<int64_t>(contents[f].size()) / record;
    for (int64_t r = 0; r < records; ++r, ++i) {
      const uint8_t* rec = p + r * record;
      int64_t label = rec[layout.label_index];
      CNNKIT_CHECK_IO(label < layout.num_classes, who, ": '", paths[f], "': record ", r, " has label ", label,
                      ", outside [0, ", layout.num_classes, ") (corrupt file, or a CIFAR-100 file read as ",
                      "CIFAR-10?)");
      tgt[i] = label;
      std::memcpy(img + i * kPixels, rec + layout.label_bytes, kPixels);
    }
    contents[f] = std::string();
  }
}

Example<> CIFAR10::get(size_t index) {
  int64_t n = images_.size(0);
  CNNKIT_CHECK(index < static_cast<size_t>(n), name_, ": index ",
               index, " out of range for a dataset of ", n, " examples");
  int64_t i = static_cast<int64_t>(index);
  return {images_.select(0, i), targets_.select(0, i)};
}

std::vector<int64_t> CIFAR10::labels() const {
  const int64_t* t = targets_.data_ptr<int64_t>();
  return std::vector<int64_t>(t, t + targets_.numel());
}

namespace {
std::vector<std::string> cifar100_classes(CIFAR100::Label label) {
  if (label == CIFAR100::Label::kCoarse)
    return {"aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
            "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
            "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
            "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
            "vehicles_1", "vehicles_2"};
  return {"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
          "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
          "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup",
          "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house",
          "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man",
          "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange", "orchid",
          "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
          "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew",
          "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower",
          "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor", "train", "trout",
          "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};
}
}  // namespace

CIFAR100::CIFAR100(const std::string& root, Mode mode, Label label)
    : CIFAR10(root, mode,
              Layout{"CIFAR100",
                     {".", "cifar-100-binary"},
                     {mode == Mode::kTrain ? "train.bin" : "test.bin"},
                     2,
                     label == Label::kFine ? 1 : 0,
                     label == Label::kFine ? 100 : 20},
              cifar100_classes(label)) {}

}  // namespace cnnkit::data::datasets
