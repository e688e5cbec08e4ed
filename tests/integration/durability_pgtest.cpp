// Lossless, resumable delivery under concurrency, crashes, long transactions, pruning, poll
// mode and pgbouncer. Each test has a database of its own: it changes installation-wide
// settings (retention, wake-up mode) and reads the whole log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include "pgpulse/capture.hpp"
#include "pgpulse/change_stream.hpp"
#include "pgpulse/error.hpp"
#include "pgpulse/listener.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class Durability : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = unique_name("dur");
    run_sql("CREATE DATABASE " + ident(database_));
    url_ = url_for(database_);
  }

  void TearDown() override {
    stream_.reset();
    run_sql("DROP DATABASE IF EXISTS " + ident(database_) + " WITH (FORCE)");
  }

  pg::Connection db() const { return pg::Connection(url_); }
  void sql(const std::string& text) const { db().exec_script(text); }

  // A captured table (id int PRIMARY KEY, body text).
  std::string make_table(const CaptureSettings& settings = {}) {
    auto name = unique_name("t");
    sql("CREATE TABLE " + ident(name) + " (id int PRIMARY KEY, body text)");
    install_capture(url_, {ident(name)}, settings);
    return name;
  }

  void start(Cursor from = Cursor::now(), ChangeStreamOptions options = {}) {
    options.connection = {.conninfo = url_,
                          .backoff_initial = 20ms,
                          .backoff_max = 200ms,
                          .probe_interval = 1000ms,
                          .probe_timeout = 1000ms};
    options.from = std::move(from);
    stream_.emplace(io_, std::move(options));
    stream_->on_event([this](const ChangeEvent& e) { events_.push_back(e); });
    stream_->on_error([this](const std::exception_ptr& e) { error_ = e; });
    stream_->start();
    ASSERT_TRUE(
        run_until(io_, [&] { return error_ || stream_->cursor().kind() == Cursor::Kind::kLog; }));
  }

  bool wait_for_events(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    return run_until(
        io_, [&] { return events_.size() >= n; }, timeout);
  }

  // The ids of the delivered rows (new row, else old row), in delivery order.
  std::vector<int> delivered_ids() const {
    std::vector<int> ids;
    for (const auto& e : events_) {
      auto row = json::parse(e.new_row ? *e.new_row : *e.old_row).as_object();
      ids.push_back(static_cast<int>(row.at("id").as_int64()));
    }
    return ids;
  }

  std::string database_;
  std::string url_;
  boost::asio::io_context io_;
  std::optional<ChangeStream> stream_;
  std::vector<ChangeEvent> events_;
  std::exception_ptr error_;
};

TEST_F(Durability, TransactionsCommittingOutOfIdOrderAreAllDeliveredOnce) {
  auto t = ident(make_table());
  start();
  auto a = db();
  auto b = db();
  auto c = db();
  // A takes the lowest transaction id, B and C commit while A is open, A commits last.
  a.exec_script("BEGIN; INSERT INTO " + t + " VALUES (1, 'a')");
  b.exec_script("BEGIN; INSERT INTO " + t + " VALUES (2, 'b')");
  c.exec_script("BEGIN; INSERT INTO " + t + " VALUES (3, 'c')");
  b.exec("COMMIT");
  c.exec("COMMIT");
  ASSERT_TRUE(wait_for_events(2));
  a.exec("COMMIT");
  ASSERT_TRUE(wait_for_events(3));
  run_until(
      io_, [] { return false; }, 300ms);
  EXPECT_THAT(delivered_ids(), ::testing::ElementsAre(2, 3, 1));
}

TEST_F(Durability, AnOpenTransactionDoesNotDelayOtherCommittedChanges) {
  auto held = ident(make_table());
  auto busy = ident(make_table());
  start();
  auto holder = db();
  holder.exec_script("BEGIN; INSERT INTO " + held + " VALUES (0, 'held')");  // holds an xid
  std::jthread writer([&] {
    auto w = db();
    for (int i = 1; i <= 1000; ++i)
      w.exec("INSERT INTO " + busy + " VALUES ($1, 'x')", {std::to_string(i)});
  });
  writer.join();
  auto committed = Clock::now();
  ASSERT_TRUE(wait_for_events(1000, 5s));
  EXPECT_LT(Clock::now() - committed, 1s) << "changes waited for the open transaction";
  holder.exec("COMMIT");
  ASSERT_TRUE(wait_for_events(1001));
  EXPECT_EQ(delivered_ids().back(), 0);
}

TEST_F(Durability, ChangesOfOneRowArriveInTheOrderTheyWereMade) {
  auto t = ident(make_table());
  sql("INSERT INTO " + t + " VALUES (1, '0')");
  start();
  // Two writers update the same row in turns; each waits for the other's row lock.
  std::atomic<int> next{1};
  auto bump = [&] {
    auto w = db();
    for (int i = 0; i < 200; ++i) {
      w.exec_script("BEGIN; UPDATE " + t + " SET body = (body::int + 1)::text WHERE id = 1; " +
                    "INSERT INTO " + t + " VALUES (" + std::to_string(1000 + next++) +
                    ", 'side') ; COMMIT");
    }
  };
  std::jthread w1(bump);
  std::jthread w2(bump);
  w1.join();
  w2.join();
  ASSERT_TRUE(wait_for_events(800, 20s));
  int last = 0;
  for (const auto& e : events_) {
    if (e.op != Op::kUpdate) continue;
    int value = std::stoi(std::string(json::parse(*e.new_row).at("body").as_string()));
    EXPECT_EQ(value, last + 1) << "row changes out of order";
    last = value;
  }
  EXPECT_EQ(last, 400);
}

TEST_F(Durability, NoChangeIsLostWhileTheReaderIsTerminatedAndTheServerCrashes) {
  auto t = ident(make_table());
  start();
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::jthread writer([&] {
    std::optional<pg::Connection> w;
    auto deadline = Clock::now() + 60s;
    for (int i = 1; i <= 1500 && !stop && Clock::now() < deadline;) {
      try {
        if (!w) w.emplace(url_);
        w->exec("INSERT INTO " + t + " VALUES ($1, 'x')", {std::to_string(i)});
        committed = i++;
      } catch (const SqlError& e) {
        // The connection broke after the commit went through: the retry finds the row there.
        if (e.sqlstate() != "23505") throw;
        committed = i++;
      } catch (const Error&) {
        w.reset();  // the server is restarting: retry the same row
        std::this_thread::sleep_for(20ms);
      }
    }
  });
  ASSERT_TRUE(wait_for_events(300, 20s));
  run_sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'pgpulse' AND datname = '" +
      database_ + "'");
  ASSERT_TRUE(wait_for_events(700, 20s));
  restart_server();
  writer.join();
  ASSERT_TRUE(wait_for_events(1500, 30s));
  run_until(
      io_, [] { return false; }, 300ms);
  std::vector<int> expected(1500);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(delivered_ids(), expected);
}

TEST_F(Durability, ACursorOlderThanTheRetentionIsReportedExpired) {
  auto t = ident(make_table({.retention = "0 seconds"}));
  start(Cursor::now(), {.prune_interval = 0ms});
  sql("INSERT INTO " + t + " VALUES (1, 'soon pruned')");
  ASSERT_TRUE(wait_for_events(1));
  auto old_cursor = events_[0].id;
  stream_.reset();
  sql("INSERT INTO " + t + " VALUES (2, 'also pruned')");
  sql("SELECT pgpulse.prune()");
  events_.clear();
  start(old_cursor);
  ASSERT_TRUE(run_until(io_, [&] { return error_ != nullptr; }));
  EXPECT_THROW(std::rethrow_exception(error_), CursorExpired);
  EXPECT_TRUE(events_.empty()) << "an expired cursor must not deliver a partial stream";

  auto cli = run_cli({"watch", "--db", url_, "--from", old_cursor.to_string()});
  EXPECT_EQ(cli.exit_code, 3);
  EXPECT_THAT(cli.err, ::testing::HasSubstr("cursor expired"));
}

TEST_F(Durability, ReadersPruneOldChangesAndBeginningStartsAtTheOldestRetained) {
  auto t = ident(make_table({.retention = "0 seconds"}));
  sql("INSERT INTO " + t + " VALUES (1, 'old')");
  start(Cursor::now(), {.prune_interval = 10ms});
  ASSERT_TRUE(run_until(
      io_, [&] { return db().exec("SELECT count(*) FROM pgpulse.changes").get(0, 0) == "0"; }));
  stream_.reset();
  sql("UPDATE pgpulse.settings SET value = '1 day' WHERE key = 'retention'");
  sql("INSERT INTO " + t + " VALUES (2, 'kept')");
  start(Cursor::beginning());
  ASSERT_TRUE(wait_for_events(1));
  EXPECT_THAT(delivered_ids(), ::testing::ElementsAre(2));
  EXPECT_FALSE(error_);
}

TEST_F(Durability, PollModeSendsNoNotifyAndDeliversTheSameStream) {
  auto workload = [&](const std::string& t) {
    sql("BEGIN; INSERT INTO " + t + " VALUES (1, 'a'), (2, 'b'); UPDATE " + t +
        " SET body = 'c' WHERE id = 1; COMMIT");
    sql("DELETE FROM " + t + " WHERE id = 2; TRUNCATE " + t);
  };
  auto shape = [](const std::vector<ChangeEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      out.push_back(std::string(to_string(e.op)) + " " + e.new_row.value_or("-") + " " +
                    e.old_row.value_or("-"));
    }
    return out;
  };

  auto notified = ident(make_table({.wakeup = WakeupMode::kNotify}));
  start();
  workload(notified);
  ASSERT_TRUE(wait_for_events(5));
  auto with_notify = shape(events_);
  stream_.reset();
  events_.clear();

  auto polled = ident(make_table({.wakeup = WakeupMode::kPoll}));
  Listener spy(io_, {.conninfo = url_});
  int notifications = 0;
  spy.listen("pgpulse", [&](const Notification&) { ++notifications; });
  spy.start();
  start();
  run_until(
      io_, [] { return false; }, 200ms);  // the spy is listening
  auto written = Clock::now();
  workload(polled);
  ASSERT_TRUE(wait_for_events(5));
  EXPECT_LT(Clock::now() - written, 1s) << "poll mode polls every 50 ms by default";
  EXPECT_EQ(shape(events_), with_notify);
  run_until(
      io_, [] { return false; }, 200ms);
  EXPECT_EQ(notifications, 0) << "poll mode must not take NOTIFY's commit lock";
}

// pgbouncer in transaction pooling mode, started for this test as an unprivileged user.
class Pgbouncer {
 public:
  explicit Pgbouncer(const std::string& database_url) {
    dir_ = std::filesystem::temp_directory_path() / unique_name("pgbouncer");
    std::filesystem::create_directories(dir_);
    port_ = 20000 + static_cast<int>(::getpid() % 20000);
    auto server = std::string(database_url);
    auto at = server.find('@');
    auto colon = server.find(':', at);
    auto slash = server.find('/', colon);
    auto server_port = server.substr(colon + 1, slash - colon - 1);
    std::ofstream(dir_ / "pgbouncer.ini")
        << "[databases]\n* = host=127.0.0.1 port=" << server_port << " user=postgres\n"
        << "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << port_ << "\n"
        << "unix_socket_dir =\nauth_type = any\npool_mode = transaction\n"
        << "logfile = " << (dir_ / "pgbouncer.log").string() << "\n"
        << "pidfile = " << (dir_ / "pgbouncer.pid").string() << "\n";
    std::string owner = ::geteuid() == 0 ? "chown -R postgres " + dir_.string() +
                                               " && cd /tmp && runuser -u postgres -- "
                                         : "";
    std::string command = owner + "/usr/sbin/pgbouncer -d " + (dir_ / "pgbouncer.ini").string();
    if (std::system(command.c_str()) != 0) throw std::runtime_error("cannot start pgbouncer");
  }
  ~Pgbouncer() {
    std::ifstream pidfile(dir_ / "pgbouncer.pid");
    int pid = 0;
    if (pidfile >> pid && pid > 0) ::kill(pid, SIGTERM);
    std::this_thread::sleep_for(100ms);
    std::filesystem::remove_all(dir_);
  }
  std::string url(const std::string& database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
};

TEST_F(Durability, WritesThroughPgbouncerInTransactionPoolingAreCaptured) {
  auto t = ident(make_table());
  start();
  Pgbouncer bouncer(database_url());
  std::optional<pg::Connection> pooled;
  auto deadline = Clock::now() + 10s;
  while (!pooled && Clock::now() < deadline) {
    try {
      pooled.emplace(bouncer.url(database_));
    } catch (const ConnectionError&) {
      std::this_thread::sleep_for(50ms);
    }
  }
  ASSERT_TRUE(pooled) << "pgbouncer did not come up";
  for (int i = 1; i <= 20; ++i)
    pooled->exec("INSERT INTO " + t + " VALUES ($1, 'pooled')", {std::to_string(i)});
  pooled->exec_script("BEGIN; UPDATE " + t +
                      " SET body = 'in a pooled transaction' WHERE id = 1; COMMIT");
  ASSERT_TRUE(wait_for_events(21));
  EXPECT_EQ(events_.back().op, Op::kUpdate);
}

// The command line end to end: two writers, and a watcher killed with SIGKILL twice and
// restarted from its state file. Every committed change is printed, per-row order holds, and
// a change printed twice carries the same id both times.
TEST_F(Durability, WatchWithAStateFileLosesNothingAcrossKillNine) {
  sql("CREATE TABLE ledger (id bigserial PRIMARY KEY, writer int, n int);"
      "CREATE TABLE counters (writer int PRIMARY KEY, value int);"
      "INSERT INTO counters VALUES (1, 0), (2, 0)");
  install_capture(url_, {"ledger", "counters"});
  auto state = std::filesystem::temp_directory_path() / (unique_name("state") + ".cursor");
  std::vector<std::string> args{"watch",        "--db",   url_,       "--state",
                                state.string(), "--from", "beginning"};

  constexpr int kPerWriter = 8000;  // inserts; every 4th transaction also bumps a counter
  std::atomic<int> running{2};
  auto write = [&](int writer) {
    auto w = db();
    for (int n = 1; n <= kPerWriter; ++n) {
      std::string tx = "INSERT INTO ledger (writer, n) VALUES (" + std::to_string(writer) + ", " +
                       std::to_string(n) + ")";
      if (n % 4 == 0) {
        tx = "BEGIN; " + tx + "; UPDATE counters SET value = " + std::to_string(n) +
             " WHERE writer = " + std::to_string(writer) + "; COMMIT";
      }
      w.exec_script(tx);
    }
    --running;
  };
  const std::size_t expected = 2 * kPerWriter + 2 * (kPerWriter / 4);

  std::vector<json::object> lines;
  std::map<std::string, std::string> line_by_key;  // (table, writer, n/value) -> id
  auto read_until = [&](CliProcess& watcher, std::size_t count) {
    while (lines.size() < count) {
      auto line = watcher.read_line(20s);
      if (!line) return false;
      lines.push_back(json::parse(*line).as_object());
    }
    return true;
  };

  // A cursor's order: (position, seq), as Cursor exposes them.
  auto order_of = [](const json::object& e) {
    auto c = Cursor::parse(std::string(e.at("id").as_string()));
    return std::pair(c.position(), c.seq());
  };
  // Kills the watcher after it printed `more` lines, and returns how many of the lines it
  // printed come after the cursor it saved: exactly those may be printed again.
  auto run_and_kill = [&](std::size_t more) -> std::size_t {
    std::size_t first = lines.size();
    CliProcess watcher(args);
    EXPECT_TRUE(read_until(watcher, first + more)) << watcher.stderr_text();
    watcher.signal(SIGKILL);
    watcher.wait();
    // What it wrote before it died was printed, read or not: the cursor it saved may be past
    // the lines read so far (it flushes, then saves), so take the rest of the pipe too.
    while (auto line = watcher.read_line(1s)) lines.push_back(json::parse(*line).as_object());
    std::ifstream file(state);
    std::string saved_text;
    std::getline(file, saved_text);
    // Killed before its first save (one every 200 ms; a loaded machine prints thousands of
    // lines sooner): the next one starts where the last save was, or at the beginning.
    auto saved = saved_text.empty() ? Cursor::at(0) : Cursor::parse(saved_text);
    std::size_t after = 0;
    for (std::size_t i = first; i < lines.size(); ++i) {
      if (order_of(lines[i]) > std::pair(saved.position(), saved.seq())) ++after;
    }
    return after;
  };

  // Joined however the test ends: a failed check must not end it in std::terminate.
  std::jthread w1(write, 1);
  std::jthread w2(write, 2);
  std::size_t may_repeat = run_and_kill(expected / 4);
  may_repeat += run_and_kill(expected / 4);
  w1.join();
  w2.join();
  CliProcess watcher(args);
  // Read until every change is there (duplicates make the count larger than `expected`).
  std::set<std::string> seen;
  std::size_t duplicates = 0;
  auto key_of = [](const json::object& e) {
    const auto& row = e.at("new").as_object();
    std::string table(e.at("table").as_string());
    return table + ":" + std::to_string(row.at("writer").as_int64()) + ":" +
           std::to_string(table == "ledger" ? row.at("n").as_int64() : row.at("value").as_int64());
  };
  auto absorb = [&](std::size_t from) {
    for (std::size_t i = from; i < lines.size(); ++i) {
      auto key = key_of(lines[i]);
      std::string id(lines[i].at("id").as_string());
      auto [it, fresh] = line_by_key.emplace(key, id);
      if (!fresh) {
        ++duplicates;
        EXPECT_EQ(it->second, id) << "a repeated change must keep its id: " << key;
      }
      seen.insert(key);
    }
  };
  std::size_t absorbed = 0;
  while (seen.size() < expected) {
    absorb(absorbed);
    absorbed = lines.size();
    if (seen.size() >= expected) break;
    ASSERT_TRUE(read_until(watcher, lines.size() + 1))
        << "missing changes: have " << seen.size() << " of " << expected;
  }
  EXPECT_EQ(seen.size(), expected);
  EXPECT_EQ(duplicates, may_repeat) << "exactly what came after each saved cursor repeats";

  // Per-row order: a writer's ledger inserts and its counter values only ever increase,
  // except where a restart replays lines already printed (same key, same id).
  std::map<std::string, std::int64_t> high;
  std::set<std::string> printed;
  for (const auto& e : lines) {
    const auto& row = e.at("new").as_object();
    std::string table(e.at("table").as_string());
    auto series = table + ":" + std::to_string(row.at("writer").as_int64());
    auto value = table == "ledger" ? row.at("n").as_int64() : row.at("value").as_int64();
    if (!printed.insert(key_of(e)).second) continue;  // a replay
    auto& top = high[series];
    EXPECT_GT(value, top) << series << " went back from " << top << " to " << value;
    top = value;
  }
  watcher.signal(SIGTERM);
  EXPECT_EQ(watcher.wait(), 0);
  std::filesystem::remove(state);
}

}  // namespace
}  // namespace pgpulse::test
