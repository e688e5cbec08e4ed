// The pgpulse command-line tool, run as a child process against the sandbox server: what
// `watch` prints, how it stops, what install and uninstall do, and that every failure is one
// line on stderr and leaves the database as it was.
//
// Each test gets a database of its own: install and uninstall create and drop the pgpulse
// schema, `watch --from beginning` reads the whole change log and NOTIFY stays inside one
// database, so sharing the library tests' database would make results depend on test order.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_database.hpp"

namespace pgpulse::test {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;

constexpr int kRuntimeError = 1;
constexpr int kUsageError = 2;
// The watcher's last statement before it waits: its start snapshot is pinned by then.
constexpr const char* kCaptureReady = "%pgpulse.commit_order%";

// A loopback TCP port that refuses connections for as long as this object lives: the socket
// is bound, so nobody else gets the port, but never listens.
class ClosedPort {
 public:
  ClosedPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), size) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &size) != 0) {
      throw std::runtime_error("cannot reserve a loopback port");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~ClosedPort() { ::close(fd_); }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

// A failed command: `exit_code`, nothing on stdout, and exactly one line on stderr that starts
// with "pgpulse: " and contains `mentions` (so no abort message and no trace either).
void expect_one_line_failure(const CommandResult& r, int exit_code, const std::string& mentions) {
  EXPECT_EQ(r.exit_code, exit_code) << "stderr: " << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, StartsWith("pgpulse: "));
  EXPECT_THAT(r.err, EndsWith("\n"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr(mentions));
  EXPECT_THAT(r.err, Not(HasSubstr("terminate called")));
}

// The next stdout line of `process`, parsed as a JSON object (empty, after a failure, when
// none came within the timeout or it is not one).
json::object next_object(CliProcess& process, std::chrono::milliseconds timeout = 10s) {
  auto line = process.read_line(timeout);
  if (!line) {
    ADD_FAILURE() << "no line within " << timeout.count()
                  << " ms; stderr: " << process.stderr_text();
    return {};
  }
  boost::system::error_code ec;
  auto value = json::parse(*line, ec);
  if (ec || !value.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << *line;
    return {};
  }
  return value.as_object();
}

std::vector<json::object> objects_of(const std::string& out) {
  std::vector<json::object> objects;
  std::size_t begin = 0;
  for (auto end = out.find('\n'); end != std::string::npos; end = out.find('\n', begin)) {
    boost::system::error_code ec;
    auto value = json::parse(out.substr(begin, end - begin), ec);
    EXPECT_FALSE(ec) << out.substr(begin, end - begin);
    objects.push_back(value.is_object() ? value.as_object() : json::object());
    begin = end + 1;
  }
  EXPECT_EQ(begin, out.size()) << "output does not end with a newline: " << out;
  return objects;
}

json::value row(std::string_view text) {
  return json::parse(text);
}

// The body of a change line's "new" row (the test tables are (id int, body text)).
std::string body_of(const json::object& event) {
  const auto* row_value = event.if_contains("new");
  if (!row_value || !row_value->is_object() || !row_value->as_object().contains("body")) {
    return "<no new.body in " + json::serialize(event) + ">";
  }
  return std::string(row_value->as_object().at("body").as_string());
}

std::string id_of(const json::object& event) {
  const auto* id = event.if_contains("id");
  return id && id->is_string() ? std::string(id->as_string()) : std::string();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    database_ = unique_name("cli");
    run_sql("CREATE DATABASE " + ident(database_));
    url_ = url_for(database_);
  }

  void TearDown() override {
    run_sql("DROP DATABASE IF EXISTS " + ident(database_) + " WITH (FORCE)");
    for (const auto& role : roles_) run_sql("DROP ROLE IF EXISTS " + ident(role));
  }

  pg::Connection db() const { return pg::Connection(url_); }
  void sql(const std::string& text) const { db().exec_script(text); }

  // A new table (id int PRIMARY KEY, body text) in this test's database.
  std::string make_table(const std::string& prefix = "t") const {
    auto name = unique_name(prefix);
    sql("CREATE TABLE " + ident(name) + " (id int PRIMARY KEY, body text)");
    return name;
  }

  // A login role that owns nothing; dropped after the test.
  std::string make_role() {
    auto role = unique_name("role");
    run_sql("CREATE ROLE " + ident(role) + " LOGIN");
    roles_.push_back(role);
    return role;
  }

  void install(const std::vector<std::string>& tables) const {
    std::vector<std::string> args{"install", "--db", url_};
    args.insert(args.end(), tables.begin(), tables.end());
    auto r = run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  bool schema_exists() const {
    return db().exec("SELECT 1 FROM pg_namespace WHERE nspname = 'pgpulse'").rows() == 1;
  }

  // The table's pgpulse trigger OIDs, as one comparable string ("" when none).
  std::string trigger_oids(const std::string& table) const {
    auto r = db().exec(
        "SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_trigger "
        "WHERE tgrelid = $1::regclass AND tgname LIKE 'pgpulse%'",
        {ident(table)});
    return r.is_null(0, 0) ? "" : std::string(r.get(0, 0));
  }

  // Runs `statement` in a transaction of its own; returns that transaction's xid.
  std::uint64_t write(const std::string& statement) const {
    auto conn = db();
    conn.exec("BEGIN");
    conn.exec(statement);
    auto xid = std::stoull(std::string(conn.exec("SELECT pg_current_xact_id()::text").get(0, 0)));
    conn.exec("COMMIT");
    return xid;
  }

  // The server's clock, to tell backends started later from earlier ones.
  std::string server_time() const {
    return std::string(db().exec("SELECT clock_timestamp()::text").get(0, 0));
  }

  // Waits until this database has an idle pgpulse backend, started after `since`, whose last
  // statement is LIKE `statement`: a watcher that did its setup and now waits for input.
  bool wait_for_idle_watcher(const std::string& since, const std::string& statement) const {
    auto probe = db();
    auto deadline = Clock::now() + 10s;
    for (;;) {
      auto r = probe.exec(
          "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
          "AND application_name = 'pgpulse' AND state = 'idle' "
          "AND backend_start >= $1::timestamptz AND query LIKE $2",
          {since, statement});
      if (r.get(0, 0) != "0") return true;
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
  }

  // `pgpulse watch --db <this database> options...`, once it is ready: changes written
  // after this returns are in its output.
  std::unique_ptr<CliProcess> watch(const std::vector<std::string>& options) const {
    std::vector<std::string> args{"watch", "--db", url_};
    args.insert(args.end(), options.begin(), options.end());
    auto since = server_time();
    auto process = std::make_unique<CliProcess>(args);
    bool raw = std::find(options.begin(), options.end(), "--channel") != options.end();
    // Raw mode's last setup statement is the LISTEN of the (last) channel.
    std::string ready = raw ? "LISTEN " + db().quote_identifier(options.back()) : kCaptureReady;
    EXPECT_TRUE(wait_for_idle_watcher(since, ready))
        << "watch never became ready; stderr: " << process->stderr_text();
    return process;
  }

  void notify(const std::string& channel, const std::string& payload) const {
    db().exec("SELECT pg_notify($1, $2)", {channel, payload});
  }

  std::string database_;
  std::string url_;
  std::vector<std::string> roles_;
};

// --- watch: capture mode -----------------------------------------------------------------

class CliWatch : public CliTest {
 protected:
  // One change line: exactly the documented fields, with these values.
  void expect_change(const json::object& e, std::string_view op, const std::string& table,
                     std::uint64_t xid, std::string_view new_row, std::string_view old_row) {
    SCOPED_TRACE(json::serialize(e));
    std::set<std::string> keys;
    for (const auto& field : e) keys.insert(std::string(field.key()));
    EXPECT_EQ(keys, (std::set<std::string>{"id", "op", "schema", "table", "xid", "commit_time",
                                           "new", "old"}));
    if (keys.size() != 8) return;
    EXPECT_EQ(e.at("op"), json::value(op));
    EXPECT_EQ(e.at("schema"), json::value("public"));
    EXPECT_EQ(e.at("table"), json::value(table));
    ASSERT_TRUE(e.at("xid").is_number());
    EXPECT_EQ(e.at("xid").to_number<std::uint64_t>(), xid);
    EXPECT_EQ(e.at("new"), row(new_row));
    EXPECT_EQ(e.at("old"), row(old_row));
    ASSERT_TRUE(e.at("id").is_string());
    EXPECT_THAT(std::string(e.at("id").as_string()), StartsWith("1."));
    ASSERT_TRUE(e.at("commit_time").is_string());
    std::string commit_time(e.at("commit_time").as_string());
    EXPECT_TRUE(
        std::regex_match(commit_time, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")))
        << commit_time;
    // The sandbox tracks commit timestamps: the line carries the transaction's own.
    auto server = db().exec(
        "SELECT to_char(pg_xact_commit_timestamp(xid($1::xid8)) AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        {std::to_string(xid)});
    EXPECT_EQ(commit_time, server.get(0, 0));
  }
};

TEST_F(CliWatch, PrintsOneJsonLinePerChangedRowForEveryKindOfChange) {
  auto t = make_table();
  auto q = ident(t);
  install({t});
  auto watcher = watch({});

  auto insert_xid = write("INSERT INTO " + q + " VALUES (1, 'a'), (2, 'b')");
  auto update_xid = write("UPDATE " + q + " SET body = body || '!'");
  auto delete_xid = write("DELETE FROM " + q + " WHERE id = 2");
  auto truncate_xid = write("TRUNCATE " + q);
  auto marker_xid = write("INSERT INTO " + q + " VALUES (3, 'marker')");

  expect_change(next_object(*watcher), "INSERT", t, insert_xid, R"({"id":1,"body":"a"})", "null");
  expect_change(next_object(*watcher), "INSERT", t, insert_xid, R"({"id":2,"body":"b"})", "null");
  // One UPDATE statement on two rows: two lines, in the order the rows were updated.
  auto first = next_object(*watcher);
  auto second = next_object(*watcher);
  if (body_of(first) == "b!") std::swap(first, second);
  expect_change(first, "UPDATE", t, update_xid, R"({"id":1,"body":"a!"})",
                R"({"id":1,"body":"a"})");
  expect_change(second, "UPDATE", t, update_xid, R"({"id":2,"body":"b!"})",
                R"({"id":2,"body":"b"})");
  expect_change(next_object(*watcher), "DELETE", t, delete_xid, "null", R"({"id":2,"body":"b!"})");
  expect_change(next_object(*watcher), "TRUNCATE", t, truncate_xid, "null", "null");
  // The marker comes next: nothing was printed twice or extra in between.
  expect_change(next_object(*watcher), "INSERT", t, marker_xid, R"({"id":3,"body":"marker"})",
                "null");
}

TEST_F(CliWatch, EveryLineHasItsOwnId) {
  auto t = make_table();
  install({t});
  auto watcher = watch({});
  write("INSERT INTO " + ident(t) + " VALUES (1, 'a'), (2, 'b')");
  write("INSERT INTO " + ident(t) + " VALUES (3, 'c')");
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.insert(id_of(next_object(*watcher)));
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_FALSE(ids.contains(""));
}

TEST_F(CliWatch, TableOptionPrintsOnlyThatTablesChanges) {
  auto wanted = make_table("wanted");
  auto other = make_table("other");
  install({wanted, other});
  auto watcher = watch({"--table", wanted});

  write("INSERT INTO " + ident(other) + " VALUES (1, 'other 1')");
  write("INSERT INTO " + ident(wanted) + " VALUES (1, 'wanted 1')");
  write("INSERT INTO " + ident(other) + " VALUES (2, 'other 2')");
  write("INSERT INTO " + ident(wanted) + " VALUES (2, 'wanted 2')");

  auto first = next_object(*watcher);
  EXPECT_EQ(first["table"], json::value(wanted));
  EXPECT_EQ(body_of(first), "wanted 1");
  auto second = next_object(*watcher);
  EXPECT_EQ(second["table"], json::value(wanted));
  EXPECT_EQ(body_of(second), "wanted 2");
}

TEST_F(CliWatch, LimitExitsZeroAfterThatManyLines) {
  auto t = make_table();
  install({t});
  auto watcher = watch({"--limit", "2"});
  // Three rows in one statement: the limit cuts inside one batch.
  write("INSERT INTO " + ident(t) + " VALUES (1, 'a'), (2, 'b'), (3, 'c')");

  EXPECT_EQ(body_of(next_object(*watcher)), "a");
  EXPECT_EQ(body_of(next_object(*watcher)), "b");
  EXPECT_EQ(watcher->read_line(5s), std::nullopt) << "a line after the limit";
  EXPECT_EQ(watcher->wait(2s), 0) << watcher->stderr_text();
  EXPECT_EQ(watcher->stderr_text(), "");
}

TEST_F(CliWatch, FromAnEventIdPrintsOnlyTheChangesAfterIt) {
  auto t = make_table();
  install({t});
  for (int i = 1; i <= 4; ++i) {
    write("INSERT INTO " + ident(t) + " VALUES (" + std::to_string(i) + ", 'row " +
          std::to_string(i) + "')");
  }
  auto all = run_cli({"watch", "--db", url_, "--from", "beginning", "--limit", "4"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto events = objects_of(all.out);
  ASSERT_EQ(events.size(), 4u) << all.out;

  auto after_first = run_cli({"watch", "--db", url_, "--from", id_of(events[0]), "--limit", "3"});
  EXPECT_EQ(after_first.exit_code, 0) << after_first.err;
  std::vector<std::string> bodies;
  for (const auto& e : objects_of(after_first.out)) bodies.push_back(body_of(e));
  EXPECT_EQ(bodies, (std::vector<std::string>{"row 2", "row 3", "row 4"}));

  // From the newest event: only what is committed later.
  auto after_last = watch({"--from", id_of(events[3])});
  write("INSERT INTO " + ident(t) + " VALUES (5, 'row 5')");
  EXPECT_EQ(body_of(next_object(*after_last)), "row 5");
}

TEST_F(CliWatch, FromBeginningPrintsEveryRetainedChangeInCommitOrder) {
  auto t = make_table();
  install({t});
  write("INSERT INTO " + ident(t) + " VALUES (1, 'one'), (2, 'two')");
  write("UPDATE " + ident(t) + " SET body = 'three' WHERE id = 1");
  write("DELETE FROM " + ident(t) + " WHERE id = 2");

  auto watcher = watch({"--from", "beginning"});
  write("INSERT INTO " + ident(t) + " VALUES (9, 'marker')");
  std::vector<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    auto e = next_object(*watcher);
    seen.push_back(std::string(e["op"].is_string() ? e["op"].as_string() : "?") + " " +
                   (e["new"].is_object() ? body_of(e) : "-"));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"INSERT one", "INSERT two", "UPDATE three", "DELETE -",
                                            "INSERT marker"}));
}

TEST_F(CliWatch, ExitsZeroWithinTwoSecondsOnSigint) {
  auto t = make_table();
  install({t});
  const std::vector<std::vector<std::string>> modes{{}, {"--channel", unique_name("chan")}};
  for (const auto& mode : modes) {
    SCOPED_TRACE(mode.empty() ? "capture mode" : "raw mode");
    auto watcher = watch(mode);
    auto sent = Clock::now();
    watcher->signal(SIGINT);
    EXPECT_EQ(watcher->wait(2s), 0);
    EXPECT_LT(Clock::now() - sent, 2s);
    EXPECT_EQ(watcher->stderr_text(), "");
  }
}

TEST_F(CliWatch, ExitsZeroWithinTwoSecondsOnSigterm) {
  auto t = make_table();
  install({t});
  const std::vector<std::vector<std::string>> modes{{}, {"--channel", unique_name("chan")}};
  for (const auto& mode : modes) {
    SCOPED_TRACE(mode.empty() ? "capture mode" : "raw mode");
    auto watcher = watch(mode);
    auto sent = Clock::now();
    watcher->signal(SIGTERM);
    EXPECT_EQ(watcher->wait(2s), 0);
    EXPECT_LT(Clock::now() - sent, 2s);
    EXPECT_EQ(watcher->stderr_text(), "");
  }
}

// --- watch: raw NOTIFY mode --------------------------------------------------------------

using CliWatchRaw = CliTest;

TEST_F(CliWatchRaw, PrintsEachNotificationAsChannelAndPayload) {
  auto channel = unique_name("chan");
  auto watcher = watch({"--channel", channel});
  notify(channel, "payload");
  EXPECT_EQ(watcher->read_line(), R"({"channel":")" + channel + R"(","payload":"payload"})");
}

TEST_F(CliWatchRaw, PayloadsNeedingEscapesAreValidJsonAndRoundTrip) {
  auto channel = unique_name("chan");
  auto watcher = watch({"--channel", channel});
  const std::vector<std::string> payloads{
      R"(say "hi")",
      R"(back\slash and \n not a newline)",
      "two\nlines\r\nand\ta tab",
      "\x01\x1f control characters",
      "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80",  // café ✓ 😀
      R"({"already":"json"})",
      "",
  };
  for (const auto& payload : payloads) notify(channel, payload);
  for (const auto& payload : payloads) {
    auto line = next_object(*watcher);
    EXPECT_EQ(line, (json::object{{"channel", channel}, {"payload", payload}}));
  }
}

TEST_F(CliWatchRaw, ChannelNamesWithSpacesAndCapitalsWork) {
  // Not unique_name: that lowercases, and the capitals are the point here. NOTIFY stays in
  // this test's database, so the name need not be unique beyond it.
  std::string channel = "My Channel";
  std::string lowercase = channel;
  std::transform(lowercase.begin(), lowercase.end(), lowercase.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto watcher = watch({"--channel", channel});
  notify(lowercase, "wrong channel");
  notify(channel, "right channel");
  auto line = next_object(*watcher);
  EXPECT_EQ(line, (json::object{{"channel", channel}, {"payload", "right channel"}}));
}

TEST_F(CliWatchRaw, PrintsOnlyTheChannelsAskedFor) {
  auto base = unique_name("chan");
  auto first = base + "_a";
  auto second = base + "_b";  // LISTENs go in name order: watch() waits for the last one
  auto ignored = base + "_c";
  auto watcher = watch({"--channel", first, "--channel", second});
  notify(ignored, "no");
  notify(first, "one");
  notify(ignored, "no");
  notify(second, "two");
  EXPECT_EQ(next_object(*watcher), (json::object{{"channel", first}, {"payload", "one"}}));
  EXPECT_EQ(next_object(*watcher), (json::object{{"channel", second}, {"payload", "two"}}));
}

// --- install and uninstall ---------------------------------------------------------------

using CliInstall = CliTest;

TEST_F(CliInstall, InstallingTwiceSucceedsAndKeepsTheSameTriggers) {
  auto t = make_table();
  auto once = run_cli({"install", "--db", url_, t});
  ASSERT_EQ(once.exit_code, 0) << once.err;
  EXPECT_EQ(once.out, "capturing " + t + "\n");
  EXPECT_EQ(once.err, "");
  auto oids = trigger_oids(t);
  EXPECT_EQ(std::count(oids.begin(), oids.end(), ',') + 1, 4) << oids;

  auto twice = run_cli({"install", "--db", url_, t});
  EXPECT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_EQ(twice.out, "capturing " + t + "\n");
  EXPECT_EQ(twice.err, "");
  EXPECT_EQ(trigger_oids(t), oids);
}

TEST_F(CliInstall, StatusListsTheCapturedTables) {
  auto t = make_table();
  auto none = run_cli({"status", "--db", url_});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "pgpulse is not installed in this database\n");
  install({t});
  auto some = run_cli({"status", "--db", url_});
  EXPECT_EQ(some.exit_code, 0) << some.err;
  EXPECT_THAT(some.out, HasSubstr("captured tables:  public." + t + "\n"));
  EXPECT_THAT(some.out, HasSubstr("wake-up:          notify\n"));
  EXPECT_THAT(some.out, HasSubstr("retention:        24 hours\n"));
}

TEST_F(CliInstall, UninstallRemovesCaptureButKeepsEveryRow) {
  auto t = make_table();
  auto q = ident(t);
  sql("INSERT INTO " + q + " VALUES (1, 'before install')");
  install({t});
  sql("INSERT INTO " + q + " VALUES (2, 'captured'); UPDATE " + q +
      " SET body = 'updated' WHERE id = 1");
  auto content = [&] {
    return std::string(db().exec("SELECT count(*) || ': ' || string_agg(id || '=' || body, ',' "
                                 "ORDER BY id) FROM " +
                                 q)
                           .get(0, 0));
  };
  auto before = content();
  ASSERT_EQ(before, "2: 1=updated,2=captured");

  auto r = run_cli({"uninstall", "--db", url_, t});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(content(), before);
  EXPECT_EQ(trigger_oids(t), "");
  EXPECT_FALSE(schema_exists()) << "the last captured table is gone: so is the schema";
}

TEST_F(CliInstall, UninstallOfOneTableKeepsTheOthersCaptured) {
  auto dropped = make_table("dropped");
  auto kept = make_table("kept");
  install({dropped, kept});
  auto kept_oids = trigger_oids(kept);
  auto r = run_cli({"uninstall", "--db", url_, dropped});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(trigger_oids(dropped), "");
  EXPECT_EQ(trigger_oids(kept), kept_oids);
  EXPECT_TRUE(schema_exists());
}

// --- failures: one line on stderr, nothing changed ---------------------------------------

using CliErrors = CliTest;

TEST_F(CliErrors, MalformedConnectionStringIsOneLineForInstallAndWatch) {
  auto t = make_table();
  const std::vector<std::pair<std::string, std::string>> cases{
      {"host=127.0.0.1 port=notaport", "notaport"},
      {"nonsense", "nonsense"},
  };
  for (const auto& [db, mentions] : cases) {
    SCOPED_TRACE(db);
    expect_one_line_failure(run_cli({"install", "--db", db, t}), kRuntimeError, mentions);
    expect_one_line_failure(run_cli({"watch", "--db", db}), kRuntimeError, mentions);
  }
  EXPECT_FALSE(schema_exists());
}

TEST_F(CliErrors, UnreachableServerIsOneLineWithinTenSeconds) {
  auto t = make_table();
  ClosedPort closed;
  auto db = "postgresql://postgres@127.0.0.1:" + std::to_string(closed.port()) + "/postgres";
  for (std::string command : {"install", "watch"}) {
    SCOPED_TRACE(command);
    std::vector<std::string> args{command, "--db", db};
    if (command == "install") args.push_back(t);
    auto started = Clock::now();
    auto r = run_cli(args, 10s);
    EXPECT_LT(Clock::now() - started, 10s);
    expect_one_line_failure(r, kRuntimeError, std::to_string(closed.port()));
  }
  EXPECT_FALSE(schema_exists());
}

TEST_F(CliErrors, InstallOfAMissingTableInstallsNothing) {
  auto existing = make_table();
  auto missing = unique_name("missing");
  expect_one_line_failure(run_cli({"install", "--db", url_, missing}), kRuntimeError, missing);
  EXPECT_FALSE(schema_exists());
  // Together with an existing table, in either order: all or nothing.
  expect_one_line_failure(run_cli({"install", "--db", url_, existing, missing}), kRuntimeError,
                          missing);
  expect_one_line_failure(run_cli({"install", "--db", url_, missing, existing}), kRuntimeError,
                          missing);
  EXPECT_FALSE(schema_exists());
  EXPECT_EQ(trigger_oids(existing), "");
}

TEST_F(CliErrors, InstallOnAnotherRolesTableIsRefusedAndInstallsNothing) {
  auto t = make_table();
  auto role = make_role();
  auto as_role = url_for(database_, role);
  {
    SCOPED_TRACE("no right to create the schema");
    auto r = run_cli({"install", "--db", as_role, t});
    expect_one_line_failure(r, kRuntimeError, "permission denied");
    EXPECT_FALSE(schema_exists());
    EXPECT_EQ(trigger_oids(t), "");
  }
  {
    SCOPED_TRACE("may create the schema, does not own the table");
    run_sql("GRANT CREATE ON DATABASE " + ident(database_) + " TO " + ident(role));
    auto r = run_cli({"install", "--db", as_role, t});
    expect_one_line_failure(r, kRuntimeError, "permission denied");
    EXPECT_THAT(r.err, HasSubstr(t));
    EXPECT_FALSE(schema_exists());
    EXPECT_EQ(trigger_oids(t), "");
  }
}

TEST_F(CliErrors, WatchOfAMissingTableIsOneLine) {
  auto existing = make_table();
  install({existing});
  auto oids = trigger_oids(existing);
  auto missing = unique_name("missing");
  expect_one_line_failure(run_cli({"watch", "--db", url_, "--table", missing}), kRuntimeError,
                          missing);
  expect_one_line_failure(run_cli({"watch", "--db", url_, "--table", existing, "--table", missing}),
                          kRuntimeError, missing);
  EXPECT_EQ(trigger_oids(existing), oids);
}

TEST_F(CliErrors, WatchOfAnUncapturedTableIsOneLine) {
  auto captured = make_table("captured");
  auto plain = make_table("plain");
  install({captured});
  expect_one_line_failure(run_cli({"watch", "--db", url_, "--table", plain}), kRuntimeError, plain);
  EXPECT_EQ(trigger_oids(plain), "");
}

TEST_F(CliErrors, WatchWithoutInstallIsOneLine) {
  expect_one_line_failure(run_cli({"watch", "--db", url_}), kRuntimeError, "not installed");
  EXPECT_FALSE(schema_exists());
}

TEST_F(CliErrors, WatchFromADamagedIdIsOneLine) {
  auto t = make_table();
  install({t});
  expect_one_line_failure(run_cli({"watch", "--db", url_, "--from", "1.2.x"}), kRuntimeError,
                          "cursor");
}

TEST_F(CliErrors, UninstallOfAMissingTableChangesNothing) {
  auto existing = make_table();
  install({existing});
  auto oids = trigger_oids(existing);
  auto missing = unique_name("missing");
  expect_one_line_failure(run_cli({"uninstall", "--db", url_, missing}), kRuntimeError, missing);
  expect_one_line_failure(run_cli({"uninstall", "--db", url_, existing, missing}), kRuntimeError,
                          missing);
  EXPECT_EQ(trigger_oids(existing), oids);
  EXPECT_TRUE(schema_exists());
}

TEST_F(CliErrors, UnknownOptionIsAUsageError) {
  auto t = make_table();
  expect_one_line_failure(run_cli({"watch", "--db", url_, "--bogus"}), kUsageError, "--bogus");
  expect_one_line_failure(run_cli({"install", "--db", url_, "--bogus", t}), kUsageError, "--bogus");
  EXPECT_FALSE(schema_exists());
}

TEST_F(CliErrors, BadWakeupModeIsAUsageErrorNamingTheOption) {
  auto t = make_table();
  expect_one_line_failure(run_cli({"install", "--db", url_, "--wakeup", "sometimes", t}),
                          kUsageError,
                          "--wakeup: wake-up mode must be notify or poll, not 'sometimes'");
  EXPECT_FALSE(schema_exists());
}

TEST_F(CliErrors, BadTableNameIsAUsageErrorNamingTheOption) {
  expect_one_line_failure(run_cli({"watch", "--db", url_, "--table", "a.b.c"}), kUsageError,
                          "--table: bad table name 'a.b.c'");
  expect_one_line_failure(run_cli({"watch", "--db", url_, "--table", "\"open"}), kUsageError,
                          "unterminated");
}

TEST_F(CliWatch, TableOptionIsReadAsInSqlWithPublicAsTheDefaultSchema) {
  // Mixed case folds to lower case, as in SQL; a quoted name keeps its capitals and dots.
  auto plain = make_table("plain");
  auto odd = "Odd." + unique_name("name");
  sql("CREATE TABLE " + ident(odd) + " (id int PRIMARY KEY, body text)");
  install({plain, "public." + ident(odd)});
  std::string upper = plain;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto watcher = watch({"--table", upper, "--table", "public." + ident(odd)});
  write("INSERT INTO " + ident(plain) + " VALUES (1, 'plain')");
  write("INSERT INTO " + ident(odd) + " VALUES (2, 'odd')");
  auto first = next_object(*watcher);
  EXPECT_EQ(first["table"], json::value(plain));
  auto second = next_object(*watcher);
  EXPECT_EQ(second["table"], json::value(odd));
}

TEST_F(CliErrors, MissingDbIsAUsageError) {
  ::unsetenv("PGPULSE_DB");  // the fallback for --db
  auto t = make_table();
  expect_one_line_failure(run_cli({"watch"}), kUsageError, "--db");
  expect_one_line_failure(run_cli({"install", t}), kUsageError, "--db");
  EXPECT_FALSE(schema_exists());
}

}  // namespace
}  // namespace pgpulse::test
