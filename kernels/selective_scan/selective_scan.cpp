// Selective scan (the S6 recurrence of Mamba) on CPU: forward and backward.
//
//   h_t = exp(dt_t * A) * h_{t-1} + dt_t * B_t * u_t          (per channel d, per state n)
//   y_t = <C_t, h_t> + D * u_t ;  out_t = y_t * silu(z_t)      (z optional)
//   dt_t = softplus(delta_t + delta_bias)                      (softplus and bias optional)
//
// Layout: u, delta, z (batch, dim, len); A (dim, dstate); B, C (batch, groups, dstate, len); D, delta_bias (dim).
// B and C are read time-major (batch, groups, len, dstate), so a step's B_t, C_t are contiguous and shared by every
// channel block of the group; each tile is transposed once, by the first block that needs it (TimeMajorTiles).
//
// Work is split over (batch, channel block): run_tasks hands the blocks out one at a time from a shared counter
// (OpenMP: build with -fopenmp), so a thread that the OS deschedules (a busy neighbour on a shared machine) delays at
// most the one block it holds while the other threads take the rest, and a worker that finds itself on the caller's
// CPU moves off it (see CallerCpu). Nothing else in a call runs in parallel: the transposes of B and C and the
// gradient sums happen inside the same loop (TimeMajorTiles, Arrivals). A block holds kLanes channels of one group,
// so B_t and C_t are shared by its lanes and every inner loop runs across channels, the direction the compiler
// vectorises. Time is walked in tiles of kChunk steps that are transposed into [step][lane] buffers (the forward with
// z in two passes: the scan, then the gate; see forward_block). The state lives in a small [dstate][lane] array that
// stays in L1.
//
// The forward pass can save the state at the start of every tile (batch, dim, n_tiles, dstate). The backward pass
// walks the tiles in reverse, recomputes one tile's states from its checkpoint into an L2-sized buffer, and
// back-propagates through it: memory is O(len / kChunk) states instead of O(len).
//
// float and double are computed as such; the Python wrapper converts half and bfloat16 to float (fp32 accumulation).

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include <omp.h>
#if defined(__linux__)
#include <sched.h>
#endif

namespace {

constexpr int64_t kLanes = 16;  // channels per block: one AVX-512 register of floats
constexpr int64_t kChunk = 64;  // time steps per tile and between backward checkpoints

// Keeping the workers off the caller's CPU. When a call starts, the OS wakes the OpenMP workers and, if no CPU is idle
// (a busy neighbour), tends to place them on the waking thread's CPU (the scheduler's wake-affine placement); the
// balancer can also bring them together later. The team then shares one core while the neighbour has the other
// (scripts/bench_scan_busy.py, three runs: the k-th fastest 2-thread forward call took up to 1.10-1.15x the k-th
// fastest 1-thread call without the move, 0.71-0.75x with it).
// So before each task a worker compares its CPU with the one the caller last reported and, if they are the same,
// moves off it: its affinity mask without that CPU (the OS migrates it at once), then its own mask back (it stays
// where it was put until the OS moves it again). Two system calls, only when the threads share a CPU; nothing is
// pinned for longer. Skipped where the user binds threads (OMP_PROC_BIND) or it is turned off (spread_threads).
std::atomic<bool> g_spread_threads{true};

#if defined(__linux__)
inline int current_cpu() { return sched_getcpu(); }

// Moves the calling thread off `cpu`; false when its mask has no other CPU or the OS refuses.
bool move_off_cpu(int cpu) {
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask) != 0 || !CPU_ISSET(cpu, &mask) || CPU_COUNT(&mask) < 2) return false;
  cpu_set_t others = mask;
  CPU_CLR(cpu, &others);
  if (sched_setaffinity(0, sizeof others, &others) != 0) return false;
  sched_setaffinity(0, sizeof mask, &mask);
  return true;
}
#else
inline int current_cpu() { return -1; }
inline bool move_off_cpu(int) { return false; }
#endif

// Where the caller runs, as its thread last saw it, and how often a worker moved off it.
struct CallerCpu {
  explicit CallerCpu(int start_cpu) : cpu(start_cpu) {}

  std::atomic<int> cpu;
  std::atomic<int64_t> moves{0};

  // Called before each task: the caller (OpenMP thread 0) reports its CPU, a worker on that CPU moves off it.
  void before_task(bool is_caller) {
    const int here = current_cpu();
    if (is_caller) {
      cpu.store(here, std::memory_order_relaxed);
    } else if (here >= 0 && here == cpu.load(std::memory_order_relaxed) && move_off_cpu(here)) {
      moves.fetch_add(1, std::memory_order_relaxed);
    }
  }
};

// Call task(i) for i in [0, n_tasks) on `threads` OpenMP threads (0: at::get_num_threads()), dynamically scheduled,
// the workers kept off the caller's CPU (see CallerCpu). Returns how many times a worker moved off it (-1: not
// watched: one thread, binding by the user, or turned off).
template <typename F>
int64_t run_tasks(int64_t n_tasks, int64_t threads, const F& task) {
  if (threads <= 0) threads = at::get_num_threads();
  threads = std::max<int64_t>(1, std::min(threads, n_tasks));
  std::atomic<int64_t> next{0};
  const int caller_cpu = current_cpu();
  const bool spread = threads > 1 && caller_cpu >= 0 && g_spread_threads.load(std::memory_order_relaxed) &&
                      omp_get_proc_bind() == omp_proc_bind_false;
  CallerCpu caller(caller_cpu);
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const bool is_caller = omp_get_thread_num() == 0;
    for (int64_t i = next.fetch_add(1); i < n_tasks; i = next.fetch_add(1)) {
      if (spread) caller.before_task(is_caller);
      task(i);
    }
  }
  return spread ? caller.moves.load() : -1;
}

// For tests: run `tasks` tasks of `spin_us` microseconds each on `threads` threads. Returns run_tasks' count of moves
// and, per task, the OpenMP thread number and the CPU the task started on.
std::pair<int64_t, std::vector<std::pair<int, int>>> probe_placement(int64_t tasks, int64_t threads,
                                                                     int64_t spin_us) {
  std::vector<std::pair<int, int>> where(static_cast<size_t>(tasks));
  const int64_t moves = run_tasks(tasks, threads, [&](int64_t task) {
    where[static_cast<size_t>(task)] = {omp_get_thread_num(), current_cpu()};
    const double end = omp_get_wtime() + 1e-6 * static_cast<double>(spin_us);
    while (omp_get_wtime() < end) {
    }
  });
  return {moves, where};
}

inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

inline int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// exp(x) with ~2 ulp error, written so that loops calling it vectorise (no libm call, no branches).
// Range reduction x = n ln2 + r (two-constant Cody-Waite), degree-6 polynomial for exp(r), 2^n built in the exponent.
inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits
  const float shifted = x * 1.44269504088896341f + shifter;
  const float n = shifted - shifter;
  const int32_t n_int = float_to_bits(shifted) - 0x4B400000;
  float r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  return p * bits_to_float((n_int + 127) << 23);
}

inline double fast_exp(double x) { return std::exp(x); }

// 2^x, vectorisable: x = n + f with f in [-1/2, 1/2], 2^f by its degree-6 Taylor polynomial (relative error
// below 1.3e-7), 2^n built in the exponent. The scan computes exp(dt A) as 2^(dt (A log2 e)) with log2 e folded
// into A once per block, which saves the range reduction of exp in the innermost loop.
inline float fast_exp2(float x) {
  x = x < -126.0f ? -126.0f : x;
  x = x > 127.0f ? 127.0f : x;
  const float shifter = 12582912.0f;
  const float shifted = x + shifter;
  const float n = shifted - shifter;
  const int32_t n_int = float_to_bits(shifted) - 0x4B400000;
  const float f = x - n;
  float p = 1.5403530393381606e-4f;
  p = p * f + 1.3333558146428443e-3f;
  p = p * f + 9.6181291076284772e-3f;
  p = p * f + 5.5504108664821580e-2f;
  p = p * f + 2.4022650695910071e-1f;
  p = p * f + 6.9314718055994531e-1f;
  p = p * f + 1.0f;
  return p * bits_to_float((n_int + 127) << 23);
}

inline double fast_exp2(double x) { return std::exp2(x); }

// softplus(x) = max(x, 0) + log(1 + exp(-|x|)), branch-free so that loops over it vectorise; NaN propagates. With
// t = exp(-|x|) in (0, 1], log(1 + t) = t P(t), P a degree-8 polynomial fitted to log(1 + t) / t on [0, 1] (relative
// error below 2.5e-7 in float): no logarithm's range reduction, and tiny softplus(x) keep their relative precision
// (1 + t is never rounded).
inline float softplus(float x) {
  const float t = fast_exp(x < 0.0f ? x : -x);
  float p = 5.186003632843494e-3f;
  p = p * t - 2.9210267588496208e-2f;
  p = p * t + 7.754038274288177e-2f;
  p = p * t - 1.3583941757678986e-1f;
  p = p * t + 1.9055955111980438e-1f;
  p = p * t - 2.4825648963451385e-1f;
  p = p * t + 3.331601023674011e-1f;
  p = p * t - 4.999925494194031e-1f;
  p = p * t + 9.999999403953552e-1f;
  const float result = (x > 0.0f ? x : 0.0f) + t * p;
  return x != x ? x : result;
}

inline double softplus(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }

// 1 / d for normal d > 0 without a division (a 512-bit divide costs as much as the rest of a sigmoid): a first guess
// from the exponent bits (relative error below 1/8), then Newton steps x <- x (2 - d x), each squaring the error:
// four reach float precision. NaN stays NaN.
inline float reciprocal(float d) {
  float x = bits_to_float(0x7EF311C7 - float_to_bits(d));
  for (int i = 0; i < 4; ++i) x = x * (2.0f - d * x);
  return x;
}

inline double reciprocal(double d) { return 1.0 / d; }

template <typename T>
inline T sigmoid(T x) {
  return reciprocal(T(1) + fast_exp(-x));
}

template <typename T>
class TimeMajorTiles;  // below: B and C served time-major

// Pointers and sizes of one call. Optional inputs are nullptr.
template <typename T>
struct Problem {
  const T* u;
  const T* delta;
  const T* A;
  TimeMajorTiles<T>* B_tiles;  // B and C, time-major one tile at a time (see TimeMajorTiles)
  TimeMajorTiles<T>* C_tiles;
  const T* D;
  const T* z;
  const T* delta_bias;
  int64_t batch, dim, len, dstate, groups;
  bool delta_softplus;

  int64_t channels_per_group() const { return dim / groups; }
  int64_t blocks_per_group() const { return (channels_per_group() + kLanes - 1) / kLanes; }
  int64_t n_tasks() const { return batch * groups * blocks_per_group(); }
  int64_t n_chunks() const { return (len + kChunk - 1) / kChunk; }
};

// One task: kLanes channels [d0, d0 + lanes) of batch b, inside group g, block j of that group.
struct Block {
  int64_t b, g, j, d0, lanes;
};

template <typename T>
Block block_of(const Problem<T>& p, int64_t task) {
  const int64_t per_batch = p.groups * p.blocks_per_group();
  Block blk;
  blk.b = task / per_batch;
  const int64_t rest = task % per_batch;
  blk.g = rest / p.blocks_per_group();
  blk.j = rest % p.blocks_per_group();
  blk.d0 = blk.g * p.channels_per_group() + blk.j * kLanes;
  blk.lanes = std::min(kLanes, p.channels_per_group() - blk.j * kLanes);
  return blk;
}

#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 12)
#define MAMBA_MONAI_VECTOR_SHUFFLES 1  // __builtin_shufflevector on GCC vector types (lowered for any target)
typedef float float16_vec __attribute__((vector_size(64)));
// the same for loads and stores at any float address (a memcpy of 64 bytes may be split into halves whose reload as
// one register stalls store forwarding)
typedef float float16_vec_unaligned __attribute__((vector_size(64), aligned(4), may_alias));
#endif

#ifdef MAMBA_MONAI_VECTOR_SHUFFLES
// One round of the register transpose: out[2i], out[2i + 1] interleave in[i] with in[i + 8].
inline __attribute__((always_inline)) void interleave_rows(const float16_vec* __restrict__ in,
                                                           float16_vec* __restrict__ out) {
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    out[2 * i] = __builtin_shufflevector(in[i], in[i + 8], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    out[2 * i + 1] =
        __builtin_shufflevector(in[i], in[i + 8], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  }
}
#endif

// dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows <= 16, c < cols <= 16. A full 16 x 16 float block is
// transposed in registers: four rounds of interleaving row i with row i + 8 (each round rotates the 8-bit index r:c
// left by one bit, so four rounds swap r and c); 64 shuffles instead of 256 scalar loads and stores.
template <typename T>
void transpose_block(const T* __restrict__ src, int64_t src_stride, T* __restrict__ dst, int64_t dst_stride,
                     int64_t rows, int64_t cols) {
#ifdef MAMBA_MONAI_VECTOR_SHUFFLES
  if constexpr (std::is_same_v<T, float>) {
    if (rows == 16 && cols == 16) {
      // the rounds alternate between two register arrays (copying one into the other after each round made gcc
      // spill both to the stack and move them with memmove: 12 % of the N = 1 forward's samples)
      float16_vec v[16], w[16];
#pragma GCC unroll 16
      for (int r = 0; r < 16; ++r) v[r] = *reinterpret_cast<const float16_vec_unaligned*>(src + r * src_stride);
      interleave_rows(v, w);
      interleave_rows(w, v);
      interleave_rows(v, w);
      interleave_rows(w, v);
#pragma GCC unroll 16
      for (int c = 0; c < 16; ++c) *reinterpret_cast<float16_vec_unaligned*>(dst + c * dst_stride) = v[c];
      return;
    }
  }
#endif
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * dst_stride + r] = src[r * src_stride + c];
}

// The same for any rows and cols, in blocks of 16 x 16.
template <typename T>
void transpose(const T* src, int64_t src_stride, T* dst, int64_t dst_stride, int64_t rows, int64_t cols) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16)
    for (int64_t c0 = 0; c0 < cols; c0 += 16)
      transpose_block(src + r0 * src_stride + c0, src_stride, dst + c0 * dst_stride + r0, dst_stride,
                      std::min<int64_t>(16, rows - r0), std::min<int64_t>(16, cols - c0));
}

// B or C of one call, (batch * groups, dstate, len), served time-major: tile c of row bg as [t][n] (kChunk steps of
// dstate values), so that a step's B_t is contiguous and shared by every channel block of the group. The first block
// that needs a tile transposes it into the shared copy; a block that finds another thread still writing it transposes
// its own into scratch instead of waiting (the writer may be descheduled). This keeps the transposes inside the
// kernel's own parallel loop: a separate copy beforehand would be one more statically split region that waits on a
// late thread, run on torch's thread count rather than the call's.
template <typename T>
class TimeMajorTiles {
 public:
  // src: (rows, dstate, len); shared: room for (rows, len, dstate).
  TimeMajorTiles(const T* src, T* shared, int64_t rows, int64_t dstate, int64_t len)
      : src_(src), shared_(shared), dstate_(dstate), len_(len), n_chunks_((len + kChunk - 1) / kChunk),
        n_tiles_(rows * n_chunks_), state_(new std::atomic<uint8_t>[static_cast<size_t>(n_tiles_)]) {
    for (int64_t i = 0; i < n_tiles_; ++i) state_[i].store(kTodo, std::memory_order_relaxed);
  }

  // Tile c of row bg as [t][n]; `scratch` (kChunk * dstate values) receives it if another thread is writing it.
  const T* tile(int64_t bg, int64_t c, T* scratch) {
    std::atomic<uint8_t>& state = state_[bg * n_chunks_ + c];
    T* shared = shared_ + (bg * len_ + c * kChunk) * dstate_;
    uint8_t seen = state.load(std::memory_order_acquire);
    if (seen == kDone) return shared;
    if (seen == kTodo && state.compare_exchange_strong(seen, kWriting, std::memory_order_acq_rel)) {
      transpose_tile(bg, c, shared);
      state.store(kDone, std::memory_order_release);
      return shared;
    }
    if (seen == kDone) return shared;  // finished between the load and the exchange
    transpose_tile(bg, c, scratch);
    return scratch;
  }

  // For tests: every tile as if another thread were writing it, so that tile() serves scratch copies.
  void pretend_all_writing() {
    for (int64_t i = 0; i < n_tiles_; ++i) state_[i].store(kWriting, std::memory_order_relaxed);
  }

 private:
  static constexpr uint8_t kTodo = 0, kWriting = 1, kDone = 2;

  void transpose_tile(int64_t bg, int64_t c, T* dst) const {
    const int64_t l0 = c * kChunk, steps = std::min(kChunk, len_ - l0);
    transpose(src_ + bg * dstate_ * len_ + l0, len_, dst, dstate_, dstate_, steps);
  }

  const T* src_;
  T* shared_;
  int64_t dstate_, len_, n_chunks_, n_tiles_;
  std::unique_ptr<std::atomic<uint8_t>[]> state_;
};

// Copy `steps` steps from `lanes` rows of a (rows, len) array into tile[t][w]; missing lanes are zero.
template <typename T>
void load_tile(const T* rows, int64_t len, int64_t l0, int64_t steps, int64_t lanes, T* tile) {
  transpose(rows + l0, len, tile, kLanes, lanes, steps);
  for (int64_t w = lanes; w < kLanes; ++w)
    for (int64_t t = 0; t < steps; ++t) tile[t * kLanes + w] = T(0);
}

// Ask the cache for `steps` steps of `lanes` rows of a (rows, len) array: the next tile's inputs, fetched while this
// tile is computed (16 rows read a few cache lines each are not followed by the hardware prefetcher).
template <typename T>
void prefetch_tile(const T* rows, int64_t len, int64_t l0, int64_t steps, int64_t lanes) {
  constexpr int64_t line = 64 / sizeof(T);
  if (rows == nullptr || steps <= 0) return;
  for (int64_t w = 0; w < lanes; ++w)
    for (int64_t t = 0; t < steps; t += line) __builtin_prefetch(rows + w * len + l0 + t);
}

// Copy tile[t][w] back into `lanes` rows of a (rows, len) array.
template <typename T>
void store_tile(const T* tile, int64_t len, int64_t l0, int64_t steps, int64_t lanes, T* rows) {
  transpose(tile, kLanes, rows + l0, len, steps, lanes);
}

// Per-tile inputs shared by forward and backward: dt (after bias and softplus), the raw pre-softplus value, u, B, C.
template <typename T>
struct Tile {
  std::vector<T> dt, dt_raw, u;
  const T* B = nullptr;  // [t][n]: the problem's shared time-major tile, or B_scratch (see TimeMajorTiles)
  const T* C = nullptr;
  std::vector<T> B_scratch, C_scratch;
  explicit Tile(int64_t dstate)
      : dt(kChunk * kLanes), dt_raw(kChunk * kLanes), u(kChunk * kLanes), B_scratch(kChunk * dstate),
        C_scratch(kChunk * dstate) {}

  void load(const Problem<T>& p, const Block& blk, int64_t l0, int64_t steps) {
    const int64_t row0 = (blk.b * p.dim + blk.d0) * p.len;
    load_tile(p.delta + row0, p.len, l0, steps, blk.lanes, dt_raw.data());
    load_tile(p.u + row0, p.len, l0, steps, blk.lanes, u.data());
    if (p.delta_bias) {  // across lanes, the direction that vectorises (padded lanes add 0)
      T bias[kLanes] = {};
      for (int64_t w = 0; w < blk.lanes; ++w) bias[w] = p.delta_bias[blk.d0 + w];
      T* __restrict__ raw = dt_raw.data();
      for (int64_t t = 0; t < steps; ++t) {
#pragma omp simd
        for (int64_t w = 0; w < kLanes; ++w) raw[t * kLanes + w] += bias[w];
      }
    }
    T* __restrict__ dt_out = dt.data();
    const T* __restrict__ raw = dt_raw.data();
    if (p.delta_softplus) {
#pragma omp simd
      for (int64_t i = 0; i < steps * kLanes; ++i) dt_out[i] = softplus(raw[i]);
    } else {
#pragma omp simd
      for (int64_t i = 0; i < steps * kLanes; ++i) dt_out[i] = raw[i];
    }
    for (int64_t i = blk.lanes; i < kLanes; ++i)  // padded lanes: dt = 0 keeps their state at zero
      for (int64_t t = 0; t < steps; ++t) dt_out[t * kLanes + i] = T(0);
    const int64_t bg = blk.b * p.groups + blk.g;
    B = p.B_tiles->tile(bg, l0 / kChunk, B_scratch.data());
    C = p.C_tiles->tile(bg, l0 / kChunk, C_scratch.data());
  }

  // Prefetch delta, u and (with_z) z of the tile starting at l0 (the next one to load).
  static void prefetch(const Problem<T>& p, const Block& blk, int64_t l0, bool with_z) {
    if (l0 < 0 || l0 >= p.len) return;
    const int64_t row0 = (blk.b * p.dim + blk.d0) * p.len, steps = std::min(kChunk, p.len - l0);
    prefetch_tile(p.delta + row0, p.len, l0, steps, blk.lanes);
    prefetch_tile(p.u + row0, p.len, l0, steps, blk.lanes);
    if (with_z && p.z) prefetch_tile(p.z + row0, p.len, l0, steps, blk.lanes);
  }
};

// A of the block's lanes, as [n][w], times `scale`; padded lanes get 0.
template <typename T>
std::vector<T> load_A(const Problem<T>& p, const Block& blk, T scale = T(1)) {
  std::vector<T> a(p.dstate * kLanes, T(0));
  for (int64_t w = 0; w < blk.lanes; ++w)
    for (int64_t n = 0; n < p.dstate; ++n) a[n * kLanes + w] = p.A[(blk.d0 + w) * p.dstate + n] * scale;
  return a;
}

constexpr double kLog2e = 1.4426950408889634;

// Run the recurrence over one tile. a2 is A log2(e) as [n][w]; h ([n][w]) is updated in place; y[t][w] receives
// <C_t, h_t>.
// With `states`/`decays` non-null, h_t and exp(dt_t A) are kept as [t][n][w] for the backward pass.
// NFixed > 0 makes dstate a compile-time constant (fully unrolled state loop); 0 reads it from N.
template <typename T, int64_t NFixed, bool Keep>
void scan_tile_impl(const Tile<T>& tile, const T* __restrict__ a, int64_t steps, int64_t N_runtime, T* __restrict__ h,
                    T* __restrict__ y, T* __restrict__ states, T* __restrict__ decays) {
  const int64_t N = NFixed > 0 ? NFixed : N_runtime;
  const T* __restrict__ dt_tile = tile.dt.data();
  const T* __restrict__ u_tile = tile.u.data();
  const T* __restrict__ B_tile = tile.B;
  const T* __restrict__ C_tile = tile.C;
  for (int64_t t = 0; t < steps; ++t) {
    const T* __restrict__ dt = dt_tile + t * kLanes;
    const T* __restrict__ u = u_tile + t * kLanes;
    T dtu[kLanes];
    T acc[kLanes];
#pragma omp simd
    for (int64_t w = 0; w < kLanes; ++w) {
      dtu[w] = dt[w] * u[w];
      acc[w] = T(0);
    }
    for (int64_t n = 0; n < N; ++n) {
      const T bn = B_tile[t * N + n];
      const T cn = C_tile[t * N + n];
      const T* __restrict__ an = a + n * kLanes;
      T* __restrict__ hn = h + n * kLanes;
#pragma omp simd
      for (int64_t w = 0; w < kLanes; ++w) {
        const T decay = fast_exp2(dt[w] * an[w]);
        const T hv = decay * hn[w] + dtu[w] * bn;
        hn[w] = hv;
        acc[w] += hv * cn;
        if constexpr (Keep) {
          states[(t * N + n) * kLanes + w] = hv;
          decays[(t * N + n) * kLanes + w] = decay;
        }
      }
    }
#pragma omp simd
    for (int64_t w = 0; w < kLanes; ++w) y[t * kLanes + w] = acc[w];
  }
}

template <typename T>
void scan_tile(const Tile<T>& tile, const T* a, int64_t steps, int64_t N, T* h, T* y, T* states, T* decays) {
  const bool keep = states != nullptr;
  if (N == 16) {
    keep ? scan_tile_impl<T, 16, true>(tile, a, steps, N, h, y, states, decays)
         : scan_tile_impl<T, 16, false>(tile, a, steps, N, h, y, states, decays);
  } else if (N == 1) {
    keep ? scan_tile_impl<T, 1, true>(tile, a, steps, N, h, y, states, decays)
         : scan_tile_impl<T, 1, false>(tile, a, steps, N, h, y, states, decays);
  } else {
    keep ? scan_tile_impl<T, 0, true>(tile, a, steps, N, h, y, states, decays)
         : scan_tile_impl<T, 0, false>(tile, a, steps, N, h, y, states, decays);
  }
}

// D of the block's lanes; padded lanes (and no D) get 0.
template <typename T>
std::vector<T> load_D(const Problem<T>& p, const Block& blk) {
  std::vector<T> d(kLanes, T(0));
  if (p.D)
    for (int64_t w = 0; w < blk.lanes; ++w) d[w] = p.D[blk.d0 + w];
  return d;
}

// y[t][w] += D u over one tile.
template <typename T>
void add_skip(const Tile<T>& tile, int64_t steps, const std::vector<T>& D, T* __restrict__ y) {
  const T* __restrict__ u = tile.u.data();
  const T* __restrict__ d = D.data();
  for (int64_t t = 0; t < steps; ++t) {
#pragma omp simd
    for (int64_t w = 0; w < kLanes; ++w) y[t * kLanes + w] += d[w] * u[t * kLanes + w];
  }
}

// y[t][w] *= silu(z) over one tile (z_tile is scratch).
template <typename T>
void gate(const Problem<T>& p, const Block& blk, int64_t l0, int64_t steps, T* __restrict__ y, T* __restrict__ z_tile) {
  load_tile(p.z + (blk.b * p.dim + blk.d0) * p.len, p.len, l0, steps, blk.lanes, z_tile);
#pragma omp simd
  for (int64_t i = 0; i < steps * kLanes; ++i) y[i] *= z_tile[i] * sigmoid(z_tile[i]);
}

template <typename T>
void forward_block(const Problem<T>& p, const Block& blk, T* out, T* last_state, T* checkpoints) {
  const int64_t N = p.dstate, L = p.len, n_chunks = p.n_chunks();
  const std::vector<T> a2 = load_A(p, blk, T(kLog2e));
  std::vector<T> h(N * kLanes, T(0));
  // With z, the output of the whole block waits in y ([t][w], L2-resident) and is gated in a second pass, so that
  // each pass walks the rows of at most three arrays: all four at once touch more pages per tile (16 rows each, one
  // page per row) than the first-level TLB holds, and every row access missed it.
  std::vector<T> y((p.z ? L : kChunk) * kLanes), zt(kChunk * kLanes);
  const std::vector<T> Dl = load_D(p, blk);
  Tile<T> tile(N);
  const int64_t row0 = (blk.b * p.dim + blk.d0);
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t l0 = c * kChunk, steps = std::min(kChunk, L - l0);
    if (checkpoints)
      for (int64_t w = 0; w < blk.lanes; ++w)
        for (int64_t n = 0; n < N; ++n) checkpoints[((row0 + w) * n_chunks + c) * N + n] = h[n * kLanes + w];
    tile.load(p, blk, l0, steps);
    Tile<T>::prefetch(p, blk, l0 + kChunk, false);  // z: in the second pass
    T* y_tile = y.data() + (p.z ? l0 * kLanes : 0);
    scan_tile(tile, a2.data(), steps, N, h.data(), y_tile, static_cast<T*>(nullptr), static_cast<T*>(nullptr));
    add_skip(tile, steps, Dl, y_tile);
    if (!p.z) store_tile(y_tile, L, l0, steps, blk.lanes, out + row0 * L);
  }
  if (p.z) {
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t l0 = c * kChunk, steps = std::min(kChunk, L - l0);
      T* y_tile = y.data() + l0 * kLanes;
      gate(p, blk, l0, steps, y_tile, zt.data());
      store_tile(y_tile, L, l0, steps, blk.lanes, out + row0 * L);
    }
  }
  for (int64_t w = 0; w < blk.lanes; ++w)
    for (int64_t n = 0; n < N; ++n) last_state[(row0 + w) * N + n] = h[n * kLanes + w];
}

// Counts arrivals per slot. The thread whose arrival brings a slot to `expected` is told so, and sees every earlier
// arrival's writes (acquire-release): it can then sum the partial results in a fixed order. Sums without a barrier
// or a second parallel loop, and the same bits on any number of threads.
class Arrivals {
 public:
  Arrivals(int64_t slots, int64_t expected) : expected_(expected), counts_(new std::atomic<int64_t>[slots]) {
    for (int64_t i = 0; i < slots; ++i) counts_[i].store(0, std::memory_order_relaxed);
  }

  bool last(int64_t slot) { return counts_[slot].fetch_add(1, std::memory_order_acq_rel) + 1 == expected_; }

 private:
  int64_t expected_;
  std::unique_ptr<std::atomic<int64_t>[]> counts_;
};

// Gradient buffers of one call. Tasks write partial sums where several tasks contribute to one gradient: dA, dD,
// ddelta_bias per batch ((batch, dim, dstate), (batch, dim)), dB and dC per channel block (batch, groups,
// blocks_per_group, dstate, len), so that no two tasks write the same element. The last task to write a piece sums it
// into the outputs (*_sum; dB_sum, dC_sum are (batch, groups, dstate, len)): see Arrivals.
template <typename T>
struct Grads {
  T* du;
  T* ddelta;
  T* dz;
  T* dA;
  T* dD;
  T* ddelta_bias;
  T* dB;
  T* dC;
  T* dA_sum;
  T* dD_sum;
  T* ddelta_bias_sum;
  T* dB_sum;
  T* dC_sum;
  Arrivals* tile_arrivals;   // per (batch * groups + group, tile): the group's channel blocks that wrote the tile
  Arrivals* block_arrivals;  // per (group, block of the group): the batches done
};

// dB_sum, dC_sum of one tile (steps from l0) of row bg = batch * groups + group: the sum over the group's channel
// blocks, in block order.
template <typename T>
void sum_tile_over_blocks(const Problem<T>& p, const Grads<T>& g, int64_t bg, int64_t l0, int64_t steps) {
  const int64_t N = p.dstate, L = p.len, blocks = p.blocks_per_group();
  for (int k = 0; k < 2; ++k) {
    const T* part = k == 0 ? g.dB : g.dC;
    T* sum = k == 0 ? g.dB_sum : g.dC_sum;
    for (int64_t n = 0; n < N; ++n) {
      T* __restrict__ out = sum + (bg * N + n) * L + l0;
      const T* __restrict__ first = part + (bg * blocks * N + n) * L + l0;
#pragma omp simd
      for (int64_t t = 0; t < steps; ++t) out[t] = first[t];
      for (int64_t j = 1; j < blocks; ++j) {
        const T* __restrict__ in = part + ((bg * blocks + j) * N + n) * L + l0;
#pragma omp simd
        for (int64_t t = 0; t < steps; ++t) out[t] += in[t];
      }
    }
  }
}

// dA_sum, dD_sum, ddelta_bias_sum of one block's channels: the sum over the batch, in batch order.
template <typename T>
void sum_block_over_batch(const Problem<T>& p, const Block& blk, const Grads<T>& g) {
  const int64_t N = p.dstate;
  for (int64_t d = blk.d0; d < blk.d0 + blk.lanes; ++d) {
    for (int64_t n = 0; n < N; ++n) {
      T acc = g.dA[d * N + n];
      for (int64_t b = 1; b < p.batch; ++b) acc += g.dA[(b * p.dim + d) * N + n];
      g.dA_sum[d * N + n] = acc;
    }
    T dD = g.dD[d], dbias = g.ddelta_bias[d];
    for (int64_t b = 1; b < p.batch; ++b) {
      dD += g.dD[b * p.dim + d];
      dbias += g.ddelta_bias[b * p.dim + d];
    }
    g.dD_sum[d] = dD;
    g.ddelta_bias_sum[d] = dbias;
  }
}

// out[r] = sum of the kLanes values of rows[r] (rows of kLanes values), for r in [0, n_rows).
// Sixteen rows of 16 floats at a time by a transposing tree (15 pairwise shuffle-and-add steps give all 16 sums in
// one vector) instead of 16 horizontal sums; the rest one row at a time.
template <typename T>
void sum_rows(const T* __restrict__ rows, int64_t n_rows, T* __restrict__ out) {
  int64_t r = 0;
#ifdef MAMBA_MONAI_VECTOR_SHUFFLES
  if constexpr (std::is_same_v<T, float> && kLanes == 16) {
    typedef float16_vec v16;
    for (; r + 16 <= n_rows; r += 16) {
      v16 v[16];
      for (int i = 0; i < 16; ++i) v[i] = *reinterpret_cast<const float16_vec_unaligned*>(rows + (r + i) * 16);
      v16 a[8], b[4], c[2];
      for (int k = 0; k < 8; ++k)  // a[k]: row 2k in lanes 0-7, row 2k+1 in lanes 8-15
        a[k] = __builtin_shufflevector(v[2 * k], v[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
               __builtin_shufflevector(v[2 * k], v[2 * k + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30,
                                       31);
      for (int k = 0; k < 4; ++k)  // b[k]: rows 4k .. 4k+3, four lanes each
        b[k] = __builtin_shufflevector(a[2 * k], a[2 * k + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
               __builtin_shufflevector(a[2 * k], a[2 * k + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30,
                                       31);
      for (int k = 0; k < 2; ++k)  // c[k]: rows 8k .. 8k+7, two lanes each
        c[k] = __builtin_shufflevector(b[2 * k], b[2 * k + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
               __builtin_shufflevector(b[2 * k], b[2 * k + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30,
                                       31);
      const v16 sums = __builtin_shufflevector(c[0], c[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
                       __builtin_shufflevector(c[0], c[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
      *reinterpret_cast<float16_vec_unaligned*>(out + r) = sums;
    }
  }
#endif
  for (; r < n_rows; ++r) {
    T sum = T(0);
    for (int64_t w = 0; w < kLanes; ++w) sum += rows[r * kLanes + w];
    out[r] = sum;
  }
}

// Reverse walk through one tile, steps-1 down to 0. dh ([n][w]) enters holding exp(dt_{t+1} A) dL/dh_{t+1} and
// leaves holding the same for the tile's first step; dA ([n][w]) accumulates. states/decays ([t][n][w], from
// scan_tile) are overwritten with the per-lane terms of dC and dB: dy_t h_t and dL/dh_t dt_t u_t, summed over the
// lanes afterwards (a horizontal sum per (t, n) inside this loop would cost as much as the loop itself).
// ddt receives the dt gradient before softplus, du the scan's part of the u gradient.
template <typename T, int64_t NFixed>
void reverse_tile_impl(const Tile<T>& tile, const T* __restrict__ a, const T* __restrict__ dy, const T* __restrict__ h0,
                       int64_t steps, int64_t N_runtime, T* __restrict__ states, T* __restrict__ decays,
                       T* __restrict__ dh, T* __restrict__ dA, T* __restrict__ du, T* __restrict__ ddt) {
  const int64_t N = NFixed > 0 ? NFixed : N_runtime;
  for (int64_t t = steps - 1; t >= 0; --t) {
    const T* __restrict__ dt = tile.dt.data() + t * kLanes;
    const T* __restrict__ u = tile.u.data() + t * kLanes;
    const T* __restrict__ dyt = dy + t * kLanes;
    T ddt_w[kLanes], dbu_w[kLanes], dtu[kLanes];  // dbu: sum over n of dL/dh * B (gives du and part of ddt)
#pragma omp simd
    for (int64_t w = 0; w < kLanes; ++w) {
      ddt_w[w] = T(0);
      dbu_w[w] = T(0);
      dtu[w] = dt[w] * u[w];
    }
    for (int64_t n = 0; n < N; ++n) {
      const T bn = tile.B[t * N + n];
      const T cn = tile.C[t * N + n];
      const T* __restrict__ an = a + n * kLanes;
      T* __restrict__ hn = states + (t * N + n) * kLanes;
      const T* __restrict__ hprev = t > 0 ? states + ((t - 1) * N + n) * kLanes : h0 + n * kLanes;
      T* __restrict__ en = decays + (t * N + n) * kLanes;
      T* __restrict__ dhn = dh + n * kLanes;
      T* __restrict__ dAn = dA + n * kLanes;
#pragma omp simd
      for (int64_t w = 0; w < kLanes; ++w) {
        const T grad_h = dhn[w] + dyt[w] * cn;
        const T grad_decay = grad_h * en[w] * hprev[w];
        dAn[w] += grad_decay * dt[w];
        ddt_w[w] += grad_decay * an[w];
        dbu_w[w] += grad_h * bn;
        dhn[w] = grad_h * en[w];
        hn[w] *= dyt[w];       // dC term; h_t is not read again (step t-1 reads h_{t-1})
        en[w] = grad_h * dtu[w];  // dB term
      }
    }
#pragma omp simd
    for (int64_t w = 0; w < kLanes; ++w) {
      du[t * kLanes + w] += dbu_w[w] * dt[w];
      ddt[t * kLanes + w] = ddt_w[w] + dbu_w[w] * u[w];
    }
  }
}

template <typename T>
void reverse_tile(const Tile<T>& tile, const T* a, const T* dy, const T* h0, int64_t steps, int64_t N, T* states,
                  T* decays, T* dh, T* dA, T* du, T* ddt) {
  if (N == 16)
    reverse_tile_impl<T, 16>(tile, a, dy, h0, steps, N, states, decays, dh, dA, du, ddt);
  else if (N == 1)
    reverse_tile_impl<T, 1>(tile, a, dy, h0, steps, N, states, decays, dh, dA, du, ddt);
  else
    reverse_tile_impl<T, 0>(tile, a, dy, h0, steps, N, states, decays, dh, dA, du, ddt);
}

template <typename T>
void backward_block(const Problem<T>& p, const Block& blk, const T* dout, const T* checkpoints, const Grads<T>& g) {
  const int64_t N = p.dstate, L = p.len, n_chunks = p.n_chunks();
  const std::vector<T> a = load_A(p, blk), a2 = load_A(p, blk, T(kLog2e));
  const std::vector<T> Dl = load_D(p, blk);
  std::vector<T> h0(N * kLanes), h(N * kLanes), y(kChunk * kLanes), zt(kChunk * kLanes), dz(kChunk * kLanes);
  std::vector<T> states(kChunk * N * kLanes), decays(kChunk * N * kLanes);
  std::vector<T> dh(N * kLanes, T(0)), dA(N * kLanes, T(0));
  std::vector<T> dy(kChunk * kLanes), du(kChunk * kLanes), ddt(kChunk * kLanes);
  std::vector<T> dB(kChunk * N), dC(kChunk * N);
  T dD[kLanes] = {}, dbias[kLanes] = {};
  Tile<T> tile(N);
  const int64_t row0 = blk.b * p.dim + blk.d0;
  const int64_t part0 = ((blk.b * p.groups + blk.g) * p.blocks_per_group() + blk.j) * N * L;

  for (int64_t c = n_chunks - 1; c >= 0; --c) {
    const int64_t l0 = c * kChunk, steps = std::min(kChunk, L - l0);
    tile.load(p, blk, l0, steps);
    Tile<T>::prefetch(p, blk, l0 - kChunk, true);
    if (c > 0) prefetch_tile(dout + row0 * L, L, l0 - kChunk, kChunk, blk.lanes);
    for (int64_t i = 0; i < N * kLanes; ++i) h0[i] = T(0);
    for (int64_t w = 0; w < blk.lanes; ++w)
      for (int64_t n = 0; n < N; ++n) h0[n * kLanes + w] = checkpoints[((row0 + w) * n_chunks + c) * N + n];
    h = h0;
    scan_tile(tile, a2.data(), steps, N, h.data(), y.data(), states.data(), decays.data());

    // Output stage, all [t][w]: dy = d(out)/d(y) * dout, dz, dD and the direct u term D * dy. Padded lanes have
    // dout = 0 (load_tile), hence dy = 0.
    load_tile(dout + row0 * L, L, l0, steps, blk.lanes, dy.data());
    T* __restrict__ dyp = dy.data();
    const T* __restrict__ up = tile.u.data();
    const T* __restrict__ yp = y.data();
    if (p.z) {
      load_tile(p.z + row0 * L, L, l0, steps, blk.lanes, zt.data());
      const T* __restrict__ zp = zt.data();
      T* __restrict__ dzp = dz.data();
      for (int64_t t = 0; t < steps; ++t) {
#pragma omp simd
        for (int64_t w = 0; w < kLanes; ++w) {
          const int64_t i = t * kLanes + w;
          const T s = sigmoid(zp[i]);
          const T full = yp[i] + Dl[w] * up[i];
          dzp[i] = dyp[i] * full * s * (T(1) + zp[i] * (T(1) - s));
          dyp[i] *= zp[i] * s;
        }
      }
      store_tile(dz.data(), L, l0, steps, blk.lanes, g.dz + row0 * L);
    }
    T* __restrict__ dup = du.data();
    for (int64_t t = 0; t < steps; ++t) {
#pragma omp simd
      for (int64_t w = 0; w < kLanes; ++w) {
        dD[w] += dyp[t * kLanes + w] * up[t * kLanes + w];
        dup[t * kLanes + w] = dyp[t * kLanes + w] * Dl[w];
      }
    }

    reverse_tile(tile, a.data(), dy.data(), h0.data(), steps, N, states.data(), decays.data(), dh.data(), dA.data(),
                 du.data(), ddt.data());
    sum_rows(states.data(), steps * N, dC.data());
    sum_rows(decays.data(), steps * N, dB.data());

    T* __restrict__ ddtp = ddt.data();
    const T* __restrict__ raw = tile.dt_raw.data();
    if (p.delta_softplus) {
#pragma omp simd
      for (int64_t i = 0; i < steps * kLanes; ++i) ddtp[i] *= sigmoid(raw[i]);
    }
    for (int64_t t = 0; t < steps; ++t) {
#pragma omp simd
      for (int64_t w = 0; w < kLanes; ++w) dbias[w] += ddtp[t * kLanes + w];
    }
    store_tile(du.data(), L, l0, steps, blk.lanes, g.du + row0 * L);
    store_tile(ddt.data(), L, l0, steps, blk.lanes, g.ddelta + row0 * L);
    transpose(dB.data(), N, g.dB + part0 + l0, L, steps, N);  // [t][n] -> (n, len)
    transpose(dC.data(), N, g.dC + part0 + l0, L, steps, N);
    const int64_t bg = blk.b * p.groups + blk.g;
    if (g.tile_arrivals->last(bg * n_chunks + c)) sum_tile_over_blocks(p, g, bg, l0, steps);
  }
  for (int64_t w = 0; w < blk.lanes; ++w) {
    for (int64_t n = 0; n < N; ++n) g.dA[(row0 + w) * N + n] = dA[n * kLanes + w];
    g.dD[row0 + w] = dD[w];
    g.ddelta_bias[row0 + w] = dbias[w];
  }
  if (g.block_arrivals->last(blk.g * p.blocks_per_group() + blk.j)) sum_block_over_batch(p, blk, g);
}

// ---------------------------------------------------------------------------------------------------------------
// Tensor-level entry points. The Python layer validates shapes and dtypes with readable messages; the checks here
// guard the raw op against misuse.

void check_input(const torch::Tensor& t, const char* name, int64_t rank) {
  TORCH_CHECK(t.device().is_cpu(), "selective_scan (compiled CPU kernel): ", name, " must be a CPU tensor, got ",
              t.device());
  TORCH_CHECK(t.dim() == rank, "selective_scan (compiled CPU kernel): ", name, " must have ", rank,
              " dimensions, got shape ", t.sizes());
  TORCH_CHECK(t.is_contiguous(), "selective_scan (compiled CPU kernel): ", name,
              " must be contiguous (call .contiguous() first)");
}

torch::ScalarType compute_type(const torch::Tensor& u) {
  return u.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
}

torch::Tensor as_compute(const torch::Tensor& t, torch::ScalarType type) { return t.to(type).contiguous(); }

c10::optional<torch::Tensor> as_compute(const c10::optional<torch::Tensor>& t, torch::ScalarType type) {
  if (!t.has_value()) return c10::nullopt;
  return t->to(type).contiguous();
}

// B or C (batch, groups, dstate, len) served time-major through `shared` (batch, groups, len, dstate).
template <typename T>
TimeMajorTiles<T> time_major(const torch::Tensor& src, torch::Tensor& shared) {
  return TimeMajorTiles<T>(src.data_ptr<T>(), shared.data_ptr<T>(), src.size(0) * src.size(1), src.size(2),
                           src.size(3));
}

torch::Tensor time_major_buffer(const torch::Tensor& B) {
  return torch::empty({B.size(0), B.size(1), B.size(3), B.size(2)}, B.options());
}

template <typename T>
Problem<T> make_problem(const torch::Tensor& u, const torch::Tensor& delta, const torch::Tensor& A, int64_t groups,
                        TimeMajorTiles<T>& B_tiles, TimeMajorTiles<T>& C_tiles, const c10::optional<torch::Tensor>& D,
                        const c10::optional<torch::Tensor>& z, const c10::optional<torch::Tensor>& delta_bias,
                        bool delta_softplus) {
  Problem<T> p;
  p.u = u.data_ptr<T>();
  p.delta = delta.data_ptr<T>();
  p.A = A.data_ptr<T>();
  p.B_tiles = &B_tiles;
  p.C_tiles = &C_tiles;
  p.D = D.has_value() ? D->data_ptr<T>() : nullptr;
  p.z = z.has_value() ? z->data_ptr<T>() : nullptr;
  p.delta_bias = delta_bias.has_value() ? delta_bias->data_ptr<T>() : nullptr;
  p.batch = u.size(0);
  p.dim = u.size(1);
  p.len = u.size(2);
  p.dstate = A.size(1);
  p.groups = groups;
  p.delta_softplus = delta_softplus;
  return p;
}

void check_problem(const torch::Tensor& u, const torch::Tensor& delta, const torch::Tensor& A,
                   const torch::Tensor& B, const torch::Tensor& C) {
  check_input(u, "u", 3);
  check_input(delta, "delta", 3);
  check_input(A, "A", 2);
  check_input(B, "B", 4);
  check_input(C, "C", 4);
  TORCH_CHECK(delta.sizes() == u.sizes(), "selective_scan: delta shape ", delta.sizes(), " != u shape ", u.sizes());
  TORCH_CHECK(A.size(0) == u.size(1), "selective_scan: A has ", A.size(0), " rows, u has ", u.size(1), " channels");
  TORCH_CHECK(B.sizes() == C.sizes(), "selective_scan: B shape ", B.sizes(), " != C shape ", C.sizes());
  TORCH_CHECK(B.size(0) == u.size(0) && B.size(2) == A.size(1) && B.size(3) == u.size(2),
              "selective_scan: B shape ", B.sizes(), " does not fit (batch, groups, dstate, len) = (", u.size(0),
              ", G, ", A.size(1), ", ", u.size(2), ")");
  TORCH_CHECK(B.size(1) >= 1 && u.size(1) % B.size(1) == 0, "selective_scan: ", u.size(1),
              " channels cannot be split into ", B.size(1), " groups");
}

// `threads`: OpenMP threads of the call (0: at::get_num_threads()); see kernel_threads() in ops/compiled.py.
// Returns {out, last_state, checkpoints}. out has u's dtype; the states are float (double for double input).
// checkpoints (batch, dim, ceil(len / 64), dstate) is empty unless save_checkpoints.
std::vector<torch::Tensor> selective_scan_fwd(const torch::Tensor& u_in, const torch::Tensor& delta_in,
                                              const torch::Tensor& A_in, const torch::Tensor& B_in,
                                              const torch::Tensor& C_in, const c10::optional<torch::Tensor>& D_in,
                                              const c10::optional<torch::Tensor>& z_in,
                                              const c10::optional<torch::Tensor>& bias_in, bool delta_softplus,
                                              bool save_checkpoints, int64_t threads) {
  check_problem(u_in, delta_in, A_in, B_in, C_in);
  const auto type = compute_type(u_in);
  const auto u = as_compute(u_in, type), delta = as_compute(delta_in, type), A = as_compute(A_in, type);
  const auto B = as_compute(B_in, type), C = as_compute(C_in, type);
  const auto D = as_compute(D_in, type), z = as_compute(z_in, type), bias = as_compute(bias_in, type);
  auto B_tm = time_major_buffer(B), C_tm = time_major_buffer(C);
  const auto opts = u.options();
  auto out = torch::empty_like(u);
  auto last_state = torch::empty({u.size(0), u.size(1), A.size(1)}, opts);
  const int64_t n_chunks = (u.size(2) + kChunk - 1) / kChunk;
  auto checkpoints = save_checkpoints ? torch::empty({u.size(0), u.size(1), n_chunks, A.size(1)}, opts)
                                      : torch::empty({0}, opts);
  AT_DISPATCH_FLOATING_TYPES(type, "selective_scan_fwd", [&] {
    auto B_tiles = time_major<scalar_t>(B, B_tm), C_tiles = time_major<scalar_t>(C, C_tm);
    const auto p = make_problem<scalar_t>(u, delta, A, B.size(1), B_tiles, C_tiles, D, z, bias, delta_softplus);
    scalar_t* out_ptr = out.data_ptr<scalar_t>();
    scalar_t* last_ptr = last_state.data_ptr<scalar_t>();
    scalar_t* ckpt_ptr = save_checkpoints ? checkpoints.data_ptr<scalar_t>() : nullptr;
    run_tasks(p.n_tasks(), threads, [&](int64_t task) { forward_block(p, block_of(p, task), out_ptr, last_ptr, ckpt_ptr); });
  });
  return {out.to(u_in.scalar_type()), last_state, checkpoints};
}

// Returns {du, ddelta, dA, dB, dC, dD, dz, ddelta_bias}, each in its input's dtype; gradients of absent optional
// inputs are empty tensors.
std::vector<torch::Tensor> selective_scan_bwd(const torch::Tensor& dout_in, const torch::Tensor& u_in,
                                              const torch::Tensor& delta_in, const torch::Tensor& A_in,
                                              const torch::Tensor& B_in, const torch::Tensor& C_in,
                                              const c10::optional<torch::Tensor>& D_in,
                                              const c10::optional<torch::Tensor>& z_in,
                                              const c10::optional<torch::Tensor>& bias_in, bool delta_softplus,
                                              const torch::Tensor& checkpoints_in, int64_t threads) {
  check_problem(u_in, delta_in, A_in, B_in, C_in);
  check_input(dout_in, "dout", 3);
  TORCH_CHECK(dout_in.sizes() == u_in.sizes(), "selective_scan: dout shape ", dout_in.sizes(), " != u shape ",
              u_in.sizes());
  const int64_t n_chunks = (u_in.size(2) + kChunk - 1) / kChunk;
  TORCH_CHECK(checkpoints_in.dim() == 4 && checkpoints_in.size(0) == u_in.size(0) &&
                  checkpoints_in.size(1) == u_in.size(1) && checkpoints_in.size(2) == n_chunks &&
                  checkpoints_in.size(3) == A_in.size(1),
              "selective_scan: checkpoints of shape ", checkpoints_in.sizes(),
              " do not come from a forward pass with save_checkpoints on these inputs");
  const auto type = compute_type(u_in);
  const auto u = as_compute(u_in, type), delta = as_compute(delta_in, type), A = as_compute(A_in, type);
  const auto B = as_compute(B_in, type), C = as_compute(C_in, type);
  const auto D = as_compute(D_in, type), z = as_compute(z_in, type), bias = as_compute(bias_in, type);
  const auto dout = as_compute(dout_in, type), checkpoints = as_compute(checkpoints_in, type);
  auto B_tm = time_major_buffer(B), C_tm = time_major_buffer(C);
  const auto opts = u.options();
  const int64_t batch = u.size(0), dim = u.size(1), len = u.size(2), N = A.size(1), groups = B.size(1);
  const int64_t blocks = (dim / groups + kLanes - 1) / kLanes;
  auto du = torch::empty_like(u), ddelta = torch::empty_like(u);
  auto dz = z.has_value() ? torch::empty_like(u) : torch::empty({0}, opts);
  auto dA = torch::empty({batch, dim, N}, opts), dA_sum = torch::empty({dim, N}, opts);
  auto dD = torch::empty({batch, dim}, opts), dbias = torch::empty({batch, dim}, opts);
  auto dD_sum = torch::empty({dim}, opts), dbias_sum = torch::empty({dim}, opts);
  auto dB = torch::empty({batch, groups, blocks, N, len}, opts), dC = torch::empty_like(dB);
  auto dB_sum = torch::empty_like(B), dC_sum = torch::empty_like(B);
  Arrivals tile_arrivals(batch * groups * n_chunks, blocks), block_arrivals(groups * blocks, batch);
  if (batch * blocks == 0)  // no task to write the sums: an empty batch (or no channels) contributes nothing
    for (torch::Tensor* sum : {&dA_sum, &dD_sum, &dbias_sum, &dB_sum, &dC_sum}) sum->zero_();
  AT_DISPATCH_FLOATING_TYPES(type, "selective_scan_bwd", [&] {
    auto B_tiles = time_major<scalar_t>(B, B_tm), C_tiles = time_major<scalar_t>(C, C_tm);
    const auto p = make_problem<scalar_t>(u, delta, A, groups, B_tiles, C_tiles, D, z, bias, delta_softplus);
    auto ptr = [](torch::Tensor& t) { return t.numel() ? t.data_ptr<scalar_t>() : nullptr; };
    const Grads<scalar_t> g{ptr(du),     ptr(ddelta), ptr(dz),     ptr(dA),        ptr(dD),
                            ptr(dbias),  ptr(dB),     ptr(dC),     ptr(dA_sum),    ptr(dD_sum),
                            ptr(dbias_sum), ptr(dB_sum), ptr(dC_sum), &tile_arrivals, &block_arrivals};
    const scalar_t* dout_ptr = dout.data_ptr<scalar_t>();
    const scalar_t* ckpt_ptr = checkpoints.data_ptr<scalar_t>();
    run_tasks(p.n_tasks(), threads, [&](int64_t task) { backward_block(p, block_of(p, task), dout_ptr, ckpt_ptr, g); });
  });
  auto empty = [&] { return torch::empty({0}, u_in.options()); };  // a new one each time: outputs may not alias
  return {du.to(u_in.scalar_type()),
          ddelta.to(delta_in.scalar_type()),
          dA_sum.to(A_in.scalar_type()),
          dB_sum.to(B_in.scalar_type()),
          dC_sum.to(C_in.scalar_type()),
          D_in.has_value() ? dD_sum.to(D_in->scalar_type()) : empty(),
          z_in.has_value() ? dz.to(z_in->scalar_type()) : empty(),
          bias_in.has_value() ? dbias_sum.to(bias_in->scalar_type()) : empty()};
}

// For tests: B (batch, groups, dstate, len, float) time-major, read tile by tile through TimeMajorTiles, as the
// kernel reads it. pretend_writing: as if another thread were writing every shared tile (each comes from scratch).
torch::Tensor probe_time_major(const torch::Tensor& B_in, bool pretend_writing) {
  check_input(B_in, "B", 4);
  const auto B = B_in.to(torch::kFloat).contiguous();
  auto shared = time_major_buffer(B), out = torch::empty_like(shared);
  auto tiles = time_major<float>(B, shared);
  if (pretend_writing) tiles.pretend_all_writing();
  const int64_t N = B.size(2), L = B.size(3);
  std::vector<float> scratch(kChunk * N);
  for (int64_t bg = 0; bg < B.size(0) * B.size(1); ++bg)
    for (int64_t l0 = 0; l0 < L; l0 += kChunk) {
      const float* tile = tiles.tile(bg, l0 / kChunk, scratch.data());
      std::copy(tile, tile + std::min(kChunk, L - l0) * N, out.data_ptr<float>() + (bg * L + l0) * N);
    }
  return out;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "mamba-monai selective scan CPU kernel";
  m.def("fwd", &selective_scan_fwd, "selective scan forward (CPU)");
  m.def("bwd", &selective_scan_bwd, "selective scan backward (CPU)");
  m.def("threads", [] { return at::get_num_threads(); }, "threads used when a call passes threads = 0");
  m.def(
      "spread_threads",
      [](c10::optional<bool> on) {
        const bool was = g_spread_threads.load();
        if (on.has_value()) g_spread_threads.store(*on);
        return was;
      },
      pybind11::arg("on") = pybind11::none(),
      "move a worker off the caller's CPU when they share one (default on); returns the setting before this call");
  m.def("_probe_placement", &probe_placement, "for tests: the CPUs tasks ran on (see run_tasks)");
  m.def("_probe_time_major", &probe_time_major, "for tests: B read time-major tile by tile (see TimeMajorTiles)");
  m.def("chunk_size", [] { return kChunk; }, "time steps between backward checkpoints");
}
