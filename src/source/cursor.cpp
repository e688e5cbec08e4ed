// Cursor text form, version 1 (all numbers decimal, deltas from done.xmin so they stay short):
//
//   1.<done.xmin>.<done.xmax>.<done.xip>.<batch.xmin>.<batch.xmax>.<batch.xip>.<xid>.<seq>
//
// with each xip a '-'-joined list and `xid` empty at a batch boundary. Only characters that
// need no escaping in a URL or an HTTP header, because cursors travel in both.
#include <algorithm>
#include <charconv>

#include "pgpulse/cursor.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse {

namespace {

std::uint64_t parse_number(std::string_view text, std::string_view what) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw InvalidCursor("invalid cursor: bad " + std::string(what));
  }
  return value;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

void append_number(std::string& out, std::uint64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

void append_snapshot(std::string& out, const Snapshot& s, std::uint64_t base) {
  append_number(out, s.xmin - base);
  out += '.';
  append_number(out, s.xmax - base);
  out += '.';
  for (std::size_t i = 0; i < s.xip.size(); ++i) {
    if (i) out += '-';
    append_number(out, s.xip[i] - base);
  }
}

Snapshot parse_snapshot(std::string_view xmin, std::string_view xmax, std::string_view xip,
                        std::uint64_t base) {
  Snapshot s;
  s.xmin = base + parse_number(xmin, "xmin");
  s.xmax = base + parse_number(xmax, "xmax");
  if (!xip.empty()) {
    for (auto part : split(xip, '-')) s.xip.push_back(base + parse_number(part, "xip"));
  }
  bool ordered = std::is_sorted(s.xip.begin(), s.xip.end());
  if (s.xmin > s.xmax || !ordered ||
      (!s.xip.empty() && (s.xip.front() < s.xmin || s.xip.back() >= s.xmax))) {
    throw InvalidCursor("invalid cursor: inconsistent snapshot");
  }
  return s;
}

}  // namespace

Snapshot Snapshot::parse(std::string_view text) {
  auto parts = split(text, ':');
  if (parts.size() != 3) throw InvalidCursor("invalid snapshot: " + std::string(text));
  Snapshot s;
  s.xmin = parse_number(parts[0], "xmin");
  s.xmax = parse_number(parts[1], "xmax");
  if (!parts[2].empty()) {
    for (auto part : split(parts[2], ',')) s.xip.push_back(parse_number(part, "xip"));
  }
  return s;
}

std::string Snapshot::to_string() const {
  std::string out;
  append_number(out, xmin);
  out += ':';
  append_number(out, xmax);
  out += ':';
  for (std::size_t i = 0; i < xip.size(); ++i) {
    if (i) out += ',';
    append_number(out, xip[i]);
  }
  return out;
}

Cursor Cursor::in_log(Snapshot done, Snapshot batch, std::uint64_t xid, std::int64_t seq) {
  Cursor c(Kind::kLog);
  c.done_ = std::move(done);
  c.batch_ = std::move(batch);
  c.xid_ = xid;
  c.seq_ = seq;
  return c;
}

Cursor Cursor::parse(std::string_view text) {
  if (text == "now") return now();
  if (text == "beginning") return beginning();
  auto parts = split(text, '.');
  if (parts.size() != 9 || parts[0] != "1") {
    throw InvalidCursor("invalid cursor: expected \"now\", \"beginning\" or an event id");
  }
  auto base = parse_number(parts[1], "xmin");
  Cursor c(Kind::kLog);
  c.done_ = parse_snapshot("0", parts[2], parts[3], base);
  c.done_.xmin = base;
  if (c.done_.xmax < base) throw InvalidCursor("invalid cursor: inconsistent snapshot");
  c.batch_ = parse_snapshot(parts[4], parts[5], parts[6], base);
  if (!parts[7].empty()) {
    c.xid_ = base + parse_number(parts[7], "xid");
    c.seq_ = static_cast<std::int64_t>(parse_number(parts[8], "seq"));
  } else if (!parts[8].empty()) {
    throw InvalidCursor("invalid cursor: seq without xid");
  }
  return c;
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
  auto base = done_.xmin;
  out += "1.";
  append_number(out, base);
  out += '.';
  append_number(out, done_.xmax - base);
  out += '.';
  for (std::size_t i = 0; i < done_.xip.size(); ++i) {
    if (i) out += '-';
    append_number(out, done_.xip[i] - base);
  }
  out += '.';
  append_snapshot(out, batch_, base);
  out += '.';
  if (xid_ != 0) {
    append_number(out, xid_ - base);
    out += '.';
    append_number(out, static_cast<std::uint64_t>(seq_));
  } else {
    out += '.';
  }
}

std::string Cursor::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

}  // namespace pgpulse
