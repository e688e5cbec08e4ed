#include "source/change_log_reader.hpp"

#include <charconv>

#include "pgpulse/capture.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::source {

namespace {

constexpr auto kSetupTimeout = std::chrono::seconds(30);
constexpr auto kReadTimeout = std::chrono::minutes(2);
// Rows per page: large enough that a catch-up is a few round trips per second of backlog,
// small enough that a page of big rows stays a bounded amount of server and client memory.
constexpr int kPageRows = 2000;

// One page after (position, seq), with the pruning horizon and the last position read in
// the same statement, so that the three agree. Two index range scans: the rest of the
// cursor's own transaction (by seq: a 100,000-row transaction is paged without rescanning its
// start), then the later transactions.
const std::string kReadSql = R"sql(
SELECT s.pruned_below, s.last_position, s.scanned_to, r.position, r.seq, r.xid, r.schema_name,
       r.table_name, r.op, r.new_row, r.old_row,
       to_char(CASE WHEN $6::boolean THEN pg_xact_commit_timestamp(xid(r.xid))
                    ELSE r.written_at END AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM (SELECT (SELECT value::bigint FROM pgpulse.settings WHERE key = 'pruned_below'),
             (SELECT value::bigint FROM pgpulse.settings WHERE key = 'last_position'),
             (SELECT max(position) FROM (SELECT position FROM pgpulse.commit_order
                                         WHERE position > $1::bigint ORDER BY position
                                         LIMIT $5::int) p))
     AS s(pruned_below, last_position, scanned_to)
LEFT JOIN LATERAL (
  (SELECT $1::bigint AS position, c.seq, c.xid, c.schema_name, c.table_name, c.op, c.new_row,
          c.old_row, c.written_at
   FROM pgpulse.changes c
   WHERE c.xid = (SELECT xid FROM pgpulse.commit_order WHERE position = $1::bigint)
     AND c.seq > $2::bigint
     AND ($3::text[] IS NULL OR (c.schema_name, c.table_name) IN
          (SELECT * FROM unnest($3::text[], $4::text[])))
   ORDER BY c.seq LIMIT $5::int)
  UNION ALL
  (SELECT o.position, c.seq, c.xid, c.schema_name, c.table_name, c.op, c.new_row, c.old_row,
          c.written_at
   FROM (SELECT position, xid FROM pgpulse.commit_order WHERE position > $1::bigint
         ORDER BY position LIMIT $5::int) o
   CROSS JOIN LATERAL (
     SELECT * FROM pgpulse.changes c WHERE c.xid = o.xid
       AND ($3::text[] IS NULL OR (c.schema_name, c.table_name) IN
            (SELECT * FROM unnest($3::text[], $4::text[])))
     ORDER BY c.seq LIMIT $5::int) c
   ORDER BY o.position, c.seq LIMIT $5::int)
  ORDER BY 1, 2 LIMIT $5::int
) r ON true
ORDER BY r.position, r.seq
)sql";

const std::string kSequenceSql = "SELECT pgpulse.sequence()";

enum Column {
  kPrunedBelow,
  kLastPosition,
  kScannedTo,
  kPosition,
  kSeq,
  kXid,
  kSchema,
  kTable,
  kOp,
  kNew,
  kOld,
  kTime
};

// An SQL array literal item: "a" with quotes and backslashes escaped.
void append_array_item(std::string& out, std::string_view item) {
  out += out.empty() ? "{\"" : ",\"";
  for (char c : item) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

std::int64_t to_i64(std::string_view text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string_view field(const PGresult* r, int column) {
  return {PQgetvalue(r, 0, column), static_cast<std::size_t>(PQgetlength(r, 0, column))};
}

}  // namespace

ChangeLogReader::ChangeLogReader(Cursor from, std::vector<TableName> tables)
    : cursor_(std::move(from)), tables_(std::move(tables)) {
  if (tables_.empty()) return;
  for (const auto& table : tables_) {
    append_array_item(schemas_param_, table.schema);
    append_array_item(tables_param_, table.name);
  }
  schemas_param_ += '}';
  tables_param_ += '}';
}

boost::asio::awaitable<void> ChangeLogReader::prepare(pg::AsyncConnection& connection) {
  // Two statements: a query naming pgpulse.settings fails at parse time when it is missing.
  auto installed = co_await connection.query(
      "SELECT pg_catalog.to_regclass('pgpulse.settings') IS NOT NULL, "
      "current_setting('track_commit_timestamp')::boolean",
      {}, kSetupTimeout);
  if (installed.get(0, 0) != "t") {
    throw SqlError("pgpulse is not installed in this database (run: pgpulse install TABLE...)");
  }
  commit_timestamps_ = installed.get(0, 1) == "t";
  auto settings = co_await connection.query(
      "SELECT (SELECT value FROM pgpulse.settings WHERE key = 'schema_version'), "
      "(SELECT value FROM pgpulse.settings WHERE key = 'wakeup')",
      {}, kSetupTimeout);
  if (auto version = to_i64(settings.get(0, 0)); version != schema_version()) {
    throw SqlError("the database has pgpulse schema version " + std::to_string(version) +
                   ", this pgpulse reads version " + std::to_string(schema_version()) +
                   " (run: pgpulse install)");
  }
  wakeup_mode_ = parse_wakeup_mode(settings.get(0, 1));
  if (!tables_.empty()) {
    // Which of the wanted tables exist and which are captured, by (schema, name), in the
    // order given.
    const char* params[] = {schemas_param_.c_str(), tables_param_.c_str()};
    auto r = co_await connection.query(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = w.schema_name AND c.relname = w.relname), "
        "EXISTS (SELECT 1 FROM pgpulse.captured_tables t "
        "WHERE t.schema_name = w.schema_name AND t.relname = w.relname) "
        "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS w(schema_name, relname, i) "
        "ORDER BY w.i",
        params, kSetupTimeout);
    for (std::size_t i = 0; i < tables_.size(); ++i) {
      auto name = tables_[i].display();
      auto row = static_cast<int>(i);
      if (r.get(row, 0) != "t") throw SqlError("table " + name + " does not exist", "42P01");
      if (r.get(row, 1) != "t") {
        throw SqlError("table " + name + " is not captured (run: pgpulse install " + name + ")");
      }
    }
  }
  if (cursor_.kind() != Cursor::Kind::kLog) {
    // Sequence first, so "now" is after everything committed before the stream started.
    co_await connection.query("SELECT pgpulse.sequence()", {}, kSetupTimeout);
    auto r = co_await connection.query(
        "SELECT (SELECT value::bigint FROM pgpulse.settings WHERE key = 'last_position'), "
        "(SELECT value::bigint FROM pgpulse.settings WHERE key = 'pruned_below')",
        {}, kSetupTimeout);
    cursor_ = cursor_.kind() == Cursor::Kind::kNow ? Cursor::at(to_i64(r.get(0, 0)))
                                                   : Cursor::at(to_i64(r.get(0, 1)) - 1);
  }
}

void ChangeLogReader::check_not_pruned(std::int64_t pruned_below) const {
  // Positions below pruned_below are gone; the cursor still needs everything after it.
  bool complete = cursor_.seq() == Cursor::kWholeTransaction;
  if (cursor_.position() + 1 < pruned_below ||
      (cursor_.position() + 1 == pruned_below && !complete)) {
    throw CursorExpired(
        "cursor expired: the changes after it were pruned (see the retention "
        "in pgpulse status)");
  }
}

bool ChangeLogReader::deliver_row(const PGresult* r, const Sink& sink) {
  auto position = to_i64(field(r, kPosition));
  auto seq = to_i64(field(r, kSeq));
  event_.id = Cursor::at(position, seq);
  event_.xid = static_cast<std::uint64_t>(to_i64(field(r, kXid)));
  event_.schema.assign(field(r, kSchema));
  event_.table.assign(field(r, kTable));
  event_.op = static_cast<Op>(field(r, kOp).front());
  auto assign_row = [&](std::optional<std::string>& target, int column) {
    if (PQgetisnull(r, 0, column)) {
      target.reset();
    } else {
      if (!target) target.emplace();
      target->assign(field(r, column));
    }
  };
  assign_row(event_.new_row, kNew);
  assign_row(event_.old_row, kOld);
  event_.commit_time.assign(field(r, kTime));
  if (!sink(event_)) return false;
  cursor_ = event_.id;
  return true;
}

boost::asio::awaitable<ChangeLogReader::Page> ChangeLogReader::read_page(
    pg::AsyncConnection& connection, const Sink& sink, bool sequence_first) {
  std::string position = std::to_string(cursor_.position());
  std::string seq = std::to_string(cursor_.seq());
  std::string limit = std::to_string(kPageRows);
  const char* params[] = {
      position.c_str(),
      seq.c_str(),
      schemas_param_.empty() ? nullptr : schemas_param_.c_str(),
      tables_param_.empty() ? nullptr : tables_param_.c_str(),
      limit.c_str(),
      commit_timestamps_ ? "true" : "false",
  };
  Page page;
  std::int64_t last_position = -1;
  std::int64_t scanned_to = 0;
  auto on_row = [&](const PGresult* row) {
    if (page.refused) return;  // the rest of the result is read and dropped
    if (last_position < 0) {
      check_not_pruned(to_i64(field(row, kPrunedBelow)));
      last_position = to_i64(field(row, kLastPosition));
      scanned_to = to_i64(field(row, kScannedTo));  // 0 (NULL) when nothing is after
    }
    if (PQgetisnull(row, 0, kPosition)) return;  // no change after the cursor
    if (!deliver_row(row, sink)) {
      page.refused = true;
      return;
    }
    ++page.rows;
  };
  if (sequence_first) {
    // One round trip for both: the page query still runs after sequence() committed.
    co_await connection.query_then_rows({kSequenceSql, {}}, {kReadSql, params}, kReadTimeout,
                                        on_row);
  } else {
    co_await connection.query_rows(kReadSql, params, kReadTimeout, on_row, /*prepare=*/true);
  }
  // A short page read every change of the transactions it looked at: with a table filter,
  // move past those that had none of ours, so the next page does not look at them again.
  page.full = page.rows == static_cast<std::size_t>(kPageRows);
  if (!page.refused && !page.full && cursor_.position() < scanned_to) {
    cursor_ = Cursor::at(scanned_to);
  }
  page.more = page.full || cursor_.position() < last_position;
  co_return page;
}

boost::asio::awaitable<std::size_t> ChangeLogReader::read(pg::AsyncConnection& connection,
                                                          const Sink& sink) {
  std::size_t delivered = 0;
  for (bool first = true;; first = false) {
    auto page = co_await read_page(connection, sink, /*sequence_first=*/first);
    delivered += page.rows;
    if (page.refused || !page.more) co_return delivered;
  }
}

}  // namespace pgpulse::source
