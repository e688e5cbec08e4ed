#include "gateway_fixture.hpp"

#include <stdexcept>

#include "pgpulse/capture.hpp"
#include "pgpulse/cursor.hpp"

namespace pgpulse::test {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::string text_of(const json::value& value) {
  return std::string(value.as_string());
}

int row_id(const json::object& event) {
  const auto& row = event.at("new").is_null() ? event.at("old") : event.at("new");
  return static_cast<int>(row.as_object().at("id").to_number<std::int64_t>());
}

std::vector<int> row_ids(const std::vector<json::object>& events) {
  std::vector<int> ids;
  for (const auto& e : events) ids.push_back(row_id(e));
  return ids;
}

std::vector<int> range(int first, int last) {
  std::vector<int> out;
  for (int i = first; i <= last; ++i) out.push_back(i);
  return out;
}

bool id_after(const std::string& a, const std::string& b) {
  auto x = Cursor::parse(a);
  auto y = Cursor::parse(b);
  return x.position() != y.position() ? x.position() > y.position() : x.seq() > y.seq();
}

void expect_ids_increase(const std::vector<json::object>& events) {
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_TRUE(id_after(text_of(events[i].at("id")), text_of(events[i - 1].at("id"))))
        << "event " << i << ": " << json::serialize(events[i]) << " after "
        << json::serialize(events[i - 1]);
  }
}

std::vector<std::string> keys_of(const json::value& row) {
  std::vector<std::string> keys;
  for (const auto& member : row.as_object()) keys.emplace_back(member.key());
  return keys;
}

bool Inbox::until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    auto left = left_until(deadline);
    if (left.count() <= 0) return false;
    auto message = ws_.next(left);
    if (!message) return false;
    take(*message);
  }
  return true;
}

bool Inbox::wait_events(const std::string& sub, std::size_t n, std::chrono::milliseconds timeout) {
  return until([&] { return events[sub].size() >= n; }, timeout);
}

std::optional<json::object> Inbox::reply(std::chrono::milliseconds timeout) {
  if (!until([&] { return !replies.empty(); }, timeout)) return std::nullopt;
  auto out = std::move(replies.front());
  replies.pop_front();
  return out;
}

json::object Inbox::subscribe(const std::string& id, const std::string& table,
                              const json::object& extra) {
  json::object request{{"type", "subscribe"}, {"id", id}, {"table", table}};
  for (const auto& [key, value] : extra) request[key] = value;
  ws_.send(json::serialize(request));
  auto answer = reply();
  if (!answer) throw std::runtime_error("no answer to subscribe " + id);
  return *answer;
}

void Inbox::take(json::object& message) {
  auto type = text_of(message.at("type"));
  if (type == "event") {
    EXPECT_EQ(message.size(), 3u) << json::serialize(message);  // type, sub, event
    events[text_of(message.at("sub"))].push_back(message.at("event").as_object());
  } else if (type == "heartbeat") {
    ++heartbeats;
  } else {
    replies.push_back(std::move(message));
  }
}

std::vector<json::object> sse_changes(SseClient& sse, std::size_t n,
                                      std::chrono::milliseconds timeout) {
  std::vector<json::object> out;
  auto deadline = Clock::now() + timeout;
  while (out.size() < n) {
    auto left = left_until(deadline);
    if (left.count() <= 0) break;
    auto event = sse.next(left);
    if (!event) break;
    EXPECT_EQ(event->event, "change") << event->data;
    if (event->event != "change") continue;
    auto data = json::parse(event->data).as_object();
    EXPECT_EQ(event->id, text_of(data.at("id")));
    out.push_back(std::move(data));
  }
  return out;
}

BackgroundWriter::BackgroundWriter(const std::string& url, const std::string& table, int first)
    : last_(first - 1) {
  thread_ = std::thread([this, url, table] {
    pg::Connection db(url);
    while (running_) {
      db.exec("INSERT INTO " + ident(table) + " VALUES (" + std::to_string(last_ + 1) + ")");
      ++last_;
    }
  });
}

int BackgroundWriter::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  return last_;
}

void GatewayTest::SetUp() {
  database_ = unique_name("gw");
  run_sql("CREATE DATABASE " + ident(database_));
  url_ = url_for(database_);
}

void GatewayTest::TearDown() {
  run_sql("DROP DATABASE IF EXISTS " + ident(database_) + " WITH (FORCE)");
}

void GatewayTest::sql(const std::string& text) const {
  pg::Connection(url_).exec_script(text);
}

// The database is the test's own, so a counter makes the name unique (unique_name() cuts long
// test names, counter included, to 60 characters).
std::string GatewayTest::make_table(const std::string& columns) {
  auto name = "events_" + std::to_string(++tables_);
  sql("CREATE TABLE " + ident(name) + " (" + columns + ")");
  install_capture(url_, {ident(name)});
  return name;
}

void GatewayTest::insert_ids(const std::string& table, int first, int last,
                             const std::string& extra) {
  pg::Connection db(url_);
  for (int i = first; i <= last; ++i) {
    db.exec("INSERT INTO " + ident(table) + " VALUES (" + std::to_string(i) + extra + ")");
  }
}

}  // namespace pgpulse::test
