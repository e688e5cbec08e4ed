// A libpq connection driven by an Asio executor: waits on the libpq socket, never blocks
// the loop, and every wait has a deadline.
//
// Notifications that arrive at any time (while idle or in the middle of a query) are handed
// to the sink as soon as libpq has parsed them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>

#include "pg/conn_params.hpp"
#include "pg/result.hpp"
#include "pgpulse/notification.hpp"

namespace pgpulse::pg {

namespace asio = boost::asio;

class AsyncConnection {
 public:
  using Clock = std::chrono::steady_clock;
  using NotificationSink = std::function<void(const Notification&)>;
  using RowHandler = std::function<void(const PGresult*)>;
  enum class Wake { kInput, kTimeout, kWoken };
  /// A statement and its text parameters (nullptr = NULL); both must outlive the call.
  struct Statement {
    const std::string& sql;
    std::span<const char* const> params;
  };

  AsyncConnection(asio::any_io_executor executor, NotificationSink sink);
  ~AsyncConnection();
  AsyncConnection(const AsyncConnection&) = delete;
  AsyncConnection& operator=(const AsyncConnection&) = delete;

  /// Opens a new connection (closing any old one). Throws ConnectionError or TimeoutError.
  [[nodiscard]] asio::awaitable<void> connect(const ConnParams& params, Clock::duration timeout);
  /// Closes the connection; a pending wait ends with ConnectionError.
  void close() noexcept;
  [[nodiscard]] bool is_open() const noexcept { return conn_ != nullptr; }

  /// Runs one statement with text parameters (nullptr = NULL). Throws SqlError on a server
  /// error (the connection stays usable), ConnectionError or TimeoutError (it does not).
  [[nodiscard]] asio::awaitable<Result> query(const std::string& sql,
                                              std::span<const char* const> params,
                                              Clock::duration timeout, bool prepare = false);
  /// Like query(), but streams rows one at a time to `on_row` (libpq single-row mode), so a
  /// large result never sits in memory whole.
  [[nodiscard]] asio::awaitable<void> query_rows(const std::string& sql,
                                                 std::span<const char* const> params,
                                                 Clock::duration timeout, const RowHandler& on_row,
                                                 bool prepare = false);
  // `prepare`: run it as a prepared statement of this connection (prepared on first use), so a
  // statement run for every read is parsed and planned once, not every time.

  /// Runs `first`, then `second`, in one round trip: both are sent in one write (libpq
  /// pipeline mode), each followed by a sync, so each runs and commits as its own transaction
  /// and `second` sees what `first` committed, exactly as two query() calls would. `first`'s
  /// result is dropped; `second`'s rows stream to `on_row`. Both run as prepared statements.
  /// An error of `first` is thrown once `second` is over, and then no row reaches `on_row`.
  [[nodiscard]] asio::awaitable<void> query_then_rows(Statement first, Statement second,
                                                      Clock::duration timeout,
                                                      const RowHandler& on_row);

  /// Waits until the server sends something (consumed, notifications dispatched), `timeout`
  /// passes, or wake() is called.
  [[nodiscard]] asio::awaitable<Wake> wait_input(Clock::duration timeout);
  /// Ends the current (or the next) wait_input early. Safe to call at any time, from handlers
  /// too: a query, connect or other wait in progress is not disturbed (the wake-up is kept
  /// for the next wait_input).
  void wake() noexcept;

  /// `name` quoted as an SQL identifier by libpq.
  [[nodiscard]] std::string quote_identifier(std::string_view name);
  [[nodiscard]] PGconn* raw() const noexcept { return conn_.get(); }

 private:
  enum class Direction { kRead, kWrite };
  asio::awaitable<Wake> wait_socket(Direction direction, Clock::time_point deadline, bool wakeable);
  asio::awaitable<ResultPtr> execute(const std::string& sql, std::span<const char* const> params,
                                     Clock::duration timeout, const RowHandler* on_row,
                                     bool prepare);
  bool send_prepared(const std::string& name, std::span<const char* const> params);
  asio::awaitable<const std::string*> prepared_name(const std::string& sql, int params,
                                                    Clock::time_point deadline);
  asio::awaitable<ResultPtr> collect(Clock::time_point deadline, const RowHandler* on_row);
  asio::awaitable<ResultPtr> read_results(Clock::time_point deadline, const RowHandler* on_row,
                                          ResultPtr& failure);
  asio::awaitable<void> await_pipeline_sync(Clock::time_point deadline);
  asio::awaitable<void> flush(Clock::time_point deadline);
  asio::awaitable<void> await_result_ready(Clock::time_point deadline);
  void attach_socket();
  void consume_input();
  void dispatch_notifications();
  [[noreturn]] void throw_broken(const char* what);

  NotificationSink sink_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
  ConnPtr conn_;
  asio::posix::stream_descriptor socket_;
  asio::steady_timer deadline_timer_;
  std::uint64_t wait_generation_ = 0;
  bool timed_out_ = false;
  bool wake_pending_ = false;
  bool in_wakeable_wait_ = false;  // a wait_input() is waiting on the socket: wake() may cancel it
};

}  // namespace pgpulse::pg
