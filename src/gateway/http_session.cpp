#include "gateway/http_session.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "gateway/http_reply.hpp"
#include "gateway/static_files.hpp"

namespace pgpulse::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(HttpFront& front, std::size_t loop, Stream stream)
      : front_(front), loop_(loop), stream_(std::move(stream)) {}

  void run() {
    parser_.emplace();
    parser_->body_limit(front_.config.max_message_bytes);
    beast::get_lowest_layer(stream_).expires_after(front_.config.handshake_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec) return;  // timeout, garbage or closed: nothing to answer
    auto request = parser_->release();
    auto path = path_of(request.target());
    auto& context = front_.context;
    if (path == "/healthz") {
      return reply(request, http::status::ok, "application/json", health_body(context.metrics));
    }
    if (path == "/metrics") {
      return reply(request, http::status::ok, "text/plain; version=0.0.4",
                   context.metrics.render());
    }
    bool websocket = path == "/ws";
    bool sse = path == "/sse";
    if (!websocket && !sse) return serve_other(std::move(request), path);
    if (websocket && !beast::websocket::is_upgrade(request)) {
      return reply(request, http::status::upgrade_required, "text/plain",
                   "GET /ws needs a WebSocket upgrade\n");
    }
    // The slot is taken atomically, so loops admitting clients at the same moment cannot pass
    // max_clients together; the session created below owns it from then on.
    ClientSlot slot(context.metrics.clients);
    if (slot.others() >= static_cast<std::int64_t>(front_.config.max_clients)) {
      context.metrics.clients_rejected.fetch_add(1);
      return reply(request, http::status::service_unavailable, "text/plain",
                   "too many clients (max_clients)\n");
    }
    std::optional<Grant> grant;
    if (auto verifier = front_.credentials.load()->verifier) {
      auto authorization = request[http::field::authorization];
      auto token = find_token(std::string_view(authorization.data(), authorization.size()),
                              query_value(request.target(), "token"));
      if (!token) {
        context.metrics.clients_rejected.fetch_add(1);
        return reply(request, http::status::unauthorized, "text/plain",
                     "a token is required (Authorization: Bearer or ?token=)\n");
      }
      try {
        grant = verifier->verify(*token);
      } catch (const AuthError& e) {
        context.metrics.clients_rejected.fetch_add(1);
        return reply(request, http::status::unauthorized, "text/plain",
                     std::string(e.what()) + "\n");
      }
    }
    beast::get_lowest_layer(stream_).expires_never();
    slot.hand_over();
    if (websocket) {
      run_websocket(context, loop_, std::move(stream_), std::move(request), std::move(grant));
    } else {
      run_sse(context, loop_, std::move(stream_), std::move(request), std::move(grant));
    }
  }

  // The demo's write API and pages, or 404.
  void serve_other(Request request, const std::string& path) {
    if (front_.demo && path.starts_with("/api/")) {
      // Only JSON bodies: a cross-origin page then needs a CORS preflight, which this server
      // never grants, so no other site can write through a visitor's browser.
      auto type = request[http::field::content_type];
      if (request.method() != http::verb::delete_ && !type.starts_with("application/json")) {
        return reply(request, http::status::unsupported_media_type, "application/json",
                     "{\"error\":\"Content-Type must be application/json\"}");
      }
      return demo_api(std::move(request), path);
    }
    if (front_.demo && request.method() == http::verb::get) {
      if (auto file = read_static(front_.config.web_root, path)) {
        return reply(request, http::status::ok, content_type(path), std::move(*file));
      }
    }
    reply(request, http::status::not_found, "text/plain", "not found\n");
  }

  void demo_api(Request request, const std::string& path) {
    auto shared_request = std::make_shared<Request>(std::move(request));
    auto executor = beast::get_lowest_layer(stream_).get_executor();
    front_.demo->handle(
        std::string(shared_request->method_string()), path, shared_request->body(),
        [self = this->shared_from_this(), shared_request, executor](ApiResponse response) {
          net::post(executor, [self, shared_request, response = std::move(response)] {
            self->reply(*shared_request, static_cast<http::status>(response.status),
                        "application/json", response.body);
          });
        });
  }

  void reply(const Request& request, http::status status, const char* type, std::string body) {
    auto response = std::make_shared<Response>(make_reply(request, status, type, std::move(body)));
    beast::get_lowest_layer(stream_).expires_after(front_.config.handshake_timeout);
    http::async_write(
        stream_, *response,
        [self = this->shared_from_this(), response](beast::error_code ec, std::size_t) {
          if (!ec && response->keep_alive()) self->run();
        });
  }

  HttpFront& front_;
  std::size_t loop_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

template <class Stream>
void run_http(HttpFront& front, std::size_t loop, Stream stream) {
  std::make_shared<HttpSession<Stream>>(front, loop, std::move(stream))->run();
}

template void run_http<PlainStream>(HttpFront&, std::size_t, PlainStream);
template void run_http<TlsStream>(HttpFront&, std::size_t, TlsStream);

}  // namespace pgpulse::gateway
