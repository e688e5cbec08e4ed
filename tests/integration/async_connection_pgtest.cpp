// AsyncConnection's two statements in one round trip (libpq pipeline mode), on the real server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <exception>

#include "pg/async_connection.hpp"
#include "pgpulse/error.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

namespace asio = boost::asio;
using pg::AsyncConnection;

class AsyncConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = ident(unique_name());
    run_sql("CREATE TABLE " + table_ + " (v int)");
    run([&]() -> asio::awaitable<void> {
      co_await connection_.connect(pg::ConnParams(database_url(), 60, 5), 5s);
    });
  }

  // Runs `body` on the loop to its end; rethrows what it threw.
  void run(std::function<asio::awaitable<void>()> body) {
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io_, std::move(body), [&](std::exception_ptr e) {
      error = e;
      done = true;
    });
    io_.restart();
    ASSERT_TRUE(run_until(io_, [&] { return done; }));
    if (error) std::rethrow_exception(error);
  }

  // Runs `first` then `second` in one round trip; returns the first column of second's rows.
  std::vector<std::string> pipelined(const std::string& first, const std::string& second) {
    std::vector<std::string> rows;
    pipelined(first, second, rows);
    return rows;
  }
  void pipelined(const std::string& first, const std::string& second,
                 std::vector<std::string>& rows) {
    run([&]() -> asio::awaitable<void> {
      co_await connection_.query_then_rows({first, {}}, {second, {}}, 5s, [&](const PGresult* r) {
        rows.emplace_back(PQgetvalue(r, 0, 0));
      });
    });
  }

  std::string count_rows() {
    return std::string(connect().exec("SELECT count(*) FROM " + table_).get(0, 0));
  }

  asio::io_context io_;
  std::vector<std::string> notifications_;
  AsyncConnection connection_{io_.get_executor(), [this](const Notification& n) {
                                notifications_.emplace_back(n.payload);
                              }};
  std::string table_;
};

TEST_F(AsyncConnectionTest, SecondStatementSeesWhatTheFirstCommittedAndStreamsItsRows) {
  auto rows = pipelined("INSERT INTO " + table_ + " SELECT generate_series(1, 3)",
                        "SELECT v FROM " + table_ + " ORDER BY v");
  EXPECT_THAT(rows, ::testing::ElementsAre("1", "2", "3"));
  EXPECT_EQ(count_rows(), "3");  // committed, not left in an open transaction
}

TEST_F(AsyncConnectionTest, ErrorInTheSecondIsThrownAndTheFirstStaysCommitted) {
  EXPECT_THROW(
      pipelined("INSERT INTO " + table_ + " VALUES (1)", "SELECT 1 / (v - v) FROM " + table_),
      SqlError);
  EXPECT_EQ(count_rows(), "1");
  // The connection left pipeline mode: an ordinary query works.
  std::string answer;
  run([&]() -> asio::awaitable<void> {
    auto r = co_await connection_.query("SELECT 42", {}, 5s);
    answer = r.get(0, 0);
  });
  EXPECT_EQ(answer, "42");
}

TEST_F(AsyncConnectionTest, ErrorInTheFirstIsThrownAfterTheSecondRanWithNoRowHandedOut) {
  run_sql("INSERT INTO " + table_ + " VALUES (5)");
  std::vector<std::string> rows;
  try {
    pipelined("SELECT 1 / 0", "SELECT v FROM " + table_, rows);
    FAIL() << "no error";
  } catch (const SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "22012");  // division_by_zero
  }
  EXPECT_THAT(rows, ::testing::IsEmpty());
  EXPECT_THAT(
      pipelined("INSERT INTO " + table_ + " VALUES (7)", "SELECT v FROM " + table_ + " ORDER BY v"),
      ::testing::ElementsAre("5", "7"));
}

TEST_F(AsyncConnectionTest, NotificationsArrivingDuringThePipelineAreHandedOn) {
  auto channel = connection_.quote_identifier(unique_name("ch"));
  run([&]() -> asio::awaitable<void> { co_await connection_.query("LISTEN " + channel, {}, 5s); });
  pipelined("NOTIFY " + channel + ", 'during'", "SELECT 1");
  EXPECT_THAT(notifications_, ::testing::ElementsAre("during"));
}

TEST_F(AsyncConnectionTest, WakeDuringAQueryLeavesTheQueryAloneAndEndsTheNextWait) {
  // A wake-up is for wait_input(); a query's socket waits must not end early because of one.
  asio::steady_timer timer(io_);
  timer.expires_after(50ms);
  timer.async_wait([&](boost::system::error_code) { connection_.wake(); });
  std::string value;
  AsyncConnection::Wake wake = AsyncConnection::Wake::kInput;
  auto started = std::chrono::steady_clock::now();
  run([&]() -> asio::awaitable<void> {
    auto r = co_await connection_.query("SELECT 7 FROM pg_sleep(0.2)", {}, 5s);
    value = r.get(0, 0);
    wake = co_await connection_.wait_input(5s);
  });
  EXPECT_EQ(value, "7");
  EXPECT_EQ(wake, AsyncConnection::Wake::kWoken) << "the wake-up was kept for the next wait";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

}  // namespace
}  // namespace pgpulse::test
