#include "util/lists.h"

#include "util/error.h"

#include <algorithm>
#include <charconv>
#include <functional>

namespace rs {

namespace {

std::string trimmed(const std::string& text) {
    const char* blanks = " \t\r\n";
    const size_t first = text.find_first_not_of(blanks);
    if (first == std::string::npos)
        return {};
    return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

// The whole of `value` as a number (from_chars: the same in every locale, which a GUI sets from
// the user's).
template <typename Number> bool readNumber(const std::string& value, Number& out) {
    const char* last = value.data() + value.size();
    const auto [end, error] = std::from_chars(value.data(), last, out);
    return error == std::errc() && end == last;
}

// Splits at commas and hands each trimmed value to `take`, which fails on a bad one.
void forEachValue(const std::string& text, const std::string& what,
                  const std::function<void(const std::string&)>& take) {
    if (trimmed(text).empty())
        fail(what, "no value given");
    size_t start = 0;
    for (;;) {
        const size_t comma = text.find(',', start);
        const std::string value = trimmed(text.substr(start, comma - start));
        if (value.empty())
            fail(what, "empty value in '" + text + "'");
        take(value);
        if (comma == std::string::npos)
            return;
        start = comma + 1;
    }
}

} // namespace

std::vector<int64_t> parseIntegerList(const std::string& text, const std::string& what,
                                      int64_t min) {
    std::vector<int64_t> out;
    forEachValue(text, what, [&](const std::string& value) {
        int64_t n = 0;
        if (!readNumber(value, n))
            fail(what, "'" + value + "' is not a whole number");
        if (n < min)
            fail(what, "'" + value + "' is below " + std::to_string(min));
        if (std::find(out.begin(), out.end(), n) != out.end())
            fail(what, "'" + value + "' is given twice");
        out.push_back(n);
    });
    return out;
}

std::vector<double> parsePercentList(const std::string& text, const std::string& what) {
    std::vector<double> out;
    forEachValue(text, what, [&](const std::string& value) {
        double p = 0.0;
        if (!readNumber(value, p))
            fail(what, "'" + value + "' is not a number");
        if (!(p > 0.0 && p < 100.0))
            fail(what, "'" + value + "' is not a percentage between 0 and 100");
        if (std::find(out.begin(), out.end(), p) != out.end())
            fail(what, "'" + value + "' is given twice");
        out.push_back(p);
    });
    return out;
}

} // namespace rs
