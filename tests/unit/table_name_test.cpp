#include <gtest/gtest.h>

#include <unordered_set>

#include "pgpulse/error.hpp"
#include "pgpulse/table_name.hpp"

namespace pgpulse {
namespace {

TEST(TableName, AnUnqualifiedNameIsInThePublicSchema) {
  EXPECT_EQ(TableName::parse("messages"), (TableName{"public", "messages"}));
  EXPECT_EQ(TableName::parse("messages", "app"), (TableName{"app", "messages"}));
}

TEST(TableName, UnquotedPartsFoldToLowerCaseAndQuotedOnesKeepTheirSpelling) {
  EXPECT_EQ(TableName::parse("Public.Messages"), (TableName{"public", "messages"}));
  EXPECT_EQ(TableName::parse("\"My Schema\".\"Odd Name\""), (TableName{"My Schema", "Odd Name"}));
  EXPECT_EQ(TableName::parse("\"say \"\"hi\"\"\""), (TableName{"public", "say \"hi\""}));
}

TEST(TableName, DotsInsideQuotesDoNotSplitTheName) {
  auto schema_dot = TableName::parse("\"a.b\".c");
  auto name_dot = TableName::parse("a.\"b.c\"");
  EXPECT_EQ(schema_dot, (TableName{"a.b", "c"}));
  EXPECT_EQ(name_dot, (TableName{"a", "b.c"}));
  EXPECT_NE(schema_dot, name_dot);
  std::unordered_set<TableName, TableNameHash> set{schema_dot, name_dot};
  EXPECT_EQ(set.size(), 2u);
}

TEST(TableName, QuotedIsSqlThatNamesTheSameTable) {
  EXPECT_EQ((TableName{"a.b", "c"}).quoted(), "\"a.b\".\"c\"");
  EXPECT_EQ((TableName{"public", "say \"hi\""}).quoted(), "\"public\".\"say \"\"hi\"\"\"");
}

TEST(TableName, DisplayQuotesOnlyWhereNeededAndParsesBack) {
  EXPECT_EQ((TableName{"public", "messages"}).display(), "public.messages");
  for (auto table : {TableName{"a.b", "c"}, TableName{"a", "b.c"}, TableName{"S", "My Table"},
                     TableName{"x", "1abc"}, TableName{"q", "a\"b"}}) {
    EXPECT_EQ(TableName::parse(table.display()), table) << table.display();
  }
}

TEST(TableName, MalformedNamesAreRefusedWithTheReason) {
  for (auto bad :
       {"", ".", "a.", ".b", "a.b.c", "\"unterminated", "\"\"", "a b", "1abc", "a;drop"}) {
    EXPECT_THROW(static_cast<void>(TableName::parse(bad)), Error) << bad;
  }
  try {
    static_cast<void>(TableName::parse("a.b.c"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a.b.c"), std::string::npos);
  }
}

TEST(QuoteIdentifier, DoublesQuotes) {
  EXPECT_EQ(quote_identifier("plain"), "\"plain\"");
  EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
}

}  // namespace
}  // namespace pgpulse
