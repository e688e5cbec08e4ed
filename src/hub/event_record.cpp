#include "hub/event_record.hpp"

#include <boost/json/parse.hpp>
#include <ctime>

namespace pgpulse::hub {

namespace {

// "2026-11-24T07:42:31.052509Z" -> time_point (the reader always writes this UTC form).
std::chrono::system_clock::time_point parse_commit_time(const std::string& text) {
  std::tm tm{};
  int micros = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &micros) < 6) {
    return std::chrono::system_clock::now();
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::microseconds(micros);
}

boost::json::object parse_row(const std::optional<std::string>& text) {
  if (!text) return {};
  boost::system::error_code ec;
  auto value = boost::json::parse(*text, ec);
  return !ec && value.is_object() ? std::move(value.as_object()) : boost::json::object();
}

}  // namespace

SharedEvent make_record(const ChangeEvent& event) {
  auto record = std::make_shared<EventRecord>();
  record->id = event.id;
  record->id_text = event.id.to_string();
  record->schema = event.schema;
  record->table = event.table;
  record->op = event.op;
  record->has_new = event.new_row.has_value();
  record->has_old = event.old_row.has_value();
  record->new_row = parse_row(event.new_row);
  record->old_row = parse_row(event.old_row);
  append_json(event, record->json);
  record->commit_time = parse_commit_time(event.commit_time);
  return record;
}

}  // namespace pgpulse::hub
