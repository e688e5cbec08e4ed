#include "source/listen_session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "pgpulse/error.hpp"

namespace pgpulse {

const char* to_string(ConnectionState state) noexcept {
  switch (state) {
    case ConnectionState::kConnecting:
      return "connecting";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kDisconnected:
      return "disconnected";
    case ConnectionState::kFailed:
      return "failed";
    case ConnectionState::kStopped:
      return "stopped";
  }
  return "unknown";
}

namespace source {

namespace {
int whole_seconds(std::chrono::milliseconds ms) {
  return static_cast<int>(std::max<std::int64_t>(1, (ms.count() + 999) / 1000));
}
}  // namespace

ListenSession::ListenSession(asio::io_context& io, ConnectOptions options, bool reports_gaps)
    : io_(io),
      options_(std::move(options)),
      params_(options_.conninfo, options_.keepalive_idle_seconds,
              whole_seconds(options_.connect_timeout)),
      reports_gaps_(reports_gaps),
      connection_(io.get_executor(), [this](const Notification& n) { on_notification(n); }),
      backoff_timer_(io),
      backoff_(options_.backoff_initial) {}

void ListenSession::start() {
  if (started_) return;
  started_ = true;
  // The coroutine owns a reference (a parameter, copied into its frame; a lambda capture
  // would die with the lambda), so the session lives until the coroutine ends.
  asio::co_spawn(io_, run(shared_from_this()), asio::detached);
}

void ListenSession::stop() {
  if (stopped_) return;
  stopped_ = true;
  connection_.close();
  backoff_timer_.cancel();
  report(ConnectionState::kStopped);
}

void ListenSession::want_channel(const std::string& channel, bool listening) {
  if (listening) {
    wanted_.insert(channel);
  } else {
    wanted_.erase(channel);
  }
  connection_.wake();
}

void ListenSession::release_handlers() noexcept {
  released_ = true;
  if (calls_running_ == 0) drop_all_handlers();
}

void ListenSession::drop_all_handlers() noexcept {
  state_handler_ = {};
  drop_handlers();
}

void ListenSession::report(ConnectionState state, std::string reason, bool gap) {
  if (!stopped_ || state == ConnectionState::kStopped) {
    call(state_handler_, StateChange{state, std::move(reason), gap});
  }
}

void ListenSession::fail(const std::exception_ptr& error) {
  std::string reason = "unknown error";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    reason = e.what();
  } catch (...) {
  }
  connection_.close();
  on_fatal(error);
  report(ConnectionState::kFailed, reason);
  stopped_ = true;
}

std::chrono::milliseconds ListenSession::next_backoff() {
  // Jitter spreads the reconnects of many listeners after a server restart.
  static thread_local std::minstd_rand random{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.75, 1.25);
  auto delay = std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(backoff_.count()) * jitter(random)));
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  return delay;
}

asio::awaitable<void> ListenSession::run(std::shared_ptr<ListenSession> /*self*/) {
  bool ever_connected = false;
  while (!stopped_) {
    report(ConnectionState::kConnecting);
    std::string reason;
    try {
      co_await serve_connection(ever_connected);
    } catch (const ConnectionError& e) {
      reason = e.what();
    } catch (const TimeoutError& e) {
      reason = e.what();
    } catch (...) {
      // A server-side error (missing schema, missing privilege) or a handler's exception:
      // retrying would fail the same way, so the session ends and says why.
      connection_.close();
      if (!stopped_) fail(std::current_exception());
      co_return;
    }
    connection_.close();
    active_.clear();
    if (stopped_) co_return;
    if (!ever_connected && !options_.retry_first_connect) {
      fail(std::make_exception_ptr(ConnectionError(reason)));
      co_return;
    }
    report(ConnectionState::kDisconnected, reason);
    backoff_timer_.expires_after(next_backoff());
    boost::system::error_code ec;
    co_await backoff_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

asio::awaitable<void> ListenSession::serve_connection(bool& ever_connected) {
  co_await connection_.connect(params_, options_.connect_timeout);
  active_.clear();
  co_await sync_channels();
  backoff_ = options_.backoff_initial;
  report(ConnectionState::kConnected, {}, reports_gaps_ && ever_connected);
  ever_connected = true;
  co_await on_connected(connection_);
  using Clock = pg::AsyncConnection::Clock;
  auto last_traffic = Clock::now();
  while (!stopped_) {
    co_await sync_channels();
    auto wake = co_await connection_.wait_input(std::min(
        tick(), std::chrono::duration_cast<std::chrono::microseconds>(options_.probe_interval)));
    if (stopped_) co_return;
    auto now = Clock::now();
    if (wake == pg::AsyncConnection::Wake::kInput) {
      last_traffic = now;
    } else if (now - last_traffic >= options_.probe_interval) {
      // Nothing heard for a while: ask, so a dead peer shows up as an error or a timeout.
      co_await connection_.query("SELECT 1", {}, options_.probe_timeout);
      last_traffic = Clock::now();
    }
    co_await on_wakeup(connection_);
  }
}

asio::awaitable<void> ListenSession::sync_channels() {
  auto wanted = wanted_;  // handlers may change wanted_ while a LISTEN is in flight
  for (const auto& channel : wanted) {
    if (active_.contains(channel)) continue;
    co_await connection_.query("LISTEN " + connection_.quote_identifier(channel), {},
                               options_.probe_timeout);
    active_.insert(channel);
  }
  for (auto it = active_.begin(); it != active_.end();) {
    if (wanted_.contains(*it)) {
      ++it;
      continue;
    }
    co_await connection_.query("UNLISTEN " + connection_.quote_identifier(*it), {},
                               options_.probe_timeout);
    it = active_.erase(it);
  }
}

}  // namespace source
}  // namespace pgpulse
