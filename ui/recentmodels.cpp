#include "recentmodels.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace rs::ui {

namespace {

const QString kKey = QStringLiteral("recentModels");

QString normalized(const QString& path) {
    return QDir::cleanPath(QFileInfo(path).absoluteFilePath());
}

} // namespace

QStringList RecentModels::paths() {
    const QStringList stored = QSettings().value(kKey).toStringList();
    QStringList existing;
    for (const QString& path : stored) {
        if (QFileInfo::exists(path) && !existing.contains(path))
            existing.append(path);
    }
    while (existing.size() > kMaximum)
        existing.removeLast();
    if (existing != stored)
        store(existing);
    return existing;
}

void RecentModels::add(const QString& path) {
    const QString entry = normalized(path);
    QStringList list = paths();
    list.removeAll(entry);
    list.prepend(entry);
    while (list.size() > kMaximum)
        list.removeLast();
    store(list);
}

void RecentModels::remove(const QString& path) {
    QStringList list = paths();
    if (list.removeAll(normalized(path)) > 0)
        store(list);
}

void RecentModels::clear() {
    store({});
}

void RecentModels::store(const QStringList& paths) {
    QSettings settings;
    if (paths.isEmpty())
        settings.remove(kKey);
    else
        settings.setValue(kKey, paths);
}

} // namespace rs::ui
