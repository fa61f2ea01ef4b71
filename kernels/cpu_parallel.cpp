// The CPU references' thread pool (kernels/cpu_parallel.h): persistent workers woken per
// parallel_for by a generation counter; the caller works too and waits for the last piece.
#include "kernels/cpu_parallel.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/host_cores.h"

namespace bert::cpu {
namespace {

int threads_from_environment() {
  for (const char* name : {"BERT_CPU_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') continue;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (*end != '\0' || value < 1 || value > 4096)
      throw InputError(std::string("environment variable ") + name + "=\"" + text +
                       "\": expected a thread count from 1 to 4096");
    return static_cast<int>(value);
  }
  return available_cores();
}

thread_local bool inside_body = false;

class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work_loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }
  int threads() const { return threads_; }

  void run(size_t pieces, const std::function<void(size_t)>& piece) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // A worker woken for the previous run may still be about to claim a piece from next_: if
      // the counters were reset under it, it could claim an index of the old count, run it
      // against the new one and subtract it twice from unfinished_ (which then never reaches 0:
      // a hang). New work waits until every worker has left the previous run.
      idle_.wait(lock, [this] { return busy_workers_ == 0; });
      piece_ = &piece;
      pieces_ = pieces;
      next_.store(0);
      unfinished_ = pieces;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    take_pieces();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return unfinished_ == 0; });
    piece_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work_loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        ++busy_workers_;
      }
      take_pieces();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_workers_ == 0) idle_.notify_all();
    }
  }

  void take_pieces() {
    size_t finished = 0;
    for (size_t index; (index = next_.fetch_add(1)) < pieces_;) {
      inside_body = true;
      try {
        (*piece_)(index);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      inside_body = false;
      ++finished;
    }
    if (finished == 0) return;
    std::lock_guard<std::mutex> lock(mutex_);
    unfinished_ -= finished;
    if (unfinished_ == 0) done_.notify_all();
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_, idle_;
  bool stopping_ = false;
  int busy_workers_ = 0;  // workers between taking a generation and leaving take_pieces
  uint64_t generation_ = 0;
  const std::function<void(size_t)>* piece_ = nullptr;
  size_t pieces_ = 0, unfinished_ = 0;
  std::atomic<size_t> next_{0};
  std::exception_ptr error_;
};

std::mutex pool_mutex;
std::unique_ptr<Pool> pool;  // created on first use

Pool& the_pool() {
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (!pool) {
    check_cpu_features();
    pool = std::make_unique<Pool>(threads_from_environment());
    // The GEMM wrapper splits work over this pool; OpenBLAS's own threads would compete with it.
    openblas_set_num_threads(1);
  }
  return *pool;
}

}  // namespace

void check_cpu_features() {
#if defined(BERT_CPU_AVX2)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
    throw BertError("this build's CPU kernels need AVX2 and FMA, which this CPU lacks: rebuild with "
                    "cmake -DBERT_CPU_AVX2=OFF");
#endif
}

int thread_count() { return the_pool().threads(); }

void set_thread_count(int threads) {
  BERT_CHECK(threads >= 0, "set_thread_count: negative thread count");
  std::lock_guard<std::mutex> lock(pool_mutex);
  pool.reset();
  pool = std::make_unique<Pool>(threads == 0 ? threads_from_environment() : threads);
  openblas_set_num_threads(1);
}

void parallel_for(size_t count, size_t grain, const std::function<void(size_t, size_t)>& body) {
  if (count == 0) return;
  grain = std::max<size_t>(1, grain);
  const size_t pieces = (count + grain - 1) / grain;
  auto piece = [&](size_t index) { body(index * grain, std::min(count, (index + 1) * grain)); };
  if (pieces == 1 || inside_body) {
    for (size_t index = 0; index < pieces; ++index) piece(index);
    return;
  }
  Pool& threads = the_pool();
  if (threads.threads() == 1) {
    for (size_t index = 0; index < pieces; ++index) piece(index);
    return;
  }
  threads.run(pieces, piece);
}

void column_sums(size_t rows, size_t width, std::vector<double>* sums,
                 const std::function<void(size_t, size_t, double*)>& accumulate) {
  const size_t blocks = (rows + kReductionRows - 1) / kReductionRows;
  std::vector<double> partials(blocks * width, 0.0);
  parallel_for(blocks, 1, [&](size_t first, size_t last) {
    for (size_t block = first; block < last; ++block)
      accumulate(block * kReductionRows, std::min(rows, (block + 1) * kReductionRows),
                 partials.data() + block * width);
  });
  sums->assign(width, 0.0);
  for (size_t block = 0; block < blocks; ++block)
    for (size_t c = 0; c < width; ++c) (*sums)[c] += partials[block * width + c];
}

}  // namespace bert::cpu
