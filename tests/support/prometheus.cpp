#include "prometheus.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "gateway_client.hpp"

namespace pgpulse::test {

using Clock = std::chrono::steady_clock;

std::map<std::string, double> parse_prometheus(const std::string& text,
                                               std::map<std::string, std::string>* types) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? ([^ ]+)$)");
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  std::map<std::string, double> samples;  // name{labels} -> value
  std::set<std::string> helped;
  std::map<std::string, std::string> typed;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    std::smatch m;
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, m, kHelp)) << "line " << number << ": " << line;
      if (!m.empty()) {
        EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP: " << line;
      }
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, m, kType)) << "line " << number << ": " << line;
      if (!m.empty()) {
        EXPECT_TRUE(typed.emplace(m[1], m[2]).second) << "second TYPE: " << line;
      }
      continue;
    }
    if (line[0] == '#') continue;  // other comments are allowed
    if (!std::regex_match(line, m, kSample)) {
      ADD_FAILURE() << "line " << number << " is not `name{labels} value`: " << line;
      continue;
    }
    std::string name = m[1];
    std::string value_text = m[7];
    char* end = nullptr;
    double value = std::strtod(value_text.c_str(), &end);
    EXPECT_TRUE(end && *end == '\0') << "line " << number << ": bad value " << value_text;
    // The family: a histogram's samples are name_bucket, name_sum and name_count.
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string s = suffix;
      if (name.size() > s.size() && name.ends_with(s)) {
        auto base = name.substr(0, name.size() - s.size());
        if (typed.contains(base) && typed[base] == "histogram") family = base;
      }
    }
    EXPECT_TRUE(helped.contains(family)) << "no HELP before " << line;
    EXPECT_TRUE(typed.contains(family)) << "no TYPE before " << line;
    if (typed.contains(family) && typed[family] == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << "counter without _total: " << line;
      EXPECT_GE(value, 0) << line;
    }
    EXPECT_FALSE(samples.contains(name + std::string(m[2]))) << "duplicate sample " << line;
    samples[name + std::string(m[2])] = value;
  }
  if (types) *types = typed;
  return samples;
}

double metric(int port, const std::string& name) {
  return parse_prometheus(http_get(port, "/metrics").body)[name];
}

double wait_metric(int port, const std::string& name, double at_least,
                   std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  double value = metric(port, name);
  while (value < at_least && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    value = metric(port, name);
  }
  return value;
}

}  // namespace pgpulse::test
