// A client's send queue: what waits to be written to one client, bounded in bytes.
//
//   SendQueue queue(4 << 20);
//   switch (queue.offer(sub, event, /*live=*/true)) { case SendQueue::Offer::kTooSlow: cut off }
//   auto bytes = queue.next_write(true, 64 * 1024, frame);  // frame(out, sub, event) appends
//   ... write bytes ...; queue.wrote();
//
// The queue holds references to the shared events, not copies: a client that is behind costs
// a queue entry per change, however many clients there are. Events are framed when a write
// starts, as many as fit in one write buffer (uWebSockets calls this corking), so everything
// queued while a write was under way leaves in the next one.
//
// At the bound: events beyond `max_bytes` wait in a backlog, in order, so a replay or a
// catch-up bigger than the queue is paced by the client's reading. Only a live event that
// would take the backlog past kBacklogFactor queues says the client is too slow (the caller
// cuts it off; its cursor lets it resume exactly where it was).
//
// Threads: one session's, on its loop. No I/O.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <utility>

#include "hub/hub.hpp"

namespace pgpulse::gateway {

class SendQueue {
 public:
  /// A client may fall this many queues behind (in backlog) before it is too slow.
  static constexpr std::size_t kBacklogFactor = 8;
  /// Write buffers up to this size stay with an idle client.
  static constexpr std::size_t kKeepBufferBytes = 4 * 1024;

  enum class Offer {
    kQueued,      ///< in the queue: start a write
    kBacklogged,  ///< waits for room (the client is reading a replay or is briefly behind)
    kTooSlow,     ///< refused: a live event and the backlog is full; cut the client off
  };

  explicit SendQueue(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  /// Queues `event` of `sub`, or backlogs it when the queue is full (or a backlog exists, so
  /// order holds). `live`: an event of the live stream, which may find the client too slow.
  [[nodiscard]] Offer offer(const hub::Subscription& sub, hub::SharedEvent event, bool live);
  /// Queues one framed control message (never backlogged). Returns false when the queue
  /// already holds kBacklogFactor queues: a client that keeps asking (pings, refused
  /// subscribes) without reading the answers is too slow; cut it off.
  [[nodiscard]] bool push_control(std::string framed);

  /// Frames the next messages into the write buffer and returns it, empty when nothing waits.
  /// One message, or with `whole_messages` as many as fit in `max_bytes` (at least one).
  /// `frame(std::string& out, const hub::Subscription&, const hub::EventRecord&)` appends
  /// one event.
  template <class Frame>
  std::string_view next_write(bool whole_messages, std::size_t max_bytes, Frame&& frame);
  /// The bytes of the last next_write() are written: frees them and moves backlog into the
  /// queue while it has room.
  void wrote();

  /// Drops every queued and backlogged event of `sub` (none may outlive it).
  void remove(const hub::Subscription& sub);

  /// Whether a message waits to be framed.
  bool has_queued() const noexcept { return !queue_.empty(); }
  /// Bytes queued (events by their JSON) plus those being written.
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  std::size_t backlog_bytes() const noexcept { return backlog_bytes_; }
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  std::size_t write_buffer_capacity() const noexcept { return write_buffer_.capacity(); }

 private:
  /// A message waiting to be sent: an event of `sub`, or (no event) the next of `control_`.
  /// Small, as a client that is behind holds one per change.
  struct Queued {
    const hub::Subscription* sub;
    hub::SharedEvent event;
  };
  bool has_room(std::size_t size) const noexcept {
    return queued_bytes_ == 0 || queued_bytes_ + size <= max_bytes_;
  }
  void push(const hub::Subscription& sub, hub::SharedEvent event);

  std::size_t max_bytes_;
  std::deque<Queued> queue_;
  std::deque<std::string> control_;  ///< framed control messages, in queue order
  std::size_t queued_bytes_ = 0;
  std::string write_buffer_;  ///< the framed bytes being written; empty between writes
  std::deque<std::pair<const hub::Subscription*, hub::SharedEvent>> backlog_;
  std::size_t backlog_bytes_ = 0;
};

template <class Frame>
std::string_view SendQueue::next_write(bool whole_messages, std::size_t max_bytes, Frame&& frame) {
  write_buffer_.clear();
  while (!queue_.empty()) {
    auto& next = queue_.front();
    auto size = next.event ? next.event->json.size() : control_.front().size();
    if (!write_buffer_.empty() && (!whole_messages || write_buffer_.size() + size > max_bytes)) {
      break;
    }
    if (next.event) {
      frame(write_buffer_, *next.sub, *next.event);
    } else {
      write_buffer_ += control_.front();
      control_.pop_front();
    }
    queued_bytes_ -= size;
    queue_.pop_front();
  }
  queued_bytes_ += write_buffer_.size();
  return write_buffer_;
}

}  // namespace pgpulse::gateway
