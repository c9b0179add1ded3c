// docs/errors.md as a test: one row per catalogue entry feeds the real `cnnkit` binary one bad
// input and checks the exit code and that stderr names the file or field and the problem; a
// second test reads the document and fails when an ID is in one place but not the other.
// Entries the document marks `untested: <reason>` (out of memory, an MPI launch) have no row.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <regex>
#include <set>

#include "cli/cli_util.h"
#include "cnnkit/data/image.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/io/safetensors.h"

using namespace cnnkit;
using namespace cnnkit::test::cli;
using cnnkit::test::contains;
namespace fs = std::filesystem;

namespace {

struct Case {
  std::string id;  // as in docs/errors.md
  int code;        // the exit code
  std::vector<std::string> expect;  // substrings of stderr
  // Writes what the case needs under `dir` (a fresh directory) and returns the command line.
  std::function<std::string(const std::string& dir)> args;
  std::string env = "";  // NAME=value ... for the process
  // A reason to skip on this build (the MPI entries read differently with and without MPI).
  std::function<std::string()> skip = nullptr;
};

std::string put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// 64 training and 32 test images of cli_util.h's 4-class data: small enough that a run
// trains in a fraction of a second.
const std::string& data() {
  static const std::string dir = [] {
    const std::string d = test::temp_path("catalogue_data");
    write_dataset(d + "/train", 64, 1);
    write_dataset(d + "/test", 32, 2);
    return d;
  }();
  return dir;
}

const std::string kLenet = "{zoo: lenet5, in_channels: 1, num_classes: 4}";

// dir/bad.yaml over data(), running into dir/run. `data_extra` are lines inside the data
// section, `rest` lines at the end. Without data_extra the lines are: 1 data, 2 dataset,
// 3 paths, 4 batch_size, 5 split, 6 model, 7 optimizer, 8 epochs, 9 output_dir, 10 `rest`.
std::string config(const std::string& dir, const std::string& rest = "", const std::string& data_extra = "",
                   const std::string& model = kLenet, const std::string& name = "bad.yaml") {
  const std::string& d = data();
  return put(dir + "/" + name,
             "data:\n"
             "  dataset: npy\n"
             "  paths: {train_images: " + d + "/train/x.npy, train_labels: " + d + "/train/y.npy, test_images: " +
                 d + "/test/x.npy, test_labels: " + d + "/test/y.npy}\n"
             "  batch_size: 16\n"
             "  split: {val: 0.25}\n" +
                 data_extra + "model: " + model + "\n" +
                 "optimizer: {name: SGD, lr: 0.05}\n"
                 "epochs: 1\n"
                 "output_dir: " + dir + "/run\n" + rest);
}

// A config whose data section is `data` (a whole section) and whose model is a Linear layer.
std::string config_with_data(const std::string& dir, const std::string& data_section,
                             const std::string& layers = "[Flatten, Linear: {out_features: 2}]") {
  return put(dir + "/bad.yaml", data_section + "model:\n  layers: " + layers + "\nepochs: 1\noutput_dir: " + dir +
                                    "/run\n");
}

// One trained run (lenet5 on data(), one epoch) shared by the rows of this process.
const std::string& trained() {
  static const std::string run_dir = [] {
    const std::string d = test::fresh_dir("catalogue_trained");
    const Result r = run("train -q --no-report " + config(d, "", "", kLenet, "run.yaml"));
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return d + "/run";
  }();
  return run_dir;
}

// `cnnkit shard` of data() into dir/shards (a train and a test shard).
std::string shards(const std::string& dir) {
  const Result r = run("shard -q " + config(dir, "", "", kLenet, "src.yaml") + " " + dir + "/shards");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  return dir + "/shards";
}

std::string shards_config(const std::string& dir, const std::string& s, const std::string& extra = "") {
  return put(dir + "/bad.yaml", "data: {dataset: shards, batch_size: 16" + extra + ", paths: {train: \"" + s +
                                    "/train-000000.tar\", test: \"" + s + "/test-000000.tar\"}}\nmodel: " + kLenet +
                                    "\nepochs: 1\noutput_dir: " + dir + "/run\n");
}

// A .npy with its header and the first `keep` bytes of data().
std::string cut_npy(const std::string& dir, size_t keep) {
  const std::string whole = read_all(data() + "/train/x.npy");
  return put(dir + "/x.npy", whole.substr(0, keep));
}

std::string png(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  data::write_png(path, zeros({1, 8, 8}, kByte));
  return path;
}

// An image folder root with train/ and test/ class folders of two 8x8 PNGs each.
std::string image_folder(const std::string& dir, const std::vector<std::string>& train_classes,
                         const std::vector<std::string>& test_classes) {
  for (const auto& [split, classes] : {std::pair{"train", train_classes}, {"test", test_classes}})
    for (const std::string& c : classes)
      for (int i = 0; i < 2; ++i) png(dir + "/images/" + split + "/" + c + "/" + std::to_string(i) + ".png");
  return dir + "/images";
}

std::string csv_config(const std::string& dir, const std::string& train_csv, const std::string& shape = "[1, 1, 2]") {
  put(dir + "/test.csv", "label,a,b\n0,1,2\n1,3,4\n");
  return config_with_data(dir, "data: {dataset: csv, image_shape: " + shape + ", split: {val: 0}, paths: {train: " +
                                   put(dir + "/train.csv", train_csv) + ", test: " + dir + "/test.csv}}\n");
}

std::string float_input(const std::string& dir, std::vector<int64_t> shape) {
  io::save_npy(dir + "/x.npy", zeros(shape));
  return dir + "/x.npy";
}

std::string with_mpi() { return distributed::is_available() ? "" : "this cnnkit is built without MPI"; }
std::string without_mpi() { return distributed::is_available() ? "this cnnkit is built with MPI" : ""; }
const std::string kMpiEnv = "OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0";

std::vector<Case> cases() {
  using D = const std::string&;
  return {
      // ---- usage (exit 2) ----
      {"E-USAGE-UNKNOWN-COMMAND", 2, {"unknown command 'trian'", "did you mean 'train'?"},
       [](D) { return std::string("trian x.yaml"); }},
      {"E-USAGE-NO-COMMAND", 2, {"Usage:", "Subcommands:"}, [](D) { return std::string(); }},
      {"E-USAGE-UNKNOWN-OPTION", 2, {"The following argument was not expected: --bogus"},
       [](D d) { return "train --bogus " + config(d); }},
      {"E-USAGE-MISSING-ARGUMENT", 2, {"model is required"}, [](D) { return std::string("eval"); }},
      {"E-USAGE-ARGUMENT-COUNT", 2, {"run_dirs: At Most 10 required but received 11"},
       [](D) { return std::string("compare a b c d e f g h i j k"); }},
      {"E-USAGE-OPTION-RANGE", 2, {"--batch: --batch must be at least 1, got 0"},
       [](D) { return std::string("bench --batch 0"); }},
      {"E-USAGE-NOT-A-NUMBER", 2, {"--threads", "must be a whole number, got 'two'"},
       [](D d) { return "train --threads two " + config(d); }},
      {"E-USAGE-NOT-A-CHOICE", 2, {"--model: vgg not in {lenet5,resnet20}"},
       [](D) { return std::string("bench --model vgg"); }},
      {"E-USAGE-OPTION-NEEDS", 2, {"--batch requires --profile"},
       [](D d) { return "info " + config(d) + " --batch 4"; }},
      {"E-USAGE-OPTION-EXCLUDES", 2, {"--resume excludes --overwrite"},
       [](D d) { return "train --resume " + d + " --overwrite"; }},
      {"E-USAGE-TRAIN-NOTHING", 2, {"cnnkit train: give a run config"}, [](D) { return std::string("train"); }},
      {"E-USAGE-PREDICT-NOTHING", 2, {"predict: give image files, or --input X.npy --output Y.npy"},
       [](D d) { return "predict " + d + "/run"; }},
      {"E-USAGE-PREDICT-NO-OUTPUT", 2, {"predict: --input needs --output Y.npy"},
       [](D d) { return "predict " + d + "/run --input x.npy"; }},
      {"E-USAGE-PREDICT-BOTH", 2, {"predict: give image files or --input X.npy, not both"},
       [](D d) { return "predict " + d + "/run a.png --input x.npy --output y.npy"; }},
      {"E-USAGE-MPI-ONE-PROCESS", 2, {"`cnnkit info` runs as one process", "under mpirun (2 processes here)"},
       [](D d) { return "info " + config(d); }, kMpiEnv, with_mpi},
      {"E-MPI-NOT-BUILT", 1, {"started by mpirun with 2 processes, but this cnnkit was built without MPI"},
       [](D d) { return "info " + config(d); }, kMpiEnv, without_mpi},

      // ---- the run config ----
      {"E-CONFIG-NOT-FOUND", 1, {"config file not found: ", "nope.yaml"},
       [](D d) { return "train " + d + "/nope.yaml"; }},
      {"E-CONFIG-IS-DIRECTORY", 1, {"is a directory, not a YAML file"}, [](D d) { return "train " + d; }},
      {"E-CONFIG-YAML-SYNTAX", 1, {"bad.yaml:2: malformed YAML: "},
       [](D d) { return "train " + put(d + "/bad.yaml", "data: {dataset: npy\nmodel: x\n"); }},
      {"E-CONFIG-YAML-TAB", 1, {"bad.yaml:2: malformed YAML: a tab in the indentation"},
       [](D d) { return "train " + put(d + "/bad.yaml", "data:\n\tdataset: npy\n"); }},
      {"E-CONFIG-EMPTY", 1, {"bad.yaml: the config is empty"},
       [](D d) { return "train " + put(d + "/bad.yaml", "# nothing yet\n"); }},
      {"E-CONFIG-DUPLICATE-KEY", 1, {"bad.yaml:10: duplicate key 'epochs' (first at line 8)"},
       [](D d) { return "train " + config(d, "epochs: 2\n"); }},
      {"E-CONFIG-UNKNOWN-KEY", 1, {"bad.yaml:6: unknown key 'workerz' in data", "did you mean 'workers'?"},
       [](D d) { return "train " + config(d, "", "  workerz: 1\n"); }},
      {"E-CONFIG-MISSING-KEY", 1, {"bad.yaml:7: missing required key 'out_features' in layer 1 (Linear)"},
       [](D d) { return "train " + config(d, "", "", "\n  layers: [Flatten, Linear]"); }},
      {"E-CONFIG-DATASET-KEY", 1, {"bad.yaml:1: data: dataset 'mnist' needs key 'root'"},
       [](D d) { return "train " + config_with_data(d, "data: {dataset: mnist}\n"); }},
      {"E-CONFIG-TYPE", 1, {"bad.yaml:10: key 'seed': expected an integer, got '1.5'"},
       [](D d) { return "train " + config(d, "seed: 1.5\n"); }},
      {"E-CONFIG-RANGE", 1, {"bad.yaml:6: key 'num_classes': must be > 0, got '0'"},
       [](D d) { return "train " + config(d, "", "", "{zoo: lenet5, in_channels: 1, num_classes: 0}"); }},
      {"E-CONFIG-UNKNOWN-NAME", 1, {"bad.yaml:10: unknown loss 'CrossEntropyLos'", "did you mean 'CrossEntropyLoss'?"},
       [](D d) { return "train " + config(d, "loss: {name: CrossEntropyLos}\n"); }},
      {"E-CONFIG-UNKNOWN-MODEL", 1, {"bad.yaml:6: ", "unknown model 'lenet9'"},
       [](D d) { return "train " + config(d, "", "", "{zoo: lenet9}"); }},
      {"E-CONFIG-OPTION-INVALID", 1, {"bad.yaml:10: scheduler StepLR: key 'step_size': StepLR: step_size must be a "
                                      "positive integer, got 0"},
       [](D d) { return "train " + config(d, "scheduler: {name: StepLR, step_size: 0}\n"); }},
      {"E-CONFIG-ZOO-AND-LAYERS", 1, {"bad.yaml:6: model: give either 'zoo' or 'layers', not both"},
       [](D d) { return "train " + config(d, "", "", "{zoo: lenet5, layers: [Flatten]}"); }},
      {"E-CONFIG-ZOO-OPTION", 1, {"model: 'num_classes' is an option of zoo models"},
       [](D d) { return "train " + config(d, "", "", "{num_classes: 4, layers: [Flatten]}"); }},
      {"E-CONFIG-SET-SYNTAX", 1, {"--set epochs: expected key.sub=value"},
       [](D d) { return "train " + config(d) + " --set epochs"; }},
      {"E-CONFIG-SET-UNKNOWN-KEY", 1, {"bad.yaml (after --set foo.bar=1): unknown key 'foo' in the config"},
       [](D d) { return "train " + config(d) + " --set foo.bar=1"; }},
      {"E-CONFIG-SET-DELETE", 1, {"--set nope=null: there is no key 'nope' to delete"},
       [](D d) { return "train " + config(d) + " --set nope=null"; }},
      {"E-CONFIG-SET-HOME", 1, {"the shell turned ~ into your home directory /home/someone", "epochs=null"},
       [](D d) { return "train " + config(d) + " --set epochs=/home/someone"; },
       "HOME=/home/someone"},
      {"E-CONFIG-CONFLICT", 1, {"bad.yaml:11: swa: `ema` and `swa` both average the weights; keep one"},
       [](D d) { return "train " + config(d, "ema: {decay: 0.99}\nswa: {swa_start: 0}\n"); }},
      {"E-CONFIG-SWA-START", 1, {"bad.yaml:10: swa.swa_start: epoch 5 (from 0) is not before the run's end"},
       [](D d) { return "train " + config(d, "swa: {swa_start: 5}\n"); }},
      {"E-CONFIG-MIXUP-NOTHING", 1, {"bad.yaml:10: mixup: nothing to mix"},
       [](D d) { return "train " + config(d, "mixup: {mixup_alpha: 0}\n"); }},
      {"E-CONFIG-TASK", 1, {"bad.yaml:11: mixup: mixes class labels, but regression runs (loss MSELoss)"},
       [](D d) { return "train " + config(d, "loss: {name: MSELoss}\nmixup: {mixup_alpha: 0.2}\n"); }},
      {"E-CONFIG-TTA-VIEW", 1, {"bad.yaml:10: tta: unknown view 'rotate' (hflip, vflip)"},
       [](D d) { return "train " + config(d, "tta: [rotate]\n"); }},
      {"E-CONFIG-WARMUP", 1, {"bad.yaml:10: scheduler.warmup: epochs (3) must be fewer than the run's epochs (1)"},
       [](D d) { return "train " + config(d, "scheduler: {name: StepLR, step_size: 1, warmup: {epochs: 3}}\n"); }},
      {"E-CONFIG-WARMUP-ONECYCLE", 1, {"bad.yaml:10: scheduler.warmup: not available with OneCycleLR"},
       [](D d) { return "train " + config(d, "scheduler: {name: OneCycleLR, max_lr: 0.1, warmup: {epochs: 1}}\n"); }},
      {"E-CONFIG-MONITOR-NO-VAL", 1, {"bad.yaml: early_stopping monitors val_loss but there is no validation split"},
       [](D d) { return "train " + config(d, "early_stopping: {monitor: val_loss}\n") + " --set data.split.val=0"; }},
      {"E-CONFIG-SHARDS-SPLIT", 1, {"bad.yaml:1: data.split.val: dataset 'shards' is streamed"},
       [](D d) { return "train " + shards_config(d, d + "/none", ", split: {val: 0.2}"); }},
      {"E-CONFIG-AUGMENT-ORDER", 1, {"bad.yaml:6: transform RandAugment takes uint8 images"},
       [](D d) { return "train " + config(d, "", "  transforms: {train: [ToTensor, RandomErasing, RandAugment]}\n"); }},
      {"E-CONFIG-TOO-MANY-THREADS", 1, {"bad.yaml:10: key 'threads': must be at most 4096, got '100000'"},
       [](D d) { return "train " + config(d, "threads: 100000\n"); }},

      // ---- data files ----
      {"E-DATA-FILE-MISSING", 1, {"npy file '", "missing.npy': no such file"},
       [](D d) { return "train " + config(d) + " --set data.paths.train_images=" + d + "/missing.npy"; }},
      {"E-DATA-NOT-NPY", 1, {"/x.npy': bad magic: expected \"\\x93NUMPY\" at the start, not a .npy file"},
       [](D d) { return "train " + config(d) + " --set data.paths.train_images=" + put(d + "/x.npy", "hello\n"); }},
      {"E-DATA-NPY-TRUNCATED", 1, {"/x.npy': truncated data: shape (64, 1, 28, 28)"},
       [](D d) { return "train " + config(d) + " --set data.paths.train_images=" + cut_npy(d, 5000); }},
      {"E-DATA-ROWS-MISMATCH", 1, {"has shape [64, 1, 28, 28] but", "test/y.npy' has shape [32]",
                                   "they must have the same number of rows"},
       [](D d) { return "train " + config(d) + " --set data.paths.train_labels=" + data() + "/test/y.npy"; }},
      {"E-DATA-EMPTY", 1, {"data: the training set of npy is empty"},
       [](D d) {
         io::save_npy(d + "/x.npy", zeros({0, 1, 28, 28}, kByte));
         io::save_npy(d + "/y.npy", zeros({0}, kLong));
         return "train " + config(d) + " --set data.paths.train_images=" + d + "/x.npy --set data.paths.train_labels=" +
                d + "/y.npy";
       }},
      {"E-DATA-IDX-NOT-FOUND", 1, {"MNIST: cannot find 'train-images-idx3-ubyte'", "under root '"},
       [](D d) { return "train " + config_with_data(d, "data: {dataset: mnist, root: " + d + "}\n"); }},
      {"E-DATA-IDX-BAD-MAGIC", 1, {"train-images-idx3-ubyte': bad magic 0x", "MNIST images are 0x00000803"},
       [](D d) {
         for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                               "t10k-labels-idx1-ubyte"})
           put(d + "/" + f, std::string(64, 'x'));
         return "train " + config_with_data(d, "data: {dataset: mnist, root: " + d + "}\n");
       }},
      {"E-DATA-CIFAR-SIZE", 1, {"data_batch_1.bin': 5000 bytes is not a whole number of 3073-byte records"},
       [](D d) {
         put(d + "/data_batch_1.bin", std::string(5000, 'x'));
         return "train " + config_with_data(d, "data: {dataset: cifar10, root: " + d + "}\n");
       }},
      {"E-DATA-CSV-NOT-A-NUMBER", 1, {"train.csv:3:2: cannot parse 'x' as a number (column 'a')"},
       [](D d) { return "train " + csv_config(d, "label,a,b\n0,1,2\n1,x,3\n"); }},
      {"E-DATA-CSV-CELLS", 1, {"train.csv:3: expected 3 cells like the first row, got 2"},
       [](D d) { return "train " + csv_config(d, "label,a,b\n0,1,2\n1,3\n"); }},
      {"E-DATA-CSV-NO-LABEL", 1, {"train.csv:1: no column named 'label' in the header (columns: 'a', 'b')"},
       [](D d) { return "train " + csv_config(d, "a,b\n1,2\n"); }},
      {"E-DATA-CSV-NON-FINITE", 1, {"train.csv:3:3: non-finite value 'nan' in column 'b'", "data.clean: true"},
       [](D d) { return "train " + csv_config(d, "label,a,b\n0,1,2\n1,3,nan\n"); }},
      {"E-DATA-CSV-EMPTY", 1, {"train.csv': no rows"}, [](D d) { return "train " + csv_config(d, ""); }},
      {"E-DATA-CSV-IMAGE-SHAPE", 1, {"train.csv' has 2 feature columns per row, but image_shape [1, 1, 3] needs 3"},
       [](D d) { return "train " + csv_config(d, "label,a,b\n0,1,2\n1,3,4\n", "[1, 1, 3]"); }},
      {"E-DATA-FOLDER-NO-CLASSES", 1, {"ImageFolder: couldn't find any class folder in '", "/train'"},
       [](D d) {
         fs::create_directories(d + "/images/train");
         fs::create_directories(d + "/images/test");
         return "train " + config_with_data(d, "data: {dataset: image-folder, root: " + d + "/images}\n");
       }},
      {"E-DATA-FOLDER-UNKNOWN-CLASS", 1, {"/test/c' is a class folder, but 'c' is not one of the 2 known classes"},
       [](D d) {
         return "train " + config_with_data(d, "data: {dataset: image-folder, split: {val: 0}, root: " +
                                                   image_folder(d, {"a", "b"}, {"a", "c"}) + "}\n");
       }},
      {"E-DATA-IMAGE-UNDECODABLE", 1, {"decode_image: cannot decode '", "/train/a/1.png': unknown image type"},
       [](D d) {
         const std::string root = image_folder(d, {"a", "b"}, {"a", "b"});
         put(root + "/train/a/1.png", "not a png");
         return "train " + config_with_data(d, "data: {dataset: image-folder, split: {val: 0}, batch_size: 2, root: " +
                                                   root + "}\n");
       }},
      {"E-DATA-SHARDS-MISSING", 1, {"data.paths.train '", "ShardDataset: 1 of 1 shards not found"},
       [](D d) { return "train " + shards_config(d, d + "/none"); }},
      {"E-DATA-SHARDS-TRUNCATED", 1, {"train-000000.tar': ", "truncated: "},
       [](D d) {
         const std::string s = shards(d);
         put(s + "/train-000000.tar", read_all(s + "/train-000000.tar").substr(0, 3000));
         return "train " + shards_config(d, s);
       }},
      {"E-DATA-SPLIT-EMPTY", 1, {"bad.yaml: data.split.val 0.99 leaves none of the 64 training examples for "
                                 "training: lower data.split.val"},
       [](D d) { return "train " + config(d) + " --set data.split.val=0.99"; }},
      {"E-DATA-INPUT-VALUES", 1, {"data.input_values is pixels but the training split holds uint8 values"},
       [](D d) { return "train " + config(d, "", "  input_values: pixels\n"); }},
      {"E-DATA-LABELS-PAST-OUTPUTS", 1, {"the training split has class labels up to 3 (4 classes) but the model gives 3",
                                         "model.num_classes"},
       [](D d) { return "train " + config(d, "", "", "{zoo: lenet5, in_channels: 1, num_classes: 3}"); }},
      {"E-DATA-TRANSFORM-FAILS", 1, {"the train transforms fail on the first train example: RandomCrop"},
       [](D d) { return "train " + config(d, "", "  transforms: {train: [RandomCrop: {size: 40}]}\n"); }},
      {"E-DATA-TRANSFORM-SHAPES", 1, {"the train transforms give examples of shape [1, 32, 32] but the eval transforms"},
       [](D d) { return "train " + config(d, "", "  transforms: {train: [Resize: {size: 32}]}\n"); }},
      {"E-DATA-NORMALIZE-CHANNELS", 1, {"bad.yaml: the eval transforms fail on the first test example: normalize: "
                                        "mean has 2 values"},
       [](D d) { return "train " + config(d, "", "  normalize: {mean: [0.5, 0.5], std: [0.2, 0.2]}\n"); }},

      // ---- the model ----
      {"E-MODEL-INPUT", 1, {"bad.yaml:6: zoo model 'lenet5' does not accept the input shape [1, 1, 28, 28]"},
       [](D d) { return "train " + config(d, "", "", "{zoo: lenet5, in_channels: 3, num_classes: 4}"); }},
      {"E-MODEL-LAYER-FAILS", 1, {"bad.yaml:6: layer 0 (Conv2d): fails on the input [1, 1, 28, 28]"},
       [](D d) {
         return "train " + config(d, "", "", "{layers: [Conv2d: {out_channels: 4, kernel_size: 40}, Flatten]}");
       }},
      {"E-MODEL-LAYER-RANK", 1, {"bad.yaml:6: layer 2 (Conv2d): expects 4 dims (N, C, H, W)"},
       [](D d) {
         return "train " + config(d, "", "", "{layers: [Flatten, Linear: {out_features: 4}, "
                                             "Conv2d: {out_channels: 4, kernel_size: 3}]}");
       }},
      {"E-MODEL-LAYER-IN-TRAINING", 1, {"layer '2' (BatchNorm1d): batch_norm: Expected more than 1 value per channel "
                                        "when training, got input size [1, 8]"},
       [](D d) {  // 48 training examples in batches of 47: the last holds one
         return "train -q " + config(d, "", "", "{layers: [Flatten, Linear: {out_features: 8}, BatchNorm1d, ReLU, "
                                                "Linear: {out_features: 4}]}") + " --set data.batch_size=47";
       }},
      {"E-MODEL-LOSS", 1, {"the model on one example of shape [1, 28, 28]: mse_loss: expected target"},
       [](D d) { return "train " + config(d, "loss: {name: MSELoss}\n"); }},

      // ---- model files and checkpoints ----
      {"E-FILE-NOT-FOUND", 1, {"no such file or directory: ", "/nope"}, [](D d) { return "eval " + d + "/nope"; }},
      {"E-FILE-IS-CONFIG", 1, {"eval: ", "bad.yaml is a config; pass a run directory or a model file"},
       [](D d) { return "eval " + config(d); }},
      {"E-SAFETENSORS-TRUNCATED", 1, {"safetensors file '", "m.safetensors': file is 5 bytes, shorter than the 8-byte"},
       [](D d) { return "eval " + put(d + "/m.safetensors", "junk\n"); }},
      {"E-SAFETENSORS-HEADER", 1, {"safetensors file '", "m.safetensors': header is not valid JSON"},
       [](D d) { return "eval " + put(d + "/m.safetensors", std::string("\x05\0\0\0\0\0\0\0{nope", 13)); }},
      {"E-MODEL-NO-CONFIG", 1, {"m.safetensors carries no run config and none was found beside it",
                                "pass --config CONFIG.yaml"},
       [](D d) {
         io::save_safetensors(d + "/m.safetensors", io::NamedTensors{{"w", zeros({2})}});
         return "eval " + d + "/m.safetensors";
       }},
      {"E-MODEL-OTHER-MODEL", 1, {"model.safetensors was saved from another model: '11.weight' has shape [4, 84]"},
       [](D d) {
         return "eval " + trained() + "/model.safetensors --config " +
                config(d, "", "", "{zoo: lenet5, in_channels: 1, num_classes: 3}");
       }},
      {"E-CHECKPOINT-VERSION", 1, {"checkpoint_last.safetensors has checkpoint version 99; this cnnkit reads versions 1"},
       [](D d) {
         fs::copy(trained(), d + "/run", fs::copy_options::recursive);
         const std::string ck = d + "/run/checkpoints/checkpoint_last.safetensors";
         io::Metadata meta = io::load_safetensors_metadata(ck);
         meta["cnnkit.version"] = "99";
         io::save_safetensors(ck, io::load_safetensors(ck), meta);
         return "train --resume " + d + "/run";
       }},

      // ---- predict and eval ----
      {"E-PREDICT-DTYPE", 1, {"/y.npy' holds int64 values; the model takes float32"},
       [](D d) { return "predict " + trained() + " --input " + data() + "/test/y.npy --output " + d + "/out.npy"; }},
      {"E-PREDICT-SHAPE", 1, {"/x.npy' has sizes [2, 1, 20, 20] but the model takes (N, 1, 28, 28)"},
       [](D d) {
         return "predict " + trained() + " --input " + float_input(d, {2, 1, 20, 20}) + " --output " + d + "/out.npy";
       }},
      {"E-PREDICT-IMAGE", 1, {"decode_image: cannot decode '", "bad.png': unknown image type",
                              "predict: 1 of 2 images could not be read"},
       [](D d) { return "predict " + trained() + " " + png(d + "/ok.png") + " " + put(d + "/bad.png", "text"); }},
      {"E-PREDICT-ONNX-IMAGES", 1, {"m.onnx is an ONNX model, which runs on arrays only: pass --input X.npy"},
       [](D d) { return "predict " + d + "/m.onnx " + png(d + "/a.png"); }},
      {"E-WRITE-FAILED", 1, {"cannot open '", "/no/dir/out.npy.tmp' for writing: No such file or directory"},
       [](D d) {
         return "predict " + trained() + " --input " + float_input(d, {2, 1, 28, 28}) + " --output " + d +
                "/no/dir/out.npy";
       }},
      {"E-EVAL-LABELS-PAST-OUTPUTS", 1, {"the test split has class labels up to 5 (6 classes) but the model gives 4"},
       [](D d) {
         Tensor y = zeros({32}, kLong);
         y.data_ptr<int64_t>()[3] = 5;
         io::save_npy(d + "/y.npy", y);
         return "eval " + trained() + " --set data.paths.test_labels=" + d + "/y.npy";
       }},

      // ---- export and ONNX ----
      {"E-EXPORT-OPSET", 1, {"export_onnx: opset_version 12 is not supported; cnnkit writes opsets 13 to 17"},
       [](D d) { return "export " + trained() + " --onnx " + d + "/m.onnx --opset 12"; }},
      {"E-EXPORT-UNSUPPORTED", 1, {"export_onnx: ", "pools 28x28 to 5x5: windows of unequal sizes"},
       [](D d) {
         const Result r = run("train -q --no-report " +
                              config(d, "", "", "{layers: [AdaptiveAvgPool2d: {output_size: 5}, Flatten, "
                                                "Linear: {out_features: 4}]}"));
         EXPECT_EQ(r.code, 0) << r.err;
         return "export " + d + "/run --onnx " + d + "/m.onnx";
       }},
      {"E-ONNX-NOT-ONNX", 1, {"m.onnx' is not an ONNX model: its bytes do not parse as an onnx.ModelProto"},
       [](D d) {
         return "predict " + put(d + "/m.onnx", "garbage") + " --input " + float_input(d, {1, 1, 28, 28}) +
                " --output " + d + "/y.npy";
       }},

      // ---- the run directory and resume ----
      {"E-RUN-DIR-EXISTS", 1, {"/run already holds a run (", "pass --overwrite to replace it, or --resume"},
       [](D d) {
         fs::copy(trained(), d + "/run", fs::copy_options::recursive);
         return "train " + config(d);
       }},
      {"E-RUN-DIR-IN-USE", 1, {"/run is in use by another cnnkit process (pid ", "use another output_dir"},
       [](D d) {
         fs::create_directories(d + "/run");
         // Held by this test process until it ends, as a running `cnnkit train` holds it.
         const int fd = ::open((d + "/run/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
         EXPECT_TRUE(fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) == 0);
         return "train " + config(d);
       }},
      {"E-RUN-DIR-CREATE", 1, {"cannot create the run directory ", "/file/run: Not a directory"},
       [](D d) { return "train " + config(d) + " --set output_dir=" + put(d + "/file", "x") + "/run"; }},
      {"E-RESUME-NOT-FOUND", 1, {"--resume: no such run directory or checkpoint: ", "/nope"},
       [](D d) { return "train --resume " + d + "/nope"; }},
      {"E-RESUME-NOT-A-RUN", 1, {"not a run directory made by `cnnkit train`", "holds no config.yaml"},
       [](D d) { return "train --resume " + d; }},
      {"E-RESUME-WEIGHTS-FILE", 1, {"model.safetensors holds model weights, not a training checkpoint",
                                    "cnnkit train --resume "},
       [](D) { return "train --resume " + trained() + "/model.safetensors"; }},
      {"E-RESUME-OTHER-CONFIG", 1, {"the run was made with another config than the one given here",
                                    "optimizer.lr: 0.05 in the run, 0.5 here"},
       [](D) { return "train --resume " + trained() + " --set optimizer.lr=0.5"; }},

      // ---- numerical faults during training ----
      {"E-NAN-LOSS", 1, {"TerminateOnNaN: the training loss is ", "at epoch 1 step 2 (global step 2): layer '",
                         "is the first whose output is not finite, from a finite input", "weights in memory are not usable"},
       [](D d) { return "train -q " + config(d) + " --set optimizer.lr=1e30"; }},
      {"E-NAN-PARAMETER", 1, {"TerminateOnNaN: parameter '", "became non-finite after epoch 1 step 1",
                              "NaN and"},
       [](D d) { return "train -q " + config(d) + " --set optimizer.lr=1e30 --set optimizer.weight_decay=1e30 --set data.batch_size=64"; }},
      {"E-NAN-OUTPUTS", 1, {"the trained model's outputs on the validation split are not finite",
                            "training diverged; lower optimizer.lr"},
       [](D d) { return "train -q " + config(d) + " --set optimizer.lr=1e30 --set data.batch_size=64"; }},

      // ---- model selection ----
      {"E-SELECT-OPTION", 1, {"cross-validation: --folds must be at least 2, got 1"},
       [](D d) { return "cv " + config(d) + " -k 1"; }},
      {"E-CV-TOO-FEW", 1, {"kfold: 100 folds need at least 100 examples, got 64"},
       [](D d) { return "cv -q " + config(d) + " -k 100 -o " + d + "/cv"; }},
      {"E-SELECT-STREAMED", 1, {"cross-validation needs random access to the training set; dataset 'shards'"},
       [](D d) { return "cv -q " + shards_config(d, shards(d)) + " -k 2 -o " + d + "/cv"; }},
      {"E-SELECT-DIR-TAKEN", 1, {"/taken exists and holds no ensemble.json: use another --output directory"},
       [](D d) {
         put(d + "/taken/notes.txt", "mine");
         return "ensemble " + config(d) + " -o " + d + "/taken";
       }},
      {"E-SELECT-STATE-CORRUPT", 1, {"search.json: not valid JSON", "remove it to start over"},
       [](D d) {
         put(d + "/s/search.json", "{");
         return "search " + config(d) + " --grid optimizer.lr=0.1,0.2 -o " + d + "/s";
       }},
      {"E-SEARCH-NO-TRIALS", 1, {"search: give the trials: --grid key=v1,v2 ... or --random N"},
       [](D d) { return "search " + config(d) + " -o " + d + "/s"; }},
      {"E-SEARCH-GRID-AND-RANDOM", 1, {"search: give either --grid or --random/--space, not both"},
       [](D d) {
         return "search " + config(d) + " --grid optimizer.lr=0.1 --random 2 --space 'optimizer.lr=uniform(0,1)' -o " +
                d + "/s";
       }},
      {"E-SEARCH-SPEC", 1, {"--grid optimizer.lr: expected key=v1,v2,..."},
       [](D d) { return "search " + config(d) + " --grid optimizer.lr -o " + d + "/s"; }},
      {"E-SEARCH-DISTRIBUTION", 1, {"--space optimizer.lr=loguniform(0,1)"},
       [](D d) { return "search " + config(d) + " --random 2 --space 'optimizer.lr=loguniform(0,1)' -o " + d + "/s"; }},
      {"E-SEARCH-UNKNOWN-KEY", 1, {"--space optimizer.lerning_rate=", "did you mean 'lr'"},
       [](D d) {
         return "search " + config(d) + " --random 2 --space 'optimizer.lerning_rate=loguniform(0.001,1)' -o " + d +
                "/s";
       }},
      {"E-SEARCH-NO-VALIDATION", 1, {"has no validation split (data.split.val is 0) to score the trials on"},
       [](D d) { return "search " + config(d) + " --set data.split.val=0 --grid optimizer.lr=0.1,0.2 -o " + d + "/s"; }},
      {"E-SEARCH-ALL-FAILED", 1, {"search: every trial failed (their messages are in ", "/trials.csv)"},
       [](D d) { return "search " + config(d) + " --grid model.num_classes=2,3 -o " + d + "/s"; }},
      {"E-ENSEMBLE-TASK", 1, {"ensemble: needs a classification loss (MSELoss is not one)"},
       [](D d) { return "ensemble " + config(d, "loss: {name: MSELoss}\n") + " -o " + d + "/e"; }},
      {"E-LRFIND-OPTION", 1, {"lr_find: steps (--steps) must be at least 10, got 5"},
       [](D d) { return "lr-find " + config(d) + " --steps 5 -o " + d + "/lr"; }},
      {"E-LRFIND-NO-SUGGESTION", 1, {"lr-find: no suggestion: ", "try a lower --start-lr", "lr_find.svg"},
       [](D d) { return "lr-find " + config(d) + " --start-lr 100 --end-lr 10000 --steps 10 -o " + d + "/lr"; }},

      // ---- shard, report, compare ----
      {"E-SHARD-SIZE", 1, {"--shard-size: '12XB' is not a size"},
       [](D d) { return "shard " + config(d) + " " + d + "/out --shard-size 12XB"; }},
      {"E-SHARD-DIR-NOT-EMPTY", 1, {"shard: '", "/out' is not empty; choose a new directory, or --force"},
       [](D d) {
         put(d + "/out/notes.txt", "mine");
         return "shard " + config(d) + " " + d + "/out";
       }},
      {"E-REPORT-NOT-A-RUN", 1, {"report: '", "/nope' is not a run directory"},
       [](D d) { return "report " + d + "/nope"; }},
      {"E-COMPARE-NOT-A-RUN", 1, {"compare: '", "/nope' is not a run directory"},
       [](D d) { return "compare " + trained() + " " + d + "/nope -o " + d + "/cmp"; }},
  };
}

// gtest prints a failing row's parameter: its ID rather than its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.id; }

class ErrorCatalogue : public ::testing::TestWithParam<Case> {};

TEST_P(ErrorCatalogue, ExitCodeAndMessage) {
  const Case& c = GetParam();
  if (c.skip) {
    if (const std::string why = c.skip(); !why.empty()) GTEST_SKIP() << why;
  }
  const std::string dir = test::fresh_dir("case/" + c.id);
  const Result r = run(c.args(dir), c.env);
  EXPECT_EQ(r.code, c.code) << r.out << r.err;
  for (const std::string& part : c.expect) EXPECT_TRUE(contains(r.err, part)) << "expected: " << part << "\n" << r.err;
}

INSTANTIATE_TEST_SUITE_P(Rows, ErrorCatalogue, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& row) {
                           std::string name = row.param.id;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// The IDs of docs/errors.md's table rows ("| `E-...` | exit | ..."), with their exit codes;
// `untested` collects those marked "untested:".
std::map<std::string, int> documented(std::set<std::string>& untested) {
  std::ifstream doc(std::string(CNNKIT_SOURCE_DIR) + "/docs/errors.md");
  EXPECT_TRUE(doc.good()) << "docs/errors.md not found under " << CNNKIT_SOURCE_DIR;
  const std::regex row(R"(^\|\s*`(E-[A-Z0-9-]+)`\s*\|\s*(\d+)\s*\|)");
  std::map<std::string, int> ids;
  std::smatch m;
  for (std::string line; std::getline(doc, line);) {
    if (!std::regex_search(line, m, row)) continue;
    EXPECT_TRUE(ids.emplace(m[1], std::stoi(m[2])).second) << m[1] << " is listed twice in docs/errors.md";
    if (contains(line, "untested:")) untested.insert(m[1]);
  }
  return ids;
}

TEST(ErrorCatalogue, DocumentAndTableListTheSameErrors) {
  std::set<std::string> untested;
  const std::map<std::string, int> doc = documented(untested);
  EXPECT_GT(doc.size(), 60u);
  std::set<std::string> rows;
  for (const Case& c : cases()) {
    EXPECT_TRUE(rows.insert(c.id).second) << c.id << " has two rows";
    const auto it = doc.find(c.id);
    if (it == doc.end()) {
      ADD_FAILURE() << c.id << " has a row here but no entry in docs/errors.md";
      continue;
    }
    EXPECT_EQ(it->second, c.code) << c.id << ": docs/errors.md gives another exit code";
    EXPECT_FALSE(untested.count(c.id)) << c.id << " is marked untested in docs/errors.md but has a row";
  }
  for (const auto& [id, code] : doc) {
    if (untested.count(id)) continue;
    EXPECT_TRUE(rows.count(id)) << id << " is in docs/errors.md but has no row here (or mark it `untested: why`)";
  }
}

}  // namespace
