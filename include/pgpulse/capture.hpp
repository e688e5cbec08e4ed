// pgpulse/capture.hpp: install and remove change capture (blocking; for tools and setup).
//
// Each call runs in one transaction: it either fully happens or changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pgpulse/table_name.hpp"
#include "pgpulse/wakeup_mode.hpp"

namespace pgpulse {

/// Installation-wide settings; what is not given stays as it is.
struct CaptureSettings {
  /// Keep changes at least this long, as a PostgreSQL interval ("24 hours", the default).
  std::optional<std::string> retention{};
  /// How readers learn of changes (see WakeupMode); kNotify when first installed.
  std::optional<WakeupMode> wakeup{};
};

/// Creates or upgrades the `pgpulse` schema, applies `settings`, and puts capture triggers on
/// `tables` (names as in SQL: "public.orders", "\"My Table\""). Idempotent.
/// Throws SqlError / ConnectionError.
void install_capture(const std::string& conninfo, const std::vector<std::string>& tables,
                     const CaptureSettings& settings = {});

/// Removes capture triggers from `tables` (all captured tables when empty); once no table is
/// captured, drops the `pgpulse` schema. User tables and data are never touched.
void uninstall_capture(const std::string& conninfo, const std::vector<std::string>& tables);

/// The captured tables, ordered by schema, then name; empty when pgpulse is not installed.
[[nodiscard]] std::vector<TableName> captured_tables(const std::string& conninfo);

/// What `pgpulse status` shows.
struct CaptureStatus {
  bool installed = false;
  int schema_version = 0;
  std::vector<TableName> tables{};  ///< ordered by schema, then name
  WakeupMode wakeup = WakeupMode::kNotify;
  std::string retention{};
  std::int64_t log_rows_estimate = 0;
  std::int64_t log_bytes = 0;
  std::string oldest_change{};  ///< write time of the oldest retained change; empty: none
  std::string pruned_below{};   ///< xid below which changes are pruned
  std::string last_prune{};     ///< when a reader last pruned; empty: never
};
[[nodiscard]] CaptureStatus capture_status(const std::string& conninfo);

/// The schema version this build installs.
[[nodiscard]] int schema_version() noexcept;

}  // namespace pgpulse
