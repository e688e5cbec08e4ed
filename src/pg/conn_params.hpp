// Connection parameters: the user's conninfo plus pgpulse's defaults where it sets none.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pgpulse::pg {

class ConnParams {
 public:
  /// Parses `conninfo` (URL or key=value); throws ConnectionError naming the problem.
  /// Adds TCP keepalives, application_name=pgpulse and connect_timeout unless given.
  ConnParams(const std::string& conninfo, int keepalive_idle_seconds, int connect_timeout_seconds);

  /// NULL-terminated arrays for PQconnectStartParams / PQconnectdbParams.
  [[nodiscard]] const char* const* keywords() const noexcept { return keywords_.data(); }
  [[nodiscard]] const char* const* values() const noexcept { return values_.data(); }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::vector<const char*> keywords_;
  std::vector<const char*> values_;
};

}  // namespace pgpulse::pg
