#include "pg/conn_params.hpp"

#include <libpq-fe.h>

#include <memory>

#include "pg/result.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::pg {

namespace {
struct ConninfoDeleter {
  void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); }
};
}  // namespace

ConnParams::ConnParams(const std::string& conninfo, int keepalive_idle_seconds,
                       int connect_timeout_seconds) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoDeleter> options(
      PQconninfoParse(conninfo.c_str(), &error));
  if (!options) {
    std::string message = error ? first_line(error) : "out of memory";
    PQfreemem(error);
    throw ConnectionError("invalid connection string: " + message);
  }
  for (auto* o = options.get(); o->keyword; ++o) {
    if (o->val && *o->val) pairs_.emplace_back(o->keyword, o->val);
  }
  auto set_default = [&](const char* key, std::string value) {
    for (auto& [k, v] : pairs_)
      if (k == key) return;
    pairs_.emplace_back(key, std::move(value));
  };
  // Without keepalives a listener behind a dead peer waits forever: it only ever reads.
  set_default("keepalives", "1");
  set_default("keepalives_idle", std::to_string(keepalive_idle_seconds));
  set_default("keepalives_interval", "5");
  set_default("keepalives_count", "3");
  set_default("application_name", "pgpulse");
  set_default("connect_timeout", std::to_string(connect_timeout_seconds));
  for (auto& [k, v] : pairs_) {
    keywords_.push_back(k.c_str());
    values_.push_back(v.c_str());
  }
  keywords_.push_back(nullptr);
  values_.push_back(nullptr);
}

}  // namespace pgpulse::pg
