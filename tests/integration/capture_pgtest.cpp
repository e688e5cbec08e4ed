// install_capture / uninstall_capture against the real server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pgpulse/capture.hpp"
#include "pgpulse/error.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

// Trigger OIDs of a table, as one comparable string.
std::string trigger_oids(const std::string& table) {
  auto r = connect().exec(
      "SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_trigger "
      "WHERE tgrelid = $1::regclass AND tgname LIKE 'pgpulse%'",
      {table});
  return r.is_null(0, 0) ? "" : std::string(r.get(0, 0));
}

bool schema_exists() {
  return connect().exec("SELECT 1 FROM pg_namespace WHERE nspname = 'pgpulse'").rows() == 1;
}

class Capture : public ::testing::Test {
 protected:
  void SetUp() override {
    run_sql("DROP SCHEMA IF EXISTS pgpulse CASCADE");
    table_ = unique_name("cap");
    run_sql("CREATE TABLE " + ident(table_) + " (id int PRIMARY KEY, body text)");
  }
  std::string table_;
};

TEST_F(Capture, InstallPutsFourTriggersOnTheTable) {
  install_capture(database_url(), {table_});
  auto r = connect().exec(
      "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE 'pgpulse%'",
      {table_});
  EXPECT_EQ(r.get(0, 0), "4");
  EXPECT_THAT(captured_tables(database_url()), ::testing::Contains(TableName{"public", table_}));
}

TEST_F(Capture, InstallingTwiceChangesNothing) {
  install_capture(database_url(), {table_});
  auto before = trigger_oids(table_);
  auto objects =
      connect().exec("SELECT count(*) FROM pg_class WHERE relnamespace = 'pgpulse'::regnamespace");
  install_capture(database_url(), {table_});
  EXPECT_EQ(trigger_oids(table_), before);
  EXPECT_EQ(connect()
                .exec("SELECT count(*) FROM pg_class WHERE relnamespace = 'pgpulse'::regnamespace")
                .get(0, 0),
            objects.get(0, 0));
}

TEST_F(Capture, InstallWithOneMissingTableInstallsNothing) {
  EXPECT_THROW(install_capture(database_url(), {table_, "no_such_table_anywhere"}), SqlError);
  EXPECT_FALSE(schema_exists());
  EXPECT_EQ(trigger_oids(table_), "");
}

TEST_F(Capture, InstallOnAViewIsRefused) {
  run_sql("CREATE VIEW " + ident(table_ + "_v") + " AS SELECT 1 AS one");
  EXPECT_THROW(install_capture(database_url(), {table_ + "_v"}), SqlError);
  EXPECT_FALSE(schema_exists());
}

TEST_F(Capture, UninstallOneTableKeepsTheOthersAndAllData) {
  auto other = unique_name("cap_other");
  run_sql("CREATE TABLE " + ident(other) + " (id int)");
  run_sql("INSERT INTO " + ident(table_) + " VALUES (1, 'kept'), (2, 'also kept')");
  install_capture(database_url(), {table_, other});
  uninstall_capture(database_url(), {table_});
  EXPECT_EQ(trigger_oids(table_), "");
  EXPECT_NE(trigger_oids(other), "");
  EXPECT_TRUE(schema_exists());
  auto rows = connect().exec("SELECT string_agg(body, ',' ORDER BY id) FROM " + ident(table_));
  EXPECT_EQ(rows.get(0, 0), "kept,also kept");
}

TEST_F(Capture, UninstallingEverythingDropsTheSchemaButNoUserData) {
  run_sql("INSERT INTO " + ident(table_) + " VALUES (1, 'kept')");
  install_capture(database_url(), {table_});
  run_sql("INSERT INTO " + ident(table_) + " VALUES (2, 'captured')");
  uninstall_capture(database_url(), {});
  EXPECT_FALSE(schema_exists());
  EXPECT_EQ(trigger_oids(table_), "");
  EXPECT_EQ(connect().exec("SELECT count(*) FROM " + ident(table_)).get(0, 0), "2");
}

TEST_F(Capture, AwkwardIdentifiersAreQuotedEverywhere) {
  // Quotes, spaces, capitals, a dot and non-ASCII, in the schema, table and column names.
  std::string schema = "Sch\"ema.x " + unique_name("s");
  std::string table = "Ta ble.\"q\" \xC3\xA9t\xC3\xA9";
  auto conn = connect();
  auto qs = conn.quote_identifier(schema);
  auto qt = conn.quote_identifier(table);
  conn.exec_script("CREATE SCHEMA " + qs + "; CREATE TABLE " + qs + "." + qt +
                   " (\"Col \"\"1\"\"\" int, \"ünï.code\" text, n int, o int)");
  install_capture(database_url(), {qs + "." + qt});
  EXPECT_EQ(trigger_oids(qs + "." + qt).empty(), false);
  conn.exec_script("INSERT INTO " + qs + "." + qt + " VALUES (1, 'x', 2, 3)");
  auto r = conn.exec(
      "SELECT schema_name, table_name, new_row::text FROM pgpulse.changes ORDER BY seq DESC "
      "LIMIT 1");
  EXPECT_EQ(r.get(0, 0), schema);
  EXPECT_EQ(r.get(0, 1), table);
  EXPECT_EQ(r.get(0, 2), R"({"Col \"1\"":1,"ünï.code":"x","n":2,"o":3})");
  uninstall_capture(database_url(), {qs + "." + qt});
  EXPECT_TRUE(trigger_oids(qs + "." + qt).empty());
}

TEST_F(Capture, CapturedTablesAndStatusNameTablesWhoseNamesJoinToTheSameDottedTextApart) {
  // "<s>.b".c and <s>."b.c" are both "<s>.b.c" when joined at a dot.
  auto s = unique_name("s");
  run_sql("CREATE SCHEMA " + ident(s + ".b") + "; CREATE SCHEMA " + ident(s) + "; CREATE TABLE " +
          ident(s + ".b") + ".c (id int); CREATE TABLE " + ident(s) + "." + ident("b.c") +
          " (id int)");
  install_capture(database_url(), {ident(s + ".b") + ".c", s + "." + ident("b.c")},
                  {.wakeup = WakeupMode::kPoll});
  TableName dotted_schema{s + ".b", "c"};
  TableName dotted_table{s, "b.c"};
  EXPECT_THAT(captured_tables(database_url()),
              ::testing::UnorderedElementsAre(dotted_schema, dotted_table));
  auto status = capture_status(database_url());
  EXPECT_THAT(status.tables, ::testing::UnorderedElementsAre(dotted_schema, dotted_table));
  EXPECT_EQ(status.wakeup, WakeupMode::kPoll);
}

TEST_F(Capture, RolesWithoutGrantsOnPgpulseCanStillWriteCapturedTables) {
  install_capture(database_url(), {table_});
  auto role = unique_name("writer");
  run_sql("CREATE ROLE " + ident(role) + " LOGIN; GRANT ALL ON " + ident(table_) + " TO " +
          ident(role));
  auto conn = connect();
  conn.exec_script("SET ROLE " + ident(role) + "; INSERT INTO " + ident(table_) +
                   " VALUES (1, 'by a plain role'); RESET ROLE");
  EXPECT_EQ(
      conn.exec("SELECT count(*) FROM pgpulse.changes WHERE table_name = $1", {table_}).get(0, 0),
      "1");
}

}  // namespace
}  // namespace pgpulse::test
