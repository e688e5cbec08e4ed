// Reads which tables are captured and their columns, for ChangeStream::on_catalog.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <vector>

#include "pg/async_connection.hpp"
#include "pgpulse/change_stream.hpp"

namespace pgpulse::source {

/// The captured tables (ordered by schema, then name) with their columns in table order, in
/// one prepared query. Throws as AsyncConnection::query does.
[[nodiscard]] boost::asio::awaitable<std::vector<CapturedTable>> read_table_catalog(
    pg::AsyncConnection& connection);

}  // namespace pgpulse::source
