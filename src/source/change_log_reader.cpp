#include "source/change_log_reader.hpp"

#include <charconv>

#include "pgpulse/capture.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::source {

namespace {

constexpr auto kSetupTimeout = std::chrono::seconds(30);
// A batch can be large (a bulk statement); rows stream in, so this only bounds a stuck server.
constexpr auto kReadTimeout = std::chrono::minutes(10);

const char* kReadSql =
    "SELECT * FROM pgpulse.read_changes($1::pg_snapshot, $2::pg_snapshot, $3::xid8, "
    "$4::bigint, $5::text[], $6::text[])";

// An SQL array literal of `items`: {"a","b"} with quotes and backslashes escaped.
void append_array_item(std::string& out, std::string_view item) {
  out += out.empty() ? "{\"" : ",\"";
  for (char c : item) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

std::uint64_t to_u64(std::string_view text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string_view field(const PGresult* r, int column) {
  return {PQgetvalue(r, 0, column), static_cast<std::size_t>(PQgetlength(r, 0, column))};
}

}  // namespace

ChangeLogReader::ChangeLogReader(Cursor from, std::vector<std::string> tables)
    : cursor_(std::move(from)), table_names_(std::move(tables)) {}

boost::asio::awaitable<void> ChangeLogReader::prepare(pg::AsyncConnection& connection) {
  // Two statements: a query naming pgpulse.settings fails at parse time when it is missing.
  auto installed = co_await connection.query(
      "SELECT pg_catalog.to_regclass('pgpulse.settings') IS NOT NULL", {}, kSetupTimeout);
  if (installed.get(0, 0) != "t") {
    throw SqlError("pgpulse is not installed in this database (run: pgpulse install TABLE...)");
  }
  auto settings = co_await connection.query(
      "SELECT (SELECT value FROM pgpulse.settings WHERE key = 'schema_version'), "
      "(SELECT value FROM pgpulse.settings WHERE key = 'wakeup'), "
      "(SELECT value FROM pgpulse.settings WHERE key = 'pruned_below')",
      {}, kSetupTimeout);
  wakeup_mode_ = settings.get(0, 1);
  if (auto version = to_u64(settings.get(0, 0));
      version != static_cast<std::uint64_t>(schema_version())) {
    throw SqlError("the database has pgpulse schema version " + std::to_string(version) +
                   ", this pgpulse reads version " + std::to_string(schema_version()) +
                   " (run: pgpulse install)");
  }
  std::string schemas;
  std::string tables;
  for (const auto& name : table_names_) {
    const char* params[] = {name.c_str()};
    auto r = co_await connection.query(
        "SELECT n.nspname, c.relname, EXISTS (SELECT 1 FROM pgpulse.captured_tables t "
        "WHERE t.table_name = c.oid) FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = pg_catalog.to_regclass($1)",
        params, kSetupTimeout);
    if (r.rows() == 0) throw SqlError("table " + name + " does not exist", "42P01");
    if (r.get(0, 2) != "t") {
      throw SqlError("table " + name + " is not captured (run: pgpulse install " + name + ")");
    }
    append_array_item(schemas, r.get(0, 0));
    append_array_item(tables, r.get(0, 1));
  }
  if (!table_names_.empty()) {
    schemas_param_ = schemas + "}";
    tables_param_ = tables + "}";
  }
  if (cursor_.kind() == Cursor::Kind::kNow) {
    auto r = co_await connection.query("SELECT pg_catalog.pg_current_snapshot()::text", {},
                                       kSetupTimeout);
    auto now = Snapshot::parse(r.get(0, 0));
    cursor_ = Cursor::in_log(now, now, 0, 0);
  } else if (cursor_.kind() == Cursor::Kind::kBeginning) {
    // Every change below pruned_below is gone and none above is: start just there.
    auto oldest = std::max<std::uint64_t>(to_u64(settings.get(0, 2)), 1);
    Snapshot start{oldest, oldest, {}};
    cursor_ = Cursor::in_log(start, start, 0, 0);
  }
}

bool ChangeLogReader::deliver_row(const PGresult* r, const Snapshot& done, const Snapshot& batch,
                                  const Sink& sink) {
  event_.xid = to_u64(field(r, 1));
  auto seq = static_cast<std::int64_t>(to_u64(field(r, 2)));
  event_.id = Cursor::in_log(done, batch, event_.xid, seq);
  event_.schema.assign(field(r, 3));
  event_.table.assign(field(r, 4));
  event_.op = static_cast<Op>(field(r, 5).front());
  auto assign_row = [&](std::optional<std::string>& target, int column) {
    if (PQgetisnull(r, 0, column)) {
      target.reset();
    } else {
      if (!target) target.emplace();
      target->assign(field(r, column));
    }
  };
  assign_row(event_.new_row, 6);
  assign_row(event_.old_row, 7);
  event_.commit_time.assign(field(r, 8));
  if (!sink(event_)) return false;
  cursor_ = event_.id;
  return true;
}

boost::asio::awaitable<std::size_t> ChangeLogReader::read(pg::AsyncConnection& connection,
                                                          const Sink& sink) {
  // Resuming inside a batch re-reads that batch from the cursor's position; otherwise the
  // next batch runs from the last one to the statement's own snapshot.
  const bool resume = cursor_.xid() != 0;
  Snapshot done = resume ? cursor_.done() : cursor_.batch();
  std::string done_text = done.to_string();
  std::string batch_text = resume ? cursor_.batch().to_string() : std::string();
  std::string xid_text = resume ? std::to_string(cursor_.xid()) : std::string();
  std::string seq_text = resume ? std::to_string(cursor_.seq()) : std::string();
  const char* params[] = {
      done_text.c_str(),
      resume ? batch_text.c_str() : nullptr,
      resume ? xid_text.c_str() : nullptr,
      resume ? seq_text.c_str() : nullptr,
      schemas_param_.empty() ? nullptr : schemas_param_.c_str(),
      tables_param_.empty() ? nullptr : tables_param_.c_str(),
  };
  Snapshot batch = resume ? cursor_.batch() : Snapshot{};
  bool have_batch = resume;
  bool refused = false;
  std::size_t delivered = 0;
  co_await connection.query_rows(kReadSql, params, kReadTimeout, [&](const PGresult* row) {
    if (refused) return;           // the rest of the result is read and dropped
    if (PQgetisnull(row, 0, 1)) {  // the header row: which snapshot this batch reads up to
      if (!PQgetisnull(row, 0, 0)) {
        if (!resume) batch = Snapshot::parse(field(row, 0));
        have_batch = true;
      }
      return;
    }
    if (!deliver_row(row, done, batch, sink)) {
      refused = true;
      return;
    }
    ++delivered;
  });
  // Only a batch delivered whole moves the cursor to its end.
  if (have_batch && !refused) cursor_ = Cursor::in_log(batch, batch, 0, 0);
  co_return delivered;
}

}  // namespace pgpulse::source
