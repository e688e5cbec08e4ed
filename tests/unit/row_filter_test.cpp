#include "hub/row_filter.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace pgpulse::hub {
namespace {

// A row as row_to_json makes it, with a column of every JSON type.
const boost::json::object& row() {
  static const auto value = boost::json::parse(R"({
    "id": 42, "room": 5, "neg": -7, "big": 18446744073709551615, "price": 2.5,
    "body": "hello, world", "author": "o'brien", "empty": "", "word": "true",
    "active": true, "hidden": false, "deleted_at": null,
    "tags": ["a", "b"], "meta": {"k": 1}, "odd=name": 1, "caf\u00e9": "cr\u00e8me"
  })");
  return value.as_object();
}

bool matches(std::string_view filter) {
  return RowFilter::parse(filter).matches(row());
}

bool matches(std::string_view filter, std::string_view row_json) {
  return RowFilter::parse(filter).matches(boost::json::parse(row_json).as_object());
}

// The message of the FilterError that `filter` raises.
std::string error_of(std::string_view filter) {
  try {
    RowFilter::parse(filter);
  } catch (const FilterError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RowFilter, EmptyTextMatchesEveryRow) {
  auto filter = RowFilter::parse("");
  EXPECT_TRUE(filter.empty());
  EXPECT_TRUE(filter.matches(row()));
  EXPECT_TRUE(filter.matches(boost::json::object()));
  EXPECT_TRUE(RowFilter().matches(row()));
}

TEST(RowFilter, EqAndNeqCompareNumbersNumerically) {
  EXPECT_TRUE(matches("room=eq.5"));
  EXPECT_FALSE(matches("room=eq.6"));
  EXPECT_TRUE(matches("room=eq.5.0"));
  EXPECT_TRUE(matches("room=eq.5e0"));
  EXPECT_TRUE(matches("room=neq.6"));
  EXPECT_FALSE(matches("room=neq.5"));
  EXPECT_TRUE(matches("neg=eq.-7"));
}

TEST(RowFilter, OrderingOperatorsCompareNumbers) {
  EXPECT_TRUE(matches("room=lt.6"));
  EXPECT_FALSE(matches("room=lt.5"));
  EXPECT_TRUE(matches("room=lte.5"));
  EXPECT_FALSE(matches("room=lte.4"));
  EXPECT_TRUE(matches("room=gt.4"));
  EXPECT_FALSE(matches("room=gt.5"));
  EXPECT_TRUE(matches("room=gte.5"));
  EXPECT_FALSE(matches("room=gte.6"));
  EXPECT_TRUE(matches("room=gt.-10"));
  EXPECT_TRUE(matches("neg=lt.0"));
}

TEST(RowFilter, IntegerColumnsCompareExactlyWithFractions) {
  EXPECT_TRUE(matches("room=lt.5.5"));
  EXPECT_TRUE(matches("room=gt.4.999"));
  EXPECT_FALSE(matches("room=eq.5.000001"));
  EXPECT_TRUE(matches("neg=lt.-6.5"));
  EXPECT_TRUE(matches("neg=gt.-7.5"));
  EXPECT_TRUE(matches("room=lt.1e300"));
  EXPECT_TRUE(matches("room=gt.-1e300"));
}

TEST(RowFilter, LargeIntegersCompareWithoutRoundingThroughDouble) {
  // 2^53 + 1 is not a double: comparing through double would call these equal.
  EXPECT_FALSE(matches("n=eq.9007199254740992", R"({"n":9007199254740993})"));
  EXPECT_TRUE(matches("n=gt.9007199254740992", R"({"n":9007199254740993})"));
  EXPECT_TRUE(matches("n=gt.9007199254740992.0", R"({"n":9007199254740993})"));
  EXPECT_TRUE(matches("n=eq.9223372036854775807", R"({"n":9223372036854775807})"));
  EXPECT_TRUE(matches("n=lt.9223372036854775808", R"({"n":9223372036854775807})"));
  EXPECT_TRUE(matches("n=lt.-9223372036854775807", R"({"n":-9223372036854775808})"));
}

TEST(RowFilter, Uint64ColumnsCompareWithSignedAndUnsignedValues) {
  EXPECT_TRUE(matches("big=eq.18446744073709551615"));
  EXPECT_TRUE(matches("big=gt.18446744073709551614"));
  EXPECT_TRUE(matches("big=gt.-1"));
  EXPECT_TRUE(matches("big=gt.5"));
  EXPECT_TRUE(matches("big=lt.1.8446744073709552e19"));  // 2^64 as a double
  EXPECT_TRUE(matches("big=lt.18446744073709551616"));   // above uint64: a double
  EXPECT_FALSE(matches("big=eq.1.8446744073709552e19"));
}

TEST(RowFilter, DoubleColumnsCompareWithIntegersAndDoubles) {
  EXPECT_TRUE(matches("price=eq.2.5"));
  EXPECT_TRUE(matches("price=gt.2"));
  EXPECT_TRUE(matches("price=lt.3"));
  EXPECT_FALSE(matches("price=eq.2"));
  EXPECT_TRUE(matches("price=gte.2.5"));
  EXPECT_TRUE(matches("price=gt.-18446744073709551615"));
  EXPECT_TRUE(matches("price=lt.18446744073709551615"));
  EXPECT_TRUE(matches("x=eq.3", R"({"x":3.0})"));
  EXPECT_TRUE(matches("x=gt.9007199254740992", R"({"x":1e300})"));
}

TEST(RowFilter, NonNumericValueOnNumberColumnIsFalseEvenNegated) {
  EXPECT_FALSE(matches("room=eq.five"));
  EXPECT_FALSE(matches("room=neq.five"));
  EXPECT_FALSE(matches("room=lt.five"));
  EXPECT_FALSE(matches("room=not.eq.five"));
  EXPECT_FALSE(matches("room=eq."));
  EXPECT_FALSE(matches("room=eq. 5"));
  EXPECT_FALSE(matches("room=eq.nan"));
  EXPECT_FALSE(matches("room=lt.inf"));
  EXPECT_FALSE(matches("room=eq.0x5"));
}

TEST(RowFilter, StringColumnsCompareByteWise) {
  EXPECT_TRUE(matches("body=eq.hello, world"));
  EXPECT_FALSE(matches("body=eq.Hello, world"));
  EXPECT_TRUE(matches("body=neq.hello"));
  EXPECT_TRUE(matches("body=gt.hello"));
  EXPECT_TRUE(matches("body=lt.hello,world"));  // ' ' (0x20) < ',' (0x2c)
  EXPECT_TRUE(matches("body=lte.hello, world"));
  EXPECT_TRUE(matches("body=gte.hello, world"));
  EXPECT_TRUE(matches("empty=eq."));
  EXPECT_TRUE(matches("author=eq.o'brien"));
  // UTF-8 bytes above 0x7f sort after ASCII (unsigned comparison).
  EXPECT_TRUE(matches("caf\xC3\xA9=gt.crz"));
  EXPECT_TRUE(matches("caf\xC3\xA9=lt.cr\xC3\xA9"));
  EXPECT_TRUE(matches("caf\xC3\xA9=eq.cr\xC3\xA8me"));
}

TEST(RowFilter, NumericLookingValueOnStringColumnComparesAsText) {
  EXPECT_TRUE(matches("code=eq.007", R"({"code":"007"})"));
  EXPECT_FALSE(matches("code=eq.7", R"({"code":"007"})"));
  EXPECT_TRUE(matches("code=lt.10", R"({"code":"1"})"));
  EXPECT_TRUE(matches("code=gt.10", R"({"code":"9"})"));  // as text, "9" > "10"
  EXPECT_TRUE(matches("word=eq.true"));
}

TEST(RowFilter, BooleanColumnsCompareWithTrueAndFalse) {
  EXPECT_TRUE(matches("active=eq.true"));
  EXPECT_FALSE(matches("active=eq.false"));
  EXPECT_TRUE(matches("hidden=eq.false"));
  EXPECT_TRUE(matches("active=neq.false"));
  EXPECT_TRUE(matches("hidden=lt.true"));
  EXPECT_TRUE(matches("active=gt.false"));
  EXPECT_FALSE(matches("active=eq.1"));
  EXPECT_FALSE(matches("active=eq.TRUE"));
  EXPECT_FALSE(matches("active=neq.yes"));
}

TEST(RowFilter, NullColumnsMatchOnlyIsNull) {
  EXPECT_TRUE(matches("deleted_at=is.null"));
  EXPECT_FALSE(matches("deleted_at=eq.null"));
  EXPECT_FALSE(matches("deleted_at=neq.5"));
  EXPECT_FALSE(matches("deleted_at=not.eq.5"));
  EXPECT_FALSE(matches("deleted_at=in.(null,1)"));
  EXPECT_FALSE(matches("deleted_at=lt.z"));
  EXPECT_FALSE(matches("deleted_at=not.is.null"));
  EXPECT_FALSE(matches("room=is.null"));
  EXPECT_TRUE(matches("room=not.is.null"));
}

TEST(RowFilter, IsTrueAndIsFalseTestBooleans) {
  EXPECT_TRUE(matches("active=is.true"));
  EXPECT_FALSE(matches("active=is.false"));
  EXPECT_TRUE(matches("hidden=is.false"));
  EXPECT_FALSE(matches("hidden=is.true"));
  EXPECT_TRUE(matches("hidden=not.is.true"));
  // SQL: NULL IS TRUE is false, so NULL IS NOT TRUE holds.
  EXPECT_FALSE(matches("deleted_at=is.true"));
  EXPECT_TRUE(matches("deleted_at=not.is.true"));
  EXPECT_TRUE(matches("deleted_at=not.is.false"));
  // Not a boolean: neither holds.
  EXPECT_FALSE(matches("word=is.true"));
  EXPECT_FALSE(matches("word=not.is.true"));
}

TEST(RowFilter, MissingColumnNeverMatches) {
  EXPECT_FALSE(matches("nope=eq.1"));
  EXPECT_FALSE(matches("nope=neq.1"));
  EXPECT_FALSE(matches("nope=is.null"));
  EXPECT_FALSE(matches("nope=not.is.null"));
  EXPECT_FALSE(matches("nope=not.eq.1"));
  EXPECT_FALSE(matches("nope=in.(1)"));
  EXPECT_FALSE(matches("nope=not.in.(1)"));
}

TEST(RowFilter, ArrayAndObjectColumnsCompareWithNothing) {
  EXPECT_FALSE(matches("tags=eq.[\"a\",\"b\"]"));
  EXPECT_FALSE(matches("tags=neq.x"));
  EXPECT_FALSE(matches("meta=eq.{}"));
  EXPECT_TRUE(matches("meta=not.is.null"));
}

TEST(RowFilter, InMatchesAnyListedValue) {
  EXPECT_TRUE(matches("room=in.(1,5,9)"));
  EXPECT_FALSE(matches("room=in.(1,2)"));
  EXPECT_TRUE(matches("room=in.(5)"));
  EXPECT_TRUE(matches("room=in.(5.0)"));
  EXPECT_TRUE(matches("author=in.(linus,o'brien)"));
  EXPECT_TRUE(matches("active=in.(true)"));
  EXPECT_TRUE(matches("empty=in.(x,)"));
  EXPECT_FALSE(matches("room=in.()"));
  EXPECT_TRUE(matches("room=not.in.(1,2)"));
  EXPECT_FALSE(matches("room=not.in.(5,6)"));
  EXPECT_TRUE(matches("room=not.in.()"));
}

TEST(RowFilter, InListValuesMayBeQuotedToHoldSeparators) {
  EXPECT_TRUE(matches(R"(body=in.("hello, world",x))"));
  EXPECT_FALSE(matches(R"(body=in.(hello, world))"));  // two items: "hello" and " world"
  EXPECT_TRUE(matches(R"(s=in.("a(b)c"))", R"({"s":"a(b)c"})"));
  EXPECT_TRUE(matches(R"(s=in.("say \"hi\""))", R"({"s":"say \"hi\""})"));
  EXPECT_TRUE(matches(R"(s=in.("back\\slash"))", R"({"s":"back\\slash"})"));
  EXPECT_TRUE(matches(R"(s=in.("a&b")&room=eq.5)", R"({"s":"a&b","room":5})"));
  EXPECT_TRUE(matches(R"(empty=in.(""))"));
  EXPECT_TRUE(matches(R"(room=in.("5"))"));  // quoting does not make a number a string
}

TEST(RowFilter, InWithAValueOfAnotherTypeIsUnknownUnlessAnotherMatches) {
  EXPECT_TRUE(matches("room=in.(x,5)"));
  EXPECT_FALSE(matches("room=in.(x,6)"));
  EXPECT_FALSE(matches("room=not.in.(x,6)"));  // SQL: 5 NOT IN (x, 6) is unknown, not true
}

TEST(RowFilter, TermsAreJoinedWithAnd) {
  EXPECT_TRUE(matches("room=eq.5&author=eq.o'brien&active=is.true"));
  EXPECT_FALSE(matches("room=eq.5&author=eq.linus"));
  EXPECT_TRUE(matches("room=gt.1&room=lt.10"));
  EXPECT_FALSE(matches("room=gt.1&room=lt.5"));
}

TEST(RowFilter, ColumnNamesMayHoldAnyCharacterButEqualsAndAmpersand) {
  EXPECT_TRUE(matches("a.b c=eq.x", R"({"a.b c":"x"})"));
  EXPECT_TRUE(matches("\"Odd\"=eq.1", R"({"\"Odd\"":1})"));
  EXPECT_TRUE(matches("room=eq.a=b", R"({"room":"a=b"})"));  // '=' in a value is fine
}

TEST(RowFilter, ValuesKeepDotsAndSpaces) {
  EXPECT_TRUE(matches("v=eq.a.b.c", R"({"v":"a.b.c"})"));
  EXPECT_TRUE(matches("v=eq. padded ", R"({"v":" padded "})"));
  EXPECT_TRUE(matches("v=eq.not.x", R"({"v":"not.x"})"));
}

TEST(RowFilter, AndCombinesBothFilters) {
  auto forced = RowFilter::parse("room=eq.5");
  auto own = RowFilter::parse("author=eq.linus");
  auto both = own & forced;
  EXPECT_FALSE(both.matches(row()));
  EXPECT_EQ(both.to_string(), "author=eq.linus&room=eq.5");
  EXPECT_TRUE((RowFilter() & forced).matches(row()));
  EXPECT_TRUE((forced & RowFilter()).matches(row()));
  EXPECT_TRUE((RowFilter() & RowFilter()).empty());
  EXPECT_FALSE((forced & RowFilter::parse("room=neq.5")).matches(row()));
}

TEST(RowFilter, ColumnsListsEachReadColumnOnceInOrder) {
  auto filter = RowFilter::parse("room=gt.1&body=eq.x&room=lt.9&active=is.true");
  EXPECT_EQ(filter.columns(), (std::vector<std::string>{"room", "body", "active"}));
  EXPECT_TRUE(RowFilter().columns().empty());
}

TEST(RowFilter, ToStringIsCanonicalAndParsesBackToTheSameFilter) {
  for (std::string text :
       {"room=eq.5", "room=not.in.(1,2)&body=neq.x", "a=is.null", "a=not.is.true", "a=is.false",
        "a=in.()", R"#(a=in.("",x))#", R"#(a=in.("a,b","(c)","q\"\\","x&y"))#",
        "a=lt.1&b=lte.2&c=gt.3&d=gte.4", "a=eq."}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(RowFilter::parse(text).to_string(), text);
  }
  // Needless quotes are dropped.
  EXPECT_EQ(RowFilter::parse(R"#(a=in.("x",y))#").to_string(), "a=in.(x,y)");
}

TEST(RowFilter, MalformedFiltersNameTheProblemAndTheTerm) {
  EXPECT_EQ(error_of("body=like.x"), R"#(unknown operator "like" in "body=like.x")#");
  EXPECT_EQ(error_of("=eq.5"), R"#(empty column name in "=eq.5")#");
  EXPECT_EQ(error_of("room=eq5"), R"#(missing "." after operator in "room=eq5")#");
  EXPECT_EQ(error_of("room=is"), R"#(missing "." after operator in "room=is")#");
  EXPECT_EQ(error_of("room=5"), R"#(unknown operator "5" in "room=5")#");
  EXPECT_EQ(error_of("room=.5"), R"#(missing operator after "=" in "room=.5")#");
  EXPECT_EQ(error_of("room="), R"#(missing operator after "=" in "room=")#");
  EXPECT_EQ(error_of("room"), R"#(missing "=" between column and operator in "room")#");
  EXPECT_EQ(error_of("room&a=eq.1"), R"#(missing "=" between column and operator in "room")#");
  EXPECT_EQ(error_of("a=eq.1&"), R"#(empty term in filter "a=eq.1&")#");
  EXPECT_EQ(error_of("&a=eq.1"), R"#(empty term in filter "&a=eq.1")#");
  EXPECT_EQ(error_of("a=eq.1&&b=eq.2"), R"#(empty term in filter "a=eq.1&&b=eq.2")#");
  EXPECT_EQ(error_of("a=eq.1&b=gt5"), R"#(missing "." after operator in "b=gt5")#");
  EXPECT_EQ(error_of("a=is.nil"), R"#("is" takes null, true or false, not "nil" in "a=is.nil")#");
  EXPECT_EQ(error_of("a=not.not.eq.1"), R"#("not" twice in "a=not.not.eq.1")#");
  EXPECT_EQ(error_of("a=not.like.1"), R"#(unknown operator "like" in "a=not.like.1")#");
  EXPECT_EQ(error_of("a=in.1,2"),
            R"#("in" takes a list in parentheses, such as in.(1,2) in "a=in.1,2")#");
  EXPECT_EQ(error_of("a=in."),
            R"#("in" takes a list in parentheses, such as in.(1,2) in "a=in.")#");
  EXPECT_EQ(error_of("a=in.(1,2"), R"#(missing ")" at the end of the list in "a=in.(1,2")#");
  EXPECT_EQ(error_of("a=in.("), R"#(missing ")" at the end of the list in "a=in.(")#");
  EXPECT_EQ(error_of("a=in.(1)x"), R"#(unexpected text after ")" in "a=in.(1)x")#");
  EXPECT_EQ(error_of(R"#(a=in.("x))#"), R"#(unterminated quoted value in "a=in.("x)")#");
  EXPECT_EQ(error_of(R"#(a=in.("x\)#"), R"#(unterminated quoted value in "a=in.("x\")#");
  EXPECT_EQ(error_of(R"#(a=in.("x"y))#"),
            R"#(expected "," or ")" after a quoted value in "a=in.("x"y)")#");
}

TEST(RowFilter, ErrorsAreFilterErrorsAndPgpulseErrors) {
  EXPECT_THROW(RowFilter::parse("x"), FilterError);
  EXPECT_THROW(RowFilter::parse("x"), pgpulse::Error);
}

}  // namespace
}  // namespace pgpulse::hub
