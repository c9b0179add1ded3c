// ImageFolder: lists class folders and their image files once (in torchvision's order),
// decodes one file per get() with data::decode_image. Not here: a decoded-image cache
// (decode again each epoch; the loader's worker threads hide the cost) and formats stb
// cannot read (TIFF, WebP).
#include "cnnkit/data/datasets/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "data/datasets/message_util.h"

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

}  // namespace

std::vector<std::string> default_image_extensions() {
  return {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".gif", ".tga"};
}

std::vector<std::string> find_classes(const std::string& root) {
  std::error_code ec;
  CNNKIT_CHECK_IO(fs::is_directory(root, ec), "ImageFolder: root '", detail::display_path(root),
                  "' is not a directory", fs::exists(root, ec) ? "" : " (no such file or directory)");
  std::vector<std::string> classes;
  for (const auto& entry : fs::directory_iterator(root, fs::directory_options::follow_directory_symlink, ec))
    if (entry.is_directory(ec)) classes.push_back(entry.path().filename().string());
  CNNKIT_CHECK_IO(!ec, "ImageFolder: cannot list '", detail::display_path(root), "': ", ec.message());
  std::sort(classes.begin(), classes.end());
  CNNKIT_CHECK_IO(!classes.empty(), "ImageFolder: couldn't find any class folder in '", detail::display_path(root),
                  "' (expected one subfolder per class)");
  return classes;
}

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions options)
    : root_(root), mode_(options.mode()) {
  std::vector<std::string> extensions = options.extensions();
  CNNKIT_CHECK(!extensions.empty(), "ImageFolder: extensions is empty");
  for (std::string& e : extensions) e = lower(e);
  const std::vector<std::string> folders = find_classes(root);
  const bool given = !options.classes().empty();
  classes_ = given ? options.classes() : folders;
  for (size_t c = 0; c < classes_.size(); ++c) {
    CNNKIT_CHECK(class_to_idx_.emplace(classes_[c], static_cast<int64_t>(c)).second,
                 "ImageFolder: class '", classes_[c], "' is listed twice in options.classes");
  }
  // A folder the class list does not know would otherwise be dropped or renumbered: both
  // change what the labels mean, so it stops the load here, before any training.
  for (const std::string& f : folders)
    CNNKIT_CHECK_IO(class_to_idx_.count(f), "ImageFolder: '", detail::display_path((fs::path(root) / f).string()),
                    "' is a class folder, but '", f, "' is not one of the ", classes_.size(),
                    " known classes (", detail::capped_list(classes_, "classes"),
                    "); a test split must have the training split's classes (remove or rename the folder)");

  std::error_code ec;
  std::vector<std::string> empty_classes;
  // torchvision walks the classes in sorted name order (sorted(class_to_idx.keys())).
  for (const auto& [name, c] : class_to_idx_) {
    // torchvision sorts os.walk's (dir, files) tuples by dir path, then the names in each.
    std::map<std::string, std::vector<std::string>> by_dir;
    fs::path class_dir = fs::path(root) / name;
    if (given && !fs::is_directory(class_dir, ec)) continue;  // no examples of this class here
    fs::recursive_directory_iterator it(class_dir, fs::directory_options::follow_directory_symlink, ec), end;
    CNNKIT_CHECK_IO(!ec, "ImageFolder: cannot list '", detail::display_path(class_dir.string()), "': ", ec.message());
    for (; it != end; it.increment(ec)) {
      CNNKIT_CHECK_IO(!ec, "ImageFolder: cannot list '", detail::display_path(class_dir.string()), "': ",
                      ec.message());
      if (it->is_directory(ec)) continue;
      std::string file = it->path().filename().string();
      if (has_extension(file, extensions)) by_dir[it->path().parent_path().string()].push_back(file);
    }
    size_t before = samples_.size();
    for (auto& [dir, names] : by_dir) {
      std::sort(names.begin(), names.end());
      for (const std::string& n : names) samples_.emplace_back((fs::path(dir) / n).string(), c);
    }
    if (samples_.size() == before) empty_classes.push_back(name);
  }
  CNNKIT_CHECK_IO(given ? !samples_.empty() : empty_classes.empty(), "ImageFolder: found no valid file for the classes ",
                  detail::capped_list(empty_classes, "classes", /*quote=*/false), " in '", detail::display_path(root),
                  "'. Supported extensions are: ", detail::capped_list(extensions, "extensions", /*quote=*/false));
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
