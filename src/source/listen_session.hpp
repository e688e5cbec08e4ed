// The connection life cycle shared by Listener and ChangeStream: connect, LISTEN, wait on the
// socket, probe when idle, and on any connection failure reconnect with capped exponential
// backoff and jitter, re-issuing every LISTEN. Subclasses add what to do with what arrives.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "pg/async_connection.hpp"
#include "pg/conn_params.hpp"
#include "pgpulse/connection_options.hpp"

namespace pgpulse::source {

namespace asio = boost::asio;

class ListenSession : public std::enable_shared_from_this<ListenSession> {
 public:
  using StateHandler = std::function<void(const StateChange&)>;

  ListenSession(asio::io_context& io, ConnectOptions options, bool reports_gaps);
  virtual ~ListenSession() = default;

  void start();
  void stop();
  void set_state_handler(StateHandler handler) { state_handler_ = std::move(handler); }
  [[nodiscard]] bool stopped() const noexcept { return stopped_; }
  /// For the owner's destructor: drops every user handler (the state handler and the
  /// subclass's, see drop_handlers), so nothing they captured outlives the owner and none runs
  /// again. Called from inside a handler, the handlers are destroyed as soon as it returns
  /// rather than under its feet.
  void release_handlers() noexcept;

 protected:
  /// Channels to LISTEN to; applied on the connection at its next idle moment.
  void want_channel(const std::string& channel, bool listening);

  /// Runs a user handler (if set and not released), so release_handlers() knows when it may
  /// destroy them.
  template <class Handler, class... Args>
  void call(const Handler& handler, Args&&... args) {
    if (released_ || !handler) return;
    ++calls_running_;
    struct Done {
      ListenSession& session;
      ~Done() {
        if (--session.calls_running_ == 0 && session.released_) session.drop_all_handlers();
      }
    } done{*this};
    handler(std::forward<Args>(args)...);
  }
  /// Destroys the subclass's user handlers (see release_handlers).
  virtual void drop_handlers() noexcept {}

  /// Called for every notification, on the loop thread.
  virtual void on_notification(const Notification& notification) = 0;
  /// Runs after every (re)connect, once LISTEN is in place.
  virtual asio::awaitable<void> on_connected(pg::AsyncConnection&) { co_return; }
  /// Runs after every wait: input arrived, the tick passed, or a wake-up.
  virtual asio::awaitable<void> on_wakeup(pg::AsyncConnection&) { co_return; }
  /// The longest wait between on_wakeup calls.
  virtual std::chrono::microseconds tick() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(options_.probe_interval);
  }
  /// A fatal failure (not a connection problem): the session ends in kFailed.
  virtual void on_fatal(const std::exception_ptr&) {}

  void report(ConnectionState state, std::string reason = {}, bool gap = false);
  pg::AsyncConnection& connection() { return connection_; }
  const ConnectOptions& options() const { return options_; }

 private:
  asio::awaitable<void> run(std::shared_ptr<ListenSession> self);
  asio::awaitable<void> serve_connection(bool& ever_connected);
  asio::awaitable<void> sync_channels();
  std::chrono::milliseconds next_backoff();
  void fail(const std::exception_ptr& error);
  void drop_all_handlers() noexcept;

  asio::io_context& io_;
  ConnectOptions options_;
  pg::ConnParams params_;
  bool reports_gaps_;
  pg::AsyncConnection connection_;
  asio::steady_timer backoff_timer_;
  std::set<std::string> wanted_;
  std::set<std::string> active_;
  StateHandler state_handler_;
  std::chrono::milliseconds backoff_;
  int calls_running_ = 0;  // user handlers running now (they may nest)
  bool released_ = false;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace pgpulse::source
