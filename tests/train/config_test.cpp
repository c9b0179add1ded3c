// Run config parsing: defaults, every validation error naming file, line and key, --set
// overrides, and the resolved config round-tripping through YAML.
#include "cnnkit/train/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "cnnkit/ops/factory.h"
#include "cnnkit/optim/optim.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using train::parse_run_config;

namespace {

const char* kBase = R"(data:
  dataset: fashion-mnist
  batch_size: 32
model:
  zoo: lenet5
optimizer:
  name: SGD
  lr: 0.03
  momentum: 0.9
  weight_decay: 5e-4
scheduler:
  name: CosineAnnealingLR
epochs: 4
)";

std::string parse_error(const std::string& yaml, std::vector<std::string> overrides = {}) {
  return error_of([&] { parse_run_config(yaml, "cfg.yaml", overrides); });
}

}  // namespace

TEST(RunConfig, DefaultsFilledIn) {
  train::RunConfig cfg = parse_run_config(kBase, "configs/lenet.yaml");
  EXPECT_EQ(cfg.name, "lenet");
  EXPECT_EQ(cfg.data.dataset, "fashion-mnist");
  EXPECT_EQ(std::get<train::IdxSource>(cfg.data.source).root(), "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(cfg.data.batch_size, 32);
  EXPECT_EQ(cfg.data.eval_batch_size, 256);
  EXPECT_DOUBLE_EQ(cfg.data.val_fraction, 0.1);
  EXPECT_EQ(cfg.data.normalize, "auto");
  EXPECT_EQ(cfg.loss.name, "CrossEntropyLoss");
  EXPECT_EQ(cfg.optimizer.name, "SGD");
  const auto& sgd = std::get<optim::SGDOptions>(cfg.optimizer.options);
  EXPECT_DOUBLE_EQ(sgd.lr(), 0.03);
  EXPECT_DOUBLE_EQ(sgd.weight_decay(), 5e-4);
  EXPECT_FALSE(sgd.nesterov());
  EXPECT_EQ(cfg.scheduler.name, "CosineAnnealingLR");
  // 0 = the run's epochs, resolved when built
  EXPECT_EQ(std::get<optim::CosineAnnealingLROptions>(cfg.scheduler.options).T_max(), 0);
  EXPECT_EQ(cfg.epochs, 4);
  EXPECT_FALSE(cfg.grad_clip_norm.has_value());
  EXPECT_FALSE(cfg.early_stopping.enabled);
  EXPECT_EQ(cfg.model.str(), "{zoo: lenet5}");
}

TEST(RunConfig, OptimizerDefaultsArePyTorchs) {
  auto cfg = parse_run_config("model: lenet5\noptimizer: {name: AdamW}\n", "c.yaml");
  EXPECT_DOUBLE_EQ(cfg.optimizer.lr(), 1e-3);
  EXPECT_DOUBLE_EQ(std::get<optim::AdamWOptions>(cfg.optimizer.options).weight_decay(), 1e-2);  // not Adam's 0
  EXPECT_DOUBLE_EQ(std::get<optim::AdamWOptions>(cfg.optimizer.options).eps(), 1e-8);
  cfg = parse_run_config("model: lenet5\noptimizer: {name: Adagrad}\n", "c.yaml");
  EXPECT_DOUBLE_EQ(cfg.optimizer.lr(), 1e-2);
  EXPECT_DOUBLE_EQ(std::get<optim::AdagradOptions>(cfg.optimizer.options).eps(), 1e-10);
  cfg = parse_run_config("model: lenet5\noptimizer: {name: RMSprop}\n", "c.yaml");
  EXPECT_DOUBLE_EQ(std::get<optim::RMSpropOptions>(cfg.optimizer.options).alpha(), 0.99);
}

TEST(RunConfig, TransformsInThreeSpellings) {
  auto cfg = parse_run_config(R"(model: lenet5
data:
  transforms:
    train:
      - RandomCrop: {size: 28, padding: 2}
      - RandomHorizontalFlip
      - {name: RandomRotation, degrees: 10}
)", "c.yaml");
  ASSERT_EQ(cfg.data.train_transforms.size(), 3u);
  EXPECT_EQ(cfg.data.train_transforms[0].name, "RandomCrop");
  EXPECT_EQ(cfg.data.train_transforms[0].args.str(), "{size: 28, padding: 2}");
  EXPECT_EQ(cfg.data.train_transforms[0].line, 4);
  EXPECT_EQ(cfg.data.train_transforms[1].name, "RandomHorizontalFlip");
  EXPECT_EQ(cfg.data.train_transforms[1].args.str(), "{}");
  EXPECT_EQ(cfg.data.train_transforms[2].name, "RandomRotation");
  EXPECT_EQ(cfg.data.train_transforms[2].args.str(), "{degrees: 10}");  // without the name
}

TEST(RunConfig, UnknownKeyNamesFileLineAndSuggestion) {
  const std::string yaml = std::string(kBase) + "optimiser: {lr: 1}\n";
  const std::string msg = parse_error(yaml);
  EXPECT_TRUE(contains(msg, "cfg.yaml:14:")) << msg;
  EXPECT_TRUE(contains(msg, "unknown key 'optimiser'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'optimizer'")) << msg;
}

TEST(RunConfig, UnknownKeyInASection) {
  const std::string msg = parse_error("model: lenet5\noptimizer:\n  name: SGD\n  lerning_rate: 0.1\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:4:")) << msg;
  EXPECT_TRUE(contains(msg, "unknown key 'lerning_rate' in optimizer SGD")) << msg;
  // a key another optimiser takes is still unknown for this one
  const std::string betas = parse_error("model: lenet5\noptimizer: {name: SGD, betas: [0.9, 0.99]}\n");
  EXPECT_TRUE(contains(betas, "cfg.yaml:2:")) << betas;
  EXPECT_TRUE(contains(betas, "unknown key 'betas'")) << betas;
}

// The dataset table: each dataset takes its own keys; another dataset's key is an error, not
// silently ignored, and a dataset's options round-trip through the resolved config.
TEST(RunConfig, DatasetKeysAreTheDatasets) {
  std::string msg = parse_error("model: lenet5\ndata:\n  dataset: mnist\n  root: /x\n  label_column: y\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:5: unknown key 'label_column' in data (dataset mnist)")) << msg;
  msg = parse_error("model: lenet5\ndata:\n  dataset: csv\n  image_shape: [1, 1, 1]\n  paths: {train: a, tset: b}\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:5: unknown key 'tset' in data.paths (dataset csv)")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'test'")) << msg;
  msg = parse_error("model: lenet5\ndata: {dataset: cifar100, root: /c, label: corse}\n");
  EXPECT_TRUE(contains(msg, "unknown label 'corse' (one of: fine, coarse)")) << msg;
  msg = parse_error("model: lenet5\ndata: {dataset: cifar10, root: /c, label: coarse}\n");
  EXPECT_TRUE(contains(msg, "unknown key 'label' in data (dataset cifar10)")) << msg;

  const auto cfg = parse_run_config("model: lenet5\ndata: {dataset: cifar100, root: /c, label: coarse}\n", "c.yaml");
  EXPECT_EQ(std::get<train::CifarSource>(cfg.data.source).label(), data::datasets::CIFAR100::Label::kCoarse);
  const auto csv = parse_run_config(
      "model: lenet5\ndata: {dataset: csv, image_shape: [1, 2, 2], label_column: y, paths: {train: a.csv, test: "
      "b.csv}}\n",
      "c.yaml");
  const auto& src = std::get<train::CsvSource>(csv.data.source);
  EXPECT_EQ(src.train(), "a.csv");
  EXPECT_EQ(src.label_column(), "y");
  const std::string text = train::to_yaml_string(csv);
  EXPECT_TRUE(contains(text, "label_column: y")) << text;
  EXPECT_EQ(train::to_yaml_string(parse_run_config(text, "back.yaml")), text);
}

TEST(RunConfig, WrongTypeNamesKeyAndLine) {
  std::string msg = parse_error("model: lenet5\nepochs: ten\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:2:")) << msg;
  EXPECT_TRUE(contains(msg, "key 'epochs': expected an integer, got 'ten'")) << msg;
  msg = parse_error("model: lenet5\ndata:\n  batch_size: 6.5\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:3: key 'batch_size'")) << msg;
  msg = parse_error("model: lenet5\ndata:\n  clean: maybe\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:3: key 'clean': expected true or false")) << msg;
  msg = parse_error("model: lenet5\noptimizer: {name: Adam, betas: 0.9}\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:2: key 'betas': expected a list of numbers")) << msg;
  msg = parse_error("model: lenet5\ndata: [1, 2]\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:2:")) << msg;
  EXPECT_TRUE(contains(msg, "expected a mapping")) << msg;
}

TEST(RunConfig, BadValuesNameKeyAndLine) {
  std::string msg = parse_error("model: lenet5\noptimizer:\n  lr: -1\n");
  // The optimiser's own check (one place, PyTorch's message), reported at the key's line.
  EXPECT_TRUE(contains(msg, "cfg.yaml:3: optimizer SGD: key 'lr': Invalid learning rate: -1")) << msg;
  msg = parse_error("model: lenet5\ndata:\n  split: {val: 1.5}\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:3: key 'val': must be in [0, 1)")) << msg;
  msg = parse_error("model: lenet5\ndata: {dataset: fashion-minst}\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:2: unknown dataset 'fashion-minst'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'fashion-mnist'")) << msg;
  msg = parse_error("model: lenet5\noptimizer: {name: Adamw}\n");
  EXPECT_TRUE(contains(msg, "unknown optimizer 'Adamw'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'AdamW'")) << msg;
  msg = parse_error("model: lenet5\nscheduler: {name: CosineAnnealing}\n");
  EXPECT_TRUE(contains(msg, "unknown scheduler 'CosineAnnealing'")) << msg;
  msg = parse_error("model: lenet5\nloss: CrossEntropy\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:2: unknown loss 'CrossEntropy'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'CrossEntropyLoss'")) << msg;
  msg = parse_error("model: lenet5\nloss: {name: MSELoss, label_smoothing: 0.1}\n");
  EXPECT_TRUE(contains(msg, "unknown key 'label_smoothing' in loss MSELoss")) << msg;
  msg = parse_error("model: lenet5\nepochs: 3\nscheduler: {name: StepLR, warmup: {epochs: 3}}\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:3: scheduler.warmup")) << msg;
  msg = parse_error("model: lenet5\nscheduler:\n  name: StepLR\n  step_size: 0\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:4: scheduler StepLR: key 'step_size': StepLR: step_size must be a positive")) << msg;
  msg = parse_error("model: lenet5\nscheduler:\n  name: ReduceLROnPlateau\n  factor: 1.5\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:4: scheduler ReduceLROnPlateau: key 'factor'")) << msg;
  msg = parse_error("model: lenet5\nloss:\n  name: CrossEntropyLoss\n  label_smoothing: 2\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:4: loss CrossEntropyLoss: key 'label_smoothing'")) << msg;
  msg = parse_error("model: lenet5\nscheduler: {name: ReduceLROnPlateau, mode: maximum}\n");
  EXPECT_TRUE(contains(msg, "unknown mode 'maximum' (one of: min, max)")) << msg;
  msg = parse_error("model: lenet5\nscheduler: {name: ExponentialLR}\n");
  EXPECT_TRUE(contains(msg, "missing required key 'gamma' in scheduler ExponentialLR")) << msg;
}

TEST(RunConfig, FamiliesReadIntoTheLibrarysOptions) {
  // Every key lands in the class's own options; what is not given keeps the options' default.
  auto cfg = parse_run_config(R"(model: lenet5
loss: {name: CrossEntropyLoss, weight: [1, 2, 3], reduction: sum}
optimizer: {name: Adam, betas: [0.8, 0.9], amsgrad: true}
scheduler: {name: ReduceLROnPlateau, mode: max, eps: 1e-6, monitor: val_accuracy}
)", "c.yaml");
  const auto& ce = std::get<nn::CrossEntropyLossOptions>(cfg.loss.options);
  EXPECT_TRUE(std::holds_alternative<enumtype::kSum>(ce.reduction()));
  EXPECT_EQ(ce.weight().sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(ce.ignore_index(), nn::CrossEntropyLossOptions().ignore_index());
  const auto& adam = std::get<optim::AdamOptions>(cfg.optimizer.options);
  EXPECT_DOUBLE_EQ(std::get<0>(adam.betas()), 0.8);
  EXPECT_TRUE(adam.amsgrad());
  EXPECT_DOUBLE_EQ(adam.eps(), optim::AdamOptions().eps());
  const auto& p = std::get<optim::ReduceLROnPlateauOptions>(cfg.scheduler.options);
  EXPECT_EQ(p.mode(), optim::ReduceLROnPlateauScheduler::max);
  EXPECT_DOUBLE_EQ(p.eps(), 1e-6);  // was accepted and ignored before the table
  EXPECT_EQ(cfg.scheduler.monitor, "val_accuracy");
  // Written back, read again: the same options.
  const std::string text = train::to_yaml_string(cfg);
  EXPECT_TRUE(contains(text, "weight: [1.0, 2.0, 3.0]")) << text;
  EXPECT_TRUE(contains(text, "betas: [0.8, 0.9]")) << text;
  EXPECT_EQ(train::to_yaml_string(parse_run_config(text, "back.yaml")), text);
  // Unsorted milestones are PyTorch's too (MultiStepLR counts them).
  EXPECT_NO_THROW(parse_run_config("model: lenet5\nscheduler: {name: MultiStepLR, milestones: [5, 2]}\n", "c.yaml"));
}

TEST(RunConfig, MissingPiecesNamed) {
  std::string msg = parse_error("epochs: 3\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:1: missing required key 'model'")) << msg;
  msg = parse_error("");
  EXPECT_TRUE(contains(msg, "cfg.yaml: the config is empty")) << msg;
  msg = parse_error("model: lenet5\ndata:\n  dataset: npy\n  paths: {train_images: a.npy}\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:4: data.paths: dataset 'npy' needs key 'train_labels'")) << msg;
  msg = parse_error("model: lenet5\ndata: {dataset: cifar10}\n");
  EXPECT_TRUE(contains(msg, "dataset 'cifar10' needs key 'root'")) << msg;
  msg = parse_error("model: lenet5\ndata:\n  dataset: csv\n  image_shape: [1, 2, 2]\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:3: data: dataset 'csv' needs key 'paths.train'")) << msg;
  msg = parse_error("model: lenet5\ndata: {dataset: image-folder, paths: {train: a}}\n");
  EXPECT_TRUE(contains(msg, "needs key 'root' (with train/ and test/ below it), or both paths.train and paths.test"))
      << msg;
  msg = parse_error("model: lenet5\ndata:\n  normalize: {mean: [0.5]}\n");
  EXPECT_TRUE(contains(msg, "cfg.yaml:3: missing required key 'std' in data.normalize")) << msg;
}

TEST(RunConfig, MalformedYamlIsAnIOErrorWithLine) {
  EXPECT_THROW(parse_run_config("model: lenet5\ndata: {a: [1, 2}\n", "bad.yaml"), IOError);
  const std::string msg = error_of([] { parse_run_config("model: [\n", "bad.yaml"); });
  EXPECT_TRUE(contains(msg, "bad.yaml:")) << msg;
  EXPECT_TRUE(contains(msg, "malformed YAML")) << msg;
}

TEST(RunConfig, MissingFileIsAnIOError) {
  EXPECT_THROW(train::load_run_config("/nonexistent/x.yaml"), IOError);
  const std::string msg = error_of([] { train::load_run_config("/nonexistent/x.yaml"); });
  EXPECT_TRUE(contains(msg, "config file not found: /nonexistent/x.yaml")) << msg;
}

TEST(RunConfig, SetOverridesAreTypedAndValidated) {
  auto cfg = parse_run_config(kBase, "c.yaml",
                              {"optimizer.lr=0.1", "epochs=2", "data.split.val=0",
                               "optimizer.nesterov=true", "scheduler.warmup.epochs=1",
                               "data.transforms.train=[RandomHorizontalFlip]"});
  EXPECT_DOUBLE_EQ(cfg.optimizer.lr(), 0.1);
  EXPECT_EQ(cfg.epochs, 2);
  EXPECT_DOUBLE_EQ(cfg.data.val_fraction, 0.0);
  EXPECT_TRUE(std::get<optim::SGDOptions>(cfg.optimizer.options).nesterov());
  EXPECT_EQ(cfg.scheduler.warmup_epochs, 1);
  ASSERT_EQ(cfg.data.train_transforms.size(), 1u);
  EXPECT_EQ(cfg.data.train_transforms[0].name, "RandomHorizontalFlip");
  // a new section is created
  cfg = parse_run_config("model: lenet5\n", "c.yaml", {"regularization.l2=1e-4"});
  EXPECT_DOUBLE_EQ(cfg.regularization.l2, 1e-4);
  // a list item by index
  cfg = parse_run_config("model: lenet5\ndata:\n  transforms:\n    train: [{name: RandomCrop, size: 28}]\n",
                         "c.yaml", {"data.transforms.train.0.padding=4"});
  EXPECT_EQ(cfg.data.train_transforms[0].args.str(), "{size: 28, padding: 4}");
}

TEST(RunConfig, SetErrorsNameTheOverride) {
  std::string msg = parse_error(kBase, {"optimizer.lr=abc"});
  EXPECT_TRUE(contains(msg, "--set optimizer.lr=abc")) << msg;
  EXPECT_TRUE(contains(msg, "key 'lr': expected a number, got 'abc'")) << msg;
  msg = parse_error(kBase, {"optimizer.momentun=0.5"});
  EXPECT_TRUE(contains(msg, "--set optimizer.momentun=0.5")) << msg;
  EXPECT_TRUE(contains(msg, "unknown key 'momentun'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'momentum'")) << msg;
  msg = parse_error(kBase, {"epochs"});
  EXPECT_TRUE(contains(msg, "--set epochs: expected key.sub=value")) << msg;
  msg = parse_error(kBase, {"epochs.x=3"});
  EXPECT_TRUE(contains(msg, "--set epochs.x=3: 'epochs' is a value")) << msg;
  msg = parse_error(kBase, {"data.batch_size=[1"});
  EXPECT_TRUE(contains(msg, "--set data.batch_size=[1: the value is not valid YAML")) << msg;
  EXPECT_THROW(parse_run_config(kBase, "c.yaml", {"epochs=0"}), ValueError);
}

TEST(RunConfig, ResolvedConfigRoundTrips) {
  auto cfg = parse_run_config(R"(model: {zoo: resnet20, num_classes: 10}
data:
  dataset: npy
  paths: {train_images: a.npy, train_labels: b.npy, test_images: c.npy, test_labels: d.npy}
  normalize: {mean: [0.286], std: [0.353]}
  subset: {train: 100}
  transforms:
    train: [{RandomCrop: {size: 28, padding: 2}}, RandomHorizontalFlip]
    eval: []
loss: {name: CrossEntropyLoss, label_smoothing: 0.1}
optimizer: {name: AdamW, lr: 0.003, betas: [0.9, 0.98]}
scheduler: {name: OneCycleLR, max_lr: 0.01}
early_stopping: {patience: 3, monitor: val_accuracy}
regularization: {l1: 1e-5}
grad_clip_norm: 5
epochs: 7
seed: 42
)", "configs/r.yaml");
  const std::string text = train::to_yaml_string(cfg);
  EXPECT_TRUE(contains(text, "lr: 0.003\n")) << text;  // shortest round-trip, not 0.0030000000000000001
  const std::string path = cnnkit::test::temp_path("resolved.yaml");
  train::save_resolved_config(cfg, path);
  auto back = train::load_run_config(path);
  EXPECT_EQ(train::to_yaml_string(back), text);
  EXPECT_EQ(back.name, "r");  // the original config's name, not the file's
  EXPECT_EQ(back.data.mean, std::vector<double>({0.286}));
  EXPECT_EQ(back.data.normalize, "explicit");
  EXPECT_EQ(back.data.subset_train, 100);
  EXPECT_EQ(back.scheduler.name, "OneCycleLR");
  EXPECT_DOUBLE_EQ(std::get<optim::OneCycleLROptions>(back.scheduler.options).max_lr(), 0.01);
  EXPECT_TRUE(back.early_stopping.enabled);
  EXPECT_EQ(back.early_stopping.monitor, "val_accuracy");
  EXPECT_DOUBLE_EQ(*back.grad_clip_norm, 5.0);
  EXPECT_EQ(back.seed, 42u);
  ASSERT_EQ(back.data.train_transforms.size(), 2u);
  EXPECT_TRUE(contains(back.data.train_transforms[0].args.str(), "padding: 2"));
  EXPECT_TRUE(contains(back.model.str(), "num_classes: 10"));
}

TEST(RunConfig, BuildsTheOptimizerWithPyTorchNames) {
  auto cfg = parse_run_config("model: lenet5\noptimizer: {name: SGD, lr: 0.05, momentum: 0.9, nesterov: true}\n", "c.yaml");
  std::vector<Tensor> params{zeros({3})};
  auto opt = train::build_optimizer(cfg, params);
  auto* sgd = dynamic_cast<optim::SGD*>(opt.get());
  ASSERT_NE(sgd, nullptr);
  const auto& o = static_cast<const optim::SGDOptions&>(sgd->param_groups()[0].options());
  EXPECT_DOUBLE_EQ(o.lr(), 0.05);
  EXPECT_DOUBLE_EQ(o.momentum(), 0.9);
  EXPECT_TRUE(o.nesterov());
  cfg = parse_run_config("model: lenet5\noptimizer: {name: AdamW, betas: [0.8, 0.9]}\n", "c.yaml");
  auto adamw = train::build_optimizer(cfg, params);
  const auto& a = static_cast<const optim::AdamWOptions&>(adamw->param_groups()[0].options());
  EXPECT_DOUBLE_EQ(std::get<0>(a.betas()), 0.8);
  EXPECT_DOUBLE_EQ(a.weight_decay(), 1e-2);
}

TEST(RunConfig, WarmupChainsLinearLRBeforeTheScheduleAsPyTorch) {
  // torch: o = SGD([p], lr=0.1, momentum=0.9); w = LinearLR(o, 0.1, 1.0, total_iters=2)
  //        c = CosineAnnealingLR(o, T_max=3); s = SequentialLR(o, [w, c], milestones=[2])
  //        lrs over 5 epochs (read, then o.step(); s.step())
  const std::vector<double> expected = {0.010000000000000002, 0.05500000000000001, 0.1, 0.07500000000000001,
                                        0.025000000000000015};
  auto cfg = parse_run_config("model: lenet5\noptimizer: {name: SGD, lr: 0.1, momentum: 0.9}\n"
                              "scheduler: {name: CosineAnnealingLR, warmup: {epochs: 2, start_factor: 0.1}}\n"
                              "epochs: 5\n", "c.yaml");
  std::vector<Tensor> params{zeros({1})};
  auto opt = train::build_optimizer(cfg, params);
  auto sched = train::build_scheduler(cfg, *opt, 10);
  ASSERT_NE(sched, nullptr);
  // The warm-up is stepped per batch (10 a epoch): at each epoch boundary the lr is PyTorch's
  // per-epoch SequentialLR value.
  for (size_t e = 0; e < expected.size(); ++e) {
    EXPECT_NEAR(opt->param_groups()[0].options().get_lr(), expected[e], 1e-12) << "epoch " << e;
    for (int b = 0; b < 10; ++b) sched->step();
  }
}

TEST(RunConfig, TransformsBuildAndUnknownOnesNameTheLine) {
  auto cfg = parse_run_config("model: lenet5\ndata:\n  normalize: {mean: [0.5], std: [0.25]}\n  transforms:\n"
                              "    eval: [{CenterCrop: {size: 2}}]\n", "c.yaml");
  // (1, 4, 4) uint8 of 0..15 -> centre 2x2 {5, 6, 9, 10} / 255, then (x - 0.5) / 0.25
  Tensor img = empty({1, 4, 4}, kByte);
  for (int i = 0; i < 16; ++i) img.data_ptr<uint8_t>()[i] = static_cast<uint8_t>(i);
  const Tensor out = train::preprocess_image(cfg, img);
  ASSERT_EQ(out.sizes(), IntArrayRef({1, 2, 2}));
  EXPECT_NEAR(out.data_ptr<float>()[0], (5 / 255.0 - 0.5) / 0.25, 1e-6);
  EXPECT_NEAR(out.data_ptr<float>()[3], (10 / 255.0 - 0.5) / 0.25, 1e-6);

  cfg = parse_run_config("model: lenet5\ndata:\n  transforms:\n    train:\n      - RandomFlip\n", "c.yaml");
  std::string msg = error_of([&] { train::build_pipeline(cfg, true); });
  EXPECT_TRUE(contains(msg, "c.yaml:5: unknown transform 'RandomFlip'")) << msg;
  cfg = parse_run_config("model: lenet5\ndata:\n  transforms:\n    train:\n      - RandomCrop: {size: 28, pading: 2}\n",
                         "c.yaml");
  msg = error_of([&] { train::build_pipeline(cfg, true); });
  EXPECT_TRUE(contains(msg, "c.yaml:5: unknown key 'pading' in transform RandomCrop")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'padding'")) << msg;
}

TEST(RunConfig, RandomErasingRunsOnTheNormalisedTensorAsInTorchvisionsRecipes) {
  // The implied ToTensor and Normalize go right before RandomErasing: erased pixels are 0 in
  // normalised units (the channel mean), not a black pixel normalised afterwards.
  const auto cfg = parse_run_config(R"(model: lenet5
data:
  normalize: {mean: [0.5], std: [0.25]}
  transforms:
    train:
      - RandomHorizontalFlip
      - RandomErasing: {p: 1.0, scale: [0.1, 0.2], value: 0}
)", "c.yaml");
  Tensor img = cnnkit::full({1, 28, 28}, 255.0, kByte);
  const Tensor y = train::build_pipeline(cfg, true)(img);
  int zeros = 0, twos = 0;
  for (float v : y.to_vector()) {
    zeros += v == 0.0f;
    twos += v == 2.0f;  // (1 - 0.5) / 0.25
  }
  EXPECT_GT(zeros, 0);
  EXPECT_EQ(zeros + twos, 28 * 28);
  auto build_error = [](const std::string& erasing) {
    return error_of([&] {
      train::build_pipeline(parse_run_config("model: lenet5\ndata:\n  transforms:\n    train: [{RandomErasing: " +
                                                 erasing + "}]\n",
                                             "c.yaml"),
                            true);
    });
  };
  EXPECT_TRUE(contains(build_error("{p: 2}"), "in [0, 1]")) << build_error("{p: 2}");
  EXPECT_TRUE(contains(build_error("{scale: [0.5, 0.1]}"), "key 'scale': expected [min, max] with 0 <= min <= max <= 1"));
  EXPECT_TRUE(contains(build_error("{value: noise}"), "value")) << build_error("{value: noise}");
}

TEST(RunConfig, GaussianBlurKeyBuildsTheTransformAndNamesBadSizesAndSigmas) {
  auto pipeline = [](const std::string& blur) {
    return train::build_pipeline(
        parse_run_config("model: lenet5\ndata:\n  normalize: none\n  transforms:\n    train: [{GaussianBlur: " + blur +
                             "}]\n",
                         "c.yaml"),
        true);
  };
  // A fixed sigma: the pipeline blurs the uint8 image (the implied ToTensor comes last), as
  // the functional form does.
  Tensor img = cnnkit::zeros({1, 7, 7}, TensorOptions(kByte));
  img.data_ptr<uint8_t>()[3 * 7 + 3] = 255;
  const Tensor y = pipeline("{kernel_size: [3, 5], sigma: 0.9}")(img);
  const Tensor want = data::transforms::functional::to_tensor(
      data::transforms::functional::gaussian_blur(img, {3, 5}, {0.9, 0.9}));
  EXPECT_EQ(y.to_vector(), want.to_vector());
  auto build_error = [&](const std::string& blur) { return error_of([&] { pipeline(blur); }); };
  EXPECT_TRUE(contains(build_error("{kernel_size: 4}"), "key 'kernel_size'")) << build_error("{kernel_size: 4}");
  EXPECT_TRUE(contains(build_error("{kernel_size: 3, sigma: [2, 1]}"), "key 'sigma'"));
  EXPECT_TRUE(contains(build_error("{sigma: 1}"), "kernel_size")) << build_error("{sigma: 1}");
}

TEST(RunConfig, AffineAndPerspectiveKeysBuildTheTransformsAndNameBadValues) {
  auto pipeline = [](const std::string& tf) {
    return train::build_pipeline(
        parse_run_config("model: lenet5\ndata:\n  normalize: none\n  transforms:\n    train: [" + tf + "]\n", "c.yaml"),
        true);
  };
  // A fixed affine (degrees [d, d], no translation or scale range): the pipeline equals the
  // functional form on the uint8 image, then the implied ToTensor.
  Tensor img = empty({1, 7, 9}, kByte);
  for (int i = 0; i < 63; ++i) img.data_ptr<uint8_t>()[i] = static_cast<uint8_t>(i * 4);
  const Tensor y = pipeline(
      "{RandomAffine: {degrees: [20, 20], shear: [5, 5, -3, -3], interpolation: bilinear, fill: 9, center: [2, 3]}}")(img);
  const Tensor want = data::transforms::functional::to_tensor(data::transforms::functional::affine(
      img, 20.0, {0, 0}, 1.0, {5.0, -3.0}, data::transforms::InterpolationMode::BILINEAR, std::vector<double>{9},
      std::vector<double>{2, 3}));
  EXPECT_EQ(y.to_vector(), want.to_vector());
  EXPECT_EQ(pipeline("{RandomPerspective: {distortion_scale: 0.3, p: 1.0, interpolation: nearest, fill: [3]}}")(img).sizes(),
            IntArrayRef({1, 7, 9}));
  auto build_error = [&](const std::string& tf) { return error_of([&] { pipeline(tf); }); };
  EXPECT_TRUE(contains(build_error("{RandomAffine: {degrees: -5}}"), "key 'degrees'")) << build_error("{RandomAffine: {degrees: -5}}");
  EXPECT_TRUE(contains(build_error("{RandomAffine: {degrees: 5, translate: [0.1, 1.5]}}"), "key 'translate'"));
  EXPECT_TRUE(contains(build_error("{RandomAffine: {degrees: 5, scale: [0, 1.2]}}"), "key 'scale'"));
  EXPECT_TRUE(contains(build_error("{RandomAffine: {degrees: 5, shear: [1, 2, 3]}}"), "key 'shear'"));
  EXPECT_TRUE(contains(build_error("{RandomAffine: {degrees: 5, center: [1]}}"), "key 'center'"));
  EXPECT_TRUE(contains(build_error("{RandomAffine: {translate: [0.1, 0.1]}}"), "missing required key 'degrees'"));
  EXPECT_TRUE(contains(build_error("{RandomPerspective: {distortion_scale: 1.5}}"), "key 'distortion_scale'"));
  EXPECT_TRUE(contains(build_error("{RandomPerspective: {p: -1}}"), "key 'p'"));
  EXPECT_TRUE(contains(build_error("{RandomPerspective: {fill: []}}"), "key 'fill'"));
}

TEST(RunConfig, AutoAugmentFamilyKeysBuildOnUint8ImagesAndNameBadValues) {
  auto pipeline = [](const std::string& tf) {
    return train::build_pipeline(
        parse_run_config("model: lenet5\ndata:\n  normalize: none\n  transforms:\n    train: [" + tf + "]\n", "c.yaml"),
        true);
  };
  // The pipeline hands the transforms uint8 images (the implied ToTensor comes last), as
  // torchvision's tensor path wants; a gray image works with every op.
  Tensor img = empty({1, 12, 12}, kByte);
  for (int i = 0; i < 144; ++i) img.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((i * 37) % 256);
  for (const std::string tf :
       {"{RandAugment: {num_ops: 3, magnitude: 5, num_magnitude_bins: 11, interpolation: bilinear, fill: 0}}",
        "{TrivialAugmentWide: {num_magnitude_bins: 21, fill: [128]}}", "{AutoAugment: {policy: svhn}}",
        "RandAugment", "TrivialAugmentWide", "AutoAugment"}) {
    auto p = pipeline(tf);
    for (uint64_t seed = 0; seed < 20; ++seed) {
      data::seed_example_generator(seed);
      const Tensor y = p(img);
      EXPECT_EQ(y.scalar_type(), kFloat) << tf;
      EXPECT_EQ(y.sizes(), IntArrayRef({1, 12, 12})) << tf;
    }
  }
  auto build_error = [&](const std::string& tf) { return error_of([&] { pipeline(tf); }); };
  EXPECT_TRUE(contains(build_error("{RandAugment: {magnitude: 31}}"), "key 'magnitude'")) << build_error("{RandAugment: {magnitude: 31}}");
  EXPECT_TRUE(contains(build_error("{RandAugment: {magnitude: 10, num_magnitude_bins: 10}}"), "key 'magnitude'"));
  EXPECT_TRUE(contains(build_error("{RandAugment: {magnitude: -1}}"), "key 'magnitude'"));
  EXPECT_TRUE(contains(build_error("{RandAugment: {num_ops: -1}}"), "key 'num_ops'"));
  EXPECT_TRUE(contains(build_error("{TrivialAugmentWide: {num_magnitude_bins: 1}}"), "key 'num_magnitude_bins'"));
  const std::string policy = build_error("{AutoAugment: {policy: cifar100}}");
  EXPECT_TRUE(contains(policy, "policy")) << policy;
  EXPECT_TRUE(contains(policy, "cifar100")) << policy;
  EXPECT_TRUE(contains(build_error("{AutoAugment: {fill: []}}"), "key 'fill'"));
  // after ToTensor they would see float images: refused at the line
  const std::string order = build_error("ToTensor, RandAugment");
  EXPECT_TRUE(contains(order, "c.yaml:5: transform RandAugment takes uint8 images")) << order;
}
