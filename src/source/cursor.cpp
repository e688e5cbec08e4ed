// Cursor text form, version 1:  "1.<position>" (after a whole transaction) or
// "1.<position>.<seq>" (after one of its changes). Only characters that need no escaping in
// a URL or an HTTP header, because cursors travel in both.
#include "pgpulse/cursor.hpp"

#include <charconv>

#include "pgpulse/error.hpp"

namespace pgpulse {

namespace {

std::int64_t parse_number(std::string_view text) {
  std::int64_t value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    throw InvalidCursor("invalid cursor: expected \"now\", \"beginning\" or an event id");
  }
  return value;
}

void append_number(std::string& out, std::int64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

}  // namespace

Cursor Cursor::at(std::int64_t position, std::int64_t seq) {
  Cursor c(Kind::kLog);
  c.position_ = position;
  c.seq_ = seq;
  return c;
}

Cursor Cursor::parse(std::string_view text) {
  if (text == "now") return now();
  if (text == "beginning") return beginning();
  if (!text.starts_with("1.")) parse_number("x");  // throws the one message
  text.remove_prefix(2);
  auto dot = text.find('.');
  if (dot == std::string_view::npos) return at(parse_number(text));
  return at(parse_number(text.substr(0, dot)), parse_number(text.substr(dot + 1)));
}

void Cursor::append_to(std::string& out) const {
  switch (kind_) {
    case Kind::kNow:
      out += "now";
      return;
    case Kind::kBeginning:
      out += "beginning";
      return;
    case Kind::kLog:
      break;
  }
  out += "1.";
  append_number(out, position_);
  if (seq_ != kWholeTransaction) {
    out += '.';
    append_number(out, seq_);
  }
}

std::string Cursor::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

}  // namespace pgpulse
