// The HTTP front of the gateway: accept, (TLS), read one request, authenticate, route.
#include <sys/resource.h>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>
#include <thread>

#include <filesystem>
#include <fstream>

#include "gateway/demo_api.hpp"
#include "gateway/server.hpp"
#include "gateway/transports.hpp"
#include "pgpulse/change_stream.hpp"
#include "pgpulse/error.hpp"
#include "util/json_text.hpp"

namespace pgpulse::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// Sessions of each loop, for the graceful shutdown. Touched only on that loop's thread.
std::vector<std::vector<std::weak_ptr<ClientSession>>> g_sessions;

void raise_file_limit() {
  // 10,000 clients need 10,000 descriptors; the usual soft limit is 1,024.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

tcp::endpoint parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw Error("--listen wants host:port, not " + text);
  auto host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) throw Error("--listen: " + host + " is not an IP address");
  int port = 0;
  try {
    port = std::stoi(text.substr(colon + 1));
  } catch (...) {
  }
  if (port <= 0 || port > 65535) throw Error("--listen: bad port in " + text);
  return {address, static_cast<unsigned short>(port)};
}

std::string query_value(std::string_view target, std::string_view key) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return {};
  for (auto param : url->params()) {
    if (param.key == key) return param.value;
  }
  return {};
}

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

struct Shared {
  const GatewayConfig& config;
  ServerContext& context;
  ssl::context* tls;
  DemoApi* demo;  ///< demo mode only
  std::atomic<std::size_t> next_loop{0};
};

const char* content_type(const std::string& path) {
  auto ends = [&](std::string_view suffix) { return path.ends_with(suffix); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".png")) return "image/png";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".ico")) return "image/x-icon";
  return "text/plain; charset=utf-8";
}

// A file under `root` for a URL path, or nullopt: no "..", no hidden files, no directories.
std::optional<std::string> read_static(const std::string& root, std::string path) {
  if (path == "/" || path.ends_with("/")) path += "index.html";
  if (path.find("..") != std::string::npos || path.find("/.") != std::string::npos ||
      path.find('\\') != std::string::npos) {
    return std::nullopt;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(root + path, ec)) return std::nullopt;  // not a directory
  std::ifstream in(root + path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return body;
}

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Shared& shared, std::size_t loop, Stream stream)
      : shared_(shared), loop_(loop), stream_(std::move(stream)) {}

  void run() {
    parser_.emplace();
    parser_->body_limit(shared_.config.max_message_bytes);
    beast::get_lowest_layer(stream_).expires_after(shared_.config.handshake_timeout);
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
    auto& context = shared_.context;
    if (path == "/healthz") return reply(request, http::status::ok, "application/json", health());
    if (path == "/metrics") {
      return reply(request, http::status::ok, "text/plain; version=0.0.4",
                   context.metrics.render());
    }
    bool websocket = path == "/ws";
    bool sse = path == "/sse";
    if (!websocket && !sse) {
      if (shared_.demo && path.starts_with("/api/")) {
        // Only JSON bodies: a cross-origin page then needs a CORS preflight, which this server
        // never grants, so no other site can write through a visitor's browser.
        auto type = request[http::field::content_type];
        if (request.method() != http::verb::delete_ && !type.starts_with("application/json")) {
          return reply(request, http::status::unsupported_media_type, "application/json",
                       "{\"error\":\"Content-Type must be application/json\"}");
        }
        return demo_api(std::move(request), path);
      }
      bool read_only = request.method() == http::verb::get;
      if (shared_.demo && read_only) {
        if (auto file = read_static(shared_.config.web_root, path)) {
          return reply(request, http::status::ok,
                       content_type(path.ends_with("/") ? std::string("index.html") : path),
                       std::move(*file));
        }
      }
      return reply(request, http::status::not_found, "text/plain", "not found\n");
    }
    if (websocket && !beast::websocket::is_upgrade(request)) {
      return reply(request, http::status::upgrade_required, "text/plain",
                   "GET /ws needs a WebSocket upgrade\n");
    }
    // The slot is taken atomically, so loops admitting clients at the same moment cannot pass
    // max_clients together; the session created below owns it from then on.
    ClientSlot slot(context.metrics.clients);
    if (slot.others() >= static_cast<std::int64_t>(shared_.config.max_clients)) {
      context.metrics.clients_rejected.fetch_add(1);
      return reply(request, http::status::service_unavailable, "text/plain",
                   "too many clients (max_clients)\n");
    }
    std::optional<Grant> grant;
    if (context.verifier) {
      auto authorization = request[http::field::authorization];
      auto token = find_token(std::string_view(authorization.data(), authorization.size()),
                              query_value(request.target(), "token"));
      if (!token) {
        context.metrics.clients_rejected.fetch_add(1);
        return reply(request, http::status::unauthorized, "text/plain",
                     "a token is required (Authorization: Bearer or ?token=)\n");
      }
      try {
        grant = context.verifier->verify(*token);
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

  void demo_api(Request request, const std::string& path) {
    auto shared_request = std::make_shared<Request>(std::move(request));
    auto executor = beast::get_lowest_layer(stream_).get_executor();
    shared_.demo->handle(
        std::string(shared_request->method_string()), path, shared_request->body(),
        [self = this->shared_from_this(), shared_request, executor](ApiResponse response) {
          net::post(executor, [self, shared_request, response = std::move(response)] {
            self->reply(*shared_request, static_cast<http::status>(response.status),
                        "application/json", response.body);
          });
        });
  }

  std::string health() const {
    auto& metrics = shared_.context.metrics;
    bool up = metrics.db_connected.load();
    return std::string("{\"status\":\"") + (up ? "ok" : "degraded") +
           "\",\"database\":" + (up ? "\"connected\"" : "\"disconnected\"") +
           ",\"clients\":" + std::to_string(metrics.clients.load()) +
           ",\"subscriptions\":" + std::to_string(metrics.subscriptions.load()) +
           ",\"events_in\":" + std::to_string(metrics.events_in.load()) + "}\n";
  }

  void reply(const Request& request, http::status status, const char* type, std::string body) {
    auto response = std::make_shared<http::response<http::string_body>>(status, request.version());
    response->set(http::field::server, "pgpulse");
    response->set(http::field::content_type, type);
    if (!path_of(request.target()).starts_with("/api/")) {
      response->set(http::field::access_control_allow_origin, "*");
    }
    response->keep_alive(request.keep_alive() && static_cast<int>(status) < 400);
    response->body() = std::move(body);
    response->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(shared_.config.handshake_timeout);
    http::async_write(
        stream_, *response,
        [self = this->shared_from_this(), response](beast::error_code ec, std::size_t) {
          if (!ec && response->keep_alive()) self->run();
        });
  }

  Shared& shared_;
  std::size_t loop_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(Shared& shared, net::io_context& io, tcp::endpoint endpoint)
      : shared_(shared), acceptor_(io) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  void accept() {
    // Each connection goes to the next loop: its socket is bound to that loop's executor.
    auto loop = shared_.next_loop.fetch_add(1) % shared_.context.hub.loop_count();
    acceptor_.async_accept(
        shared_.context.hub.io(loop).get_executor(),
        [self = shared_from_this(), loop](beast::error_code ec, tcp::socket socket) {
          if (!self->acceptor_.is_open()) return;
          if (!ec) self->start(loop, std::move(socket));
          self->accept();
        });
  }

  void stop() {
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  void start(std::size_t loop, tcp::socket socket) {
    socket.set_option(tcp::no_delay(true));
    if (!shared_.tls) {
      std::make_shared<HttpSession<PlainStream>>(shared_, loop, PlainStream(std::move(socket)))
          ->run();
      return;
    }
    auto stream = std::make_shared<TlsStream>(PlainStream(std::move(socket)), *shared_.tls);
    beast::get_lowest_layer(*stream).expires_after(shared_.config.handshake_timeout);
    stream->async_handshake(ssl::stream_base::server, [this, loop, stream](beast::error_code ec) {
      if (ec) return;
      std::make_shared<HttpSession<TlsStream>>(shared_, loop, std::move(*stream))->run();
    });
  }

  Shared& shared_;
  tcp::acceptor acceptor_;
};

bool is_loopback(const tcp::endpoint& endpoint) {
  return endpoint.address().is_loopback();
}

}  // namespace

void register_session(std::size_t loop, const std::weak_ptr<ClientSession>& session) {
  auto& sessions = g_sessions[loop];
  // Forget the ones that are gone now and then, so the list stays as long as the live ones.
  if (sessions.size() >= 64 && (sessions.size() & (sessions.size() - 1)) == 0) {
    std::erase_if(sessions, [](const auto& s) { return s.expired(); });
  }
  sessions.push_back(session);
}

void close_all_sessions(std::size_t loop) {
  for (auto& weak : g_sessions[loop]) {
    if (auto session = weak.lock()) session->close(1001, "server shutting down");
  }
  g_sessions[loop].clear();
}

void serve(const GatewayConfig& config) {
  auto endpoint = parse_listen(config.listen);
  std::unique_ptr<TokenVerifier> verifier;
  if (config.auth.enabled()) verifier = std::make_unique<TokenVerifier>(config.auth);
  if (!verifier && !is_loopback(endpoint) && !config.allow_anonymous) {
    throw Error("refusing to serve " + config.listen +
                " without authentication: configure a JWT secret or key, or pass "
                "--allow-anonymous");
  }
  std::optional<ssl::context> tls;
  if (!config.tls_cert.empty() || !config.tls_key.empty()) {
    if (config.tls_cert.empty() || config.tls_key.empty()) {
      throw Error("TLS needs both --tls-cert and --tls-key");
    }
    tls.emplace(ssl::context::tls_server);
    tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    tls->use_certificate_chain_file(config.tls_cert, ec);
    if (ec) throw Error("cannot use TLS certificate " + config.tls_cert + ": " + ec.message());
    tls->use_private_key_file(config.tls_key, ssl::context::pem, ec);
    if (ec) throw Error("cannot use TLS key " + config.tls_key + ": " + ec.message());
  }
  raise_file_limit();

  std::size_t threads =
      config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<net::io_context>> loops;
  std::vector<net::io_context*> loop_pointers;
  for (std::size_t i = 0; i < threads; ++i) {
    loops.push_back(std::make_unique<net::io_context>(1));
    loop_pointers.push_back(loops.back().get());
  }
  g_sessions.assign(threads, {});

  std::unique_ptr<DemoApi> demo;
  if (config.demo) {
    demo = std::make_unique<DemoApi>(config.db);
    demo->prepare();
  }
  Metrics metrics;
  TableCatalog catalog;
  catalog.load(config.db);
  hub::Hub hub(loop_pointers, hub::RingLimits{.max_events = config.ring_events});
  ServerContext context{config, hub, metrics, catalog, verifier.get()};
  Shared shared{config, context, tls ? &*tls : nullptr, demo.get()};
  std::exception_ptr failure;
  {
    auto& io0 = *loops[0];
    // Bound now, so a taken port fails at start; accepting starts once the hub is ready.
    std::shared_ptr<Listener> listener;
    try {
      listener = std::make_shared<Listener>(shared, io0, endpoint);
    } catch (const boost::system::system_error& e) {
      throw Error("cannot listen on " + config.listen + ": " + e.code().message());
    }

    // The live stream: every captured table from now on, into the hub, on loop 0.
    ChangeStream stream(io0, ChangeStreamOptions{.connection = {.conninfo = config.db,
                                                                .retry_first_connect = false}});
    stream.on_event([&](const ChangeEvent& event) {
      metrics.events_in.fetch_add(1, std::memory_order_relaxed);
      hub.publish(event);
    });
    stream.on_state([&](const StateChange& change) {
      metrics.db_connected = change.state == ConnectionState::kConnected;
      if (change.state == ConnectionState::kConnected) {
        spdlog::info("database connected");
      } else if (change.state == ConnectionState::kDisconnected) {
        metrics.db_reconnects.fetch_add(1);
        spdlog::warn("database connection lost ({}); reconnecting", change.reason);
      }
    });
    stream.on_error([&](const std::exception_ptr& error) {
      failure = error;
      for (auto& loop : loops) loop->stop();
    });
    stream.start();
    // Serve once the stream has pinned its start, so the hub knows where its ring begins.
    net::steady_timer ready_timer(io0);
    std::function<void()> wait_ready = [&] {
      if (stream.cursor().kind() == Cursor::Kind::kLog) {
        hub.set_base(stream.cursor());
        listener->accept();
        spdlog::info("serving on {}{}", config.listen, tls ? " (TLS)" : "");
        if (config.demo) {
          spdlog::info("demo: open http{}://{}/ (chat) and /table.html?table=messages",
                       tls ? "s" : "", config.listen);
        }
        return;
      }
      ready_timer.expires_after(std::chrono::milliseconds(5));
      ready_timer.async_wait([&](beast::error_code ec) {
        if (!ec) wait_ready();
      });
    };
    wait_ready();

    // Refresh the table catalog now and then, off the loops (it is a blocking query).
    std::atomic<bool> running{true};
    std::thread refresher([&] {
      while (running) {
        for (int i = 0; i < 50 && running; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        try {
          if (running) catalog.load(config.db);
        } catch (const std::exception& e) {
          spdlog::debug("table catalog refresh failed: {}", e.what());
        }
      }
    });

    net::signal_set signals(io0, SIGINT, SIGTERM);
    net::steady_timer stopper(io0);
    signals.async_wait([&](beast::error_code ec, int) {
      if (ec) return;
      spdlog::info("shutting down");
      listener->stop();
      stream.stop();
      for (std::size_t i = 0; i < loops.size(); ++i) {
        net::post(*loops[i], [i] { close_all_sessions(i); });
      }
      // Give close frames a moment to leave, then stop every loop.
      stopper.expires_after(std::chrono::milliseconds(300));
      stopper.async_wait([&](beast::error_code) {
        for (auto& loop : loops) loop->stop();
      });
    });

    std::vector<std::thread> workers;
    for (std::size_t i = 1; i < loops.size(); ++i) {
      workers.emplace_back([&, i] {
        auto guard = net::make_work_guard(*loops[i]);
        loops[i]->run();
      });
    }
    io0.run();
    for (auto& loop : loops) loop->stop();
    for (auto& worker : workers) worker.join();
    running = false;
    refresher.join();
  }
  // Sessions still referenced by unrun handlers go with their loops, while the hub and the
  // metrics they unregister from are still here.
  loops.clear();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace pgpulse::gateway
