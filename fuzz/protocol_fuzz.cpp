// libFuzzer target for what the gateway reads from untrusted clients: client messages, row
// filters, and (from the server's own events) column projection. Besides "no crash, no
// sanitizer report", it checks properties, aborting when one fails:
//   - an accepted subscribe carries a filter and cursor that parse, and every server message
//     built from what was read is valid JSON;
//   - a filter's canonical text parses back to a filter with the same text and the same
//     verdict on the rows;
//   - projecting a valid event object gives valid JSON whose rows hold only listed columns.
// Input: the whole text is tried as each of these; text of the form "filter\nrow JSON" also
// evaluates the filter on that row.
//
// Run: make fuzz [FUZZ_SECONDS=60]
#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "gateway/protocol.hpp"
#include "hub/row_filter.hpp"

namespace {

using pgpulse::gateway::ProtocolError;
using pgpulse::hub::FilterError;
using pgpulse::hub::RowFilter;

void check(bool ok, const char* property) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", property);
    std::abort();
  }
}

bool valid_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse(text, ec);
  return !ec;
}

const boost::json::object& fixed_row() {
  static const auto row = boost::json::parse(R"({
    "id": 42, "room": 5, "neg": -7, "big": 18446744073709551615, "price": 2.5, "huge": 1e300,
    "body": "hello, world", "author": "o'brien", "empty": "", "active": true, "hidden": false,
    "deleted_at": null, "tags": ["a"], "meta": {"k": 1}, "a": "x", "b": 1, "c": null
  })");
  return row.as_object();
}

void fuzz_message(std::string_view text) {
  try {
    auto message = pgpulse::gateway::parse_client_message(text);
    if (auto* subscribe = std::get_if<pgpulse::gateway::SubscribeRequest>(&message)) {
      check(!subscribe->id.empty() && subscribe->id.size() <= pgpulse::gateway::kMaxIdBytes,
            "subscribe id is 1 to 64 bytes");
      check(!subscribe->table.empty() && !subscribe->schema.empty(), "table and schema set");
      check(!subscribe->ops.empty(), "ops not empty");
      RowFilter::parse(subscribe->filter);  // throws (and so fails) if it does not parse
      if (subscribe->from) static_cast<void>(pgpulse::Cursor::parse(*subscribe->from));
      check(valid_json(pgpulse::gateway::subscribed(subscribe->id, "1.2.3")), "subscribed");
      check(valid_json(pgpulse::gateway::event_prefix(subscribe->id) + "{}" +
                       std::string(pgpulse::gateway::kEventSuffix)),
            "event envelope");
    } else if (auto* unsubscribe = std::get_if<pgpulse::gateway::UnsubscribeRequest>(&message)) {
      check(valid_json(pgpulse::gateway::unsubscribed(unsubscribe->id)), "unsubscribed");
    } else if (auto* ping = std::get_if<pgpulse::gateway::PingRequest>(&message)) {
      check(valid_json(pgpulse::gateway::pong(ping->id)), "pong");
    }
  } catch (const ProtocolError& e) {
    check(!e.code().empty(), "error has a code");
    check(valid_json(pgpulse::gateway::error_message(e.id(), e.code(), e.what())), "error");
  }
}

void fuzz_filter(std::string_view text, const boost::json::object* extra_row) {
  RowFilter filter;
  try {
    filter = RowFilter::parse(text);
  } catch (const FilterError&) {
    return;
  }
  auto canonical = filter.to_string();
  auto again = RowFilter::parse(canonical);
  check(again.to_string() == canonical, "canonical text is stable");
  for (const auto* row : {&fixed_row(), extra_row}) {
    if (row == nullptr) continue;
    bool verdict = filter.matches(*row);
    check(again.matches(*row) == verdict, "canonical text keeps the verdict");
    check((filter & again).matches(*row) == verdict, "f & f == f");
    check((filter & RowFilter()).matches(*row) == verdict, "f & empty == f");
  }
  for (const auto& column : filter.columns()) check(!column.empty(), "columns are named");
}

void fuzz_projection(std::string_view text) {
  static const std::vector<std::string> columns{"id", "body", "a"};
  auto projected = pgpulse::gateway::project_columns(text, columns);
  boost::system::error_code ec;
  auto input = boost::json::parse(text, ec);
  if (ec || !input.is_object()) return;
  auto output = boost::json::parse(projected, ec);
  check(!ec && output.is_object(), "projection of an object is an object");
  for (const auto* name : {"new", "old"}) {
    const auto* row = output.as_object().if_contains(name);
    if (row == nullptr || !row->is_object()) continue;
    for (const auto& member : row->as_object()) {
      check(std::find(columns.begin(), columns.end(), std::string_view(member.key())) !=
                columns.end(),
            "projected rows hold only listed columns");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz_message(text);
  fuzz_filter(text, nullptr);
  fuzz_projection(text);
  if (auto newline = text.find('\n'); newline != std::string_view::npos) {
    boost::system::error_code ec;
    auto row = boost::json::parse(text.substr(newline + 1), ec);
    if (!ec && row.is_object()) fuzz_filter(text.substr(0, newline), &row.as_object());
  }
  return 0;
}
