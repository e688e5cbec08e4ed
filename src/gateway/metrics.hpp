// Gateway metrics, kept in atomics (sessions on every loop update them) and rendered in the
// Prometheus text format for GET /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace pgpulse::gateway {

/// Commit-to-send latency, in fixed buckets (seconds), as Prometheus histograms want.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 13> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

  /// Observations collected by one session without atomics and added to the shared histogram
  /// once per write: fan-out observes every delivery, and atomics shared by every event loop
  /// would bounce their cache line between cores a million times a second.
  class Tally {
   public:
    void observe(std::chrono::nanoseconds latency) noexcept;
    bool empty() const noexcept { return count_ == 0; }

   private:
    friend class LatencyHistogram;
    std::array<std::uint32_t, kBounds.size() + 1> buckets_{};
    std::uint64_t sum_ns_ = 0;
    std::uint32_t count_ = 0;
  };

  void observe(std::chrono::nanoseconds latency) noexcept;
  /// Adds `tally` and clears it.
  void add(Tally& tally) noexcept;
  void render(std::string& out, const char* name, const char* help) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};  // last: +Inf
  std::atomic<std::uint64_t> sum_ns_{0};
  std::atomic<std::uint64_t> count_{0};
};

struct Metrics {
  std::atomic<std::int64_t> clients{0};
  std::atomic<std::int64_t> subscriptions{0};
  std::atomic<std::int64_t> queued_bytes{0};  ///< waiting in client send queues
  std::atomic<std::uint64_t> events_in{0};
  std::atomic<std::uint64_t> events_out{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> clients_dropped_slow{0};
  std::atomic<std::uint64_t> clients_rejected{0};  ///< over max_clients or failed auth
  std::atomic<std::uint64_t> db_reconnects{0};
  std::atomic<bool> db_connected{false};
  LatencyHistogram commit_to_send;

  /// The Prometheus text exposition of everything above.
  std::string render() const;
};

}  // namespace pgpulse::gateway
