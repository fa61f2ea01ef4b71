#!/usr/bin/env python3
"""Rewrites kernels/*.cu and *.cuh into host C++ for the CPU emulation (see emu.h).

usage: make_emulated_sources.py <repo root> <output dir>
Writes <output dir>/kernels/<op>_emu.cpp for every .cu (matmul.cu and matmul_context.cu are
skipped later: cuBLASLt cannot be emulated) and copies every header, rewriting in CUDA sources
and headers:
  kernel<<<grid, block, smem, stream>>>(args)  ->  ::emu::launch(kernel, grid, block, smem, stream)(args)
  extern __shared__ float4 shared_raw[];       ->  a pointer to the emulated block's dynamic smem
  cudaFuncSetAttribute(                        ->  a no-op
  cub::DeviceRadixSort::SortKeys               ->  std::sort
"""
import glob
import os
import re
import sys

LAUNCH = re.compile(r'([A-Za-z_][\w:]*(?:<[^<>;()]*>)?)\s*<<<(.*?)>>>\(', re.S)


def rewrite(text):
    text = re.sub(r'#include <cub/[^>]*>', '', text)
    text = text.replace('cub::DeviceRadixSort::SortKeys', '::emu::sort_keys')
    text = text.replace('extern __shared__ float4 shared_raw[];',
                        'float4* shared_raw = ::emu::dynamic_shared<float4>();')
    text = text.replace('cudaFuncSetAttribute(', '::emu::func_set_attribute(')
    text = LAUNCH.sub(lambda m: '::emu::launch(%s, %s)(' % (m.group(1), m.group(2)), text)
    return '#include "tests/gpu/emulation/emu.h"\n' + text


def main():
    root, out = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(out, 'kernels'), exist_ok=True)
    for path in glob.glob(os.path.join(root, 'kernels', '*')):
        name = os.path.basename(path)
        with open(path) as source:
            text = source.read()
        if name.endswith(('.cu', '.cuh')):
            text = rewrite(text)
            if name.endswith('.cu'):
                name = name[:-3] + '_emu.cpp'
        if name == 'device_buffer.h':  # host memory instead of cudaMalloc
            with open(os.path.join(root, 'tests/gpu/emulation/device_buffer_emu.h')) as source:
                text = source.read()
        with open(os.path.join(out, 'kernels', name), 'w') as target:
            target.write(text)


if __name__ == '__main__':
    main()
