// WebSocket sessions (Boost.Beast): the JSON protocol of docs/protocol.md.
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>

#include "gateway/protocol.hpp"
#include "gateway/transports.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

// A stuck peer cannot hold a closing session forever.
constexpr auto kCloseGrace = std::chrono::seconds(2);
// Largest frame a batching client gets (unless one message is larger): big enough that a
// burst costs few writes, small enough that the first message of it is not held up long.
constexpr std::size_t kMaxBatchBytes = 64 * 1024;

// `/ws?batch=1` (or true): the client takes several messages per frame, separated by "\n".
bool wants_batches(std::string_view target) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return false;
  for (auto param : url->params()) {
    if (param.key == "batch") return param.value == "1" || param.value == "true";
  }
  return false;
}

template <class Stream>
class WsSession final : public ClientSession,
                        public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(ServerContext& context, std::size_t loop, Stream stream, std::optional<Grant> grant)
      : ClientSession(context, loop, std::move(grant)),
        ws_(std::move(stream)),
        close_timer_(context.hub.io(loop)) {}

  void run(Request request) {
    batch_ = wants_batches(request.target());
    // Beast's own timeouts: handshake, and idle with keep-alive pings (a peer that answers
    // no ping within idle_timeout is gone).
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = context_.config.handshake_timeout;
    timeouts.idle_timeout = context_.config.idle_timeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(context_.config.max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
      response.set(beast::http::field::server, "pgpulse");
    }));
    ws_.async_accept(
        request, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void close(int code, std::string reason) override {
    if (closing_) return;
    closing_ = true;
    stop_timers();
    // Not now: close() may run inside the hub's dispatch, which still holds pointers to our
    // subscriptions (deliver() ignores them from here on, as closing_ is set).
    net::post(context_.hub.io(loop_),
              [self = this->shared_from_this()] { self->drop_subscriptions(); });
    close_reason_.code = static_cast<std::uint16_t>(code);
    close_reason_.reason = reason.substr(0, 120);  // a close frame holds 123 bytes of reason
    close_timer_.expires_after(kCloseGrace);
    close_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (!ec) beast::get_lowest_layer(self->ws_).close();  // the peer never took the close
    });
    if (!writing_) send_close();  // otherwise after the write in flight
  }

 private:
  std::shared_ptr<ClientSession> self() override { return this->shared_from_this(); }

  void on_accept(beast::error_code ec) {
    if (ec) return;
    context_.sessions.add(loop_, this->weak_from_this());
    start_timers();
    read();
  }

  void read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        close(1009, "message too big");
      } else {
        // Closed by the peer, timed out, or a malformed frame (Beast answered with a close).
        closing_ = true;
        stop_timers();
        drop_subscriptions();
        close_timer_.cancel();
      }
      return;
    }
    if (!ws_.got_text()) {
      buffer_.consume(buffer_.size());
      close(1003, "binary frames are not part of the protocol");
      return;
    }
    std::string_view text(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    handle(text);
    buffer_.consume(buffer_.size());
    if (!closing_) read();
  }

  void handle(std::string_view text) {
    ClientMessage message;
    try {
      message = parse_client_message(text);
    } catch (const ProtocolError& e) {
      send_error(e.id(), e.code(), e.what());
      return;
    }
    if (auto* subscribe_request = std::get_if<SubscribeRequest>(&message)) {
      SubscriptionSpec spec;
      spec.id = subscribe_request->id;
      spec.table = TableName{subscribe_request->schema, subscribe_request->table};
      spec.ops = 0;
      for (auto op : subscribe_request->ops) spec.ops |= hub::Subscription::op_bit(op);
      spec.filter = subscribe_request->filter;
      spec.columns = subscribe_request->columns;
      spec.from = subscribe_request->from;
      subscribe(spec);
    } else if (auto* unsubscribe_request = std::get_if<UnsubscribeRequest>(&message)) {
      if (unsubscribe(unsubscribe_request->id)) {
        send_text(unsubscribed(unsubscribe_request->id));
      } else {
        send_error(unsubscribe_request->id, "unknown_subscription",
                   "no subscription with id \"" + unsubscribe_request->id + "\"");
      }
    } else if (auto* ping = std::get_if<PingRequest>(&message)) {
      send_text(pong(ping->id));
    }
  }

  void frame_event(std::string& out, const hub::Subscription& sub,
                   const hub::EventRecord& event) override {
    if (sub.columns.empty()) {
      append_event_message(out, sub.message_prefix, event.json);
    } else {
      append_event_message(out, sub.message_prefix, project_columns(event, sub.columns));
    }
    if (batch_) out += '\n';
  }

  void send_text(const std::string& text) {
    enqueue([&](std::string& out) {
      out += text;
      if (batch_) out += '\n';
    });
  }
  void send_subscribed(const std::string& id, const Cursor& cursor) override {
    send_text(subscribed(id, cursor.to_string()));
  }
  void send_error(const std::string& id, const std::string& code,
                  const std::string& message) override {
    send_text(error_message(id, code, message));
  }
  void send_heartbeat() override { send_text(heartbeat()); }

  void start_write() override {
    if (writing_) return;
    if (closing_) {
      // What is still queued is dropped: the client resumes from its last cursor.
      send_close();
      return;
    }
    auto bytes = next_write(batch_, kMaxBatchBytes);
    if (bytes.empty()) return;
    if (batch_) bytes.remove_suffix(1);  // the last message's separator
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(bytes.data(), bytes.size()),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->on_write(ec);
                    });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ec) {
      closing_ = true;
      drop_subscriptions();
      return;
    }
    wrote();
    start_write();
  }

  void send_close() {
    if (close_sent_) return;
    close_sent_ = true;
    ws_.async_close(close_reason_, [self = this->shared_from_this()](beast::error_code) {
      self->close_timer_.cancel();
    });
  }

  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  net::steady_timer close_timer_;
  websocket::close_reason close_reason_;
  bool close_sent_ = false;
  bool batch_ = false;
};

}  // namespace

template <class Stream>
void run_websocket(ServerContext& context, std::size_t loop, Stream stream, Request request,
                   std::optional<Grant> grant) {
  auto session =
      std::make_shared<WsSession<Stream>>(context, loop, std::move(stream), std::move(grant));
  session->run(std::move(request));
}

template void run_websocket<PlainStream>(ServerContext&, std::size_t, PlainStream, Request,
                                         std::optional<Grant>);
template void run_websocket<TlsStream>(ServerContext&, std::size_t, TlsStream, Request,
                                       std::optional<Grant>);

}  // namespace pgpulse::gateway
