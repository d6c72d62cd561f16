#include "store/blob.h"

#include "util/error.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace rs::store {

namespace {

constexpr size_t kHeaderBytes = 8; // tag + count
constexpr char kTagF64[4] = {'f', '6', '4', '\0'};
constexpr char kTagF32[4] = {'f', '3', '2', '\0'};

// The format is little-endian on every host; swap on the (rare) big-endian ones.
template <typename T> T toLittle(T value) {
    if constexpr (std::endian::native == std::endian::big) {
        unsigned char bytes[sizeof(T)];
        std::memcpy(bytes, &value, sizeof(T));
        for (size_t i = 0; i < sizeof(T) / 2; ++i)
            std::swap(bytes[i], bytes[sizeof(T) - 1 - i]);
        std::memcpy(&value, bytes, sizeof(T));
    }
    return value;
}

template <typename Float, typename Bits>
void putValues(const std::vector<double>& values, std::byte* out) {
    for (const double v : values) {
        const Bits bits = toLittle(std::bit_cast<Bits>(static_cast<Float>(v)));
        std::memcpy(out, &bits, sizeof(Bits));
        out += sizeof(Bits);
    }
}

template <typename Float, typename Bits>
std::vector<double> getValues(const std::byte* in, size_t count) {
    std::vector<double> values(count);
    for (size_t i = 0; i < count; ++i) {
        Bits bits;
        std::memcpy(&bits, in + i * sizeof(Bits), sizeof(Bits));
        values[i] = static_cast<double>(std::bit_cast<Float>(toLittle(bits)));
    }
    return values;
}

} // namespace

std::vector<std::byte> encodeSeries(const std::vector<double>& values, BlobType type) {
    if (values.size() > UINT32_MAX)
        fail("series", "too many values for a blob (" + std::to_string(values.size()) + ")");
    const size_t width = type == BlobType::Float64 ? 8 : 4;
    std::vector<std::byte> out(kHeaderBytes + values.size() * width);
    std::memcpy(out.data(), type == BlobType::Float64 ? kTagF64 : kTagF32, 4);
    const uint32_t count = toLittle(static_cast<uint32_t>(values.size()));
    std::memcpy(out.data() + 4, &count, 4);
    if (type == BlobType::Float64)
        putValues<double, uint64_t>(values, out.data() + kHeaderBytes);
    else
        putValues<float, uint32_t>(values, out.data() + kHeaderBytes);
    return out;
}

std::vector<double> decodeSeries(const std::byte* data, size_t size, const std::string& context) {
    if (size < kHeaderBytes)
        fail(context,
             "series blob of " + std::to_string(size) + " bytes is shorter than its 8-byte header");
    size_t width = 0;
    if (std::memcmp(data, kTagF64, 4) == 0)
        width = 8;
    else if (std::memcmp(data, kTagF32, 4) == 0)
        width = 4;
    else
        fail(context, "series blob has an unknown type tag (expected \"f64\" or \"f32\")");
    uint32_t count = 0;
    std::memcpy(&count, data + 4, 4);
    count = toLittle(count);
    const size_t expected = kHeaderBytes + size_t(count) * width;
    if (size != expected)
        fail(context, "series blob of " + std::to_string(count) + " values should hold " +
                          std::to_string(expected) + " bytes but holds " + std::to_string(size));
    return width == 8 ? getValues<double, uint64_t>(data + kHeaderBytes, count)
                      : getValues<float, uint32_t>(data + kHeaderBytes, count);
}

} // namespace rs::store
