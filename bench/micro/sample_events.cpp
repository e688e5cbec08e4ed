#include "sample_events.hpp"

#include <string_view>

namespace pgpulse::bench {

namespace {

constexpr std::size_t kSmallRowBytes = 150;
constexpr std::size_t kLargeRowBytes = 4096;

// Body text as row_to_json writes it: quotes and line breaks escaped, so the escaping-aware
// scanners and parsers meet backslashes as in real rows.
constexpr std::string_view kProse =
    "Meeting moved to 5pm, see \\\"agenda v2\\\" in the shared folder.\\n"
    "Bring the numbers for Q3; we go through them line by line. ";

}  // namespace

std::size_t row_bytes(RowSize size) {
  return size == RowSize::kSmall ? kSmallRowBytes : kLargeRowBytes;
}

std::string sample_row(RowSize size, std::int64_t n) {
  auto id = std::to_string(1'000'000 + n);
  std::string head = "{\"id\":" + id + ",\"room\":5,\"author\":\"linus\",\"body\":\"#" + id + " ";
  std::string tail = "\",\"created_at\":\"2024-05-01T12:34:56.789012+00:00\",\"edited_at\":null}";
  // The body fills the row up to its size, cut where no escape sequence is split.
  std::size_t body_bytes = row_bytes(size) - head.size() - tail.size();
  std::string body;
  while (body.size() < body_bytes) body += kProse;
  body.resize(body_bytes);
  while (!body.empty() && body.back() == '\\') body.back() = '.';
  return head + body + tail;
}

ChangeEvent sample_event(RowSize size, std::int64_t n) {
  ChangeEvent event;
  event.id = Cursor::at(n, 1);
  event.schema = "public";
  event.table = "messages";
  event.op = Op::kInsert;
  event.new_row = sample_row(size, n);
  event.commit_time = "2024-05-01T12:34:56.789012Z";
  event.xid = 7'312'000 + static_cast<std::uint64_t>(n);
  return event;
}

}  // namespace pgpulse::bench
