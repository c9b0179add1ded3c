// Every reader against damaged files: a valid file of each format (safetensors, training
// checkpoint, .npy, IDX raw and gzipped, PNG, BMP, CSV, run-config YAML) is truncated, has
// bytes flipped, overwritten with 0xFF runs or garbage inserted, a few hundred seeded ways
// each. A reader may accept the damaged file (a flipped pixel is still an image) but must
// otherwise throw a cnnkit::Error naming the file; any other exception type, a crash or a
// hang fails the test. Run under `make test-asan` this also catches out-of-bounds reads.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <sstream>

#include <zlib.h>

#include "cnnkit/cnnkit.h"
#include "cnnkit/io/checkpoint.h"
#include "cnnkit/train/train.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/train/config.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

using Bytes = std::string;

std::string temp(const std::string& name) { return ::testing::TempDir() + "cnnkit_corrupt_" + name; }

Bytes read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(b.data(), static_cast<std::streamsize>(b.size()));
}

// One seeded mutation of `b`: truncation, bit flips, a 0xFF run, inserted garbage, or a
// header-length-sized field overwritten with an extreme value.
Bytes mutate(const Bytes& b, std::mt19937& rng) {
  Bytes m = b;
  auto pos = [&](size_t n) { return n == 0 ? size_t{0} : std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  switch (rng() % 5) {
    case 0:
      m.resize(pos(m.size()));
      break;
    case 1:
      for (int i = 0, n = 1 + static_cast<int>(rng() % 8); i < n && !m.empty(); ++i)
        m[pos(m.size())] ^= static_cast<char>(1 << (rng() % 8));
      break;
    case 2: {
      const size_t at = pos(m.size()), len = std::min<size_t>(1 + rng() % 16, m.size() - at);
      for (size_t i = 0; i < len; ++i) m[at + i] = '\xff';
      break;
    }
    case 3: {
      Bytes junk(1 + rng() % 32, '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      m.insert(pos(m.size() + 1), junk);
      break;
    }
    default: {  // an 8-byte little-endian field near the start set to a huge or tiny value
      const size_t at = pos(std::min<size_t>(m.size(), 64));
      const uint64_t v = (rng() % 2) ? ~uint64_t{0} >> (rng() % 8) : rng() % 4;
      for (size_t i = 0; i < 8 && at + i < m.size(); ++i) m[at + i] = static_cast<char>(v >> (8 * i));
    }
  }
  return m;
}

// Runs `load` on `mutations` damaged copies of `valid`; counts rejections.
void fuzz(const std::string& name, const Bytes& valid, int mutations, const std::function<void(const std::string&)>& load) {
  ASSERT_FALSE(valid.empty()) << name;
  const std::string path = temp(name);
  write_bytes(path, valid);
  ASSERT_NO_THROW(load(path)) << name << ": the undamaged file must load";
  std::mt19937 rng(std::hash<std::string>{}(name) & 0xffffffffU);
  int rejected = 0;
  for (int i = 0; i < mutations; ++i) {
    write_bytes(path, mutate(valid, rng));
    try {
      load(path);
    } catch (const Error& e) {
      ++rejected;
      const std::string what = e.what();
      EXPECT_NE(what.find(name), std::string::npos) << name << " mutation " << i << ": message does not name the file: " << what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << " mutation " << i << ": not a cnnkit::Error but " << typeid(e).name() << ": " << e.what();
    }
  }
  EXPECT_GT(rejected, mutations / 4) << name << ": most damage should be detected";
}

}  // namespace

TEST(CorruptFiles, Safetensors) {
  const std::string src = temp("src.safetensors");
  io::save_safetensors(src, {{"w", randn({3, 4})}, {"idx", arange(5)}, {"img", zeros({2, 2}, kByte)}},
                       {{"note", "fixture"}});
  fuzz("st.safetensors", read_bytes(src), 400, [](const std::string& p) { io::load_safetensors(p); });
}

TEST(CorruptFiles, TrainerCheckpoint) {
  // A Trainer's checkpoint (model, Adam state, StepLR, RNG, counters) resumed by a Trainer;
  // a rejected resume must leave the weights as they were.
  nn::Sequential net(nn::Linear(3, 4), nn::ReLU(), nn::Linear(4, 2));
  optim::Adam opt(net->parameters(), optim::AdamOptions(1e-2));
  auto loss_fn = [](const Tensor& out, const Tensor& t) { return nn::functional::cross_entropy(out, t); };
  std::ostringstream sink;
  train::Trainer trainer(nn::AnyModule(net), opt, loss_fn, train::TrainerOptions().epochs(1).log_stream(&sink));
  trainer.set_scheduler(std::make_shared<optim::StepLR>(opt, 1, 0.5));
  data::DataLoader loader(std::make_shared<data::TensorDataset>(randn({16, 3}), randint(0, 2, {16})),
                          data::DataLoaderOptions().batch_size(8));
  trainer.fit(loader);
  const std::string src = temp("src.ckpt");
  trainer.save_checkpoint(src);
  const Tensor weights = net->parameters()[0].clone();
  fuzz("ck.safetensors", read_bytes(src), 300, [&](const std::string& p) {
    try {
      trainer.resume(p);
    } catch (const Error&) {
      EXPECT_TRUE(net->parameters()[0].equal(weights)) << "a failed resume changed the weights";
      throw;
    }
  });
}

TEST(CorruptFiles, Onnx) {
  // A PyTorch export (LeNet-5): damaged copies must fail to import or to run, by name.
  const std::string src = std::string(CNNKIT_SOURCE_DIR) + "/tests/golden/data/onnx/lenet5.onnx";
  const Tensor x = randn({2, 1, 28, 28});
  fuzz("model.onnx", read_bytes(src), 300, [&](const std::string& p) {
    auto m = io::import_onnx(p);
    NoGradGuard no_grad;
    const Tensor y = m->forward(x);
    if (!y.isfinite().all().item<bool>()) throw ValueError(p + ": non-finite outputs");
  });
}

TEST(CorruptFiles, Npy) {
  const std::string src = temp("src.npy");
  io::save_npy(src, randn({4, 3}));
  fuzz("arr.npy", read_bytes(src), 400, [](const std::string& p) { io::load_npy(p); });
}

TEST(CorruptFiles, IdxRawAndGzipped) {
  // a 3 x 4 x 5 uint8 IDX file
  Bytes idx("\x00\x00\x08\x03\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05", 16);
  for (int i = 0; i < 60; ++i) idx.push_back(static_cast<char>(i));
  fuzz("images-idx3-ubyte", idx, 400, [](const std::string& p) { data::read_idx(p); });
  // the same, gzipped as the MNIST distribution files are
  const std::string gz = temp("src-idx3-ubyte.gz");
  gzFile f = gzopen(gz.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, idx.data(), static_cast<unsigned>(idx.size())), static_cast<int>(idx.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
  fuzz("images-idx3-ubyte.gz", read_bytes(gz), 400, [](const std::string& p) { data::read_idx(p); });
}

TEST(CorruptFiles, PngAndBmp) {
  Tensor img = arange(3 * 8 * 8, kFloat).to(kByte).view({3, 8, 8});
  const std::string src = temp("src.png");
  data::write_png(src, img);
  fuzz("img.png", read_bytes(src), 300, [](const std::string& p) { data::decode_image(p); });
  // a 2 x 2 24-bit BMP
  Bytes bmp("BM", 2);
  auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) bmp.push_back(static_cast<char>(v >> (8 * i))); };
  auto u16 = [&](uint16_t v) { for (int i = 0; i < 2; ++i) bmp.push_back(static_cast<char>(v >> (8 * i))); };
  u32(54 + 16); u32(0); u32(54);                                  // file size, reserved, pixel offset
  u32(40); u32(2); u32(2); u16(1); u16(24); u32(0); u32(16);     // BITMAPINFOHEADER
  u32(2835); u32(2835); u32(0); u32(0);
  for (int row = 0; row < 2; ++row) {
    for (int i = 0; i < 6; ++i) bmp.push_back(static_cast<char>(40 * row + i));
    bmp.append(2, '\0');  // rows padded to 4 bytes
  }
  fuzz("img.bmp", bmp, 300, [](const std::string& p) { data::decode_image(p); });
}

TEST(CorruptFiles, Csv) {
  Bytes csv = "a,b,label\n0.5,1.5,cat\n-1,2e3,dog\n3,4,cat\n";
  fuzz("table.csv", csv, 300, [](const std::string& p) {
    data::datasets::CsvDataset ds(p);
    for (size_t i = 0; i < ds.size().value(); ++i) ds.get(i);
  });
}

TEST(CorruptFiles, RunConfigYaml) {
  const Bytes yaml = read_bytes(std::string(CNNKIT_SOURCE_DIR) + "/configs/lenet5-fashion-mnist.yaml");
  fuzz("run.yaml", yaml, 400, [](const std::string& p) { train::load_run_config(p); });
}
