#pragma once

#include <QStringList>

namespace rs::ui {

// The most recently opened model paths, newest first, kept in QSettings. Paths that no longer
// exist are pruned whenever the list is read.
class RecentModels {
public:
    static constexpr int kMaximum = 8;

    static QStringList paths();
    static void add(const QString& path);
    static void remove(const QString& path);
    static void clear();

private:
    static void store(const QStringList& paths);
};

} // namespace rs::ui
