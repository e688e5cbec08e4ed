#include "gateway/table_catalog.hpp"

namespace pgpulse::gateway {

void TableCatalog::set(const std::vector<CapturedTable>& captured) {
  auto tables = std::make_shared<Tables>();
  for (const auto& table : captured) {
    (*tables)[table.table].insert(table.columns.begin(), table.columns.end());
  }
  tables_.store(std::move(tables));
}

std::shared_ptr<const TableCatalog::Columns> TableCatalog::columns(const TableName& table) const {
  auto tables = tables_.load();
  auto it = tables->find(table);
  if (it == tables->end()) return nullptr;
  return std::shared_ptr<const Columns>(tables, &it->second);
}

}  // namespace pgpulse::gateway
