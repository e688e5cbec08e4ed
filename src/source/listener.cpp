#include "pgpulse/listener.hpp"

#include <unordered_map>

#include "source/listen_session.hpp"

namespace pgpulse {

namespace {
// Lets the handler map be searched with the string_view a notification carries.
struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
}  // namespace

class Listener::Impl final : public source::ListenSession {
 public:
  Impl(boost::asio::io_context& io, ConnectOptions options)
      : ListenSession(io, std::move(options), /*reports_gaps=*/true) {}

  void listen(const std::string& channel, Handler handler) {
    handlers_[channel] = std::move(handler);
    want_channel(channel, true);
  }

  void unlisten(const std::string& channel) {
    handlers_.erase(channel);
    want_channel(channel, false);
  }

 private:
  void on_notification(const Notification& notification) override {
    auto it = handlers_.find(notification.channel);
    if (it != handlers_.end() && !stopped()) call(it->second, notification);
  }

  void drop_handlers() noexcept override { handlers_.clear(); }

  std::unordered_map<std::string, Handler, TransparentHash, std::equal_to<>> handlers_;
};

Listener::Listener(boost::asio::io_context& io, ConnectOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

Listener::~Listener() {
  impl_->release_handlers();
  impl_->stop();
}

void Listener::listen(const std::string& channel, Handler handler) {
  impl_->listen(channel, std::move(handler));
}

void Listener::unlisten(const std::string& channel) {
  impl_->unlisten(channel);
}

void Listener::on_state(StateHandler handler) {
  impl_->set_state_handler(std::move(handler));
}

void Listener::start() {
  impl_->start();
}

void Listener::stop() {
  impl_->stop();
}

}  // namespace pgpulse
