// softmax / log_softmax against PyTorch 1.13 literals: every dim of a 3-d tensor, values
// and gradients (from the saved output), numerical stability, dtype conversion, 0-dim and
// empty inputs, and the error paths. Inputs are seq(sizes): x_i = sin(0.7 i + 0.3) (torch:
// the same formula in float64, then .float()); backward seeds are seq(..., a=0.9).
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "cnnkit/ops/shape.h"
#include "cnnkit/ops/softmax.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::allclose;
using cnnkit::test::seq;
using cnnkit::test::lit;

namespace {


struct SoftmaxCase {
  int64_t dim;
  std::vector<float> softmax, softmax_grad, log_softmax, log_softmax_grad;
};

}  // namespace

TEST(Softmax, EveryDimValuesAndGradientsMatchTorch) {
  // torch: x = seq(2,3,4); y = x.softmax(d) / x.log_softmax(d); y.backward(seq(2,3,4,a=0.9))
  std::vector<SoftmaxCase> cases = {
      {0, {0.40915754f, 0.69353443f, 0.83434439f, 0.8397541f, 0.71443713f, 0.43693057f, 0.21332394f, 0.14898092f, 0.20413491f, 0.416114f, 0.69898587f, 0.83582211f, 0.59084243f, 0.30646554f, 0.16565558f, 0.16024593f, 0.28556284f, 0.5630694f, 0.78667599f, 0.85101914f, 0.79586512f, 0.58388603f, 0.3010141f, 0.16417792f},
       {0.31187207f, 0.31214526f, 0.074045978f, -0.10800035f, -0.31286225f, -0.27158844f, 0.027035248f, 0.16535388f, 0.23724735f, 0.12422315f, -0.17351438f, -0.21084809f, -0.31187207f, -0.31214526f, -0.074045964f, 0.10800033f, 0.31286225f, 0.27158844f, -0.027035292f, -0.16535383f, -0.23724733f, -0.12422317f, 0.17351441f, 0.21084812f},
       {-0.89365494f, -0.36595443f, -0.181109f, -0.17464614f, -0.33626026f, -0.827981f, -1.5449433f, -1.9039371f, -1.5889741f, -0.87679601f, -0.35812473f, -0.1793395f, -0.52620596f, -1.18265f, -1.7978444f, -1.8310456f, -1.253293f, -0.57435238f, -0.23993878f, -0.16132066f, -0.22832553f, -0.53804952f, -1.2005982f, -1.8068045f},
       {0.58153462f, 0.65776974f, -0.13023101f, -0.76985836f, -0.80063337f, -0.60799068f, -0.28137025f, 0.41301495f, 0.85314286f, 0.35613018f, -0.62596208f, -0.81419921f, -0.58153462f, -0.65776968f, 0.13023102f, 0.76985836f, 0.80063337f, 0.60799068f, 0.28137025f, -0.41301492f, -0.85314286f, -0.35613018f, 0.6259622f, 0.81419921f}},
      {1, {0.43710956f, 0.54871577f, 0.49804264f, 0.38773072f, 0.33908278f, 0.12828466f, 0.069511406f, 0.081564419f, 0.22380766f, 0.32299957f, 0.432446f, 0.53070486f, 0.38504568f, 0.28160977f, 0.18262792f, 0.1148622f, 0.082676932f, 0.19200428f, 0.4734261f, 0.72330523f, 0.53227735f, 0.52638596f, 0.34394598f, 0.16183266f},
       {0.082886279f, 0.14945488f, 0.20805903f, 0.16766238f, -0.26911739f, -0.2124178f, -0.069243193f, 0.049170379f, 0.18623109f, 0.062962927f, -0.13881584f, -0.21683277f, -0.15537177f, -0.16526948f, 0.050806835f, 0.16286291f, 0.11878891f, 0.011031129f, -0.3603062f, -0.37500253f, 0.036582816f, 0.15423834f, 0.30949935f, 0.21213968f},
       {-0.82757139f, -0.60017473f, -0.69706959f, -0.9474442f, -1.081511f, -2.0535035f, -2.6662645f, -2.5063622f, -1.4969683f, -1.1301043f, -0.83829778f, -0.63354915f, -0.95439333f, -1.2672329f, -1.7003045f, -2.164022f, -2.4928148f, -1.6502377f, -0.7477594f, -0.32392401f, -0.63059062f, -0.64172053f, -1.0672706f, -1.8211925f},
       {0.056965891f, 0.49829391f, 0.64557552f, 0.23697221f, -0.87282193f, -1.0975702f, -0.58106047f, 0.33170515f, 0.81585604f, 0.5992763f, -0.064515084f, -0.56867737f, -0.73614293f, -0.51249409f, 0.2243237f, 0.85321963f, 0.90123248f, 0.12417085f, -0.9791829f, -1.5624011f, -0.16508961f, 0.38832322f, 0.75485915f, 0.70918137f}},
      {-1, {0.16143474f, 0.27867651f, 0.32383871f, 0.23605007f, 0.43904188f, 0.22841319f, 0.15845712f, 0.17408775f, 0.097132191f, 0.19276868f, 0.33042714f, 0.37967202f, 0.5006808f, 0.26448247f, 0.1380932f, 0.096743524f, 0.085660808f, 0.14368427f, 0.28523743f, 0.48541746f, 0.43725953f, 0.31232452f, 0.16430397f, 0.086111955f},
       {-0.05243019f, 0.086875305f, 0.078664556f, -0.11310966f, -0.054988366f, -0.099050187f, 0.0018752328f, 0.15216336f, 0.088074595f, 0.15871584f, 0.030797211f, -0.27758765f, -0.24593616f, -0.0087871151f, 0.11473108f, 0.13999222f, 0.12358276f, 0.10125513f, -0.032754719f, -0.19208321f, -0.27509782f, 0.073859334f, 0.13839197f, 0.062846519f},
       {-1.8236543f, -1.2777035f, -1.1275097f, -1.4437113f, -0.82316047f, -1.476599f, -1.8422713f, -1.7481959f, -2.3316824f, -1.6462643f, -1.1073692f, -0.96844751f, -0.69178647f, -1.3299803f, -1.9798265f, -2.3356919f, -2.4573598f, -1.940137f, -1.2544334f, -0.72274601f, -0.82722837f, -1.1637125f, -1.8060372f, -2.452107f},
       {-0.064784169f, 0.31006405f, 0.14043738f, -0.38571754f, 0.15654431f, -0.55690891f, -0.24596061f, 0.64632511f, 0.81977272f, 0.61996496f, -0.27773437f, -1.1620034f, -0.86439794f, -0.46781927f, 0.36337253f, 0.96884465f, 0.91007334f, 0.21565253f, -0.49758792f, -0.62813795f, -1.2248913f, -0.1585239f, 0.68512321f, 0.69829208f}},
  };
  for (const SoftmaxCase& c : cases) {
    const std::string d = "dim " + std::to_string(c.dim);
    Tensor x = seq({2, 3, 4}).requires_grad_();
    Tensor y = x.softmax(c.dim);
    EXPECT_TRUE(allclose(y, c.softmax, 1e-5, 1e-7, "softmax " + d));
    y.backward(seq({2, 3, 4}, 0.9));
    EXPECT_TRUE(allclose(x.grad(), c.softmax_grad, 1e-5, 1e-6, "softmax grad " + d));
    Tensor x2 = seq({2, 3, 4}).requires_grad_();
    Tensor l = log_softmax(x2, c.dim);
    EXPECT_TRUE(allclose(l, c.log_softmax, 1e-5, 1e-6, "log_softmax " + d));
    l.backward(seq({2, 3, 4}, 0.9));
    // oneDNN's JIT exp is accurate to a few ulp: slightly wider than torch-vs-torch tolerances.
    EXPECT_TRUE(allclose(x2.grad(), c.log_softmax_grad, 2e-5, 5e-6, "log_softmax grad " + d));
  }
}

TEST(Softmax, NonContiguousInputMatchesContiguous) {
  Tensor x = seq({4, 3});
  Tensor t = x.t();  // (3, 4) transposed strides
  EXPECT_TRUE(allclose(softmax(t, 1), softmax(t.reshape({12}).reshape({3, 4}), 1), 0, 0));
  // A non-contiguous incoming gradient (from an expand) is handled too.
  Tensor y = seq({2, 3}).requires_grad_();
  Tensor s = y.softmax(1);
  s.backward(lit({1, 2, 3}, {3}).expand({2, 3}));
  EXPECT_EQ(y.grad().sizes(), IntArrayRef({2, 3}));
}

TEST(Softmax, LargeLogitsStayFinite) {
  // torch: torch.tensor([1000., 0., -1000.]).softmax(0) / .log_softmax(0)
  Tensor x = lit({1000, 0, -1000}, {3});
  EXPECT_TRUE(allclose(x.softmax(0), {1, 0, 0}, 0, 1e-30));
  EXPECT_TRUE(allclose(x.log_softmax(0), {0, -1000, -2000}, 1e-6, 1e-4));
}

TEST(Softmax, DtypeZeroDimAndEmpty) {
  // torch: torch.tensor([1,2,3]).softmax(0, dtype=torch.float32)
  Tensor l = cnnkit::empty({3}, kLong);
  for (int i = 0; i < 3; ++i) l.data_ptr<int64_t>()[i] = i + 1;
  Tensor s = softmax(l, 0, kFloat);
  EXPECT_EQ(s.dtype(), kFloat);
  EXPECT_TRUE(allclose(s, {0.090030573f, 0.24472848f, 0.66524094f}, 1e-6, 1e-7));
  EXPECT_THROW(softmax(l, 0), TypeError);
  EXPECT_THROW(softmax(seq({3}), 0, kLong), TypeError);
  // torch: torch.tensor(3.).softmax(0) == 1, .log_softmax(0) == 0
  EXPECT_EQ(lit({3}, {}).softmax(0).item<float>(), 1.0f);
  EXPECT_EQ(lit({3}, {}).log_softmax(-1).item<float>(), 0.0f);
  EXPECT_EQ(softmax(cnnkit::empty({0, 4}), 1).sizes(), IntArrayRef({0, 4}));
}

TEST(Softmax, BadDimThrows) {
  EXPECT_THROW(softmax(seq({2, 3}), 2), ShapeError);
  EXPECT_THROW(log_softmax(seq({2, 3}), -3), ShapeError);
}

TEST(Softmax, ConcurrentCallsAgree) {
  Tensor x = seq({8, 3, 50});
  Tensor want = softmax(x, 1);
  std::vector<Tensor> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) got[t] = softmax(x, 1);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(allclose(got[t], want, 0, 0, "thread " + std::to_string(t)));
}
