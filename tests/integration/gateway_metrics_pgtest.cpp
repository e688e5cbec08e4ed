// /metrics: valid Prometheus text that counts events, bytes and latency.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "gateway_client.hpp"
#include "gateway_fixture.hpp"
#include "prometheus.hpp"

namespace pgpulse::test {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

TEST_F(GatewayTest, MetricsAreValidPrometheusTextAndCountEvents) {
  auto table = make_table("id int PRIMARY KEY");
  Gateway gateway(url_);
  auto response = http_get(gateway.port(), "/metrics");
  ASSERT_EQ(response.status, 200);
  EXPECT_THAT(response.headers["content-type"], HasSubstr("text/plain"));
  std::map<std::string, std::string> types;
  auto before = parse_prometheus(response.body, &types);
  for (const char* name : {"pgpulse_clients", "pgpulse_subscriptions", "pgpulse_events_in_total",
                           "pgpulse_events_out_total", "pgpulse_bytes_out_total",
                           "pgpulse_clients_dropped_slow_total", "pgpulse_clients_rejected_total",
                           "pgpulse_commit_to_send_seconds_count", "pgpulse_database_connected"}) {
    EXPECT_TRUE(before.contains(name)) << name;
  }
  EXPECT_EQ(types["pgpulse_events_in_total"], "counter");
  EXPECT_EQ(types["pgpulse_clients"], "gauge");
  EXPECT_EQ(types["pgpulse_commit_to_send_seconds"], "histogram");
  EXPECT_TRUE(before.contains(R"(pgpulse_commit_to_send_seconds_bucket{le="+Inf"})"));
  EXPECT_EQ(before["pgpulse_database_connected"], 1);

  WsClient ws(gateway.port());
  Inbox inbox(ws);
  ASSERT_EQ(text_of(inbox.subscribe("s", table).at("type")), "subscribed");
  insert_ids(table, 1, 3);
  ASSERT_TRUE(inbox.wait_events("s", 3));
  auto after = parse_prometheus(http_get(gateway.port(), "/metrics").body);
  EXPECT_GE(after["pgpulse_events_in_total"] - before["pgpulse_events_in_total"], 3);
  EXPECT_GE(after["pgpulse_events_out_total"] - before["pgpulse_events_out_total"], 3);
  EXPECT_GT(after["pgpulse_bytes_out_total"], before["pgpulse_bytes_out_total"]);
  EXPECT_GE(after["pgpulse_commit_to_send_seconds_count"] -
                before["pgpulse_commit_to_send_seconds_count"],
            3);
  EXPECT_EQ(after["pgpulse_clients"], 1);
  EXPECT_EQ(after["pgpulse_subscriptions"], 1);
  // Histogram buckets are cumulative and end with the count.
  std::vector<std::pair<double, double>> buckets;  // (le, count)
  for (const auto& [key, value] : after) {
    static const std::regex kBucket(R"x(^pgpulse_commit_to_send_seconds_bucket\{le="([^"]+)"\}$)x");
    std::smatch m;
    if (std::regex_match(key, m, kBucket)) {
      buckets.emplace_back(m[1] == "+Inf" ? INFINITY : std::stod(m[1]), value);
    }
  }
  std::sort(buckets.begin(), buckets.end());
  ASSERT_FALSE(buckets.empty());
  for (std::size_t i = 1; i < buckets.size(); ++i)
    EXPECT_LE(buckets[i - 1].second, buckets[i].second);
  EXPECT_EQ(buckets.back().second, after["pgpulse_commit_to_send_seconds_count"]);
}

}  // namespace
}  // namespace pgpulse::test
