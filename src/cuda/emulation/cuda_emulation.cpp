#include "cuda/emulation/cuda_emulation.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstdlib>
#include <exception>
#include <vector>

namespace llcpress::cuda::emulation {

namespace {

// 128 KiB per fiber: the kernels keep a few hundred bytes of locals, but
// unoptimised builds and the C++ runtime under them want head room. The
// stacks are reserved once (untouched pages cost nothing) and reused.
constexpr std::size_t kStackBytes = 128 * 1024;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr int kWarp = 32;

struct Fiber {
  ucontext_t context;
  bool finished = false;
  dim3 thread_index;
  int warp = 0;
};

struct Barrier {
  unsigned arrived = 0;
  unsigned generation = 0;
};

struct BlockState {
  std::vector<Fiber> fibers;
  int current = -1;
  unsigned live = 0;                // fibers not finished
  std::vector<unsigned> warp_live;  // (warps) live fibers per warp
  Barrier block_barrier;
  std::vector<Barrier> warp_barriers;   // (warps)
  std::vector<std::uint64_t> exchange;  // (warps · 32) shuffle slots
  std::uint64_t arrivals = 0;           // barrier arrivals so far (progress, for deadlock detection)
  std::exception_ptr failure;
};

ThreadRegisters g_registers;
ucontext_t g_scheduler;
BlockState* g_block = nullptr;
const std::function<void()>* g_body = nullptr;
std::vector<unsigned char> g_dynamic_shared;

struct StackPool {
  void* base = nullptr;
  std::size_t bytes = 0;
  StackPool() {
    bytes = kStackBytes * kMaxThreadsPerBlock;
    base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) throw EmulationError("CUDA emulation: cannot reserve the fiber stacks");
  }
  ~StackPool() { munmap(base, bytes); }
  void* stack(unsigned thread) const { return static_cast<char*>(base) + thread * kStackBytes; }
};

StackPool& stacks() {
  static StackPool pool;
  return pool;
}

void fiber_entry() {
  BlockState& block = *g_block;
  Fiber& fiber = block.fibers[block.current];
  try {
    (*g_body)();
  } catch (...) {
    if (!block.failure) block.failure = std::current_exception();
  }
  fiber.finished = true;
  // Returning ends the fiber; uc_link resumes the scheduler.
}

void yield_to_scheduler() {
  BlockState& block = *g_block;
  swapcontext(&block.fibers[block.current].context, &g_scheduler);
}

// Arrives at `barrier` of `participants` live threads and waits for the rest.
void wait_at(Barrier& barrier, const unsigned& participants) {
  BlockState& block = *g_block;
  const unsigned generation = barrier.generation;
  ++block.arrivals;
  if (++barrier.arrived == participants) {
    barrier.arrived = 0;
    ++barrier.generation;
    return;
  }
  while (barrier.generation == generation) {
    yield_to_scheduler();
    if (block.failure) throw EmulationError("CUDA emulation: block aborted");
  }
}

// A thread that ends lowers the count its barriers wait for; a barrier whose
// remaining threads have all arrived opens.
void release_if_complete(Barrier& barrier, unsigned participants) {
  if (barrier.arrived > 0 && barrier.arrived >= participants) {
    barrier.arrived = 0;
    ++barrier.generation;
  }
}

// getcontext returns twice; kept out of run_block so none of its locals can
// be clobbered.
[[gnu::noinline]] void prepare_fiber(Fiber& fiber, void* stack) {
  getcontext(&fiber.context);
  fiber.context.uc_stack.ss_sp = stack;
  fiber.context.uc_stack.ss_size = kStackBytes;
  fiber.context.uc_link = &g_scheduler;
  makecontext(&fiber.context, fiber_entry, 0);
}

void run_block(const dim3& block_dim) {
  const unsigned threads = block_dim.x * block_dim.y * block_dim.z;
  const int warps = static_cast<int>((threads + kWarp - 1) / kWarp);
  BlockState block;
  block.fibers.resize(threads);
  block.warp_live.assign(warps, 0);
  block.warp_barriers.assign(warps, Barrier{});
  block.exchange.assign(static_cast<std::size_t>(warps) * kWarp, 0);
  block.live = threads;
  g_block = &block;
  for (unsigned t = 0; t < threads; ++t) {
    Fiber& fiber = block.fibers[t];
    fiber.thread_index = dim3(t % block_dim.x, (t / block_dim.x) % block_dim.y, t / (block_dim.x * block_dim.y));
    fiber.warp = static_cast<int>(t / kWarp);
    ++block.warp_live[fiber.warp];
    prepare_fiber(fiber, stacks().stack(t));
  }
  // Round robin until every fiber has finished. A full round in which no
  // fiber arrives at a barrier or finishes means some barrier can never open.
  while (block.live > 0) {
    const std::uint64_t arrivals_before = block.arrivals;
    const unsigned live_before = block.live;
    for (unsigned t = 0; t < threads; ++t) {
      Fiber& fiber = block.fibers[t];
      if (fiber.finished) continue;
      block.current = static_cast<int>(t);
      g_registers.thread_index = fiber.thread_index;
      swapcontext(&g_scheduler, &fiber.context);
      if (block.failure) {
        g_block = nullptr;
        std::rethrow_exception(block.failure);
      }
      if (fiber.finished) {
        --block.live;
        --block.warp_live[fiber.warp];
        release_if_complete(block.block_barrier, block.live);
        release_if_complete(block.warp_barriers[fiber.warp], block.warp_live[fiber.warp]);
      }
    }
    if (block.live > 0 && block.arrivals == arrivals_before && block.live == live_before) {
      g_block = nullptr;
      throw EmulationError(
          "CUDA emulation: deadlock — a barrier (__syncthreads or a warp shuffle) is not reached "
          "by every live thread of the block/warp");
    }
  }
  g_block = nullptr;
}

}  // namespace

ThreadRegisters& registers() { return g_registers; }

void launch(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const std::function<void()>& body) {
  const unsigned threads = block.x * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || grid.x == 0 || grid.y == 0 || grid.z == 0)
    throw EmulationError("CUDA emulation: invalid launch configuration (" + std::to_string(threads) +
                         " threads per block; grid " + std::to_string(grid.x) + "x" + std::to_string(grid.y) + "x" +
                         std::to_string(grid.z) + ")");
  if (g_block != nullptr) throw EmulationError("CUDA emulation: a kernel launched from inside a kernel");
  g_dynamic_shared.assign(dynamic_shared_bytes, 0xA5);  // garbage, as on a GPU: a read before a write shows
  g_body = &body;
  g_registers.block_dim = block;
  g_registers.grid_dim = grid;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        g_registers.block_index = dim3(x, y, z);
        run_block(block);
      }
  g_body = nullptr;
}

void* dynamic_shared_memory() { return g_dynamic_shared.data(); }

void sync_threads() {
  if (g_block == nullptr) throw EmulationError("CUDA emulation: __syncthreads outside a kernel");
  wait_at(g_block->block_barrier, g_block->live);
}

void sync_warp() {
  if (g_block == nullptr) throw EmulationError("CUDA emulation: __syncwarp outside a kernel");
  BlockState& block = *g_block;
  const int warp = block.fibers[block.current].warp;
  wait_at(block.warp_barriers[warp], block.warp_live[warp]);
}

std::uint64_t warp_exchange(std::uint64_t bits, int source_lane) {
  if (g_block == nullptr) throw EmulationError("CUDA emulation: a warp shuffle outside a kernel");
  BlockState& block = *g_block;
  const int warp = block.fibers[block.current].warp;
  const int lane = block.current % kWarp;
  std::uint64_t* slots = block.exchange.data() + static_cast<std::size_t>(warp) * kWarp;
  slots[lane] = bits;
  wait_at(block.warp_barriers[warp], block.warp_live[warp]);
  const int warp_threads = static_cast<int>(std::min<std::size_t>(kWarp, block.fibers.size() - warp * kWarp));
  const std::uint64_t result = source_lane >= 0 && source_lane < warp_threads ? slots[source_lane] : bits;
  // Second barrier: no lane may overwrite its slot before every lane has read.
  wait_at(block.warp_barriers[warp], block.warp_live[warp]);
  return result;
}

}  // namespace llcpress::cuda::emulation

cudaError_t cudaMalloc(void** pointer, std::size_t bytes) {
  // 256-byte alignment, as cudaMalloc guarantees.
  *pointer = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  return *pointer != nullptr ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFree(void* pointer) {
  std::free(pointer);
  return cudaSuccess;
}
