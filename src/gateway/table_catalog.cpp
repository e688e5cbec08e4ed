#include "gateway/table_catalog.hpp"

namespace pgpulse::gateway {

void TableCatalog::set(Tables tables) {
  tables_.store(std::make_shared<const Tables>(std::move(tables)));
}

std::shared_ptr<const TableCatalog::Columns> TableCatalog::columns(const TableName& table) const {
  auto tables = tables_.load();
  auto it = tables->find(table);
  if (it == tables->end()) return nullptr;
  return std::shared_ptr<const Columns>(tables, &it->second);
}

}  // namespace pgpulse::gateway
