// The skewed scan of a wired CfC in its default mode (cardioliquid/models/cfc.py:
// `_wired_scan` with `_head` mode 3, in the affine state u = (h + 1) / 2), fused for
// CPU inference.
//
// Per iteration k (layer l works on step k - l, see cfc.py): one register-blocked GEMM
// of [state, input] with [recurrent; input] weights, stored head-major, then ONE
// vectorised pass over the neurons (three sigmoids and the interpolation), then the idle
// layers' states and the finished steps, written un-skewed, batch first and back in
// h = 2u - 1. TorchScript runs each iteration as several tensor operations, each a
// dispatch and a trip through memory for the whole block, plus one input projection of
// every step before the loop; here nothing but the outputs leaves the cache.
//
// The sigmoids use a vectorisable exp (Cephes' polynomial, about 2 ulp) and share one
// division, so results match the TorchScript scan to about 1e-6, not bit for bit.
#include <torch/extension.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

namespace {

// exp(x) in float for |x| <= 20, branch-free so that loops over it vectorise.
inline float fast_exp(float x) {
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

// exp(-x), with x clamped to [-20, 20]: beyond that a float sigmoid has saturated (its
// value moves by less than 3e-9), and the products below cannot overflow.
inline float exp_neg(float x) { return fast_exp(-std::min(std::max(x, -20.0f), 20.0f)); }

// The CfC's default update in the affine state: lerp(s(a), s(b), s(g)) with s the sigmoid.
// With e = exp(-.) of each, s(a) + s(g) (s(b) - s(a)) is one fraction of positive terms,
//   (1 + ea + eg + eb eg) / ((1 + ea)(1 + eb)(1 + eg)),
// so one division serves the three sigmoids (a division costs several multiplications).
inline float interpolate(float a, float b, float g) {
  const float ea = exp_neg(a), eb = exp_neg(b), eg = exp_neg(g);
  return (1.0f + ea + eg + eb * eg) / ((1.0f + ea) * (1.0f + eb) * (1.0f + eg));
}

// The step's GEMM, z = bias + [h, x_t] @ [w_rec; w_in], for a block of ROWS batch rows,
// register-blocked: ROWS rows times two 16-float column vectors accumulate in registers
// while the input index runs, so each weight vector is loaded once per block of rows. At
// this size (N = 32, 3-4 heads) a call into a BLAS costs more than the arithmetic, and the
// input projection costs nothing extra here (no (B, T, heads * N) tensor is written). The
// result is stored head-major, zh (heads, batch, N), so that the pass over the neurons runs
// over batch * N contiguous values per head.
typedef float v16 __attribute__((vector_size(64)));

inline v16 load16(const float* p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One operand of the GEMM: row r of the block at rows + r * stride, `count` values, times
// the weights w (count, width).
struct Operand {
  const float* rows;
  int64_t stride;
  int64_t count;
  const float* w;
};

// Store columns [col, col + 16) of batch row `row` into the head-major zh.
inline void put16(float* zh, int64_t batch, int64_t n, int64_t row, int64_t col, v16 v) {
  const int64_t hd = col / n, j = col - hd * n;
  if (j + 16 <= n) {
    std::memcpy(zh + (hd * batch + row) * n + j, &v, sizeof v);
    return;
  }
  float tmp[16];
  std::memcpy(tmp, &v, sizeof v);
  for (int e = 0; e < 16; ++e) {
    const int64_t he = (col + e) / n;
    zh[(he * batch + row) * n + (col + e - he * n)] = tmp[e];
  }
}

// acc[r][v] += rows[r * stride + i] * w[i * width + c + 16 v] over i < count.
template <int ROWS, int VECS>
inline void accumulate(v16 (&acc)[ROWS][VECS], const float* __restrict rows, int64_t stride,
                       int64_t count, const float* __restrict w, int64_t width, int64_t c) {
  for (int64_t i = 0; i < count; ++i) {
    const float* wi = w + i * width + c;
    v16 wv[VECS];
#pragma GCC unroll 4
    for (int v = 0; v < VECS; ++v) wv[v] = load16(wi + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r) {
      const float hv = rows[r * stride + i];
#pragma GCC unroll 4
      for (int v = 0; v < VECS; ++v) acc[r][v] += hv * wv[v];
    }
  }
}

template <int ROWS, int VECS>
inline void block_columns(const Operand& a, const Operand& b, const float* __restrict bias,
                          int64_t width, int64_t c, float* zh, int64_t row0, int64_t batch,
                          int64_t n) {
  v16 acc[ROWS][VECS];
  for (int v = 0; v < VECS; ++v) {
    const v16 bv = load16(bias + c + 16 * v);
    for (int r = 0; r < ROWS; ++r) acc[r][v] = bv;
  }
  accumulate<ROWS, VECS>(acc, a.rows, a.stride, a.count, a.w, width, c);
  accumulate<ROWS, VECS>(acc, b.rows, b.stride, b.count, b.w, width, c);
  for (int r = 0; r < ROWS; ++r) {
    for (int v = 0; v < VECS; ++v) put16(zh, batch, n, row0 + r, c + 16 * v, acc[r][v]);
  }
}

template <int ROWS>
void block_gemm(const Operand& a, const Operand& b, const float* bias, int64_t width, float* zh,
                int64_t row0, int64_t batch, int64_t n) {
  int64_t c = 0;
  for (; c + 32 <= width; c += 32) block_columns<ROWS, 2>(a, b, bias, width, c, zh, row0, batch, n);
  for (; c + 16 <= width; c += 16) block_columns<ROWS, 1>(a, b, bias, width, c, zh, row0, batch, n);
  for (; c < width; ++c) {  // the last columns, fewer than 16
    const int64_t hd = c / n, j = c - hd * n;
    for (int r = 0; r < ROWS; ++r) {
      float acc = bias[c];
      for (int64_t i = 0; i < a.count; ++i) acc += a.rows[r * a.stride + i] * a.w[i * width + c];
      for (int64_t i = 0; i < b.count; ++i) acc += b.rows[r * b.stride + i] * b.w[i * width + c];
      zh[(hd * batch + row0 + r) * n + j] = acc;
    }
  }
}

// zh = bias + [h, x_t] @ [w_rec; w_in] for every batch row; x_t is row b's input at step t.
void step_gemm(const float* h, const float* w_rec, const float* x, int64_t x_row_stride,
               int64_t n_in, const float* w_in, const float* bias, float* zh, int64_t batch,
               int64_t n, int64_t width) {
  int64_t b = 0;
  for (; b + 4 <= batch; b += 4) {
    block_gemm<4>({h + b * n, n, n, w_rec}, {x + b * x_row_stride, x_row_stride, n_in, w_in},
                  bias, width, zh, b, batch, n);
  }
  for (; b < batch; ++b) {
    block_gemm<1>({h + b * n, n, n, w_rec}, {x + b * x_row_stride, x_row_stride, n_in, w_in},
                  bias, width, zh, b, batch, n);
  }
}

// New states from the head-major pre-activations: heads ff1, ff2 and the folded gate.
void untimed_pass(const float* __restrict ff1, const float* __restrict ff2,
                  const float* __restrict gate, float* __restrict out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = interpolate(ff1[i], ff2[i], gate[i]);
}

// The same with heads ff1, ff2, time_a, time_b and each neuron's time span t.
void timed_pass(const float* __restrict ff1, const float* __restrict ff2,
                const float* __restrict ta, const float* __restrict tb,
                const float* __restrict t, float* __restrict out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = interpolate(ff1[i], ff2[i], ta[i] * t[i] + tb[i]);
}

std::tuple<at::Tensor, at::Tensor> wired_scan_default(
    const at::Tensor& x,                  // (B, T, I): the input sequence, batch first
    const at::Tensor& w_in,               // (I, heads * N): input weights
    const at::Tensor& bias,               // (heads * N)
    const at::Tensor& h0,                 // (B, N): initial affine state u
    const at::Tensor& w_rec,              // (N, heads * N): recurrent weights
    const c10::optional<at::Tensor>& ts,  // (B, T) time span of each step, or none (folded)
    const at::Tensor& layer_of,           // (N,) int64, non-decreasing: each neuron's layer
    int64_t keep_start, int64_t keep_stop) {
  TORCH_CHECK(!at::GradMode::is_enabled(), "the fused CfC scan is for inference only");
  for (const auto* t : {&x, &w_in, &bias, &h0, &w_rec}) {
    TORCH_CHECK(t->scalar_type() == at::kFloat && t->device().is_cpu(),
                "the fused CfC scan takes float32 CPU tensors");
  }
  const bool timed = ts.has_value();
  const int64_t batch = x.size(0), steps = x.size(1), n_in = x.size(2), n = h0.size(1);
  const int64_t heads = timed ? 4 : 3, width = heads * n, keep = keep_stop - keep_start;
  TORCH_CHECK(steps > 0 && w_in.size(0) == n_in && w_in.size(1) == width &&
                  bias.numel() == width && w_rec.size(0) == n && w_rec.size(1) == width &&
                  layer_of.numel() == n && h0.size(0) == batch,
              "the fused CfC scan: shapes do not agree");
  TORCH_CHECK(0 <= keep_start && keep_start <= keep_stop && keep_stop <= n,
              "the fused CfC scan: column range out of bounds");
  const auto layers = layer_of.to(at::kLong).contiguous();
  const int64_t* lp = layers.data_ptr<int64_t>();
  const int64_t n_layers = lp[n - 1] + 1;
  // Contiguous runs of one layer, [start, stop, layer]: over every neuron, and inside the
  // kept columns.
  auto layer_runs_in = [&](int64_t start, int64_t stop) {
    std::vector<std::array<int64_t, 3>> out_runs;
    for (int64_t j = start; j < stop; ++j) {
      if (j > 0) TORCH_CHECK(lp[j] >= lp[j - 1], "the fused CfC scan: layers not in order");
      if (out_runs.empty() || out_runs.back()[2] != lp[j]) out_runs.push_back({j, j + 1, lp[j]});
      else out_runs.back()[1] = j + 1;
    }
    return out_runs;
  };
  const auto layer_runs = layer_runs_in(0, n);
  const auto runs = layer_runs_in(keep_start, keep_stop);
  const auto x_c = x.contiguous(), w_in_c = w_in.contiguous(), w_rec_c = w_rec.contiguous();
  const auto bias_c = bias.contiguous();
  const auto ts_c = timed ? ts->to(at::kFloat).contiguous() : at::Tensor();
  auto out = at::empty({batch, steps, keep}, h0.options());
  auto h = h0.contiguous().clone();
  auto next = at::empty_like(h);
  std::vector<float> zh(batch * width);  // head-major pre-activations (heads, batch, N)
  std::vector<float> t_all(timed ? batch * n : 0);
  const float* xp = x_c.data_ptr<float>();
  const float* w_in_p = w_in_c.data_ptr<float>();
  const float* w_rec_p = w_rec_c.data_ptr<float>();
  const float* bp = bias_c.data_ptr<float>();
  const float* tp = timed ? ts_c.data_ptr<float>() : nullptr;
  float* zhp = zh.data();
  float* op = out.data_ptr<float>();
  const int64_t bn = batch * n;
  for (int64_t k = 0; k < steps + n_layers - 1; ++k) {
    const bool edge = k < n_layers - 1 || k >= steps;  // some layers idle
    const int64_t x_step = std::min(k, steps - 1);     // the fed layer is layer 0
    const float* hp = h.data_ptr<float>();  // the state before this iteration
    float* np_ = next.data_ptr<float>();
    step_gemm(hp, w_rec_p, xp + x_step * n_in, steps * n_in, n_in, w_in_p, bp, zhp, batch, n,
              width);
    if (timed) {  // each layer's neurons take the time span of the step that layer works on
      for (int64_t b = 0; b < batch; ++b) {
        const float* tb = tp + b * steps;
        for (const auto& run : layer_runs) {
          const float span = tb[std::min(std::max(k - run[2], int64_t{0}), steps - 1)];
          std::fill(t_all.begin() + b * n + run[0], t_all.begin() + b * n + run[1], span);
        }
      }
      timed_pass(zhp, zhp + bn, zhp + 2 * bn, zhp + 3 * bn, t_all.data(), np_, bn);
    } else {
      untimed_pass(zhp, zhp + bn, zhp + 2 * bn, np_, bn);
    }
    for (int64_t b = 0; b < batch; ++b) {
      float* nr = np_ + b * n;
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
