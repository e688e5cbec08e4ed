// The versioned SQL that pgpulse installs, embedded from sql/ at build time.
#pragma once

#include <string_view>
#include <vector>

namespace pgpulse::capture {

struct SqlScript {
  std::string_view name;  ///< "pgpulse--1.sql" (install) or "pgpulse--1--2.sql" (upgrade)
  std::string_view text;
};

const std::vector<SqlScript>& sql_scripts();

}  // namespace pgpulse::capture
