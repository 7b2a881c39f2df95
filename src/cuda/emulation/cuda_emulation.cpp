#include "cuda/emulation/cuda_emulation.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <cstdlib>
#include <exception>
#include <vector>

// Switching fibers: on x86-64 a few instructions that swap the callee-saved
// registers and the stack pointer (llc_fiber_switch below); swapcontext also
// saves and restores the signal mask, two system calls per switch, which made
// it half the run time of the emulated model tests. Elsewhere, and under
// AddressSanitizer (which must be told about stack switches, as it is for
// ucontext), swapcontext.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define LLC_EMULATION_FAST_SWITCH 1
// void llc_fiber_switch(void** save_stack_pointer, void* next_stack_pointer):
// pushes rbp, rbx, r12–r15 (the System V callee-saved registers), stores rsp
// in *save_stack_pointer, loads next_stack_pointer and pops the other
// context's registers; `ret` then resumes it where it called this function.
// The floating-point control registers are not switched: no fiber changes them.
extern "C" void llc_fiber_switch(void** save_stack_pointer, void* next_stack_pointer);
asm(R"(
  .text
  .p2align 4
  .globl llc_fiber_switch
  .type llc_fiber_switch, @function
llc_fiber_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size llc_fiber_switch, .-llc_fiber_switch
)");
#else
#define LLC_EMULATION_FAST_SWITCH 0
#endif

namespace llcpress::cuda::emulation {

namespace {

// 128 KiB per fiber: the kernels keep a few hundred bytes of locals, but
// unoptimised builds and the C++ runtime under them want head room. The
// stacks are reserved once (untouched pages cost nothing) and reused.
constexpr std::size_t kStackBytes = 128 * 1024;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr int kWarp = 32;

struct Fiber {
#if LLC_EMULATION_FAST_SWITCH
  void* stack_pointer = nullptr;  // saved while the fiber is not running
#else
  ucontext_t context;
#endif
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
#if LLC_EMULATION_FAST_SWITCH
void* g_scheduler_stack_pointer = nullptr;
#else
ucontext_t g_scheduler;
#endif
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
  // Returning ends the fiber (fiber_start / uc_link resume the scheduler).
}

void yield_to_scheduler() {
  BlockState& block = *g_block;
#if LLC_EMULATION_FAST_SWITCH
  llc_fiber_switch(&block.fibers[block.current].stack_pointer, g_scheduler_stack_pointer);
#else
  swapcontext(&block.fibers[block.current].context, &g_scheduler);
#endif
}

// Scheduler → fiber; returns when the fiber yields or ends.
void resume(Fiber& fiber) {
#if LLC_EMULATION_FAST_SWITCH
  llc_fiber_switch(&g_scheduler_stack_pointer, fiber.stack_pointer);
#else
  swapcontext(&g_scheduler, &fiber.context);
#endif
}

#if LLC_EMULATION_FAST_SWITCH
// The first code a fiber runs (reached by llc_fiber_switch's `ret`); it never
// returns: the finished fiber switches to the scheduler for good.
[[noreturn]] void fiber_start() {
  fiber_entry();
  void* abandoned = nullptr;
  llc_fiber_switch(&abandoned, g_scheduler_stack_pointer);
  __builtin_unreachable();
}
#endif

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

#if LLC_EMULATION_FAST_SWITCH
// A new fiber's stack, as llc_fiber_switch will pop it: six zero registers,
// then fiber_start as the return address, then a null "return address" for
// fiber_start itself, so that it starts with rsp + 8 a multiple of 16 as the
// ABI requires at function entry.
void prepare_fiber(Fiber& fiber, void* stack) {
  auto top = reinterpret_cast<std::uintptr_t>(static_cast<char*>(stack) + kStackBytes) & ~std::uintptr_t{15};
  auto* slots = reinterpret_cast<void**>(top);
  *--slots = nullptr;                                // fiber_start's return address (never used)
  *--slots = reinterpret_cast<void*>(&fiber_start);  // where the first switch's `ret` goes
  for (int i = 0; i < 6; ++i) *--slots = nullptr;    // rbp, rbx, r12–r15
  fiber.stack_pointer = slots;
}
#else
// getcontext returns twice; kept out of run_block so none of its locals can
// be clobbered.
[[gnu::noinline]] void prepare_fiber(Fiber& fiber, void* stack) {
  getcontext(&fiber.context);
  fiber.context.uc_stack.ss_sp = stack;
  fiber.context.uc_stack.ss_size = kStackBytes;
  fiber.context.uc_link = &g_scheduler;
  makecontext(&fiber.context, fiber_entry, 0);
}
#endif

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
      resume(fiber);
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

// A stream of the emulation: a token, so that using one after destroying it
// (or destroying a stranger) is an error, as on a GPU.
struct CUstream_st {
  std::uint64_t magic = 0x73747265616d6c63ull;
};

cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
  if (stream == nullptr || (flags != cudaStreamDefault && flags != cudaStreamNonBlocking)) return cudaErrorInvalidValue;
  *stream = new CUstream_st;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == nullptr || stream->magic != CUstream_st{}.magic) return cudaErrorInvalidResourceHandle;
  stream->magic = 0;
  delete stream;
  return cudaSuccess;
}
