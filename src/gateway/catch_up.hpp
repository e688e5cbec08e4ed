// A subscription's catch-up: when a client resumes from a cursor older than the hub's ring, its
// missed changes are read from the change log, paced by the client's reading, until the ring
// reaches back to where the reading got; then the subscription attaches to the hub.
//
// A small state machine, all on the session's loop:
//
//   waiting --slot free--> reading --client far behind--> paused --resume()--> waiting/reading
//                          reading --ring reaches back--> attached
//                          reading --read fails--------> failed
//   any --stop()--> stopped
//
// The transitions cannot interleave: pausing stops the source at once (no event of it comes
// after), and the attach timer acts only in `reading` (its completion may already be queued
// when the catch-up pauses or attaches: it then does nothing). So every event the source
// delivered was handed on, the catch-up attaches exactly at the source's cursor, and a paused
// catch-up is resumed by exactly one new read.
//
// Each read holds a database connection: a server's reads are capped by its CatchUpSlots, and
// a catch-up without a slot waits for one.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>

#include "hub/event_record.hpp"
#include "pgpulse/cursor.hpp"
#include "pgpulse/table_name.hpp"

namespace pgpulse::gateway {

/// What a catch-up reads: the change log of one table after a cursor (a ChangeStream in the
/// server, a fake in tests).
class CatchUpSource {
 public:
  using EventHandler = std::function<void(const ChangeEvent&)>;
  using ErrorHandler = std::function<void(const std::exception_ptr&)>;
  virtual ~CatchUpSource() = default;
  /// Starts reading; the handlers run on the loop. `on_error`: the read stopped for good.
  virtual void start(EventHandler on_event, ErrorHandler on_error) = 0;
  /// Stops at once: no handler runs once this returns. May be called from inside a handler
  /// (the caller destroys the source later, never inside its own handler).
  virtual void stop() = 0;
  /// The position after the last delivered event (the start cursor before the first).
  virtual const Cursor& cursor() const = 0;
};

/// Makes the source of one catch-up: `table` after `from`, on `io`.
using CatchUpSourceFactory = std::function<std::unique_ptr<CatchUpSource>(
    boost::asio::io_context& io, const TableName& table, const Cursor& from)>;

/// The cap on a server's concurrent catch-up reads. Shared by the sessions of every loop.
class CatchUpSlots {
 public:
  explicit CatchUpSlots(int max) : max_(max) {}
  [[nodiscard]] bool try_take() noexcept {
    if (running_.fetch_add(1) < max_) return true;
    running_.fetch_sub(1);
    return false;
  }
  void give_back() noexcept { running_.fetch_sub(1); }
  int running() const noexcept { return running_.load(); }

 private:
  int max_;
  std::atomic<int> running_{0};
};

class CatchUp : public std::enable_shared_from_this<CatchUp> {
 public:
  enum class State { kWaiting, kReading, kPaused, kAttached, kFailed, kStopped };

  /// The session's side, each called on the loop.
  struct Hooks {
    /// One caught-up event (the session filters it for its subscription and queues it).
    std::function<void(const hub::SharedEvent&)> deliver;
    /// Whether the client has enough waiting: the catch-up pauses.
    std::function<bool()> far_ahead;
    /// Attaches the subscription to the hub from `cursor`, replaying the ring after it; false
    /// when the ring does not reach back that far (the reading goes on).
    std::function<bool(const Cursor&)> attach;
    /// The read failed (the catch-up is over).
    std::function<void(const std::exception_ptr&)> failed;
  };

  struct Options {
    TableName table;
    /// How often a read tries to attach, and a catch-up without a slot retries.
    std::chrono::milliseconds retry{100};
  };

  CatchUp(boost::asio::io_context& io, Options options, CatchUpSlots& slots,
          CatchUpSourceFactory make_source, Hooks hooks);
  ~CatchUp();
  CatchUp(const CatchUp&) = delete;
  CatchUp& operator=(const CatchUp&) = delete;

  /// Starts catching up after `from` (waiting for a slot if none is free). Once only.
  void start(const Cursor& from);
  /// Goes on from where a paused catch-up stopped; does nothing in any other state.
  void resume();
  /// Ends the catch-up in any state; it does nothing from then on. Not from inside a hook.
  void stop();

  State state() const noexcept { return state_; }
  /// Where a paused catch-up goes on from.
  const std::optional<Cursor>& paused_at() const noexcept { return paused_at_; }

  /// The retry timer's completion: in `waiting`, tries to take a slot; in `reading`, tries to
  /// attach; in any other state nothing (its completion may have been queued before a pause
  /// or an attach). Public for tests, which run the interleavings by hand.
  void on_retry_timer();

 private:
  void try_start();
  void on_event(const ChangeEvent& event);
  void on_error(const std::exception_ptr& error);
  /// Leaves `reading`: stops the source now, destroys it later, gives its slot back.
  void end_reading(State next);
  void arm_timer();

  boost::asio::io_context& io_;
  Options options_;
  CatchUpSlots& slots_;
  CatchUpSourceFactory make_source_;
  Hooks hooks_;
  State state_ = State::kWaiting;
  Cursor next_ = Cursor::at(0);  ///< where the next read starts
  std::optional<Cursor> paused_at_;
  std::unique_ptr<CatchUpSource> source_;  ///< set while reading
  boost::asio::steady_timer timer_;
};

}  // namespace pgpulse::gateway
