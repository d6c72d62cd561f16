#pragma once

#include <cstddef>
#include <string>
#include <vector>

// Compact typed blobs for numeric series (curves, spectra): a 4-byte tag ("f64\0" or "f32\0"),
// a little-endian uint32 count, then the values, little-endian. Curves keep float64 (their tails
// are small differences); spectra, drawn on log plots, fit in float32.
namespace rs::store {

enum class BlobType { Float64, Float32 };

std::vector<std::byte> encodeSeries(const std::vector<double>& values, BlobType type);

// Throws rs::Error "<context>: ..." for a wrong tag, a count that does not match the size, or a
// truncated blob.
std::vector<double> decodeSeries(const std::byte* data, size_t size, const std::string& context);

} // namespace rs::store
