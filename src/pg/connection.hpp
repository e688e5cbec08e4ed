// A blocking connection, for setup work (install, uninstall, status) and tests.
// Listening goes through AsyncConnection instead.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "pg/result.hpp"

namespace pgpulse::pg {

class Connection {
 public:
  /// Connects or throws ConnectionError with libpq's one-line reason.
  explicit Connection(const std::string& conninfo);

  /// Runs `sql` with text parameters ($1...; nullopt is NULL). Throws SqlError.
  Result exec(std::string_view sql,
              std::initializer_list<std::optional<std::string_view>> params = {});
  /// Runs several statements without parameters (simple query protocol).
  void exec_script(const std::string& sql);

  /// `name` as a quoted SQL identifier.
  [[nodiscard]] std::string quote_identifier(std::string_view name);
  [[nodiscard]] PGconn* raw() const noexcept { return conn_.get(); }

 private:
  ConnPtr conn_;
};

}  // namespace pgpulse::pg
