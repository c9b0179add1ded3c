// LeNet-5 on Fashion-MNIST with the C++ Trainer: the whole training system from code, no
// config file (the `cnnkit train` command builds the same objects from YAML).
//   build/examples/train_lenet [epochs=1] [data_dir=/usr/share/datasets/fashion-mnist] [run_dir=runs/lenet_example]
// Run it again with the same run_dir after stopping it (Ctrl-C) and it resumes exactly.
#include <cnnkit/cnnkit.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
namespace T = cnnkit::data::transforms;

int main(int argc, char** argv) {
  const int64_t epochs = argc > 1 ? std::stoll(argv[1]) : 1;
  const std::string root = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
  const std::string run_dir = argc > 3 ? argv[3] : "runs/lenet_example";
  try {
    // Data: uint8 images -> float in [0, 1] -> standardised with Fashion-MNIST's statistics;
    // the training split gets a random horizontal flip (clothes are symmetric).
    auto train_base = std::make_shared<data::datasets::FashionMNIST>(root, data::datasets::MNIST::Mode::kTrain);
    auto test_base = std::make_shared<data::datasets::FashionMNIST>(root, data::datasets::MNIST::Mode::kTest);
    auto train_set = std::make_shared<data::MapDataset>(
        train_base, T::Compose({T::ToTensor(), T::RandomHorizontalFlip(), T::Normalize({0.2860}, {0.3530})}));
    auto test_set =
        std::make_shared<data::MapDataset>(test_base, T::Compose({T::ToTensor(), T::Normalize({0.2860}, {0.3530})}));
    data::DataLoader train_loader(train_set, data::DataLoaderOptions().batch_size(64).shuffle(true).workers(2).seed(0));
    data::DataLoader test_loader(test_set, data::DataLoaderOptions().batch_size(256).workers(2));

    // Model, optimiser, schedule: the article's choices.
    manual_seed(0);
    nn::Sequential net = models::lenet5(models::ZooOptions{.in_channels = 1, .num_classes = 10});
    optim::SGD opt(net->parameters(), optim::SGDOptions(0.05).momentum(0.9).weight_decay(5e-4));
    auto sched = std::make_shared<optim::CosineAnnealingLR>(opt, std::max<int64_t>(epochs, 1));

    train::Trainer trainer(nn::AnyModule(net), opt,
                           [](const Tensor& out, const Tensor& y) { return F::cross_entropy(out, y); },
                           train::TrainerOptions().epochs(epochs).seed(0).top_k(5));
    trainer.set_scheduler(sched, train::SchedulerStep::kEpoch);
    trainer.add_callback(std::make_shared<train::ModelCheckpoint>(run_dir, "val_accuracy"));
    trainer.add_callback(std::make_shared<train::CSVLogger>(run_dir + "/metrics.csv"));
    trainer.add_callback(std::make_shared<train::TerminateOnNaN>());
    trainer.add_callback(std::make_shared<train::EarlyStopping>(
        train::EarlyStoppingOptions().monitor("val_loss").patience(3).restore_best_weights(true)));

    const std::string last = run_dir + "/checkpoint_last.safetensors";
    if (std::filesystem::exists(last)) {
      trainer.resume(last);
      std::cout << "resumed from " << last << " after epoch " << trainer.epoch() << "\n";
    }

    // The test split doubles as validation here to keep the example short; a real run
    // holds out part of the training split (data::random_split) instead.
    trainer.fit(train_loader, &test_loader);

    auto t0 = std::chrono::steady_clock::now();
    train::Metrics m = trainer.evaluate(test_loader);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << m.report(train_base->classes()) << "\n"
              << m.confusion_matrix_string(train_base->classes()) << "\n"
              << train::summary_line("test", m, seconds) << "\n";
  } catch (const cnnkit::Error& e) {
    std::cerr << "train_lenet: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
