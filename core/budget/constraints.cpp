#include "budget/constraints.h"

#include "util/argument_error.h"
#include "util/error.h"

#include <optional>
#include <regex>

namespace rs {

namespace {

int64_t parseRank(const std::string& piece, const std::string& text) {
    try {
        size_t used = 0;
        const long long r = std::stoll(piece, &used);
        if (used == piece.size() && r >= 0)
            return r;
    } catch (const std::exception&) {
    }
    failArgument("override '" + text + "'",
                 "a rank is a non-negative integer, got '" + piece + "'");
}

// The patterns are typed by the user. libstdc++'s default matcher backtracks and takes exponential
// time on patterns such as "e?+++++*0+" against a layer name; its polynomial-time matcher gives the
// same yes/no answer, and refuses back-references (which only backtracking can run) as invalid.
constexpr std::regex::flag_type kPatternSyntax = std::regex::ECMAScript
#ifdef __GLIBCXX__
                                                 | std::regex_constants::__polynomial
#endif
    ;

// libstdc++ reads the number of a back-reference ("\12") or of a repeat count ("{2,8}") into a
// long without an overflow check (undefined behaviour for "\2333333333333333333333"), so longer
// numbers than any pattern needs are refused before it sees them.
void refuseLongNumbers(const std::string& pattern, const std::string& what) {
    constexpr size_t kMaxDigits = 9;
    bool inCount = false;     // between '{' and '}'
    bool afterEscape = false; // the digits follow a backslash
    size_t digits = 0;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c >= '0' && c <= '9') {
            if ((afterEscape || inCount) && ++digits > kMaxDigits)
                failArgument(what, "a repeat count or back-reference has more than " +
                                       std::to_string(kMaxDigits) + " digits");
            continue;
        }
        digits = 0;
        afterEscape = false;
        if (c == '\\' && i + 1 < pattern.size()) {
            const char next = pattern[i + 1];
            if (next >= '0' && next <= '9')
                afterEscape = true;
            else
                ++i; // an escaped character, whatever it is
        } else if (c == '{') {
            inCount = true;
        } else if (c == '}') {
            inCount = false;
        }
    }
}

std::regex compile(const std::string& pattern, const std::string& what) {
    refuseLongNumbers(pattern, what);
    try {
        return std::regex(pattern, kPatternSyntax);
    } catch (const std::regex_error& e) {
        failArgument(what, std::string("not a valid regular expression: ") + e.what());
    }
}

struct Matcher {
    std::regex whole;
    std::regex suffix;
    Matcher(const std::string& pattern, const std::string& what)
        : whole(compile(pattern, what))
        , suffix(compile(".*\\.(?:" + pattern + ")", what)) {}
    bool operator()(const std::string& name) const {
        return std::regex_match(name, whole) || std::regex_match(name, suffix);
    }
};

int64_t roundUp(int64_t r, int64_t step) {
    return (r + step - 1) / step * step;
}

} // namespace

std::string RankRule::text() const {
    return pattern + "=" +
           (minRank == maxRank ? std::to_string(minRank)
                               : std::to_string(minRank) + ":" + std::to_string(maxRank));
}

RankRule parseRankRule(const std::string& text) {
    const size_t eq = text.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
        failArgument("override '" + text + "'", "expected PATTERN=RANK or PATTERN=MIN:MAX");
    RankRule rule;
    rule.pattern = text.substr(0, eq);
    const std::string value = text.substr(eq + 1);
    const size_t colon = value.find(':');
    if (colon == std::string::npos) {
        rule.minRank = rule.maxRank = parseRank(value, text);
    } else {
        rule.minRank = parseRank(value.substr(0, colon), text);
        rule.maxRank = parseRank(value.substr(colon + 1), text);
        if (rule.minRank > rule.maxRank)
            failArgument("override '" + text + "'", "the minimum rank exceeds the maximum");
    }
    compile(rule.pattern, "override '" + text + "'");
    return rule;
}

bool patternMatches(const std::string& pattern, const std::string& name) {
    return Matcher(pattern, "pattern '" + pattern + "'")(name);
}

int64_t RankRange::floorOf(int64_t r) const {
    if (r <= lo)
        return lo;
    if (r >= hi)
        return hi;
    return lo + (r - lo) / step * step;
}

std::vector<RankRange> resolveConstraints(const PlanConstraints& c,
                                          const std::vector<std::string>& names,
                                          const std::vector<int64_t>& maxRanks) {
    if (c.align < 1)
        failArgument("alignment",
                     "must be a positive integer (got " + std::to_string(c.align) + ")");
    if (c.minRank < 0)
        failArgument("minimum rank",
                     "must not be negative (got " + std::to_string(c.minRank) + ")");
    if (c.maxRank >= 0 && c.maxRank < c.minRank)
        failArgument("rank bounds", "the minimum rank " + std::to_string(c.minRank) +
                                        " exceeds the maximum rank " + std::to_string(c.maxRank));
    std::vector<Matcher> rules, excludes;
    for (const RankRule& r : c.overrides) {
        if (r.minRank < 0 || r.minRank > r.maxRank)
            failArgument("override '" + r.text() + "'", "the rank bounds are inverted or negative");
        rules.emplace_back(r.pattern, "override '" + r.text() + "'");
    }
    for (const std::string& e : c.exclude)
        excludes.emplace_back(e, "exclusion '" + e + "'");
    std::vector<bool> ruleUsed(rules.size(), false), excludeUsed(excludes.size(), false);

    std::vector<RankRange> out;
    for (size_t l = 0; l < names.size(); ++l) {
        const std::string& name = names[l];
        const int64_t cap = maxRanks[l];
        std::optional<size_t> excludedBy;
        for (size_t e = 0; e < excludes.size(); ++e)
            if (excludes[e](name)) {
                excludeUsed[e] = true;
                excludedBy = e;
            }
        std::optional<size_t> rule;
        for (size_t r = 0; r < rules.size(); ++r) {
            if (!rules[r](name))
                continue;
            ruleUsed[r] = true;
            if (excludedBy)
                failArgument(name, "is excluded by '" + c.exclude[*excludedBy] +
                                       "' and has override '" + c.overrides[r].text() + "'");
            if (rule && (c.overrides[*rule].minRank != c.overrides[r].minRank ||
                         c.overrides[*rule].maxRank != c.overrides[r].maxRank))
                failArgument(name, "matches the contradicting overrides '" +
                                       c.overrides[*rule].text() + "' and '" +
                                       c.overrides[r].text() + "'");
            rule = r;
        }
        if (excludedBy) {
            out.push_back({0, 0, c.align});
            continue;
        }
        int64_t lo = c.minRank;
        int64_t hi = c.maxRank < 0 ? cap : std::min(c.maxRank, cap);
        std::string origin = "the rank bounds";
        if (rule) {
            const RankRule& r = c.overrides[*rule];
            origin = "override '" + r.text() + "'";
            if (r.minRank > cap)
                failArgument(name, origin + " asks for rank " + std::to_string(r.minRank) +
                                       ", more than the layer's " + std::to_string(cap));
            lo = r.minRank;
            hi = std::min(r.maxRank, cap);
            if (lo == hi && lo % c.align != 0)
                failArgument(name, origin + ": rank " + std::to_string(lo) +
                                       " is not a multiple of the alignment " +
                                       std::to_string(c.align));
        } else if (lo > cap) {
            failArgument(name, "the minimum rank " + std::to_string(lo) +
                                   " exceeds the layer's largest " + std::to_string(cap));
        }
        const int64_t first = roundUp(lo, c.align);
        const int64_t last = hi / c.align * c.align;
        if (first > last)
            failArgument(name, origin + " leaves no multiple of " + std::to_string(c.align) +
                                   " in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        out.push_back({first, last, c.align});
    }
    for (size_t r = 0; r < rules.size(); ++r)
        if (!ruleUsed[r])
            failArgument("override '" + c.overrides[r].text() + "'", "matches no layer");
    for (size_t e = 0; e < excludes.size(); ++e)
        if (!excludeUsed[e])
            failArgument("exclusion '" + c.exclude[e] + "'", "matches no layer");
    return out;
}

} // namespace rs
