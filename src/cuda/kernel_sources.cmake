# The kernels of the CUDA backend (cuda-kernels): listed once, built by
# src/cuda/CMakeLists.txt with nvcc and by tests/cuda/CMakeLists.txt as host
# C++ under the CPU emulation (src/cuda/emulation).
set(LLCPRESS_CUDA_KERNEL_SOURCES
  gelu.cu
  layernorm.cu
  residual_layernorm.cu
  cross_entropy.cu
  sampler_step.cu
  embedding.cu
  rotary.cu
  linear_bias.cu
  attention.cu
  flash_attention.cu
  quantize.cu
  gaussian_noise.cu
  prune.cu
  svd_layout.cu)
