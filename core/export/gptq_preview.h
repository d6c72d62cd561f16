#pragma once

#include "store/records.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace rs {

class MethodConfig;

// The linears a GPTQ export of these layers would keep dense, each with why: those the
// compression does not put on a grid, and those whose shape or bits GPTQ cannot hold (fused
// siblings share the verdict, as the writer decides). From the stored shapes and the
// compression's settings alone, so that the export dialog can warn before anything is written;
// a grid's values (a zero point of 0, a scale beyond float16) can keep more dense at export time.
// Adds to `reasons` (linear -> why it stays dense) every fused sibling of a dense linear among
// `names`: vLLM refuses a fused layer whose shards are partly quantized.
void keepFusedSiblingsDense(const std::vector<std::string>& names,
                            std::map<std::string, std::string>& reasons);

std::vector<std::pair<std::string, std::string>>
gptqDenseLayers(const std::vector<LayerRecord>& layers, const MethodConfig& compression);

} // namespace rs
