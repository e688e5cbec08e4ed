#include "pgpulse/table_name.hpp"

#include "pgpulse/error.hpp"

namespace pgpulse {

namespace {

bool is_plain_start(char c) {
  return (c >= 'a' && c <= 'z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_plain_char(char c) {
  return is_plain_start(c) || (c >= '0' && c <= '9') || c == '$';
}

// Whether `name` reads back unquoted as itself (lower case, no special characters). Keywords
// are not checked: display() is for people, quoted() for SQL.
bool needs_quotes(std::string_view name) {
  if (name.empty() || !is_plain_start(name.front())) return true;
  for (char c : name) {
    if (!is_plain_char(c)) return true;
  }
  return false;
}

std::string fold_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string quote_identifier(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += '"';
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string parse_identifier(std::string_view& text) {
  if (text.empty()) throw Error("expected a name");
  if (text.front() == '"') {
    std::string out;
    std::size_t i = 1;
    for (;; ++i) {
      if (i >= text.size()) throw Error("unterminated quoted name");
      if (text[i] == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          out += '"';
          ++i;
          continue;
        }
        break;
      }
      out += text[i];
    }
    if (out.empty()) throw Error("a quoted name must not be empty");
    text.remove_prefix(i + 1);
    return out;
  }
  std::size_t n = 0;
  auto plain = [](char c) { return is_plain_char(c) || (c >= 'A' && c <= 'Z'); };
  if (!plain(text.front()) || (text.front() >= '0' && text.front() <= '9') || text.front() == '$') {
    throw Error("unexpected character '" + std::string(1, text.front()) + "' in a name");
  }
  while (n < text.size() && plain(text[n])) ++n;
  auto out = fold_lower(text.substr(0, n));
  text.remove_prefix(n);
  return out;
}

TableName TableName::parse(std::string_view text, std::string_view default_schema) {
  auto original = text;
  try {
    auto first = parse_identifier(text);
    if (text.empty()) return TableName{std::string(default_schema), std::move(first)};
    if (text.front() != '.') throw Error("unexpected text after a name");
    text.remove_prefix(1);
    auto second = parse_identifier(text);
    if (!text.empty()) throw Error("expected schema.table");
    return TableName{std::move(first), std::move(second)};
  } catch (const Error& e) {
    throw Error("bad table name '" + std::string(original) + "': " + e.what());
  }
}

std::string TableName::quoted() const {
  return quote_identifier(schema) + "." + quote_identifier(name);
}

std::string TableName::display() const {
  auto part = [](const std::string& s) { return needs_quotes(s) ? quote_identifier(s) : s; };
  return part(schema) + "." + part(name);
}

}  // namespace pgpulse
