// A string into a JSON string literal (json_text::append_string): what `watch --channel` does
// to every NOTIFY payload, whose text is usually JSON itself and so full of quotes to escape.
#include <benchmark/benchmark.h>

#include <string>

#include "util/json_text.hpp"

namespace pgpulse::bench {
namespace {

// The tutorial trigger's payload for one ~95-byte row: 22 quotes in 107 bytes.
const std::string kJsonPayload =
    R"({"table":"orders","op":"INSERT","record":{"id":41,"customer":41,"amount":12.50,)"
    R"("note":"order note 3416a75f4cea9109507cacd8e2f2aefc"}})";
// The same length with nothing to escape.
const std::string kPlainPayload(kJsonPayload.size(), 'x');

void AppendString(benchmark::State& state, const std::string* text) {
  std::string out;  // reused, as watch reuses its line buffer
  for (auto _ : state) {
    out.clear();
    json_text::append_string(out, *text);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text->size()));
}
BENCHMARK_CAPTURE(AppendString, json_payload_107B, &kJsonPayload);
BENCHMARK_CAPTURE(AppendString, plain_107B, &kPlainPayload);

}  // namespace
}  // namespace pgpulse::bench
