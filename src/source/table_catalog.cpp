#include "source/table_catalog.hpp"

#include <string>

namespace pgpulse::source {

namespace {

// A large catalog (thousands of columns) is still a quick index scan of pg_attribute.
constexpr auto kCatalogTimeout = std::chrono::seconds(30);

// One row per column, in table order; a captured table without columns is one row with a
// NULL name, so it is still reported.
const std::string kCatalogSql = R"sql(
SELECT t.schema_name, t.relname, a.attname
FROM pgpulse.captured_tables t
LEFT JOIN pg_catalog.pg_attribute a
  ON a.attrelid = t.table_name AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY t.schema_name, t.relname, a.attnum
)sql";

}  // namespace

boost::asio::awaitable<std::vector<CapturedTable>> read_table_catalog(
    pg::AsyncConnection& connection) {
  auto r = co_await connection.query(kCatalogSql, {}, kCatalogTimeout, /*prepare=*/true);
  std::vector<CapturedTable> tables;
  for (int i = 0; i < r.rows(); ++i) {
    auto schema = r.get(i, 0);
    auto name = r.get(i, 1);
    if (tables.empty() || tables.back().table.schema != schema ||
        tables.back().table.name != name) {
      tables.push_back({.table = {std::string(schema), std::string(name)}});
    }
    if (!r.is_null(i, 2)) tables.back().columns.emplace_back(r.get(i, 2));
  }
  co_return tables;
}

}  // namespace pgpulse::source
