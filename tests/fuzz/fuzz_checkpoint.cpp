// libFuzzer target: training checkpoints. io::load_checkpoint reads the file, then a small
// Trainer (two Linear layers, SGD with momentum, StepLR, EarlyStopping keeping the best
// weights) resumes from it, which parses every scalar, counter, RNG state and callback
// state, and trains for what is left of its 3 epochs on 4 examples, so the restored state
// is used as a resumed run would use it.
//
// With CNNKIT_FUZZ_WRITE_SEEDS=DIR in the environment it writes its seed corpus instead (the
// same Trainer's checkpoints after 1, 2 and 3 epochs; tools/fuzz/make_corpus.py runs this) and
// exits.
#include <cstdlib>

#include "cnnkit/cnnkit.h"
#include "cnnkit/io/checkpoint.h"
#include "cnnkit/train/train.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;

namespace {

struct SmallRun {
  explicit SmallRun(int64_t epochs = 3)
      : net((manual_seed(0), nn::Sequential(nn::Linear(2, 4), nn::ReLU(), nn::Linear(4, 3)))),
        opt(net->parameters(), optim::SGDOptions(0.1).momentum(0.9)),
        trainer(nn::AnyModule(net), opt, [](const Tensor& out, const Tensor& y) { return F::cross_entropy(out, y); },
                train::TrainerOptions().epochs(epochs).seed(1).verbose(false)),
        loader(std::make_shared<data::TensorDataset>(arange(8, TensorOptions(kFloat)).view({4, 2}),
                                                     tensor(std::vector<int64_t>{0, 1, 2, 0})),
               data::DataLoaderOptions().batch_size(2)) {
    trainer.set_scheduler(std::make_shared<optim::StepLR>(opt, 1, 0.5));
    trainer.add_callback(std::make_shared<train::EarlyStopping>(
        train::EarlyStoppingOptions().monitor("loss").patience(1).restore_best_weights(true).verbose(false)));
  }
  nn::Sequential net;
  optim::SGD opt;
  train::Trainer trainer;
  data::DataLoader loader;
};

void write_seeds(const std::string& dir) {
  for (int64_t epochs : {1, 2, 3}) {
    SmallRun run(epochs);
    run.trainer.fit(run.loader);
    // The timings of the history fixed, so that the seeds come out byte for byte the same.
    io::Checkpoint ck = run.trainer.checkpoint();
    for (auto& [key, value] : ck.extra)
      if (key.ends_with(".seconds") || key.ends_with(".images_per_second")) value = "1";
    io::save_checkpoint(dir + "/epoch" + std::to_string(epochs) + ".safetensors", ck);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("CNNKIT_FUZZ_WRITE_SEEDS")) {
    write_seeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("input.safetensors", data, size);
  if (!fuzz::loads([&] { io::load_checkpoint(path); })) return 0;
  fuzz::loads([&] {
    SmallRun run;
    run.trainer.resume(path);
    run.trainer.fit(run.loader);
  });
  return 0;
}
