// docs/grafana/pgpulse-dashboard.json against what the gateway's /metrics really renders: a
// renamed or new metric fails here instead of leaving an empty panel on someone's wall.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "gateway/metrics.hpp"

namespace pgpulse::gateway {
namespace {

namespace json = boost::json;

json::object dashboard() {
  std::ifstream file(PGPULSE_GRAFANA_DASHBOARD);
  if (!file) throw std::runtime_error("cannot read " PGPULSE_GRAFANA_DASHBOARD);
  std::stringstream text;
  text << file.rdbuf();
  return json::parse(text.str()).as_object();  // throws when it is not JSON
}

// Calls `visit(key, value)` for every member of every object in `value`, depth first.
void walk(const json::value& value,
          const std::function<void(std::string_view, const json::value&)>& visit) {
  if (value.is_object()) {
    for (const auto& [key, member] : value.as_object()) {
      visit(key, member);
      walk(member, visit);
    }
  } else if (value.is_array()) {
    for (const auto& element : value.as_array()) walk(element, visit);
  }
}

// The metric names in the dashboard's queries: panel targets and template variables.
std::set<std::string> referenced_metrics(const json::object& board) {
  static const std::regex kName(R"(pgpulse_[a-zA-Z0-9_:]*)");
  std::set<std::string> names;
  walk(board, [&](std::string_view key, const json::value& value) {
    if ((key != "expr" && key != "query" && key != "definition") || !value.is_string()) return;
    std::string query(value.as_string());
    for (std::sregex_iterator it(query.begin(), query.end(), kName), end; it != end; ++it) {
      names.insert(it->str());
    }
  });
  return names;
}

// What /metrics renders: sample names (histograms as name_bucket, _sum, _count) and the
// families with their TYPE.
struct Exposition {
  std::set<std::string> samples;
  std::map<std::string, std::string> families;
};

Exposition rendered() {
  Exposition out;
  std::istringstream lines(Metrics{}.render());
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      out.families[name] = type;
    } else if (!line.empty() && line[0] != '#') {
      out.samples.insert(line.substr(0, line.find_first_of("{ ")));
    }
  }
  return out;
}

TEST(GrafanaDashboard, IsJsonGrafanaImportsWithAPrometheusDataSourceInput) {
  auto board = dashboard();
  ASSERT_TRUE(board.contains("__inputs"));
  std::set<std::string> inputs;
  for (const auto& input : board.at("__inputs").as_array()) {
    const auto& in = input.as_object();
    EXPECT_EQ(in.at("type"), "datasource");
    EXPECT_EQ(in.at("pluginId"), "prometheus");
    inputs.insert("${" + std::string(in.at("name").as_string()) + "}");
  }
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_TRUE(board.at("id").is_null());  // import creates it
  EXPECT_FALSE(board.at("uid").as_string().empty());
  EXPECT_FALSE(board.at("title").as_string().empty());

  // Every panel and query reads from the data source the import asks for.
  int datasources = 0;
  walk(board, [&](std::string_view key, const json::value& value) {
    if (key != "datasource") return;
    ++datasources;
    ASSERT_TRUE(value.is_object()) << json::serialize(value);
    EXPECT_EQ(value.at("type"), "prometheus");
    EXPECT_TRUE(inputs.contains(std::string(value.at("uid").as_string())))
        << json::serialize(value);
  });
  EXPECT_GT(datasources, 0);

  std::set<std::int64_t> ids;
  for (const auto& panel : board.at("panels").as_array()) {
    const auto& p = panel.as_object();
    EXPECT_TRUE(ids.insert(p.at("id").as_int64()).second) << "second panel id " << p.at("id");
    ASSERT_FALSE(p.at("targets").as_array().empty()) << p.at("title");
    for (const auto& target : p.at("targets").as_array()) {
      EXPECT_FALSE(target.at("expr").as_string().empty()) << p.at("title");
    }
  }
}

TEST(GrafanaDashboard, QueriesOnlyMetricsTheGatewayRenders) {
  auto exposition = rendered();
  auto referenced = referenced_metrics(dashboard());
  ASSERT_FALSE(referenced.empty());
  for (const auto& name : referenced) {
    EXPECT_TRUE(exposition.samples.contains(name)) << name << " is not in /metrics";
  }
}

TEST(GrafanaDashboard, ShowsEveryMetricTheGatewayRenders) {
  auto exposition = rendered();
  auto referenced = referenced_metrics(dashboard());
  ASSERT_FALSE(exposition.families.empty());
  for (const auto& [family, type] : exposition.families) {
    bool shown = referenced.contains(family);
    if (type == "histogram") shown = referenced.contains(family + "_bucket");  // quantiles
    EXPECT_TRUE(shown) << family << " (" << type << ") has no panel";
  }
}

}  // namespace
}  // namespace pgpulse::gateway
