#include "hub/event_record.hpp"

#include <boost/json/parse.hpp>
#include <charconv>
#include <string_view>

namespace pgpulse::hub {

namespace {

// Reads exactly `n` digits at `at` into `out`; false if they are not all digits.
bool digits(std::string_view text, std::size_t at, std::size_t n, int& out) {
  if (at + n > text.size()) return false;
  auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + n, out);
  return ec == std::errc() && end == text.data() + at + n;
}

// "2026-11-24T07:42:31.052509Z" -> time_point (the reader always writes this UTC form). By
// hand: sscanf and timegm cost a quarter of building a record (bench/micro).
std::chrono::system_clock::time_point parse_commit_time(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, micros = 0;
  if (!digits(text, 0, 4, year) || !digits(text, 5, 2, month) || !digits(text, 8, 2, day) ||
      !digits(text, 11, 2, hour) || !digits(text, 14, 2, minute) || !digits(text, 17, 2, second)) {
    return std::chrono::system_clock::now();
  }
  if (text.size() > 20 && text[19] == '.') {
    std::size_t end = 20;
    while (end < text.size() && end < 26 && text[end] >= '0' && text[end] <= '9') ++end;
    digits(text, 20, end - 20, micros);
    for (auto n = end - 20; n < 6; ++n) micros *= 10;
  }
  using namespace std::chrono;
  sys_days date =
      year_month_day{std::chrono::year(year), std::chrono::month(month), std::chrono::day(day)};
  return system_clock::time_point(date.time_since_epoch() + hours(hour) + minutes(minute) +
                                  seconds(second) + microseconds(micros));
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
  record->table = TableName{event.schema, event.table};
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
