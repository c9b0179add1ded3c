// NumPy's .npy files (numpy.lib.format): one array per file, the way features, labels and
// predictions travel between cnnkit and Python.
//
//   io::save_npy("pred.npy", logits);            // np.load("pred.npy") in Python
//   Tensor x = io::load_npy("features.npy");      // np.save("features.npy", a) in Python
//
// Intended usage:
//   - datasets kept as arrays (data::datasets::NpyDataset reads an X.npy / y.npy pair);
//   - exporting predictions, embeddings and metrics for analysis in NumPy.
//
// Layout: "\x93NUMPY", major and minor version bytes, the header length (uint16 LE in
// version 1.0, uint32 LE in 2.0 and 3.0), then an ASCII Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and ended by '\n', then the raw element bytes.
#pragma once

#include <cstddef>
#include <string>

#include "cnnkit/core/tensor.h"

namespace cnnkit::io {

// Reads one array (np.load). Element types, as cnnkit stores them:
//   <f4 <f8 (and big-endian >f4 >f8)            -> float32 (cnnkit computes in float32)
//   <i8 <i4 <i2 |i1 <u4 <u2 (either byte order)  -> int64
//   |u1 -> uint8,  |b1 -> bool
// fortran_order True arrays are read and transposed into C order (the values come out at
// the same indices as in NumPy). Every problem (missing file, bad magic, unknown version,
// a malformed header dict, a missing or wrong field, an unsupported dtype such as '<c8' or
// '|O', a data section shorter or longer than the shape needs) throws IOError naming the
// file and the field.
Tensor load_npy(const std::string& path);

// Writes one array (np.save): float32 as '<f4', int64 as '<i8', uint8 as '|u1', bool as
// '|b1', in C order, header version 1.0 (2.0 only if the header needs more than 65535
// bytes), padded so the data starts on a 64-byte boundary as NumPy does. Any strides are
// accepted. Atomic: writes path + ".tmp", fsyncs, renames over `path`. Throws ValueError on
// an undefined tensor, IOError if the file cannot be written.
void save_npy(const std::string& path, const Tensor& tensor);

// The same formats in memory (a .npy member of a tar shard): encode_npy returns the bytes
// save_npy writes; decode_npy reads them with load_npy's checks, `name` standing for the
// file in its messages ("train-000003.tar: member 00000012.npy").
std::string encode_npy(const Tensor& tensor);
Tensor decode_npy(const void* bytes, size_t nbytes, const std::string& name);

}  // namespace cnnkit::io
