// Slow clients: one that stops reading is dropped while a fast one gets everything, and a resume
// far behind is paced by the client instead of being cut off again.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"
#include "prometheus.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using ::testing::ElementsAreArray;

TEST_F(GatewayTest, ASlowClientIsDroppedWhileAFastOneOnTheSameTableGetsEverything) {
  auto table = make_table("id int PRIMARY KEY, body text");
  Gateway gateway(url_, {"--send-queue-bytes", "65536"});
  WsClient fast(gateway.port());
  Inbox inbox(fast);
  ASSERT_EQ(text_of(inbox.subscribe("s", table).at("type")), "subscribed");
  StalledWsClient slow(gateway.port(),
                       R"({"type":"subscribe","id":"s","table":")" + table + R"("})");

  // 2000 rows of 2 KB (4 MB, 60 send queues), in transactions of 10 rows (22 KB, a third of a
  // send queue): a client that reads at once never has more than a few transactions queued.
  constexpr int kRows = 2000;
  constexpr int kRowsPerTransaction = 10;
  pg::Connection db(url_);
  for (int first = 1; first <= kRows; first += kRowsPerTransaction) {
    db.exec("INSERT INTO " + ident(table) + " SELECT i, repeat('x', 2000) FROM generate_series(" +
            std::to_string(first) + ", " + std::to_string(first + kRowsPerTransaction - 1) +
            ") AS i");
    // A reading client keeps up with this pace even in a sanitizer build (~4 MB/s); the
    // stalled one still falls hopelessly behind.
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(inbox.wait_events("s", kRows, 30s))
      << "the fast client got " << inbox.events["s"].size() << " of " << kRows
      << " rows; closed: " << fast.closed() << ", code " << fast.close_code() << " \""
      << fast.close_reason() << "\"";
  if (!fast.closed()) {
    EXPECT_THAT(row_ids(inbox.events["s"]), ElementsAreArray(range(1, kRows)));
  }
  EXPECT_GE(wait_metric(gateway.port(), "pgpulse_events_in_total", kRows), kRows);
  // The slow one was cut off (and, when the fast one was not, only the slow one).
  double dropped = fast.closed() ? 2 : 1;
  EXPECT_EQ(wait_metric(gateway.port(), "pgpulse_clients_dropped_slow_total", dropped), dropped);
}

// The protocol's answer to a slow-client cut-off is "subscribe again from your last id". A
// backlog larger than the send queue must then be delivered as fast as the client reads it,
// not cut off again: otherwise a client that fell far enough behind never catches up.
TEST_F(GatewayTest, AResumeFarBehindIsPacedByTheClientNotCutOffAgain) {
  auto table = make_table("id int PRIMARY KEY, body text");
  Gateway gateway(url_, {"--send-queue-bytes", "65536"});
  std::string last;
  {
    WsClient ws(gateway.port());
    Inbox inbox(ws);
    ASSERT_EQ(text_of(inbox.subscribe("s", table).at("type")), "subscribed");
    insert_ids(table, 1, 1, ", 'first'");
    ASSERT_TRUE(inbox.wait_events("s", 1));
    last = text_of(inbox.events["s"][0].at("id"));
    ws.close();
  }
  // While the client is away: 400 rows of 2 KB (860 KB, 13 send queues), in transactions of
  // 10 rows. The gateway has them in its ring once it counted them in.
  constexpr int kRows = 400;
  pg::Connection db(url_);
  for (int first = 2; first <= kRows + 1; first += 10) {
    db.exec("INSERT INTO " + ident(table) + " SELECT i, repeat('x', 2000) FROM generate_series(" +
            std::to_string(first) + ", " + std::to_string(first + 9) + ") AS i");
  }
  ASSERT_GE(wait_metric(gateway.port(), "pgpulse_events_in_total", kRows + 1), kRows + 1);

  std::vector<json::object> got;
  std::vector<int> close_codes;
  for (int attempt = 0; attempt < 3 && got.size() < kRows; ++attempt) {
    WsClient ws(gateway.port());
    Inbox inbox(ws);
    auto answer = inbox.subscribe("s", table, {{"from", last}});
    ASSERT_EQ(text_of(answer.at("type")), "subscribed") << json::serialize(answer);
    inbox.until([&] { return got.size() + inbox.events["s"].size() >= kRows; }, 10s);
    got.insert(got.end(), inbox.events["s"].begin(), inbox.events["s"].end());
    if (!got.empty()) last = text_of(got.back().at("id"));
    if (ws.closed()) close_codes.push_back(ws.close_code());
  }
  ASSERT_EQ(got.size(), std::size_t{kRows})
      << "rows received in 3 attempts; close codes: " << ::testing::PrintToString(close_codes);
  EXPECT_THAT(row_ids(got), ElementsAreArray(range(2, kRows + 1)));
}

// Answers count against the send queue as events do: a client that keeps sending pings and
// never reads the pongs is cut off as too slow, instead of growing the server's memory by what
// it uploads.
TEST_F(GatewayTest, AClientThatSendsPingsButNeverReadsThePongsIsCutOff) {
  auto table = make_table("id int PRIMARY KEY");
  Gateway gateway(url_, {"--send-queue-bytes", "65536"});
  StalledWsClient flooder(gateway.port(),
                          R"({"type":"subscribe","id":"s","table":")" + table + R"("})");
  const std::vector<std::string> pings(1000, R"({"type":"ping","id":"p"})");
  // 8 send queues (512 KiB) of pongs take about 21,000 pings; give it ten times that.
  for (int round = 0; round < 200 && flooder.send_texts(pings); ++round) {
  }
  EXPECT_GE(wait_metric(gateway.port(), "pgpulse_clients_dropped_slow_total", 1), 1);
}

}  // namespace
}  // namespace pgpulse::test
