#include "util/progress.h"

#include "util/error.h"

#include <utility>

namespace rs {

void CancelToken::throwIfCancelled() const {
    if (isCancelled())
        throw CancelledError();
}

namespace {
thread_local const CancelScope* innermostScope = nullptr;
} // namespace

CancelScope::CancelScope(CancelToken token)
    : m_token(std::move(token))
    , m_outer(innermostScope) {
    innermostScope = this;
}

CancelScope::~CancelScope() {
    innermostScope = m_outer;
}

bool cancellationPossible() {
    return innermostScope != nullptr;
}

bool cancellationRequested() {
    return innermostScope && innermostScope->m_token.isCancelled();
}

void cancellationPoint() {
    if (cancellationRequested())
        throw CancelledError();
}

} // namespace rs
