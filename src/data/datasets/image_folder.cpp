// ImageFolder: lists class folders and their image files once (in torchvision's order),
// decodes one file per get() with data::decode_image. Not here: a decoded-image cache
// (decode again each epoch; the loader's worker threads hide the cost) and formats stb
// cannot read (TIFF, WebP).
#include "cnnkit/data/datasets/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace cnnkit::data::datasets {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool has_extension(const std::string& name, const std::vector<std::string>& lowered_exts) {
  std::string n = lower(name);
  for (const std::string& e : lowered_exts)
    if (n.size() >= e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0) return true;
  return false;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<std::string> default_image_extensions() {
  return {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".gif", ".tga"};
}

ImageFolder::ImageFolder(const std::string& root, std::vector<std::string> extensions, ImageReadMode mode)
    : root_(root), mode_(mode) {
  std::error_code ec;
  CNNKIT_CHECK_IO(fs::is_directory(root, ec), "ImageFolder: root '", root, "' is not a directory",
                  fs::exists(root, ec) ? "" : " (no such file or directory)");
  CNNKIT_CHECK(!extensions.empty(), "ImageFolder: extensions is empty");
  for (std::string& e : extensions) e = lower(e);

  for (const auto& entry : fs::directory_iterator(root, fs::directory_options::follow_directory_symlink, ec))
    if (entry.is_directory(ec)) classes_.push_back(entry.path().filename().string());
  CNNKIT_CHECK_IO(!ec, "ImageFolder: cannot list '", root, "': ", ec.message());
  std::sort(classes_.begin(), classes_.end());
  CNNKIT_CHECK_IO(!classes_.empty(), "ImageFolder: couldn't find any class folder in '", root,
                  "' (expected one subfolder per class)");

  std::vector<std::string> empty_classes;
  for (size_t c = 0; c < classes_.size(); ++c) {
    class_to_idx_[classes_[c]] = static_cast<int64_t>(c);
    // torchvision sorts os.walk's (dir, files) tuples by dir path, then the names in each.
    std::map<std::string, std::vector<std::string>> by_dir;
    fs::path class_dir = fs::path(root) / classes_[c];
    fs::recursive_directory_iterator it(class_dir, fs::directory_options::follow_directory_symlink, ec), end;
    CNNKIT_CHECK_IO(!ec, "ImageFolder: cannot list '", class_dir.string(), "': ", ec.message());
    for (; it != end; it.increment(ec)) {
      CNNKIT_CHECK_IO(!ec, "ImageFolder: cannot list '", class_dir.string(), "': ", ec.message());
      if (it->is_directory(ec)) continue;
      std::string name = it->path().filename().string();
      if (has_extension(name, extensions)) by_dir[it->path().parent_path().string()].push_back(name);
    }
    size_t before = samples_.size();
    for (auto& [dir, names] : by_dir) {
      std::sort(names.begin(), names.end());
      for (const std::string& n : names)
        samples_.emplace_back((fs::path(dir) / n).string(), static_cast<int64_t>(c));
    }
    if (samples_.size() == before) empty_classes.push_back(classes_[c]);
  }
  CNNKIT_CHECK_IO(empty_classes.empty(), "ImageFolder: found no valid file for the classes ",
                  join(empty_classes), " in '", root, "'. Supported extensions are: ", join(extensions));
}

Example<> ImageFolder::get(size_t index) {
  CNNKIT_CHECK(index < samples_.size(), "ImageFolder: index ", index, " out of range for a dataset of ",
               samples_.size(), " examples");
  const auto& [path, cls] = samples_[index];
  Tensor target = empty({}, TensorOptions(kLong));
  *target.data_ptr<int64_t>() = cls;
  return {decode_image(path, mode_), target};
}

std::vector<int64_t> ImageFolder::labels() const {
  std::vector<int64_t> out(samples_.size());
  for (size_t i = 0; i < samples_.size(); ++i) out[i] = samples_[i].second;
  return out;
}

}  // namespace cnnkit::data::datasets
