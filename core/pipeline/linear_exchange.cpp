#include "pipeline/linear_exchange.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <numeric>

namespace rs {

namespace {

using Dict = c10::impl::GenericDict;

Dict newDict() {
    return Dict(c10::StringType::get(), c10::AnyType::get());
}

c10::IValue tensorOrNone(const at::Tensor& t) {
    return t.defined() ? c10::IValue(t.to(at::kCPU)) : c10::IValue();
}
at::Tensor tensorOf(const Dict& d, const std::string& key) {
    const c10::IValue v = d.at(key);
    return v.isNone() ? at::Tensor() : v.toTensor();
}
c10::IValue doubles(const std::vector<double>& values) {
    return c10::List<double>(values);
}
std::vector<double> doublesOf(const Dict& d, const std::string& key) {
    return d.at(key).toDoubleVector();
}

Dict packAnalysis(const LayerAnalysis& a) {
    Dict d = newDict();
    d.insert("gram", doubles(a.spectra.gramEigenvalues));
    d.insert("weight", doubles(a.spectra.weightSingular));
    d.insert("error", doubles(a.spectra.errorSingular));
    d.insert("scaled", doubles(a.spectra.scaledErrorSingular));
    d.insert("discarded", a.spectra.discardedModes);
    d.insert("tolerance", a.spectra.tolerance);
    d.insert("svd", doubles(a.curves.svd));
    d.insert("eora", doubles(a.curves.eora));
    d.insert("error_energy", a.curves.errorEnergy);
    d.insert("output_energy", a.curves.outputEnergy);
    return d;
}

LayerAnalysis unpackAnalysis(const Dict& d) {
    LayerAnalysis a;
    a.spectra.gramEigenvalues = doublesOf(d, "gram");
    a.spectra.weightSingular = doublesOf(d, "weight");
    a.spectra.errorSingular = doublesOf(d, "error");
    a.spectra.scaledErrorSingular = doublesOf(d, "scaled");
    a.spectra.discardedModes = d.at("discarded").toInt();
    a.spectra.tolerance = d.at("tolerance").toDouble();
    a.curves.svd = doublesOf(d, "svd");
    a.curves.eora = doublesOf(d, "eora");
    a.curves.errorEnergy = d.at("error_energy").toDouble();
    a.curves.outputEnergy = d.at("output_energy").toDouble();
    return a;
}

Dict packReport(const LayerReport& r) {
    Dict d = newDict();
    d.insert("name", r.name);
    d.insert("block", r.block);
    d.insert("kind", r.kind);
    d.insert("out", r.outFeatures);
    d.insert("in", r.inFeatures);
    d.insert("sparsity", r.sparsity);
    d.insert("discarded", r.discardedModes);
    d.insert("output_energy", r.outputEnergy);
    d.insert("error_energy", r.errorEnergy);
    d.insert("heldout_output_energy", r.heldoutOutputEnergy);
    d.insert("heldout_error_energy", r.heldoutErrorEnergy);
    d.insert("ranks", c10::List<int64_t>(r.ranks));
    d.insert("error_after", doubles(r.errorAfter));
    d.insert("heldout_error_after", doubles(r.heldoutErrorAfter));
    d.insert("analysis", r.analysis ? c10::IValue(packAnalysis(*r.analysis)) : c10::IValue());
    return d;
}

LayerReport unpackReport(const Dict& d) {
    LayerReport r;
    r.name = d.at("name").toStringRef();
    r.block = d.at("block").toInt();
    r.kind = d.at("kind").toStringRef();
    r.outFeatures = d.at("out").toInt();
    r.inFeatures = d.at("in").toInt();
    r.sparsity = d.at("sparsity").toDouble();
    r.discardedModes = d.at("discarded").toInt();
    r.outputEnergy = d.at("output_energy").toDouble();
    r.errorEnergy = d.at("error_energy").toDouble();
    r.heldoutOutputEnergy = d.at("heldout_output_energy").toDouble();
    r.heldoutErrorEnergy = d.at("heldout_error_energy").toDouble();
    r.ranks = d.at("ranks").toIntVector();
    r.errorAfter = doublesOf(d, "error_after");
    r.heldoutErrorAfter = doublesOf(d, "heldout_error_after");
    if (!d.at("analysis").isNone())
        r.analysis = unpackAnalysis(d.at("analysis").toGenericDict());
    return r;
}

Dict packWeight(const CompressedWeight& w) {
    Dict d = newDict();
    d.insert("weight", tensorOrNone(w.weight));
    d.insert("mask", tensorOrNone(w.mask));
    d.insert("sparsity", w.sparsity);
    if (w.quant) {
        const QuantGrid& q = *w.quant;
        Dict grid = newDict();
        grid.insert("bits", int64_t(q.bits));
        grid.insert("group_size", q.groupSize);
        grid.insert("symmetric", q.symmetric);
        grid.insert("codes", tensorOrNone(q.codes));
        grid.insert("scales", tensorOrNone(q.scales));
        grid.insert("zeros", tensorOrNone(q.zeros));
        grid.insert("group_index", tensorOrNone(q.groupIndex));
        d.insert("grid", grid);
    } else {
        d.insert("grid", c10::IValue());
    }
    return d;
}

CompressedWeight unpackWeight(const Dict& d) {
    CompressedWeight w;
    w.weight = tensorOf(d, "weight");
    w.mask = tensorOf(d, "mask");
    w.sparsity = d.at("sparsity").toDouble();
    if (!d.at("grid").isNone()) {
        const Dict grid = d.at("grid").toGenericDict();
        QuantGrid q;
        q.bits = static_cast<int>(grid.at("bits").toInt());
        q.groupSize = grid.at("group_size").toInt();
        q.symmetric = grid.at("symmetric").toBool();
        q.codes = tensorOf(grid, "codes");
        q.scales = tensorOf(grid, "scales");
        q.zeros = tensorOf(grid, "zeros");
        q.groupIndex = tensorOf(grid, "group_index");
        w.quant = std::move(q);
    }
    return w;
}

Dict asDict(const c10::IValue& value) {
    return value.toGenericDict();
}

using IndexedFactors = std::vector<std::pair<size_t, LowRankFactors>>;

c10::IValue packFactors(const IndexedFactors& factors) {
    c10::impl::GenericList out(c10::AnyType::get());
    for (const auto& [variant, f] : factors)
        out.push_back(
            c10::ivalue::Tuple::create({int64_t(variant), tensorOrNone(f.B), tensorOrNone(f.A)}));
    return out;
}

IndexedFactors unpackFactors(const c10::IValue& value) {
    IndexedFactors out;
    for (const c10::IValue& item : value.toListRef()) {
        const auto& elements = item.toTupleRef().elements();
        LowRankFactors f;
        f.B = elements[1].isNone() ? at::Tensor() : elements[1].toTensor();
        f.A = elements[2].isNone() ? at::Tensor() : elements[2].toTensor();
        out.emplace_back(static_cast<size_t>(elements[0].toInt()), std::move(f));
    }
    return out;
}

} // namespace

std::vector<int> linearOwners(const std::vector<const SelectedLinear*>& linears, int ranks) {
    const auto cost = [&](size_t i) {
        return double(linears[i]->outFeatures + linears[i]->inFeatures) *
               double(linears[i]->inFeatures);
    };
    std::vector<size_t> order(linears.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return cost(a) > cost(b); });
    std::vector<double> load(static_cast<size_t>(std::max(ranks, 1)), 0.0);
    std::vector<int> owners(linears.size(), 0);
    for (size_t i : order) {
        const auto least = std::min_element(load.begin(), load.end()) - load.begin();
        owners[i] = static_cast<int>(least);
        load[static_cast<size_t>(least)] += cost(i);
    }
    return owners;
}

c10::IValue packOutcome(const LinearOutcome& outcome) {
    Dict d = newDict();
    d.insert("report", packReport(outcome.report));
    d.insert("compressed", tensorOrNone(outcome.compressed));
    d.insert("kept", outcome.kept ? c10::IValue(packWeight(*outcome.kept)) : c10::IValue());
    d.insert("factors", packFactors(outcome.factors));
    return d;
}

LinearOutcome unpackOutcome(const c10::IValue& value) {
    const Dict d = asDict(value);
    LinearOutcome outcome;
    outcome.report = unpackReport(asDict(d.at("report")));
    outcome.compressed = tensorOf(d, "compressed");
    if (!d.at("kept").isNone())
        outcome.kept = unpackWeight(asDict(d.at("kept")));
    outcome.factors = unpackFactors(d.at("factors"));
    return outcome;
}

c10::IValue packFactored(const FactoredOutcome& outcome) {
    Dict d = newDict();
    d.insert("output_energy", outcome.outputEnergy);
    d.insert("error_after", doubles(outcome.errorAfter));
    d.insert("analysis",
             outcome.analysis ? c10::IValue(packAnalysis(*outcome.analysis)) : c10::IValue());
    d.insert("factors", packFactors(outcome.factors));
    d.insert("curve", doubles(outcome.curve));
    return d;
}

FactoredOutcome unpackFactored(const c10::IValue& value) {
    const Dict d = asDict(value);
    FactoredOutcome outcome;
    outcome.outputEnergy = d.at("output_energy").toDouble();
    outcome.errorAfter = doublesOf(d, "error_after");
    if (!d.at("analysis").isNone())
        outcome.analysis = unpackAnalysis(asDict(d.at("analysis")));
    outcome.factors = unpackFactors(d.at("factors"));
    outcome.curve = doublesOf(d, "curve");
    return outcome;
}

} // namespace rs
