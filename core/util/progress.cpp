#include "util/progress.h"

#include "util/error.h"

namespace rs {

void CancelToken::throwIfCancelled() const {
    if (isCancelled())
        throw CancelledError();
}

} // namespace rs
