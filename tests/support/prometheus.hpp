// The gateway's /metrics as a test reads it: the Prometheus text exposition, parsed strictly.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "test_database.hpp"

namespace pgpulse::test {

/// Parses the Prometheus text exposition strictly; failures are reported as test failures.
/// Returns name{labels} -> value; `types`, when given, gets each family's TYPE.
std::map<std::string, double> parse_prometheus(const std::string& text,
                                               std::map<std::string, std::string>* types = nullptr);

/// One metric of the gateway on `port`, as /metrics has it now.
double metric(int port, const std::string& name);

/// Polls /metrics until `name` is at least `at_least`; returns its last value.
double wait_metric(int port, const std::string& name, double at_least,
                   std::chrono::milliseconds timeout = 10s);

}  // namespace pgpulse::test
