// Column lists: a subscription with "columns" gets project_columns() of each event instead of
// the shared JSON, once per event and such subscription. Bytes are the event JSON scanned.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "gateway/protocol.hpp"
#include "sample_events.hpp"

namespace pgpulse::bench {
namespace {

void ProjectColumns(benchmark::State& state, RowSize size) {
  const auto json = to_json(sample_event(size, 1));
  const std::vector<std::string> columns{"id", "author"};
  for (auto _ : state) {
    auto projected = gateway::project_columns(json, columns);
    benchmark::DoNotOptimize(projected.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(json.size()));
}
BENCHMARK_CAPTURE(ProjectColumns, row_150B, RowSize::kSmall);
BENCHMARK_CAPTURE(ProjectColumns, row_4KB, RowSize::kLarge);

}  // namespace
}  // namespace pgpulse::bench
