// Event to JSON: what every change costs once, before fan-out. append_json() alone is the
// serializer; make_record() is what the hub does per change (parse the rows for filters with
// Boost.JSON, serialize once, parse the commit time); ParseRow is its Boost.JSON share.
#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>

#include "hub/event_record.hpp"
#include "sample_events.hpp"

namespace pgpulse::bench {
namespace {

void AppendJson(benchmark::State& state, RowSize size) {
  const auto event = sample_event(size, 1);
  std::string out;  // reused, as an outlet reuses its line buffer
  for (auto _ : state) {
    out.clear();
    append_json(event, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK_CAPTURE(AppendJson, row_150B, RowSize::kSmall);
BENCHMARK_CAPTURE(AppendJson, row_4KB, RowSize::kLarge);

void MakeRecord(benchmark::State& state, RowSize size) {
  const auto event = sample_event(size, 1);
  std::size_t json_bytes = 0;
  for (auto _ : state) {
    auto record = hub::make_record(event);
    json_bytes = record->json.size();
    benchmark::DoNotOptimize(record.get());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(json_bytes));
}
BENCHMARK_CAPTURE(MakeRecord, row_150B, RowSize::kSmall);
BENCHMARK_CAPTURE(MakeRecord, row_4KB, RowSize::kLarge);

// The row alone through boost::json::parse, as make_record() parses it for filters. Bytes are
// the row JSON.
void ParseRow(benchmark::State& state, RowSize size) {
  const auto row = sample_row(size, 1);
  for (auto _ : state) {
    auto value = boost::json::parse(row);
    benchmark::DoNotOptimize(&value);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(row.size()));
}
BENCHMARK_CAPTURE(ParseRow, row_150B, RowSize::kSmall);
BENCHMARK_CAPTURE(ParseRow, row_4KB, RowSize::kLarge);

}  // namespace
}  // namespace pgpulse::bench
