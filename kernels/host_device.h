// Lets small math helpers be shared verbatim by CPU references and CUDA kernels.
#pragma once

#ifdef __CUDACC__
#define BERT_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define BERT_HOST_DEVICE inline
#endif

// Forward declaration so op headers can name a stream without including CUDA headers.
struct CUstream_st;
namespace bert {
using GpuStream = CUstream_st*;  // == cudaStream_t
}
