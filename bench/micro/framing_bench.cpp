// Framing: what fan-out costs per client and event once the event JSON exists. A session
// appends each event's message to its send buffer, so the batch variants append 64 distinct
// events into one reused buffer, as one write of a session that fell a little behind.
// Bytes are the framed output.
#include <benchmark/benchmark.h>

#include <vector>

#include "gateway/protocol.hpp"
#include "hub/event_record.hpp"
#include "sample_events.hpp"

namespace pgpulse::bench {
namespace {

constexpr int kBatch = 64;

std::vector<hub::SharedEvent> sample_records(RowSize size, int count) {
  std::vector<hub::SharedEvent> records;
  for (int n = 1; n <= count; ++n) records.push_back(hub::make_record(sample_event(size, n)));
  return records;
}

// Frames `count` events into one cleared buffer per iteration; `frame` appends one.
template <class Frame>
void frame_events(benchmark::State& state, RowSize size, int count, Frame frame) {
  const auto records = sample_records(size, count);
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (const auto& record : records) frame(out, *record);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * count);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

void WsEventMessage(benchmark::State& state, RowSize size, int count) {
  const auto prefix = gateway::event_prefix("s1");  // made once per subscription
  frame_events(state, size, count, [&](std::string& out, const hub::EventRecord& record) {
    gateway::append_event_message(out, prefix, record.json);
  });
}
BENCHMARK_CAPTURE(WsEventMessage, row_150B, RowSize::kSmall, 1);
BENCHMARK_CAPTURE(WsEventMessage, row_4KB, RowSize::kLarge, 1);
BENCHMARK_CAPTURE(WsEventMessage, row_150B_batch64, RowSize::kSmall, kBatch);
BENCHMARK_CAPTURE(WsEventMessage, row_4KB_batch64, RowSize::kLarge, kBatch);

void SseEvent(benchmark::State& state, RowSize size, int count) {
  frame_events(state, size, count, [](std::string& out, const hub::EventRecord& record) {
    gateway::append_sse_event(out, record.id_text, record.json);
  });
}
BENCHMARK_CAPTURE(SseEvent, row_150B, RowSize::kSmall, 1);
BENCHMARK_CAPTURE(SseEvent, row_4KB, RowSize::kLarge, 1);
BENCHMARK_CAPTURE(SseEvent, row_150B_batch64, RowSize::kSmall, kBatch);
BENCHMARK_CAPTURE(SseEvent, row_4KB_batch64, RowSize::kLarge, kBatch);

// The prefix of a subscription's WebSocket messages: one allocation. The gateway makes it once
// per subscription (Subscription::message_prefix); this is what that saves per event and client.
void EventPrefix(benchmark::State& state) {
  for (auto _ : state) {
    auto prefix = gateway::event_prefix("s1");
    benchmark::DoNotOptimize(prefix.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(EventPrefix);

}  // namespace
}  // namespace pgpulse::bench
