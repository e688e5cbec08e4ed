#include "pgpulse/change_stream.hpp"

#include "pgpulse/error.hpp"
#include "source/change_log_reader.hpp"
#include "source/listen_session.hpp"
#include "source/table_catalog.hpp"

namespace pgpulse {

namespace {
// The channel capture triggers notify; the payload is empty, so a transaction's many
// notifications fold into one wake-up.
constexpr const char* kWakeupChannel = "pgpulse";
constexpr std::chrono::milliseconds kNotifyPollInterval{1000};
constexpr std::chrono::milliseconds kPollModeInterval{50};
constexpr std::chrono::microseconds kMinReadGap{500};
// Pruning yields to reading after this many batches; the next round goes on.
constexpr int kPruneBatchesPerRound = 20;
constexpr auto kPruneTimeout = std::chrono::seconds(60);
}  // namespace

class ChangeStream::Impl final : public source::ListenSession {
 public:
  Impl(boost::asio::io_context& io, ChangeStreamOptions options)
      : ListenSession(io, std::move(options.connection), /*reports_gaps=*/false),
        reader_(std::move(options.from), std::move(options.tables)),
        configured_poll_interval_(options.poll_interval),
        poll_interval_(options.poll_interval.value_or(kNotifyPollInterval)),
        prune_interval_(options.prune_interval),
        catalog_interval_(options.catalog_interval) {
    want_channel(kWakeupChannel, true);
  }

  EventHandler event_handler;
  ErrorHandler error_handler;
  ReadyHandler ready_handler;
  CatalogHandler catalog_handler;
  const Cursor& cursor() const { return reader_.cursor(); }

 private:
  using Clock = std::chrono::steady_clock;

  void on_notification(const Notification& n) override {
    if (n.channel == kWakeupChannel) dirty_ = true;
  }

  boost::asio::awaitable<void> on_connected(pg::AsyncConnection& connection) override {
    bool first = !prepared_;
    if (first) {
      co_await reader_.prepare(connection);
      prepared_ = true;
      if (!configured_poll_interval_ && reader_.wakeup_mode() == WakeupMode::kPoll) {
        poll_interval_ = kPollModeInterval;
      }
    }
    // What changed in the catalog while we were away is known before anything else happens.
    if (catalog_handler) co_await read_catalog(connection);
    // Once, on the first connection that gets this far: a first connection lost during the
    // catalog read must not leave the stream never ready (a server would never serve).
    if (!ready_sent_ && !stopped()) {
      ready_sent_ = true;
      call(ready_handler, reader_.cursor());
    }
    if (stopped()) co_return;
    // Whatever was committed while we were away is in the log: catch up now.
    co_await drain(connection);
  }

  boost::asio::awaitable<void> on_wakeup(pg::AsyncConnection& connection) override {
    auto now = Clock::now();
    // Under a stream of wake-ups, reads start at most every kMinReadGap: each read then takes
    // a batch of transactions instead of one, for at most that much added latency.
    if ((dirty_ && now - last_read_ >= kMinReadGap) || now - last_read_ >= poll_interval_) {
      co_await drain(connection);
    }
    if (prune_interval_.count() > 0 && Clock::now() - last_prune_ >= prune_interval_) {
      co_await prune(connection);
    }
    if (catalog_due(Clock::now())) co_await refresh_catalog(connection);
  }

  // A refresh that the server refuses (a statement or lock timeout, a privilege briefly
  // revoked, the schema being upgraded) keeps the catalog the handler has and tries again at
  // the next interval: it must not end the stream. A broken connection still reconnects.
  boost::asio::awaitable<void> refresh_catalog(pg::AsyncConnection& connection) {
    try {
      co_await read_catalog(connection);
    } catch (const SqlError&) {
      last_catalog_ = Clock::now();
    }
  }

  bool catalog_due(Clock::time_point now) const {
    return catalog_handler && catalog_interval_.count() > 0 &&
           now - last_catalog_ >= catalog_interval_;
  }

  boost::asio::awaitable<void> read_catalog(pg::AsyncConnection& connection) {
    last_catalog_ = Clock::now();
    auto tables = co_await source::read_table_catalog(connection);
    if (!stopped()) call(catalog_handler, tables);
  }

  boost::asio::awaitable<void> prune(pg::AsyncConnection& connection) {
    last_prune_ = Clock::now();
    for (int round = 0; round < kPruneBatchesPerRound && !stopped(); ++round) {
      auto deleted = co_await connection.query("SELECT pgpulse.prune()", {}, kPruneTimeout);
      if (deleted.get(0, 0) == "0") break;
    }
  }

  std::chrono::microseconds tick() const override {
    auto now = Clock::now();
    // In microseconds: rounding the rest of the gap up to a millisecond added up to a
    // millisecond of latency to every read.
    auto until = [&](Clock::time_point at) {
      return std::max(std::chrono::microseconds(0),
                      std::chrono::ceil<std::chrono::microseconds>(at - now));
    };
    auto next =
        dirty_ ? until(last_read_ + kMinReadGap) : std::chrono::microseconds(poll_interval_);
    if (catalog_handler && catalog_interval_.count() > 0) {
      next = std::min(next, until(last_catalog_ + catalog_interval_));
    }
    return next;
  }

  void drop_handlers() noexcept override {
    event_handler = {};
    error_handler = {};
    ready_handler = {};
    catalog_handler = {};
  }

  void on_fatal(const std::exception_ptr& error) override { call(error_handler, error); }

  boost::asio::awaitable<void> drain(pg::AsyncConnection& connection) {
    // Reads until a read finds nothing new; wake-ups that arrive meanwhile set dirty_ again
    // and are served by the next on_wakeup, paced by kMinReadGap.
    std::size_t delivered = 0;
    do {
      dirty_ = false;
      last_read_ = Clock::now();
      delivered = co_await reader_.read(connection, [this](const ChangeEvent& event) {
        if (stopped()) return false;
        call(event_handler, event);
        return true;
      });
    } while (delivered > 0 && dirty_ && !stopped() && Clock::now() - last_read_ >= kMinReadGap);
  }

  source::ChangeLogReader reader_;
  std::optional<std::chrono::milliseconds> configured_poll_interval_;
  std::chrono::milliseconds poll_interval_;
  std::chrono::milliseconds prune_interval_;
  std::chrono::milliseconds catalog_interval_;
  Clock::time_point last_read_{};
  Clock::time_point last_catalog_{};
  Clock::time_point last_prune_ = Clock::now();
  bool prepared_ = false;
  bool ready_sent_ = false;
  bool dirty_ = true;
};

ChangeStream::ChangeStream(boost::asio::io_context& io, ChangeStreamOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

ChangeStream::~ChangeStream() {
  impl_->release_handlers();
  impl_->stop();
}

void ChangeStream::on_event(EventHandler handler) {
  impl_->event_handler = std::move(handler);
}

void ChangeStream::on_state(StateHandler handler) {
  impl_->set_state_handler(std::move(handler));
}

void ChangeStream::on_error(ErrorHandler handler) {
  impl_->error_handler = std::move(handler);
}

void ChangeStream::on_ready(ReadyHandler handler) {
  impl_->ready_handler = std::move(handler);
}

void ChangeStream::on_catalog(CatalogHandler handler) {
  impl_->catalog_handler = std::move(handler);
}

void ChangeStream::start() {
  impl_->start();
}

void ChangeStream::stop() {
  impl_->stop();
}

const Cursor& ChangeStream::cursor() const {
  return impl_->cursor();
}

}  // namespace pgpulse
