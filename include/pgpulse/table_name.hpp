// pgpulse/table_name.hpp: a table's identity, the typed (schema, name) pair.
//
//   auto t = pgpulse::TableName::parse("a.\"b.c\"");  // {schema "a", name "b.c"}
//   t.quoted();   // "\"a\".\"b.c\"": for SQL text
//   t.display();  // "a.\"b.c\"": for people; quoted only where SQL would need it
//
// Names are kept exactly as PostgreSQL stores them (case-sensitive, any characters), so
// `"a.b".c` and `a."b.c"` are two different tables and stay so: nothing splits a string at a
// dot. Text becomes a TableName only through parse(), written as in SQL, and SQL text is made
// only through quoted().
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace pgpulse {

struct TableName {
  std::string schema{};
  std::string name{};

  /// Parses a table name written as in SQL: `messages`, `public.messages`, `"My Table"`,
  /// `a."b.c"`. Unquoted parts fold to lower case; `""` inside quotes is one `"`. A name
  /// without a schema gets `default_schema`. Throws pgpulse::Error naming what is wrong.
  [[nodiscard]] static TableName parse(std::string_view text,
                                       std::string_view default_schema = "public");

  /// `"schema"."name"`, each part a quoted SQL identifier.
  [[nodiscard]] std::string quoted() const;
  /// `schema.name` with each part quoted only when SQL would need it (capitals, dots, spaces,
  /// quotes, a leading digit, ...), so it reads back through parse() as the same table.
  [[nodiscard]] std::string display() const;

  friend bool operator==(const TableName&, const TableName&) = default;
  friend auto operator<=>(const TableName&, const TableName&) = default;
};

/// `name` as a quoted SQL identifier: in double quotes, each `"` doubled.
[[nodiscard]] std::string quote_identifier(std::string_view name);

/// Parses one SQL identifier (quoted or not) at the start of `text`, removing it from `text`.
/// Throws pgpulse::Error when there is none.
[[nodiscard]] std::string parse_identifier(std::string_view& text);

struct TableNameHash {
  std::size_t operator()(const TableName& table) const noexcept {
    auto h = std::hash<std::string>{}(table.schema);
    // Mixed, so (schema, name) and (name, schema) land apart.
    return h ^ (std::hash<std::string>{}(table.name) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

}  // namespace pgpulse
