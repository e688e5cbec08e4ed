// Filter evaluation: RowFilter::matches() runs once per change and filtered subscription, on
// the row the hub parsed once (EventRecord::filter_row()). The label shows the filter; every
// one of them matches the sample row, so all its terms are evaluated.
#include <benchmark/benchmark.h>

#include "hub/event_record.hpp"
#include "hub/row_filter.hpp"
#include "sample_events.hpp"

namespace pgpulse::bench {
namespace {

void FilterMatches(benchmark::State& state, const char* filter_text) {
  const auto filter = hub::RowFilter::parse(filter_text);
  const auto record = hub::make_record(sample_event(RowSize::kSmall, 1));
  const auto& row = record->filter_row();
  state.SetLabel(filter_text);
  if (!filter.matches(row)) {
    state.SkipWithError("the filter does not match the sample row");
    return;  // the loop is then not entered
  }
  for (auto _ : state) {
    bool matched = filter.matches(row);
    benchmark::DoNotOptimize(matched);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(FilterMatches, int_eq, "room=eq.5");
BENCHMARK_CAPTURE(FilterMatches, int_gt, "id=gt.1000000");
BENCHMARK_CAPTURE(FilterMatches, text_eq, "author=eq.linus");
BENCHMARK_CAPTURE(FilterMatches, is_null_last_column, "edited_at=is.null");
BENCHMARK_CAPTURE(FilterMatches, int_in_list_of_8, "room=in.(1,2,3,4,6,7,8,5)");
BENCHMARK_CAPTURE(FilterMatches, three_terms, "room=eq.5&author=neq.bot&edited_at=is.null");

// Parsing runs once per subscription (and once more to validate the client's message).
void FilterParse(benchmark::State& state) {
  constexpr std::string_view kText =
      "room=eq.5&author=in.(linus,\"o'brien, pat\")&edited_at=is.null";
  for (auto _ : state) {
    auto filter = hub::RowFilter::parse(kText);
    benchmark::DoNotOptimize(&filter);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kText.size()));
}
BENCHMARK(FilterParse);

}  // namespace
}  // namespace pgpulse::bench
