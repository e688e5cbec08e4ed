// The hub: takes each change event once from the live stream, keeps the most recent ones in a
// bounded ring (so a reconnecting client resumes from memory), and fans each event out to the
// event loops, where the subscriptions of that loop's sessions pick what they want.
//
// Threads: publish() and attach() may run on any loop (a mutex guards the ring); everything of
// one LoopHub runs on its own loop. An event goes to a loop as one posted shared pointer, however
// many sessions on that loop receive it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "hub/event_record.hpp"
#include "hub/row_filter.hpp"

namespace pgpulse::hub {

class Subscriber;

/// One client subscription. Owned by its session; registered with its loop's LoopHub.
struct Subscription {
  static constexpr std::uint8_t kAllOps = 0x0f;

  std::string id;
  TableName table;
  std::uint8_t ops = kAllOps;
  RowFilter filter;                  ///< the client's filter AND the token's forced filter
  std::vector<std::string> columns;  ///< empty: every column
  /// What the transport writes before each event of this subscription, made once.
  std::string message_prefix;
  /// Events at or before this were replayed or predate the subscription: not delivered live.
  Cursor live_after = Cursor::at(0);
  Subscriber* subscriber = nullptr;
  /// Registered with a LoopHub (set by its add() and remove()).
  bool registered = false;

  static std::uint8_t op_bit(Op op);
  bool wants(const EventRecord& event) const;
};

/// A session that receives events.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  /// Called on the subscriber's loop for every event its subscription `sub` wants.
  virtual void deliver(const Subscription& sub, const SharedEvent& event) = 0;
};

/// The subscriptions of one event loop. Used only on that loop's thread.
class LoopHub {
 public:
  void add(Subscription* sub);
  void remove(Subscription* sub);
  void dispatch(const SharedEvent& event) const;
  std::size_t subscriptions() const noexcept { return count_; }

 private:
  std::unordered_map<TableName, std::vector<Subscription*>, TableNameHash> by_table_;
  std::size_t count_ = 0;
};

struct RingLimits {
  std::size_t max_events = 100000;    ///< recent events kept for resuming from memory
  std::size_t max_bytes = 64u << 20;  ///< and at most this much of their JSON
};

class Hub {
 public:
  Hub(std::vector<boost::asio::io_context*> loops, RingLimits limits);

  /// The live stream's start: the ring holds what comes after it. Call before publish().
  void set_base(const Cursor& start);
  /// Takes one event of the live stream: into the ring, and posted to every loop.
  void publish(const ChangeEvent& event);

  /// Registers `sub` on loop `loop` (call on that loop) for every wanted event after `from`.
  /// Returns true and fills `replay` with the wanted ring events after `from` when the ring
  /// reaches back that far; returns false, registering nothing, when it does not (the caller
  /// catches up from the database, then tries again from where it got).
  bool attach(std::size_t loop, Subscription& sub, const Cursor& from,
              std::vector<SharedEvent>& replay);
  /// Registers `sub` for what comes after the current head.
  void attach_now(std::size_t loop, Subscription& sub);
  void detach(std::size_t loop, Subscription& sub) { loops_[loop].hub.remove(&sub); }

  std::size_t loop_count() const noexcept { return loops_.size(); }
  boost::asio::io_context& io(std::size_t loop) { return *loops_[loop].io; }
  const LoopHub& loop_hub(std::size_t loop) const { return loops_[loop].hub; }
  Cursor head() const;
  std::size_t ring_events() const;

 private:
  struct Loop {
    boost::asio::io_context* io;
    LoopHub hub;
  };
  std::vector<Loop> loops_;
  RingLimits limits_;
  mutable std::mutex mutex_;
  std::deque<SharedEvent> ring_;
  std::size_t ring_bytes_ = 0;
  Cursor base_ = Cursor::at(0);  ///< the ring holds everything after this
};

}  // namespace pgpulse::hub
