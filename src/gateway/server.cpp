// The gateway's start-up and loops: the Server object owns everything sessions share.
#include "gateway/server.hpp"

#include <sys/resource.h>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <thread>

#include "gateway/http_session.hpp"
#include "gateway/listen_address.hpp"
#include "pgpulse/change_stream.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// Each catch-up holds a database connection: cap them, and let the others wait their turn.
constexpr int kMaxConcurrentCatchUps = 16;
// A table captured (or dropped) while the gateway runs is known within this.
constexpr std::chrono::seconds kCatalogInterval{5};

void raise_file_limit() {
  // 10,000 clients need 10,000 descriptors; the usual soft limit is 1,024.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// A catch-up's reading: a ChangeStream of one table, stopped at once when asked.
class ChangeStreamSource final : public CatchUpSource {
 public:
  ChangeStreamSource(net::io_context& io, const std::string& conninfo, const TableName& table,
                     const Cursor& from)
      : stream_(io, ChangeStreamOptions{.connection = ConnectOptions{.conninfo = conninfo},
                                        .from = from,
                                        .tables = {table},
                                        .prune_interval = std::chrono::milliseconds(0)}) {}

  void start(EventHandler on_event, ErrorHandler on_error) override {
    // The flag makes stop() final at once, whatever the stream still has under way.
    stream_.on_event([this, on_event = std::move(on_event)](const ChangeEvent& event) {
      if (!stopped_) on_event(event);
    });
    stream_.on_error([this, on_error = std::move(on_error)](const std::exception_ptr& error) {
      if (!stopped_) on_error(error);
    });
    stream_.start();
  }
  void stop() override {
    stopped_ = true;
    stream_.stop();
  }
  const Cursor& cursor() const override { return stream_.cursor(); }

 private:
  ChangeStream stream_;
  bool stopped_ = false;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(HttpFront& front, net::io_context& io, tcp::endpoint endpoint)
      : front_(front), acceptor_(io) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  void accept() {
    // Each connection goes to the next loop: its socket is bound to that loop's executor.
    auto& hub = front_.context.hub;
    auto loop = next_loop_++ % hub.loop_count();
    acceptor_.async_accept(
        hub.io(loop).get_executor(),
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
    // The credentials of this moment; a reload later does not change this connection's.
    auto tls = front_.credentials.load()->tls;
    if (!tls) {
      run_http(front_, loop, PlainStream(std::move(socket)));
      return;
    }
    auto stream = std::make_shared<TlsStream>(PlainStream(std::move(socket)), *tls);
    beast::get_lowest_layer(*stream).expires_after(front_.config.handshake_timeout);
    stream->async_handshake(ssl::stream_base::server,
                            [&front = front_, loop, stream, tls](beast::error_code ec) {
                              if (!ec) run_http(front, loop, std::move(*stream));
                            });
  }

  HttpFront& front_;
  tcp::acceptor acceptor_;
  std::size_t next_loop_ = 0;  ///< the acceptor runs on loop 0 only
};

class Server {
 public:
  Server(const GatewayConfig& config, ConfigReader reread)
      : config_(config),
        reread_(std::move(reread)),
        endpoint_(parse_listen_address(config.listen)),
        threads_(config.threads ? config.threads
                                : std::max(1u, std::thread::hardware_concurrency())),
        sessions_(threads_),
        catch_up_slots_(kMaxConcurrentCatchUps) {
    auto credentials = load_credentials(config);
    if (!credentials->verifier && !endpoint_.address().is_loopback() && !config.allow_anonymous) {
      throw Error("refusing to serve " + config.listen +
                  " without authentication: configure a JWT secret or key, or pass "
                  "--allow-anonymous");
    }
    raise_file_limit();
    std::vector<net::io_context*> loop_pointers;
    for (std::size_t i = 0; i < threads_; ++i) {
      loops_.push_back(std::make_unique<net::io_context>(1));
      loop_pointers.push_back(loops_.back().get());
    }
    if (config.demo) {
      demo_ = std::make_unique<DemoApi>(config.db);
      demo_->prepare();
    }
    hub_ = std::make_unique<hub::Hub>(loop_pointers,
                                      hub::RingLimits{.max_events = config.ring_events});
    context_ = std::make_unique<ServerContext>(
        ServerContext{.config = config_,
                      .hub = *hub_,
                      .metrics = metrics_,
                      .catalog = catalog_,
                      .sessions = sessions_,
                      .catch_up_slots = catch_up_slots_,
                      .catch_up_source = [conninfo = config.db](
                                             net::io_context& io, const TableName& table,
                                             const Cursor& from) -> std::unique_ptr<CatchUpSource> {
                        return std::make_unique<ChangeStreamSource>(io, conninfo, table, from);
                      }});
    front_ = std::make_unique<HttpFront>(config_, *context_, demo_.get(), std::move(credentials));
    // Bound now, so a taken port fails at start; accepting starts once the hub is ready.
    try {
      listener_ = std::make_shared<Listener>(*front_, *loops_[0], endpoint_);
    } catch (const boost::system::system_error& e) {
      throw Error("cannot listen on " + config.listen + ": " + e.code().message());
    }
  }

  // Sessions still referenced by unrun handlers go with their loops, while the hub and the
  // metrics they unregister from are still here.
  ~Server() {
    listener_.reset();
    // The demo's worker finishes its queued requests, whose replies post to the loops: it
    // goes while they are still here.
    demo_.reset();
    loops_.clear();
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void run();
  /// Why the live stream stopped for good, when it did.
  std::exception_ptr failure() const { return failure_; }

 private:
  void on_stream_ready(const Cursor& start);
  void reload();

  const GatewayConfig& config_;
  ConfigReader reread_;
  tcp::endpoint endpoint_;
  std::size_t threads_;
  std::vector<std::unique_ptr<net::io_context>> loops_;
  std::unique_ptr<DemoApi> demo_;
  Metrics metrics_;
  TableCatalog catalog_;
  SessionRegistry sessions_;
  CatchUpSlots catch_up_slots_;
  std::unique_ptr<hub::Hub> hub_;
  std::unique_ptr<ServerContext> context_;
  std::unique_ptr<HttpFront> front_;
  std::shared_ptr<Listener> listener_;
  std::exception_ptr failure_;
};

void Server::on_stream_ready(const Cursor& start) {
  hub_->set_base(start);
  listener_->accept();
  bool tls = front_->credentials.load()->tls != nullptr;
  spdlog::info("serving on {}{}", config_.listen, tls ? " (TLS)" : "");
  if (config_.demo) {
    spdlog::info("demo: open http{}://{}/ (chat) and /table.html?table=messages", tls ? "s" : "",
                 config_.listen);
  }
}

void Server::reload() {
  try {
    auto config = reread_ ? reread_() : config_;
    auto fresh = load_credentials(config);
    auto current = front_->credentials.load();
    // A reload renews what is in use; switching TLS or authentication on or off changes what
    // the listener serves and whom it lets in, which takes a restart.
    if (!fresh->verifier && current->verifier) {
      throw Error("the new configuration has no token key; restart to turn authentication off");
    }
    if (bool(fresh->tls) != bool(current->tls)) {
      throw Error("the new configuration turns TLS " + std::string(fresh->tls ? "on" : "off") +
                  "; restart to do that");
    }
    front_->credentials.store(std::move(fresh));
    spdlog::info("reloaded the TLS certificate and token keys");
  } catch (const std::exception& e) {
    spdlog::error("reload failed, keeping the certificate and keys in use: {}", e.what());
  }
}

void Server::run() {
  auto& io0 = *loops_[0];
  auto& hub = *hub_;
  auto& metrics = metrics_;
  // The live stream: every captured table from now on, into the hub, on loop 0. Its own
  // connection also reports the catalog, before the first on_ready and every few seconds.
  ChangeStream stream(
      io0, ChangeStreamOptions{
               .connection = ConnectOptions{.conninfo = config_.db, .retry_first_connect = false},
               .catalog_interval = kCatalogInterval});
  stream.on_catalog([this](const std::vector<CapturedTable>& tables) { catalog_.set(tables); });
  // Serve once the stream has pinned its start, so the hub knows where its ring begins.
  stream.on_ready([this](const Cursor& start) { on_stream_ready(start); });
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
    failure_ = error;
    for (auto& loop : loops_) loop->stop();
  });
  stream.start();
  net::signal_set stop_signals(io0, SIGINT, SIGTERM);
  net::steady_timer stopper(io0);
  stop_signals.async_wait([&](beast::error_code ec, int) {
    if (ec) return;
    spdlog::info("shutting down");
    listener_->stop();
    stream.stop();
    for (std::size_t i = 0; i < loops_.size(); ++i) {
      net::post(*loops_[i], [this, i] {
        for (auto& session : sessions_.take(i)) session->close(1001, "server shutting down");
      });
    }
    // Give close frames a moment to leave, then stop every loop.
    stopper.expires_after(std::chrono::milliseconds(300));
    stopper.async_wait([&](beast::error_code) {
      for (auto& loop : loops_) loop->stop();
    });
  });
  net::signal_set reload_signal(io0, SIGHUP);
  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait([&](beast::error_code ec, int) {
      if (ec) return;
      reload();
      wait_reload();
    });
  };
  wait_reload();

  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < loops_.size(); ++i) {
    workers.emplace_back([this, i] {
      auto guard = net::make_work_guard(*loops_[i]);
      loops_[i]->run();
    });
  }
  io0.run();
  for (auto& loop : loops_) loop->stop();
  for (auto& worker : workers) worker.join();
}

}  // namespace

void serve(const GatewayConfig& config, ConfigReader reread) {
  std::exception_ptr failure;
  {
    Server server(config, std::move(reread));
    server.run();
    failure = server.failure();
  }
  if (failure) std::rethrow_exception(failure);
}

}  // namespace pgpulse::gateway
