#pragma once

// The demo model opened on the device the numerical tests run on.

#include "pipeline/session.h"
#include "testdata.h"

#include <cstdlib>
#include <memory>
#include <string>

namespace rs::test {

// $RANKSCOPE_TEST_DEVICE: "cpu" unless set. The device check (scripts/device-check.sh) builds the
// tests against a CUDA LibTorch and sets "cuda", so that every test that opens the demo model
// through openDemo() runs its numerics there.
inline std::string testDevice() {
    const char* device = std::getenv("RANKSCOPE_TEST_DEVICE");
    return device != nullptr && *device != '\0' ? device : "cpu";
}

inline std::shared_ptr<rs::ModelSession> openDemo(rs::OpenOptions options = {},
                                                  const rs::JobContext& job = {}) {
    options.device = testDevice();
    return rs::ModelSession::open(stories260K(), options, job);
}

} // namespace rs::test
