#!/usr/bin/env python3
"""Rewrites a safetensors file with every F32 tensor as BF16 (round to nearest even); other
dtypes (the I64 position_ids) are copied as they are. Needs only numpy.

    safetensors_to_bf16.py IN.safetensors OUT.safetensors
"""
import json
import os
import struct
import sys

import numpy as np


def to_bf16_bits(values):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even (NaN stays NaN)."""
    bits = values.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    nan = np.isnan(values)
    rounded[nan] = (bits[nan] >> 16) | 0x40  # keep a quiet NaN
    return rounded.astype(np.uint16)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: safetensors_to_bf16.py IN.safetensors OUT.safetensors")
    source, target = sys.argv[1], sys.argv[2]
    with open(source, "rb") as f:
        header_size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_size))
        payload = f.read()
    metadata = header.pop("__metadata__", None)
    out_header, chunks, offset = {}, [], 0
    for name in sorted(header, key=lambda n: header[n]["data_offsets"][0]):
        info = header[name]
        begin, end = info["data_offsets"]
        data = payload[begin:end]
        dtype = info["dtype"]
        if dtype == "F32":
            data = to_bf16_bits(np.frombuffer(data, dtype="<f4")).astype("<u2").tobytes()
            dtype = "BF16"
        out_header[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata is not None:
        out_header["__metadata__"] = metadata
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    temporary = target + ".tmp"
    with open(temporary, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)
    os.replace(temporary, target)


if __name__ == "__main__":
    main()
