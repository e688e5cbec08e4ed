// RAII owners of libpq handles, and a read-only view of a query result.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>

namespace pgpulse::pg {

struct ConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
struct FreememDeleter {
  void operator()(void* p) const noexcept { PQfreemem(p); }
};

using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;
using NotifyPtr = std::unique_ptr<PGnotify, FreememDeleter>;

/// A successful result (errors are thrown before one is made).
class Result {
 public:
  Result() = default;
  explicit Result(ResultPtr r) : r_(std::move(r)) {}

  [[nodiscard]] int rows() const noexcept { return r_ ? PQntuples(r_.get()) : 0; }
  [[nodiscard]] int columns() const noexcept { return r_ ? PQnfields(r_.get()) : 0; }
  [[nodiscard]] bool is_null(int row, int col) const noexcept {
    return PQgetisnull(r_.get(), row, col) != 0;
  }
  [[nodiscard]] std::string_view get(int row, int col) const noexcept {
    return {PQgetvalue(r_.get(), row, col),
            static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
  }
  [[nodiscard]] const PGresult* raw() const noexcept { return r_.get(); }

 private:
  ResultPtr r_;
};

/// The first line of libpq's error text for `conn` (libpq messages end with '\n' and may
/// carry DETAIL lines, which a one-line report leaves out).
[[nodiscard]] std::string first_line(const char* message);

/// Makes libpq drop server notices (such as "drop cascades to ..."), which it would otherwise
/// print on stderr: a library must not write to its host's stderr.
void silence_notices(PGconn* conn) noexcept;

/// Throws SqlError (or ConnectionError when the connection broke) for a failed `result`.
[[noreturn]] void throw_result_error(PGconn* conn, const PGresult* result);

}  // namespace pgpulse::pg
