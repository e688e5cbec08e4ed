// pgpulse/error.hpp: the exceptions the library throws.
//
// Flat on purpose (as in libpqxx): callers catch `pgpulse::Error` and, where it matters, one
// specific kind. Hot paths (per notification, per event) never throw; these mark boundaries:
// connecting, installing, parsing user input.
#pragma once

#include <stdexcept>
#include <string>

namespace pgpulse {

/// Base of every pgpulse exception. `what()` is one line, fit to show a user.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string sqlstate = {})
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  /// The PostgreSQL SQLSTATE code when the server reported the error, else empty.
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// The server could not be reached, refused us, or the connection broke.
class ConnectionError : public Error {
  using Error::Error;
};

/// A statement failed on the server (missing table, missing privilege, ...).
class SqlError : public Error {
  using Error::Error;
};

/// A call with a deadline did not finish in time.
class TimeoutError : public Error {
  using Error::Error;
};

/// A cursor string that pgpulse did not produce, or that is damaged.
class InvalidCursor : public Error {
  using Error::Error;
};

/// Resuming from a cursor whose changes were already pruned from the change log.
class CursorExpired : public Error {
  using Error::Error;
};

}  // namespace pgpulse
