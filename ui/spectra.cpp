#include "spectra.h"

#include <QCoreApplication>

namespace rs::ui {

QString spectrumName(Spectrum spectrum) {
    // The Spectra page's context, where these names have always been translated.
    const char* context = "rs::ui::SpectrumView";
    switch (spectrum) {
    case Spectrum::ScaledError:
        return QCoreApplication::translate(context, "σ(dW·S)");
    case Spectrum::Error:
        return QCoreApplication::translate(context, "σ(dW)");
    case Spectrum::Weight:
        return QCoreApplication::translate(context, "σ(W)");
    case Spectrum::Gram:
        return QCoreApplication::translate(context, "λ(C)");
    }
    return {};
}

const std::vector<double>& spectrumValues(const rs::LayerRecord& layer, Spectrum spectrum) {
    switch (spectrum) {
    case Spectrum::ScaledError:
        return layer.scaledErrorSingular;
    case Spectrum::Error:
        return layer.errorSingular;
    case Spectrum::Weight:
        return layer.weightSingular;
    case Spectrum::Gram:
        break;
    }
    return layer.gramEigenvalues;
}

} // namespace rs::ui
