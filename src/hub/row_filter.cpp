#include "hub/row_filter.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <compare>
#include <cstring>

namespace pgpulse::hub {

namespace {

using filter_detail::Op;
using filter_detail::Term;
using filter_detail::Value;

struct OpName {
  std::string_view name;
  Op op;
};
constexpr std::array<OpName, 8> kOperators{{{"eq", Op::kEq},
                                            {"neq", Op::kNeq},
                                            {"lt", Op::kLt},
                                            {"lte", Op::kLte},
                                            {"gt", Op::kGt},
                                            {"gte", Op::kGte},
                                            {"in", Op::kIn},
                                            {"is", Op::kIsNull}}};  // refined by the value

std::string_view op_name(Op op) {
  switch (op) {
    case Op::kEq:
      return "eq";
    case Op::kNeq:
      return "neq";
    case Op::kLt:
      return "lt";
    case Op::kLte:
      return "lte";
    case Op::kGt:
      return "gt";
    case Op::kGte:
      return "gte";
    case Op::kIn:
      return "in";
    case Op::kIsNull:
    case Op::kIsTrue:
    case Op::kIsFalse:
      return "is";
  }
  return "?";
}

template <class Number>
bool parse_number(std::string_view text, Number& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

Value make_value(std::string text) {
  Value value;
  value.has_int64 = parse_number(text, value.int64);
  value.has_uint64 = parse_number(text, value.uint64);
  value.has_real = parse_number(text, value.real) && std::isfinite(value.real);
  if (text == "true" || text == "false") {
    value.has_bool = true;
    value.boolean = text == "true";
  }
  value.text = std::move(text);
  return value;
}

// Reads one filter text from left to right; every error names the term it is in.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  std::vector<Term> parse() {
    std::vector<Term> terms;
    while (true) {
      terms.push_back(term());
      if (at_ == text_.size()) return terms;
      ++at_;  // the '&' after the term
    }
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    // The term as written: from its start to the next '&' at or after where reading stopped.
    auto end = text_.find('&', at_);
    auto term = text_.substr(start_, end == std::string_view::npos ? end : end - start_);
    if (term.empty()) {
      throw FilterError(problem + " in filter \"" + std::string(text_) + "\"");
    }
    throw FilterError(problem + " in \"" + std::string(term) + "\"");
  }

  // The text from the read position up to the next '&' (or the end), consumed.
  std::string_view rest_of_term() {
    auto end = text_.find('&', at_);
    if (end == std::string_view::npos) end = text_.size();
    auto rest = text_.substr(at_, end - at_);
    at_ = end;
    return rest;
  }

  Term term() {
    start_ = at_;
    Term term;
    if (at_ == text_.size() || text_[at_] == '&') fail("empty term");
    auto end = text_.find_first_of("=&", at_);
    if (end == std::string_view::npos || text_[end] == '&') {
      at_ = end == std::string_view::npos ? text_.size() : end;
      fail("missing \"=\" between column and operator");
    }
    if (end == at_) fail("empty column name");
    term.column = text_.substr(at_, end - at_);
    at_ = end + 1;
    operation(term, /*negation_allowed=*/true);
    return term;
  }

  void operation(Term& term, bool negation_allowed) {
    auto from = at_;
    auto dot = text_.find_first_of(".&", at_);
    if (dot == std::string_view::npos || text_[dot] == '&') {
      auto word = rest_of_term();
      for (const auto& known : kOperators) {
        if (word.starts_with(known.name)) fail("missing \".\" after operator");
      }
      if (word.empty()) fail("missing operator after \"=\"");
      fail("unknown operator \"" + std::string(word) + "\"");
    }
    auto name = text_.substr(from, dot - from);
    at_ = dot + 1;
    if (name == "not") {
      if (!negation_allowed) fail("\"not\" twice");
      term.negated = true;
      operation(term, false);
      return;
    }
    for (const auto& known : kOperators) {
      if (name != known.name) continue;
      term.op = known.op;
      if (term.op == Op::kIn) {
        list(term);
      } else if (term.op == Op::kIsNull) {
        is_value(term);
      } else {
        term.values.push_back(make_value(std::string(rest_of_term())));
      }
      return;
    }
    if (name.empty()) fail("missing operator after \"=\"");
    fail("unknown operator \"" + std::string(name) + "\"");
  }

  void is_value(Term& term) {
    auto value = rest_of_term();
    if (value == "null") {
      term.op = Op::kIsNull;
    } else if (value == "true") {
      term.op = Op::kIsTrue;
    } else if (value == "false") {
      term.op = Op::kIsFalse;
    } else {
      fail("\"is\" takes null, true or false, not \"" + std::string(value) + "\"");
    }
  }

  // `(item,item,...)` up to the closing parenthesis, which must end the term.
  void list(Term& term) {
    if (at_ == text_.size() || text_[at_] != '(') {
      fail("\"in\" takes a list in parentheses, such as in.(1,2)");
    }
    ++at_;
    if (at_ < text_.size() && text_[at_] == ')') {
      ++at_;
    } else {
      while (true) {
        bool quoted = at_ < text_.size() && text_[at_] == '"';
        term.values.push_back(make_value(quoted ? quoted_item() : plain_item()));
        if (at_ == text_.size()) fail("missing \")\" at the end of the list");
        char c = text_[at_++];
        if (c == ')') break;
        if (c != ',') fail("expected \",\" or \")\" after a quoted value");
      }
    }
    if (at_ < text_.size() && text_[at_] != '&') fail("unexpected text after \")\"");
  }

  std::string plain_item() {
    auto end = text_.find_first_of(",)", at_);
    if (end == std::string_view::npos) end = text_.size();
    std::string item(text_.substr(at_, end - at_));
    at_ = end;
    return item;
  }

  std::string quoted_item() {
    std::string item;
    for (++at_; at_ < text_.size(); ++at_) {
      char c = text_[at_];
      if (c == '"') {
        ++at_;
        return item;
      }
      if (c == '\\') {
        if (++at_ == text_.size()) break;
        c = text_[at_];
      }
      item += c;
    }
    fail("unterminated quoted value");
  }

  std::string_view text_;
  std::size_t at_ = 0;
  std::size_t start_ = 0;  // of the term being read
};

// Three-valued logic, as SQL: a comparison with a value of another type is unknown.
enum class Truth : std::uint8_t { kFalse, kTrue, kUnknown };

Truth truth(bool b) {
  return b ? Truth::kTrue : Truth::kFalse;
}

constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr double kTwoTo64 = 18446744073709551616.0;

// Exact comparisons of an integer with a double (converting either to the other rounds).
std::partial_ordering compare_int_real(std::int64_t i, double d) noexcept {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d >= kTwoTo63) return std::partial_ordering::less;
  if (d < -kTwoTo63) return std::partial_ordering::greater;
  double whole = std::trunc(d);  // now within int64
  auto as_int = static_cast<std::int64_t>(whole);
  if (i != as_int) return i <=> as_int;
  return 0.0 <=> d - whole;  // exact: the fraction decides
}

std::partial_ordering compare_uint_real(std::uint64_t u, double d) noexcept {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d < 0) return std::partial_ordering::greater;
  if (d >= kTwoTo64) return std::partial_ordering::less;
  double whole = std::trunc(d);
  auto as_uint = static_cast<std::uint64_t>(whole);
  if (u != as_uint) return u <=> as_uint;
  return 0.0 <=> d - whole;
}

std::partial_ordering reversed(std::partial_ordering order) noexcept {
  return 0 <=> order;
}

// The row's value against the filter's, by the row value's JSON type.
std::partial_ordering compare(const boost::json::value& cell, const Value& value) noexcept {
  using std::partial_ordering;
  switch (cell.kind()) {
    case boost::json::kind::int64: {
      auto i = cell.get_int64();
      if (value.has_int64) return i <=> value.int64;
      if (value.has_uint64) return partial_ordering::less;  // above int64's range
      if (value.has_real) return compare_int_real(i, value.real);
      return partial_ordering::unordered;
    }
    case boost::json::kind::uint64: {
      auto u = cell.get_uint64();
      if (value.has_uint64) return u <=> value.uint64;
      if (value.has_int64) return partial_ordering::greater;  // negative
      if (value.has_real) return compare_uint_real(u, value.real);
      return partial_ordering::unordered;
    }
    case boost::json::kind::double_: {
      auto d = cell.get_double();
      if (value.has_int64) return reversed(compare_int_real(value.int64, d));
      if (value.has_uint64) return reversed(compare_uint_real(value.uint64, d));
      if (value.has_real) return d <=> value.real;
      return partial_ordering::unordered;
    }
    case boost::json::kind::string: {
      const auto& s = cell.get_string();
      // char_traits<char> compares as unsigned char: byte-wise, so UTF-8 code point order.
      return std::string_view(s.data(), s.size()) <=> std::string_view(value.text);
    }
    case boost::json::kind::bool_:
      if (!value.has_bool) return partial_ordering::unordered;
      return static_cast<int>(cell.get_bool()) <=> static_cast<int>(value.boolean);
    default:  // null, arrays and objects compare with nothing
      return partial_ordering::unordered;
  }
}

// The row's value of `column`, or null. Rows have a few dozen columns at most: comparing
// lengths, then bytes, inline, beats Boost.JSON's out-of-line, hashing find() (2.5x on a
// 6-column row). Wide rows use find().
const boost::json::value* find_column(const boost::json::object& row,
                                      const std::string& column) noexcept {
  constexpr std::size_t kScanLimit = 64;
  if (row.size() > kScanLimit) return row.if_contains(column);
  for (const auto& member : row) {
    auto key = member.key();
    if (key.size() == column.size() && std::memcmp(key.data(), column.data(), key.size()) == 0) {
      return &member.value();
    }
  }
  return nullptr;
}

Truth evaluate(const Term& term, const boost::json::object& row) noexcept {
  const auto* cell = find_column(row, term.column);
  if (cell == nullptr) return Truth::kUnknown;
  switch (term.op) {
    case Op::kIsNull:
      return truth(cell->is_null());
    case Op::kIsTrue:
    case Op::kIsFalse:
      if (cell->is_null()) return Truth::kFalse;
      if (!cell->is_bool()) return Truth::kUnknown;
      return truth(cell->get_bool() == (term.op == Op::kIsTrue));
    case Op::kIn: {
      auto result = Truth::kFalse;
      for (const auto& value : term.values) {
        auto order = compare(*cell, value);
        if (order == 0) return Truth::kTrue;
        if (order == std::partial_ordering::unordered) result = Truth::kUnknown;
      }
      return result;
    }
    default:
      break;
  }
  auto order = compare(*cell, term.values.front());
  if (order == std::partial_ordering::unordered) return Truth::kUnknown;
  switch (term.op) {
    case Op::kEq:
      return truth(order == 0);
    case Op::kNeq:
      return truth(order != 0);
    case Op::kLt:
      return truth(order < 0);
    case Op::kLte:
      return truth(order <= 0);
    case Op::kGt:
      return truth(order > 0);
    case Op::kGte:
      return truth(order >= 0);
    default:
      return Truth::kUnknown;
  }
}

// How an `in` item is written so that parse() reads it back unchanged.
void append_item(std::string& out, const std::string& item) {
  if (!item.empty() && item.find_first_of(",()\"\\&") == std::string::npos) {
    out += item;
    return;
  }
  out += '"';
  for (char c : item) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

RowFilter RowFilter::parse(std::string_view text) {
  RowFilter filter;
  if (!text.empty()) filter.terms_ = Parser(text).parse();
  return filter;
}

bool RowFilter::matches(const boost::json::object& row) const noexcept {
  for (const auto& term : terms_) {
    auto result = evaluate(term, row);
    if (term.negated) {
      if (result != Truth::kFalse) return false;  // NOT true and NOT unknown do not hold
    } else if (result != Truth::kTrue) {
      return false;
    }
  }
  return true;
}

RowFilter RowFilter::operator&(const RowFilter& other) const {
  RowFilter both = *this;
  both.terms_.insert(both.terms_.end(), other.terms_.begin(), other.terms_.end());
  return both;
}

std::vector<std::string> RowFilter::columns() const {
  std::vector<std::string> columns;
  for (const auto& term : terms_) {
    if (std::find(columns.begin(), columns.end(), term.column) == columns.end()) {
      columns.push_back(term.column);
    }
  }
  return columns;
}

std::string RowFilter::to_string() const {
  std::string out;
  for (const auto& term : terms_) {
    if (!out.empty()) out += '&';
    out += term.column;
    out += '=';
    if (term.negated) out += "not.";
    out += op_name(term.op);
    out += '.';
    switch (term.op) {
      case Op::kIsNull:
        out += "null";
        break;
      case Op::kIsTrue:
        out += "true";
        break;
      case Op::kIsFalse:
        out += "false";
        break;
      case Op::kIn:
        out += '(';
        for (std::size_t i = 0; i < term.values.size(); ++i) {
          if (i > 0) out += ',';
          append_item(out, term.values[i].text);
        }
        out += ')';
        break;
      default:
        out += term.values.front().text;
    }
  }
  return out;
}

}  // namespace pgpulse::hub
