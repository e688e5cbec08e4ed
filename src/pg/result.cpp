#include "pg/result.hpp"

#include "pgpulse/error.hpp"

namespace pgpulse::pg {

std::string first_line(const char* message) {
  std::string_view text = message ? message : "";
  text = text.substr(0, text.find('\n'));
  if (text.starts_with("ERROR:  ")) text.remove_prefix(8);
  if (text.starts_with("FATAL:  ")) text.remove_prefix(8);
  return std::string(text.empty() ? "unknown libpq error" : text);
}

void silence_notices(PGconn* conn) noexcept {
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
}

void throw_result_error(PGconn* conn, const PGresult* result) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (PQstatus(conn) == CONNECTION_BAD) {
    throw ConnectionError(first_line(PQerrorMessage(conn)), state ? state : "");
  }
  if (!result) throw SqlError(first_line(PQerrorMessage(conn)));
  // Raised by pgpulse.read_changes (sql/pgpulse--1.sql) for a cursor behind the pruned log.
  if (state && std::string_view(state) == "PX001")
    throw CursorExpired(primary ? primary : "", state);
  throw SqlError(primary ? primary : first_line(PQresultErrorMessage(result)), state ? state : "");
}

}  // namespace pgpulse::pg
