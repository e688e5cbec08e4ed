// pgpulse/capture.hpp: install and remove change capture (blocking; for tools and setup).
//
// Each call runs in one transaction: it either fully happens or changes nothing.
#pragma once

#include <string>
#include <vector>

namespace pgpulse {

/// Creates or upgrades the `pgpulse` schema and puts capture triggers on `tables` (names as in
/// SQL: "public.orders", "\"My Table\""). Idempotent. Throws SqlError / ConnectionError.
void install_capture(const std::string& conninfo, const std::vector<std::string>& tables);

/// Removes capture triggers from `tables` (all captured tables when empty); once no table is
/// captured, drops the `pgpulse` schema. User tables and data are never touched.
void uninstall_capture(const std::string& conninfo, const std::vector<std::string>& tables);

/// The captured tables, as "schema.table" (quoted where SQL needs it).
std::vector<std::string> captured_tables(const std::string& conninfo);

/// The schema version this build installs.
int schema_version() noexcept;

}  // namespace pgpulse
