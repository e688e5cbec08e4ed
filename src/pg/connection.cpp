#include "pg/connection.hpp"

#include <vector>

#include "pg/conn_params.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::pg {

Connection::Connection(const std::string& conninfo) {
  ConnParams params(conninfo, 10, 10);
  conn_.reset(PQconnectdbParams(params.keywords(), params.values(), 0));
  if (!conn_) throw ConnectionError("out of memory");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw ConnectionError("cannot connect: " + first_line(PQerrorMessage(conn_.get())));
  }
  silence_notices(conn_.get());
}

Result Connection::exec(std::string_view sql,
                        std::initializer_list<std::optional<std::string_view>> params) {
  std::vector<std::string> owned;
  owned.reserve(params.size());
  std::vector<const char*> values;
  for (const auto& p : params) {
    if (p) {
      owned.emplace_back(*p);
      values.push_back(owned.back().c_str());
    } else {
      values.push_back(nullptr);
    }
  }
  std::string text(sql);
  ResultPtr r(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0));
  auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
    throw_result_error(conn_.get(), r.get());
  return Result(std::move(r));
}

void Connection::exec_script(const std::string& sql) {
  ResultPtr last;
  if (!PQsendQuery(conn_.get(), sql.c_str())) throw_result_error(conn_.get(), nullptr);
  bool failed = false;
  while (ResultPtr r{PQgetResult(conn_.get())}) {
    auto status = PQresultStatus(r.get());
    if (!failed && status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      failed = true;
      last = std::move(r);
    }
  }
  if (failed) throw_result_error(conn_.get(), last.get());
}

std::string Connection::quote_identifier(std::string_view name) {
  std::unique_ptr<char, FreememDeleter> quoted(
      PQescapeIdentifier(conn_.get(), name.data(), name.size()));
  if (!quoted) throw_result_error(conn_.get(), nullptr);
  return quoted.get();
}

}  // namespace pgpulse::pg
