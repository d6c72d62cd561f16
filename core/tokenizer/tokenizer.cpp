#include "tokenizer/tokenizer.h"

#include <array>

namespace rs {

std::string Tokenizer::decodeNext(int32_t /*previous*/, int32_t id) const {
    const std::array<int32_t, 1> one{id};
    return decode(one);
}

} // namespace rs
