// Server-Sent Events sessions: one subscription per request, described by its query string.
// Each change is one SSE event whose `id:` is the cursor, so a browser's EventSource resumes
// by itself (Last-Event-ID) after any disconnect.
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/url/parse.hpp>

#include "gateway/protocol.hpp"
#include "gateway/transports.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

namespace beast = boost::beast;
namespace net = boost::asio;

namespace {

constexpr std::string_view kHeaders =
    "HTTP/1.1 200 OK\r\n"
    "Server: pgpulse\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-cache\r\n"
    "Connection: keep-alive\r\n"
    "X-Accel-Buffering: no\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "\r\n";

// A stuck peer cannot hold a closing session forever.
constexpr auto kCloseGrace = std::chrono::seconds(2);
// Events are plain text on one stream: many of them leave in one write.
constexpr std::size_t kMaxWriteBytes = 256 * 1024;

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

template <class Stream>
class SseSession final : public ClientSession,
                         public std::enable_shared_from_this<SseSession<Stream>> {
 public:
  SseSession(ServerContext& context, std::size_t loop, Stream stream, std::optional<Grant> grant)
      : ClientSession(context, loop, std::move(grant)), stream_(std::move(stream)) {}

  void run(const Request& request) {
    beast::get_lowest_layer(stream_).expires_never();
    context_.sessions.add(loop_, this->weak_from_this());
    SubscriptionSpec spec;
    spec.id = "sse";
    std::optional<Refusal> refusal;
    auto url = boost::urls::parse_origin_form(request.target());
    if (!url) refusal = Refusal{"invalid_request", "invalid request target"};
    if (url) {
      for (auto param : url->params()) {
        if (param.key == "table") {
          spec.table.name = param.value;
        } else if (param.key == "schema") {
          spec.table.schema = param.value;
        } else if (param.key == "filter") {
          spec.filter = param.value;
        } else if (param.key == "columns") {
          spec.columns = split_list(param.value);
        } else if (param.key == "from") {
          spec.from = param.value;
        } else if (param.key == "ops") {
          spec.ops = 0;
          for (const auto& op : split_list(param.value)) {
            if (op == "INSERT")
              spec.ops |= hub::Subscription::op_bit(Op::kInsert);
            else if (op == "UPDATE")
              spec.ops |= hub::Subscription::op_bit(Op::kUpdate);
            else if (op == "DELETE")
              spec.ops |= hub::Subscription::op_bit(Op::kDelete);
            else if (op == "TRUNCATE")
              spec.ops |= hub::Subscription::op_bit(Op::kTruncate);
            else
              refusal = Refusal{"invalid_request", "unknown op \"" + op + "\" in ops"};
          }
        }
      }
    }
    // EventSource sends the id of the last event it saw when it reconnects.
    if (auto last = request.find("Last-Event-ID");
        last != request.end() && !last->value().empty()) {
      spec.from = std::string(last->value());
    }
    if (!refusal && spec.table.name.empty()) {
      refusal = Refusal{"invalid_request", "the table parameter is required"};
    }
    std::optional<PreparedSubscription> prepared;
    if (!refusal) {
      auto checked = prepare(spec);
      if (auto* refused = std::get_if<Refusal>(&checked)) {
        refusal = std::move(*refused);
      } else {
        prepared = std::move(std::get<PreparedSubscription>(checked));
      }
    }
    if (refusal) {
      // A status, not a 200 with an error event: EventSource stops on a 4xx, where it would
      // reconnect after every ended 200 response, forever.
      refuse(*refusal);
      return;
    }
    enqueue([](std::string& out) { out += kHeaders; });
    start(std::move(*prepared));
    start_timers();
    watch_peer();
  }

  // A response carries one subscription: without it the stream would only bring heartbeats.
  // It ends after the error event; EventSource reconnects with its Last-Event-ID.
  void subscription_failed(const std::string&) override { close(0, {}); }

  void close(int, std::string) override {
    if (closing_) return;
    closing_ = true;
    stop_timers();
    // A peer that stopped reading cannot hold the connection (and its max_clients place)
    // forever: what is still being written gets this long.
    beast::get_lowest_layer(stream_).expires_after(kCloseGrace);
    net::post(context_.hub.io(loop_),
              [self = this->shared_from_this()] { self->drop_subscriptions(); });
    // What is queued (an error event, say) still goes out; then the connection ends.
    if (!writing_) start_write();
  }

 private:
  std::shared_ptr<ClientSession> self() override { return this->shared_from_this(); }

  void refuse(const Refusal& refusal) {
    auto body = http_error_body(refusal.code, refusal.message);
    auto status = static_cast<beast::http::status>(refusal.http_status);
    enqueue([&](std::string& out) {
      out.append("HTTP/1.1 ")
          .append(std::to_string(refusal.http_status))
          .append(" ")
          .append(beast::http::obsolete_reason(status))
          .append(
              "\r\nServer: pgpulse\r\nContent-Type: application/json\r\n"
              "Access-Control-Allow-Origin: *\r\nConnection: close\r\nContent-Length: ")
          .append(std::to_string(body.size()))
          .append("\r\n\r\n")
          .append(body);
    });
    close(0, {});
  }

  // The client sends nothing after its request: a completed read means it went away.
  void watch_peer() {
    stream_.async_read_some(net::buffer(peer_byte_),
                            [self = this->shared_from_this()](beast::error_code, std::size_t) {
                              self->closing_ = true;
                              self->stop_timers();
                              self->drop_subscriptions();
                              beast::get_lowest_layer(self->stream_).close();
                            });
  }

  void frame_event(std::string& out, const hub::Subscription& sub,
                   const hub::EventRecord& event) override {
    if (sub.columns.empty()) {
      append_sse_event(out, event.id_text, event.json);
    } else {
      append_sse_event(out, event.id_text, project_columns(event, sub.columns));
    }
  }

  void send_subscribed(const std::string& id, const Cursor& cursor) override {
    enqueue([&](std::string& out) {
      append_sse_message(out, "subscribed", subscribed(id, cursor.to_string()));
    });
  }
  void send_error(const std::string& id, const std::string& code,
                  const std::string& message) override {
    enqueue([&](std::string& out) {
      append_sse_message(out, "error", error_message(id, code, message));
    });
  }
  void send_heartbeat() override {
    enqueue([](std::string& out) { out += ": heartbeat\n\n"; });
  }

  void start_write() override {
    if (writing_) return;
    auto bytes = next_write(/*whole_messages=*/true, kMaxWriteBytes);
    if (bytes.empty()) {
      if (closing_) shutdown();
      return;
    }
    writing_ = true;
    net::async_write(stream_, net::buffer(bytes.data(), bytes.size()),
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

  void shutdown() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(net::ip::tcp::socket::shutdown_both,
                                                       ignored);
    beast::get_lowest_layer(stream_).close();
  }

  Stream stream_;
  char peer_byte_[1];
};

}  // namespace

template <class Stream>
void run_sse(ServerContext& context, std::size_t loop, Stream stream, Request request,
             std::optional<Grant> grant) {
  auto session =
      std::make_shared<SseSession<Stream>>(context, loop, std::move(stream), std::move(grant));
  session->run(request);
}

template void run_sse<PlainStream>(ServerContext&, std::size_t, PlainStream, Request,
                                   std::optional<Grant>);
template void run_sse<TlsStream>(ServerContext&, std::size_t, TlsStream, Request,
                                 std::optional<Grant>);

}  // namespace pgpulse::gateway
