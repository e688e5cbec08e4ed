#include "gateway/metrics.hpp"

#include <fmt/format.h>

namespace pgpulse::gateway {

namespace {

std::size_t bucket_of(std::chrono::nanoseconds latency) {
  double seconds = std::chrono::duration<double>(latency).count();
  std::size_t i = 0;
  while (i < LatencyHistogram::kBounds.size() && seconds > LatencyHistogram::kBounds[i]) ++i;
  return i;
}

std::uint64_t nonnegative(std::chrono::nanoseconds latency) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0));
}

}  // namespace

void LatencyHistogram::Tally::observe(std::chrono::nanoseconds latency) noexcept {
  ++buckets_[bucket_of(latency)];
  sum_ns_ += nonnegative(latency);
  ++count_;
}

void LatencyHistogram::observe(std::chrono::nanoseconds latency) noexcept {
  buckets_[bucket_of(latency)].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(nonnegative(latency), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void LatencyHistogram::add(Tally& tally) noexcept {
  if (tally.empty()) return;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (tally.buckets_[i] != 0) buckets_[i].fetch_add(tally.buckets_[i], std::memory_order_relaxed);
  }
  sum_ns_.fetch_add(tally.sum_ns_, std::memory_order_relaxed);
  count_.fetch_add(tally.count_, std::memory_order_relaxed);
  tally = Tally{};
}

void LatencyHistogram::render(std::string& out, const char* name, const char* help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], cumulative);
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n", name, static_cast<double>(sum_ns_.load()) / 1e9);
  out += fmt::format("{}_count {}\n", name, count_.load());
}

std::string Metrics::render() const {
  std::string out;
  auto gauge = [&](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
  };
  auto counter = [&](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  gauge("pgpulse_clients", "Connected WebSocket and SSE clients.", clients.load());
  gauge("pgpulse_subscriptions", "Active subscriptions.", subscriptions.load());
  gauge("pgpulse_send_queue_bytes", "Bytes waiting in client send queues.", queued_bytes.load());
  gauge("pgpulse_database_connected", "1 when the change stream is connected.",
        db_connected.load() ? 1 : 0);
  counter("pgpulse_events_in_total", "Change events received from PostgreSQL.", events_in.load());
  counter("pgpulse_events_out_total", "Events queued to clients.", events_out.load());
  counter("pgpulse_bytes_out_total", "Bytes of event messages queued to clients.",
          bytes_out.load());
  counter("pgpulse_clients_dropped_slow_total",
          "Clients disconnected because their send queue overflowed.", clients_dropped_slow.load());
  counter("pgpulse_clients_rejected_total", "Connections refused (max_clients, auth).",
          clients_rejected.load());
  counter("pgpulse_database_reconnects_total", "Reconnects of the change stream.",
          db_reconnects.load());
  commit_to_send.render(
      out, "pgpulse_commit_to_send_seconds",
      "Time from the transaction's commit to the event's write to a client starting.");
  return out;
}

}  // namespace pgpulse::gateway
