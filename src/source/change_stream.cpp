#include "pgpulse/change_stream.hpp"

#include "source/change_log_reader.hpp"
#include "source/listen_session.hpp"

namespace pgpulse {

namespace {
// The channel capture triggers notify; the payload is empty, so a transaction's many
// notifications fold into one wake-up.
constexpr const char* kWakeupChannel = "pgpulse";
}  // namespace

class ChangeStream::Impl final : public source::ListenSession {
 public:
  Impl(boost::asio::io_context& io, ChangeStreamOptions options)
      : ListenSession(io, std::move(options.connection), /*reports_gaps=*/false),
        reader_(std::move(options.from), std::move(options.tables)),
        poll_interval_(options.poll_interval) {
    want_channel(kWakeupChannel, true);
  }

  EventHandler event_handler;
  ErrorHandler error_handler;
  const Cursor& cursor() const { return reader_.cursor(); }

 private:
  using Clock = std::chrono::steady_clock;

  void on_notification(const Notification& n) override {
    if (n.channel == kWakeupChannel) dirty_ = true;
  }

  boost::asio::awaitable<void> on_connected(pg::AsyncConnection& connection) override {
    if (!prepared_) {
      co_await reader_.prepare(connection);
      prepared_ = true;
    }
    // Whatever was committed while we were away is in the log: catch up now.
    co_await drain(connection);
  }

  boost::asio::awaitable<void> on_wakeup(pg::AsyncConnection& connection) override {
    if (dirty_ || Clock::now() - last_read_ >= poll_interval_) co_await drain(connection);
  }

  std::chrono::milliseconds tick() const override { return poll_interval_; }

  void on_fatal(const std::exception_ptr& error) override {
    if (error_handler) error_handler(error);
  }

  boost::asio::awaitable<void> drain(pg::AsyncConnection& connection) {
    // Notifications that arrive during a read set dirty_ again: read until quiet.
    do {
      dirty_ = false;
      last_read_ = Clock::now();
      co_await reader_.read(connection, [this](const ChangeEvent& event) {
        if (event_handler && !stopped()) event_handler(event);
      });
    } while (dirty_ && !stopped());
  }

  source::ChangeLogReader reader_;
  std::chrono::milliseconds poll_interval_;
  Clock::time_point last_read_{};
  bool prepared_ = false;
  bool dirty_ = true;
};

ChangeStream::ChangeStream(boost::asio::io_context& io, ChangeStreamOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

ChangeStream::~ChangeStream() {
  impl_->set_state_handler({});
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
