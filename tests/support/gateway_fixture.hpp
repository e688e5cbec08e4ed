// What the gateway tests (tests/integration/gateway_*_pgtest.cpp) share: a fixture that gives
// each test a database of its own, so its tables, change log and positions meet no other test's;
// a WebSocket inbox that sorts events by subscription; and checks on the events delivered.
//
// "Exactly these and nothing else" is checked without sleeping: a fence (a last change every
// subscription of the connection sees after the others, or a row of a fence table) marks the
// point by which everything before it has been delivered, since a connection gets its events
// in stream order.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway_client.hpp"
#include "test_database.hpp"

namespace pgpulse::test {

std::string text_of(const boost::json::value& value);

/// The row an event is about (new, or old for DELETE) and its "id" column.
int row_id(const boost::json::object& event);
std::vector<int> row_ids(const std::vector<boost::json::object>& events);

/// first, first + 1, ..., last.
std::vector<int> range(int first, int last);

/// Whether event id `a` comes after `b`. Event ids are opaque to clients; the test compares
/// them as the server orders them.
bool id_after(const std::string& a, const std::string& b);
void expect_ids_increase(const std::vector<boost::json::object>& events);

/// The field names of a row, in order.
std::vector<std::string> keys_of(const boost::json::value& row);

/// What one WebSocket client receives, sorted: the events of each subscription, and the other
/// messages (replies) in order. Heartbeats are counted and dropped.
class Inbox {
 public:
  explicit Inbox(WsClient& ws) : ws_(ws) {}

  /// Reads until `done()`; false when the deadline passes or the connection ends first.
  bool until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s);

  /// Until subscription `sub` has `n` events.
  bool wait_events(const std::string& sub, std::size_t n, std::chrono::milliseconds timeout = 10s);

  /// The next message that is neither an event nor a heartbeat.
  std::optional<boost::json::object> reply(std::chrono::milliseconds timeout = 5s);

  /// subscribe and its answer ("subscribed" or "error"), keeping events that come meanwhile.
  boost::json::object subscribe(const std::string& id, const std::string& table,
                                const boost::json::object& extra = {});

  std::map<std::string, std::vector<boost::json::object>> events;  // by subscription
  std::deque<boost::json::object> replies;
  int heartbeats = 0;

 private:
  void take(boost::json::object& message);

  WsClient& ws_;
};

/// Reads SSE change events until `n` arrived; checks each `id:` is its data's id.
std::vector<boost::json::object> sse_changes(SseClient& sse, std::size_t n,
                                             std::chrono::milliseconds timeout = 10s);

/// Inserts rows first, first + 1, ... into `table` (one `id` column), one transaction each, on
/// a thread of its own until stopped.
class BackgroundWriter {
 public:
  BackgroundWriter(const std::string& url, const std::string& table, int first);
  ~BackgroundWriter() { stop(); }
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  /// The last row committed so far.
  int written() const { return last_; }
  /// Stops; returns the last row written.
  int stop();

 private:
  std::atomic<bool> running_{true};
  std::atomic<int> last_;
  std::thread thread_;
};

/// A database of the test's own, created before and dropped after each test.
class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  void sql(const std::string& text) const;

  /// A captured table with `columns`. Installed before the gateway starts, which then knows it.
  std::string make_table(const std::string& columns);

  /// Inserts rows first..last (`id` only, or with `extra` values), one transaction each.
  void insert_ids(const std::string& table, int first, int last, const std::string& extra = "");

  std::string database_;
  std::string url_;
  int tables_ = 0;
};

}  // namespace pgpulse::test
