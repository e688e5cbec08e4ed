// The WebSocket JSON protocol of `pgpulse serve` (specified in docs/protocol.md): client
// messages parsed into plain structs, server messages built as JSON text.
//
//   auto message = parse_client_message(R"({"type":"subscribe","id":"s1","table":"messages"})");
//   if (auto* s = std::get_if<SubscribeRequest>(&message)) ...   // s->schema == "public"
//
// Events are serialized once per change and shared by every session. A session frames an
// event by appending event_prefix(sub) + the shared JSON + kEventSuffix (WebSocket) or
// append_sse_event() (SSE) to its send buffer, so fanning out costs one memcpy of the event
// per client and no allocation: many small messages then leave in one write. A subscription
// with a column list frames project_columns(event, columns) instead of the shared JSON.
//
// Nothing here does I/O or keeps state: every function may run on any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hub/event_record.hpp"
#include "pgpulse/change_event.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

/// A client message that the server refuses. `what()` is a human message naming the field and
/// what was expected; `code()` a stable machine code (docs/protocol.md lists them):
/// "invalid_json", "invalid_message", "unknown_type", "invalid_filter", "invalid_cursor".
class ProtocolError : public Error {
 public:
  ProtocolError(std::string code, const std::string& message, std::string id = {})
      : Error(message), code_(std::move(code)), id_(std::move(id)) {}
  const std::string& code() const noexcept { return code_; }
  /// The message's "id" when it had a valid one, else empty: the error reply carries it so
  /// the client knows which request failed.
  const std::string& id() const noexcept { return id_; }

 private:
  std::string code_;
  std::string id_;
};

/// Longest accepted subscription or ping id, in bytes.
inline constexpr std::size_t kMaxIdBytes = 64;

/// {"type":"subscribe",...}: validated, except that the table and columns are not checked
/// against the database (the server does that).
struct SubscribeRequest {
  std::string id;                 ///< 1 to kMaxIdBytes bytes, unique per connection
  std::string schema = "public";  ///< non-empty
  std::string table;              ///< non-empty
  /// Each once, in the order given; all four when the message has no "ops".
  std::vector<Op> ops{Op::kInsert, Op::kUpdate, Op::kDelete, Op::kTruncate};
  std::string filter;                ///< RowFilter text, known to parse; "" matches every row
  std::vector<std::string> columns;  ///< non-empty, distinct names; empty: every column
  std::optional<std::string> from;   ///< cursor text, known to parse; none: from now on
};

/// {"type":"unsubscribe","id":"s1"}
struct UnsubscribeRequest {
  std::string id;
};

/// {"type":"ping"} or {"type":"ping","id":"p1"}: answered with pong(id).
struct PingRequest {
  std::string id;  ///< empty when the ping had none
};

using ClientMessage = std::variant<SubscribeRequest, UnsubscribeRequest, PingRequest>;

/// Parses and validates one client text frame. Unknown fields are ignored (forward
/// compatibility); an optional field that is JSON null counts as absent. Throws ProtocolError.
ClientMessage parse_client_message(std::string_view text);

/// {"type":"subscribed","id":...,"cursor":...}: the subscription is live; events after
/// `cursor` follow.
std::string subscribed(std::string_view id, std::string_view cursor);
/// {"type":"unsubscribed","id":...}
std::string unsubscribed(std::string_view id);
/// {"type":"pong","id":...}, without "id" when `id` is empty.
std::string pong(std::string_view id);
/// {"type":"error","id":...,"code":...,"message":...}, without "id" when `id` is empty.
std::string error_message(std::string_view id, std::string_view code, std::string_view message);
/// {"error":{"code":...,"message":...}} and a newline: the body of an HTTP refusal (SSE).
std::string http_error_body(std::string_view code, std::string_view message);
/// {"type":"heartbeat"}
std::string heartbeat();

/// `{"type":"event","sub":"<subscription_id>","event":` : what precedes the event JSON.
std::string event_prefix(std::string_view subscription_id);
/// What follows the event JSON.
inline constexpr std::string_view kEventSuffix = "}";

/// Appends the WebSocket message of one event, given the subscription's event_prefix().
inline void append_event_message(std::string& out, std::string_view prefix,
                                 std::string_view event_json) {
  out.append(prefix).append(event_json).append(kEventSuffix);
}

/// Appends one Server-Sent Event carrying a change: `id:` is the cursor, so a browser's
/// EventSource resumes from it by itself.
///   id: <cursor>\nevent: change\ndata: <event_json>\n\n
inline void append_sse_event(std::string& out, std::string_view cursor,
                             std::string_view event_json) {
  out.append("id: ")
      .append(cursor)
      .append("\nevent: change\ndata: ")
      .append(event_json)
      .append("\n\n");
}

/// Appends one Server-Sent Event of type `type` with one line of `data` (which holds no
/// newline: every JSON text the server makes is one line).
inline void append_sse_message(std::string& out, std::string_view type, std::string_view data) {
  out.append("event: ").append(type).append("\ndata: ").append(data).append("\n\n");
}

/// `event_json` (an event line, as pgpulse::append_json writes it) with its "new" and "old"
/// rows cut down to the members named in `columns`, kept in the row's order and text; other
/// fields unchanged. Names in `columns` that the row lacks are left out. Costs one scan of the
/// event text and one allocation; values are copied as they are, never re-parsed, so numbers
/// keep every digit. Returns "null" for text that is not a JSON object (never for events the
/// server made).
std::string project_columns(std::string_view event_json, std::span<const std::string> columns);

inline std::string project_columns(const hub::EventRecord& event,
                                   std::span<const std::string> columns) {
  return project_columns(event.json, columns);
}

}  // namespace pgpulse::gateway
