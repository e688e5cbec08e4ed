#include "gateway/catch_up.hpp"

#include <boost/asio/post.hpp>

namespace pgpulse::gateway {

CatchUp::CatchUp(boost::asio::io_context& io, Options options, CatchUpSlots& slots,
                 CatchUpSourceFactory make_source, Hooks hooks)
    : io_(io),
      options_(std::move(options)),
      slots_(slots),
      make_source_(std::move(make_source)),
      hooks_(std::move(hooks)),
      timer_(io) {}

CatchUp::~CatchUp() {
  stop();
}

void CatchUp::start(const Cursor& from) {
  next_ = from;
  try_start();
}

void CatchUp::resume() {
  if (state_ != State::kPaused) return;
  next_ = *paused_at_;
  paused_at_.reset();
  state_ = State::kWaiting;
  try_start();
}

void CatchUp::stop() {
  if (state_ == State::kReading) {
    // Never called from inside the source's handlers (the session's unsubscribe is not run
    // from them): the source goes now, also while its loop is being torn down.
    source_->stop();
    source_.reset();
    slots_.give_back();
  }
  state_ = State::kStopped;
  timer_.cancel();
}

void CatchUp::try_start() {
  if (!slots_.try_take()) {
    arm_timer();
    return;
  }
  state_ = State::kReading;
  source_ = make_source_(io_, options_.table, next_);
  std::weak_ptr<CatchUp> weak = weak_from_this();
  source_->start(
      [weak](const ChangeEvent& event) {
        if (auto self = weak.lock()) self->on_event(event);
      },
      [weak](const std::exception_ptr& error) {
        if (auto self = weak.lock()) self->on_error(error);
      });
  arm_timer();
}

void CatchUp::on_event(const ChangeEvent& event) {
  if (state_ != State::kReading) return;  // a source is stopped when left; belt and braces
  hooks_.deliver(hub::make_record(event));
  if (hooks_.far_ahead()) {
    // Far enough ahead of the client: stop reading now (no later event of this read can
    // come), and go on from here once it caught up.
    paused_at_ = event.id;
    end_reading(State::kPaused);
  }
}

void CatchUp::on_error(const std::exception_ptr& error) {
  if (state_ != State::kReading) return;
  end_reading(State::kFailed);
  hooks_.failed(error);
}

void CatchUp::on_retry_timer() {
  switch (state_) {
    case State::kWaiting:
      try_start();
      return;
    case State::kReading:
      // Every event up to the source's cursor was handed on: the hub takes over from there.
      if (source_->cursor().kind() == Cursor::Kind::kLog && hooks_.attach(source_->cursor())) {
        end_reading(State::kAttached);
        return;
      }
      arm_timer();
      return;
    case State::kPaused:
    case State::kAttached:
    case State::kFailed:
    case State::kStopped:
      return;
  }
}

void CatchUp::end_reading(State next) {
  state_ = next;
  source_->stop();
  // Possibly inside the source's own handler: destroyed after it returns.
  boost::asio::post(io_, [source = std::move(source_)] {});
  slots_.give_back();
}

void CatchUp::arm_timer() {
  timer_.expires_after(options_.retry);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_retry_timer();
  });
}

}  // namespace pgpulse::gateway
