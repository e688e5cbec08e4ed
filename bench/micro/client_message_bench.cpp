// Client messages: parse_client_message() runs once per WebSocket text frame a client sends.
// Not per event, but a client can send as fast as it likes, so its cost bounds what one
// misbehaving client takes from its event loop. Bytes are the message text.
#include <benchmark/benchmark.h>

#include <string_view>

#include "gateway/protocol.hpp"

namespace pgpulse::bench {
namespace {

void ParseClientMessage(benchmark::State& state, std::string_view text) {
  for (auto _ : state) {
    auto message = gateway::parse_client_message(text);
    benchmark::DoNotOptimize(&message);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK_CAPTURE(ParseClientMessage, ping, R"({"type":"ping","id":"p1"})");
BENCHMARK_CAPTURE(ParseClientMessage, subscribe_minimal,
                  R"({"type":"subscribe","id":"s1","table":"messages"})");
// The example of docs/protocol.md: every field, so the filter and the cursor are parsed too.
BENCHMARK_CAPTURE(
    ParseClientMessage, subscribe_every_field,
    R"({"type":"subscribe","id":"s1","table":"messages","schema":"public","ops":["INSERT","UPDATE"],"filter":"room=eq.5","columns":["id","body"],"from":"1.3.4"})");

}  // namespace
}  // namespace pgpulse::bench
