// ChangeStream against the real server: every op, the NOTIFY traps, resume, reconnect.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "pgpulse/capture.hpp"
#include "pgpulse/change_stream.hpp"
#include "pgpulse/error.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

using ::testing::ElementsAre;

boost::json::value row(const std::optional<std::string>& text) {
  return text ? boost::json::parse(*text) : boost::json::value(nullptr);
}

// A stream on one fresh captured table, collecting what it delivers.
class ChangeStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = unique_name("cs");
    run_sql("CREATE TABLE " + ident(table_) + " (id int PRIMARY KEY, body text)");
    install_capture(database_url(), {table_});
  }

  void start(Cursor from = Cursor::now(), std::vector<TableName> tables = {}) {
    if (tables.empty()) tables = {{"public", table_}};
    stream_.emplace(io_, ChangeStreamOptions{.connection = {.conninfo = database_url(),
                                                            .backoff_initial = 20ms,
                                                            .backoff_max = 200ms,
                                                            .probe_interval = 1000ms,
                                                            .probe_timeout = 1000ms},
                                             .from = std::move(from),
                                             .tables = std::move(tables),
                                             .poll_interval = 500ms,
                                             .catalog_interval = catalog_interval_});
    stream_->on_event([this](const ChangeEvent& e) { events_.push_back(e); });
    stream_->on_state([this](const StateChange& s) { states_.push_back(s); });
    stream_->on_error([this](const std::exception_ptr& e) { error_ = e; });
    if (before_start_) before_start_(*stream_);
    stream_->start();
    // Connected and the start snapshot pinned (or failed), so what the test writes next is
    // after the start.
    ASSERT_TRUE(run_until(io_, [&] {
      return error_ || (connected() && stream_->cursor().kind() == Cursor::Kind::kLog);
    })) << "never connected";
  }

  bool connected() const {
    return !states_.empty() && states_.back().state == ConnectionState::kConnected;
  }

  bool wait_for_events(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    return run_until(
        io_, [&] { return events_.size() >= n; }, timeout);
  }

  void write(const std::string& sql) { run_sql(sql); }

  std::string table_;
  std::chrono::milliseconds catalog_interval_{0};
  std::function<void(ChangeStream&)> before_start_;  // more handlers, before start()
  boost::asio::io_context io_;
  std::optional<ChangeStream> stream_;
  std::vector<ChangeEvent> events_;
  std::vector<StateChange> states_;
  std::exception_ptr error_;
};

TEST_F(ChangeStreamTest, DeliversEachOpWithOldAndNewRows) {
  start();
  auto t = ident(table_);
  write("INSERT INTO " + t + " VALUES (1, 'first')");
  write("UPDATE " + t + " SET body = 'second' WHERE id = 1");
  write("DELETE FROM " + t + " WHERE id = 1");
  ASSERT_TRUE(wait_for_events(3));
  ASSERT_EQ(events_.size(), 3u);

  EXPECT_EQ(events_[0].op, Op::kInsert);
  EXPECT_EQ(events_[0].schema, "public");
  EXPECT_EQ(events_[0].table, table_);
  EXPECT_EQ(row(events_[0].new_row), boost::json::parse(R"({"id":1,"body":"first"})"));
  EXPECT_FALSE(events_[0].old_row);

  EXPECT_EQ(events_[1].op, Op::kUpdate);
  EXPECT_EQ(row(events_[1].new_row), boost::json::parse(R"({"id":1,"body":"second"})"));
  EXPECT_EQ(row(events_[1].old_row), boost::json::parse(R"({"id":1,"body":"first"})"));

  // The tutorial trigger sends NEW, which is NULL here: the old row is what a client needs.
  EXPECT_EQ(events_[2].op, Op::kDelete);
  EXPECT_FALSE(events_[2].new_row);
  EXPECT_EQ(row(events_[2].old_row), boost::json::parse(R"({"id":1,"body":"second"})"));

  for (const auto& e : events_) {
    EXPECT_GT(e.xid, 0u);
    EXPECT_THAT(e.commit_time, ::testing::MatchesRegex("....-..-..T..:..:..\\.......Z"));
  }
}

TEST_F(ChangeStreamTest, TruncateIsDelivered) {
  start();
  write("INSERT INTO " + ident(table_) + " VALUES (1, 'x'); TRUNCATE " + ident(table_));
  ASSERT_TRUE(wait_for_events(2));
  EXPECT_EQ(events_[1].op, Op::kTruncate);
  EXPECT_FALSE(events_[1].new_row);
  EXPECT_FALSE(events_[1].old_row);
}

TEST_F(ChangeStreamTest, IdenticalChangesInOneTransactionAreAllDelivered) {
  // NOTIFY folds identical payloads of one transaction into one; the log does not.
  run_sql("CREATE TABLE " + ident(table_ + "_nokey") + " (body text)");
  install_capture(database_url(), {ident(table_ + "_nokey")});
  start(Cursor::now(), {{"public", table_ + "_nokey"}});
  auto t = ident(table_ + "_nokey");
  write("BEGIN; INSERT INTO " + t + " VALUES ('same'); INSERT INTO " + t + " VALUES ('same'); " +
        "UPDATE " + t + " SET body = 'same'; COMMIT");
  ASSERT_TRUE(wait_for_events(4));
  std::vector<Op> ops;
  for (const auto& e : events_) ops.push_back(e.op);
  EXPECT_THAT(ops, ElementsAre(Op::kInsert, Op::kInsert, Op::kUpdate, Op::kUpdate));
  EXPECT_EQ(events_[0].xid, events_[3].xid);
}

TEST_F(ChangeStreamTest, RolledBackWorkDeliversNothing) {
  start();
  auto t = ident(table_);
  write("BEGIN; INSERT INTO " + t + " VALUES (1, 'never'); ROLLBACK");
  write("BEGIN; INSERT INTO " + t + " VALUES (2, 'kept'); SAVEPOINT s; INSERT INTO " + t +
        " VALUES (3, 'undone'); ROLLBACK TO s; COMMIT");
  ASSERT_TRUE(wait_for_events(1));
  run_until(
      io_, [] { return false; }, 300ms);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(row(events_[0].new_row).at("id"), 2);
}

TEST_F(ChangeStreamTest, OneMegabyteRowIsDeliveredWholeAndTheWriterCommits) {
  start();
  // Far over NOTIFY's 8000-byte payload limit, which would fail the writer's transaction.
  write("INSERT INTO " + ident(table_) + " VALUES (1, repeat('x', 1024 * 1024))");
  ASSERT_TRUE(wait_for_events(1));
  EXPECT_EQ(row(events_[0].new_row).at("body").as_string().size(), 1024u * 1024u);
}

TEST_F(ChangeStreamTest, ChangesOfOneTransactionArriveTogetherInStatementOrder) {
  start();
  auto t = ident(table_);
  write("BEGIN; INSERT INTO " + t + " VALUES (1, 'a'); INSERT INTO " + t + " VALUES (2, 'b'); " +
        "UPDATE " + t + " SET body = 'c' WHERE id = 1; DELETE FROM " + t + " WHERE id = 2; " +
        "COMMIT");
  ASSERT_TRUE(wait_for_events(4));
  std::vector<Op> ops;
  for (const auto& e : events_) ops.push_back(e.op);
  EXPECT_THAT(ops, ElementsAre(Op::kInsert, Op::kInsert, Op::kUpdate, Op::kDelete));
}

TEST_F(ChangeStreamTest, OnlyTheRequestedTablesAreDelivered) {
  auto other = unique_name("cs_other");
  run_sql("CREATE TABLE " + ident(other) + " (id int)");
  install_capture(database_url(), {ident(other)});
  start();
  write("INSERT INTO " + ident(other) + " VALUES (1)");
  write("INSERT INTO " + ident(table_) + " VALUES (1, 'mine')");
  ASSERT_TRUE(wait_for_events(1));
  run_until(
      io_, [] { return false; }, 200ms);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].table, table_);
}

TEST_F(ChangeStreamTest, ResumingFromAnEventIdDeliversExactlyTheLaterChanges) {
  start();
  auto t = ident(table_);
  write("BEGIN; INSERT INTO " + t + " VALUES (1, 'a'); INSERT INTO " + t +
        " VALUES (2, 'b'); COMMIT");
  write("INSERT INTO " + t + " VALUES (3, 'c')");
  ASSERT_TRUE(wait_for_events(3));
  std::vector<ChangeEvent> first = events_;
  stream_.reset();
  // Resume from the middle of the first transaction: its second row, then the next one.
  write("INSERT INTO " + t + " VALUES (4, 'd')");
  events_.clear();
  states_.clear();
  start(Cursor::parse(first[0].id.to_string()));
  ASSERT_TRUE(wait_for_events(3));
  run_until(
      io_, [] { return false; }, 200ms);
  std::vector<int> ids;
  for (const auto& e : events_) ids.push_back(static_cast<int>(row(e.new_row).at("id").as_int64()));
  EXPECT_THAT(ids, ElementsAre(2, 3, 4));
  EXPECT_EQ(events_[0].id, first[1].id) << "the same change keeps its id";
}

TEST_F(ChangeStreamTest, BeginningDeliversEverythingRetained) {
  auto t = ident(table_);
  write("INSERT INTO " + t + " VALUES (1, 'before the stream')");
  start(Cursor::beginning());
  ASSERT_TRUE(wait_for_events(1));
  EXPECT_EQ(row(events_[0].new_row).at("body"), "before the stream");
}

TEST_F(ChangeStreamTest, ReconnectsAfterItsBackendIsTerminatedWithoutLosingChanges) {
  start();
  auto t = ident(table_);
  write("INSERT INTO " + t + " VALUES (1, 'before')");
  ASSERT_TRUE(wait_for_events(1));
  write(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'pgpulse' AND pid <> pg_backend_pid()");
  write("INSERT INTO " + t + " VALUES (2, 'while away')");
  ASSERT_TRUE(run_until(io_, [&] {
    return std::any_of(states_.begin(), states_.end(),
                       [](auto& s) { return s.state == ConnectionState::kDisconnected; });
  }));
  write("INSERT INTO " + t + " VALUES (3, 'after')");
  ASSERT_TRUE(wait_for_events(3));
  EXPECT_EQ(row(events_[1].new_row).at("body"), "while away");
  EXPECT_EQ(row(events_[2].new_row).at("body"), "after");
  for (const auto& s : states_) EXPECT_FALSE(s.gap) << "a change stream never has gaps";
}

TEST_F(ChangeStreamTest, SurvivesAServerCrashRestart) {
  start();
  auto t = ident(table_);
  write("INSERT INTO " + t + " VALUES (1, 'before')");
  ASSERT_TRUE(wait_for_events(1));
  restart_server();
  write("INSERT INTO " + t + " VALUES (2, 'after restart')");
  ASSERT_TRUE(wait_for_events(2, 20s));
  EXPECT_EQ(row(events_[1].new_row).at("body"), "after restart");
  EXPECT_TRUE(connected());
}

TEST_F(ChangeStreamTest, UncapturedTableIsAFatalErrorNamingIt) {
  auto plain = unique_name("plain");
  run_sql("CREATE TABLE " + ident(plain) + " (id int)");
  start(Cursor::now(), {{"public", plain}});
  ASSERT_TRUE(error_);
  try {
    std::rethrow_exception(error_);
  } catch (const SqlError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("is not captured"));
  }
  EXPECT_EQ(states_.back().state, ConnectionState::kFailed);
}

TEST_F(ChangeStreamTest, OnReadyFiresOnceWithTheLogStartBeforeAnyEvent) {
  write("INSERT INTO " + ident(table_) + " VALUES (1, 'before the stream')");
  std::vector<Cursor> ready;
  std::size_t events_at_ready = 0;
  Cursor cursor_at_ready = Cursor::now();
  before_start_ = [&](ChangeStream& stream) {
    stream.on_ready([&](const Cursor& start) {
      ready.push_back(start);
      events_at_ready = events_.size();
      cursor_at_ready = stream_->cursor();
    });
  };
  // From the beginning, so an event is waiting the moment the stream is connected.
  start(Cursor::beginning());
  ASSERT_TRUE(wait_for_events(1));
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].kind(), Cursor::Kind::kLog);
  EXPECT_EQ(ready[0], cursor_at_ready) << "the start is the stream's cursor at that moment";
  EXPECT_EQ(events_at_ready, 0u) << "ready comes before the first event";

  // A reconnect does not start the stream again.
  write(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'pgpulse' AND pid <> pg_backend_pid()");
  ASSERT_TRUE(run_until(io_, [&] {
    return std::count_if(states_.begin(), states_.end(),
                         [](auto& s) { return s.state == ConnectionState::kConnected; }) >= 2;
  }));
  write("INSERT INTO " + ident(table_) + " VALUES (2, 'after the reconnect')");
  ASSERT_TRUE(wait_for_events(2));
  EXPECT_EQ(ready.size(), 1u);
}

// The catalog's entry for `table`, if it has one.
std::optional<CapturedTable> find_table(const std::vector<CapturedTable>& catalog,
                                        const TableName& table) {
  for (const auto& entry : catalog) {
    if (entry.table == table) return entry;
  }
  return std::nullopt;
}

TEST_F(ChangeStreamTest, OnCatalogComesBeforeReadyAndReportsATableInstalledLaterWithinTheInterval) {
  catalog_interval_ = 300ms;
  std::vector<std::vector<CapturedTable>> catalogs;
  bool ready = false;
  bool catalog_before_ready = false;
  before_start_ = [&](ChangeStream& stream) {
    stream.on_catalog([&](const std::vector<CapturedTable>& c) { catalogs.push_back(c); });
    stream.on_ready([&](const Cursor&) {
      ready = true;
      catalog_before_ready = !catalogs.empty();
    });
  };
  start();
  ASSERT_TRUE(run_until(io_, [&] { return ready; }));
  EXPECT_TRUE(catalog_before_ready) << "a server can serve with a full catalog from the start";
  ASSERT_FALSE(catalogs.empty());
  auto mine = find_table(catalogs.back(), {"public", table_});
  ASSERT_TRUE(mine);
  EXPECT_THAT(mine->columns, ElementsAre("id", "body"));

  auto later = unique_name("cs_later");
  run_sql("CREATE TABLE " + ident(later) + " (zeta int, gone int, alpha text, mid int); " +
          "ALTER TABLE " + ident(later) + " DROP COLUMN gone");
  install_capture(database_url(), {ident(later)});
  auto installed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until(
      io_,
      [&] {
        return find_table(catalogs.back(), {"public", later}).has_value();
      },
      catalog_interval_ + 700ms))
      << "reported within catalog_interval (and some slack for a loaded machine)";
  EXPECT_LT(std::chrono::steady_clock::now() - installed_at, catalog_interval_ + 700ms);
  EXPECT_THAT(find_table(catalogs.back(), {"public", later})->columns,
              ElementsAre("zeta", "alpha", "mid"))
      << "table order, no dropped column";
}

// Creates and captures "<s>.b".c and <s>."b.c", which are both "<s>.b.c" when joined at a dot.
void make_tables_with_the_same_dotted_text(const std::string& s) {
  run_sql("CREATE SCHEMA " + ident(s + ".b") + "; CREATE SCHEMA " + ident(s) + "; " +
          "CREATE TABLE " + ident(s + ".b") + ".c (in_dotted_schema int); " + "CREATE TABLE " +
          ident(s) + "." + ident("b.c") + " (in_dotted_table int, second int)");
  install_capture(database_url(), {ident(s + ".b") + ".c", s + "." + ident("b.c")});
}

TEST_F(ChangeStreamTest, OnCatalogKeepsTablesWhoseNamesJoinToTheSameDottedTextApart) {
  auto s = unique_name("s");
  make_tables_with_the_same_dotted_text(s);
  std::optional<std::vector<CapturedTable>> reported;
  before_start_ = [&](ChangeStream& stream) {
    stream.on_catalog([&](const std::vector<CapturedTable>& c) { reported = c; });
  };
  start();
  ASSERT_TRUE(run_until(io_, [&] { return reported.has_value(); }));
  const auto& catalog = *reported;
  auto dotted_schema = find_table(catalog, {s + ".b", "c"});
  auto dotted_table = find_table(catalog, {s, "b.c"});
  ASSERT_TRUE(dotted_schema);
  ASSERT_TRUE(dotted_table);
  EXPECT_THAT(dotted_schema->columns, ElementsAre("in_dotted_schema"));
  EXPECT_THAT(dotted_table->columns, ElementsAre("in_dotted_table", "second"));
}

TEST_F(ChangeStreamTest, TablesWhoseNamesJoinToTheSameDottedTextAreFilteredApart) {
  auto s = unique_name("s");
  make_tables_with_the_same_dotted_text(s);
  start(Cursor::now(), {TableName::parse(ident(s + ".b") + ".c")});
  write("INSERT INTO " + ident(s) + "." + ident("b.c") + " VALUES (1, 1)");
  write("INSERT INTO " + ident(s + ".b") + ".c VALUES (2)");
  ASSERT_TRUE(wait_for_events(1));
  run_until(
      io_, [] { return false; }, 200ms);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].schema, s + ".b");
  EXPECT_EQ(events_[0].table, "c");
}

TEST_F(ChangeStreamTest, WithoutACatalogIntervalTheCatalogIsReadOnlyOnConnect) {
  int reports = 0;
  before_start_ = [&](ChangeStream& stream) {
    stream.on_catalog([&](const std::vector<CapturedTable>&) { ++reports; });
  };
  start();
  ASSERT_TRUE(run_until(io_, [&] { return reports > 0; }));
  run_until(
      io_, [] { return false; }, 300ms);
  EXPECT_EQ(reports, 1);
}

// A periodic catalog read that the server refuses (here the view is briefly gone, as during
// a schema upgrade) keeps the stream and the catalog it reported; the next read reports again.
TEST_F(ChangeStreamTest, ACatalogRefreshTheServerRefusesKeepsTheStreamAndTheNextOneReports) {
  catalog_interval_ = 100ms;
  std::size_t reports = 0;
  before_start_ = [&](ChangeStream& stream) {
    stream.on_catalog([&](const std::vector<CapturedTable>&) { ++reports; });
  };
  start();
  ASSERT_TRUE(run_until(io_, [&] { return reports > 0; }));
  run_sql("ALTER VIEW pgpulse.captured_tables RENAME TO captured_tables_away");
  auto before = reports;
  run_until(
      io_, [] { return false; }, 500ms);  // several refreshes are refused meanwhile
  run_sql("ALTER VIEW pgpulse.captured_tables_away RENAME TO captured_tables");
  EXPECT_EQ(reports, before) << "a refused refresh reports nothing";
  EXPECT_FALSE(error_) << "a refused refresh must not end the stream";
  ASSERT_TRUE(run_until(
      io_, [&] { return reports > before; }, 2s));
  run_sql("INSERT INTO " + ident(table_) + " VALUES (1, 'after')");
  ASSERT_TRUE(wait_for_events(1));
  EXPECT_EQ(events_[0].new_row, R"({"id":1,"body":"after"})");
}

TEST_F(ChangeStreamTest, DestroyingTheStreamDestroysEveryHandlerAtOnce) {
  auto owner = std::make_shared<int>(0);  // stands for a session that captures its `self`
  std::weak_ptr<int> watched = owner;
  before_start_ = [&, owner](ChangeStream& stream) {
    stream.on_event([owner](const ChangeEvent&) {});
    stream.on_error([owner](const std::exception_ptr&) {});
    stream.on_state([this, owner](const StateChange& s) { states_.push_back(s); });
    stream.on_ready([owner](const Cursor&) {});
    stream.on_catalog([owner](const std::vector<CapturedTable>&) {});
  };
  start();
  before_start_ = {};
  owner.reset();
  ASSERT_FALSE(watched.expired());
  stream_.reset();
  EXPECT_TRUE(watched.expired()) << "no handler outlives the stream, the loop not run since";
}

TEST_F(ChangeStreamTest, DestroyedFromItsOwnEventHandlerItCallsNoHandlerAgain) {
  auto owner = std::make_shared<int>(0);
  std::weak_ptr<int> watched = owner;
  int events = 0;
  int calls_after = 0;
  before_start_ = [&, owner](ChangeStream& stream) {
    stream.on_event([&, owner](const ChangeEvent&) {
      ++events;
      stream_.reset();
      EXPECT_EQ(*owner, 0) << "what the running handler captured is still there";
    });
    stream.on_state([&, owner](const StateChange& s) {
      states_.push_back(s);
      calls_after += events > 0;
    });
    stream.on_error([&, owner](const std::exception_ptr&) { calls_after += events > 0; });
  };
  start();
  before_start_ = {};
  owner.reset();
  auto t = ident(table_);
  write("BEGIN; INSERT INTO " + t + " VALUES (1, 'a'); INSERT INTO " + t + " VALUES (2, 'b'); " +
        "COMMIT");
  ASSERT_TRUE(run_until(io_, [&] { return events > 0; }));
  EXPECT_TRUE(watched.expired()) << "destroyed once the handler returned";
  run_until(
      io_, [] { return false; }, 200ms);
  EXPECT_EQ(events, 1);
  EXPECT_EQ(calls_after, 0);
}

}  // namespace
}  // namespace pgpulse::test
