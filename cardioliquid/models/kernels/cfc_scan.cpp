// The skewed scan of a wired CfC in its default mode (cardioliquid/models/cfc.py:
// `_wired_scan` with `_head` mode 3, in the affine state u = (h + 1) / 2), fused for
// CPU inference.
//
// Per iteration k (layer l works on step k - l, see cfc.py): one GEMM of the state
// with the recurrent weights plus the bias (ATen, so MKL or oneDNN), then ONE pass
// over each batch row that adds the input term, evaluates the three sigmoids,
// interpolates, keeps idle layers' states and writes the finished steps, un-skewed,
// batch first and back in h = 2u - 1. TorchScript runs that pass as several tensor
// operations, each reading and writing the whole block; here it is a loop the
// compiler vectorises.
//
// Two uses of the wiring's structure: only the first `n_fed` neurons receive the
// input (an NCP's inter layer), so the input projection of every step is computed
// for their columns alone; and the time spans are skewed inside the loop.
//
// The sigmoid uses a vectorisable exp (Cephes' polynomial, about 2 ulp), so results
// match the TorchScript scan to about 1e-6, not bit for bit.
#include <torch/extension.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

namespace {

// exp(x) in float, branch-free so that loops over it vectorise.
inline float fast_exp(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);
  const float fx = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f;
  r = r + fx * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(fx) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

// torch.lerp's formula.
inline float lerp(float a, float b, float w) {
  return w < 0.5f ? a + w * (b - a) : b - (b - a) * (1.0f - w);
}

// z[head * n + j] += x[head * n_fed + j] for the fed neurons j < n_fed of each head.
void add_input(float* __restrict z, const float* __restrict x, int64_t heads, int64_t n,
               int64_t n_fed) {
  for (int64_t hd = 0; hd < heads; ++hd) {
    float* zh = z + hd * n;
    const float* xh = x + hd * n_fed;
    for (int64_t j = 0; j < n_fed; ++j) zh[j] += xh[j];
  }
}

// New state of one row from its pre-activations: heads ff1, ff2 and the folded gate.
void untimed_row(const float* __restrict z, float* __restrict out, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    out[j] = lerp(sigmoid(z[j]), sigmoid(z[n + j]), sigmoid(z[2 * n + j]));
  }
}

// The same with heads ff1, ff2, time_a, time_b and each neuron's time span t.
void timed_row(const float* __restrict z, const float* __restrict t, float* __restrict out,
               int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const float gate = z[2 * n + j] * t[j] + z[3 * n + j];
    out[j] = lerp(sigmoid(z[j]), sigmoid(z[n + j]), sigmoid(gate));
  }
}

std::tuple<at::Tensor, at::Tensor> wired_scan_default(
    const at::Tensor& x_fed,              // (B, T, heads * n_fed): input term of the fed neurons
    const at::Tensor& bias,               // (heads * N)
    const at::Tensor& h0,                 // (B, N): initial affine state u
    const at::Tensor& w,                  // (N, heads * N): recurrent weights
    const c10::optional<at::Tensor>& ts,  // (B, T) time span of each step, or none (folded)
    const at::Tensor& layer_of,           // (N,) int64, non-decreasing: each neuron's layer
    int64_t n_fed, int64_t keep_start, int64_t keep_stop) {
  TORCH_CHECK(!at::GradMode::is_enabled(), "the fused CfC scan is for inference only");
  for (const auto* t : {&x_fed, &bias, &h0, &w}) {
    TORCH_CHECK(t->scalar_type() == at::kFloat && t->device().is_cpu(),
                "the fused CfC scan takes float32 CPU tensors");
  }
  const bool timed = ts.has_value();
  const int64_t batch = x_fed.size(0), steps = x_fed.size(1), n = h0.size(1);
  const int64_t heads = timed ? 4 : 3, width = heads * n, keep = keep_stop - keep_start;
  TORCH_CHECK(x_fed.size(2) == heads * n_fed && bias.numel() == width && w.size(0) == n &&
                  w.size(1) == width && layer_of.numel() == n && h0.size(0) == batch,
              "the fused CfC scan: shapes do not agree");
  TORCH_CHECK(0 <= keep_start && keep_start <= keep_stop && keep_stop <= n && n_fed <= n,
              "the fused CfC scan: column ranges out of bounds");
  const auto layers = layer_of.to(at::kLong).contiguous();
  const int64_t* lp = layers.data_ptr<int64_t>();
  const int64_t n_layers = lp[n - 1] + 1;
  // Contiguous runs of one layer inside the kept columns: [start, stop, layer].
  std::vector<std::array<int64_t, 3>> runs;
  for (int64_t j = keep_start; j < keep_stop; ++j) {
    if (j > 0) TORCH_CHECK(lp[j] >= lp[j - 1], "the fused CfC scan: layers not in order");
    if (runs.empty() || runs.back()[2] != lp[j]) runs.push_back({j, j + 1, lp[j]});
    else runs.back()[1] = j + 1;
  }
  const auto x_c = x_fed.contiguous();
  const auto ts_c = timed ? ts->to(at::kFloat).contiguous() : at::Tensor();
  const auto bias_c = bias.contiguous();
  auto out = at::empty({batch, steps, keep}, h0.options());
  auto z = at::empty({batch, width}, h0.options());
  auto h = h0.contiguous().clone();
  auto next = at::empty_like(h);
  std::vector<float> t_row(n);
  const float* xp = x_c.data_ptr<float>();
  const float* tp = timed ? ts_c.data_ptr<float>() : nullptr;
  const int64_t x_width = heads * n_fed;
  float* zp = z.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t iterations = steps + n_layers - 1;
  for (int64_t k = 0; k < iterations; ++k) {
    at::addmm_out(z, bias_c, h, w);
    const bool edge = k < n_layers - 1 || k >= steps;  // some layers idle
    const int64_t x_step = std::min(k, steps - 1);     // the fed layer is layer 0
    const float* hp = h.data_ptr<float>();
    float* np_ = next.data_ptr<float>();
    for (int64_t b = 0; b < batch; ++b) {
      float* zr = zp + b * width;
      float* nr = np_ + b * n;
      add_input(zr, xp + (b * steps + x_step) * x_width, heads, n, n_fed);
      if (timed) {
        const float* tb = tp + b * steps;
        for (int64_t j = 0; j < n; ++j) {
          t_row[j] = tb[std::min(std::max(k - lp[j], int64_t{0}), steps - 1)];
        }
        timed_row(zr, t_row.data(), nr, n);
      } else {
        untimed_row(zr, nr, n);
      }
      if (edge) {  // idle layers keep their state
        for (int64_t j = 0; j < n; ++j) {
          const int64_t step = k - lp[j];
          if (step < 0 || step >= steps) nr[j] = hp[b * n + j];
        }
      }
      for (const auto& run : runs) {  // layer l finished step k - l: write it as h
        const int64_t step = k - run[2];
        if (step < 0 || step >= steps) continue;
        float* dst = op + (b * steps + step) * keep + (run[0] - keep_start);
        for (int64_t j = run[0]; j < run[1]; ++j) *dst++ = 2.0f * nr[j] - 1.0f;
      }
    }
    std::swap(h, next);
  }
  return {out, h};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("wired_scan_default", &wired_scan_default,
        "Skewed scan of a wired CfC in its default mode, fused for CPU inference: "
        "(outputs (B, T, kept columns) as h, last affine state u)");
}
