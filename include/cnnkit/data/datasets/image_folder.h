// ImageFolder (torchvision.datasets.ImageFolder): one subfolder of `root` per class, the
// classes sorted by name and numbered from 0, every image file below a class folder (at
// any depth) one example.
//
//   root/cat/001.png, root/cat/more/xyz.jpg, root/dog/123.bmp   -> classes {"cat", "dog"}
//   auto train = data::datasets::ImageFolder("data/pets/train");
//   auto ex = train.get(0);   // ex.data (3, H, W) uint8 (RGB, as torchvision's default loader), target 0
//   // The test split numbers its classes as training did, even if a class folder is missing:
//   auto test = data::datasets::ImageFolder("data/pets/test",
//                                           data::datasets::ImageFolderOptions().classes(train.classes()));
//
// Listing happens in the constructor; decoding (stb_image) happens in get(), so it runs in
// the DataLoader's worker threads. A file that does not decode throws IOError from get()
// naming the file and stb's reason; data::clean() finds all such files up front.
// Sample order is torchvision's: class by class, directories in sorted path order, file
// names sorted within each directory.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/labeled.h"
#include "cnnkit/data/image.h"
#include "cnnkit/core/arg.h"

namespace cnnkit::data::datasets {

// The extensions stb_image decodes among torchvision's IMG_EXTENSIONS, plus GIF and TGA.
// Matched case-insensitively ("IMG.JPG" counts).
std::vector<std::string> default_image_extensions();

// torchvision.datasets.folder.find_classes: the names of the folders directly below `root`,
// sorted (a class's index is its position). IOError if root is not a directory or holds no
// folder.
std::vector<std::string> find_classes(const std::string& root);

struct ImageFolderOptions {
  CNNKIT_ARG(std::vector<std::string>, extensions) = default_image_extensions();
  CNNKIT_ARG(ImageReadMode, mode) = ImageReadMode::RGB;
  // The class list, index = label (torchvision: a subclass overriding find_classes). Empty:
  // find_classes(root). Given (a test split gets its training split's classes()): a class
  // without a folder, or with no image in it, simply has no examples; a folder of root that
  // is not in the list is an IOError naming it and the known classes.
  CNNKIT_ARG(std::vector<std::string>, classes) = {};
};

class ImageFolder : public Dataset<ImageFolder>, public Labeled {
 public:
  // IOError if root is not a directory, has no class subfolders, or a class folder holds no
  // file with one of `extensions` (torchvision's "Found no valid file for the classes ...");
  // with options.classes, see ImageFolderOptions. ValueError for empty extensions or a
  // class listed twice.
  ImageFolder(const std::string& root, ImageFolderOptions options);
  explicit ImageFolder(const std::string& root,
                       std::vector<std::string> extensions = default_image_extensions(),
                       ImageReadMode mode = ImageReadMode::RGB)
      : ImageFolder(root, ImageFolderOptions().extensions(std::move(extensions)).mode(mode)) {}

  Example<> get(size_t index) override;  // data (C, H, W) uint8, target 0-dim int64
  std::optional<size_t> size() const override { return samples_.size(); }
  std::vector<std::string> classes() const override { return classes_; }
  std::vector<int64_t> labels() const override;

  const std::map<std::string, int64_t>& class_to_idx() const { return class_to_idx_; }
  // (path, class index) per example, torchvision's `samples` / `imgs`.
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }
  std::vector<int64_t> targets() const { return labels(); }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
  ImageReadMode mode_;
  std::vector<std::string> classes_;
  std::map<std::string, int64_t> class_to_idx_;
  std::vector<std::pair<std::string, int64_t>> samples_;
};

}  // namespace cnnkit::data::datasets
