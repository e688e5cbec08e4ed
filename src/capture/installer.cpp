// install / uninstall: each in one transaction, serialized by an advisory lock so two
// concurrent installs cannot interleave.
#include <string>

#include "capture/sql_scripts.hpp"
#include "pg/connection.hpp"
#include "pgpulse/capture.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse {

namespace {

// An arbitrary constant naming "pgpulse schema changes" among advisory locks.
constexpr const char* kLockSql = "SELECT pg_catalog.pg_advisory_xact_lock(7283915502)";
constexpr int kLatestVersion = 1;

std::string_view script(const std::string& name) {
  for (const auto& s : capture::sql_scripts())
    if (s.name == name) return s.text;
  throw Error("missing embedded SQL script " + name);
}

// 0 when pgpulse is not installed.
[[nodiscard]] int installed_version(pg::Connection& db) {
  auto r = db.exec(
      "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgpulse'), "
      "pg_catalog.to_regclass('pgpulse.settings') IS NOT NULL");
  if (r.get(0, 0) == "f") return 0;
  if (r.get(0, 1) == "f") {
    throw Error("a schema named pgpulse exists but was not made by pgpulse; rename it first");
  }
  auto v = db.exec("SELECT value FROM pgpulse.settings WHERE key = 'schema_version'");
  return v.rows() ? std::stoi(std::string(v.get(0, 0))) : 0;
}

void upgrade_schema(pg::Connection& db) {
  int version = installed_version(db);
  if (version > kLatestVersion) {
    throw Error("the database has pgpulse schema version " + std::to_string(version) +
                ", newer than this pgpulse (" + std::to_string(kLatestVersion) + ")");
  }
  if (version == 0) {
    db.exec("CREATE SCHEMA pgpulse");
    db.exec_script(std::string(script("pgpulse--1.sql")));
    version = 1;
  }
  for (; version < kLatestVersion; ++version) {
    auto name = "pgpulse--" + std::to_string(version) + "--" + std::to_string(version + 1) + ".sql";
    db.exec_script(std::string(script(name)));
  }
}

std::vector<TableName> read_captured_tables(pg::Connection& db) {
  auto r = db.exec("SELECT schema_name, relname FROM pgpulse.captured_tables ORDER BY 1, 2");
  std::vector<TableName> tables;
  tables.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) {
    tables.push_back({std::string(r.get(i, 0)), std::string(r.get(i, 1))});
  }
  return tables;
}

}  // namespace

int schema_version() noexcept {
  return kLatestVersion;
}

void install_capture(const std::string& conninfo, const std::vector<std::string>& tables,
                     const CaptureSettings& settings) {
  pg::Connection db(conninfo);
  // On any error the connection closes without COMMIT: the server rolls everything back.
  db.exec("BEGIN");
  db.exec(kLockSql);
  upgrade_schema(db);
  if (settings.retention) {
    // Kept as the user wrote it; the cast only checks it (a bad interval fails the install).
    db.exec(
        "UPDATE pgpulse.settings SET value = $1 WHERE key = 'retention' AND $1::interval "
        "IS NOT NULL",
        {*settings.retention});
  }
  if (settings.wakeup) db.exec("SELECT pgpulse.set_wakeup($1)", {to_string(*settings.wakeup)});
  for (const auto& table : tables) {
    db.exec("SELECT pgpulse.capture($1::regclass)", {table});
  }
  db.exec("COMMIT");
}

void uninstall_capture(const std::string& conninfo, const std::vector<std::string>& tables) {
  pg::Connection db(conninfo);
  db.exec("BEGIN");
  db.exec(kLockSql);
  if (installed_version(db) == 0) throw Error("pgpulse is not installed in this database");
  if (tables.empty()) {
    db.exec("SELECT pgpulse.release(table_name) FROM pgpulse.captured_tables");
  }
  for (const auto& table : tables) {
    db.exec("SELECT pgpulse.release($1::regclass)", {table});
  }
  auto left = db.exec("SELECT count(*) FROM pgpulse.captured_tables");
  if (left.get(0, 0) == "0") db.exec("DROP SCHEMA pgpulse CASCADE");
  db.exec("COMMIT");
}

CaptureStatus capture_status(const std::string& conninfo) {
  pg::Connection db(conninfo);
  CaptureStatus status;
  status.schema_version = installed_version(db);
  status.installed = status.schema_version != 0;
  if (!status.installed) return status;
  status.tables = read_captured_tables(db);
  auto r = db.exec(
      "SELECT (SELECT value FROM pgpulse.settings WHERE key = 'wakeup'), "
      "(SELECT value FROM pgpulse.settings WHERE key = 'retention'), "
      "(SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = "
      "'pgpulse.changes'::regclass), "
      "pg_total_relation_size('pgpulse.changes'), "
      "(SELECT written_at::text FROM pgpulse.changes ORDER BY xid, seq LIMIT 1), "
      "(SELECT value FROM pgpulse.settings WHERE key = 'pruned_below'), "
      "(SELECT value FROM pgpulse.settings WHERE key = 'last_prune')");
  status.wakeup = parse_wakeup_mode(r.get(0, 0));
  status.retention = r.get(0, 1);
  status.log_rows_estimate = std::stoll(std::string(r.get(0, 2)));
  status.log_bytes = std::stoll(std::string(r.get(0, 3)));
  status.oldest_change = r.get(0, 4);
  status.pruned_below = r.get(0, 5);
  status.last_prune = r.get(0, 6);
  return status;
}

std::vector<TableName> captured_tables(const std::string& conninfo) {
  pg::Connection db(conninfo);
  if (installed_version(db) == 0) return {};
  return read_captured_tables(db);
}

}  // namespace pgpulse
