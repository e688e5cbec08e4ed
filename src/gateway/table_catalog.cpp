#include "gateway/table_catalog.hpp"

#include "pg/connection.hpp"

namespace pgpulse::gateway {

void TableCatalog::load(const std::string& conninfo) {
  pg::Connection db(conninfo);
  auto r = db.exec(
      "SELECT t.schema_name || '.' || t.relname, a.attname FROM pgpulse.captured_tables t "
      "JOIN pg_catalog.pg_attribute a ON a.attrelid = t.table_name "
      "WHERE a.attnum > 0 AND NOT a.attisdropped");
  auto tables = std::make_shared<Tables>();
  for (int i = 0; i < r.rows(); ++i) (*tables)[std::string(r.get(i, 0))].emplace(r.get(i, 1));
  std::lock_guard lock(mutex_);
  tables_ = std::move(tables);
}

std::shared_ptr<const TableCatalog::Columns> TableCatalog::columns(
    const std::string& table_key) const {
  std::shared_ptr<const Tables> tables;
  {
    std::lock_guard lock(mutex_);
    tables = tables_;
  }
  auto it = tables->find(table_key);
  if (it == tables->end()) return nullptr;
  return std::shared_ptr<const Columns>(tables, &it->second);
}

}  // namespace pgpulse::gateway
