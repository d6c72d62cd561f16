#include "methods/registry.h"
#include "util/error.h"

#include <QTest>
#include <set>

namespace {

// One row per registered method, "kind/id", for the checks every method must pass.
void registeredRows() {
    QTest::addColumn<int>("index");
    QVERIFY(rs::methodRegistry().size() >= 9);
    for (size_t i = 0; i < rs::methodRegistry().size(); ++i) {
        const rs::MethodSpec& spec = rs::methodRegistry()[i];
        const std::string name = std::string(rs::methodKindName(spec.kind)) + "/" + spec.id;
        QTest::newRow(name.c_str()) << int(i);
    }
}

} // namespace

class TestMethods : public QObject {
    Q_OBJECT
private slots:
    void parsesAndSerialisesRoundTrip();
    void defaultsFillMissingParameters();
    void everyRegisteredDefaultIsValid_data() { registeredRows(); }
    void everyRegisteredDefaultIsValid();
    void traitsAgreeWithParameters_data() { registeredRows(); }
    void traitsAgreeWithParameters();
    void referenceCompensationsAreFound();
    void idsAreUniquePerKind();
    void rejectsBadSpecsWithClearMessages();
    void canonicalisesValues();
};

void TestMethods::parsesAndSerialisesRoundTrip() {
    const rs::MethodConfig rtn =
        rs::MethodConfig::parse("rtn:bits=3,group=32", rs::MethodKind::Compression);
    QCOMPARE(rtn.id(), std::string("rtn"));
    QCOMPARE(rtn.integer("bits"), int64_t(3));
    QCOMPARE(rtn.integer("group"), int64_t(32));
    QCOMPARE(rtn.flag("sym"), false);
    QCOMPARE(rtn.serialize(), std::string("rtn:bits=3,group=32,sym=false"));
    QCOMPARE(rs::MethodConfig::parse(rtn.serialize(), rs::MethodKind::Compression), rtn);

    const rs::MethodConfig gptq = rs::MethodConfig::parse("gptq:act_order=true,damp=0.05,bits=2",
                                                          rs::MethodKind::Compression);
    QCOMPARE(gptq.real("damp"), 0.05);
    QVERIFY(gptq.flag("act_order"));
    QCOMPARE(rs::MethodConfig::parse(gptq.serialize(), rs::MethodKind::Compression), gptq);
}

void TestMethods::defaultsFillMissingParameters() {
    const rs::MethodConfig eora = rs::MethodConfig::parse("eora", rs::MethodKind::Compensation);
    QCOMPARE(eora.integer("factor_bits"), int64_t(0));
    const rs::MethodConfig wanda =
        rs::MethodConfig::parse("wanda:nm=2:4", rs::MethodKind::Compression);
    QCOMPARE(wanda.text("nm"), std::string("2:4"));
    QCOMPARE(wanda.integer("bits"), int64_t(0));
    // "none" exists as a compression and as a compensation method; the kind tells them apart.
    QCOMPARE(rs::MethodConfig::parse("none", rs::MethodKind::Compensation).kind(),
             rs::MethodKind::Compensation);
    QCOMPARE(rs::MethodConfig::parse("none", rs::MethodKind::Compression).kind(),
             rs::MethodKind::Compression);
}

void TestMethods::everyRegisteredDefaultIsValid() {
    QFETCH(int, index);
    const rs::MethodSpec& spec = rs::methodRegistry()[size_t(index)];
    const rs::MethodConfig config = rs::MethodConfig::defaults(spec.id, spec.kind);
    QCOMPARE(config.values().size(), spec.params.size());
    QCOMPARE(rs::MethodConfig::parse(config.serialize(), spec.kind), config);
    QVERIFY(!spec.name.empty() && !spec.description.empty());
    for (const rs::ParamSpec& p : spec.params)
        QVERIFY2(!p.label.empty() && !p.help.empty(), p.key.c_str());
}

// The traits the jobs dispatch on match what the parameters and the kind allow.
void TestMethods::traitsAgreeWithParameters() {
    QFETCH(int, index);
    const rs::MethodSpec& spec = rs::methodRegistry()[size_t(index)];
    const rs::MethodTraits& t = spec.traits;
    if (spec.kind == rs::MethodKind::Compression) {
        QVERIFY(!spec.fitsFactors());
        QCOMPARE(t.curve, rs::ErrorCurve::None);
    } else {
        QVERIFY(!t.quantizes && !t.readsStatistics);
    }
    // Every compensation that fits factors can have them quantized; "none" has nothing to.
    if (spec.kind == rs::MethodKind::Compensation)
        QCOMPARE(spec.param("factor_bits") != nullptr, spec.fitsFactors());
    QVERIFY(!t.distills || spec.kind == rs::MethodKind::LowRank);
    // The stored curves are those of the SVD (K = I) and of the exact optimum (K = C).
    if (t.curve == rs::ErrorCurve::Svd)
        QCOMPARE(t.weighting, rs::InputWeighting::Identity);
    if (t.curve == rs::ErrorCurve::Eora)
        QCOMPARE(t.weighting, rs::InputWeighting::Gram);
    if (t.weighting == rs::InputWeighting::ActivationScale)
        QVERIFY(spec.param("alpha"));
}

void TestMethods::referenceCompensationsAreFound() {
    QCOMPARE(rs::uncompensated().kind, rs::MethodKind::Compensation);
    QVERIFY(!rs::uncompensated().fitsFactors());
    QCOMPARE(rs::plainSvdCompensation().traits.weighting, rs::InputWeighting::Identity);
    QCOMPARE(rs::methodIds(rs::MethodKind::LowRank),
             std::string("lord-weight, lord-data, lillama"));
    QCOMPARE(rs::methodIds(rs::MethodKind::Compression,
                           [](const rs::MethodSpec& m) { return m.sweepsBitsAndGroups(); }),
             std::string("rtn, gptq"));
}

void TestMethods::idsAreUniquePerKind() {
    std::set<std::pair<int, std::string>> seen;
    for (const rs::MethodSpec& spec : rs::methodRegistry())
        QVERIFY2(seen.insert({static_cast<int>(spec.kind), spec.id}).second, spec.id.c_str());
}

void TestMethods::rejectsBadSpecsWithClearMessages() {
    const auto expect = [](const char* spec, rs::MethodKind kind, const char* text) {
        try {
            rs::MethodConfig::parse(spec, kind);
            QFAIL(qPrintable(QString("accepted ") + spec));
        } catch (const rs::Error& e) {
            QVERIFY2(std::string(e.what()).find(text) != std::string::npos, e.what());
        }
    };
    expect("awq", rs::MethodKind::Compression, "unknown method 'awq' (available: none, rtn");
    expect("eora", rs::MethodKind::Compression, "unknown method 'eora'");
    expect("rtn:bits=5", rs::MethodKind::Compression, "rtn:bits: 5 is not one of 2, 3, 4, 8");
    expect("rtn:bits=four", rs::MethodKind::Compression, "expects an integer");
    expect("rtn:groups=32", rs::MethodKind::Compression, "unknown parameter 'groups'");
    expect("rtn:bits", rs::MethodKind::Compression, "needs a value");
    expect("gptq:damp=2", rs::MethodKind::Compression, "gptq:damp: 2 is outside 0..1");
    expect("gptq:damp=nan", rs::MethodKind::Compression, "expects a number");
    expect("gptq:act_order=maybe", rs::MethodKind::Compression, "expects true or false");
    expect("wanda:nm=3:4", rs::MethodKind::Compression, "'3:4' is not one of none, 2:4, 4:8");
    expect("svd:factor_bits=3", rs::MethodKind::Compensation, "is not one of 0, 4, 8");
    expect("none:x=1", rs::MethodKind::Compensation, "it takes none");
}

void TestMethods::canonicalisesValues() {
    const rs::MethodConfig a =
        rs::MethodConfig::parse("gptq: damp = 0.010 , sym=1", rs::MethodKind::Compression);
    QCOMPARE(a.text("damp"), std::string("0.01"));
    QCOMPARE(a.text("sym"), std::string("true"));
    rs::MethodConfig b = rs::MethodConfig::defaults("gptq", rs::MethodKind::Compression);
    b.set("sym", "yes");
    QCOMPARE(a, b);
}

QTEST_GUILESS_MAIN(TestMethods)
#include "tst_methods.moc"
