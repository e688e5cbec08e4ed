#include "gateway/protocol.hpp"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "hub/row_filter.hpp"
#include "pgpulse/cursor.hpp"
#include "util/json_text.hpp"

namespace pgpulse::gateway {

namespace {

constexpr std::array<Op, 4> kOps{Op::kInsert, Op::kUpdate, Op::kDelete, Op::kTruncate};

std::string_view view(const boost::json::string& s) {
  return {s.data(), s.size()};
}

// Reads the fields of one message object; errors name the field and carry the message's id.
class Fields {
 public:
  explicit Fields(const boost::json::object& object) : object_(object) {}

  [[noreturn]] void fail(const std::string& message, const char* code = "invalid_message") const {
    throw ProtocolError(code, message, id_);
  }

  // The field, or null when it is absent or JSON null.
  const boost::json::value* find(std::string_view name) const {
    const auto* value = object_.if_contains(name);
    return value == nullptr || value->is_null() ? nullptr : value;
  }

  std::optional<std::string> string(std::string_view name) const {
    const auto* value = find(name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) fail("field \"" + std::string(name) + "\" must be a string");
    return std::string(view(value->get_string()));
  }

  std::string required_string(std::string_view name) const {
    auto value = string(name);
    if (!value) fail("missing field \"" + std::string(name) + "\"");
    if (value->empty()) fail("field \"" + std::string(name) + "\" must not be empty");
    return std::move(*value);
  }

  // A list of non-empty strings, given as a non-empty JSON array.
  std::optional<std::vector<std::string>> strings(std::string_view name) const {
    const auto* value = find(name);
    if (value == nullptr) return std::nullopt;
    auto expected = "field \"" + std::string(name) + "\" must be an array of strings";
    if (!value->is_array()) fail(expected);
    const auto& array = value->get_array();
    if (array.empty()) fail("field \"" + std::string(name) + "\" must not be an empty array");
    std::vector<std::string> items;
    items.reserve(array.size());
    for (const auto& item : array) {
      if (!item.is_string()) fail(expected);
      const auto& s = item.get_string();
      if (s.empty()) fail("field \"" + std::string(name) + "\" must not contain \"\"");
      items.emplace_back(s.data(), s.size());
    }
    return items;
  }

  // Remembers a well-formed "id" for the errors that follow, before anything is checked.
  void remember_id() {
    const auto* value = find("id");
    if (value != nullptr && value->is_string() && !value->get_string().empty() &&
        value->get_string().size() <= kMaxIdBytes) {
      id_ = view(value->get_string());
    }
  }

  // "id": 1 to kMaxIdBytes bytes.
  std::optional<std::string> id(bool required) const {
    auto id = string("id");
    if (!id) {
      if (required) fail("missing field \"id\"");
      return id;
    }
    if (id->empty() || id->size() > kMaxIdBytes) {
      fail("field \"id\" must be 1 to " + std::to_string(kMaxIdBytes) + " bytes long");
    }
    return id;
  }

 private:
  const boost::json::object& object_;
  std::string id_;
};

std::vector<Op> parse_ops(const Fields& fields) {
  auto names = fields.strings("ops");
  if (!names) return {kOps.begin(), kOps.end()};
  std::vector<Op> ops;
  for (const auto& name : *names) {
    auto op = std::find_if(kOps.begin(), kOps.end(), [&](Op o) { return to_string(o) == name; });
    if (op == kOps.end()) {
      fields.fail("unknown op \"" + name +
                  "\" in field \"ops\" (expected INSERT, UPDATE, DELETE or TRUNCATE)");
    }
    if (std::find(ops.begin(), ops.end(), *op) == ops.end()) ops.push_back(*op);
  }
  return ops;
}

SubscribeRequest parse_subscribe(const Fields& fields) {
  SubscribeRequest request;
  request.id = *fields.id(/*required=*/true);
  request.table = fields.required_string("table");
  if (auto schema = fields.string("schema")) {
    if (schema->empty()) fields.fail("field \"schema\" must not be empty");
    request.schema = std::move(*schema);
  }
  request.ops = parse_ops(fields);
  if (auto columns = fields.strings("columns")) {
    for (auto it = columns->begin(); it != columns->end(); ++it) {
      if (std::find(columns->begin(), it, *it) != it) {
        fields.fail("field \"columns\" lists \"" + *it + "\" twice");
      }
    }
    request.columns = std::move(*columns);
  }
  if (auto filter = fields.string("filter")) {
    try {
      hub::RowFilter::parse(*filter);
    } catch (const hub::FilterError& e) {
      fields.fail(e.what(), "invalid_filter");
    }
    request.filter = std::move(*filter);
  }
  if (auto from = fields.string("from")) {
    try {
      static_cast<void>(Cursor::parse(*from));  // only checked: kept as the client sent it
    } catch (const InvalidCursor& e) {
      fields.fail(e.what(), "invalid_cursor");
    }
    request.from = std::move(*from);
  }
  return request;
}

// Starts a server message: {"type":"<type>"
std::string message_head(std::string_view type) {
  std::string out = "{\"type\":\"";
  out += type;
  out += '"';
  return out;
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":";
  json_text::append_string(out, value);
}

// A forward-only reader of JSON text that is known to be valid, for project_columns(): it
// finds where values begin and end without building them. Every read is bounds-checked, so
// invalid text makes it report failure, never read past the end.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool done() const { return at_ >= text_.size(); }

  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (at_ >= text_.size() || text_[at_] != c) return false;
    ++at_;
    return true;
  }

  bool peek(char c) {
    skip_space();
    return at_ < text_.size() && text_[at_] == c;
  }

  // A string literal, quotes included.
  std::optional<std::string_view> string() {
    skip_space();
    if (at_ >= text_.size() || text_[at_] != '"') return std::nullopt;
    auto start = at_++;
    while (at_ < text_.size()) {
      char c = text_[at_++];
      if (c == '"') return text_.substr(start, at_ - start);
      if (c == '\\') ++at_;
    }
    return std::nullopt;
  }

  // Any value, as written.
  std::optional<std::string_view> value() {
    skip_space();
    if (at_ >= text_.size()) return std::nullopt;
    auto start = at_;
    char c = text_[at_];
    if (c == '"') return string();
    if (c == '{' || c == '[') {
      int depth = 0;
      while (at_ < text_.size()) {
        c = text_[at_];
        if (c == '"') {
          if (!string()) return std::nullopt;
          continue;
        }
        ++at_;
        if (c == '{' || c == '[') ++depth;
        if ((c == '}' || c == ']') && --depth == 0) return text_.substr(start, at_ - start);
      }
      return std::nullopt;
    }
    while (at_ < text_.size() &&
           std::string_view(",}] \t\n\r").find(text_[at_]) == std::string_view::npos) {
      ++at_;
    }
    if (at_ == start) return std::nullopt;
    return text_.substr(start, at_ - start);
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

// The name a key literal stands for: its text between the quotes, unescaped if need be.
std::string_view key_name(std::string_view literal, std::string& buffer) {
  auto inner = literal.substr(1, literal.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return inner;
  boost::system::error_code ec;
  auto parsed = boost::json::parse(literal, ec);
  if (ec || !parsed.is_string()) return inner;
  buffer.assign(parsed.get_string().data(), parsed.get_string().size());
  return buffer;
}

bool listed(std::string_view name, std::span<const std::string> columns) {
  return std::find(columns.begin(), columns.end(), name) != columns.end();
}

// Appends the members of the row object `scanner` is at whose names are in `columns`.
bool append_projected_row(Scanner& scanner, std::span<const std::string> columns,
                          std::string& out) {
  if (!scanner.consume('{')) return false;
  out += '{';
  std::string buffer;
  bool any = false;
  for (bool first = true; !scanner.consume('}'); first = false) {
    if (!first && !scanner.consume(',')) return false;
    auto key = scanner.string();
    if (!key || !scanner.consume(':')) return false;
    auto value = scanner.value();
    if (!value) return false;
    if (listed(key_name(*key, buffer), columns)) {
      if (any) out += ',';
      any = true;
      out += *key;
      out += ':';
      out += *value;
    }
  }
  out += '}';
  return true;
}

bool append_projected_event(std::string_view event_json, std::span<const std::string> columns,
                            std::string& out) {
  Scanner scanner(event_json);
  if (!scanner.consume('{')) return false;
  out += '{';
  std::string buffer;
  for (bool first = true; !scanner.consume('}'); first = false) {
    if (!first && !scanner.consume(',')) return false;
    auto key = scanner.string();
    if (!key || !scanner.consume(':')) return false;
    if (!first) out += ',';
    out += *key;
    out += ':';
    auto name = key_name(*key, buffer);
    if ((name == "new" || name == "old") && scanner.peek('{')) {
      if (!append_projected_row(scanner, columns, out)) return false;
    } else {
      auto value = scanner.value();
      if (!value) return false;
      out += *value;
    }
  }
  out += '}';
  scanner.skip_space();
  return scanner.done();
}

}  // namespace

ClientMessage parse_client_message(std::string_view text) {
  boost::system::error_code ec;
  auto json = boost::json::parse(text, ec);
  if (ec) throw ProtocolError("invalid_json", "the message is not valid JSON: " + ec.message());
  if (!json.is_object()) throw ProtocolError("invalid_message", "a message must be a JSON object");
  Fields fields(json.get_object());
  fields.remember_id();
  const auto* type_value = fields.find("type");
  if (type_value == nullptr) fields.fail("missing field \"type\"");
  if (!type_value->is_string()) fields.fail("field \"type\" must be a string");
  auto type = view(type_value->get_string());
  if (type == "subscribe") return parse_subscribe(fields);
  if (type == "unsubscribe") return UnsubscribeRequest{*fields.id(/*required=*/true)};
  if (type == "ping") return PingRequest{fields.id(/*required=*/false).value_or("")};
  fields.fail("unknown message type \"" + std::string(type) +
                  "\" (expected subscribe, unsubscribe or ping)",
              "unknown_type");
}

std::string subscribed(std::string_view id, std::string_view cursor) {
  auto out = message_head("subscribed");
  append_field(out, "id", id);
  append_field(out, "cursor", cursor);
  out += '}';
  return out;
}

std::string unsubscribed(std::string_view id) {
  auto out = message_head("unsubscribed");
  append_field(out, "id", id);
  out += '}';
  return out;
}

std::string pong(std::string_view id) {
  auto out = message_head("pong");
  if (!id.empty()) append_field(out, "id", id);
  out += '}';
  return out;
}

std::string error_message(std::string_view id, std::string_view code, std::string_view message) {
  auto out = message_head("error");
  if (!id.empty()) append_field(out, "id", id);
  append_field(out, "code", code);
  append_field(out, "message", message);
  out += '}';
  return out;
}

std::string http_error_body(std::string_view code, std::string_view message) {
  std::string out = R"({"error":{"code":)";
  json_text::append_string(out, code);
  out += R"(,"message":)";
  json_text::append_string(out, message);
  out += "}}\n";
  return out;
}

std::string heartbeat() {
  return R"({"type":"heartbeat"})";
}

std::string event_prefix(std::string_view subscription_id) {
  auto out = message_head("event");
  append_field(out, "sub", subscription_id);
  out += ",\"event\":";
  return out;
}

std::string project_columns(std::string_view event_json, std::span<const std::string> columns) {
  std::string out;
  out.reserve(event_json.size());
  if (!append_projected_event(event_json, columns, out)) return "null";
  return out;
}

}  // namespace pgpulse::gateway
